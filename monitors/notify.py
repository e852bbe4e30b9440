"""Render messages for a channel and send them through apprise, one target per delivery.

Every feed-supplied string (headline, passage, site, URL) is untrusted and is
escaped for the format at hand: HTML-escaped for email; for Slack, control and
mrkdwn characters (and `!`, `@`) become look-alikes and URLs are defanged, so no
title can form a `<!channel>`, `<@U123>` or `<url|text>` control sequence or emphasis,
even through apprise's own un-escaping; collapsed to one line wherever it lands in a title
or subject, so CR/LF never reaches a header.

Channel URLs carry secrets (webhook tokens, passwords): they never appear in a
message, an error or a log line from here; errors are redacted before they leave,
and apprise's log records are redacted of every channel secret this process knows.
"""

from __future__ import annotations

import html
import logging
import re
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import apprise
import requests.adapters
from apprise.plugins.email import NotifyEmail
from apprise.plugins.slack import NotifySlack, SlackMode

from monitors.errors import DeliveryError
from monitors.fetch import parse_retry_after
from monitors.models import Passage
from monitors.outbox import AlertRow, DeliveryRow

ChannelURL = str | Callable[[], str]

_MARKDOWN_SPECIAL = re.compile(r"([\\`*_\[\]()<>|#~])")
# Slack's control and mrkdwn characters, and the `!`, `@` that apprise's un-escaping
# turns into `<!channel>`, `<@U123>` wherever one stands before a `>`
_SLACK_LOOKALIKES = str.maketrans(
    {"<": "‹", ">": "›", "|": "¦", "*": "∗", "`": "ˋ", "_": "ˍ", "~": "∼", "!": "ǃ", "@": "＠"}
)


@dataclass(frozen=True)
class Message:
    """What apprise is given: a title, a body, and the body's format."""

    title: str
    body: str
    body_format: str


# formats


class _Format:
    """How one kind of channel writes untrusted text, emphasis, links and lines."""

    body_format = apprise.NotifyFormat.TEXT

    def text(self, value: str) -> str:
        return one_line(value)

    def bold(self, value: str) -> str:
        return value

    def link(self, url: str, label: str) -> str:
        return f"{label} ({safe_url(url)})" if safe_url(url) else label

    def quote(self, value: str) -> str:
        return value

    def join(self, lines: Iterable[str]) -> str:
        return "\n".join(lines)

    def marked(self, passage: Passage) -> str:
        """The passage with its marks emphasised, every piece escaped."""
        out, pos = [], 0
        for start, end in passage.marks:
            out += [
                self._between(passage.text[pos:start]),
                self.bold(self.text(passage.text[start:end])),
            ]
            pos = end
        out.append(self._between(passage.text[pos:]))
        return "".join(out).strip()

    def _between(self, value: str) -> str:
        """Unmarked text, escaped, keeping one space where it begins or ends with some
        (so "offered <mark> on" does not become "offered<mark>on")."""
        inner = self.text(value)
        before = " " if value[:1].isspace() else ""
        after = " " if value[-1:].isspace() and inner else ""
        return before + inner + after


class _Text(_Format):
    def bold(self, value: str) -> str:
        return f"**{value}**"


class _Markdown(_Format):
    body_format = apprise.NotifyFormat.MARKDOWN

    def text(self, value: str) -> str:
        return _MARKDOWN_SPECIAL.sub(r"\\\1", one_line(value))

    def bold(self, value: str) -> str:
        return f"**{value}**"

    def link(self, url: str, label: str) -> str:
        return f"[{label}]({safe_url(url)})" if safe_url(url) else label

    def quote(self, value: str) -> str:
        return f"> {value}"

    def join(self, lines: Iterable[str]) -> str:
        return "\n\n".join(line for line in lines if line)


class _Slack(_Format):
    """Slack mrkdwn, passed to apprise as direct markdown input. `escapes` tells whether
    apprise entity-escapes `&` itself (legacy attachments do, blocks do not)."""

    body_format = apprise.NotifyFormat.MARKDOWN

    def __init__(self, escapes: bool) -> None:
        self.escapes = escapes

    def text(self, value: str) -> str:
        value = one_line(value).translate(_SLACK_LOOKALIKES).replace("://", ":\u200b//")
        return value if self.escapes else value.replace("&", "&amp;")

    def bold(self, value: str) -> str:
        return f"*{value}*"

    def link(self, url: str, label: str) -> str:
        safe = safe_url(url).replace("!", "%21").replace("@", "%40")
        return f"<{safe}|{label}>" if safe else label

    def quote(self, value: str) -> str:
        return f">{value}"


class _Html(_Format):
    body_format = apprise.NotifyFormat.HTML

    def text(self, value: str) -> str:
        return html.escape(one_line(value))

    def bold(self, value: str) -> str:
        return f"<b>{value}</b>"

    def link(self, url: str, label: str) -> str:
        return f'<a href="{html.escape(safe_url(url))}">{label}</a>' if safe_url(url) else label

    def quote(self, value: str) -> str:
        return (
            f'<blockquote style="border-left:3px solid #ccc;padding-left:8px">{value}</blockquote>'
        )

    def join(self, lines: Iterable[str]) -> str:
        return "".join(
            line if line.startswith("<blockquote") else f"<p>{line}</p>" for line in lines
        )


def format_for(target: Any) -> _Format:
    """The format a target takes: Slack mrkdwn, email HTML, or its native format."""
    if isinstance(target, NotifySlack):
        return _Slack(
            not target.use_blocks and target.notify_format == apprise.NotifyFormat.MARKDOWN
        )
    if isinstance(target, NotifyEmail):
        return _Html()
    native = apprise.NotifyFormat(getattr(target, "notify_format", "text")).value
    return {"html": _Html(), "markdown": _Markdown()}.get(native, _Text())


# messages


def render(delivery: DeliveryRow, labels: Mapping[str, str], fmt: _Format) -> Message:
    """The message for a delivery: an alert, a digest or a held-for-digest notice."""
    if delivery.kind == "digest":
        return _digest(delivery.digest, labels, fmt)
    if delivery.kind == "notice":
        return _notice(delivery, labels, fmt)
    assert delivery.alert is not None
    return render_alert(delivery.alert, labels.get(delivery.alert.rule_id, ""), fmt)


def render_alert(alert: AlertRow, rule_label: str, fmt: _Format) -> Message:
    """Rule, headline linked, the passage with matched terms marked, outlets and sources."""
    rule_label = rule_label or alert.rule_id
    update = "Update: " if alert.kind == "update" else ""
    title = f"[newsmon] {update}{one_line(rule_label)}: {one_line(alert.headline)}"
    sources = alert.sources or ((alert.site, alert.url),)
    outlets = len({site for site, _ in sources})
    if type(fmt) is _Text:
        body = _plain_alert(alert, rule_label, sources, outlets)
        return Message(title, body, fmt.body_format.value)
    if isinstance(fmt, _Slack):
        title = ""  # compact: the body leads with the rule and the linked headline
    lines = [
        fmt.bold(fmt.text(rule_label)),
        fmt.link(alert.url, fmt.bold(fmt.text(update + alert.headline))),
        *_update_lines(alert, fmt),
        fmt.quote(fmt.marked(Passage(alert.passage, alert.marks))),
        f"Matched: {fmt.text(', '.join(alert.terms))}",
        f"{outlets} outlet{'s' if outlets != 1 else ''}: "
        + ", ".join(fmt.link(url, fmt.text(site)) for site, url in sources),
    ]
    if isinstance(fmt, _Html):  # the URL in view, so the plain-text part keeps it
        lines.append(fmt.link(alert.url, fmt.text(safe_url(alert.url))))
    return Message(title, fmt.join(lines), fmt.body_format.value)


def _update_lines(alert: AlertRow, fmt: _Format) -> list[str]:
    """The alert's number; for an update, also what is new and the alert it follows."""
    if alert.kind != "update":
        return [f"Alert #{alert.id}"]
    return [
        f"New in this story: {fmt.text(', '.join(alert.new_facts))}",
        f"Alert #{alert.id}. Follows alert #{alert.follows}",
    ]


def _plain_alert(
    alert: AlertRow, rule_label: str, sources: Iterable[tuple[str, str]], outlets: int
) -> str:
    """An alert as labelled plain-text lines, marks as **bold**."""
    others = [f"{one_line(site)} {safe_url(url)}" for site, url in sources if url != alert.url]
    update = "Update: " if alert.kind == "update" else ""
    lines = [
        f"Rule: {one_line(rule_label)}",
        f"Headline: {update}{one_line(alert.headline)}",
        *_update_lines(alert, _Text()),
        "",
        _Text().marked(Passage(alert.passage, alert.marks)),
        "",
        f"Matched: {one_line(', '.join(alert.terms))}",
        f"Outlets: {outlets}",
        *[f"Also: {o}" for o in others],
        f"Site: {one_line(alert.site)}",
        f"URL: {safe_url(alert.url)}",
    ]
    return "\n".join(lines)


def _digest(included: Iterable[AlertRow], labels: Mapping[str, str], fmt: _Format) -> Message:
    order = {rule_id: i for i, rule_id in enumerate(labels)}
    by_rule: dict[str, list[AlertRow]] = {}
    for alert in sorted(included, key=lambda a: (order.get(a.rule_id, len(order)), a.id)):
        by_rule.setdefault(alert.rule_id, []).append(alert)
    count = sum(len(v) for v in by_rule.values())
    alerts = f"{count} alert{'s' if count != 1 else ''}"
    lines = [fmt.bold(f"newsmon digest: {alerts}")]
    for rule_id, rule_alerts in by_rule.items():
        lines.append(fmt.bold(fmt.text(labels.get(rule_id) or rule_id)))
        lines += [
            "• " + fmt.link(a.url, fmt.text(a.headline)) + f" ({fmt.text(a.site)})"
            for a in rule_alerts
        ]
    return Message(f"[newsmon] Digest: {alerts}", fmt.join(lines), fmt.body_format.value)


def _notice(delivery: DeliveryRow, labels: Mapping[str, str], fmt: _Format) -> Message:
    label = labels.get(delivery.rule_id or "") or delivery.rule_id or ""
    text = (
        f"{delivery.held} more alert{'s' if delivery.held != 1 else ''} for "
        f"{one_line(label)} held for the digest (hourly limit reached)"
    )
    return Message(f"[newsmon] {text}", fmt.join([fmt.text(text)]), fmt.body_format.value)


def one_line(text: str) -> str:
    """Text with every run of white space (CR and LF included) as one space."""
    return " ".join(text.split())


def safe_url(url: str) -> str:
    """An http(s) URL fit for a link (no spaces, quotes, angle brackets or pipes), else ""."""
    if not re.match(r"(?i)^https?://", url):
        return ""
    return re.sub(r"[\s<>\"'|`]", lambda m: f"%{ord(m.group()):02X}", url)


# sending


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
    """Removes every known channel secret from apprise's log records."""

    def __init__(self) -> None:
        super().__init__()
        self.secrets: set[str] = set()

    def add(self, url: str) -> None:
        self.secrets.update(secrets_of(url))

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        for secret in sorted(self.secrets, key=len, reverse=True):
            message = message.replace(secret, "****")
        record.msg, record.args = message, None
        return True


_redactor = _Redact()
for _name in ("apprise", "urllib3.connectionpool"):  # urllib3 logs request paths at DEBUG
    logging.getLogger(_name).addFilter(_redactor)


class Notifier:
    """Sends messages to named channels, one apprise target each."""

    def __init__(self, channels: Mapping[str, ChannelURL]) -> None:
        self._channels = dict(channels)
        self._urls: dict[str, str] = {}

    def format(self, channel: str) -> _Format:
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
            capture = apprise.LogCapture(level=logging.WARNING, fmt="%(message)s")  # type: ignore[no-untyped-call]
            with capture as logs, _observer.answers() as answers:
                ok = sender.notify(
                    title=message.title, body=message.body, body_format=message.body_format
                )
        except Exception as exc:  # a plugin may raise anything
            raise DeliveryError(self._redact(channel, f"{type(exc).__name__}: {exc}")) from None
        if not ok:
            detail = "; ".join(line.strip() for line in logs.getvalue().splitlines() if line)
            reason = self._redact(channel, detail or "the service refused it")
            raise DeliveryError(reason, _retry_after(answers))
        return _slack_ts(answers) if threads else None

    def _target(self, channel: str) -> Any:
        if channel not in self._urls:
            source = self._channels.get(channel)
            if source is None:
                raise DeliveryError(f"channel {channel!r} is not configured")
            self._urls[channel] = source() if callable(source) else source
            _redactor.add(self._urls[channel])
        target = apprise.Apprise.instantiate(self._urls[channel])
        if target is None:
            raise DeliveryError(f"channel {channel!r} has an invalid URL")
        return target

    def _redact(self, channel: str, text: str) -> str:
        for secret in secrets_of(self._urls.get(channel, "")):
            text = text.replace(secret, "****")
        return f"{channel}: {text}"[:500]


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
