"""bench/story_ceiling.py runs on a corpus of WikiNews events' shape and finds the grouping
a toy corpus makes plain (a bench that fails is one nobody reads)."""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from bench import story_ceiling  # noqa: E402
from bench.stream import WIKINEWS_FILE  # noqa: E402

EVENTS = {
    "quake": "Earthquake of magnitude 6.1 strikes Chilean coast; tsunami warning lifted",
    "vote": "Scottish Parliament votes on referendum bill; Holyrood ballot date set for September",
    "race": "Hamilton wins Malaysian Grand Prix at Sepang ahead of Rosberg; Vettel third",
}


def _corpus(folder: Path) -> Path:
    start = datetime(2014, 4, 1, tzinfo=UTC)
    items = []
    for e, (event, fact) in enumerate(EVENTS.items()):
        for n, outlet in enumerate(("Reuters", "BBC", "AP")):
            when = start + timedelta(days=2 * e, hours=5 * n)
            items.append(
                {
                    "id": f"{event}-{n}",
                    "event": event,
                    "outlet": outlet,
                    "url": f"https://{outlet.lower()}.example/{event}/{n}",
                    "title": fact.split(";")[0],
                    "text": f"{fact}. {outlet} reports: {fact}. " * (n + 1),
                    "published": when.isoformat(),
                    "published_real": (when + timedelta(days=30 * e)).isoformat(),
                }
            )
    path = folder / WIKINEWS_FILE
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps(items), encoding="utf-8")
    return folder


def test_cosines_are_symmetric_with_ones_on_the_diagonal() -> None:
    found = story_ceiling.cosines([{"a": 1.0, "b": 2.0}, {"b": 1.0}, {"c": 1.0}])
    assert np.allclose(found, found.T)
    assert np.allclose(np.diag(found), 1.0)
    assert found[0, 2] == 0.0 and 0.0 < found[0, 1] < 1.0


def test_a_plain_corpus_reaches_both_goals_in_every_text_view(tmp_path: Path) -> None:
    lines = list(story_ceiling.table(_corpus(tmp_path)))
    rows = [line.split(" | ") for line in lines[2:]]
    assert {row[0].lstrip("| ") for row in rows} == {"published", "published_real"}
    for view in ("all", "body", "body, shipped IDF", "body terms present"):
        cells = [row[3] for row in rows if row[1] == view and row[2] == "no time"]
        assert cells == ["1.000 / 1.000", "1.000 / 1.000"], view
