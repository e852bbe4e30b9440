"""`newsmon stats`: figures over the store; `latency`, how late alerts were."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated

import typer
from rich.table import Table

from newsmon.common import App, ConfigOption, add_row, load_config, out, parse_since, store_for

stats_app = App(help="Figures over the store.", no_args_is_help=True)


@stats_app.command("latency")
def latency(
    since: Annotated[
        str | None,
        typer.Option(help="Alerts made since this date (default: 7 days ago).", metavar="DATE"),
    ] = None,
    config: ConfigOption = None,
) -> None:
    """p50 and p95 of each feed's alert latency, and overall: from an article's
    publication to its entry being seen (by a poll or a push) and to the alert's first
    message sent (digests left out)."""
    from monitors.pipeline.latency import duration, latency_stats

    moment = parse_since(since) if since else datetime.now(UTC) - timedelta(days=7)
    cfg = load_config(config, sends=False)
    with store_for(cfg) as store, store.reading() as tx:
        rows = tx.alert_latencies(moment)
    stats = latency_stats(rows)
    if not stats:
        out.print(f"no alerts since {moment:%Y-%m-%d %H:%M} UTC", highlight=False)
        return
    table = Table(
        "feed", "alerts", "seen by", "to seen p50", "p95", "to sent p50", "p95",
        caption=f"alerts since {moment:%Y-%m-%d %H:%M} UTC; times from publication",
    )  # fmt: skip
    for column in table.columns[1:]:
        column.no_wrap = True
    for s in stats:
        cells = (s.seen_p50, s.seen_p95, s.sent_p50, s.sent_p95)
        add_row(table, s.group, str(s.alerts), s.via, *(duration(c) for c in cells))
    out.print(table)
