"""Stories and their alerts, recorded straight into the store: one first alert per rule
and story, an update for each development however soon, silence for coverage."""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from monitors import config as config_mod
from monitors.config import StoriesConfig
from monitors.errors import StoreError
from monitors.extract import text_hash
from monitors.extract.analysis import analyse
from monitors.models import Article, Entry
from monitors.rules import RuleSet
from monitors.store import Store
from monitors.store.schema import alerts, article_minhash, articles, decisions, entries, stories
from monitors.stories import Recorded, StoryDesk, minhash, record_article
from monitors.stories.placement import Conflict
from monitors.stories.record import MAX_ATTEMPTS

T0 = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)
RULES = RuleSet.compile(
    [
        ("strikes", "(Odesa OR Kharkiv) AND (killed OR killing OR kills OR toll)"),
        ("deal", "Donbas AND (withdraw* OR ratif*)"),
    ]
)
ODESA = [
    "Russian missiles struck the port of Odesa overnight, killing 8 people and wounding "
    "dozens, Ukraine's emergency service said on Friday.",
    "The attack damaged grain terminals and set fire to a warehouse, regional officials said.",
    "Air defence units shot down most of the drones, the air force said.",
    "Firefighters worked through the night to contain the blaze at the terminal, which "
    "handles a large share of the country's grain exports to Africa and the Middle East.",
    "Shipping companies said vessels waiting to enter the port had been told to hold their "
    "positions until the damage to the berths had been assessed by engineers.",
    "Insurers said premiums for ships calling at Black Sea ports were likely to rise again "
    "after the third attack on the port's infrastructure this month.",
]
TOLL = "The death toll rose to 14 on Friday afternoon, governor Oleh Kiper said, killed in Odesa."
KHARKIV = [
    "A Russian drone strike on a power plant in Kharkiv killed 3 workers on Friday, "
    "mayor Ihor Terekhov said, leaving parts of the city without heating.",
    "Repair crews were working to restore power, the city's energy company said.",
]


@dataclass
class Desk:
    """Records articles from outlets, as the pipeline would after extraction; with the
    analysis an extraction worker sends if `analysed`."""

    store: Store
    desk: StoryDesk = field(default_factory=lambda: StoryDesk(StoriesConfig()))
    entries: int = 0
    sites: dict[str, int] = field(default_factory=dict)
    analysed: bool = False
    worded: bool = False  # the words matching found passed on for the signature

    def record(self, site: str, title: str, paragraphs: list[str], at: datetime) -> Recorded:
        self.entries += 1
        url = f"https://{site}/{self.entries}"
        text = "\n".join(paragraphs)
        entry = Entry(url, url, url, title, "", at)
        with self.store.transaction() as tx:
            feed = tx.sync_feeds([(f"https://{site}/feed", site)])[f"https://{site}/feed"]
            tx.record_feed_ok(
                feed.id,
                status=200,
                etag=None,
                last_modified=None,
                body_hash=url,
                new_entries=[entry],
            )
            (item,) = tx.pending_entries([feed.id])
        analysis = analyse(title, text) if self.analysed else None
        article = Article(url, url, title, text, site, "page", "en", at, text_hash(text), analysis)
        matching = RULES.matching(title, text, site=site)
        found = matching.text_words if self.worded else None
        return record_article(
            self.store, self.desk, item.id, article, matching.matches, lambda *_: None, found
        )

    def alerts(self) -> list[sa.Row[tuple[int, str, str, int, str, int | None]]]:
        with self.store.engine.begin() as conn:
            return list(
                conn.execute(
                    sa.select(
                        alerts.c.id,
                        alerts.c.rule_id,
                        alerts.c.kind,
                        alerts.c.story_id,
                        alerts.c.new_facts,
                        alerts.c.follows,
                    ).order_by(alerts.c.id)
                )
            )

    def decisions(self, kind: str) -> list[sa.Row[tuple[int, str, float | None]]]:
        with self.store.engine.begin() as conn:
            return list(
                conn.execute(
                    sa.select(decisions.c.article_id, decisions.c.reason, decisions.c.score)
                    .where(decisions.c.kind == kind)
                    .order_by(decisions.c.id)
                )
            )


@pytest.fixture
def desk(store: Store) -> Desk:
    return Desk(store)


def test_five_outlets_an_updated_wire_a_rival_story_and_coverage(desk: Desk) -> None:
    """The issue's "done when": one first alert, one update naming the new toll (from a
    near-duplicate of the wire), the other strike its own alert, coverage silent."""
    title = "Russian missiles hit Odesa port, killing 8"
    desk.record("wire.example", title, ODESA, T0)
    desk.record("herald.example", title, ODESA, T0 + timedelta(minutes=20))
    desk.record("times.example", title, ODESA, T0 + timedelta(minutes=25))
    for n, site in enumerate(("post.example", "daily.example")):
        byline = f"Reporting by the {site.split('.')[0]} desk."
        desk.record(site, title, [*ODESA, byline], T0 + timedelta(minutes=30 + n))
    updated = desk.record(
        "wire.example", title + "; toll rises to 14", [*ODESA, TOLL], T0 + timedelta(hours=3)
    )
    desk.record(
        "kyiv.example",
        "Drone strike on Kharkiv power plant kills 3",
        KHARKIV,
        T0 + timedelta(hours=4),
    )
    desk.record(
        "review.example",
        "Odesa port counts the cost after missile strike that killed 14",
        [
            "Odesa's port was counting the cost on Saturday after Russian missiles killed 14 "
            "people, governor Oleh Kiper said.",
            "Grain terminals were damaged and a warehouse burned.",
        ],
        T0 + timedelta(hours=9),
    )
    made = desk.alerts()
    odesa = [a for a in made if a.story_id == made[0].story_id]
    assert [(a.rule_id, a.kind) for a in odesa] == [("strikes", "new"), ("strikes", "update")]
    update = odesa[1]
    assert update.id == updated.alert_ids[0] and update.follows == odesa[0].id
    assert any("14" in fact for fact in json.loads(update.new_facts))
    (kharkiv,) = [a for a in made if a.story_id != odesa[0].story_id]
    assert (kharkiv.rule_id, kharkiv.kind) == ("strikes", "new")
    assert len(desk.decisions("exact copy")) == 2
    assert len(desk.decisions("near duplicate")) == 3
    assert any("nothing new" in d.reason for d in desk.decisions("no update"))


def test_a_development_hours_later_is_an_update(desk: Desk) -> None:
    title = "Russian missiles hit Odesa port, killing 8"
    desk.record("wire.example", title, ODESA, T0)
    later = desk.record(
        "herald.example",
        "Odesa strike toll climbs to 14 as governor Oleh Kiper names victims",
        [
            "The toll from the Russian missile strike on the port of Odesa rose to 14 on "
            "Friday, governor Oleh Kiper said.",
            *ODESA[1:],
        ],
        T0 + timedelta(hours=2),
    )
    assert later.alert_ids
    (_, update) = desk.alerts()
    assert update.kind == "update"
    news = json.loads(update.new_facts)
    assert any("rose to 14" in fact for fact in news)
    assert "Oleh Kiper" not in news  # who said it is no development


def test_a_new_condition_is_news(desk: Desk) -> None:
    title = "Kyiv rejects demand to withdraw from the Donbas"
    desk.record(
        "wire.example",
        title,
        ["Kyiv rejected a demand to withdraw its forces from the Donbas, officials said."],
        T0,
    )
    desk.record(
        "herald.example",
        "Kyiv rejects Donbas withdrawal demand, links any deal to ratification",
        [
            "Kyiv rejected a demand to withdraw its forces from the Donbas and said any deal "
            "would need ratification by parliament, officials said."
        ],
        T0 + timedelta(hours=1),
    )
    (_, update) = desk.alerts()
    assert update.kind == "update"
    assert json.loads(update.new_facts) == [
        "Kyiv rejected a demand to withdraw its forces from the Donbas and said any deal "
        "would need ratification by parliament"
    ]


def test_an_update_within_minutes_of_the_last_alert_waits(desk: Desk) -> None:
    desk.record("wire.example", "Russian missiles hit Odesa port, killing 8", ODESA, T0)
    soon = T0 + timedelta(minutes=3)
    assert not desk.record("herald.example", "Odesa toll 14", [*ODESA, TOLL], soon).alert_ids
    (reason,) = [d.reason for d in desk.decisions("update held")]
    assert "within 10 min" in reason and "14" in reason
    later = T0 + timedelta(minutes=30)  # what the held one brought is still new
    again = [*ODESA, TOLL, "Rescue work went on into the evening."]
    assert desk.record("post.example", "Odesa toll 14", again, later).alert_ids


def test_a_same_url_copy_is_a_decision(desk: Desk) -> None:
    first = desk.record("wire.example", "Russian missiles hit Odesa port", ODESA, T0)
    with desk.store.engine.begin() as conn:
        conn.execute(articles.update().values(canonical_url="https://herald.example/2"))
    again = desk.record("herald.example", "Russian missiles hit Odesa port", ODESA, T0)
    assert again.duplicate_of == first.article_id
    (decision,) = desk.decisions("same URL")
    assert decision.article_id == first.article_id and "https://herald.example/2" in decision.reason


def test_story_settings_from_the_config_reach_the_desk(store: Store) -> None:
    cfg = config_mod.from_dict(
        {"stories": {"window": "6h", "same_story": 0.6, "near_duplicate": 0.9}}, "c", env={}
    )
    desk = Desk(store, StoryDesk(cfg.stories))
    assert desk.desk.settings.window == timedelta(hours=6)
    assert desk.desk.settings.same_story == 0.6
    assert desk.desk.lsh.rows * desk.desk.lsh.bands <= 128
    desk.record("wire.example", "Russian missiles hit Odesa port, killing 8", ODESA, T0)
    apart = desk.record(
        "herald.example", "Russian missiles hit Odesa port", ODESA[:2], T0 + timedelta(hours=8)
    )
    with store.engine.begin() as conn:
        assert conn.scalar(sa.select(sa.func.count()).select_from(stories)) == 2
    assert apart.alert_ids


@pytest.mark.postgres
def test_concurrent_workers_make_one_story_and_one_alert(postgres_url: str) -> None:
    """Eight threads, each with its own store, record write-ups of one story at once."""
    engine = sa.create_engine(postgres_url)
    with engine.begin() as conn:
        conn.exec_driver_sql("DROP SCHEMA public CASCADE")
        conn.exec_driver_sql("CREATE SCHEMA public")
    engine.dispose()
    Store.open(postgres_url).close()
    workers = [Store.open(postgres_url) for _ in range(8)]
    start = threading.Barrier(len(workers))
    errors: list[BaseException] = []

    def work(n: int, store: Store) -> None:
        try:
            start.wait()
            lead = f"{ODESA[0]} Outlet {n} reported."
            Desk(store, entries=100 * n).record(
                f"outlet{n}.example", "Russian missiles hit Odesa port, killing 8", [lead], T0
            )
        except BaseException as exc:  # noqa: BLE001 (reported below)
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(n, s)) for n, s in enumerate(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    with workers[0].engine.begin() as conn:
        story_count = conn.scalar(sa.select(sa.func.count()).select_from(stories))
        made = conn.execute(sa.select(alerts.c.kind)).scalars().all()
    for store in workers:
        store.close()
    assert not errors
    assert story_count == 1
    assert made == ["new"]


def test_a_placement_made_stale_every_time_leaves_its_entry_pending(
    desk: Desk, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each try rolls back whole; after the last, the entry is left for a later cycle."""
    tries = []

    def stale(_desk: StoryDesk, _tx: object, draft: object) -> None:
        tries.append(draft)
        raise Conflict("another worker's placement bears on it")

    monkeypatch.setattr(StoryDesk, "settle", stale)
    with pytest.raises(StoreError, match=f"stale by other workers {MAX_ATTEMPTS} times"):
        desk.record("wire.example", "Russian missiles hit Odesa port, killing 8", ODESA, T0)
    assert len(tries) == MAX_ATTEMPTS
    with desk.store.engine.begin() as conn:
        assert conn.scalar(sa.select(sa.func.count()).select_from(articles)) == 0
        assert conn.scalar(sa.select(sa.func.count()).select_from(stories)) == 0
        assert conn.execute(sa.select(entries.c.status)).scalars().all() == ["pending"]


def test_names_far_from_the_match_are_not_news_for_the_rule(desk: Desk) -> None:
    """A new name in a sentence that only shares a common rule word ("killed") with the
    rule, outside the passage, is background: no update."""
    desk.record("wire.example", "Russian missiles hit Odesa port, killing 8", ODESA, T0)
    aside = (
        "Separately, two people were killed in a road accident near Lviv, police chief "
        "Ivan Petrenko said."
    )
    later = desk.record(
        "herald.example", "Odesa port hit, 8 dead", [*ODESA, aside], T0 + timedelta(hours=3)
    )
    assert not later.alert_ids
    (reason,) = [d.reason for d in desk.decisions("no update")]
    assert "Petrenko" not in reason


def test_the_signature_of_the_words_matching_found_is_the_texts(store: Store) -> None:
    desk = Desk(store, worded=True)
    text = ["Russia struck Odesa overnight.", "U.S. envoys met in Kyiv; talks went on."]
    made = desk.record("wire.example", "Odesa struck", text, T0)
    with store.engine.begin() as conn:
        stored = conn.execute(
            sa.select(article_minhash.c.sig).where(article_minhash.c.article_id == made.article_id)
        ).scalar_one()
    assert stored == minhash.signature("\n".join(text)).to_bytes()
