"""The one exception tree of newsmon.

Every error a stage raises on bad input derives from `NewsmonError`, so callers
can record it on the feed, article or alert at hand and carry on with the batch.
"""

from __future__ import annotations

from dataclasses import dataclass


class NewsmonError(Exception):
    """Base of every error newsmon raises on purpose."""


@dataclass(frozen=True)
class Problem:
    """One thing wrong in a config file: where it is (the file, its line when known, the
    key path) and why."""

    file: str
    path: str
    reason: str
    line: int | None = None

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        where = f"{where}: {self.path}" if self.path else where
        return f"{where}: {self.reason}"


class ConfigError(NewsmonError):
    """A config file that cannot be used; `problems` lists every reason."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


class StoreError(NewsmonError):
    """The store cannot be reached or used."""


class FetchError(NewsmonError):
    """A URL could not be fetched. `transient` errors are worth retrying."""

    transient = False

    def __init__(self, url: str, reason: str) -> None:
        self.url = url
        self.reason = reason
        super().__init__(f"{url}: {reason}")


class BlockedURL(FetchError):
    """The URL's scheme or address is not allowed (SSRF guard)."""


class FetchTimeout(FetchError):
    """Connecting, reading or the whole request took too long."""

    transient = True


class ConnectError(FetchError):
    """The server could not be reached."""

    transient = True


class TooLarge(FetchError):
    """The body, once decoded, is larger than the limit."""


class TooManyRedirects(FetchError):
    """More redirects than allowed, or a redirect loop."""


class HTTPStatusError(FetchError):
    """The server answered with an error status."""

    def __init__(self, url: str, status: int, retry_after: float | None = None) -> None:
        super().__init__(url, f"HTTP {status}")
        self.status = status
        self.retry_after = retry_after
        self.transient = status == 429 or status >= 500


class FeedError(NewsmonError):
    """A body that is not a usable RSS/Atom feed."""


class QueryError(NewsmonError):
    """A watch-rule query that does not parse or cannot be compiled."""


class DeliveryError(NewsmonError):
    """A message could not be delivered to a channel; `retry_after` is the service's
    requested wait in seconds, when it gave one."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after
