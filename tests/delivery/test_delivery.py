"""The outbox: claims, retries with backoff and Retry-After, dead letters, digests,
storm control, per-channel formatting of untrusted text, and secrets kept out."""

from __future__ import annotations

import itertools
import json
import logging
import re
import threading
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import pytest
import requests
import sqlalchemy as sa
import yaml
from apprise.plugins.custom_json import NotifyJSON
from apprise.plugins.slack import NotifySlack
from typer.testing import CliRunner

from monitors.config import Config
from monitors.delivery import (
    Message,
    Notifier,
    Outbox,
    deliver_due,
    notifier_for,
    render,
    render_alert,
)
from monitors.store import AlertRow, DeliveryRow, Store
from monitors.store.schema import alerts, deliveries, utcnow
from newsmon.cli import app
from tests.conftest import free_port, make_config
from tests.factories import STORY, record, seed
from tests.httpserver import LoopbackServer

NASTY_TITLE = "Kyiv <!channel> <!here> <@U123> &lt;!channel&gt; <https://evil.example|click> me"


def hook_url(server: LoopbackServer, path: str = "/hook") -> str:
    return "json://" + server.url(path).removeprefix("http://")


def posts(server: LoopbackServer) -> list[dict[str, Any]]:
    return [json.loads(r.body) for r in server.requests if r.method == "POST"]


def config_for(store_url: str, channels: dict[str, str], **rule: Any) -> Config:
    cfg = make_config(store_url, [], "json://127.0.0.1:9/")
    rules = [{**r.model_dump(), "notify": list(channels), **rule} for r in cfg.rules]
    return make_config(
        store_url,
        [],
        "json://127.0.0.1:9/",
        channels=channels,
        rules=rules,
        delivery={"backoff": 0.001, "max_attempts": 4},
    )


@pytest.fixture
def hook() -> Iterator[LoopbackServer]:
    with LoopbackServer() as server:
        server.add("/hook", b"")
        yield server


def test_each_delivery_is_claimed_by_one_worker(
    store_url: str, store: Store, hook: LoopbackServer
) -> None:
    cfg = config_for(store_url, {"desk": hook_url(hook)}, max_alerts_per_hour=100)
    seed(store, Outbox.of(cfg, store), 30)
    results: list[int] = []

    def worker() -> None:
        own = Store.open(store_url)
        done = deliver_due(Outbox.of(cfg, own), notifier_for(cfg), cfg.labels())
        results.extend(d.delivery_id for d in done if d.status == "sent")
        own.close()

    threads = [threading.Thread(target=worker) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == sorted(set(results)) and len(results) == 30
    assert len(posts(hook)) == 30


def test_failures_back_off_honour_retry_after_then_deliver(
    store_url: str, store: Store, hook: LoopbackServer
) -> None:
    hook.add("/flaky", b"", script=[(500, {}), (500, {}), (429, {"Retry-After": "120"})])
    cfg = config_for(store_url, {"desk": hook_url(hook, "/flaky")})
    outbox = Outbox.of(cfg, store)
    seed(store, outbox, 1)
    notifier = notifier_for(cfg)
    for code in ("500", "500", "429"):
        [done] = deliver_due(outbox, notifier, cfg.labels())
        assert done.status == "pending" and code in (done.error or "")
        if code == "500":
            _make_due(store)
    # the third answer was 429 with Retry-After: 120 s; the delivery waits at least that
    [row] = _deliveries(store)
    assert row.attempts == 3 and row.next_attempt_at >= utcnow() + timedelta(seconds=110)
    assert deliver_due(outbox, notifier, cfg.labels()) == []
    _make_due(store)
    [done] = deliver_due(outbox, notifier, cfg.labels())
    assert done.status == "sent"
    assert len(posts(hook)) == 4  # three refused, one accepted
    assert "Language: en" in posts(hook)[-1]["message"]  # the article's, from the store


def _deliveries(store: Store) -> list[Any]:
    with store.engine.begin() as conn:
        return list(conn.execute(sa.select(deliveries).order_by(deliveries.c.id)))


def _make_due(store: Store) -> None:
    with store.engine.begin() as conn:
        conn.execute(deliveries.update().values(next_attempt_at=utcnow() - timedelta(seconds=1)))


def test_an_alert_says_what_was_known_when_it_was_decided(
    store_url: str, store: Store, hook: LoopbackServer
) -> None:
    """An outlet that carries the story after the alert was decided changes neither its
    first send nor a retry: every attempt says what the store recorded."""
    hook.add("/flaky", b"", status=500)
    cfg = config_for(store_url, {"desk": hook_url(hook, "/flaky")})
    outbox = Outbox.of(cfg, store)
    first = record(store, outbox, "https://harbour.example/a", "Harbour Gazette", STORY)
    [alert_id] = first.alert_ids
    [failed] = deliver_due(outbox, notifier_for(cfg), cfg.labels())
    assert failed.status == "pending"
    later = record(store, outbox, "https://coast.example/b", "Coast Herald", STORY)
    assert later.story_id == first.story_id and later.alert_ids == ()
    hook.add("/flaky", b"")
    _make_due(store)
    [sent] = deliver_due(outbox, notifier_for(cfg), cfg.labels())
    assert sent.status == "sent"
    tried, retried = (p["message"] for p in posts(hook))
    assert tried == retried
    assert "Outlets: 1" in tried and "Coast Herald" not in tried
    [listed] = outbox.listing(ids=[alert_id])
    assert listed.alert.sources == (("Harbour Gazette", "https://harbour.example/a"),)


def test_dead_letter_then_retry_by_hand(store_url: str, store: Store, hook: LoopbackServer) -> None:
    hook.add("/down", b"", status=500)
    cfg = config_for(store_url, {"desk": hook_url(hook, "/down")})
    outbox = Outbox.of(cfg, store)
    [alert_id] = seed(store, outbox, 1)
    statuses = []
    for _ in range(4):
        statuses += [d.status for d in deliver_due(outbox, notifier_for(cfg), cfg.labels())]
        _make_due(store)
    assert statuses == ["pending", "pending", "pending", "failed"]
    assert deliver_due(outbox, notifier_for(cfg), cfg.labels()) == []
    [listed] = outbox.listing("failed")
    assert listed.alert.language == "en"
    assert listed.alert.id == alert_id and listed.deliveries[0].attempts == 4

    fixed = config_for(store_url, {"desk": hook_url(hook)})
    assert Outbox.of(fixed, store).retry([alert_id]) == 1
    [done] = deliver_due(Outbox.of(fixed, store), notifier_for(fixed), fixed.labels())
    assert done.status == "sent"
    assert [r.path for r in hook.requests] == ["/down"] * 4 + ["/hook"]


def test_a_failing_channel_never_resends_another(
    store_url: str, store: Store, hook: LoopbackServer
) -> None:
    hook.add("/down", b"", status=500)
    cfg = config_for(store_url, {"good": hook_url(hook), "bad": hook_url(hook, "/down")})
    outbox = Outbox.of(cfg, store)
    seed(store, outbox, 1)
    for _ in range(3):
        deliver_due(outbox, notifier_for(cfg), cfg.labels())
        _make_due(store)
    assert len([r for r in hook.requests if r.path == "/hook"]) == 1
    assert len([r for r in hook.requests if r.path == "/down"]) == 3


def test_digest_rules_are_held_and_sent_grouped(
    store_url: str, store: Store, hook: LoopbackServer
) -> None:
    cfg = config_for(store_url, {"desk": hook_url(hook)}, delivery="hourly")
    outbox = Outbox.of(cfg, store)
    seed(store, outbox, 3, rule_id="security-guarantees")
    seed(store, outbox, 2, rule_id="donbas-withdrawal", start=10)
    assert deliver_due(outbox, notifier_for(cfg), cfg.labels()) == []
    assert outbox.make_digests(["daily"]) == []
    assert len(outbox.make_digests(["hourly"])) == 1
    [done] = deliver_due(outbox, notifier_for(cfg), cfg.labels())
    assert done.kind == "digest" and done.status == "sent"
    [message] = posts(hook)
    assert message["title"] == "[newsmon] Digest: 5 alerts"
    body = message["message"]
    assert body.index("Security guarantees") < body.index("donbas-withdrawal")
    assert body.count("• ") == 5 and body.count("(example.com)") == 5
    assert outbox.make_digests() == []  # nothing is sent twice


def test_storm_control_holds_the_overflow_and_notifies_once(
    store_url: str, store: Store, hook: LoopbackServer
) -> None:
    cfg = config_for(store_url, {"desk": hook_url(hook)}, max_alerts_per_hour=2)
    outbox = Outbox.of(cfg, store)
    seed(store, outbox, 5)
    done = deliver_due(outbox, notifier_for(cfg), cfg.labels())
    assert [d.kind for d in done] == ["alert", "notice", "alert"] or sorted(
        d.kind for d in done
    ) == ["alert", "alert", "notice"]
    titles = [p["title"] for p in posts(hook)]
    assert (
        "[newsmon] 3 more alerts for Security guarantees held for the digest (hourly limit reached)"
        in titles
    )
    seed(store, outbox, 2, start=20)  # still over the limit: held, no second notice
    assert deliver_due(outbox, notifier_for(cfg), cfg.labels()) == []
    outbox.make_digests(["hourly"])
    [digest] = deliver_due(outbox, notifier_for(cfg), cfg.labels())
    assert digest.kind == "digest"
    assert posts(hook)[-1]["title"] == "[newsmon] Digest: 5 alerts"


SLACK_HOOK = "/services/T1ABCDEF/B2ABCDEF/C3abcdefghijklmnopqrstu"
SLACK_WORKFLOW = "/workflows/T1ABCDEF/F2ABCDEF/123456789/abcdefXYZ"
SLACK_MODES = {  # every way apprise builds a Slack payload
    "webhook": "slack://T1ABCDEF/B2ABCDEF/C3abcdefghijklmnopqrstu?blocks=no",
    "webhook-blocks": "slack://T1ABCDEF/B2ABCDEF/C3abcdefghijklmnopqrstu?blocks=yes",
    "bot": "slack://xoxb-1234-1234-abc124/#news?blocks=no",
    "bot-blocks": "slack://xoxb-1234-1234-abc124/#news?blocks=yes",
    "workflow": "slack://T1ABCDEF/F2ABCDEF/123456789/abcdefXYZ?mode=workflow",
}


@pytest.fixture
def slack(monkeypatch: pytest.MonkeyPatch) -> Iterator[LoopbackServer]:
    """Stands in for hooks.slack.com and slack.com/api (no Slack here)."""
    posted = itertools.count(1)

    def api_answer(request: Any) -> bytes:
        return json.dumps({"ok": True, "ts": f"1700000000.{next(posted):06d}"}).encode()

    with LoopbackServer() as server:
        monkeypatch.setattr(NotifySlack, "webhook_url", server.url("/services"))
        monkeypatch.setattr(NotifySlack, "api_url", server.url("/api/{}"))
        monkeypatch.setattr(NotifySlack, "workflow_url", server.url("/workflows"))
        server.add(SLACK_HOOK, b"ok")
        server.add("/api/chat.postMessage", api_answer)
        server.add(SLACK_WORKFLOW, b"ok")
        yield server


@pytest.mark.parametrize("blocks", ["no", "yes"])
def test_slack_text_cannot_ping_or_link(
    store_url: str, store: Store, blocks: str, slack: LoopbackServer
) -> None:
    cfg = config_for(
        store_url, {"slack": f"slack://T1ABCDEF/B2ABCDEF/C3abcdefghijklmnopqrstu?blocks={blocks}"}
    )
    outbox = Outbox.of(cfg, store)
    seed(store, outbox, 1, title=NASTY_TITLE)
    [done] = deliver_due(outbox, notifier_for(cfg), cfg.labels())
    assert done.status == "sent", done.error
    text = json.dumps(posts(slack)[0], ensure_ascii=False)
    for control in ("<!channel", "<!here", "<@U123", "<https://evil", "|click>"):
        assert control not in text
    assert "*Security guarantees*" in text  # the rule in bold
    assert "*security guarantees*" in text  # the matched term in bold
    assert "<https://example.com/0|" in text  # the headline links to the article


@pytest.fixture
def smtp() -> Iterator[tuple[int, list[EmailMessage]]]:
    from aiosmtpd.controller import Controller
    from aiosmtpd.smtp import AuthResult, LoginPassword

    received: list[EmailMessage] = []

    class Handler:
        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
            received.append(message_from_bytes(envelope.content, policy=policy.default))  # type: ignore[arg-type]
            return "250 OK"

    def authenticate(
        server: Any, session: Any, envelope: Any, mechanism: str, data: Any
    ) -> AuthResult:
        ok = isinstance(data, LoginPassword) and (data.login, data.password) == (
            b"desk",
            b"s3cret-pw",
        )
        return AuthResult(success=ok)

    port = free_port()
    controller = Controller(
        Handler(),
        hostname="127.0.0.1",
        port=port,
        authenticator=authenticate,
        auth_require_tls=False,
    )
    controller.start()
    try:
        yield port, received
    finally:
        controller.stop()


def smtp_url(port: int) -> str:
    """The loopback SMTP server with a login, as an apprise mailto:// URL."""
    return (
        f"mailto://desk:s3cret-pw@127.0.0.1:{port}?mode=insecure"
        "&from=newsmon@example.com&to=desk@example.com"
    )


def test_email_with_authentication_escapes_untrusted_text(
    store_url: str, store: Store, smtp: tuple[int, list[EmailMessage]]
) -> None:
    port, received = smtp
    cfg = config_for(store_url, {"email": smtp_url(port)})
    outbox = Outbox.of(cfg, store)
    title = "Kyiv <b>bold</b> offer\r\nBcc: victim@example.com\r\nsecurity guarantees"
    seed(store, outbox, 1, title=title)
    [done] = deliver_due(outbox, notifier_for(cfg), cfg.labels())
    assert done.status == "sent", done.error
    [mail] = received
    assert mail["Subject"] == (
        "[newsmon] Security guarantees: Kyiv <b>bold</b> offer Bcc: victim@example.com "
        "security guarantees"
    )
    assert mail["Bcc"] is None
    html_part = mail.get_body(("html",))
    assert html_part is not None
    html_body = html_part.get_content()
    assert "&lt;b&gt;bold&lt;/b&gt;" in html_body and "<b>bold</b>" not in html_body
    assert "<b>security guarantees</b>" in html_body
    plain = mail.get_body(("plain",))
    assert plain is not None and "https://example.com/0" in plain.get_content()


def test_secrets_stay_out_of_logs_errors_and_rows(
    store_url: str, store: Store, caplog: pytest.LogCaptureFixture, hook: LoopbackServer
) -> None:
    hook.add("/T0ken5ecret/x", b"", status=500)
    secret_url = hook_url(hook, "/T0ken5ecret/x").replace("json://", "json://user:Pa55w0rdSecret@")
    cfg = config_for(store_url, {"desk": secret_url})
    outbox = Outbox.of(cfg, store)
    seed(store, outbox, 1)
    with caplog.at_level(logging.DEBUG):
        [done] = deliver_due(outbox, notifier_for(cfg), cfg.labels())
    assert done.status == "pending" and done.error
    with store.engine.begin() as conn:
        stored = json.dumps([list(map(str, r)) for r in conn.execute(sa.select(deliveries))])
    everything = caplog.text + (done.error or "") + stored
    for secret in ("T0ken5ecret", "Pa55w0rdSecret"):
        assert secret not in everything
    assert "500" in (done.error or "")


def test_notifier_reads_a_channel_lazily_from_a_resolver(hook: LoopbackServer) -> None:
    asked: list[str] = []

    def resolver() -> str:
        asked.append("x")
        return hook_url(hook)

    notifier = Notifier({"desk": resolver})
    assert asked == []
    notifier.send("desk", Message("t", "b", "text"))
    notifier.send("desk", Message("t", "b", "text"))
    assert asked == ["x"] and len(posts(hook)) == 2


def test_slack_updates_thread_under_the_story_first_alert(
    store_url: str, store: Store, slack: LoopbackServer
) -> None:
    cfg = config_for(store_url, {"slack": "slack://xoxb-1234-1234-abc124/#desk"})
    outbox = Outbox.of(cfg, store)
    [first] = seed(store, outbox, 1)
    [later] = seed(store, outbox, 1, start=1)
    with store.engine.begin() as conn:
        conn.execute(
            alerts.update()
            .where(alerts.c.id == later)
            .values(kind="update", follows=first, new_facts='["Ruth Calloway", "67"]')
        )
    done = deliver_due(outbox, notifier_for(cfg), cfg.labels())
    assert [d.status for d in done] == ["sent", "sent"]
    original, update = posts(slack)
    assert "thread_ts" not in original
    assert update["thread_ts"] == "1700000000.000001"  # the ts Slack gave the first alert
    text = json.dumps(update, ensure_ascii=False)
    assert "New: Ruth Calloway; 67" in text
    assert f"Follows alert #{first}" in text


def test_requests_is_wrapped_only_while_a_message_is_sent(hook: LoopbackServer) -> None:
    def is_original() -> bool:
        send = requests.adapters.HTTPAdapter.send
        return (send.__module__, send.__qualname__) == ("requests.adapters", "HTTPAdapter.send")

    assert is_original()  # importing monitors.delivery changed nothing
    Notifier({"desk": hook_url(hook)}).send("desk", Message("t", "b", "text"))
    assert is_original() and len(posts(hook)) == 1


def refused_once(
    store_url: str, store: Store, hook: LoopbackServer, status: int, retry_after: str
) -> tuple[Config, Any]:
    """One alert's delivery answered `status` with this Retry-After: the config and the
    delivery's row, still pending."""
    hook.add("/busy", b"", status=status, headers={"Retry-After": retry_after})
    cfg = config_for(store_url, {"desk": hook_url(hook, "/busy")})
    outbox = Outbox.of(cfg, store)
    seed(store, outbox, 1)
    [done] = deliver_due(outbox, notifier_for(cfg), cfg.labels())
    assert done.status == "pending"
    [row] = _deliveries(store)
    return cfg, row


@pytest.mark.parametrize(
    "retry_after",
    ["9" * 30, "99999999999", "Fri, 31 Dec 9999 23:59:59 GMT"],
)
def test_huge_retry_after_is_clamped_to_max_backoff(
    store_url: str, store: Store, hook: LoopbackServer, retry_after: str
) -> None:
    cfg, row = refused_once(store_url, store, hook, 429, retry_after)
    max_backoff = timedelta(seconds=cfg.delivery.max_backoff)
    assert utcnow() + max_backoff - timedelta(minutes=1) < row.next_attempt_at
    assert row.next_attempt_at <= utcnow() + max_backoff


def test_retry_after_as_an_http_date(store_url: str, store: Store, hook: LoopbackServer) -> None:
    when = format_datetime(utcnow() + timedelta(minutes=10), usegmt=True)
    _, row = refused_once(store_url, store, hook, 503, when)
    assert row.next_attempt_at >= utcnow() + timedelta(minutes=9)


HOSTILE_ALERT = AlertRow(
    id=1,
    rule_id="security-guarantees",
    headline="_it_ ~st~ `x` *b* @U77 x !here AT&T &amp; xhttps://evil.example",
    url="https://news.example/a!channel|x@U99",
    site="Gazette !here @U77",
    terms=("security guarantees",),
    passage="Kyiv weighs security guarantees, say _they_ ~all~ <!here>",
    marks=((11, 30),),
    sources=(),
    created_at=datetime(2026, 11, 21, 9, 0, tzinfo=UTC),
)


def slack_controls(payload: dict[str, Any]) -> tuple[list[str], str]:
    """The `<…>` control sequences Slack would act on, and the text it would show."""
    text = " ".join(
        str(v) for v in _strings(payload) if not str(v).startswith("http")
    )  # the mrkdwn and plain-text fields
    shown = re.sub(r"<[^>|]*\|([^>]*)>", r"\1", text)  # a link shows its label
    shown = shown.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
    return re.findall(r"<[^>]*>", text), shown


def _strings(value: Any) -> Iterator[Any]:
    if isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)
    elif isinstance(value, str):
        yield value


@pytest.mark.parametrize("blocks", ["no", "yes"])
def test_slack_feed_text_cannot_mention_link_or_format(blocks: str, slack: LoopbackServer) -> None:
    notifier = Notifier({"s": f"slack://T1ABCDEF/B2ABCDEF/C3abcdefghijklmnopqrstu?blocks={blocks}"})
    fmt = notifier.format("s")
    notifier.send("s", render_alert(HOSTILE_ALERT, "Security guarantees", fmt))
    notifier.send("s", render(digest_of(HOSTILE_ALERT), {}, fmt))
    link = "<https://news.example/a%21channel%7Cx%40U99|"
    for payload in posts(slack):
        controls, shown = slack_controls(payload)
        assert controls and all(c.startswith(link) for c in controls), controls
        for marked in ("_it_", "~st~", "`x`", "*b*", "_they_", "~all~", "https://evil"):
            assert marked not in shown
        assert "AT&T &amp;" in shown  # shown as written: neither unescaped nor doubly escaped


LOOKALIKES = str.maketrans({"\\": "＼", "<": "‹", ">": "›"})
# a feed item's title and a page's og:site_name, as found: escapes for `>`, `<!channel>`, a link
BACKSLASHED = r"Bulletin\076 \074\041channel\076 \074http\072\057\057evil.example\174Click\076"


@pytest.mark.parametrize("url", SLACK_MODES.values(), ids=list(SLACK_MODES))
def test_slack_backslash_escapes_cannot_mention_or_link(url: str, slack: LoopbackServer) -> None:
    notifier = Notifier({"s": url})
    fmt = notifier.format("s")
    item = replace(
        HOSTILE_ALERT,
        headline=BACKSLASHED,
        site=BACKSLASHED,
        url="https://news.example/a\\174\\074\\041here\\076.html",
    )
    notifier.send("s", render_alert(item, "Security guarantees", fmt))
    notifier.send("s", render(digest_of(item), {}, fmt))
    sent = posts(slack)
    assert len(sent) == 2
    for payload in sent:
        controls, shown = slack_controls(payload)
        link = "<https://news.example/a%5C174%5C074%5C041here%5C076.html|"
        assert controls and all(c.startswith(link) for c in controls), controls
        assert BACKSLASHED.translate(LOOKALIKES) in shown  # as written, in look-alikes


@pytest.mark.parametrize("title", [r"Kyiv \o/ deal", r"Kyiv \g<0> deal", r"C:\new\table"])
def test_a_backslash_in_a_headline_is_sent_as_written(
    store_url: str, store: Store, slack: LoopbackServer, hook: LoopbackServer, title: str
) -> None:
    cfg = config_for(store_url, {"desk": hook_url(hook), "slack": SLACK_MODES["webhook"]})
    outbox = Outbox.of(cfg, store)
    seed(store, outbox, 1, title=title)
    done = deliver_due(outbox, notifier_for(cfg), cfg.labels())
    assert sorted((d.channel, d.status, d.error) for d in done) == [
        ("desk", "sent", None),
        ("slack", "sent", None),
    ]
    assert posts(hook)[0]["title"].endswith(f": {title}")
    [payload] = posts(slack)
    _, shown = slack_controls(payload)
    assert "*" + title.translate(LOOKALIKES) + "*" in shown


def test_a_channel_error_is_stored_as_one_line_and_logged_with_its_traceback(
    store_url: str,
    store: Store,
    hook: LoopbackServer,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    def broken_plugin(self: NotifyJSON, body: str, **kwargs: Any) -> bool:
        try:
            re.sub("x", "\\o", "x")  # what a backslash did in apprise's Slack plugin
        except re.error as exc:
            raise re.error(f"{exc} (posting to {self.fullpath})") from exc
        return True

    monkeypatch.setattr(NotifyJSON, "send", broken_plugin)
    cfg = config_for(store_url, {"desk": hook_url(hook, "/Zs3cretHookPath")})
    outbox = Outbox.of(cfg, store)
    seed(store, outbox, 1)
    with caplog.at_level(logging.WARNING):
        [done] = deliver_due(outbox, notifier_for(cfg), cfg.labels())
    [row] = _deliveries(store)
    assert done.status == "pending"
    assert (
        row.last_error
        == done.error
        == ("desk: re.error: bad escape \\o at position 0 (posting to /****)")
    )
    assert "Traceback (most recent call last)" in caplog.text
    assert "in broken_plugin" in caplog.text
    assert "Zs3cretHookPath" not in caplog.text


def digest_of(*included: AlertRow) -> DeliveryRow:
    """A digest delivery of these alerts, being sent."""
    at = included[0].created_at
    return DeliveryRow(2, "digest", "s", "sending", 0, None, None, None, at, None, digest=included)


def test_check_prints_its_own_messages_only(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    config = tmp_path / "newsmon.yaml"
    channels = {
        "mail": "mailto://desk:Pa55w0rdSecret@",  # no host: apprise cannot load it
        "odd": "nosuch://T0ken5ecret@example.com",
    }
    config.write_text(yaml.safe_dump({"channels": channels}))
    with caplog.at_level(logging.DEBUG):
        result = CliRunner().invoke(app, ["check", "--config", str(config)])
    assert result.exit_code == 2
    assert "channels.mail: not a valid apprise URL" in result.output
    assert not [r for r in caplog.records if r.name.startswith("apprise")]
    for secret in ("Pa55w0rdSecret", "T0ken5ecret"):
        assert secret not in result.output + caplog.text


def test_a_dead_lettered_digest_is_listed_with_its_alerts(
    store_url: str, store: Store, hook: LoopbackServer
) -> None:
    hook.add("/down", b"", status=500)
    cfg = config_for(store_url, {"desk": hook_url(hook, "/down")}, delivery="daily")
    outbox = Outbox.of(cfg, store)
    alert_ids = seed(store, outbox, 2)
    [digest_id] = outbox.make_digests(["daily"])
    for _ in range(cfg.delivery.max_attempts):
        deliver_due(outbox, notifier_for(cfg), cfg.labels())
        _make_due(store)
    listed = outbox.listing("failed")
    assert sorted(item.alert.id for item in listed) == sorted(alert_ids)
    for item in listed:
        [shown] = item.deliveries
        assert (shown.id, shown.kind, shown.status) == (digest_id, "digest", "failed")
        assert shown.attempts == cfg.delivery.max_attempts and "500" in (shown.last_error or "")
    assert outbox.retry([alert_ids[0]]) == 1
    assert outbox.listing("failed") == []


def test_a_delivery_to_a_removed_channel_stays_visible(
    store_url: str, store: Store, hook: LoopbackServer
) -> None:
    before = config_for(store_url, {"desk": hook_url(hook), "gone": hook_url(hook, "/gone")})
    [alert_id] = seed(store, Outbox.of(before, store), 1)
    after = config_for(store_url, {"desk": hook_url(hook)})
    done = deliver_due(Outbox.of(after, store), notifier_for(after), after.labels())
    assert sorted((d.channel, d.status) for d in done) == [("desk", "sent"), ("gone", "pending")]
    [listed] = Outbox.of(after, store).listing("pending")
    [gone] = [d for d in listed.deliveries if d.channel == "gone"]
    assert listed.alert.id == alert_id and "not configured" in (gone.last_error or "")


@pytest.mark.parametrize("breaks", ["\u2028", "\x85", "\x0b", "\r\n"])
def test_no_line_break_in_a_title_reaches_an_email_header(
    store_url: str, store: Store, smtp: tuple[int, list[EmailMessage]], breaks: str
) -> None:
    port, received = smtp
    cfg = config_for(store_url, {"email": smtp_url(port)})
    outbox = Outbox.of(cfg, store)
    seed(store, outbox, 1, title=f"Kyiv offer{breaks}Bcc: victim@example.com{breaks}X-Evil: 1")
    [done] = deliver_due(outbox, notifier_for(cfg), cfg.labels())
    assert done.status == "sent", done.error
    [mail] = received
    assert mail["Bcc"] is None and mail["X-Evil"] is None
    assert mail["Subject"].startswith("[newsmon] Security guarantees: Kyiv offer")
    assert "Bcc: victim@example.com" in mail["Subject"]


def test_failing_slack_and_email_log_no_secret(
    store_url: str,
    store: Store,
    slack: LoopbackServer,
    caplog: pytest.LogCaptureFixture,
) -> None:
    slack.add("/services/T1ABCDEF/B2ABCDEF/Zsecretwebhooktoken1", b"no", status=500)
    port = free_port()  # no SMTP server there
    channels = {
        "slack": "slack://T1ABCDEF/B2ABCDEF/Zsecretwebhooktoken1/#news",
        "email": f"mailto://desk:Wr0ngPassw0rd@127.0.0.1:{port}?mode=insecure"
        "&from=newsmon@example.com&to=desk@example.com",
    }
    cfg = config_for(store_url, channels)
    outbox = Outbox.of(cfg, store)
    seed(store, outbox, 1)
    with caplog.at_level(logging.DEBUG):
        done = deliver_due(outbox, notifier_for(cfg), cfg.labels())
    assert sorted(d.status for d in done) == ["pending", "pending"]
    with store.engine.begin() as conn:
        stored = json.dumps([list(map(str, r)) for r in conn.execute(sa.select(deliveries))])
    everything = caplog.text + " ".join(d.error or "" for d in done) + stored
    for secret in ("Zsecretwebhooktoken1", "Wr0ngPassw0rd"):
        assert secret not in everything


def test_digests_skip_held_rows_another_worker_is_gathering(
    store_url: str, store: Store, hook: LoopbackServer
) -> None:
    if store.engine.dialect.name != "postgresql":
        pytest.skip("SQLite serialises the whole transaction (BEGIN IMMEDIATE)")
    cfg = config_for(store_url, {"desk": hook_url(hook)}, delivery="daily")
    outbox = Outbox.of(cfg, store)
    seed(store, outbox, 2)
    other = sa.create_engine(store_url)
    made: list[list[int]] = []
    with other.begin() as conn:  # a second worker, mid-way through gathering them
        conn.execute(
            sa.select(deliveries.c.id).where(deliveries.c.status == "held").with_for_update()
        ).all()
        worker = threading.Thread(target=lambda: made.append(outbox.make_digests(["daily"])))
        worker.start()
        worker.join(timeout=5)
        blocked = worker.is_alive()
    worker.join()
    other.dispose()
    assert not blocked and made == [[]]
