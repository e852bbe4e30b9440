"""Kin: the words a rule treats as one, the alternatives of each of its OR groups.

`(cede OR ceding OR (giv* NEAR/2 up) OR "hand over")` makes "ceding", "giving up" and
"hand over" kin: a text saying one of them says what another text saying another does.
An alternative counts when it is plain: a word, a phrase, an alias's spellings, a word
less its exclusions (`approv* -budget`) or two words near each other (`giv* NEAR/2 up`).
Alternatives built of groups (`(send OR submit) NEAR/6 Senate`) are no kin of anything,
nor are the alternatives a rule only asks to share a sentence with the rest (`... NEAR/s
(peace OR deal OR referendum)`): they say the sentence is about the matter, each in its
own sense.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from monitors.rules.parse import MAX_SLOP
from monitors.rules.query import And, Near, Node, Not, Or, Phrase, Term
from monitors.text import words

MAX_GAP = 3  # words between the two words of a NEAR alternative

Form = tuple[tuple[Term, ...], int]  # words in order, at most `gap` other words between


@dataclass(frozen=True)
class Kin:
    """A rule's groups of kin forms (each group two or more forms)."""

    groups: tuple[tuple[Form, ...], ...] = ()

    @classmethod
    def of(cls, node: Node) -> Kin:
        """The kin groups of a parsed query."""
        return cls(tuple(_groups(node)))

    def found(self, text: str) -> dict[int, set[str]]:
        """The groups whose forms `text` holds, each with the (normalized) words of the
        text that make them."""
        tokens = words(text)
        out: dict[int, set[str]] = {}
        for index, group in enumerate(self.groups):
            for form in group:
                out.setdefault(index, set()).update(_occurrences(form, tokens))
            if not out[index]:
                del out[index]
        return out


def _groups(node: Node, context: bool = False) -> Iterable[tuple[Form, ...]]:
    """The kin groups of `node` and of every part of it (not of what it excludes), but
    not `node`'s own when it is only `context` (one side of a NEAR/s)."""
    if isinstance(node, Or) and not context:
        forms = [form for child in node.children for form in _forms(child)]
        if len(set(forms)) > 1:
            yield tuple(dict.fromkeys(forms))
    if isinstance(node, (And, Or, Near)):
        sentence_only = isinstance(node, Near) and node.slop >= MAX_SLOP
        for child in node.children:
            yield from _groups(child, sentence_only)


def _forms(node: Node) -> list[Form]:
    """The plain forms `node` stands for, or none when it is built of groups."""
    if isinstance(node, Term):
        return [((node,), 0)]
    if isinstance(node, Phrase):
        return [(node.words, 0)]
    if isinstance(node, Or):
        found = [_forms(child) for child in node.children]
        return [form for forms in found for form in forms] if all(found) else []
    if isinstance(node, And):
        kept = [child for child in node.children if not isinstance(child, Not)]
        return _forms(kept[0]) if len(kept) == 1 else []
    if isinstance(node, Near) and node.slop <= MAX_GAP and len(node.children) == 2:
        first, second = node.children
        if isinstance(first, Term) and isinstance(second, Term):
            return [((first, second), node.slop)]
    return []


def _occurrences(form: Form, tokens: list[str]) -> set[str]:
    """The words of `tokens` making each occurrence of `form`."""
    terms, gap = form
    out: set[str] = set()
    for i, token in enumerate(tokens):
        if not terms[0].matches(token):
            continue
        taken, at = [token], i
        for term in terms[1:]:
            window = tokens[at + 1 : at + 2 + gap]
            nxt = next((j for j, word in enumerate(window) if term.matches(word)), None)
            if nxt is None:
                break
            at += 1 + nxt
            taken.append(tokens[at])
        else:
            out.update(taken)
    return out
