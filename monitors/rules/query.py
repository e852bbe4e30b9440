"""The parsed form of a query: literals (`Term`, `Phrase`) combined by `And`, `Or`, `Not`, `Near`.

Literals carry their field scope: `None` (title or text), or one of `FIELDS`. `site` and
`lang` literals only filter; the others have positions, so they can be `Near` each other.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass

FIELDS = ("title", "text", "site", "lang")
FILTER_FIELDS = frozenset({"site", "lang"})


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
    """A normalized word; with `prefix`, any word starting with it (`withdraw*`)."""

    word: str
    prefix: bool = False
    field: str | None = None

    @property
    def parts(self) -> tuple[Term, ...]:
        return (Term(self.word, self.prefix),)


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
