"""Thin Prefect flows over the engine in `monitors`."""
