"""Rule matching on hostile input: how long one article can hold the matcher.

Two cases, each timed once (wall clock and the thread's CPU time) with the default
`matching:` limits of the config (`--no-limits`: without them, as before they existed):

- the shipped rules of `config/newsmon.yaml` on 1 MB of adversarial text: sentences
  drawn (seeded) from the rules' own literals, so that every rule is evaluated, every
  NEAR finds windows everywhere and every literal is a hit to explain;
- a chain of 39 `NEAR/1000` over 40 `(alpha OR beta OR gamma)` groups on 160 KB of those
  three words.

    python bench/rule_limits.py                 # print the figures
    python bench/rule_limits.py --no-limits     # the same, the rules reading all, untimed
    python bench/rule_limits.py --size 200000   # another size for the shipped-rules text
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from monitors import config as config_mod  # noqa: E402
from monitors.rules import Limits, Node, Not, Phrase, RuleSet, Term  # noqa: E402

SHIPPED = REPO / "config" / "newsmon.yaml"
ENV = {
    "SLACK_WEBHOOK_URL": "slack://T000/B000/XXXX",
    "ALERT_EMAIL_URL": "mailtos://user:pass@smtp.example.com?to=desk@example.com",
}
SEED = 20261205
CHAIN_GROUPS = 40
CHAIN_WORDS = ("alpha", "beta", "gamma")


def literals(node: Node) -> list[str]:
    """Text holding each literal of `node` (a prefix completed with an "s")."""
    if isinstance(node, Term):
        return [node.word + ("s" if node.prefix else "")]
    if isinstance(node, Phrase):
        return [" ".join(w.word + ("s" if w.prefix else "") for w in node.words)]
    if isinstance(node, Not):
        return literals(node.child)
    return [text for child in node.children for text in literals(child)]  # type: ignore[attr-defined]


def adversarial_text(vocabulary: list[str], size: int, seed: int = SEED) -> str:
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


def chain_case(size: int, seed: int = SEED) -> tuple[str, str]:
    """The chain query and `size` characters of its three words."""
    query = " NEAR/1000 ".join(["(" + " OR ".join(CHAIN_WORDS) + ")"] * CHAIN_GROUPS)
    rnd = random.Random(seed)
    words: list[str] = []
    total = 0
    while total < size:
        words.append(rnd.choice(CHAIN_WORDS))
        total += len(words[-1]) + 1
    return query, " ".join(words)[:size]


def timed(ruleset: RuleSet, title: str, text: str) -> str:
    """What matching `text` cost (wall and thread CPU seconds) and gave."""
    wall, cpu = time.perf_counter(), time.thread_time()
    result = ruleset.matching(title, text)
    wall, cpu = time.perf_counter() - wall, time.thread_time() - cpu
    matched = ", ".join(m.rule_id for m in result.matches) or "none"
    return f"{wall:.2f} s wall, {cpu:.2f} s CPU; matched: {matched}; cut: {result.cut}"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=int, default=1_000_000, help="shipped-rules text size")
    parser.add_argument("--chain-size", type=int, default=160_000, help="chain text size")
    parser.add_argument("--no-limits", action="store_true", help="read all, no time limit")
    args = parser.parse_args(argv)

    cfg = config_mod.load(SHIPPED, env=ENV)
    limits = Limits() if args.no_limits else cfg.matching.limits()
    print(f"limits: {limits}")
    shipped = RuleSet(cfg.ruleset().rules, limits)
    vocabulary = sorted({text for rule in shipped.rules for text in literals(rule.node)})
    text = adversarial_text(vocabulary, args.size)
    print(
        f"shipped rules ({len(shipped)}, {len(vocabulary)} literals), {len(text):,} characters: "
        + timed(shipped, "Adversarial", text)
    )
    query, chain_text = chain_case(args.chain_size)
    chain = RuleSet.compile([("chain", query)], limits=limits)
    print(
        f"chain of {CHAIN_GROUPS - 1} NEAR/1000, {len(chain_text):,} characters: "
        + timed(chain, "Chain", chain_text)
    )


if __name__ == "__main__":
    main()
