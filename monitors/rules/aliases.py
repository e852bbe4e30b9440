"""Aliases: one name for several spellings, shared by every rule.

    aliases:
      Donbas: [Donbass, Донбас*, Donbas region]

makes the query word `Donbas` (or the phrase "Donbas", or the word inside a phrase) match
any of `Donbas`, `Donbass`, a word starting with `донбас`, or the phrase "Donbas region".
A spelling that is itself the name of an alias brings that alias's spellings in. The name
and every spelling without a wildcard also bring their transliterations into the other
script (monitors.rules.translit: Donbass gives Донбасс, Зеленський gives Zelenskyy), and
every word its inflected forms (monitors.rules.inflect).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from itertools import chain, product

from monitors.errors import QueryError
from monitors.rules.query import MAX_LITERAL, Term, parse_words
from monitors.rules.translit import transliterations

MAX_VARIANTS = 256

Words = tuple[Term, ...]


class AliasError(QueryError):
    """An alias that cannot be used; the message starts with its name."""

    def __init__(self, name: str, reason: str) -> None:
        self.name = name
        self.reason = reason
        super().__init__(f"alias {brief(name)}: {reason}")


@dataclass(frozen=True)
class Aliases:
    """Every alias resolved: the words of its name to all its spellings (the name first)."""

    variants: Mapping[tuple[str, ...], tuple[Words, ...]]

    @cached_property
    def key(self) -> tuple[tuple[tuple[str, ...], tuple[Words, ...]], ...]:
        """The aliases as one hashable value (equal for aliases alike)."""
        return tuple(sorted(self.variants.items()))

    @classmethod
    def compile(cls, raw: Mapping[str, Sequence[str]]) -> Aliases:
        """Resolve `raw` (name to spellings); raises `AliasError` on the first bad alias."""
        names: dict[tuple[str, ...], str] = {}
        spellings: dict[str, list[Words]] = {}
        for name, values in raw.items():
            key = _key(name)
            if key in names:
                raise AliasError(name, f"same words as alias {names[key]!r}")
            names[key] = name
            spellings[name] = _spellings(name, values)
        resolver = _Resolver(names, spellings)
        return cls({_key(name): resolver.resolve(name, ()) for name in raw})

    def expand(self, words: Words) -> list[Words]:
        """The alternatives of `words`: its alias's spellings if it is an alias's name,
        else every phrase made by replacing each word by its alias's spellings."""
        if not any(word.prefix for word in words):
            whole = self.variants.get(tuple(word.word for word in words))
            if whole is not None:
                return list(whole)
        choices = [self._choices(word) for word in words]
        if math.prod(len(choice) for choice in choices) > MAX_VARIANTS:
            raise QueryError(f"more than {MAX_VARIANTS} spellings once aliases are expanded")
        return [tuple(chain.from_iterable(combo)) for combo in product(*choices)]

    def _choices(self, word: Term) -> tuple[Words, ...]:
        if word.prefix:
            return ((word,),)
        return self.variants.get((word.word,), ((word,),))


def brief(value: str, limit: int = 40) -> str:
    """`value` quoted, cut to its first `limit` characters when longer."""
    return repr(value) if len(value) <= limit else f"{value[:limit]!r}…"


def _key(name: str) -> tuple[str, ...]:
    """The normalized words of an alias name."""
    try:
        words = parse_words(name)
    except QueryError as exc:
        raise AliasError(name, str(exc)) from None
    if any(word.prefix for word in words):
        raise AliasError(name, "a name cannot hold a wildcard")
    return tuple(word.word for word in words)


def _spellings(name: str, values: Sequence[str]) -> list[Words]:
    """The spellings listed, then the transliterations of the name and of each spelling
    without a wildcard, as far as `MAX_VARIANTS` allows (and those of at most
    `MAX_LITERAL` characters: "Щ" gives "Shch")."""
    if not values:
        raise AliasError(name, "no spellings listed")
    out = []
    for value in values:
        try:
            out.append(parse_words(value))
        except QueryError as exc:
            raise AliasError(name, f"spelling {brief(value)}: {exc}") from None
    written = {tuple(word.word for word in words) for words in out} | {_key(name)}
    for value in (name, *values):
        for spelling in transliterations(value) if "*" not in value else ():
            if len(spelling) > MAX_LITERAL:
                continue
            words = parse_words(spelling)
            key = tuple(word.word for word in words)
            if key not in written and len(written) < MAX_VARIANTS:
                written.add(key)
                out.append(words)
    return out


class _Resolver:
    """Resolves aliases once each, following the spellings that name other aliases."""

    def __init__(
        self, names: Mapping[tuple[str, ...], str], spellings: Mapping[str, list[Words]]
    ) -> None:
        self.names = names
        self.spellings = spellings
        self.done: dict[str, tuple[Words, ...]] = {}

    def resolve(self, name: str, path: tuple[str, ...]) -> tuple[Words, ...]:
        """The spellings of `name`, those naming another alias replaced by its own."""
        if name in path:
            cycle = path[path.index(name) :]
            raise AliasError(name, f"cycle {' → '.join((*cycle, name))}")
        if name not in self.done:
            self.done[name] = self._resolve(name, path)
        return self.done[name]

    def _resolve(self, name: str, path: tuple[str, ...]) -> tuple[Words, ...]:
        out = [parse_words(name)]
        for words in self.spellings[name]:
            other = None if any(w.prefix for w in words) else self.names.get(_plain(words))
            if other is None or other == name:
                out.append(words)
            else:
                out.extend(self.resolve(other, (*path, name)))
        unique = tuple(dict.fromkeys(out))
        if len(unique) > MAX_VARIANTS:
            raise AliasError(name, f"more than {MAX_VARIANTS} spellings once expanded")
        return unique


def _plain(words: Words) -> tuple[str, ...]:
    return tuple(word.word for word in words)
