"""Queries parsed by recursive descent, with a position in every error.

    query   := and ("OR" and)*
    and     := unary (["AND"] unary)*          juxtaposed parts must all match
    unary   := ("NOT" | "-") unary | "+" unary | near
    near    := primary ("NEAR/" (n | "s" | n "s") (primary | unary))*
                                               left to right: (a NEAR/3 b) NEAR/5 c
    primary := field ":" primary | "rule:" id | "(" query ")" | '"words"' ["~" n] | word

Operators are upper case; lower-case "and" is a word, lower-case "near/5" an error. A word
with a trailing `*` is a prefix. Aliases replace a word or an exact phrase by the
alternatives they list. `rule:ID` stands for another rule's whole query, as `references`
gives it.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from monitors.errors import QueryError
from monitors.rules.aliases import Aliases
from monitors.rules.query import (
    FIELDS,
    FILTER_FIELDS,
    And,
    Near,
    Node,
    Not,
    Or,
    Phrase,
    Term,
    parse_words,
    size,
)

MAX_QUERY = 50_000  # characters of a query
MAX_DEPTH = 40
MAX_LITERALS = 5000
MAX_WRITTEN_OUT = 20_000  # terms with the rules referred to written out (`rule:ID`)
MAX_SLOP = 1000
MAX_EXPANDED = 1000  # characters of a word or phrase once aliases are expanded
OPERATORS = frozenset({"AND", "OR", "NOT"})
LUCENE_SYMBOLS = {"&&": "AND", "||": "OR", "!": "NOT"}
UNSUPPORTED = {
    "~": "fuzzy matching ('~') is not supported: list the spellings, or use aliases",
    "^": "boosts ('^') are not supported",
    "?": "the wildcard '?' is not supported: end a word with '*'",
    "[": "unexpected character '['",
    "]": "unexpected character ']'",
    "{": "unexpected character '{'",
    "}": "unexpected character '}'",
}
_NEAR = re.compile(r"NEAR(?:/(\d*)(s?))?")
_FIELD = re.compile(r"([A-Za-z]+):")
_NUMBER = re.compile(r"\d+")


@dataclass(frozen=True)
class Lexeme:
    """A piece of a query: `kind` is an operator, a bracket, "word", "phrase",
    "proximity" (a phrase with "~n"), "field" or "end"; `number` is the n of NEAR/n or ~n,
    `sentence` whether a NEAR keeps to one sentence."""

    kind: str
    pos: int
    text: str = ""
    number: int = 0
    sentence: bool = False

    def describe(self) -> str:
        """How an error message names this lexeme."""
        if self.kind == "end":
            return f"end of query at position {self.pos}"
        return f"{self.text!r} at position {self.pos}"


# a rule's id, and the levels of nesting around the `rule:ID`, to its parsed query;
# QueryError if none
References = Callable[[str, int], Node]


class TooDeep(QueryError):
    """A query nested more than `MAX_DEPTH` levels."""


def parse_query(
    query: str,
    aliases: Aliases | None = None,
    references: References | None = None,
    depth: int = 0,
) -> Node:
    """`query` parsed, each `rule:ID` as `references` gives that rule, the query nested in
    `depth` levels already (those around a `rule:ID` standing for it); raises `QueryError`
    saying why it cannot be, and where."""
    if len(query) > MAX_QUERY:
        raise QueryError(f"query of {len(query):,} characters (at most {MAX_QUERY:,})")
    node = _Parser(query, aliases, references, depth).parse()
    if not node.needs_literal:
        raise QueryError("query can match articles holding none of its terms (only NOT parts?)")
    return node


def lex(query: str) -> list[Lexeme]:
    """The lexemes of `query`, ending with an "end" lexeme."""
    out: list[Lexeme] = []
    pos = 0
    while pos < len(query):
        char = query[pos]
        if char.isspace():
            pos += 1
        elif char in "()":
            out.append(Lexeme(char, pos, char))
            pos += 1
        elif char == '"':
            pos = _lex_phrase(query, pos, out)
        elif char in "-+" and _starts_operand(query, pos + 1):
            out.append(Lexeme(char, pos, char))
            pos += 1
        else:
            pos = _lex_bare(query, pos, out)
    out.append(Lexeme("end", len(query)))
    return out


_SYNTAX = re.compile(r"\n|\s(?:OR|AND|NOT|NEAR/\d+s?)\s|[()]")


def _astray(lexed: list[Lexeme]) -> str:
    """Where a quote is likely missing: the first phrase lexed that holds query syntax
    (a line break, an operator, a bracket) was opened by the closing quote of another."""
    for lexeme in lexed:
        if lexeme.kind in ("phrase", "proximity") and _SYNTAX.search(lexeme.text):
            return (
                f" (a quote is likely missing near position {lexeme.pos}: the quotes pair up"
                " wrongly from there)"
            )
    return ""


def _starts_operand(query: str, pos: int) -> bool:
    """Whether something a `-` or `+` can apply to starts at `pos`."""
    return pos < len(query) and not query[pos].isspace() and query[pos] != ")"


def _lex_phrase(query: str, pos: int, out: list[Lexeme]) -> int:
    """Lex the quoted phrase at `pos` and its "~n"; the position after them."""
    close = query.find('"', pos + 1)
    if close < 0:
        raise QueryError(f"unbalanced quotes: '\"' at position {pos} is not closed{_astray(out)}")
    after = close + 1
    kind, number = "phrase", 0
    if query.startswith("~", after):
        found = _NUMBER.match(query, after + 1)
        if found is None:
            raise QueryError(
                f"'~' at position {after} needs a number of words, as in \"Senate ratify\"~8"
            )
        kind, number = "proximity", _distance(found.group(), after)
        after = found.end()
    out.append(Lexeme(kind, pos, query[pos + 1 : close], number))
    return after


def _lex_bare(query: str, pos: int, out: list[Lexeme]) -> int:
    """Lex the unquoted piece at `pos` (operator, field or word); the position after it."""
    end = pos
    while end < len(query) and not query[end].isspace() and query[end] not in '()"':
        end += 1
    text = query[pos:end]
    field = _FIELD.match(text)
    if field and field.group(1).lower() == "rule":
        out.append(_reference(text[field.end() :], pos))
    elif field:
        out.append(_field(field.group(1), pos))
        rest = text[field.end() :]
        if rest.lower().startswith("rule:"):  # refused in the field's scope, as "title:(rule:x)"
            out.append(_reference(rest[5:], pos + field.end()))
        elif rest:
            out.append(_word(rest, pos + field.end()))
    elif text in OPERATORS:
        out.append(Lexeme(text, pos, text))
    elif _NEAR.fullmatch(text) or text.startswith("NEAR/"):
        out.append(_near(text, pos))
    elif text[:5].upper() == "NEAR/":
        raise QueryError(
            f"{text!r} at position {pos}: operators are upper case, write NEAR{text[4:]}"
        )
    else:
        out.append(_word(text, pos))
    return end


def _field(name: str, pos: int) -> Lexeme:
    if name.lower() not in FIELDS:
        known = ", ".join(f"{f}:" for f in (*FIELDS, "rule"))
        raise QueryError(f"unknown field '{name}:' at position {pos} (fields: {known})")
    return Lexeme("field", pos, name.lower())


def _reference(rule_id: str, pos: int) -> Lexeme:
    if not rule_id:
        raise QueryError(f"'rule:' at position {pos} names no rule: write rule:ID")
    return Lexeme("rule", pos, rule_id)


def _near(text: str, pos: int) -> Lexeme:
    """The lexeme of NEAR/n, NEAR/s (in one sentence) or NEAR/ns (both)."""
    found = _NEAR.fullmatch(text)
    if found is None or not any(found.groups(default="")):
        raise QueryError(
            f"NEAR at position {pos} needs a number of words, as in NEAR/5, "
            "or s for one sentence, as in NEAR/s or NEAR/15s"
        )
    digits, sentence = found.groups()
    number = _distance(digits, pos) if digits else MAX_SLOP
    return Lexeme("NEAR", pos, text, number, bool(sentence))


def _distance(digits: str, pos: int) -> int:
    """The number of words `digits` says, if at most `MAX_SLOP` (checked before any
    conversion: a number of thousands of digits cannot be one)."""
    significant = digits.lstrip("0") or "0"
    if len(significant) <= len(str(MAX_SLOP)) and int(significant) <= MAX_SLOP:
        return int(significant)
    shown = digits if len(digits) <= 12 else f"{digits[:8]}… ({len(digits):,} digits)"
    raise QueryError(f"distance {shown} at position {pos} is above {MAX_SLOP} words")


def _word(text: str, pos: int) -> Lexeme:
    symbol = next((s for s in LUCENE_SYMBOLS if text.startswith(s)), None)
    if symbol:
        raise QueryError(f"'{symbol}' at position {pos}: write {LUCENE_SYMBOLS[symbol]}")
    if text.startswith("/"):
        raise QueryError(f"regular expressions ('/') are not supported (at position {pos})")
    for offset, char in enumerate(text):
        if char in UNSUPPORTED:
            raise QueryError(f"{UNSUPPORTED[char]} (at position {pos + offset})")
    return Lexeme("word", pos, text)


class _Parser:
    """One query's lexemes, read left to right."""

    def __init__(
        self, query: str, aliases: Aliases | None, references: References | None, depth: int
    ) -> None:
        self.lexemes = lex(query)
        self.index = 0
        self.depth = depth
        self.literals = 0
        self.written_out = 0  # the terms of the rules referred to, each time referred to
        self.aliases = aliases
        self.references = references

    @property
    def peek(self) -> Lexeme:
        return self.lexemes[self.index]

    def take(self) -> Lexeme:
        lexeme = self.lexemes[self.index]
        self.index += 1
        return lexeme

    def parse(self) -> Node:
        if self.peek.kind == "end":
            raise QueryError("empty query")
        node = self.any_of(None)
        if self.peek.kind == ")":
            raise QueryError(
                f"unbalanced parenthesis: ')' at position {self.peek.pos} closes nothing"
            )
        return node

    def any_of(self, field: str | None) -> Node:
        children = [self.all_of(field)]
        while self.peek.kind == "OR":
            self.take()
            children.append(self.all_of(field))
        return children[0] if len(children) == 1 else Or(_flatten(children, Or))

    def all_of(self, field: str | None) -> Node:
        children = [self.unary(field)]
        while self.peek.kind not in ("OR", ")", "end"):
            if self.peek.kind == "AND":
                self.take()
            children.append(self.unary(field))
        return children[0] if len(children) == 1 else And(_flatten(children, And))

    def unary(self, field: str | None) -> Node:
        lexeme = self.peek
        if lexeme.kind in ("NOT", "-", "+"):
            self.take()
            self.descend(lexeme)
            child = self.unary(field)
            self.depth -= 1
            return child if lexeme.kind == "+" else Not(child)
        return self.near(field)

    def near(self, field: str | None) -> Node:
        node = self.primary(field)
        depth = self.depth
        while self.peek.kind == "NEAR":
            operator = self.take()
            self.descend(operator)
            right = (
                self.unary(field) if self.peek.kind in ("NOT", "-", "+") else self.primary(field)
            )
            node = Near(
                (_positional(node, operator), _positional(right, operator)),
                operator.number,
                operator.sentence,
            )
        self.depth = depth
        return node

    def primary(self, field: str | None) -> Node:
        lexeme = self.take()
        if lexeme.kind == "field":
            return self.scoped(lexeme, field)
        if lexeme.kind == "(":
            return self.group(lexeme, field)
        if lexeme.kind in ("phrase", "proximity"):
            return self.phrase(lexeme, field)
        if lexeme.kind == "word":
            return self.literal(lexeme.text, lexeme.pos, field)
        if lexeme.kind == "rule":
            return self.reference(lexeme, field)
        raise QueryError(f"unexpected {lexeme.describe()}")

    def reference(self, lexeme: Lexeme, field: str | None) -> Node:
        """The query of the rule `rule:ID` names, one more level of nesting."""
        written = f"'rule:{lexeme.text}' at position {lexeme.pos}"
        if field is not None:
            raise QueryError(f"{written} inside '{field}:'")
        if self.references is None:
            raise QueryError(f"{written}: there are no other rules here to refer to")
        self.descend(lexeme)
        try:
            node = self.references(lexeme.text, self.depth)
        except QueryError as exc:
            raise QueryError(f"{written}: {exc}") from None
        self.depth -= 1
        self.written_out += size(node)
        if self.literals + self.written_out > MAX_WRITTEN_OUT:
            raise QueryError(
                f"query too large: more than {MAX_WRITTEN_OUT:,} terms once the rules it "
                "refers to are written out"
            )
        return node

    def scoped(self, lexeme: Lexeme, field: str | None) -> Node:
        if field is not None:
            raise QueryError(f"field '{lexeme.text}:' at position {lexeme.pos} inside '{field}:'")
        if self.peek.kind not in ("(", "phrase", "proximity", "word", "rule"):
            raise QueryError(f"field '{lexeme.text}:' at position {lexeme.pos} scopes nothing")
        return self.primary(lexeme.text)

    def group(self, lexeme: Lexeme, field: str | None) -> Node:
        self.descend(lexeme)
        node = self.any_of(field)
        if self.take().kind != ")":
            raise QueryError(f"unbalanced parenthesis: '(' at position {lexeme.pos} is not closed")
        self.depth -= 1
        return node

    def phrase(self, lexeme: Lexeme, field: str | None) -> Node:
        words = parse_words(lexeme.text, lexeme.pos + 1)
        if lexeme.kind == "phrase" or len(words) == 1:
            return self.words(words, lexeme.pos, field)
        return Near(tuple(self.words((word,), lexeme.pos, field) for word in words), lexeme.number)

    def literal(self, text: str, pos: int, field: str | None) -> Node:
        return self.words(parse_words(text, pos), pos, field)

    def words(self, words: tuple[Term, ...], pos: int, field: str | None) -> Node:
        """The literal of `words` in `field`, or the `Or` of its alias variants."""
        variants = [words]
        if self.aliases is not None and field not in FILTER_FIELDS:
            try:
                variants = self.aliases.expand(words)
            except QueryError as exc:
                raise QueryError(f"{exc} (at position {pos})") from None
        self.literals += len(variants)
        if self.literals > MAX_LITERALS:
            raise QueryError(f"query too large: more than {MAX_LITERALS:,} terms with aliases")
        longest = max(sum(len(word.word) + 1 for word in variant) for variant in variants)
        if longest > MAX_EXPANDED:
            raise QueryError(
                f"term at position {pos} is {longest:,} characters long once aliases are "
                f"expanded (at most {MAX_EXPANDED:,})"
            )
        nodes = [_make_literal(variant, field) for variant in variants]
        return nodes[0] if len(nodes) == 1 else Or(tuple(nodes))

    def descend(self, lexeme: Lexeme) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise TooDeep(
                f"nested too deeply at position {lexeme.pos} (at most {MAX_DEPTH} levels)"
            )


def _make_literal(words: tuple[Term, ...], field: str | None) -> Node:
    """The literal of `words` in `field`; `site:` and `lang:` values match as written."""
    if field in FILTER_FIELDS:
        words = tuple(Term(word.word, word.prefix) for word in words)
    if len(words) == 1:
        return Term(words[0].word, words[0].prefix, field, words[0].forms)
    return Phrase(words, field)


def _flatten(children: list[Node], kind: type[And] | type[Or]) -> tuple[Node, ...]:
    """`children` with those of the same kind replaced by their own children, but for a
    bracketed `AND` with a `NOT` part: inside a `NEAR`, that `NOT` leaves out only what
    overlaps the rest of its bracket (`a AND (b -c)` is not `a b -c`)."""
    out: list[Node] = []
    for child in children:
        if isinstance(child, kind) and not any(isinstance(c, Not) for c in child.children):
            out.extend(child.children)
        else:
            out.append(child)
    return tuple(out)


def _positional(node: Node, operator: Lexeme) -> Node:
    if not node.positional:
        raise QueryError(
            f"{operator.text} at position {operator.pos}: each side needs words of the title "
            "or text (not NOT, site: or lang:)"
        )
    return node
