"""The shipped rules of config/newsmon.yaml against the seed coverage of tests/data/seeds:
five real write-ups of one story, and the table of what each reports for each rule.

Each text is split into title and text as tests/data/seeds/README.md says; the verdicts
are that README's table of what a desk reader says each text reports.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from monitors import config as config_mod
from monitors.rules import RuleSet
from tests.conftest import DATA, ROOT

SEEDS = DATA / "seeds"
RULES = ["security-guarantees", "donbas-withdrawal", "senate-ratification"]
ENV = {
    "SLACK_WEBHOOK_URL": "slack://T000/B000/XXXX",
    "ALERT_EMAIL_URL": "mailtos://user:pass@smtp.example.com?to=desk@example.com",
}


def table(markdown: str, header: list[str]) -> list[list[str]]:
    """The body rows of the markdown table whose header cells are `header`."""
    rows: list[list[str]] = []
    inside = False
    for line in markdown.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if not line.startswith("|"):
            inside = False
        elif cells == header:
            inside = True
        elif inside and not set("".join(cells)) <= set("-: "):
            rows.append(cells)
    return rows


README = (SEEDS / "README.md").read_text(encoding="utf-8")
VERDICTS = {row[0]: row[1:] for row in table(README, ["file", *RULES])}
SPLITS = {row[0]: row[1] for row in table(README, ["file", "title", "text"])}


def seed(path: Path) -> tuple[str, str]:
    """The title and text of a seed file, split as the README's table says."""
    lines = path.read_text(encoding="utf-8").split("\n")
    found = re.fullmatch(r"line (\d+)", SPLITS[path.name])
    if found is None:
        return "", "\n".join(lines)
    headline = int(found.group(1)) - 1
    return lines[headline], "\n".join(lines[headline + 1 :])


FILES = sorted(SEEDS.glob("*.txt"))


@pytest.fixture(scope="module")
def shipped() -> RuleSet:
    return config_mod.load(ROOT / "config" / "newsmon.yaml", env=ENV).ruleset()


def test_the_tables_cover_every_seed() -> None:
    assert [path.name for path in FILES] == sorted(SPLITS)
    assert sorted(VERDICTS) == [path.name[:3] for path in FILES]
    assert all(cell.split()[0] in ("yes", "no") for cells in VERDICTS.values() for cell in cells)


def test_seed_split() -> None:
    titles = {path.name[:3]: seed(path)[0] for path in FILES}
    assert titles == {
        "000": "US offers Ukraine security guarantees for territory concessions",
        "001": "US Offers Security Guarantees to Ukraine in Peace Talks, Officials Say.",
        "002": "US offers Ukraine security guarantees, issues remain",
        "003": "",
        "004": "",
    }
    assert seed(SEEDS / "000_624c979dc58d29e1.txt")[1].startswith("(MENAFN) The Trump")
    assert seed(SEEDS / "003_86dcefa09d6f54ea.txt")[1].startswith("WASHINGTON, United States\n")


@pytest.mark.parametrize("path", FILES, ids=[path.name[:3] for path in FILES])
def test_seed_table(shipped: RuleSet, path: Path) -> None:
    title, text = seed(path)
    found = {m.rule_id for m in shipped.match(title, text)}
    cells = VERDICTS[path.name[:3]]
    expected = {rule: cell.split()[0] == "yes" for rule, cell in zip(RULES, cells, strict=True)}
    assert {rule: rule in found for rule in RULES} == expected
