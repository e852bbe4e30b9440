"""newsmon: watch news feeds, alert once per story with the passage that matched."""

__version__ = "0.1.0"
