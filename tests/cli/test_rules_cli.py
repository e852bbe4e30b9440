"""`newsmon rules test`: sources, JSON lines, rule selection, stored articles, exit codes."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml
from typer.testing import CliRunner

from monitors.store import Store
from monitors.store.schema import articles, entries, feeds
from newsmon.cli import app
from tests.cli.test_cli import run_newsmon
from tests.httpserver import LoopbackServer

runner = CliRunner()

RULES = [
    {"id": "senate", "query": "(Senate OR senators) NEAR/8 ratif* AND (Ukraine OR Kyiv)"},
    {"id": "donbas", "query": "Donbas NEAR/10 withdraw*"},
]
SENATE_TEXT = (
    "Senate to weigh Ukraine pact\n"
    "Officials met in Geneva. The Senate would have to ratify the pact with Kyiv, "
    "aides said. Nothing else was agreed.\n"
)
PAGE = b"""<!doctype html><html lang="en"><head><title>Donbass talks</title>
<meta property="og:site_name" content="Wire"></head><body><article><h1>Donbass talks</h1>
<p>Negotiators discussed whether Ukrainian forces would withdraw from the Donbass region
under the draft plan, which both sides were studying on Friday in Geneva.</p>
<p>No agreement was reached, and the talks will resume next week, officials said.</p>
</article></body></html>"""


def write_config(tmp_path: Path, **extra: Any) -> Path:
    raw = {
        "store": f"sqlite:///{tmp_path / 'newsmon.db'}",
        "rules": RULES,
        "aliases": {"Donbas": ["Donbass", "Донбас*"], "Kyiv": ["Kiev"]},
        "fetch": {"allow_private_networks": "127.0.0.1/32", "retries": 0, "timeout": 5},
        **extra,
    }
    raw["rules"] = [{"notify": [], **rule} for rule in raw["rules"]]  # nobody to alert here
    path = tmp_path / "newsmon.yaml"
    path.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    return path


def invoke(*args: str) -> Any:
    return runner.invoke(app, ["rules", "test", *args])


def json_lines(output: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in output.splitlines() if line.startswith("{")]


def test_text_and_html_files(tmp_path: Path) -> None:
    text = tmp_path / "senate.txt"
    text.write_text(SENATE_TEXT, encoding="utf-8")
    page = tmp_path / "page.html"
    page.write_bytes(PAGE)
    result = invoke("--config", str(write_config(tmp_path)), str(text), str(page))
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == [
        f"{text} (en): Senate to weigh Ukraine pact",
        "  senate: Ukraine, Senate, ratify, Kyiv",
        "    The **Senate** would have to **ratify** the pact with **Kyiv**, aides said.",
        f"{page} (en): Donbass talks",
        "  donbas: Donbass, withdraw",
        "    Negotiators discussed whether Ukrainian forces would **withdraw** from the "
        "**Donbass** region under the draft plan, which both sides were studying on Friday "
        "in Geneva.",
    ]


def test_json_gives_one_line_per_source_and_rule(tmp_path: Path) -> None:
    text = tmp_path / "senate.txt"
    text.write_text(SENATE_TEXT, encoding="utf-8")
    result = invoke("--config", str(write_config(tmp_path)), "--json", str(text))
    assert result.exit_code == 0, result.output
    assert json_lines(result.output) == [
        {
            "source": str(text),
            "rule": "senate",
            "lang": "en",
            "matched": True,
            "terms": ["Ukraine", "Senate", "ratify", "Kyiv"],
            "passage": (
                "The **Senate** would have to **ratify** the pact with **Kyiv**, aides said."
            ),
            "cut": None,
        },
        {
            "source": str(text),
            "rule": "donbas",
            "lang": "en",
            "matched": False,
            "terms": [],
            "passage": "",
            "cut": None,
        },
    ]


def test_site_and_lang_options_scope_file_sources(tmp_path: Path) -> None:
    text = tmp_path / "senate.txt"
    text.write_text(SENATE_TEXT, encoding="utf-8")
    page = tmp_path / "page.html"
    page.write_bytes(PAGE)
    rules = [
        {"id": "site", "query": "Senate site:reuters.com"},
        {"id": "lang", "query": "(Senate OR Donbas) lang:en"},
    ]
    config = str(write_config(tmp_path, rules=rules))

    def verdicts(*args: str) -> list[tuple[str, str, bool]]:
        result = invoke("-c", config, "--json", *args, str(text), str(page))
        assert result.exit_code == 0, result.output
        return [(j["source"], j["rule"], j["matched"]) for j in json_lines(result.output)]

    assert verdicts() == [  # a text file's language is told from its words
        (str(text), "site", False),
        (str(text), "lang", True),
        (str(page), "site", False),
        (str(page), "lang", True),
    ]
    assert verdicts("--site", "www.reuters.com", "--lang", "ru") == [
        (str(text), "site", True),
        (str(text), "lang", False),
        (str(page), "site", False),
        (str(page), "lang", False),
    ]
    stored = invoke("-c", config, "--stored", "--site", "reuters.com")
    assert stored.exit_code == 2
    assert "--site and --lang go with SOURCE files or URLs" in stored.output


def test_rule_option_selects_rules(tmp_path: Path) -> None:
    text = tmp_path / "senate.txt"
    text.write_text(SENATE_TEXT, encoding="utf-8")
    config = str(write_config(tmp_path))
    result = invoke("-c", config, "--json", "--rule", "donbas", str(text))
    assert result.exit_code == 0, result.output
    assert [(j["rule"], j["matched"]) for j in json_lines(result.output)] == [("donbas", False)]
    unknown = invoke("-c", config, "--rule", "nope", str(text))
    assert unknown.exit_code == 2
    assert "Error: unknown rule nope (rules: senate, donbas)" in unknown.output


def test_a_url_is_fetched_and_extracted(tmp_path: Path) -> None:
    with LoopbackServer() as server:
        server.add("/story.html", PAGE, headers={"Content-Type": "text/html"})
        url = server.url("/story.html")
        result = invoke("-c", str(write_config(tmp_path)), "--json", url)
    assert result.exit_code == 0, result.output
    found = {j["rule"]: j for j in json_lines(result.output)}
    assert found["donbas"]["source"] == url
    assert found["donbas"]["matched"] is True
    assert found["donbas"]["terms"] == ["Donbass", "withdraw"]


def test_unreadable_sources_exit_1_after_the_others(tmp_path: Path) -> None:
    text = tmp_path / "senate.txt"
    text.write_text(SENATE_TEXT, encoding="utf-8")
    binary = tmp_path / "blob.txt"
    binary.write_bytes(b"\xff\xfe\x00bad")
    with LoopbackServer() as server:
        server.add("/gone", b"", status=404)
        gone = server.url("/gone")
        missing = str(tmp_path / "missing.txt")
        args = ["-c", str(write_config(tmp_path)), "--json", missing, gone, str(binary), str(text)]
        result = invoke(*args)
    assert result.exit_code == 1
    assert f"error: {missing}: No such file or directory" in result.output
    assert f"error: {gone}: HTTP 404" in result.output
    assert f"error: {binary}: not UTF-8 text" in result.output
    assert [j["source"] for j in json_lines(result.output)] == [str(text), str(text)]


def test_a_text_on_standard_input_and_a_text_given_as_a_file_name(tmp_path: Path) -> None:
    """`-` reads a headline line and the text from standard input; a text given where a
    file was expected is told how to give it."""
    config = str(write_config(tmp_path))
    piped = runner.invoke(app, ["rules", "test", "-c", config, "--json", "-"], input=SENATE_TEXT)
    assert piped.exit_code == 0, piped.output
    assert {j["source"] for j in json_lines(piped.output)} == {"-"}
    assert any(j["matched"] for j in json_lines(piped.output))
    typed = invoke("-c", config, "Senate ratifies the pact")
    assert typed.exit_code == 1
    assert "Senate ratifies the pact: No such file or directory (to test a text" in typed.output


def test_a_bad_config_exits_2_naming_the_rule_and_position(tmp_path: Path) -> None:
    config = write_config(tmp_path, rules=[{"id": "bad", "query": "Senate NEAR ratify"}])
    result = invoke("-c", str(config), str(config))
    assert result.exit_code == 2
    line, column = next(
        (n, text.index("NEAR") + 1)
        for n, text in enumerate(config.read_text().splitlines(), 1)
        if "Senate NEAR ratify" in text
    )
    assert (
        f"{config}:{line}: rules[0].query: rule 'bad': NEAR at line {line}, column {column} "
        "needs a number of words, as in NEAR/5" in result.output
    )


def test_a_date_that_is_not_one_is_told_the_format(tmp_path: Path) -> None:
    args = ["rules", "test", "-c", str(write_config(tmp_path)), "--stored", "--since", "yesterday"]
    result = runner.invoke(app, args, env={"COLUMNS": "200"})
    assert result.exit_code == 2
    assert "not a date: 'yesterday' (use YYYY-MM-DD or an ISO 8601 time)" in result.output


def test_sources_or_stored_but_not_both(tmp_path: Path) -> None:
    config = str(write_config(tmp_path))
    assert invoke("-c", config).exit_code == 2
    assert invoke("-c", config, "--stored", config).exit_code == 2
    assert invoke("-c", config, "--since", "2026-01-01", config).exit_code == 2


def store_articles(url: str, rows: list[dict[str, Any]]) -> None:
    """Articles stored as the pipeline stores them, each under its own entry."""
    store = Store.open(url)
    now = datetime.now(UTC)
    with store.engine.begin() as conn:
        feed_id = conn.execute(
            feeds.insert().values(url="https://example.com/feed")
        ).inserted_primary_key[0]
        for i, row in enumerate(rows):
            link = f"https://example.com/{i}"
            entry_id = conn.execute(
                entries.insert().values(
                    feed_id=feed_id, key=link, url=link, canonical_url=link, first_seen_at=now
                )
            ).inserted_primary_key[0]
            conn.execute(
                articles.insert().values(
                    entry_id=entry_id,
                    url=link,
                    canonical_url=link,
                    site="example.com",
                    source="page",
                    text_hash=str(i),
                    **row,
                )
            )
    store.close()


def test_stored_articles_since_a_date(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    old = datetime(2026, 1, 1, tzinfo=UTC)
    new = datetime(2026, 3, 1, tzinfo=UTC)
    withdraw = "Forces would withdraw from the Donbas, the plan says."
    store_articles(
        f"sqlite:///{tmp_path / 'newsmon.db'}",
        [
            {"title": "Old", "text": withdraw, "fetched_at": old},
            {"title": "New", "text": withdraw, "fetched_at": new, "language": "en"},
            {"title": "Copy", "text": withdraw, "fetched_at": new, "duplicate_of": 1},
            {"title": "Other", "text": "Weather.", "fetched_at": new},
        ],
    )
    every = invoke("-c", str(config), "--stored", "--json", "--rule", "donbas")
    assert every.exit_code == 0, every.output
    assert [(j["source"], j["matched"]) for j in json_lines(every.output)] == [
        ("https://example.com/0", True),
        ("https://example.com/1", True),
        ("https://example.com/3", False),
    ]
    recent = invoke("-c", str(config), "--stored", "--since", "2026-02-01")
    assert recent.exit_code == 0, recent.output
    assert recent.output.splitlines() == [
        "https://example.com/1 (en): New",
        "  donbas: withdraw, Donbas",
        "    Forces would **withdraw** from the **Donbas**, the plan says.",
        "https://example.com/3 (language unknown): Other",
        "  no rule matches",
    ]


def test_stored_exits_3_when_the_store_is_unreachable(tmp_path: Path) -> None:
    config = write_config(tmp_path, store="postgresql+psycopg://nobody@127.0.0.1:1/newsmon")
    result = invoke("-c", str(config), "--stored")
    assert result.exit_code == 3
    assert "Store unavailable" in result.output


# -- rule inputs that crashed or hung (the limits of docs/rules.md) ------------------------

HUGE_DISTANCE = "Kyiv NEAR/" + "9" * 5_000 + " peace"
CHAIN = " NEAR/1000 ".join(["(alpha OR beta OR gamma)"] * 40)


def test_a_distance_of_thousands_of_digits_exits_2_naming_the_rule(tmp_path: Path) -> None:
    path = write_config(tmp_path, rules=[{"id": "huge", "query": HUGE_DISTANCE}])
    text = tmp_path / "senate.txt"
    text.write_text(SENATE_TEXT, encoding="utf-8")
    for args in (["check", "--config", str(path)], ["rules", "test", "-c", str(path), str(text)]):
        result = runner.invoke(app, args)
        assert result.exit_code == 2, result.output
        assert result.exception is None or isinstance(result.exception, SystemExit)
        assert (
            "rules[0].query: rule 'huge': distance 99999999… (5,000 digits) at line"
            in result.output
        )
        assert "above 1000 words" in result.output


def test_a_literal_of_600000_characters_exits_2_instead_of_crashing(tmp_path: Path) -> None:
    """It made every command die with SIGSEGV when pyahocorasick freed its automaton: in a
    rule it is over the query's cap, in an alias over a spelling's, and refused before."""
    path = write_config(
        tmp_path,
        rules=[{"id": "huge", "query": "a" * 600_000}, {"id": "big", "query": "Big"}],
        aliases={"Big": ["b" * 600_000]},
    )
    done = run_newsmon("check", "--config", str(path), timeout=60)
    assert done.returncode == 2, done.stderr
    assert "rule 'huge': query of 600,000 characters (at most 50,000)" in done.stderr
    assert (
        f"aliases.Big: spelling {'b' * 40!r}…: a word or phrase of 600,000 characters at "
        "position 0 (at most 200)"
    ) in done.stderr


def test_rules_test_says_what_the_matching_limits_left_out(tmp_path: Path) -> None:
    rules = [*RULES, {"id": "chain", "query": CHAIN}]
    path = write_config(tmp_path, rules=rules, matching={"max_chars": 20_000, "timeout": 0.5})
    text = tmp_path / "long.txt"
    filler = " ".join(["alpha beta gamma"] * 2_000)
    text.write_text(f"Headline\n{SENATE_TEXT}\n{filler}\nDonbas withdrawal.\n", encoding="utf-8")
    result = invoke("--config", str(path), str(text))
    assert result.exit_code == 0, result.output
    cut = result.output.splitlines()[1]
    assert cut.startswith("  matched in part: text cut at character 19,999 of 34,162; ")
    assert cut.endswith("; time limit of 0.5 s reached: 1 rule not evaluated (chain)")
    assert "  senate: Ukraine, Senate, ratify, Kyiv" in result.output
    lines = json_lines(invoke("--config", str(path), "--json", str(text)).output)
    assert [(line["rule"], line["matched"]) for line in lines] == [
        ("senate", True),
        ("donbas", False),
        ("chain", None),
    ]
    assert all(line["cut"] == cut.removeprefix("  matched in part: ") for line in lines)
