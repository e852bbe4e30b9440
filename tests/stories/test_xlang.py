"""One story across languages: an article's marks (names, places and numbers keyed alike
in Latin and Cyrillic), pairs of tests/data/xlang_pairs.yaml recorded through the
pipeline (joined when of one event, apart when of two events with the same actors), and
the alert, the desk's page and `stories show` of a story in two languages naming them."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from starlette.testclient import TestClient
from typer.testing import CliRunner

from monitors.config import StoriesConfig
from monitors.delivery import Notifier, render_alert
from monitors.extract.marks import marks, name_keys
from monitors.models import Entry
from monitors.pipeline import Pipeline
from monitors.stories.similarity import Candidate, decide
from newsmon.cli import app
from newsmon.web import create_app
from tests.conftest import ROOT
from tests.replay import pipeline, record_page, shipped_config
from tests.web.conftest import desk_config

PAIRS = ROOT / "tests" / "data" / "xlang_pairs.yaml"
FEED = "https://xlang.example/feed.xml"


def shared_key(*spellings: str) -> set[str]:
    return set.intersection(*(set(name_keys(w.casefold())) for w in spellings))


def test_a_name_in_either_script_and_any_case_has_one_key() -> None:
    names = ["Зеленський", "Зеленського", "Зеленським", "Зеленский", "Zelensky", "Zelenskyy"]
    assert shared_key(*names) == {"~zlnsk"}
    places = ["Донбас", "Донбасі", "Донбасом", "Донбасс", "Donbas", "Donbass"]
    assert shared_key(*places) == {"~dnbs"}  # Донбасом also keeps its "m": Рустем is a name
    assert shared_key("Вашингтоні", "Washington") == {"~vSnhtn"}
    assert shared_key("Києві", "Kyiv", "Kiev", "Київ") == {"~kv"}
    # "-ові" ends the locative of Харків and the dative of Трамп: both readings are kept
    assert shared_key("Харкові", "Kharkiv") == {"~hrkv"}
    assert shared_key("Трампові", "Trump") == {"~trmp"}


def test_a_number_has_one_key_however_written() -> None:
    written = ["30 000 дронів", "30,000 drones", "30 тисяч дронів", "30 thousand drones"]
    keys = [set(marks("", f"Вони запустили {w}.")) for w in written]
    assert keys[0] == keys[1] == keys[2] == keys[3] == {"~#30000"}
    assert not marks("", "It happened in 2025.")  # a bare year is no evidence
    assert not marks("", f"{'9' * 400} тисяч, 1.5.6.7 млн, 12{' 000' * 50}")  # no amounts


def test_first_names_and_sentence_openers_are_no_marks() -> None:
    found = marks("", "Вчора Володимир Зеленський зустрівся з Дональдом Трампом у Вашингтоні.")
    assert set(found.values()) == {"Зеленський", "Трампом", "Вашингтоні"}


def pair(key: str) -> dict[str, Any]:
    data = yaml.safe_load(PAIRS.read_text(encoding="utf-8"))
    found = next(p for p in data["pairs"] if p["id"] == key)
    return {**found, "start": datetime.fromisoformat(data["start"])}


@pytest.fixture
def line(store_url: str) -> Iterator[Pipeline]:
    rules = [{"id": "pokrovsk", "query": "Pokrovsk OR Покровськ"}]
    with pipeline(shipped_config(store_url, rules)) as line:
        yield line


def record(line: Pipeline, labelled: dict[str, Any], side: str) -> int:
    """One side of a pair recorded as a polled page; its story."""
    article = labelled[side]
    url = f"https://{article['lang']}.example/{labelled['id']}"
    at = labelled["start"] + timedelta(hours=article["at"])
    with line.store.transaction() as tx:
        feed_id = tx.sync_feeds([(FEED, "xlang")])[FEED].id
    entry = Entry(url, url, url, article["title"], "", at)
    done = record_page(
        line, feed_id, entry, f"{article['lang']}.example", article["text"], None, article["lang"]
    )
    assert done.outcome != "error", done.error
    with line.store.transaction() as tx:
        story = tx.story_of(tx.article_with_url(url)[0])
    assert story is not None
    return story


@pytest.mark.parametrize(
    ("key", "joined"),
    [
        ("p07", True),  # Syrskyi denies Pokrovsk fell: uk and en
        ("p03", True),  # Witkoff and Kushner with Putin: ru and en
        ("p04", False),  # Zelensky and Trump: Tomahawks in Washington, a plan in Florida
        ("p24", False),  # NABU: searches at Yermak's, charges against Mindich
        ("p06", False),  # the Senate: aid passed, sanctions stalled
    ],
)
def test_a_pair_joins_when_it_tells_one_event(line: Pipeline, key: str, joined: bool) -> None:
    labelled = pair(key)
    assert (record(line, labelled, "a") == record(line, labelled, "b")) is joined


def test_a_join_across_languages_says_why(line: Pipeline) -> None:
    labelled = pair("p07")
    story = record(line, labelled, "a")
    record(line, labelled, "b")
    with line.store.transaction() as tx:
        detail = tx.story_detail(story)
    assert detail is not None
    reasons = [d.reason for d in detail["decisions"] if d.kind == "same story"]
    assert len(reasons) == 1 and "across languages (en, uk)" in reasons[0]
    assert "Pokrovsk" in reasons[0] and "Syrskyi" in reasons[0]


def test_the_alert_of_a_story_in_two_languages_names_them(line: Pipeline) -> None:
    labelled = pair("p07")
    story = record(line, labelled, "a")
    with line.store.transaction() as tx:
        (first,) = tx.alert_listing(story_id=story)
    assert first.alert.languages == ("uk",)
    record(line, labelled, "b")
    with line.store.transaction() as tx:
        alert = tx.alert_listing(ids=[first.alert.id])[0].alert
    assert alert.languages == ("en", "uk")
    notifier = Notifier({"desk": "json://127.0.0.1:9/x"})
    body = render_alert(alert, "Pokrovsk", notifier.format("desk")).body
    assert "Languages: en, uk" in body


def test_the_desk_and_stories_show_name_a_storys_languages(
    line: Pipeline, store_url: str, tmp_path: Path
) -> None:
    labelled = pair("p07")
    story = record(line, labelled, "a")
    record(line, labelled, "b")
    desk = create_app(desk_config(store_url), line.store)
    with TestClient(desk, base_url="http://127.0.0.1") as client:
        answer = client.get(f"/stories/{story}")
    assert answer.status_code == 200 and "languages: en, uk" in answer.text
    path = tmp_path / "newsmon.yaml"
    path.write_text(json.dumps({"store": store_url}))
    shown = CliRunner().invoke(app, ["stories", "show", str(story), "--config", str(path)])
    assert shown.exit_code == 0, shown.output
    assert "languages: en, uk" in shown.output


def test_a_join_across_languages_wants_a_number_or_five_names() -> None:
    names = Candidate(1, 0.6, 0.6, 1, ("Zelensky", "Trump", "Rubio"), across=("en", "uk"))
    refused = decide(names, StoriesConfig())
    assert not refused.join
    assert "no anchor across languages: 3 rare names, places or numbers shared" in refused.reason
    with_number = replace(names, shared=(*names.shared, "476 drones"), figures=1)
    assert decide(with_number, StoriesConfig()).join
    five = replace(names, shared=(*names.shared, "Witkoff", "Kushner"))
    joined = decide(five, StoriesConfig())
    assert joined.join and "across languages (en, uk)" in joined.reason
    assert not decide(replace(five, member=0.2, centroid=0.2), StoriesConfig()).join
