"""The recorded demo-world scenario (tests/scenario.py) gives the stories, decisions,
alerts and deliveries recorded in tests/data/scenario/demo_world.json, on SQLite and
PostgreSQL: the pipeline's behaviour, pinned end to end."""

from __future__ import annotations

import json

from tests.scenario import GOLDEN, run


def test_demo_world_over_three_cycles_matches_the_recording(store_url: str) -> None:
    recorded = json.loads(GOLDEN.read_text(encoding="utf-8"))
    snapshot, received = run(store_url)
    assert received == recorded["received"]
    for part, expected in recorded["snapshot"].items():
        assert snapshot[part] == expected, part
