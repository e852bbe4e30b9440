"""The forms a rule's Cyrillic prefixes miss: for each `word*` of the rules in Cyrillic, the
lemmas of the dictionary words it starts (pymorphy3's Ukrainian and Russian dictionaries)
whose own form it starts and which are at most three letters longer than it (the lemma the
writer meant), and the forms of those lemmas the prefix does not start: "должн*" misses
"должен", "подпис*" misses "подпишут". Comparatives ("поактивнее") are left out; a form
the rule writes out beside the prefix still shows here, so read the list against the query.

    python bench/prefixes.py [--config config/newsmon.yaml]
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path
from typing import Any

import pymorphy3
import yaml

REPO = Path(__file__).resolve().parent.parent

_PREFIX = re.compile(r"[А-Яа-яЁёІіЇїЄєҐґ'ʼ]+(?=\*)")
SAMPLE = 400  # dictionary words looked at per prefix
MIN_PREFIX = 4


def prefixes(config: Path) -> list[str]:
    """The Cyrillic prefixes (`word*`) of the config's rules, lower case."""
    rules = yaml.safe_load(config.read_text(encoding="utf-8"))["rules"]
    found = (m.lower() for rule in rules for m in _PREFIX.findall(rule["query"]))
    return sorted({p for p in found if len(p) >= MIN_PREFIX})


def missed(prefix: str, analyzer: Any) -> dict[str, list[str]]:
    """The lemmas `prefix` was meant for, each with the forms it does not start."""
    lemmas: dict[str, Any] = {}
    for word in analyzer.dictionary.words.keys(prefix)[:SAMPLE]:
        for parse in analyzer.parse(word):
            lemma = parse.normal_form
            if lemma.startswith(prefix) and len(lemma) - len(prefix) <= 3:
                lemmas.setdefault(lemma, parse)
    out = {}
    for lemma, parse in lemmas.items():
        forms = {form.word for form in parse.lexeme}
        lost = sorted(f for f in forms if not f.startswith(prefix) and not _comparative(f))
        if lost and len(lost) <= len(forms) / 3:
            out[lemma] = lost
    return out


def _comparative(form: str) -> bool:
    return form.startswith(("по", "наи")) and form.endswith(("ее", "ей", "ая", "ий", "ое", "ую"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", type=Path, default=REPO / "config" / "newsmon.yaml")
    args = parser.parse_args()
    found = prefixes(args.config)
    analyzers = {lang: pymorphy3.MorphAnalyzer(lang=lang) for lang in ("uk", "ru")}
    lines = [
        f"{prefix}* [{lang}] {lemma}: misses {', '.join(lost[:6])}"
        for prefix in found
        for lang, analyzer in analyzers.items()
        for lemma, lost in missed(prefix, analyzer).items()
    ]
    print("\n".join(lines))
    print(f"{len(found)} prefixes, {len(lines)} lemmas with forms their prefix misses")


if __name__ == "__main__":
    main()
