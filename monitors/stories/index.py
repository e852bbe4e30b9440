"""The articles of the window, held in memory for story placement, read from the store.

Each placed article's body terms, keys, marks (monitors.extract.marks) and language are
stored (`article_terms`, as `dump` writes them) in the unit of work that places it.
`RecentArticles` holds those of the articles fetched within the window (at most
MAX_ARTICLES, the last fetched) in compact arrays: per article its term, key and mark
ids, weights and language; per term its document frequency among them and the articles
holding it (a posting list; marks are terms of their own, "~" first). Each lookup first
reads the articles stored since the last one (by placement revision, which grows in
commit order: see Tx.lock_commits), so every worker sees every other's, and forgets those
fetched before the window. Memory is bounded: BODY_TERMS, KEY_TERMS and the marks'
MAX_NAMES and MAX_NUMBERS terms an article, the lists rebuilt without the forgotten
articles when those are as many as the held ones.

`weigh` gives an article's term vector (`marked`: a held article's marks vector) under
the IDF of the window (the shipped table's
document frequencies count as a prior: a fresh store does not take its first articles'
words for rare); `candidates` the held articles sharing the most of its rare terms (held
by at most RARE_SHARE of the articles, RARE_LEAST at least): only a term that few
articles hold is looked up, the rarest first and at most MAX_POSTINGS slots in all, so a
lookup stays cheap however many are held. `weighed` and `centroids` give held articles'
and stories' vectors, and `cosines` compares a vector with many: each computes all of
its vectors together, in a few numpy calls whatever their number (a placement at 100,000
held weighs some 30 articles and 6 stories).
"""

from __future__ import annotations

import json
from array import array
from collections import Counter
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import cast

import numpy as np
import numpy.typing as npt

from monitors.extract.analysis import default_idf
from monitors.models import StoryFeatures
from monitors.store import TermsRow, Tx

MAX_ARTICLES = 200_000  # held at most: those fetched last
RARE_SHARE = 0.005  # a term held by at most this share of the articles is rare ...
RARE_LEAST = 25  # ... or by at most this many
MAX_CANDIDATES = 30  # articles scored against a newcomer
MAX_POSTINGS = 4_000  # held slots read per lookup at most, the rarest terms' first
REWEIGH_EVERY = 256  # held vectors are weighed again after this many articles are read
MAX_WEIGHED = 20_000  # held vectors kept weighed at most
Ids = npt.NDArray[np.int32]
Floats = npt.NDArray[np.float64]


def dump(feats: StoryFeatures, language: str | None = None) -> str:
    """An article's body terms, keys, marks and language as stored (JSON)."""
    body = [[t, round(w, 3)] for t, w in feats.body.items()]
    data = {"body": body, "keys": sorted(feats.keys), "marks": sorted(feats.marks)}
    return json.dumps({**data, "lang": language}, ensure_ascii=False)


def stored_terms(terms: str) -> set[str]:
    """The body terms and keys of an article's stored terms (`dump`'s JSON)."""
    data = json.loads(terms)
    return {t for t, _ in data["body"]} | set(data["keys"])


@dataclass(frozen=True)
class Vector:
    """A term vector: sorted term ids, their weights, and its norm."""

    ids: Ids
    weights: Floats
    norm: float


def cosines(vector: Vector, others: Sequence[Vector]) -> Floats:
    """The cosine of `vector` with each of `others`, computed together: a dozen numpy
    calls whatever their number (the newcomer's vector is compared with many)."""
    count = len(others)
    if not (count and vector.norm and len(vector.ids)):
        return np.zeros(count)
    ids = np.concatenate([o.ids for o in others])
    at = np.minimum(np.searchsorted(vector.ids, ids), len(vector.ids) - 1)
    found = np.flatnonzero(vector.ids[at] == ids)
    products = vector.weights[at[found]] * np.concatenate([o.weights for o in others])[found]
    which = np.repeat(np.arange(count), [len(o.ids) for o in others])[found]
    dots = np.bincount(which, products, minlength=count)
    norms = np.array([o.norm for o in others]) * vector.norm
    scaled = np.divide(dots, norms, out=np.zeros(count), where=norms > 0)
    return np.minimum(1.0, scaled)


class RecentArticles:
    """The window's placed articles: their terms, stories and times (see the module)."""

    def __init__(self) -> None:
        self._last: int | None = None  # the last placement revision read
        self._reset()

    def _reset(self) -> None:
        self._vocab: dict[str, int] = {}
        self._words: list[str] = []
        self._df = np.zeros(1024, np.int32)
        # by term: the shipped table's document frequency + `_df` + 1, the IDF's divisor
        self._divisor = np.ones(1024, np.float64)
        self._postings: list[array[int]] = []
        self._article: array[int] = array("q")  # by slot: the article id, -1 once forgotten
        self._story: array[int] = array("q")
        self._fetched: array[float] = array("d")  # a timestamp
        self._terms: list[Ids] = []
        self._weights: list[npt.NDArray[np.float32]] = []
        self._keys: list[Ids] = []
        self._marks: list[Ids] = []
        self._language: list[str | None] = []
        self._languages: Counter[str | None] = Counter()  # held articles by language
        self._members: dict[int, list[int]] = {}  # story id: its held slots
        self._story_languages: dict[int, Counter[str | None]] = {}  # story id: its held languages
        self.spans: dict[int, tuple[datetime | None, datetime | None]] = {}
        self._oldest = 0  # slots below are forgotten
        self._held = 0
        self._weighed: dict[int, Vector] = {}  # by slot, and by -1 - story for centroids
        self._marked: dict[int, Vector] = {}  # marks vectors by slot
        self._read = 0  # articles read since the vectors were weighed

    @property
    def held(self) -> int:
        return self._held

    @property
    def read_point(self) -> int:
        """The last placement revision read: every placement up to it is held."""
        return self._last or 0

    def sync(self, tx: Tx, since: datetime) -> None:
        """Read the articles stored since the last sync (the `since` window's, the first
        time), and forget those fetched before `since`."""
        if self._last is None:  # the window's, up to the last revision (not older ones)
            upto = tx.placement_revision()
            self._hold(tx.article_terms_since(since, MAX_ARTICLES, upto), since)
            self._last = upto
        else:
            self._hold(tx.article_terms_after(self._last), since)

    def take(self, rows: Iterable[TermsRow], since: datetime) -> None:
        """`sync` from rows already read: those of `rows` (placements after a revision
        up to `read_point`, in revision order) not held yet."""
        self._hold((row for row in rows if row.revision > self.read_point), since)

    def _hold(self, rows: Iterable[TermsRow], since: datetime) -> None:
        """Add `rows` (in revision order), and forget the articles fetched before `since`."""
        for row in rows:
            self._add(row)
            self._last = row.revision
            self._read += 1
            self._weighed.pop(-1 - row.story_id, None)
        self._forget(since.timestamp())
        if self._read >= REWEIGH_EVERY or len(self._weighed) > MAX_WEIGHED:
            self._weighed.clear()  # the window's IDF has moved on
            self._marked.clear()
            self._read = 0

    def _add(self, row: TermsRow) -> None:
        data = json.loads(row.terms)
        terms, weights = zip(*data["body"], strict=True) if data["body"] else ((), ())
        body_ids = self._ids(terms)  # a new term gets the next id, in order
        keys = sorted(set(self._ids(data["keys"])))
        marks = sorted(set(self._ids(data.get("marks", ()))))
        body = np.array(body_ids, np.int32)
        order = np.argsort(body)
        slot = len(self._article)
        self._article.append(row.article_id)
        self._story.append(row.story_id)
        self._fetched.append(row.fetched_at.timestamp())
        self._terms.append(body[order])
        self._weights.append(np.array(weights, np.float32)[order])
        self._keys.append(np.array(keys, np.int32))
        self._marks.append(np.array(marks, np.int32))
        self._language.append(data.get("lang"))
        self._languages[data.get("lang")] += 1
        self._story_languages.setdefault(row.story_id, Counter())[data.get("lang")] += 1
        held = set(body_ids).union(keys, marks)
        self._count(np.fromiter(held, np.int64, len(held)), 1)
        postings = self._postings
        for term in held:
            postings[term].append(slot)
        self._members.setdefault(row.story_id, []).append(slot)
        story = json.loads(row.story_features)
        self.spans[row.story_id] = (_time(story.get("started")), _time(story.get("latest")))
        self._held += 1
        if self._held > MAX_ARTICLES:
            self._drop(self._oldest)

    def _ids(self, terms: Sequence[str]) -> list[int]:
        """The ids of `terms`, a new one given the next id (in the order given)."""
        found = list(map(self._vocab.get, terms))
        if None in found:
            return [self._id(t) if i is None else i for t, i in zip(terms, found, strict=True)]
        return cast(list[int], found)

    def _id(self, term: str) -> int:
        found = self._vocab.get(term)
        if found is None:
            found = self._vocab[term] = len(self._words)
            self._words.append(term)
            self._postings.append(array("i"))
            if found >= len(self._df):
                self._df = np.concatenate([self._df, np.zeros(len(self._df), np.int32)])
                self._divisor = np.concatenate([self._divisor, np.ones(len(self._divisor))])
            self._divisor[found] = default_idf().df.get(term, 1) + 1
        return found

    def _count(self, terms: npt.NDArray[np.int64], change: int) -> None:
        """Add `change` to the document frequency of the distinct `terms`."""
        self._df[terms] += change
        self._divisor[terms] += change

    def _forget(self, since: float) -> None:
        """Drop the articles fetched before `since` (fetch order is slot order but for a
        few moments' races: a late-fetched slot waits for those before it)."""
        while self._oldest < len(self._article) and self._fetched[self._oldest] < since:
            self._drop(self._oldest)
        if self._oldest > self._held and self._oldest > 1000:
            self._rebuild()

    def _drop(self, slot: int) -> None:
        if self._article[slot] >= 0:
            held = (self._terms[slot], self._keys[slot], self._marks[slot])
            self._count(np.unique(np.concatenate(held)), -1)
            story = self._story[slot]
            members = self._members[story]
            members.remove(slot)
            language = self._language[slot]
            if not members:
                del self._members[story]
                del self._story_languages[story]
                del self.spans[story]
            else:
                _discount(self._story_languages[story], language)
            self._languages[language] -= 1
            self._article[slot] = -1
            self._held -= 1
        while self._oldest < len(self._article) and self._article[self._oldest] < 0:
            self._oldest += 1

    def _rebuild(self) -> None:
        """The same held articles in fresh lists, without the forgotten ones."""
        kept = [s for s in range(self._oldest, len(self._article)) if self._article[s] >= 0]
        old = (
            self._words,
            self._article,
            self._story,
            self._fetched,
            self._terms,
            self._weights,
            self._keys,
            self._marks,
            self._language,
            self.spans,
        )
        words, ids, story, fetched, terms, weights, keys, marks, language, spans = old
        self._reset()
        for slot in kept:
            pairs = zip(terms[slot].tolist(), weights[slot].tolist(), strict=True)
            body = sorted((self._id(words[t]), w) for t, w in pairs)
            key_ids = sorted({self._id(words[t]) for t in keys[slot]})
            mark_ids = sorted({self._id(words[t]) for t in marks[slot]})
            new = len(self._article)
            self._article.append(ids[slot])
            self._story.append(story[slot])
            self._fetched.append(fetched[slot])
            self._terms.append(np.array([t for t, _ in body], np.int32))
            self._weights.append(np.array([w for _, w in body], np.float32))
            self._keys.append(np.array(key_ids, np.int32))
            self._marks.append(np.array(mark_ids, np.int32))
            self._language.append(language[slot])
            self._languages[language[slot]] += 1
            self._story_languages.setdefault(story[slot], Counter())[language[slot]] += 1
            held = {t for t, _ in body} | set(key_ids) | set(mark_ids)
            self._count(np.fromiter(held, np.int64, len(held)), 1)
            for term in held:
                self._postings[term].append(new)
            self._members.setdefault(story[slot], []).append(new)
            self._held += 1
        self.spans = {s: spans[s] for s in self._members}

    # scoring

    def weigh(self, body: Mapping[str, float]) -> Vector:
        """A newcomer's term vector under the window's IDF (terms no held article has
        get ids of their own, past the vocabulary)."""
        vocab, known = self._vocab, len(self._words)
        items = sorted(body.items())
        found = np.fromiter((vocab.get(t, -1) for t, _ in items), np.int64, len(items))
        new = np.flatnonzero(found < 0)
        found[new] = known + new
        order = np.argsort(found)
        ids = found[order].astype(np.int32)
        divisor = self._divisor[np.minimum(ids, known - 1)] if known else np.ones(len(ids))
        if len(new):  # as for a held term with no document frequency
            shipped = default_idf().df
            divisor[len(ids) - len(new) :] = [shipped.get(items[i][0], 1) + 1 for i in new]
        tf = np.array([w for _, w in items], np.float64)[order]
        return _vector(ids, tf * self._idf(divisor))

    def weighed(self, slots: Sequence[int]) -> list[Vector]:
        """Held articles' term vectors under the window's IDF (as it was at most
        REWEIGH_EVERY articles ago): those not weighed yet weighed together (one IDF
        computation for all their terms)."""
        missing = [s for s in dict.fromkeys(slots) if s not in self._weighed]
        if missing:
            parts = [self._terms[s] for s in missing]
            ids = np.concatenate(parts)
            idf = self._idf(self._divisor[ids])
            weights = np.concatenate([self._weights[s] for s in missing]) * idf
            lengths = [len(terms) for terms in parts]
            norms = _norms(weights, lengths)
            end = 0
            for slot, terms, length, norm in zip(missing, parts, lengths, norms, strict=True):
                end += length
                self._weighed[slot] = Vector(terms, weights[end - length : end], norm)
        return [self._weighed[s] for s in slots]

    def marked(self, slot: int) -> Vector:
        """A held article's marks vector: each mark weighed by its window IDF."""
        found = self._marked.get(slot)
        if found is None:
            ids = self._marks[slot]
            found = self._marked[slot] = _vector(ids, self._idf(self._divisor[ids]))
        return found

    def centroids(self, stories: Sequence[int], most: int) -> list[Vector]:
        """For each of `stories`, the sum of the unit vectors of its last `most` held
        articles; those not kept from an earlier lookup summed together."""
        missing = [s for s in dict.fromkeys(stories) if -1 - s not in self._weighed]
        if missing:
            for story, found in zip(missing, self._centroids(missing, most), strict=True):
                self._weighed[-1 - story] = found
        return [self._weighed[-1 - s] for s in stories]

    def _centroids(self, stories: list[int], most: int) -> list[Vector]:
        members = [self._members[s][-most:] for s in stories]
        owner = np.repeat(np.arange(len(stories)), [len(held) for held in members])
        weighed = self.weighed([slot for held in members for slot in held])
        kept = [n for n, v in enumerate(weighed) if v.norm]
        vectors = [weighed[n] for n in kept]
        lengths = [len(v.ids) for v in vectors]
        ids = np.concatenate([v.ids for v in vectors] or [np.zeros(0, np.int32)]).astype(np.int64)
        norms = np.repeat([v.norm for v in vectors], lengths)
        weights = np.concatenate([v.weights for v in vectors] or [np.zeros(0)]) / norms
        span = int(ids.max()) + 1 if len(ids) else 1
        keys, summed = sum_by(np.repeat(owner[kept], lengths) * span + ids, weights)
        story = keys // span
        bounds = np.searchsorted(story, np.arange(len(stories) + 1)).tolist()
        terms = (keys % span).astype(np.int32)
        totals = np.sqrt(np.bincount(story, summed * summed, minlength=len(stories))).tolist()
        return [
            Vector(terms[start:end], summed[start:end], totals[n])
            for n, (start, end) in enumerate(zip(bounds[:-1], bounds[1:], strict=True))
        ]

    def _idf(self, divisor: Floats) -> Floats:
        """The IDF of terms by their `_divisor`s: the shipped table's documents and the
        held articles over the documents having each (both plus one)."""
        docs = default_idf().docs
        return np.log((docs + self._held + 1) / divisor) + 1.0

    def rare(self, terms: Iterable[str], share: float = RARE_SHARE) -> list[int]:
        """The ids of those of `terms` that few held articles have (at least one; at
        most `share` of them, RARE_LEAST at least)."""
        vocab = self._vocab
        ids = np.array([i for t in terms if (i := vocab.get(t)) is not None], np.int64)
        df = self._df[ids]
        found: list[int] = ids[(df > 0) & (df <= self._rare_cap(share))].tolist()
        return found

    def anchors(self, terms: Iterable[str], share: float = RARE_SHARE) -> frozenset[str]:
        """Those of `terms` by which a newcomer could find an article placed after the
        ones held: the rare ones (as `rare` counts them) and those no held article has."""
        vocab, listed = self._vocab, list(terms)
        ids = np.fromiter((vocab.get(t, -1) for t in listed), np.int64, len(listed))
        df = np.where(ids >= 0, self._df[np.maximum(ids, 0)], 0)
        return frozenset(listed[i] for i in np.flatnonzero(df <= self._rare_cap(share)).tolist())

    def _rare_cap(self, share: float) -> float:
        return max(RARE_LEAST, share * self._held)

    def candidates(self, rare: list[int], idf: Mapping[int, float]) -> list[int]:
        """The held slots sharing the most IDF of the `rare` term ids, at most
        MAX_CANDIDATES, best first: the rarest terms are looked up first, until
        MAX_POSTINGS slots are read."""
        if not rare:
            return []
        postings = self._postings
        lengths = np.array([len(postings[t]) for t in rare], np.int64)
        order = np.argsort(lengths, kind="stable")  # the rarest first
        lengths = lengths[order]
        read_before = np.cumsum(lengths) - lengths
        looked = [rare[i] for i in order[: np.searchsorted(read_before, MAX_POSTINGS)].tolist()]
        slots = np.frombuffer(b"".join([postings[t] for t in looked]), np.int32)
        weights = np.repeat([idf[t] for t in looked], lengths[: len(looked)])
        unique, totals = sum_by(slots, weights)  # summed in the order read
        if self._held < len(self._article):  # some are forgotten
            alive = np.frombuffer(self._article, np.int64)[unique] >= 0
            unique, totals = unique[alive], totals[alive]
        if len(totals) > MAX_CANDIDATES:  # those tied with the last kept, too
            least = np.partition(totals, len(totals) - MAX_CANDIDATES)[-MAX_CANDIDATES]
            unique, totals = unique[totals >= least], totals[totals >= least]
        best = np.argsort(-totals, kind="stable")[:MAX_CANDIDATES]
        return [int(s) for s in unique[best]]

    def idf_of(self, ids: Iterable[int]) -> dict[int, float]:
        """The window's IDF of held term ids."""
        ids = list(ids)
        return dict(zip(ids, self._idf(self._divisor[ids]).tolist(), strict=True))

    def story_of(self, slot: int) -> int:
        return self._story[slot]

    def stories_of(self, slots: Iterable[int]) -> list[int]:
        """The story of each of the held `slots`."""
        story = self._story
        return [story[slot] for slot in slots]

    def story_languages(self, story: int) -> Collection[str | None]:
        """The languages of the story's held articles (None: not known)."""
        return self._story_languages.get(story, {}).keys()

    def members(self, story: int) -> list[int]:
        """The story's held slots, first placed first."""
        return self._members.get(story, [])

    def keys_held(self, stories: Sequence[int], keys: Collection[int]) -> list[set[int]]:
        """For each of `stories`, those of the key ids `keys` its held articles have
        (looked for among all their keys at once)."""
        members = [self._members.get(story, []) for story in stories]
        found: list[set[int]] = [set() for _ in stories]
        if not keys or not any(members):
            return found
        parts = [[self._keys[slot] for slot in slots] for slots in members]
        held = np.concatenate([ids for part in parts for ids in part])
        owner = np.repeat(np.arange(len(stories)), [sum(map(len, part)) for part in parts])
        wanted = np.sort(np.fromiter(keys, np.int64, len(keys)))
        hit = wanted[np.minimum(np.searchsorted(wanted, held), len(wanted) - 1)] == held
        for story, key in zip(owner[hit].tolist(), held[hit].tolist(), strict=True):
            found[story].add(key)
        return found

    def marks_of(self, slots: Sequence[int]) -> set[int]:
        """The mark ids the articles of `slots` hold, all together."""
        return _union(self._marks, slots)

    def languages(self) -> set[str | None]:
        """The languages of the held articles (None: not known)."""
        return {language for language, count in self._languages.items() if count}

    def word(self, term: int) -> str:
        return self._words[term]


def _discount(counts: Counter[str | None], language: str | None) -> None:
    """One article fewer in `language`, which leaves `counts` when none is left."""
    counts[language] -= 1
    if not counts[language]:
        del counts[language]


def _union(arrays: list[Ids], slots: Sequence[int]) -> set[int]:
    """The ids in the `arrays` of `slots`."""
    if len(slots) == 1:
        return set(arrays[slots[0]].tolist())
    return set(np.concatenate([arrays[s] for s in slots]).tolist()) if slots else set()


def _norms(weights: Floats, lengths: Sequence[int]) -> list[float]:
    """The norm of each run of `weights`, cut into `lengths`."""
    which = np.repeat(np.arange(len(lengths)), lengths)
    norms: list[float] = np.sqrt(
        np.bincount(which, weights * weights, minlength=len(lengths))
    ).tolist()
    return norms


def _vector(ids: Ids, weights: Floats) -> Vector:
    return Vector(ids, weights, float(np.sqrt(weights @ weights)) if len(weights) else 0.0)


def _time(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


def sum_by(keys: np.ndarray, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The distinct `keys`, ascending, and the `values` of each summed in the order given
    (a stable sort: the sums of adding them one by one, bit for bit)."""
    order = np.argsort(keys, kind="stable")
    ordered = keys[order]
    first = np.ones(len(ordered), bool)
    np.not_equal(ordered[1:], ordered[:-1], out=first[1:])
    starts = np.flatnonzero(first)
    sums = np.add.reduceat(values[order], starts) if len(starts) else np.zeros(0)
    return ordered[starts], sums
