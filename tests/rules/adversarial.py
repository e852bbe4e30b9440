"""Adversarial text for the rules: sentences made only of the rules' own words, so every
rule is evaluated and every NEAR finds partners everywhere (tests and bench/rule_limits)."""

from __future__ import annotations

import random

from monitors.rules import Node, Not, Phrase, Term


def literals(node: Node) -> list[str]:
    """Text holding each literal of `node` (a prefix completed with an "s")."""
    if isinstance(node, Term):
        return [node.word + ("s" if node.prefix else "")]
    if isinstance(node, Phrase):
        return [" ".join(w.word + ("s" if w.prefix else "") for w in node.words)]
    if isinstance(node, Not):
        return literals(node.child)
    return [text for child in node.children for text in literals(child)]  # type: ignore[attr-defined]


def adversarial_text(vocabulary: list[str], size: int, seed: int) -> str:
    """About `size` characters of sentences of 8 to 20 of `vocabulary`, five to a line."""
    rnd = random.Random(seed)
    sentences: list[str] = []
    total = 0
    while total < size:
        words = " ".join(rnd.choice(vocabulary) for _ in range(rnd.randint(8, 20)))
        sentences.append(words.capitalize() + ".")
        total += len(sentences[-1]) + 1
    lines = (" ".join(sentences[i : i + 5]) for i in range(0, len(sentences), 5))
    return "\n".join(lines)[:size]
