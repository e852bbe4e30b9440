"""The literal-term prefilter: every literal of every rule in one Aho-Corasick automaton.

A literal is searched as a substring of `Document.haystack`: " word " for a word (and
" form " for each of its inflected forms), " word" for a prefix, " security guarantee"
for a phrase ending in a prefix. One pass
over an article tells which search strings it holds, whatever the number of rules.
"""

from __future__ import annotations

from operator import itemgetter

import ahocorasick

from monitors.rules.query import Term


def needles(words: tuple[Term, ...]) -> tuple[list[str], int]:
    """The search strings of `words`, one per spelling of the first word, and how many
    words each holds: the words up to the first prefix, or up to the next word with forms
    (its spellings are checked after the search)."""
    searched = 1
    while searched < len(words) and not words[searched - 1].prefix and not words[searched].forms:
        searched += 1
    rest = [word.word for word in words[1:searched]]
    whole = "" if words[searched - 1].prefix else " "
    heads = (words[0].word,) if words[0].prefix else words[0].spellings
    return [" " + " ".join((head, *rest)) + whole for head in heads], searched


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
