"""`newsmon stats latency`, the latency column of `newsmon alerts` and the desk's latency line,
on alerts made by a real cycle whose times are then set."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import sqlalchemy as sa
from starlette.testclient import TestClient
from typer.testing import CliRunner

from monitors.pipeline.latency import Latency, duration, percentile
from monitors.store import connect
from monitors.store.schema import alerts, deliveries
from newsmon.cli import app
from newsmon.common import load_config, store_for
from newsmon.web import create_app
from tests.cli.test_cli import write_config
from tests.httpserver import LoopbackServer

runner = CliRunner()
WIDE = {"COLUMNS": "250"}
T = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
LOCAL = "http://127.0.0.1"


def timed_alerts(tmp_path: Path, site: LoopbackServer) -> Path:
    """Two alerts from the test site, one as if polled a minute after publication and
    sent 2 s later, one as if pushed within a second and sent half a second later."""
    with LoopbackServer() as hook:
        hook.add("/hook", b"")
        channel = "json://" + hook.url("/hook").removeprefix("http://")
        path = write_config(tmp_path, [site.url("/site/world.xml")], channel)
        ran = runner.invoke(app, ["run", "--config", str(path)])
    assert ran.exit_code == 0, ran.output
    engine = connect(f"sqlite:///{tmp_path / 'newsmon.db'}")
    times = [("poll", 60.0, 62.0), ("push", 1.0, 1.5)]
    with engine.begin() as conn:
        ids = list(conn.scalars(sa.select(alerts.c.id).order_by(alerts.c.id)))
        assert len(ids) == 2
        for alert_id, (via, seen, sent) in zip(ids, times, strict=True):
            conn.execute(
                alerts.update()
                .where(alerts.c.id == alert_id)
                .values(published_at=T, seen_at=T + timedelta(seconds=seen), seen_via=via)
            )
            conn.execute(
                deliveries.update()
                .where(deliveries.c.alert_id == alert_id)
                .values(sent_at=T + timedelta(seconds=sent))
            )
    engine.dispose()
    return path


def test_stats_latency_gives_p50_and_p95_per_feed_and_overall(
    tmp_path: Path, site: LoopbackServer
) -> None:
    path = timed_alerts(tmp_path, site)
    result = runner.invoke(app, ["stats", "latency", "--config", str(path)], env=WIDE)
    assert result.exit_code == 0, result.output
    lines = {line.split("│")[1].strip(): line for line in result.output.splitlines() if "│" in line}
    cells = {k: [c.strip() for c in v.split("│")[2:-1]] for k, v in lines.items()}
    feed = cells[site.url("/site/world.xml")]
    assert feed == ["2", "poll+push", "1.0s", "1m00s", "1.5s", "1m02s"]
    assert cells["all polled"] == ["1", "poll", "1m00s", "1m00s", "1m02s", "1m02s"]
    assert cells["all pushed"] == ["1", "push", "1.0s", "1.0s", "1.5s", "1.5s"]
    later = runner.invoke(
        app, ["stats", "latency", "--since", "2999-01-01", "--config", str(path)], env=WIDE
    )
    assert "no alerts since 2999-01-01 00:00 UTC" in later.output
    bad = runner.invoke(app, ["stats", "latency", "--since", "soon", "--config", str(path)])
    assert bad.exit_code == 2 and "not a date" in bad.output


def test_alerts_show_each_alerts_latency_and_how_it_was_seen(
    tmp_path: Path, site: LoopbackServer
) -> None:
    path = timed_alerts(tmp_path, site)
    result = runner.invoke(app, ["alerts", "--config", str(path)], env=WIDE)
    assert result.exit_code == 0, result.output
    assert "1m02s (poll)" in result.output and "1.5s (push)" in result.output


def test_the_desks_alerts_and_story_pages_show_the_same_latency(
    tmp_path: Path, site: LoopbackServer
) -> None:
    path = timed_alerts(tmp_path, site)
    config = load_config(path, sends=False)
    with (
        store_for(config) as store,
        TestClient(create_app(config, store), base_url=LOCAL) as client,
    ):
        listing = client.get("/alerts").text
        story = client.get("/stories/1").text
    assert "Latency: 1m02s (poll)" in listing and "Latency: 1.5s (push)" in listing
    assert "Latency: 1m02s (poll)" in story or "Latency: 1.5s (push)" in story


def test_latency_clamps_a_publisher_clock_ahead_and_knows_no_date() -> None:
    ahead = Latency.of(T + timedelta(seconds=5), T, T + timedelta(seconds=1), "poll")
    assert (ahead.to_seen, ahead.to_sent, ahead.seen_to_sent) == (0.0, 0.0, 1.0)
    undated = Latency.of(None, T, T + timedelta(seconds=3), "push")
    assert (undated.to_seen, undated.to_sent, undated.seen_to_sent) == (None, None, 3.0)


def test_percentiles_by_nearest_rank_and_durations_for_people() -> None:
    values = [float(n) for n in range(1, 101)]
    assert (percentile(values, 50), percentile(values, 95), percentile([7.0], 95)) == (
        50.0,
        95.0,
        7.0,
    )
    assert [duration(s) for s in (0.44, 12.4, 151, 3 * 3600 + 300, 2 * 86400 + 4 * 3600)] == [
        "0.4s",
        "12s",
        "2m31s",
        "3h05m",
        "2d04h",
    ]
