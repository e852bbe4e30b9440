"""The shipped matcher against a brute-force reference of docs/rules.md's query language.

The reference covers words, prefixes (`word*`), phrases, `title:` and `text:` on them,
`AND`, `OR`, `NOT` (asking the whole article, or inside a `NEAR`'s operand leaving out the
occurrences it overlaps), `NEAR/n`, `NEAR/s`, `NEAR/ns` and `"a b c"~n`, over a headline
and a text of paragraphs and sentences. It tries every choice of one occurrence per
operand, as the docs word it:

- an occurrence of a literal is where its words stand in a row in one sentence;
- an `OR`'s occurrences are its parts'; an `AND`'s are the tightest stretches holding one
  occurrence of each part with occurrences (holding no other such stretch), a `NEAR`'s the
  tightest stretches where it holds;
- `NEAR` holds where a stretch of one field holds one occurrence of each side (in either
  order; one word may serve both sides) and at most n other words, those in no occurrence
  of a side (and with `s`, lies in one sentence);
- a `NOT` inside a `NEAR`'s operand (through `AND`, `OR` and inner `NEAR`s) drops the
  occurrences of its `AND` (its bracket) that share a word with an occurrence of what it
  negates, when that `AND` has another part with occurrences; anywhere else (at the top,
  beside a `NEAR`, inside another `NOT`) it asks the whole article.

Hypothesis draws queries over six words and texts of those words, and the shipped rule
set must match exactly the articles the reference matches.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from itertools import product

from hypothesis import example, given, settings
from hypothesis import strategies as st

from monitors.rules import RuleSet

VOCABULARY = ("alpha", "alpine", "bravo", "cedar", "delta", "delve")
PREFIXES = ("alp", "bra", "del")
FIELDS = ("title", "text")
SENTENCE_ONLY = 1000  # the distance of a NEAR/s (the longest a query may give)

Span = tuple[int, int]


# The reference's queries: each renders as query text and is evaluated by brute force.


@dataclass(frozen=True)
class Word:
    word: str
    prefix: bool = False
    field: str | None = None  # "title" or "text": in that field only

    def render(self) -> str:
        scope = f"{self.field}:" if self.field else ""
        return f"{scope}{self.word}*" if self.prefix else f"{scope}{self.word}"


@dataclass(frozen=True)
class Phrase:
    words: tuple[Word, ...]
    field: str | None = None

    def render(self) -> str:
        scope = f"{self.field}:" if self.field else ""
        return f'{scope}"' + " ".join(word.render() for word in self.words) + '"'


@dataclass(frozen=True)
class AllOf:
    children: tuple[Query, ...]

    def render(self) -> str:
        return "(" + " AND ".join(child.render() for child in self.children) + ")"


@dataclass(frozen=True)
class AnyOf:
    children: tuple[Query, ...]

    def render(self) -> str:
        return "(" + " OR ".join(child.render() for child in self.children) + ")"


@dataclass(frozen=True)
class Not:
    child: Query

    def render(self) -> str:
        return f"-{self.child.render()}"


@dataclass(frozen=True)
class Near:
    children: tuple[Query, ...]
    slop: int | None  # None: NEAR/s
    sentence: bool = False
    proximity: bool = False  # written "a b c"~n (its children are words)

    def render(self) -> str:
        if self.proximity:
            return f'"{" ".join(child.render() for child in self.children)}"~{self.slop}'
        left, right = (child.render() for child in self.children)
        distance = "" if self.slop is None else str(self.slop)
        return f"({left} NEAR/{distance}{'s' if self.sentence else ''} {right})"


Query = Word | Phrase | AllOf | AnyOf | Not | Near


def positional(query: Query) -> bool:
    """Whether `query` has occurrences (a `NEAR` side needs them); with no `site:` or
    `lang:` in the reference, also whether every article it matches holds one of its words
    (a query that need not is refused)."""
    if isinstance(query, Not):
        return False
    if isinstance(query, AllOf):
        return any(map(positional, query.children))
    if isinstance(query, AnyOf):
        return all(map(positional, query.children))
    return True


# The reference's articles: the words of each sentence, with field and sentence.


@dataclass(frozen=True)
class Article:
    title: tuple[str, ...]
    paragraphs: tuple[tuple[tuple[str, ...], ...], ...]

    def render(self) -> tuple[str, str]:
        """Headline and text: sentences end with '.' and start with a capital."""
        text = "\n".join(
            " ".join(" ".join(sentence).capitalize() + "." for sentence in paragraph)
            for paragraph in self.paragraphs
        )
        return " ".join(self.title), text

    def words(self) -> list[tuple[str, int, int]]:
        """Each word with its field (0 headline, 1 text) and sentence number."""
        out = [(word, 0, 0) for word in self.title]
        sentences = (sentence for paragraph in self.paragraphs for sentence in paragraph)
        for number, sentence in enumerate(sentences, start=1):
            out += [(word, 1, number) for word in sentence]
        return out


class Reference:
    """Brute-force answers about one article."""

    def __init__(self, article: Article) -> None:
        found = article.words()
        self.words = [word for word, _, _ in found]
        self.field = [field for _, field, _ in found]
        self.sentence = [sentence for _, _, sentence in found]

    def matches(self, query: Query) -> bool:
        return self.holds(query, near=False)

    def holds(self, query: Query, near: bool) -> bool:
        """Whether `query` matches (`near`: as part of a `NEAR`'s operand)."""
        if isinstance(query, Not):
            return not self.holds(query.child, near=False)
        if isinstance(query, AnyOf):
            return any(self.holds(child, near) for child in query.children)
        if isinstance(query, AllOf) and not self._drops(query, near):
            return all(self.holds(child, near) for child in query.children)
        return bool(self.occurrences(query, near))

    def occurrences(self, query: Query, near: bool) -> set[Span]:
        """The word spans where `query` matches."""
        if isinstance(query, Word | Phrase):
            words = query.words if isinstance(query, Phrase) else (query,)
            return {span for span in self._literal(words) if self._in(query.field, span)}
        if isinstance(query, AnyOf):
            return {span for child in query.children for span in self.occurrences(child, near)}
        if isinstance(query, AllOf):
            return self._all_of(query, near)
        if isinstance(query, Near):
            sides = [self.occurrences(child, True) for child in query.children]
            ours = {word for side in sides for start, end in side for word in range(start, end)}
            return tightest(
                stretch
                for choice in product(*sides)
                if self._within(stretch := cover(choice), ours, query)
            )
        return set()

    def _literal(self, words: tuple[Word, ...]) -> set[Span]:
        found = set()
        for start in range(len(self.words) - len(words) + 1):
            span = (start, start + len(words))
            if (
                self._one_field(span)
                and self.sentence[start] == self.sentence[span[1] - 1]
                and all(self._is(self.words[start + i], word) for i, word in enumerate(words))
            ):
                found.add(span)
        return found

    @staticmethod
    def _is(found: str, word: Word) -> bool:
        return found.startswith(word.word) if word.prefix else found == word.word

    def _drops(self, query: AllOf, near: bool) -> list[Query]:
        """What the `NOT` parts of an `AND` inside a `NEAR`'s operand negate."""
        if not (near and positional(query)):
            return []
        return [c.child for c in query.children if isinstance(c, Not) and positional(c.child)]

    def _all_of(self, query: AllOf, near: bool) -> set[Span]:
        """The tightest stretches of one field holding an occurrence of each positional part
        (less those overlapping what a `NOT` part negates, inside a `NEAR`)."""
        drops = self._drops(query, near)
        kept = [c for c in query.children if not (isinstance(c, Not) and c.child in drops)]
        if not positional(query) or not all(self.holds(child, near) for child in kept):
            return set()
        sides = [self.occurrences(child, near) for child in kept if positional(child)]
        stretches = {
            stretch
            for stretch in tightest(cover(choice) for choice in product(*sides))
            if self._one_field(stretch)
        }
        dropped = [
            span
            for drop in drops
            for span in self.occurrences(drop, near=False)
            if self.holds(drop, near=False)
        ]
        return {span for span in stretches if not any(overlap(span, d) for d in dropped)}

    def _within(self, stretch: Span, ours: set[int], query: Near) -> bool:
        """Whether `stretch` lies in one field (and sentence) with at most the `NEAR`'s
        distance of words in no occurrence of its sides (`ours`: the words in one)."""
        start, end = stretch
        slop = SENTENCE_ONLY if query.slop is None else query.slop
        others = sum(word not in ours for word in range(start, end))
        if not self._one_field(stretch) or others > slop:
            return False
        return not query.sentence or self.sentence[start] == self.sentence[end - 1]

    def _in(self, field: str | None, span: Span) -> bool:
        return field is None or self.field[span[0]] == FIELDS.index(field)

    def _one_field(self, span: Span) -> bool:
        return self.field[span[0]] == self.field[span[1] - 1]


def cover(spans: Iterable[Span]) -> Span:
    """The stretch from the first word of `spans` to their last."""
    spans = list(spans)
    return min(start for start, _ in spans), max(end for _, end in spans)


def tightest(stretches: Iterable[Span]) -> set[Span]:
    """The stretches holding no other one."""
    found = set(stretches)
    return {
        (start, end)
        for start, end in found
        if not any(start <= s and e <= end and (s, e) != (start, end) for s, e in found)
    }


def overlap(a: Span, b: Span) -> bool:
    return a[0] < b[1] and b[0] < a[1]


# What hypothesis draws.

WORDS = st.sampled_from(VOCABULARY).map(Word)
WORDISH = WORDS | st.sampled_from(PREFIXES).map(lambda prefix: Word(prefix, prefix=True))
PHRASES = st.lists(WORDISH, min_size=2, max_size=3).map(lambda words: Phrase(tuple(words)))
SCOPES = st.sampled_from([None, None, None, *FIELDS])
LITERALS = st.builds(replace, WORDISH | PHRASES, field=SCOPES)
DISTANCES = st.sampled_from(
    [(0, False), (1, False), (2, False), (4, False), (1, True), (3, True), (None, True)]
)


def _compound(children: st.SearchStrategy[Query]) -> st.SearchStrategy[Query]:
    sides = children.filter(positional)
    parts = st.lists(children | children.map(Not), min_size=2, max_size=3)
    return st.one_of(
        parts.map(lambda parts: AllOf(tuple(parts))),
        st.lists(children, min_size=2, max_size=3).map(lambda parts: AnyOf(tuple(parts))),
        st.builds(
            lambda left, right, distance: Near((left, right), *distance),
            sides,
            sides,
            DISTANCES,
        ),
        st.builds(
            lambda keep, drop, side, distance: Near((AllOf((keep, Not(drop))), side), *distance),
            sides,
            children,
            sides,
            DISTANCES,
        ),
        st.builds(
            lambda words, slop: Near(tuple(words), slop, proximity=True),
            st.lists(WORDISH, min_size=2, max_size=3),
            st.integers(0, 3),
        ),
    )


QUERIES = st.recursive(LITERALS, _compound, max_leaves=7).filter(positional)


def _article(title: list[str], text: list[str]) -> Article:
    """The article of a headline's words and a text's words, "." ending a sentence and
    "\n" a paragraph."""
    paragraphs = (
        tuple(tuple(words.split()) for words in line.split(".") if words.strip())
        for line in " ".join(text).split("\n")
    )
    return Article(tuple(title), tuple(paragraph for paragraph in paragraphs if paragraph))


ARTICLES = st.builds(
    _article,
    st.lists(st.sampled_from(VOCABULARY), max_size=4),
    st.lists(st.sampled_from((*VOCABULARY, *VOCABULARY, ".", ".", "\n")), min_size=1, max_size=24),
)


ALPHA, ALPINE, BRAVO, CEDAR, DELTA, DELVE = map(Word, VOCABULARY)


@settings(max_examples=500, deadline=None)
@given(QUERIES, st.lists(ARTICLES, min_size=1, max_size=4))
@example(  # a longer occurrence of a side is no words between the sides
    Near((AnyOf((ALPHA, Phrase((ALPHA, BRAVO)))), CEDAR), 0), [_article([], ["alpha bravo cedar"])]
)
@example(  # one word serves two sides
    Near((BRAVO, Word("alp", prefix=True), ALPHA), 0, proximity=True),
    [_article(["bravo", "alpine", "alpha"], [])],
)
@example(  # an AND's stretch from headline to text is not one of its tightest
    Near((Near((ALPINE, ALPINE), 0), AllOf((ALPHA, ALPHA))), 0),
    [_article(["alpha"], ["alpine bravo alpha"])],
)
@example(  # a NOT leaves out what overlaps the rest of its own bracket
    Near((ALPHA, AllOf((ALPHA, AllOf((ALPINE, Not(ALPHA)))))), 0),
    [_article([], ["alpha alpine"])],
)
@example(  # a phrase is not read across a sentence's end
    Phrase((ALPHA, BRAVO)), [_article([], ["alpha . bravo"]), _article([], ["alpha bravo"])]
)
@example(  # NOT parts beside no words ask the whole article
    Near((AllOf((CEDAR, AnyOf((DELTA, AllOf((Not(ALPHA), Not(BRAVO))))))), DELVE), 0),
    [_article([], ["cedar delve"])],
)
def test_the_shipped_matcher_agrees_with_the_reference(
    query: Query, articles: list[Article]
) -> None:
    rules = RuleSet.compile([("r", query.render())])
    for article in articles:
        expected = Reference(article).matches(query)
        assert bool(rules.match(*article.render())) == expected, (query.render(), article.render())
