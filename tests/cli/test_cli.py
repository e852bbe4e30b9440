"""The command line: exit codes, readable errors, a cycle, and the demo."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from pathlib import Path

import pytest
import yaml
from rich.console import Console
from typer.testing import CliRunner

from newsmon.cli import app
from newsmon.demo import SITE, SITE_AGE, SITE_NEWEST, run_demo, site_shift
from newsmon.loopback import StaticSite
from tests.conftest import ROOT, TEST_RULES
from tests.httpserver import LoopbackServer

runner = CliRunner()


def run_newsmon(
    *args: str, env: dict[str, str] | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """`newsmon ARGS` in a process of its own, this checkout first on its path."""
    env = {**os.environ, **(env or {}), "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, "-m", "newsmon.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def write_config(tmp_path: Path, feeds: list[str], channel: str, store: str | None = None) -> Path:
    raw = {
        "store": store or "sqlite:///newsmon.db",
        "feeds": [{"url": url} for url in feeds],
        "channels": {"desk": channel},
        "rules": TEST_RULES,
        "fetch": {"allow_private_networks": "127.0.0.1/32", "retries": 0, "timeout": 5},
    }
    path = tmp_path / "newsmon.yaml"
    path.write_text(yaml.safe_dump(raw), encoding="utf-8")
    return path


def test_check_accepts_a_good_config(tmp_path: Path) -> None:
    path = write_config(tmp_path, ["https://example.com/feed.xml"], "json://127.0.0.1:9/")
    result = runner.invoke(app, ["check", "--config", str(path)])
    assert result.exit_code == 0, result.output
    assert "OK" in result.output and "1 feed, 2 rules, 1 channel" in result.output


def test_check_lists_problems_without_traceback(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("feeds: [{url: 'gopher://x/'}]\nrules: [{id: a, query: 'x AND'}]\nfoo: 1\n")
    result = runner.invoke(app, ["check", "--config", str(path)])
    assert result.exit_code == 2
    assert "Traceback" not in result.output
    assert f"{path}:1: feeds[0].url: scheme 'gopher' is not allowed" in result.output
    assert f"{path}:2: rules[0].query: rule 'a':" in result.output
    assert f"{path}:3: foo: unknown key" in result.output


def test_check_refuses_a_feed_at_a_private_address_at_its_line(tmp_path: Path) -> None:
    """A feed the fetcher would refuse (a private address the config does not allow) is
    a problem `check` names, at the feed's line; allowed, it is not."""
    path = tmp_path / "private.yaml"
    text = (
        "feeds:\n  - url: https://example.com/rss\n  - url: http://10.1.2.3/feed\n"
        "channels: {desk: 'json://127.0.0.1:9/'}\n"
        "rules: [{id: a, query: kyiv, notify: [desk]}]\n"
    )
    path.write_text(text, encoding="utf-8")
    result = runner.invoke(app, ["check", "--config", str(path)])
    assert result.exit_code == 2, result.output
    assert f"{path}:3: feeds[1].url: refused when fetched:" in result.output
    assert "10.1.2.3" in result.output and "fetch.allow_private_networks" in result.output
    path.write_text(text + "fetch: {allow_private_networks: 10.0.0.0/8}\n", encoding="utf-8")
    assert runner.invoke(app, ["check", "--config", str(path)]).exit_code == 0


def test_config_from_environment(tmp_path: Path, monkeypatch: object) -> None:
    path = write_config(tmp_path, ["https://example.com/feed.xml"], "json://127.0.0.1:9/")
    result = runner.invoke(app, ["check"], env={"NEWSMON_CONFIG": str(path)})
    assert result.exit_code == 0, result.output


@pytest.mark.parametrize("value", ["yes please", "10.0.0.0/33"])
def test_a_bad_private_networks_variable_exits_2_naming_it(tmp_path: Path, value: str) -> None:
    path = write_config(tmp_path, ["https://example.com/feed.xml"], "json://127.0.0.1:9/")
    for command in ("check", "run"):
        result = runner.invoke(
            app, [command, "--config", str(path)], env={"NEWSMON_ALLOW_PRIVATE_NETWORKS": value}
        )
        assert result.exit_code == 2, result.output
        assert "environment: NEWSMON_ALLOW_PRIVATE_NETWORKS: private networks:" in result.output
        assert result.exception is None or isinstance(result.exception, SystemExit)


def test_private_networks_as_a_yaml_list(tmp_path: Path) -> None:
    path = write_config(tmp_path, ["https://example.com/feed.xml"], "json://127.0.0.1:9/")
    raw = yaml.safe_load(path.read_text())
    raw["fetch"]["allow_private_networks"] = ["127.0.0.1/32", "10.0.0.0/8"]
    path.write_text(yaml.safe_dump(raw))
    assert runner.invoke(app, ["check", "--config", str(path)]).exit_code == 0
    raw["fetch"]["allow_private_networks"] = ["127.0.0.1/32", "10.0.0.0/33"]
    path.write_text(yaml.safe_dump(raw))
    result = runner.invoke(app, ["check", "--config", str(path)])
    assert result.exit_code == 2
    assert "fetch.allow_private_networks: private networks: '10.0.0.0/33'" in result.output


def test_run_exits_3_when_the_store_is_unreachable(tmp_path: Path) -> None:
    store = "postgresql+psycopg://nobody@127.0.0.1:1/newsmon"
    path = write_config(tmp_path, ["https://example.com/feed.xml"], "json://127.0.0.1:9/", store)
    result = runner.invoke(app, ["run", "--config", str(path)])
    assert result.exit_code == 3
    assert "Store unavailable" in result.output and "Traceback" not in result.output


def test_run_polls_and_exits_0_even_when_a_feed_fails(tmp_path: Path, site: LoopbackServer) -> None:
    site.add("/gone.xml", b"", status=404)
    with LoopbackServer() as hook:
        hook.add("/hook", b"")
        channel = "json://" + hook.url("/hook").removeprefix("http://")
        feeds = [site.url("/site/world.xml"), site.url("/gone.xml")]
        result = runner.invoke(
            app, ["run", "--config", str(write_config(tmp_path, feeds, channel))]
        )
        posts = [r for r in hook.requests if r.method == "POST"]
    assert result.exit_code == 0, result.output
    assert "feeds: 2 polled, 1 with news, 0 unchanged, 1 failed" in result.output
    assert "alerts: 2; deliveries: 2 sent, 0 to retry, 0 failed" in result.output
    assert "HTTP 404" in result.output
    assert len(posts) == 2
    assert (tmp_path / "newsmon.db").exists()  # relative to the config file


MARKUP = "[red]x[/red] [link=http://evil]y"


def test_feed_text_is_printed_as_it_is_never_as_markup(
    tmp_path: Path, site: LoopbackServer
) -> None:
    title = f"{MARKUP} Kyiv weighs security guarantees"
    item = f"<item><title>{title}</title><link>{site.url('/none')}</link></item>"
    site.add("/markup.xml", f"<rss><channel>{item}</channel></rss>".encode())
    site.add("/gone.xml", b"", status=404)
    feeds = [site.url("/markup.xml"), site.url("/gone.xml")]
    path = write_config(tmp_path, feeds, "json://127.0.0.1:9/")
    raw = yaml.safe_load(path.read_text())
    raw["feeds"][1]["name"] = MARKUP
    path.write_text(yaml.safe_dump(raw))
    wide = {"COLUMNS": "300"}

    ran = runner.invoke(app, ["run", "-v", "--config", str(path)], env=wide)
    listed = runner.invoke(app, ["alerts", "--config", str(path)], env=wide)
    polled = runner.invoke(app, ["feeds", "--config", str(path)], env=wide)
    stories = runner.invoke(app, ["stories", "--config", str(path)], env=wide)

    assert ran.exit_code == listed.exit_code == polled.exit_code == stories.exit_code == 0
    assert MARKUP in ran.output and MARKUP in polled.output
    assert MARKUP in listed.output and MARKUP in stories.output


def test_run_lists_the_entries_it_skipped_with_their_reasons(
    tmp_path: Path, site: LoopbackServer
) -> None:
    items = "<item><title>No link</title></item><item><title>Kept</title><link>/a</link></item>"
    site.add("/skips.xml", f"<rss><channel>{items}</channel></rss>".encode())
    path = write_config(tmp_path, [site.url("/skips.xml")], "json://127.0.0.1:9/")
    result = runner.invoke(app, ["run", "--config", str(path)], env={"COLUMNS": "300"})
    assert result.exit_code == 0, result.output
    assert "item 'No link' has no http(s) link" in result.output


def test_run_does_not_import_prefect() -> None:
    code = "import sys, newsmon.cli; sys.exit('prefect' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0


def test_help_lists_the_commands() -> None:
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    for command in ("run", "check", "demo"):
        assert command in result.output


def test_demo_prints_one_alert_per_rule_and_story() -> None:
    console = Console(record=True, width=200, soft_wrap=True)
    run_demo(console)  # its store in a temporary folder
    text = console.export_text()
    received = int(re.search(r"(\d+) alerts received by the desk", text).group(1))  # type: ignore[union-attr]
    for title in (
        "Security guarantees for Ukraine",
        "Withdrawal from the Donbas",
        "Senate ratification of a Ukraine deal",
    ):
        assert text.count(f"[newsmon] {title}:") == 1  # one story: one alert per rule
        assert text.count(f"[newsmon] Update: {title}:") <= 2  # one per later write-up
    assert received == 3 + text.count("[newsmon] Update:")
    assert text.count("New:") == text.count("[newsmon] Update:")
    for outlet in ("Meridian Wire", "The Harbour Herald", "Northgate Times"):
        assert f"Also: {outlet}" in text  # the sources the story had when an update came
    assert "utm_source" not in text
    assert "Farm" not in text and "Milltown" not in text  # the near misses stay quiet
    assert "feeds: 5 polled, 0 with news, 5 unchanged, 0 failed" in text
    assert "alerts sent in the second cycle: 0" in text
    assert "URL: http://127.0.0.1:" in text and "Site: " in text
    assert "the store was temporary: `newsmon demo --keep DIR` keeps it" in text


def _site_times(texts: list[str]) -> list[datetime]:
    iso = r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2})?(?:Z|[+-]\d{2}:\d{2})"
    rfc = r"(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d{1,2} \w{3} \d{4} \d{2}:\d{2}:\d{2} [+-]\d{4}"
    found = [datetime.fromisoformat(t) for text in texts for t in re.findall(iso, text)]
    return found + [parsedate_to_datetime(t) for text in texts for t in re.findall(rfc, text)]


def test_the_demo_serves_its_sample_news_as_an_hour_old() -> None:
    """The sample site's times move so that its latest item is SITE_AGE old when the demo
    runs (an alert's latency reads as a morning's news would, not weeks)."""
    files = [p for p in SITE.rglob("*") if p.suffix in (".xml", ".html")]
    assert max(_site_times([p.read_text(encoding="utf-8") for p in files])) == SITE_NEWEST
    now = datetime(2027, 3, 1, 9, 30, 40, tzinfo=UTC)
    shift = site_shift(now)
    assert SITE_NEWEST + shift == now - SITE_AGE - timedelta(seconds=40)  # whole minutes
    with StaticSite(SITE, shift) as site:
        served = [site.body("/" + str(p.relative_to(SITE))) for p in files]
    times = _site_times([body.decode("utf-8") for body in served if body])
    assert len(times) == len(_site_times([p.read_text(encoding="utf-8") for p in files]))
    assert max(times) == SITE_NEWEST + shift
    with StaticSite(SITE) as plain:  # no shift: the files as written
        feed = (SITE / "cbn" / "rss.xml").read_bytes().replace(b"{{BASE}}", plain.base.encode())
        assert plain.body("/cbn/rss.xml") == feed


def test_a_demo_kept_again_in_its_folder_starts_afresh(tmp_path: Path) -> None:
    """Run again with the same --keep folder, the demo replaces the store it kept (its
    entries are not taken for duplicates), and keeps a config whose rules read as written."""
    run_demo(Console(file=open(tmp_path / "first.txt", "w")), tmp_path)  # noqa: SIM115
    console = Console(record=True, width=200, soft_wrap=True)
    run_demo(console, tmp_path)
    text = console.export_text()
    assert "replaced the store an earlier demo kept" in text
    received = int(re.search(r"(\d+) alerts received by the desk", text).group(1))  # type: ignore[union-attr]
    assert received >= 3
    kept = (tmp_path / "newsmon.yaml").read_text(encoding="utf-8")
    assert "query: |" in kept and "\\n" not in kept
    for command in ("stories", "alerts", "web"):
        assert f"newsmon {command} --config {tmp_path / 'newsmon.yaml'}" in text


def test_alerts_listing_retry_deliver_and_digest(tmp_path: Path) -> None:
    from monitors import config as config_mod
    from monitors.delivery import Outbox
    from monitors.store import Store
    from tests.factories import seed

    with LoopbackServer() as hook:
        hook.add("/down", b"", status=500)
        hook.add("/hook", b"")
        down = "json://" + hook.url("/down").removeprefix("http://")
        path = write_config(tmp_path, [], down)
        raw = yaml.safe_load(path.read_text())
        raw["delivery"] = {"max_attempts": 1}
        raw["rules"][1]["delivery"] = "daily"
        path.write_text(yaml.safe_dump(raw))
        cfg = config_mod.load(path)
        store = Store.open(cfg.store)
        seed(store, Outbox.of(cfg, store), 2, rule_id="security-guarantees")
        seed(store, Outbox.of(cfg, store), 1, rule_id="donbas-withdrawal", start=5)
        store.close()

        result = runner.invoke(app, ["deliver", "--config", str(path)])
        assert result.exit_code == 0 and "deliveries: 0 sent, 0 to retry, 2 failed" in result.output
        listing = runner.invoke(app, ["alerts", "--status", "failed", "--config", str(path)])
        assert listing.exit_code == 0
        assert listing.output.count("security-guarantees") == 2 and "failed" in listing.output

        raw["channels"]["desk"] = "json://" + hook.url("/hook").removeprefix("http://")
        path.write_text(yaml.safe_dump(raw))
        retried = runner.invoke(app, ["alerts", "retry", "--all", "--config", str(path)])
        assert retried.exit_code == 0 and "2 deliveries due now" in retried.output
        result = runner.invoke(app, ["deliver", "--config", str(path)])
        assert "deliveries: 2 sent, 0 to retry, 0 failed" in result.output
        result = runner.invoke(app, ["digest", "--period", "daily", "--config", str(path)])
        assert "digests: 1 made; deliveries: 1 sent" in result.output
        bad = runner.invoke(app, ["digest", "--period", "weekly", "--config", str(path)])
        assert bad.exit_code == 2
        sent = [r.path for r in hook.requests if r.method == "POST"]
    assert sent == ["/down", "/down", "/hook", "/hook", "/hook"]


def test_tables_drop_bidi_controls_stored_before_feeds_were_stripped(tmp_path: Path) -> None:
    from monitors import config as config_mod
    from monitors.delivery import Outbox
    from monitors.store import Store
    from tests.factories import seed

    path = write_config(tmp_path, [], "json://127.0.0.1:9/")
    cfg = config_mod.load(path)
    store = Store.open(cfg.store)
    seed(store, Outbox.of(cfg, store), 1, title="Kyiv \u2067deal\u2069 signed \u202egnp.exe")
    store.close()
    listing = runner.invoke(app, ["alerts", "--config", str(path)], env={"COLUMNS": "200"})
    assert listing.exit_code == 0, listing.output
    assert "Kyiv deal signed gnp.exe" in listing.output
    assert not re.findall("[\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]", listing.output)


def test_help_loads_no_heavy_module() -> None:
    """`newsmon --help` starts fast: the pipeline's libraries load in the commands."""
    heavy = ("sqlalchemy", "trafilatura", "apprise", "numpy", "alembic", "httpx")
    code = (
        "import sys; from newsmon.cli import app\n"
        "try:\n    app(['--help'])\nexcept SystemExit:\n    pass\n"
        f"print([m for m in {heavy!r} if m in sys.modules])"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "[]"


def test_tables_written_to_a_pipe_are_wide() -> None:
    """Piped output (cron mail, grep) keeps each table row on one line of up to 160 columns."""
    env = {k: v for k, v in os.environ.items() if k != "COLUMNS"}
    code = "from newsmon.common import out; print(out.width)"
    piped = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert piped.stdout.strip() == "160"
    env["COLUMNS"] = "90"
    narrow = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert narrow.stdout.strip() == "90"
