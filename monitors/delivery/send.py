"""Send messages through apprise, one target per delivery.

Channel URLs carry secrets (webhook tokens, passwords): they never appear in a
message, an error or a log line from here; errors are redacted before they leave,
and apprise's log records are redacted of every channel secret this process knows.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import apprise
import requests.adapters
from apprise.plugins.slack import NotifySlack, SlackMode

from monitors.delivery.render import Format, Message, format_for
from monitors.errors import DeliveryError
from monitors.ingest.fetch import parse_retry_after

ChannelURL = str | Callable[[], str]


class _Observer:
    """Keeps the HTTP answers apprise gets (it returns none) for Retry-After and Slack's `ts`.

    requests' `HTTPAdapter.send` is wrapped only while a send is in progress and restored
    after the last one ends; the wrapper records answers for the observing thread only.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._users = 0
        self._original: Callable[..., Any] | None = None
        self._local = threading.local()

    @contextmanager
    def answers(self) -> Iterator[list[requests.Response]]:
        """The answers received in this thread while the block runs."""
        seen: list[requests.Response] = []
        self._local.seen = seen
        self._install()
        try:
            yield seen
        finally:
            self._local.seen = None
            self._uninstall()

    def _install(self) -> None:
        with self._lock:
            if self._users == 0:
                original = self._original = requests.adapters.HTTPAdapter.send
                local = self._local

                def send(adapter: requests.adapters.HTTPAdapter, request: Any, **kw: Any) -> Any:
                    response = original(adapter, request, **kw)
                    seen = getattr(local, "seen", None)
                    if seen is not None:
                        seen.append(response)
                    return response

                requests.adapters.HTTPAdapter.send = send  # type: ignore[method-assign,assignment]
            self._users += 1

    def _uninstall(self) -> None:
        with self._lock:
            self._users -= 1
            if self._users == 0 and self._original is not None:
                requests.adapters.HTTPAdapter.send = self._original  # type: ignore[method-assign]
                self._original = None


_observer = _Observer()


class _Redact(logging.Filter):
    """Removes every known channel secret from log records, their tracebacks included."""

    def __init__(self) -> None:
        super().__init__()
        self.secrets: set[str] = set()

    def add(self, url: str) -> None:
        self.secrets.update(secrets_of(url))

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg, record.args = self.redact(record.getMessage()), None
        if record.exc_info and not record.exc_text:
            record.exc_text = self.redact(_FORMATTER.formatException(record.exc_info))
        return True

    def redact(self, text: str) -> str:
        for secret in sorted(self.secrets, key=len, reverse=True):
            text = text.replace(secret, "****")
        return text


# A service slower than apprise's 4 s default to answer was counted as failed and sent
# the message again (an alert twice); a URL's own `rto=` and a service's own longer
# default (the Apprise API's 30 s) still decide.
READ_TIMEOUT = 15.0
_READ_TIMEOUT_SET = re.compile(r"[?&]rto=", re.IGNORECASE)
_APPRISE_READ_TIMEOUT = apprise.URLBase.socket_read_timeout
_FORMATTER = logging.Formatter()
_redactor = _Redact()
# apprise's records; urllib3 logs request paths at DEBUG; this module logs tracebacks
for _name in ("apprise", "urllib3.connectionpool", __name__):
    logging.getLogger(_name).addFilter(_redactor)
log = logging.getLogger(__name__)


class _Capture(logging.Handler):
    """apprise's warnings and errors logged in one thread."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.thread = threading.get_ident()
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.thread == self.thread:
            self.records.append(record)

    @contextmanager
    def attached(self) -> Iterator[list[logging.LogRecord]]:
        """The records logged while the block runs (apprise's level lowered to WARNING
        meanwhile if it is higher)."""
        logger = logging.getLogger("apprise")
        level = logger.level
        if logger.getEffectiveLevel() > logging.WARNING:
            logger.setLevel(logging.WARNING)
        logger.addHandler(self)
        try:
            yield self.records
        finally:
            logger.removeHandler(self)
            logger.setLevel(level)


class Notifier:
    """Sends messages to named channels, one apprise target each."""

    def __init__(self, channels: Mapping[str, ChannelURL]) -> None:
        self._channels = dict(channels)
        self._urls: dict[str, str] = {}

    def format(self, channel: str) -> Format:
        """How messages to this channel are written."""
        return format_for(self._target(channel))

    def send(self, channel: str, message: Message, thread: str | None = None) -> str | None:
        """Deliver, in reply to the message `thread` where the service threads (Slack
        with a bot token); return the service's id of the message when it gives one.
        Raise DeliveryError (with `retry_after`), free of secrets."""
        target = self._target(channel)
        threads = isinstance(target, NotifySlack) and target.mode == SlackMode.BOT
        if thread and threads:
            target.channels = [f"{c.split(':')[0]}:{thread}" for c in target.channels]
        sender = apprise.Apprise()
        sender.add(target)
        try:
            with _Capture().attached() as records, _observer.answers() as answers:
                ok = sender.notify(
                    title=message.title, body=message.body, body_format=message.body_format
                )
        except Exception as exc:  # apprise catches what its plugins raise; not the rest
            log.warning("sending to %s failed", channel, exc_info=True)
            raise DeliveryError(self._redact(channel, _exception_line(exc))) from None
        if not ok:
            raise DeliveryError(self._redact(channel, _reason(records)), _retry_after(answers))
        return _slack_ts(answers) if threads else None

    def _target(self, channel: str) -> Any:
        if channel not in self._urls:
            source = self._channels.get(channel)
            if source is None:
                raise DeliveryError(f"channel {channel!r} is not configured")
            self._urls[channel] = source() if callable(source) else source
            _redactor.add(self._urls[channel])
        url = self._urls[channel]
        target = apprise.Apprise.instantiate(url)
        if target is None:
            raise DeliveryError(f"channel {channel!r} has an invalid URL")
        default = getattr(target, "socket_read_timeout", None) == _APPRISE_READ_TIMEOUT
        if default and not _READ_TIMEOUT_SET.search(url):  # apprise's default, not the URL's
            target.socket_read_timeout = READ_TIMEOUT
        return target

    def _redact(self, channel: str, text: str) -> str:
        for secret in secrets_of(self._urls.get(channel, "")):
            text = text.replace(secret, "****")
        return f"{channel}: {text}"[:500]


def _reason(records: list[logging.LogRecord]) -> str:
    """Why apprise failed, on one line: the exception a plugin raised (apprise logs its
    traceback), else what apprise logged."""
    for record in records:
        if record.exc_info and record.exc_info[1] is not None:
            return _exception_line(record.exc_info[1])
    said = "; ".join(" ".join(r.getMessage().split()) for r in records)
    return said or "the service refused it"


def _exception_line(exc: BaseException) -> str:
    """An exception's type and message on one line: `re.error: bad escape \\o …`."""
    kind = type(exc)
    module = "" if kind.__module__ == "builtins" else f"{kind.__module__}."
    name = module + kind.__qualname__
    return " ".join(f"{name}: {exc}".split())


def _slack_ts(answers: list[requests.Response]) -> str | None:
    """The `ts` Slack's API gives a posted message (what a reply threads under)."""
    for response in reversed(answers):
        try:
            ts = response.json().get("ts")
        except ValueError:
            continue
        if isinstance(ts, str):
            return ts
    return None


def _retry_after(answers: list[requests.Response]) -> float | None:
    """The Retry-After of the last 429 or 503 answer, in seconds."""
    for response in reversed(answers):
        if response.status_code in (429, 503):
            return parse_retry_after(response.headers.get("Retry-After"))
    return None


def secrets_of(url: str) -> list[str]:
    """Parts of a channel URL that may be secret: credentials, path tokens, query values."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return [url] if url else []
    pieces = [url, parts.username or "", parts.password or "", parts.netloc]
    pieces += parts.path.split("/")
    pieces += [value for _, value in parse_qsl(parts.query)]
    return sorted({p for p in pieces if len(p) >= 3}, key=len, reverse=True)
