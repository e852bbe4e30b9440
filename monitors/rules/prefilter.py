"""The literal-term prefilter: every literal of every rule in one Aho-Corasick automaton.

A literal is searched as a substring of `Document.haystack`: " word " for a word,
" word" for a prefix, " security guarantee" for a phrase ending in a prefix. One pass
over an article tells which search strings it holds, whatever the number of rules.
"""

from __future__ import annotations

from operator import itemgetter

import ahocorasick

from monitors.rules.query import Term


def needle(words: tuple[Term, ...]) -> tuple[str, int]:
    """The search string of `words` up to the first prefix, and how many words it holds."""
    searched: list[str] = []
    for word in words:
        searched.append(word.word)
        if word.prefix:
            return " " + " ".join(searched), len(searched)
    return " " + " ".join(searched) + " ", len(searched)


class Prefilter:
    """Search strings, each with an id, found together in one pass."""

    def __init__(self) -> None:
        self._ids: dict[str, int] = {}
        self._automaton = ahocorasick.Automaton()

    def __len__(self) -> int:
        return len(self._ids)

    def add(self, needle: str) -> int:
        """The id of `needle`, added if new."""
        if needle not in self._ids:
            self._ids[needle] = len(self._ids)
            self._automaton.add_word(needle, self._ids[needle])
        return self._ids[needle]

    def freeze(self) -> None:
        """Build the automaton; call once, after the last `add`."""
        if self._ids:
            self._automaton.make_automaton()

    def scan(self, haystack: str) -> set[int]:
        """The ids of the search strings found in `haystack`."""
        if not self._ids:
            return set()
        return set(map(_ID, self._automaton.iter(haystack)))


_ID = itemgetter(1)
