"""newsmon's engine: plain-Python pipeline stages, no Prefect."""
