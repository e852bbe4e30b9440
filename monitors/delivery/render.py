"""Render messages for a channel: an alert, a digest, or a held-for-digest notice.

Every feed-supplied string (headline, passage, site, URL) is untrusted and is
escaped for the format at hand: HTML-escaped for email; for Slack, control and
mrkdwn characters (and `!`, `@`, `\\`) become look-alikes and URLs are defanged, so no
title can form a `<!channel>`, `<@U123>` or `<url|text>` control sequence or emphasis,
even through apprise's own un-escaping (its legacy payload reads a link's label and URL
as `re.sub` templates, where a backslash is an escape); collapsed to one line wherever it
lands in a title or subject, so CR/LF never reaches a header.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import apprise
from apprise.plugins.email import NotifyEmail
from apprise.plugins.slack import NotifySlack, SlackMode

from monitors.config import WebConfig
from monitors.extract.analysis import STOPWORDS
from monitors.extract.language import UNKNOWN
from monitors.models import Passage
from monitors.store import AlertRow, DeliveryRow
from monitors.text import safe_text

_MARKDOWN_SPECIAL = re.compile(r"([\\`*_\[\]()<>|#~])")
# Slack's control and mrkdwn characters; the `!`, `@` that apprise's un-escaping turns
# into `<!channel>`, `<@U123>` wherever one stands before a `>`; and the backslash, an
# escape in the `re.sub` template apprise makes of a link (`\\074` would give `<`)
_SLACK_LOOKALIKES = str.maketrans(
    {
        "<": "‹",
        ">": "›",
        "|": "¦",
        "*": "∗",
        "`": "ˋ",
        "_": "ˍ",
        "~": "∼",
        "!": "ǃ",
        "@": "＠",
        "\\": "＼",
    }
)
_SLACK_WORKFLOWS = (SlackMode.WORKFLOW, SlackMode.WORKFLOW_TRIGGER)  # text sent as it is
_URL_UNSAFE = re.compile(r"[\s<>\"'|`\\]")


NO_SITE = WebConfig()  # no base URL: messages link to no story page
STORY_LABEL = "The story on the desk"


@dataclass(frozen=True)
class Message:
    """What apprise is given: a title, a body, and the body's format."""

    title: str
    body: str
    body_format: str


# formats


class Format:
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


class _Text(Format):
    def bold(self, value: str) -> str:
        return f"**{value}**"


class _Markdown(Format):
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


class _Slack(Format):
    """Slack mrkdwn, passed to apprise as direct markdown input. `escapes` tells whether
    apprise entity-escapes `&` itself (legacy attachments do; blocks and workflows do
    not)."""

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


class _Html(Format):
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


def format_for(target: Any) -> Format:
    """The format a target takes: Slack mrkdwn, email HTML, or its native format."""
    if isinstance(target, NotifySlack):
        legacy = not target.use_blocks and target.mode not in _SLACK_WORKFLOWS
        return _Slack(legacy and target.notify_format == apprise.NotifyFormat.MARKDOWN)
    if isinstance(target, NotifyEmail):
        return _Html()
    native = apprise.NotifyFormat(getattr(target, "notify_format", "text")).value
    return {"html": _Html(), "markdown": _Markdown()}.get(native, _Text())


# messages


def render(
    delivery: DeliveryRow, labels: Mapping[str, str], fmt: Format, web: WebConfig = NO_SITE
) -> Message:
    """The message for a delivery: an alert, a digest or a held-for-digest notice; alerts
    link to their story's page on the desk's site when `web` has its base URL."""
    if delivery.kind == "digest":
        return _digest(delivery.digest, labels, fmt, web)
    if delivery.kind == "notice":
        return _notice(delivery, labels, fmt)
    assert delivery.alert is not None
    alert = delivery.alert
    return render_alert(alert, labels.get(alert.rule_id, ""), fmt, web.story_url(alert.story_id))


def render_alert(
    alert: AlertRow, rule_label: str, fmt: Format, story_url: str | None = None
) -> Message:
    """Rule, headline linked, the passage with matched terms marked, the article's
    language, outlets and sources, and the link to the story's page (`story_url`) when
    given."""
    rule_label = rule_label or alert.rule_id
    update = "Update: " if alert.kind == "update" else ""
    title = f"[newsmon] {update}{one_line(rule_label)}: {one_line(alert.headline)}"
    sources = alert.sources or ((alert.site, alert.url),)
    outlets = len({site for site, _ in sources})
    if type(fmt) is _Text:
        body = _plain_alert(alert, rule_label, sources, outlets, story_url)
        return Message(title, body, fmt.body_format.value)
    if isinstance(fmt, _Slack):
        title = ""  # compact: the body leads with the rule and the linked headline
    lines = [
        fmt.bold(fmt.text(rule_label)),
        fmt.link(alert.url, fmt.bold(fmt.text(update + alert.headline))),
        *_update_lines(alert, fmt),
        fmt.quote(fmt.marked(Passage(alert.passage, alert.marks))),
        fmt.text(matched_line(alert.terms, alert.passage, alert.marks)),
        *[fmt.text(line) for line in _language_lines(alert)],
        f"{outlets} outlet{'s' if outlets != 1 else ''}: "
        + ", ".join(fmt.link(url, fmt.text(site)) for site, url in sources),
    ]
    if story_url:
        lines.append(fmt.link(story_url, fmt.text(STORY_LABEL)))
    if isinstance(fmt, _Html):  # the URL in view, so the plain-text part keeps it
        lines.append(fmt.link(alert.url, fmt.text(safe_url(alert.url))))
    return Message(title, fmt.join(lines), fmt.body_format.value)


def matched_line(terms: Iterable[str], passage: str, marks: Iterable[tuple[int, int]]) -> str:
    """The matched terms, those marked in the passage first, the others said to be
    elsewhere in the article (its headline or another paragraph); a lower-case function
    word a phrase or proximity query matched ("it", "would") is left out, unless the
    line would be left with nothing."""
    shown = [passage[start:end].casefold() for start, end in marks]
    terms = list(terms)
    terms = [term for term in terms if not (term.islower() and term in STOPWORDS)] or terms
    inside = [term for term in terms if any(_bare(term) in mark for mark in shown)]
    elsewhere = [term for term in terms if term not in inside]
    line = "Matched: " + ", ".join(inside or elsewhere)
    if inside and elsewhere:
        line += "; elsewhere in the article: " + ", ".join(elsewhere)
    return line


def _bare(term: str) -> str:
    """A term as a mark holds it: folded, without an initialism's last full stop."""
    return term.casefold().rstrip(".")


def _language_lines(alert: AlertRow) -> list[str]:
    """The story's languages when its articles are in more than one, else the
    article's language, if known."""
    known = [language for language in alert.languages if language != UNKNOWN]
    if len(known) > 1:
        return [f"Languages: {', '.join(known)}"]
    return [f"Language: {alert.language}"] if alert.language else []


def _update_lines(alert: AlertRow, fmt: Format) -> list[str]:
    """The alert's number; for an update, also what is new and the alert it follows."""
    if alert.kind != "update":
        return [f"Alert #{alert.id}"]
    return [
        f"New: {fmt.text('; '.join(alert.new_facts))}",
        f"Alert #{alert.id}. Follows alert #{alert.follows}",
    ]


def _plain_alert(
    alert: AlertRow,
    rule_label: str,
    sources: Iterable[tuple[str, str]],
    outlets: int,
    story_url: str | None,
) -> str:
    """An alert as labelled plain-text lines, marks as **bold**."""
    others = [f"{one_line(site)} {safe_url(url)}" for site, url in sources if url != alert.url]
    lines = [
        f"Rule: {one_line(rule_label)}",
        f"Headline: {one_line(alert.headline)}",  # an update says so in its title and New:
        *_update_lines(alert, _Text()),
        "",
        _Text().marked(Passage(alert.passage, alert.marks)),
        "",
        one_line(matched_line(alert.terms, alert.passage, alert.marks)),
        *[one_line(line) for line in _language_lines(alert)],
        f"Outlets: {outlets}",
        *[f"Also: {o}" for o in others],
        f"Site: {one_line(alert.site)}",
        f"URL: {safe_url(alert.url)}",
        *([f"Story: {safe_url(story_url)}"] if story_url else []),
    ]
    return "\n".join(lines)


def _digest(
    included: Iterable[AlertRow], labels: Mapping[str, str], fmt: Format, web: WebConfig
) -> Message:
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
            "• "
            + fmt.link(a.url, fmt.text(a.headline))
            + f" ({fmt.text(a.site)})"
            + _story_link(web.story_url(a.story_id), fmt)
            for a in rule_alerts
        ]
    return Message(f"[newsmon] Digest: {alerts}", fmt.join(lines), fmt.body_format.value)


def _story_link(story_url: str | None, fmt: Format) -> str:
    """ " · story" linked to the story's page, or ""."""
    return f" · {fmt.link(story_url, fmt.text('story'))}" if story_url else ""


def _notice(delivery: DeliveryRow, labels: Mapping[str, str], fmt: Format) -> Message:
    label = labels.get(delivery.rule_id or "") or delivery.rule_id or ""
    text = (
        f"{delivery.held} more alert{'s' if delivery.held != 1 else ''} for "
        f"{one_line(label)} held for the digest (hourly limit reached)"
    )
    return Message(f"[newsmon] {text}", fmt.join([fmt.text(text)]), fmt.body_format.value)


def one_line(text: str) -> str:
    """Text with every run of white space (CR and LF included) as one space, without
    control characters (bidirectional ones too: text stored before they were dropped)."""
    return " ".join(safe_text(text).split())


def safe_url(url: str) -> str:
    """An http(s) URL fit for a link (no spaces, quotes, angle brackets, pipes or
    backslashes), else ""."""
    if not re.match(r"(?i)^https?://", url):
        return ""
    return _URL_UNSAFE.sub(lambda m: f"%{ord(m.group()):02X}", url)
