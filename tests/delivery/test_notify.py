"""Alert messages per channel format, secret-free delivery errors, and real deliveries
to loopback receivers: a JSON webhook and an SMTP server (aiosmtpd)."""

from __future__ import annotations

import email
import json
import re
import socket
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime
from email import policy
from email.message import EmailMessage
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from monitors.delivery import Message, Notifier, render, render_alert, secrets_of
from monitors.delivery.render import matched_line
from monitors.errors import DeliveryError
from monitors.store import AlertRow, DeliveryRow
from tests.httpserver import LoopbackServer

PASSAGE = "Allies offered Kyiv security guarantees on Friday, citing Article 5 of the treaty."
URL = "https://news.example.org/world/guarantees?id=7&page=2"
RULE = "Security guarantees"


def span(text: str, words: str) -> tuple[int, int]:
    start = text.index(words)
    return start, start + len(words)


def alert(**changes: Any) -> AlertRow:
    base = AlertRow(
        id=1,
        rule_id="security-guarantees",
        headline="Allies offer Kyiv security guarantees in draft accord",
        url=URL,
        site="Harbour Gazette",
        terms=("security guarantees", "Article 5"),
        passage=PASSAGE,
        marks=(span(PASSAGE, "security guarantees"), span(PASSAGE, "Article 5")),
        sources=(),
        created_at=datetime(2026, 11, 21, 9, 0, tzinfo=UTC),
    )
    return replace(base, **changes)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


CHANNELS = {
    "text": "json://127.0.0.1:9/hook",
    "markdown": "json://127.0.0.1:9/hook?format=markdown",
    "html": "json://127.0.0.1:9/hook?format=html",
    "email": "mailto://127.0.0.1:9?from=newsmon@example.com&to=desk@example.com",
    "slack": "slack://T1JJ3T3L2/A1BRTD4JD/TIiajkdnlazkcOXrIdevi7FQ/#news",
}
NOTIFIER = Notifier(CHANNELS)  # rendering only: nothing is sent to these


def rendered(channel: str, item: AlertRow | None = None, rule: str = RULE) -> Message:
    return render_alert(item or alert(), rule, NOTIFIER.format(channel))


# -- formats ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("channel", "body_format"),
    [
        ("text", "text"),
        ("markdown", "markdown"),
        ("html", "html"),
        ("email", "html"),
        ("slack", "markdown"),
    ],
)
def test_each_channel_gets_its_native_format(channel: str, body_format: str) -> None:
    assert rendered(channel).body_format == body_format


@pytest.mark.parametrize("channel", ["text", "markdown", "html", "email"])
def test_title(channel: str) -> None:
    assert rendered(channel).title == (
        "[newsmon] Security guarantees: Allies offer Kyiv security guarantees in draft accord"
    )


def test_text() -> None:
    body = rendered("text").body
    assert "Allies offer Kyiv security guarantees in draft accord" in body
    assert (
        "Allies offered Kyiv **security guarantees** on Friday, citing **Article 5** of the treaty."
        in body
    )
    assert "Harbour Gazette" in body
    assert URL in body
    assert "<" not in body


def test_markdown() -> None:
    body = rendered("markdown").body
    assert f"[**Allies offer Kyiv security guarantees in draft accord**]({URL})" in body
    assert (
        "> Allies offered Kyiv **security guarantees** on Friday, citing **Article 5** of the "
        "treaty." in body
    )
    assert "Harbour Gazette" in body
    starred = rendered("markdown", alert(terms=("Article 5", "guarantee*"))).body
    assert "guarantee\\*" in starred  # a star in a term is not emphasis


def test_html() -> None:
    body = rendered("html").body
    assert "Allies offer Kyiv security guarantees in draft accord" in body
    assert (
        "Allies offered Kyiv <b>security guarantees</b> on Friday, citing <b>Article 5</b> of "
        "the treaty." in body
    )
    assert "Harbour Gazette" in body
    assert 'href="https://news.example.org/world/guarantees?id=7&amp;page=2"' in body


@pytest.mark.parametrize(
    ("channel", "line"),
    [
        ("text", "Language: uk"),
        ("markdown", "Language: uk"),
        ("html", "<p>Language: uk</p>"),
        ("slack", "Language: uk"),
    ],
)
def test_the_articles_language_is_shown(channel: str, line: str) -> None:
    assert line in rendered(channel, alert(language="uk")).body
    assert "Language" not in rendered(channel, alert(language=None)).body


@pytest.mark.parametrize("channel", list(CHANNELS))
def test_a_story_in_several_languages_names_them(channel: str) -> None:
    body = rendered(channel, alert(language="uk", languages=("en", "uk"))).body
    assert "Languages: en, uk" in body and "Language: uk" not in body
    one = rendered(channel, alert(language="uk", languages=("uk", "unknown"))).body
    assert "Language: uk" in one and "Languages" not in one


@pytest.mark.parametrize("channel", list(CHANNELS))
def test_bidi_controls_stored_in_an_alert_reach_no_message(channel: str) -> None:
    """Text stored before feeds and pages were stripped of them."""
    passage = "Allies offered Kyiv \u202esecurity guarantees\u202c on Friday."
    item = alert(
        headline="Allies offer \u2067Kyiv\u2069 security guarantees \u202egnp.exe",
        site="Harbour \u200fGazette\u061c",
        passage=passage,
        marks=(span(passage, "security guarantees"),),
        sources=(("Harbour \u202bGazette", URL),),
    )
    message = rendered(channel, item)
    shown = message.title + message.body
    assert not re.findall("[\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]", shown)
    assert "security guarantees gnp.exe" in shown


def alert_delivery(**changes: object) -> DeliveryRow:
    """A pending email delivery of `alert()`, with `changes`."""
    row = DeliveryRow(
        id=5,
        kind="alert",
        channel="email",
        status="pending",
        attempts=0,
        last_error=None,
        rule_id="security-guarantees",
        period=None,
        created_at=datetime(2026, 11, 21, 9, 0, tzinfo=UTC),
        next_attempt_at=None,
        alert=alert(),
    )
    return replace(row, **changes)  # type: ignore[arg-type]


def test_render_dispatches_an_alert_delivery() -> None:
    delivery = alert_delivery()
    fmt = NOTIFIER.format("email")
    labels = {"security-guarantees": RULE}
    assert render(delivery, labels, fmt) == render_alert(alert(), RULE, fmt)
    # no label: the rule id stands in
    assert render(delivery, {}, fmt).title.startswith("[newsmon] security-guarantees: ")


def test_html_escapes_headline_and_passage() -> None:
    passage = "The memo, marked <b>urgent</b>, lists security guarantees & <script>x</script>."
    item = alert(
        headline='Leak: <script>alert("x")</script> & more',
        passage=passage,
        marks=(span(passage, "security guarantees"),),
        site="<i>Gazette</i>",
    )
    body = rendered("html", item).body
    assert "<script>" not in body and "<i>" not in body
    assert "Leak: &lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; more" in body
    assert (
        "The memo, marked &lt;b&gt;urgent&lt;/b&gt;, lists <b>security guarantees</b> "
        "&amp; &lt;script&gt;x&lt;/script&gt;." in body
    )
    assert body.count("<b>") == body.count("</b>")
    md = rendered("markdown", item).body
    assert "Leak: \\<script\\>alert\\(" in md


def test_headline_with_line_breaks_is_one_line_in_the_title() -> None:
    item = alert(headline="Allies offer Kyiv\r\nsecurity guarantees\n\nBcc: evil@example.com")
    for channel in ("text", "markdown", "html", "email"):
        message = rendered(channel, item, rule="Security\r\nguarantees")
        assert message.title == (
            "[newsmon] Security guarantees: Allies offer Kyiv security guarantees "
            "Bcc: evil@example.com"
        )
        assert "\r" not in message.title and "\n" not in message.title
        assert "Allies offer Kyiv security guarantees Bcc: evil@example.com" in message.body
        assert "\r" not in message.body


def test_non_http_url_is_not_linked() -> None:
    body = rendered("html", alert(url="javascript:alert(1)")).body
    assert "javascript:" not in body
    assert "Allies offer Kyiv security guarantees in draft accord" in body


# -- secrets ---------------------------------------------------------------------------


def test_secrets_of() -> None:
    url = "json://user:s3cretpass@127.0.0.1:8080/hooks/tok3nvalue?token=qu3rysecret&x=1"
    secrets = secrets_of(url)
    for part in ("s3cretpass", "tok3nvalue", "qu3rysecret", "user", url):
        assert part in secrets
    assert secrets == sorted(secrets, key=len, reverse=True)  # longest replaced first
    assert "1" not in secrets  # too short to redact safely
    slack = secrets_of("slack://T1JJ3T3L2/A1BRTD4JD/TIiajkdnlazkcOXrIdevi7FQ/#news")
    for token in ("T1JJ3T3L2", "A1BRTD4JD", "TIiajkdnlazkcOXrIdevi7FQ"):
        assert token in slack
    assert secrets_of("") == []


SECRET_PARTS = ("s3cretpass", "tok3nvalue", "user:s3cretpass")


def test_failing_send_names_no_secret() -> None:
    port = free_port()  # nothing listens there
    notifier = Notifier({"desk": f"json://user:s3cretpass@127.0.0.1:{port}/tok3nvalue"})
    with pytest.raises(DeliveryError) as caught:
        notifier.send("desk", rendered("text"))
    text = str(caught.value)
    assert text.startswith("desk: ")
    assert "JSON" in text  # says what failed
    assert not [part for part in SECRET_PARTS if part in text]
    assert caught.value.retry_after is None


def test_refused_send_names_no_secret_and_keeps_retry_after() -> None:
    with LoopbackServer() as server:
        server.add("/tok3nvalue", b"slow down", status=429, headers={"Retry-After": "120"})
        notifier = Notifier({"desk": f"json://user:s3cretpass@127.0.0.1:{server.port}/tok3nvalue"})
        with pytest.raises(DeliveryError) as caught:
            notifier.send("desk", rendered("text"))
        assert [r.method for r in server.requests] == ["POST"]
    text = str(caught.value)
    assert "429" in text
    assert not [part for part in SECRET_PARTS if part in text]
    assert caught.value.retry_after == 120.0


def test_a_webhook_slower_than_apprises_default_is_waited_for_not_sent_twice() -> None:
    with LoopbackServer() as server:
        server.add("/hook", b"", delay=5.0)  # apprise's own read timeout is 4 s
        notifier = Notifier({"desk": f"json://127.0.0.1:{server.port}/hook"})
        notifier.send("desk", rendered("text"))  # no DeliveryError: it answered in time
        assert [r.method for r in server.requests] == ["POST"]
    for url, seconds in (
        (f"json://127.0.0.1:{server.port}/hook?rto=2", 2.0),  # a URL's own timeout decides
        (f"json://127.0.0.1:{server.port}/hook?RTO=3", 3.0),  # as apprise reads it
        ("apprise://127.0.0.1/token", 30.0),  # a service's own longer default stays
    ):
        assert Notifier({"desk": url})._target("desk").socket_read_timeout == seconds


def test_unknown_and_invalid_channels() -> None:
    notifier = Notifier({"bad": "nosuchservice://x"})
    with pytest.raises(DeliveryError, match="not configured"):
        notifier.send("missing", rendered("text"))
    with pytest.raises(DeliveryError, match="invalid URL"):
        notifier.send("bad", rendered("text"))


def test_json_webhook_receives_the_alert() -> None:
    with LoopbackServer() as server:
        server.add("/hook", b"")
        channel = f"json://127.0.0.1:{server.port}/hook"
        notifier = Notifier({"desk": channel})
        notifier.send("desk", render_alert(alert(), RULE, notifier.format("desk")))
        [post] = [r for r in server.requests if r.method == "POST"]
    payload = json.loads(post.body)
    assert payload["title"] == (
        "[newsmon] Security guarantees: Allies offer Kyiv security guarantees in draft accord"
    )
    assert "Kyiv **security guarantees** on Friday" in payload["message"]
    assert URL in payload["message"]


# -- email end to end --------------------------------------------------------------------


class _Inbox:
    """An aiosmtpd handler keeping what it receives."""

    def __init__(self) -> None:
        self.envelopes: list[Any] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.envelopes.append(envelope)
        return "250 OK"


@pytest.fixture
def smtp() -> Iterator[tuple[int, _Inbox]]:
    inbox = _Inbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield port, inbox
    finally:
        controller.stop()


def test_email_alert_reaches_an_smtp_server(smtp: tuple[int, _Inbox]) -> None:
    port, inbox = smtp
    channel = f"mailto://127.0.0.1:{port}?from=newsmon@example.com&to=desk@example.com"
    notifier = Notifier({"email": channel})
    item = alert(headline="Allies offer Kyiv security guarantees\r\nin draft accord")
    notifier.send("email", render_alert(item, RULE, notifier.format("email")))

    [envelope] = inbox.envelopes
    assert envelope.mail_from == "newsmon@example.com"
    assert envelope.rcpt_tos == ["desk@example.com"]
    mail = email.message_from_bytes(envelope.content, policy=policy.default)
    assert isinstance(mail, EmailMessage)
    assert mail["Subject"] == (
        "[newsmon] Security guarantees: Allies offer Kyiv security guarantees in draft accord"
    )
    assert mail["To"] == "desk@example.com"
    # apprise sends HTML as multipart/alternative: a text/plain rendering, then the HTML
    assert mail.get_content_type() == "multipart/alternative"
    parts = {part.get_content_type(): part.get_content() for part in mail.iter_parts()}
    assert list(parts) == ["text/plain", "text/html"]
    html_part = parts["text/html"]
    assert (
        "Allies offered Kyiv <b>security guarantees</b> on Friday, citing <b>Article 5</b>"
        in html_part
    )
    assert 'href="https://news.example.org/world/guarantees?id=7&amp;page=2"' in html_part
    assert "Harbour Gazette" in html_part
    plain = parts["text/plain"]
    assert "Allies offered Kyiv security guarantees on Friday" in plain
    assert "Allies offer Kyiv security guarantees in draft accord" in plain
    assert "<b>" not in plain


def test_plain_text_update_names_the_rule_alone_and_counts_outlets() -> None:
    item = alert(
        kind="update",
        follows=3,
        new_facts=("Ruth Calloway",),
        sources=(("Harbour Gazette", URL), ("Northgate Times", "https://northgate.example/a")),
    )
    message = rendered("text", item)
    lines = message.body.splitlines()
    assert lines[0] == f"Rule: {RULE}"
    assert lines[1] == "Headline: Allies offer Kyiv security guarantees in draft accord"
    assert lines[2:4] == ["New: Ruth Calloway", "Alert #1. Follows alert #3"]
    assert "Outlets: 2" in lines
    assert message.title == (
        "[newsmon] Update: Security guarantees: Allies offer Kyiv security guarantees in draft "
        "accord"
    )
    assert "Outlets: 1" in rendered("text").body.splitlines()


@pytest.mark.parametrize("channel", ["markdown", "html", "slack"])
def test_rich_update_puts_update_on_the_headline(channel: str) -> None:
    body = rendered(channel, alert(kind="update", follows=3, new_facts=("Ruth Calloway",))).body
    assert "Update: Security" not in body
    assert "Update: Allies offer Kyiv" in body


def test_digest_of_one_alert_says_one_alert() -> None:
    delivery = DeliveryRow(
        7,
        "digest",
        "email",
        "sending",
        0,
        None,
        None,
        "daily",
        alert().created_at,
        None,
        digest=(alert(),),
    )
    message = render(delivery, {"security-guarantees": RULE}, NOTIFIER.format("email"))
    assert message.title == "[newsmon] Digest: 1 alert"


@pytest.mark.parametrize("channel", ["text", "markdown", "html", "slack"])
def test_matched_terms_in_the_passage_come_first_the_others_said_to_be_elsewhere(
    channel: str,
) -> None:
    item = alert(terms=("Ukraine", "security guarantees", "Article 5"))
    body = rendered(channel, item).body
    assert "Matched: security guarantees, Article 5; elsewhere in the article: Ukraine" in body


def test_matched_terms_all_in_the_passage_are_one_list() -> None:
    assert "Matched: security guarantees, Article 5\n" in rendered("text").body


@pytest.mark.parametrize(
    ("terms", "passage", "marks", "line"),
    [
        (("U.S.", "Senate"), "The U.S Senate", ((4, 7), (8, 14)), "Matched: U.S., Senate"),
        (("senate",), "The Senate voted", ((4, 10),), "Matched: senate"),
        (("Kyiv",), "A headline only", (), "Matched: Kyiv"),
        (
            ("withdraw", "it", "still holds", "would", "US"),
            "withdraw from the land it still holds, as US envoys would",
            ((0, 8), (23, 25), (26, 37), (42, 44), (53, 58)),
            "Matched: withdraw, still holds, US",
        ),
        (("it",), "as it stands", ((3, 5),), "Matched: it"),  # nothing else to show
    ],
)
def test_matched_line(
    terms: tuple[str, ...], passage: str, marks: tuple[tuple[int, int], ...], line: str
) -> None:
    assert matched_line(terms, passage, marks) == line
