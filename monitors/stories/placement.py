"""Story placement: where a new article belongs, and why. Every decision is kept.

1. An exact copy (same canonical URL or same text fingerprint) joins its original's story.
2. A near-duplicate (MinHash LSH, estimated Jaccard at least `near_duplicate`) joins the
   story of the article it copies, silently unless its rule-matching sentences bring what
   the story's alerts lacked (an updated wire version with a new toll): its features are
   computed for that check, but it does not become one of the story's articles.
3. Another write-up is compared with the stories of the window whose articles share its
   rare terms (monitors.stories.index), on its full text (monitors.stories.similarity),
   and joins the best-scoring one that `decide` lets it join. A story all of whose
   articles are in languages apart from the article's (one of the two written in
   Cyrillic: Ukrainian or Russian and English, or Ukrainian and Russian) is found and
   compared by their marks instead (names, places and numbers keyed alike across
   scripts: monitors.extract.marks), when the languages are known. An article with
   nothing beyond its headline is compared as a headline (monitors.stories.similarity).
4. Anything else starts a new story; the reason names the closest story it was compared
   with and why it did not join, or says that no story of the window shared a rare term.

A placed original's terms are stored with it (`article_terms`); a story's stored
features are its span (first and latest publication). The thresholds and windows are the
`stories:` section of the config (StoriesConfig).

Workers place articles side by side (docs/architecture.md, "Concurrency"): a unit of work
first locks the article's `keys` (its text fingerprint and MinHash band keys, so that
copies and near-duplicates of one text are placed one after the other), and a story's row
while it grows; `settle`, just before it commits, checks that no article placed meanwhile
changes its placement: when one bears on it (shares a term it looked up by or could have,
or joined a story it compared with), the placement is decided again with the window as it
now is, and only if the story differs does it raise `Conflict`, the unit of work done
again.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from itertools import chain

from monitors.config import StoriesConfig
from monitors.extract.analysis import features_of, headline_only
from monitors.extract.language import UNKNOWN
from monitors.extract.marks import NUMBER, apart
from monitors.models import Article, StoryFeatures
from monitors.store import TermsRow, Tx
from monitors.stories import minhash, similarity
from monitors.stories.index import (
    RARE_SHARE,
    RecentArticles,
    Vector,
    cosines,
    dump,
    stored_terms,
)
from monitors.stories.similarity import CENTROID_MEMBERS, HEADLINE_SHARE, Candidate, Decision

EXACT_COPY = "exact copy"
COPY_KINDS = frozenset({EXACT_COPY, "near duplicate"})
MAX_STORIES = 6  # candidate stories scored, by their closest article


@dataclass(frozen=True)
class Placement:
    """The story an article joined, how (`kind`), the article it copies, score and reason."""

    story_id: int
    kind: str
    score: float | None
    reason: str
    other_article_id: int | None = None

    @property
    def is_copy(self) -> bool:
        return self.kind in COPY_KINDS

    @property
    def is_exact_copy(self) -> bool:
        return self.kind == EXACT_COPY


@dataclass(frozen=True)
class Draft:
    """What a placement leaves for `StoryDesk.settle`: the article, its story, its terms
    to store (an original placed by its text), and what the placement read: the
    placement revision its window was read at, the terms by which an article placed
    since could have been found (`anchors`) and the stories compared with; and what
    deciding it again takes (`Lookup`) and the story it joined (None: it started one)."""

    article_id: int
    story_id: int
    terms: str | None = None
    read_point: int = 0
    anchors: frozenset[str] = frozenset()
    compared: frozenset[int] = frozenset()
    lookup: Lookup | None = None
    joined: int | None = None


@dataclass(frozen=True)
class Lookup:
    """An article's features as placement compares them with the window's stories, at
    `now`, in its known `language`, as a `headline` or not."""

    feats: StoryFeatures
    now: datetime
    language: str | None
    headline: bool


class Conflict(Exception):
    """An article placed by another worker since this placement read the window would
    change it: the unit of work is done again."""


class StoryDesk:
    """Places articles into stories inside the caller's transaction.

    Work is done only as far as needed: an exact copy costs a lookup, a near-duplicate
    a MinHash signature and its features; only an article that is neither is compared
    with stories. The window's articles are kept in memory between articles (see
    monitors.stories.index).
    """

    def __init__(self, settings: StoriesConfig) -> None:
        self.settings = settings
        self.lsh = minhash.lsh_params(settings.near_duplicate)
        self.recent = RecentArticles()
        self._reading = threading.Lock()  # the window in memory, for a thread at a time

    def keys(self, article: Article, sig: minhash.Signature) -> list[int]:
        """The keys to lock before placing an article with signature `sig`: its text
        fingerprint's and its band keys (any copy or near-duplicate shares one)."""
        return [_text_key(article.text_hash), *sig.bands(self.lsh)]

    def place(
        self,
        tx: Tx,
        article_id: int,
        article: Article,
        duplicate_of: int | None,
        now: datetime,
        sig: minhash.Signature,
    ) -> tuple[Placement, Draft]:
        """Record the article's story and the decision, the article's `keys` locked;
        return them with what `settle` needs."""
        draft = None
        placement = self._exact_copy(tx, duplicate_of)
        if placement is None:
            placement = self._near_duplicate(tx, sig)
            if placement is None:
                feats = features_of(article, article.published or now)
                placement, draft = self._same_or_new(tx, article_id, article, feats, now)
                if keys := sig.bands(self.lsh):  # an empty signature is not indexed
                    tx.add_signature(article_id, sig.to_bytes(), keys)
        if placement.is_copy:
            tx.count_copy(placement.story_id, now)
        record(tx, article_id, placement, now)
        return placement, draft or Draft(article_id, placement.story_id)

    def settle(self, tx: Tx, draft: Draft) -> None:
        """Last in a unit of work that placed an article: enter the store-wide commit
        section (held until the commit), store the article's terms and stamp its story
        with the next revisions; Conflict (the unit of work rolled back) if articles
        placed since the draft read the window change its placement (`_changed`)."""
        tx.lock_commits()
        if draft.terms is None:
            tx.stamp_story(draft.story_id)
            return
        rows = tx.place_terms(draft.read_point, draft.article_id, draft.terms, draft.story_id)
        if changed := self._changed(draft, rows):
            raise Conflict(
                f"article {changed.article_id}, placed meanwhile in story {changed.story_id}, "
                f"changes article {draft.article_id}'s placement"
            )

    def _changed(self, draft: Draft, rows: list[TermsRow]) -> TermsRow | None:
        """The first of `rows` (placed after the draft read the window) that bears on
        it (shares one of its anchors, or joined a story it compared with), if deciding
        it again with them held (under the IDF of now) joins another story than it did
        or starts none; else None (most often, none bears on it)."""
        bearing = [
            row
            for row in rows
            if row.story_id in draft.compared or _shares(draft.anchors, row.terms)
        ]
        if not bearing or draft.lookup is None:
            return None
        lookup = draft.lookup
        with self._reading:
            self.recent.take(rows, lookup.now - self.settings.window)
            again = self._compare(lookup.feats, lookup.language, lookup.headline)
        chosen = _best(self._decide(again))
        joined = chosen[1].story_id if chosen else None
        return bearing[0] if joined != draft.joined else None

    def _exact_copy(self, tx: Tx, duplicate_of: int | None) -> Placement | None:
        story = tx.story_of(duplicate_of) if duplicate_of is not None else None
        if story is None:
            return None
        reason = f"same URL or same text as article {duplicate_of}"
        return Placement(story, EXACT_COPY, 1.0, reason, duplicate_of)

    def _near_duplicate(self, tx: Tx, sig: minhash.Signature) -> Placement | None:
        threshold = self.settings.near_duplicate
        keys = sig.bands(self.lsh)
        candidates = tx.signature_candidates(keys) if keys else []
        for near in minhash.near_duplicates(candidates, sig, threshold):
            story = tx.story_of(near.article_id)
            if story is not None:
                reason = (
                    f"near duplicate of article {near.article_id}: "
                    f"Jaccard ~{near.jaccard:.2f} >= {threshold:.2f}"
                )
                return Placement(story, "near duplicate", near.jaccard, reason, near.article_id)
        return None

    def _same_or_new(
        self, tx: Tx, article_id: int, article: Article, feats: StoryFeatures, now: datetime
    ) -> tuple[Placement, Draft]:
        """Join the best-scoring story `decide` allows (on a tie, the one compared first),
        else start a story saying why the closest one was not joined."""
        lookup = Lookup(
            feats, now, _known(article.language), headline_only(article.title, article.text)
        )
        with self._reading:
            found = self.candidates(tx, feats, now, lookup.language, lookup.headline)
            read_point = self.recent.read_point
            anchors = self.recent.anchors(chain(feats.body, feats.keys), _share(lookup.headline))
        decided = self._decide(found)
        chosen = _best(decided)
        if chosen:
            decision, candidate = chosen
            self._grow(tx, candidate.story_id, feats, now)
            placement = Placement(candidate.story_id, "same story", decision.score, decision.reason)
        else:
            closest = max(decided, key=lambda pair: pair[0].score, default=None)
            span = _span(feats.published, feats.published)
            story_id = tx.new_story(article.title, now, feats.published, span)
            placement = Placement(story_id, "new story", None, _new_reason(closest, len(decided)))
        compared = frozenset(c.story_id for c in found)
        terms = dump(feats, lookup.language)
        joined = chosen[1].story_id if chosen else None
        draft = Draft(
            article_id, placement.story_id, terms, read_point, anchors, compared, lookup, joined
        )
        return placement, draft

    def _decide(self, found: list[Candidate]) -> list[tuple[Decision, Candidate]]:
        return [(similarity.decide(c, self.settings), c) for c in found]

    def candidates(
        self,
        tx: Tx,
        feats: StoryFeatures,
        now: datetime,
        language: str | None = None,
        headline: bool = False,
    ) -> list[Candidate]:
        """The stories of the window whose articles share the most of the article's rare
        terms (at most MAX_STORIES, by their closest article), with the evidence; for an
        article in a known `language`, the stories in languages apart from it are found
        and compared by their marks instead (`_across`). A `headline` (an article with
        nothing beyond it) counts as rare a term that up to HEADLINE_SHARE of the held
        articles have, and its candidates are judged as headlines."""
        self.recent.sync(tx, now - self.settings.window)
        return self._compare(feats, language, headline)

    def _compare(
        self, feats: StoryFeatures, language: str | None, headline: bool
    ) -> list[Candidate]:
        """`candidates` with the window as held now."""
        recent = self.recent
        languages = recent.languages()
        across = language if language and any(o and apart(o, language) for o in languages) else None
        vector = recent.weigh(feats.body)
        rare = recent.rare(chain(feats.body, feats.keys), _share(headline))
        foreign: dict[int, bool] = {}  # `_foreign` of the stories met, by story
        slots = recent.candidates(rare, recent.idf_of(rare))
        closest = self._closest(vector, slots, across, foreign)
        ranked = sorted(closest.items(), key=lambda pair: -pair[1])[:MAX_STORIES]
        rare_keys = {t: word for t in rare if (word := recent.word(t)) in feats.keys}
        grown = [story for story, _ in ranked if len(recent.members(story)) > 1]
        centroids = cosines(vector, recent.centroids(grown, CENTROID_MEMBERS)).tolist()
        centroid_of = dict(zip(grown, centroids, strict=True))
        found = []
        stories = [story for story, _ in ranked]
        for (story, member), held in zip(ranked, recent.keys_held(stories, rare_keys), strict=True):
            slots = recent.members(story)
            centroid = centroid_of.get(story, member)
            shared = sorted(word for t, word in rare_keys.items() if t in held)
            gap, span = _gap_and_span(recent.spans[story], feats.published)
            found.append(
                Candidate(
                    story, member, centroid, len(slots), tuple(shared), gap, span, headline=headline
                )
            )
        return found + (self._across(feats, across, foreign) if across else [])

    def _closest(
        self, vector: Vector, slots: list[int], across: str | None, foreign: dict[int, bool]
    ) -> dict[int, float]:
        """The stories of the held `slots` with the best cosine of their articles there
        with `vector`; those compared by their marks with an article in `across` (when
        given) left out."""
        stories = self.recent.stories_of(slots)
        if across:
            kept = [
                (slot, story)
                for slot, story in zip(slots, stories, strict=True)
                if not self._foreign(story, across, foreign)
            ]
            slots, stories = [slot for slot, _ in kept], [story for _, story in kept]
        closest: dict[int, float] = {}
        found = cosines(vector, self.recent.weighed(slots)).tolist()
        for story, cosine in zip(stories, found, strict=True):
            closest[story] = max(closest.get(story, 0.0), cosine)
        return closest

    def _foreign(self, story: int, language: str, seen: dict[int, bool]) -> bool:
        """Whether the story's held articles are all in known languages that an article
        in `language` is compared with by their marks (`apart`); kept in `seen`."""
        found = seen.get(story)
        if found is None:
            held = self.recent.story_languages(story)
            found = all(other is not None and apart(other, language) for other in held)
            seen[story] = found
        return found

    def _across(
        self, feats: StoryFeatures, language: str, foreign: dict[int, bool]
    ) -> list[Candidate]:
        """The stories in languages apart from the article's whose articles share the
        most of its rare marks, with the evidence of the marks (at most MAX_STORIES;
        `foreign`: `_foreign` of the stories met so far)."""
        recent = self.recent
        rare = recent.rare(feats.marks)
        near = recent.candidates(rare, recent.idf_of(rare))
        kept = [
            (slot, story)
            for slot, story in zip(near, recent.stories_of(near), strict=True)
            if self._foreign(story, language, foreign)
        ]
        if not kept:  # most often: the stories met are in the article's script
            return []
        marks = recent.weigh(dict.fromkeys(feats.marks, 1.0))
        closest: dict[int, float] = {}
        scores = cosines(marks, [recent.marked(slot) for slot, _ in kept]).tolist()
        for (_, story), cosine in zip(kept, scores, strict=True):
            closest[story] = max(closest.get(story, 0.0), cosine)
        ranked = sorted(closest.items(), key=lambda pair: -pair[1])[:MAX_STORIES]
        found = []
        for story, cosine in ranked:
            slots = recent.members(story)
            held = recent.marks_of(slots)
            shared = [recent.word(t) for t in rare if t in held]
            languages = {other for other in recent.story_languages(story) if other} | {language}
            gap, span = _gap_and_span(recent.spans[story], feats.published)
            found.append(
                Candidate(
                    story,
                    cosine,
                    cosine,
                    len(slots),
                    tuple(feats.marks[m] for m in shared),
                    gap,
                    span,
                    tuple(sorted(languages)),
                    sum(m.startswith(NUMBER) for m in shared),
                )
            )
        return found

    def _grow(self, tx: Tx, story_id: int, feats: StoryFeatures, now: datetime) -> None:
        """Add a write-up to the story it joined (its row locked, its span as stored, so
        that a write-up joining it meanwhile, which `settle` lets stand when the decision
        holds, keeps its part of the span): its span stretched."""
        stored = json.loads(tx.lock_story(story_id))
        started = _earliest(_time(stored.get("started")), feats.published)
        latest = _latest(_time(stored.get("latest")), feats.published)
        tx.grow_story(story_id, _span(started, latest), now, latest)


def _best(decided: list[tuple[Decision, Candidate]]) -> tuple[Decision, Candidate] | None:
    """The best-scoring candidate the article may join (on a tie, the one compared
    first), with its decision; None when it may join none."""
    joinable = [(d, c) for d, c in decided if d.join]
    return max(joinable, key=lambda pair: pair[0].score) if joinable else None


def _share(headline: bool) -> float:
    """The share of the held articles a term may have and still count as rare."""
    return HEADLINE_SHARE if headline else RARE_SHARE


def _known(language: str | None) -> str | None:
    """The language, unless it is not known."""
    return None if language in (None, UNKNOWN) else language


def _new_reason(closest: tuple[Decision, Candidate] | None, compared: int) -> str:
    """Why an article starts a story: the closest story compared and why it was not
    joined, or that no story of the window shared a rare term with it."""
    if closest is None:
        return "no story of the window shares a rare term with it"
    decision, candidate = closest
    others = f" (of {compared} compared)" if compared > 1 else ""
    return f"closest story #{candidate.story_id}{others} not joined: {decision.reason}"


def _gap_and_span(
    span: tuple[datetime | None, datetime | None], when: datetime | None
) -> tuple[timedelta | None, timedelta | None]:
    """How far `when` is from a story's span (0 inside it), and how long the story
    would last with it; None when a time is unknown."""
    started, latest = span
    if when is None or started is None or latest is None:
        return None, None
    gap = max(started - when, when - latest, timedelta(0))
    return gap, max(latest, when) - min(started, when)


def record(tx: Tx, article_id: int, placement: Placement, now: datetime) -> None:
    """Set the article's story and keep the placement decision with its reason and score."""
    tx.place_article(
        article_id,
        placement.story_id,
        placement.kind,
        placement.reason,
        now,
        score=placement.score,
        other_article_id=placement.other_article_id,
    )


def _earliest(a: datetime | None, b: datetime | None) -> datetime | None:
    return min(a, b) if a and b else a or b


def _latest(a: datetime | None, b: datetime | None) -> datetime | None:
    return max(a, b) if a and b else a or b


def _iso(when: datetime | None) -> str | None:
    return when.isoformat() if when else None


def _time(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


def _span(started: datetime | None, latest: datetime | None) -> str:
    """A story's stored features: its span."""
    return json.dumps({"started": _iso(started), "latest": _iso(latest)})


def _shares(anchors: Iterable[str], terms: str) -> bool:
    """Whether stored `terms` hold one of `anchors`."""
    return not stored_terms(terms).isdisjoint(anchors)


def _text_key(text_hash: str) -> int:
    """A lock key of a text fingerprint: a signed 64-bit integer."""
    digest = hashlib.blake2b(text_hash.encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)
