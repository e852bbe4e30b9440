"""Parsed queries compiled to operators that evaluate against one scanned article.

Literals become indexes into a table of `Needle`s (what the prefilter searches, and which
fields count; a literal whose first word has inflected forms has one per form); `And`,
`Or`, `Not` and `Near` become `AllOf`, `AnyOf`, `Without` and `Within`; an `And` with a
`NOT` part inside a `NEAR` becomes `Except`, which drops only the occurrences the `NOT`
part overlaps (`cede -"cede ground"` inside a `NEAR` still finds "cede the Donbas" in an
article that also says "ceded ground" elsewhere), where a `NOT` elsewhere asks the whole
article.
Each operator answers four questions about a `Scan`: could it match, from the search
strings the article holds alone, every word of a phrase among them, whatever their places
(`possible`: most articles are ruled out so, with no literal looked for in place), does
it match (`test`), where (`spans`: word spans, for `Within` and for passages), and on
which literal occurrences (`hits`: what an explanation marks). The answers of every
operator but a literal (a literal's own spans when it has several needles) are kept in
the `Scan`, so a sub-query shared by several questions (a chain of `NEAR`s asks its left
side three) is evaluated once per article. A literal whose search strings the article
lacks is not looked for, and an `AnyOf` asks only the literals whose search strings it
holds. The `Scan`'s deadline is checked before each answer is computed and as the loops
over an article's spans go.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from itertools import accumulate, chain

from monitors.rules.document import BREAK, LANG, SITE, TEXT, TITLE, Document, Span
from monitors.rules.limits import CHECK_EVERY, NO_DEADLINE, Deadline
from monitors.rules.prefilter import Prefilter, needles
from monitors.rules.query import And, Literal, Near, Node, Not, Or, Term

FIELD_RANGES = {None: (TITLE, TEXT), "title": (TITLE, TITLE), "text": (TEXT, TEXT)}
FIELD_RANGES |= {"site": (SITE, SITE), "lang": (LANG, LANG)}

Requirement = tuple[float, frozenset[int]]
_NOWHERE: Span = (-1, -1)  # no stretch


@dataclass(frozen=True)
class Needle:
    """A literal as searched: its search string and that string's prefilter id, the
    fields it counts in, its length in words, and the words after the searched ones,
    checked one by one; `rest_patterns`, for each of those words, the prefilter ids of its
    spellings, one of which the article must hold for the literal to be looked for."""

    search: str
    pattern: int
    fields: tuple[int, int]
    length: int
    rest: tuple[tuple[int, Term], ...]
    rest_patterns: tuple[frozenset[int], ...] = ()


class Scan:
    """One article scanned by one rule set: which search strings it holds, and where each
    literal occurs, found on demand; evaluating it raises `OutOfTime` past `deadline`."""

    def __init__(
        self,
        doc: Document,
        found: set[int],
        needles: Sequence[Needle],
        deadline: Deadline = NO_DEADLINE,
    ) -> None:
        self.doc = doc
        self.found = found
        self.needles = needles
        self.deadline = deadline
        self._starts: dict[int, list[int]] = {}
        self._spans: dict[int, list[Span]] = {}
        self.tested: dict[Op, bool] = {}
        self.possibles: dict[Op, bool] = {}
        self.spanned: dict[Op, list[Span]] = {}
        self.hit: dict[Op, list[Span]] = {}

    def starts(self, literal: int) -> list[int]:
        """The haystack offsets where literal number `literal` starts, in its fields."""
        starts = self._starts.get(literal)
        if starts is None:
            starts = self._starts[literal] = self._locate(self.needles[literal])
        return starts

    def _locate(self, found: Needle) -> list[int]:
        if not _held(found, self.found):
            return []
        self.deadline.check()
        haystack = self.doc.haystack
        low, high = self.doc.char_range(*found.fields)
        starts = []
        start = haystack.find(found.search, low)
        while 0 <= start < high:
            starts.append(start)
            start = haystack.find(found.search, start + 1)
        if found.rest:
            starts = [start for start in starts if self._rest_matches(start, found)]
        if found.length > 1:
            starts = [start for start in starts if self._in_one_sentence(start, found.length)]
        return starts

    def holds(self, literal: int) -> bool:
        """Whether the article holds the search string of literal number `literal` and a
        spelling of each of its later words (anywhere: a necessary condition)."""
        return _held(self.needles[literal], self.found)

    def _in_one_sentence(self, start: int, length: int) -> bool:
        """Whether the `length` words from haystack offset `start` lie in one sentence (a
        phrase is not read across "... as Russian. Security: ...")."""
        first = self.doc.word_at(start)
        return first + length <= self.doc.sentence_of(first)[1]

    def _rest_matches(self, start: int, found: Needle) -> bool:
        """Whether the words after the searched ones match (a field's break never does)."""
        words = self.doc.words
        first = self.doc.word_at(start)
        for offset, term in found.rest:
            word = words[first + offset] if first + offset < len(words) else BREAK
            if word == BREAK or not term.matches(word):
                return False
        return True

    def spans(self, literal: int) -> list[Span]:
        """The word spans of literal number `literal`."""
        spans = self._spans.get(literal)
        if spans is None:
            length = self.needles[literal].length
            firsts = map(self.doc.word_at, self.starts(literal))
            spans = self._spans[literal] = [(first, first + length) for first in firsts]
        return spans


def _held(needle: Needle, found: set[int]) -> bool:
    """Whether an article holding the search strings `found` holds the needle's, and a
    spelling of each of its later words."""
    if needle.pattern not in found:
        return False
    return not any(patterns.isdisjoint(found) for patterns in needle.rest_patterns)


class Op(ABC):
    """A compiled query node."""

    __slots__ = ()

    @abstractmethod
    def possible(self, scan: Scan) -> bool:
        """Whether the article holds what a match needs (if not, `test` is False)."""

    @abstractmethod
    def test(self, scan: Scan) -> bool:
        """Whether the article matches."""

    @abstractmethod
    def spans(self, scan: Scan) -> list[Span]:
        """The word spans where it matches, sorted (none for `Without` and filters)."""

    @abstractmethod
    def hits(self, scan: Scan) -> list[Span]:
        """The spans of the literal occurrences that make it match, sorted."""


class Memo(Op):
    """An operator over other operators, whose answers about a scan are computed once."""

    __slots__ = ()

    def possible(self, scan: Scan) -> bool:
        known = scan.possibles.get(self)
        if known is None:
            known = scan.possibles[self] = self._possible(scan)
        return known

    def test(self, scan: Scan) -> bool:
        known = scan.tested.get(self)
        if known is None:
            scan.deadline.check()
            known = scan.tested[self] = self._test(scan)
        return known

    def spans(self, scan: Scan) -> list[Span]:
        known = scan.spanned.get(self)
        if known is None:
            scan.deadline.check()
            known = scan.spanned[self] = self._spans(scan)
        return known

    def hits(self, scan: Scan) -> list[Span]:
        known = scan.hit.get(self)
        if known is None:
            scan.deadline.check()
            known = scan.hit[self] = self._hits(scan)
        return known

    @abstractmethod
    def _possible(self, scan: Scan) -> bool: ...

    @abstractmethod
    def _test(self, scan: Scan) -> bool: ...

    @abstractmethod
    def _spans(self, scan: Scan) -> list[Span]: ...

    @abstractmethod
    def _hits(self, scan: Scan) -> list[Span]: ...


class Lit(Op):
    """A literal, found through any of its needles (`pairs`: each with the id of its search
    string); a `site:` or `lang:` one filters, with no spans or hits."""

    __slots__ = ("indexes", "pairs", "patterns", "positional")

    def __init__(
        self, needles: Sequence[Needle], indexes: tuple[int, ...], positional: bool
    ) -> None:
        self.indexes = indexes
        self.pairs = tuple((needles[index].pattern, index) for index in indexes)
        self.patterns = frozenset(pattern for pattern, _ in self.pairs)
        self.positional = positional

    def possible(self, scan: Scan) -> bool:
        return any(scan.holds(index) for index in self.indexes)

    def test(self, scan: Scan) -> bool:
        if self.patterns.isdisjoint(scan.found):
            return False
        return any(scan.starts(index) for index in self.indexes)

    def spans(self, scan: Scan) -> list[Span]:
        if not self.positional or self.patterns.isdisjoint(scan.found):
            return []
        if len(self.indexes) == 1:
            return scan.spans(self.indexes[0])
        known = scan.spanned.get(self)
        if known is None:
            known = scan.spanned[self] = union([scan.spans(index) for index in self.indexes])
        return known

    def hits(self, scan: Scan) -> list[Span]:
        return self.spans(scan)


class AllOf(Memo):
    """Every child matches; its spans are the shortest stretches holding one of each."""

    __slots__ = ("children", "positional")

    def __init__(self, children: tuple[Op, ...], positional: tuple[Op, ...]) -> None:
        self.children = children
        self.positional = positional

    def _possible(self, scan: Scan) -> bool:
        return all(child.possible(scan) for child in self.children)

    def _test(self, scan: Scan) -> bool:
        return all(child.test(scan) for child in self.children)

    def _spans(self, scan: Scan) -> list[Span]:
        if not self.test(scan):
            return []
        groups = [child.spans(scan) for child in self.positional]
        return [window for window, _ in windows(groups, None, scan)]

    def _hits(self, scan: Scan) -> list[Span]:
        return union(child.hits(scan) for child in self.children) if self.test(scan) else []


class AnyOf(Memo):
    """Some child matches. Its literals' needles are looked up by search string (each
    with whether it has positions), so only those the article may hold are asked."""

    __slots__ = ("others", "patterns", "needles")

    def __init__(self, children: tuple[Op, ...]) -> None:
        self.others = tuple(child for child in children if not isinstance(child, Lit))
        needles: dict[int, list[tuple[int, bool]]] = {}
        for child in children:
            if isinstance(child, Lit):
                for pattern, index in child.pairs:
                    needles.setdefault(pattern, []).append((index, child.positional))
        self.patterns = frozenset(needles)
        self.needles = {pattern: tuple(found) for pattern, found in needles.items()}

    def _possible(self, scan: Scan) -> bool:
        return self._a_literal(scan, scan.holds) or any(
            child.possible(scan) for child in self.others
        )

    def _test(self, scan: Scan) -> bool:
        return self._a_literal(scan, scan.starts) or any(child.test(scan) for child in self.others)

    def _a_literal(self, scan: Scan, asked: Callable[[int], object]) -> bool:
        """Whether `asked` is true of one of its literals' needles the article may hold."""
        for pattern in scan.found & self.patterns:
            for index, _ in self.needles[pattern]:
                if asked(index):
                    return True
        return False

    def _literal_spans(self, scan: Scan) -> list[list[Span]]:
        needles = self.needles
        spans = scan.spans
        return [
            spans(index)
            for pattern in scan.found & self.patterns
            for index, positional in needles[pattern]
            if positional
        ]

    def _spans(self, scan: Scan) -> list[Span]:
        return union([*self._literal_spans(scan), *(child.spans(scan) for child in self.others)])

    def _hits(self, scan: Scan) -> list[Span]:
        return union([*self._literal_spans(scan), *(child.hits(scan) for child in self.others)])


class Without(Memo):
    """The child does not match."""

    __slots__ = ("child",)

    def __init__(self, child: Op) -> None:
        self.child = child

    def _possible(self, scan: Scan) -> bool:
        return True  # the search strings alone cannot tell that the child does not match

    def _test(self, scan: Scan) -> bool:
        return not self.child.test(scan)

    def _spans(self, scan: Scan) -> list[Span]:
        return []

    def _hits(self, scan: Scan) -> list[Span]:
        return []


class Except(Memo):
    """The stretches where `keep` matches, less those overlapping a stretch where one of
    `drop` matches: an `And` with `NOT` parts, as a `NEAR`'s operand."""

    __slots__ = ("keep", "drop")

    def __init__(self, keep: Op, drop: tuple[Op, ...]) -> None:
        self.keep = keep
        self.drop = drop

    def _possible(self, scan: Scan) -> bool:
        return self.keep.possible(scan)

    def _test(self, scan: Scan) -> bool:
        return bool(self.spans(scan))

    def _spans(self, scan: Scan) -> list[Span]:
        kept = self.keep.spans(scan)
        if not kept:
            return []
        dropped = union((op.spans(scan) for op in self.drop if op.test(scan)), merge=True)
        if not dropped:
            return kept
        ends = [end for _, end in dropped]
        return [span for span in kept if not _overlaps(span, dropped, ends)]

    def _hits(self, scan: Scan) -> list[Span]:
        cover = union([self.spans(scan)], merge=True)
        starts = [start for start, _ in cover]
        return [hit for hit in self.keep.hits(scan) if _inside(hit, cover, starts)]


class Within(Memo):
    """Every child matches in one stretch of a field with at most `slop` other words, and
    with `sentence`, in one sentence."""

    __slots__ = ("children", "slop", "sentence")

    def __init__(self, children: tuple[Op, ...], slop: int, sentence: bool) -> None:
        self.children = children
        self.slop = slop
        self.sentence = sentence

    def _windows(self, scan: Scan, tight: bool = True) -> Iterator[tuple[Span, int]]:
        if not all(child.test(scan) for child in self.children):
            return iter(())
        groups = [child.spans(scan) for child in self.children]
        found = windows(groups, self.slop, scan, tight)
        if not self.sentence:
            return found
        doc = scan.doc
        return (
            (window, extra)
            for window, extra in found
            if doc.sentence_of(window[0]) == doc.sentence_of(window[1] - 1)
        )

    def _possible(self, scan: Scan) -> bool:
        return all(child.possible(scan) for child in self.children)

    def _test(self, scan: Scan) -> bool:
        return next(self._windows(scan), None) is not None

    def _spans(self, scan: Scan) -> list[Span]:
        return [window for window, _ in self._windows(scan)]

    def _hits(self, scan: Scan) -> list[Span]:
        """The children's hits lying in a matching stretch (the shortest up to each of
        their spans, not only the tightest) widened by the words it could still take in on
        either side; across sentences, those of the later children only
        in a sentence holding one of the first child's (the first says what matched, the
        others where: "Ukraine" in the sentence before "They pledged guarantees" is not
        marked)."""
        doc = scan.doc
        reach = []
        for (start, end), extra in self._windows(scan, tight=False):
            low, high = (
                doc.sentence_of(start) if self.sentence else doc.field_words(doc.field_of(start))
            )
            spare = self.slop - extra
            reach.append((max(low, start - spare), min(high, end + spare)))
        cover = union([reach], merge=True)
        starts = [start for start, _ in cover]
        first, *rest = (
            [hit for hit in child.hits(scan) if _inside(hit, cover, starts)]
            for child in self.children
        )
        if self.sentence:
            return union([first, *rest])
        sentences = {doc.sentence_of(start) for start, _ in first}
        later = (hit for hits in rest for hit in hits if doc.sentence_of(hit[0]) in sentences)
        return union([first, list(later)])


def _inside(span: Span, cover: list[Span], starts: list[int]) -> bool:
    """Whether `span` lies in one of the disjoint sorted spans `cover` (`starts` their starts)."""
    i = bisect_right(starts, span[0]) - 1
    return i >= 0 and span[1] <= cover[i][1]


def _overlaps(span: Span, spans: list[Span], ends: list[int]) -> bool:
    """Whether `span` shares a word with one of the disjoint sorted `spans` (`ends` their
    ends)."""
    start, end = span
    i = bisect_right(ends, start)  # the first of `spans` ending after `span` starts
    return i < len(spans) and spans[i][0] < end


def union(groups: Iterable[list[Span]], merge: bool = False) -> list[Span]:
    """The spans of every group, sorted and distinct (a group alone is returned as it is:
    each is sorted and distinct); with `merge`, overlapping ones joined."""
    if merge:
        return _merged(sorted(set(chain.from_iterable(groups))))
    held = [group for group in groups if group]
    if len(held) == 1:
        return held[0]
    return sorted(set(chain.from_iterable(held)))


def _merged(spans: list[Span]) -> list[Span]:
    """Sorted `spans` with overlapping ones joined."""
    merged: list[Span] = []
    for start, end in spans:
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged


def windows(
    groups: list[list[Span]], slop: int | None, scan: Scan, tight: bool = True
) -> Iterator[tuple[Span, int]]:
    """The tightest stretches of one field of the scanned article holding a span of each
    group (holding no other such stretch; without `tight`, the shortest up to each span),
    with how many of their words lie in no span of any group (the other words); with a
    `slop`, only those where that number is at most `slop`."""
    ours = Coverage(union(groups, merge=True))
    doc = scan.doc
    shortest = _shortest(groups, scan)
    for window in _tightest(shortest) if tight else shortest:
        extra = window[1] - window[0] - ours.words_in(window)
        if _one_field(window, doc) and (slop is None or extra <= slop):
            yield window, extra


def _shortest(groups: list[list[Span]], scan: Scan) -> Iterator[Span]:
    """Span by span, by end, the shortest stretch up to it holding a span of each group
    (their starts and ends never decreasing), each once."""
    events = sorted(
        (end, start, group) for group, spans in enumerate(groups) for start, end in spans
    )
    latest: list[Span | None] = [None] * len(groups)
    missing = len(groups)
    previous = None
    check = scan.deadline.check
    for step, (end, start, group) in enumerate(events):
        if not step % CHECK_EVERY:
            check()
        held = latest[group]
        if held is None:
            missing -= 1
        if held is None or start > held[0]:
            latest[group] = (start, end)
        if missing:
            continue
        chosen = [span for span in latest if span is not None]
        window = (min(s for s, _ in chosen), max(e for _, e in chosen))
        if window != previous:
            previous = window
            yield window


def _tightest(stretches: Iterator[Span]) -> Iterator[Span]:
    """`stretches` (their starts and ends never decreasing) less those holding another: the
    one before them when it has their start, or the one after when it has their end."""
    before = held = _NOWHERE
    for stretch in chain(stretches, [_NOWHERE]):
        if held != _NOWHERE and stretch[1] != held[1] and before[0] != held[0]:
            yield held
        before, held = held, stretch


class Coverage:
    """Disjoint sorted spans, told how many words of a stretch they cover."""

    def __init__(self, spans: list[Span]) -> None:
        self.starts = [start for start, _ in spans]
        self.ends = [end for _, end in spans]
        self.before = list(accumulate((end - start for start, end in spans), initial=0))

    def words_in(self, stretch: Span) -> int:
        """How many words of `stretch` lie in one of the spans."""
        start, end = stretch
        first = bisect_right(self.ends, start)  # the first span ending after `start`
        last = bisect_left(self.starts, end)  # past the last span starting before `end`
        if first >= last:
            return 0
        words = self.before[last] - self.before[first]
        return words - max(0, start - self.starts[first]) - max(0, self.ends[last - 1] - end)


def _one_field(window: Span, doc: Document) -> bool:
    return doc.field_of(window[0]) == doc.field_of(window[1] - 1)


def _by_cost(requirement: Requirement) -> float:
    return requirement[0]


def _cost(literal: Literal) -> float:
    """How often a literal is guessed to be found: a longer first word is rarer, a phrase
    rarer still, a prefix more common, a site or language very common."""
    if not literal.positional:
        return 100.0
    first = literal.parts[0]
    cost = 8 / (len(first.word) + 1) * (3 if first.prefix else 1)
    return cost / 4 if len(literal.parts) > 1 else cost


class Compiler:
    """Compiles the queries of one rule set into operators sharing one needle table."""

    def __init__(self) -> None:
        self.prefilter = Prefilter()
        self.needles: list[Needle] = []
        self._indexes: dict[Needle, int] = {}
        self._ops: dict[tuple[Node, bool], Op] = {}
        self._literals: dict[Literal, tuple[int, ...]] = {}

    def compile(self, node: Node, near: bool = False) -> Op:
        """The operator of `node` (`near`: inside a `NEAR`'s operand), shared by every
        equal node of the rule set in the same place (so its answers about an article are
        computed once for all the rules holding it)."""
        key = (node, near)
        op = self._ops.get(key)
        if op is None:
            op = self._ops[key] = self._compile(node, near)
        return op

    def _compile(self, node: Node, near: bool) -> Op:
        if isinstance(node, Literal):
            return Lit(self.needles, self.literal(node), node.positional)
        if isinstance(node, And):
            return self._all_of(node, near)
        if isinstance(node, Or):
            return AnyOf(tuple(self.compile(child, near) for child in node.children))
        if isinstance(node, Not):
            return Without(self.compile(node.child))
        if isinstance(node, Near):
            children = tuple(self.compile(child, True) for child in node.children)
            return Within(children, node.slop, node.sentence)
        raise TypeError(f"not a query node: {node!r}")

    def _all_of(self, node: And, near: bool) -> Op:
        """An `AllOf`; inside a `NEAR`'s operand, with parts that have positions and `NOT`
        parts that have too, an `Except` dropping the stretches those parts overlap (with
        no other part that has positions, its `NOT` parts ask the whole article)."""
        drops = tuple(
            child.child
            for child in node.children
            if near and node.positional and isinstance(child, Not) and child.child.positional
        )
        rest = tuple(
            child
            for child in node.children
            if not (isinstance(child, Not) and child.child in drops)
        )
        children = tuple(self.compile(child, near) for child in rest)
        positional = tuple(op for op, child in zip(children, rest, strict=True) if child.positional)
        kept = AllOf(children, positional)
        if not drops:
            return kept
        return Except(kept, tuple(self.compile(drop) for drop in drops))

    def requirements(self, node: Node) -> list[Requirement]:
        """Sets of search strings an article must hold one of, each, to match `node`,
        with a guess at how often each set is found. An `Or` needs one of its children's
        cheapest sets, and every set all its children need."""
        if isinstance(node, Literal):
            indexes = self.literal(node)
            patterns = frozenset(self.needles[index].pattern for index in indexes)
            first = self.needles[indexes[0]]  # a literal's needles share their later words
            later = zip(first.rest, first.rest_patterns, strict=True)
            return [(_cost(node), patterns), *((_cost(term), needs) for (_, term), needs in later)]
        if isinstance(node, And | Near):
            return [need for child in node.children for need in self.requirements(child)]
        if isinstance(node, Or):
            options = [self.requirements(child) for child in node.children]
            if not all(options):
                return []
            chosen = [min(option, key=_by_cost) for option in options]
            either = (sum(cost for cost, _ in chosen), frozenset().union(*(p for _, p in chosen)))
            shared = set.intersection(*({p for _, p in option} for option in options))
            return [either, *(need for need in options[0] if need[1] in shared)]
        return []

    def literal(self, literal: Literal) -> tuple[int, ...]:
        """The indexes of the needles of `literal` in the needle table, added if new (an
        alias's spellings recur across rules: each literal is looked up once)."""
        found = self._literals.get(literal)
        if found is None:
            parts = literal.parts
            searches, searched = needles(parts)
            rest = tuple((i, parts[i]) for i in range(searched, len(parts)))
            later = tuple(frozenset(map(self.prefilter.add, needles((t,))[0])) for _, t in rest)
            found = tuple(self._needle(search, literal, rest, later) for search in searches)
            self._literals[literal] = found
        return found

    def _needle(
        self,
        search: str,
        literal: Literal,
        rest: tuple[tuple[int, Term], ...],
        later: tuple[frozenset[int], ...],
    ) -> int:
        fields = FIELD_RANGES[literal.field]
        found = Needle(search, self.prefilter.add(search), fields, len(literal.parts), rest, later)
        if found not in self._indexes:
            self._indexes[found] = len(self.needles)
            self.needles.append(found)
        return self._indexes[found]
