"""The parsed form of a query: literals (`Term`, `Phrase`) combined by `And`, `Or`, `Not`, `Near`.

Literals carry their field scope: `None` (title or text), or one of `FIELDS`. `site` and
`lang` literals only filter; the others have positions, so they can be `Near` each other.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from functools import lru_cache

from monitors.errors import QueryError
from monitors.rules.inflect import forms
from monitors.text import Token, tokenize

FIELDS = ("title", "text", "site", "lang")
FILTER_FIELDS = frozenset({"site", "lang"})
MIN_PREFIX = 3  # letters before a '*'
MAX_LITERAL = 200  # characters of a word or phrase as written (an alias's name or spelling too)


class Node(ABC):
    """A parsed query, or a part of one."""

    @property
    @abstractmethod
    def needs_literal(self) -> bool:
        """Whether every article this node matches holds one of its positive literals."""

    @property
    @abstractmethod
    def positional(self) -> bool:
        """Whether the node's matches have word positions (a `Near` needs them)."""


class Literal(Node):
    """Words found at consecutive positions of one field: a `Term` or a `Phrase`."""

    field: str | None

    @property
    @abstractmethod
    def parts(self) -> tuple[Term, ...]:
        """The literal's words, in order."""

    @property
    def needs_literal(self) -> bool:
        return True

    @property
    def positional(self) -> bool:
        return self.field not in FILTER_FIELDS


@dataclass(frozen=True)
class Term(Literal):
    """A normalized word, or one of its inflected `forms` (see monitors.rules.inflect);
    with `prefix`, any word starting with it (`withdraw*`)."""

    word: str
    prefix: bool = False
    field: str | None = None
    forms: frozenset[str] = frozenset()

    @property
    def parts(self) -> tuple[Term, ...]:
        return (Term(self.word, self.prefix, forms=self.forms),)

    @property
    def spellings(self) -> tuple[str, ...]:
        """The word and its forms, the word first."""
        return (self.word, *sorted(self.forms))

    def matches(self, word: str) -> bool:
        """Whether the normalized `word` is this term."""
        if self.prefix:
            return word.startswith(self.word)
        return word == self.word or word in self.forms


@dataclass(frozen=True)
class Phrase(Literal):
    """Words at consecutive positions ("security guarantee*"); the words have no field."""

    words: tuple[Term, ...]
    field: str | None = None

    @property
    def parts(self) -> tuple[Term, ...]:
        return self.words


@dataclass(frozen=True)
class And(Node):
    """Every child matches."""

    children: tuple[Node, ...]

    @property
    def needs_literal(self) -> bool:
        return any(child.needs_literal for child in self.children)

    @property
    def positional(self) -> bool:
        return any(child.positional for child in self.children)


@dataclass(frozen=True)
class Or(Node):
    """Some child matches."""

    children: tuple[Node, ...]

    @property
    def needs_literal(self) -> bool:
        return all(child.needs_literal for child in self.children)

    @property
    def positional(self) -> bool:
        return all(child.positional for child in self.children)


@dataclass(frozen=True)
class Not(Node):
    """The child does not match. Its literals never count as hits."""

    child: Node

    @property
    def needs_literal(self) -> bool:
        return False

    @property
    def positional(self) -> bool:
        return False


@dataclass(frozen=True)
class Near(Node):
    """Every child matches within one stretch of a field holding at most `slop` other words,
    and with `sentence`, lying in one sentence.

    With two children: at most `slop` words between them, in either order.
    """

    children: tuple[Node, ...]
    slop: int
    sentence: bool = False

    @property
    def needs_literal(self) -> bool:
        return True

    @property
    def positional(self) -> bool:
        return True


def parse_words(value: str, pos: int = 0) -> tuple[Term, ...]:
    """The words of `value` (starting at `pos` in the query), those followed by `*` prefixes,
    those after `=` exact, the others with their inflected forms."""
    try:
        return _known_words(value)  # alias spellings recur in every rule naming them
    except QueryError:
        return _parse_words(value, pos)  # raises, with positions in the query


@lru_cache(maxsize=16384)
def _known_words(value: str) -> tuple[Term, ...]:
    return _parse_words(value, 0)


def _parse_words(value: str, pos: int) -> tuple[Term, ...]:
    if len(value) > MAX_LITERAL:
        raise QueryError(
            f"a word or phrase of {len(value):,} characters at position {pos} "
            f"(at most {MAX_LITERAL})"
        )
    tokens = tokenize(value)
    if not tokens:
        raise QueryError(f"{value!r} at position {pos} holds no word")
    starts = {token.start for token in tokens}
    ends = {token.end for token in tokens}
    stars = {i for i, char in enumerate(value) if char == "*"}
    for star in sorted(stars):
        if star + 1 in starts or star not in ends:
            raise QueryError(f"wildcard '*' at position {pos + star} must end a word")
    exact = {i for i, char in enumerate(value) if char == "="}
    for mark in sorted(exact):
        if mark + 1 not in starts or (mark and value[mark - 1].isalnum()):
            raise QueryError(f"'=' at position {pos + mark} must start a word")
    for token in tokens:
        if token.end in stars and len(token.norm) < MIN_PREFIX:
            raise QueryError(
                f"wildcard too broad at position {pos + token.start}: "
                f"at least {MIN_PREFIX} letters before '*'"
            )
    return tuple(_term(value, token, stars, exact) for token in tokens)


def _term(value: str, token: Token, stars: set[int], exact: set[int]) -> Term:
    if token.end in stars:
        return Term(token.norm, prefix=True)
    if token.start - 1 in exact:
        return Term(token.norm)
    return Term(token.norm, forms=forms(value[token.start : token.end]))


def size(node: Node, sizes: dict[int, int] | None = None) -> int:
    """The number of literals of `node` written out in full, a part it holds several
    times (another rule's query referred to twice) counted each time; each distinct part
    is visited once."""
    sizes = {} if sizes is None else sizes
    if id(node) not in sizes:
        if isinstance(node, Not):
            parts: tuple[Node, ...] = (node.child,)
        else:
            parts = getattr(node, "children", ())
        sizes[id(node)] = sum(size(part, sizes) for part in parts) if parts else 1
    return sizes[id(node)]
