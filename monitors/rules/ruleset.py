"""Rules compiled together: one prefilter pass per article, then only the rules it admits.

Each rule is indexed by up to `MAX_REQUIREMENTS` sets of search strings, the rarest-looking,
such that every article it matches holds one string of each set: for `a AND (b OR c*)`,
{" a "} and {" b ", " c"}. The prefilter finds which search strings an article holds;
only the rules whose every set is met are evaluated.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from monitors.errors import QueryError
from monitors.models import Match
from monitors.rules.aliases import Aliases
from monitors.rules.document import TITLE, Document, Span
from monitors.rules.evaluate import Compiler, Op, Requirement, Scan
from monitors.rules.parse import parse_query
from monitors.rules.passage import Hit, best_passage
from monitors.rules.query import And, Node, Not

MAX_REQUIREMENTS = 3


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
class _Compiled:
    rule: Rule
    op: Op
    concepts: tuple[Op, ...]


class RuleSet:
    """Compiled watch rules, matched together against one article at a time."""

    def __init__(self, rules: Sequence[Rule]) -> None:
        self.rules = tuple(rules)
        compiler = Compiler()
        self._compiled = [
            _Compiled(
                rule, compiler.compile(rule.node), tuple(map(compiler.compile, rule.concepts))
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
    ) -> RuleSet:
        """Compile (rule_id, query) pairs with `aliases` (name to spellings); raises
        `AliasError` for a bad alias, `RuleError` on the first rule that fails."""
        if aliases is not None and not isinstance(aliases, Aliases):
            aliases = Aliases.compile(aliases)
        compiled: dict[str, Rule] = {}
        for rule_id, query in rules:
            if rule_id in compiled:
                raise RuleError(rule_id, "duplicate rule id")
            try:
                compiled[rule_id] = Rule(rule_id, query, parse_query(query, aliases))
            except QueryError as exc:
                raise RuleError(rule_id, str(exc)) from exc
        return cls(list(compiled.values()))

    def __len__(self) -> int:
        return len(self.rules)

    def select(self, rule_ids: Iterable[str]) -> RuleSet:
        """The rule set of the rules with these ids, in rule order (KeyError for an unknown)."""
        wanted = set(rule_ids)
        unknown = wanted - {rule.rule_id for rule in self.rules}
        if unknown:
            raise KeyError(", ".join(sorted(unknown)))
        return RuleSet([rule for rule in self.rules if rule.rule_id in wanted])

    def scan(
        self, title: str, text: str, *, site: str | None = None, lang: str | None = None
    ) -> Scan:
        """The article tokenized and searched for every literal of every rule."""
        doc = Document(title, text, site, lang)
        return Scan(doc, self._prefilter.scan(doc.haystack), self._needles)

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
        """The rules the article matches, in rule order, each with its terms and passage."""
        scan = self.scan(title, text, site=site, lang=lang)
        compiled = self._compiled
        return [
            _explain(compiled[index], scan)
            for index in self._candidates(scan)
            if compiled[index].op.test(scan)
        ]


def _explain(compiled: _Compiled, scan: Scan) -> Match:
    """The match of a rule the scanned article satisfies: its terms and best passage."""
    doc = scan.doc
    hits = [_hit(doc, span) for span in _outermost(compiled.op.hits(scan))]
    found = [hit for hit in hits if hit is not None]
    terms: dict[str, str] = {}
    for hit in found:
        source = doc.title if hit.in_title else doc.text
        terms.setdefault(hit.key, source[hit.start : hit.end])
    concepts = [_text_spans(doc, concept.spans(scan)) for concept in compiled.concepts]
    passage = best_passage(doc.title, doc.text, doc.paragraphs, found, concepts)
    spans = tuple((hit.start, hit.end) for hit in found if not hit.in_title)
    in_title = any(hit.in_title for hit in found)
    return Match(compiled.rule.rule_id, tuple(terms.values()), passage, spans, in_title)


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
