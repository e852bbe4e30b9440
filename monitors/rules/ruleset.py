"""Rules compiled together: one prefilter pass per article, then only the rules it admits.

Each rule is indexed by up to `MAX_REQUIREMENTS` sets of search strings, the rarest-looking,
such that every article it matches holds one string of each set: for `a AND (b OR c*)`,
{" a "} and {" b ", " c"} (a phrase's later words are sets of their own). The prefilter
finds which search strings an article holds; only the rules whose every set is met are
asked whether those strings could satisfy the whole query (`Op.possible`), and only those
that could are evaluated.

A rule set's `Limits` bound each article's matching (see monitors.rules.limits):
`RuleSet.matching` says in `Matching.cut` when the rules read only part of an article or
ran out of time before evaluating all of them.
"""

from __future__ import annotations

import copy
import re
import threading
from collections import Counter, OrderedDict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from monitors.errors import QueryError
from monitors.models import Match
from monitors.rules.aliases import Aliases
from monitors.rules.document import TITLE, Document, Span
from monitors.rules.evaluate import Compiler, Op, Requirement, Scan
from monitors.rules.kin import Kin
from monitors.rules.limits import NO_DEADLINE, Deadline, Limits, OutOfTime, cut
from monitors.rules.parse import MAX_DEPTH, TooDeep, parse_query
from monitors.rules.passage import Hit, best_passage
from monitors.rules.query import And, Node, Not

MAX_REQUIREMENTS = 3
COMPILED_KEPT = 16  # rule sets kept by `RuleSet.compile`
SHOWN_RULES = 5  # rule ids a cut's reason names
NO_LIMITS = Limits()
_INITIALISM = re.compile(r"(?:[A-Za-z]\.)+[A-Za-z]")  # "U.S", "E.U"


_COMPILED: OrderedDict[tuple[object, ...], RuleSet] = OrderedDict()  # oldest first
_COMPILED_LOCK = threading.Lock()


class RuleError(QueryError):
    """A rule whose query does not compile; the message starts with the rule id."""

    def __init__(self, rule_id: str, reason: str) -> None:
        self.rule_id = rule_id
        self.reason = reason
        super().__init__(f"rule {rule_id!r}: {reason}")


@dataclass(frozen=True)
class Rule:
    """A watch rule: its id, its query and the query parsed."""

    rule_id: str
    query: str
    node: Node

    @property
    def concepts(self) -> tuple[Node, ...]:
        """The parts a passage should show: the top-level AND parts, less the NOT ones."""
        if isinstance(self.node, And):
            return tuple(child for child in self.node.children if not isinstance(child, Not))
        return (self.node,)


@dataclass(frozen=True)
class Matching:
    """What matching one article gave: the rules it matches, in rule order; `unevaluated`,
    those the time limit left undecided; `cut`, why not all of the article was read or
    not every rule decided (None when all was); `text_words`, the normalized words of
    the text (`monitors.text.words`) when all of it was read, else None."""

    matches: list[Match]
    unevaluated: tuple[str, ...] = ()
    cut: str | None = None
    text_words: list[str] | None = None


@dataclass(frozen=True)
class _Compiled:
    rule: Rule
    op: Op
    concepts: tuple[Op, ...]
    kin: Kin


class RuleSet:
    """Compiled watch rules, matched together against one article at a time."""

    def __init__(self, rules: Sequence[Rule], limits: Limits = NO_LIMITS) -> None:
        self.rules = tuple(rules)
        self.limits = limits
        compiler = Compiler()
        self._compiled = [
            _Compiled(
                rule,
                compiler.compile(rule.node),
                tuple(map(compiler.compile, rule.concepts)),
                Kin.of(rule.node),
            )
            for rule in self.rules
        ]
        self._groups: dict[int, list[int]] = {}
        self._group_rule: list[int] = []
        self._needed: list[int] = []
        for index, rule in enumerate(self.rules):
            self._require(index, compiler.requirements(rule.node))
        compiler.prefilter.freeze()
        self._prefilter = compiler.prefilter
        self._needles = compiler.needles
        self._selected: dict[frozenset[str], RuleSet] = {}  # by `select`
        self._limited: dict[Limits, RuleSet] = {}  # by `_within`

    def _require(self, index: int, requirements: list[Requirement]) -> None:
        """Index the cheapest requirements of rule `index` by search string."""
        cheapest: dict[frozenset[int], float] = {}
        for cost, patterns in sorted(requirements, key=lambda need: need[0]):
            cheapest.setdefault(patterns, cost)
        if not cheapest:
            raise RuleError(self.rules[index].rule_id, "query needs none of its terms")
        chosen = list(cheapest)[:MAX_REQUIREMENTS]
        self._needed.append(len(chosen))
        for patterns in chosen:
            for pattern in patterns:
                self._groups.setdefault(pattern, []).append(len(self._group_rule))
            self._group_rule.append(index)

    @classmethod
    def compile(
        cls,
        rules: Iterable[tuple[str, str]],
        *,
        aliases: Aliases | Mapping[str, Sequence[str]] | None = None,
        limits: Limits = NO_LIMITS,
        library: Iterable[tuple[str, str]] = (),
    ) -> RuleSet:
        """Compile (rule_id, query) pairs with `aliases` (name to spellings), each article
        matched within `limits`; a query's `rule:ID` stands for the query of rule ID, one of
        `rules` or of `library` (other rules, not compiled themselves). Raises `AliasError`
        for a bad alias, `RuleError` on the first rule that fails. The last
        `COMPILED_KEPT` rule sets compiled are kept: the same rules again (a config loaded
        again, validated then used) are not compiled again (a rule set never changes)."""
        if aliases is not None and not isinstance(aliases, Aliases):
            aliases = Aliases.compile(aliases)
        rules, library = list(rules), tuple(library)
        key = (tuple(rules), aliases.key if aliases is not None else None, library)
        with _COMPILED_LOCK:
            compiled = _COMPILED.get(key)
            if compiled is not None:
                _COMPILED.move_to_end(key)
        if compiled is None:
            compiled = cls._compile(rules, aliases, library)
            with _COMPILED_LOCK:
                _COMPILED[key] = compiled
                while len(_COMPILED) > COMPILED_KEPT:
                    _COMPILED.popitem(last=False)
        return compiled._within(limits)

    @classmethod
    def _compile(
        cls,
        rules: list[tuple[str, str]],
        aliases: Aliases | None,
        library: tuple[tuple[str, str], ...],
    ) -> RuleSet:
        seen: set[str] = set()
        for rule_id, _ in rules:
            if rule_id in seen:
                raise RuleError(rule_id, "duplicate rule id")
            seen.add(rule_id)
        parsed = _Parsed(dict(library) | dict(rules), aliases)
        return cls([Rule(rule_id, query, parsed.node(rule_id)) for rule_id, query in rules])

    def _within(self, limits: Limits) -> RuleSet:
        """This rule set, each article matched within `limits` (the compiled rules shared;
        one such set for each `limits`)."""
        if limits == self.limits:
            return self
        limited = self._limited.get(limits)
        if limited is None:
            limited = self._limited[limits] = copy.copy(self)
            limited.limits = limits
            limited._selected, limited._limited = {}, {}
        return limited

    def __len__(self) -> int:
        return len(self.rules)

    def select(self, rule_ids: Iterable[str]) -> RuleSet:
        """The rule set of the rules with these ids, in rule order (KeyError for an unknown)."""
        wanted = frozenset(rule_ids)
        unknown = wanted - {rule.rule_id for rule in self.rules}
        if unknown:
            raise KeyError(", ".join(sorted(unknown)))
        selected = self._selected.get(wanted)
        if selected is None:
            rules = [rule for rule in self.rules if rule.rule_id in wanted]
            selected = self._selected[wanted] = RuleSet(rules, self.limits)
        return selected

    def scan(
        self,
        title: str,
        text: str,
        *,
        site: str | None = None,
        lang: str | None = None,
        deadline: Deadline = NO_DEADLINE,
    ) -> Scan:
        """The article tokenized and searched for every literal of every rule."""
        doc = Document(title, text, site, lang)
        return Scan(doc, self._prefilter.scan(doc.haystack), self._needles, deadline)

    def _candidates(self, scan: Scan) -> list[int]:
        """The rules all of whose indexed requirements the article meets, in rule order."""
        groups = self._groups
        met = set().union(*(groups[pattern] for pattern in scan.found & groups.keys()))
        counts = Counter(map(self._group_rule.__getitem__, met))
        needed = self._needed
        return sorted(index for index, count in counts.items() if count == needed[index])

    def candidates(
        self, title: str, text: str, *, site: str | None = None, lang: str | None = None
    ) -> list[str]:
        """The ids of the rules the prefilter lets through for this article, in rule order."""
        scan = self.scan(title, text, site=site, lang=lang)
        return [self.rules[index].rule_id for index in self._candidates(scan)]

    def match(
        self, title: str, text: str, *, site: str | None = None, lang: str | None = None
    ) -> list[Match]:
        """The rules the article matches, in rule order, each with its terms and passage
        (`matching` also says what the limits left out)."""
        return self.matching(title, text, site=site, lang=lang).matches

    def matching(
        self, title: str, text: str, *, site: str | None = None, lang: str | None = None
    ) -> Matching:
        """The rules the article matches within the rule set's limits, each with its
        terms and passage, and what the limits left out. The rules are decided in order:
        a rule decided before the time limit keeps its verdict; the one it interrupts and
        those after it are `unevaluated`."""
        deadline = Deadline(self.limits.timeout)
        read = cut(title, self.limits.max_chars), cut(text, self.limits.max_chars)
        scan = self.scan(*read, site=site, lang=lang, deadline=deadline)
        compiled = self._compiled
        candidates = self._candidates(scan)
        matches: list[Match] = []
        left: tuple[str, ...] = ()
        for done, index in enumerate(candidates):
            try:
                if compiled[index].op.possible(scan) and compiled[index].op.test(scan):
                    matches.append(_explain(compiled[index], scan))
            except OutOfTime:
                left = tuple(self.rules[i].rule_id for i in candidates[done:])
                break
        whole = scan.doc.text_words() if read[1] == text else None
        return Matching(matches, left, _why_cut(read, (title, text), left, self.limits), whole)


class _Parsed:
    """Rules' queries by id, each parsed once, as compiled or as another's `rule:ID` (again
    only when referred to inside more levels of nesting than it was parsed in)."""

    def __init__(self, queries: Mapping[str, str], aliases: Aliases | None) -> None:
        self.queries = queries
        self.aliases = aliases
        self.nodes: dict[str, tuple[Node, int]] = {}  # each with the levels it was parsed in
        self.open: list[str] = []  # the rules being parsed, each referring to the next
        self.chain = ""  # why the rules being parsed fail together (a circle, too deep)

    def node(self, rule_id: str, depth: int = 0) -> Node:
        """Rule `rule_id`'s query parsed inside `depth` levels of nesting; `RuleError` when
        it cannot be."""
        parsed = self.nodes.get(rule_id)
        if parsed is None or parsed[1] < depth:
            self.open.append(rule_id)
            try:
                node = parse_query(self.queries[rule_id], self.aliases, self.refer, depth)
            except QueryError as exc:
                if depth and isinstance(exc, TooDeep):
                    self.chain = self.chain or (
                        "nested too deeply once the rules it refers to are written out "
                        f"(at most {MAX_DEPTH} levels)"
                    )
                raise RuleError(rule_id, str(exc)) from exc
            finally:
                self.open.pop()
            self.nodes[rule_id] = parsed = (node, depth)
        return parsed[0]

    def refer(self, rule_id: str, depth: int) -> Node:
        """The query a `rule:ID` inside `depth` levels of nesting stands for; `QueryError`
        saying why there is none."""
        if rule_id not in self.queries:
            known = ", ".join(sorted(self.queries)) or "none"
            raise QueryError(f"no rule {rule_id!r} (rules: {known})")
        if rule_id in self.open:
            circle = " -> ".join([*self.open[self.open.index(rule_id) :], rule_id])
            self.chain = f"rules refer to each other in a circle ({circle})"
        if not self.chain:
            try:
                return self.node(rule_id, depth)
            except RuleError:
                if not self.chain:
                    raise QueryError(f"rule {rule_id!r} has an error of its own") from None
        raise QueryError(self.chain)


def _why_cut(
    read: tuple[str, str], whole: tuple[str, str], left: tuple[str, ...], limits: Limits
) -> str | None:
    """Why matching left part of the article (`read` of `whole`: headline, text) or the
    rules `left` out, or None."""
    reasons = [
        f"{name} cut at character {len(part):,} of {len(full):,}"
        for name, part, full in zip(("headline", "text"), read, whole, strict=True)
        if len(part) < len(full)
    ]
    if left:
        shown = ", ".join(left[:SHOWN_RULES])
        more = f" and {len(left) - SHOWN_RULES} more" if len(left) > SHOWN_RULES else ""
        rules = "rule" if len(left) == 1 else "rules"
        reasons.append(
            f"time limit of {limits.timeout:g} s reached: "
            f"{len(left)} {rules} not evaluated ({shown}{more})"
        )
    return "; ".join(reasons) or None


def _explain(compiled: _Compiled, scan: Scan) -> Match:
    """The match of a rule the scanned article satisfies: its terms and best passage."""
    doc = scan.doc
    hits = [_hit(doc, span) for span in _outermost(compiled.op.hits(scan))]
    found = [hit for hit in hits if hit is not None]
    terms: dict[str, str] = {}
    for hit in found:
        terms.setdefault(hit.key, _surface(doc.title if hit.in_title else doc.text, hit))
    concepts = [_text_spans(doc, concept.spans(scan)) for concept in compiled.concepts]
    passage = best_passage(doc.title, doc.text, doc.paragraphs, found, concepts)
    spans = tuple((hit.start, hit.end) for hit in found if not hit.in_title)
    in_title = any(hit.in_title for hit in found)
    rule_id = compiled.rule.rule_id
    return Match(rule_id, tuple(terms.values()), passage, spans, in_title, compiled.kin)


def _surface(source: str, hit: Hit) -> str:
    """A hit as written, an initialism with its last full stop ("U.S.", where the word
    ends before it)."""
    surface = source[hit.start : hit.end]
    if source.startswith(".", hit.end) and _INITIALISM.fullmatch(surface):
        return surface + "."
    return surface


def _outermost(spans: list[Span]) -> list[Span]:
    """Sorted `spans` less those lying inside a longer one."""
    out: list[Span] = []
    reach = -1
    for start, end in sorted(spans, key=lambda span: (span[0], -span[1])):
        if end > reach:
            out.append((start, end))
            reach = end
    return out


def _hit(doc: Document, span: Span) -> Hit | None:
    located = doc.locate(span)
    if located is None:
        return None
    field, (start, end) = located
    return Hit(field == TITLE, start, end, doc.key(span))


def _text_spans(doc: Document, spans: list[Span]) -> list[Span]:
    """The character spans in the text of the word spans `spans` lying in the text."""
    out = []
    for span in spans:
        located = doc.locate(span)
        if located is not None and located[0] != TITLE:
            out.append(located[1])
    return out
