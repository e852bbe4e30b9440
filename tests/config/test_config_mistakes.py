"""Mistakes a new user makes in the config file, each reported where it is and in the file's
own terms: keys given twice, an empty file, bounds the wrong way round, feeds given twice,
rules that alert nobody, one duration syntax, YAML and query errors at their line."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from monitors import config as config_mod
from monitors.errors import ConfigError, Problem
from tests.conftest import ROOT

HOOK = {"HOOK": "json://127.0.0.1:9/"}
RULE = "rules: [{id: a, query: kyiv, notify: [desk]}]\nchannels: {desk: 'json://127.0.0.1:9/'}\n"


def problems_of(
    tmp_path: Path, text: str, name: str = "newsmon.yaml", **kw: object
) -> list[Problem]:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        config_mod.load(path, env=kw.pop("env", HOOK), **kw)  # type: ignore[arg-type]
    return info.value.problems


def reasons(tmp_path: Path, text: str, **kw: object) -> list[str]:
    return [f"{p.path}: {p.reason}" for p in problems_of(tmp_path, text, **kw)]


def load(tmp_path: Path, text: str) -> config_mod.Config:
    path = tmp_path / "newsmon.yaml"
    path.write_text(text, encoding="utf-8")
    return config_mod.load(path, env=HOOK)


# --- accepted silently before ----------------------------------------------------------


def test_a_key_given_twice_is_a_problem_at_its_line(tmp_path: Path) -> None:
    text = "feeds:\n  - {url: 'https://a.example/x'}\nfeeds:\n  - {url: 'https://b.example/y'}\n"
    [problem] = problems_of(tmp_path, text)
    assert (problem.path, problem.line) == ("feeds", 3)
    assert problem.reason == "given twice (first at line 1): only this one would be used"


def test_a_key_given_twice_inside_a_section(tmp_path: Path) -> None:
    found = reasons(tmp_path, "fetch:\n  timeout: 5s\n  retries: 1\n  timeout: 9s\n" + RULE)
    assert found == ["fetch.timeout: given twice (first at line 2): only this one would be used"]


@pytest.mark.parametrize("text", ["", "\n\n", "# only a comment\n"])
def test_an_empty_file_is_a_problem(tmp_path: Path, text: str) -> None:
    assert reasons(tmp_path, text) == [
        ": the file is empty: give at least feeds, channels and rules (see README.md)"
    ]


def test_min_interval_above_max_interval(tmp_path: Path) -> None:
    found = reasons(tmp_path, "poll: {min_interval: 2h, max_interval: 5m}\n" + RULE)
    assert found == ["poll.max_interval: max_interval (5m) is shorter than min_interval (2h)"]


def test_min_interval_above_the_default_max_interval(tmp_path: Path) -> None:
    found = reasons(tmp_path, "poll: {min_interval: 3h}\n" + RULE)
    assert found == ["poll.max_interval: max_interval (2h) is shorter than min_interval (3h)"]


def test_a_span_check_is_made_beside_another_problem_of_its_section(tmp_path: Path) -> None:
    found = reasons(tmp_path, "stories: {window: 3d, max_span: 1d, same_story: 9}\n" + RULE)
    assert found == [
        "stories.max_span: max_span (1d) is shorter than window (3d)",
        "stories.same_story: should be less than or equal to 1",
    ]


def test_feeds_with_one_name_or_one_url_but_for_the_host_case(tmp_path: Path) -> None:
    text = (
        "feeds:\n"
        "  - {name: Wire, url: 'https://News.Example/feed.xml'}\n"
        "  - {name: Wire, url: 'https://news.example/other.xml'}\n"
        "  - {name: Other, url: 'HTTPS://NEWS.EXAMPLE/feed.xml'}\n"
        "  - {name: Case, url: 'https://news.example/FEED.xml'}\n" + RULE
    )
    assert reasons(tmp_path, text) == [
        "feeds[1].name: duplicate feed name 'Wire' (as feeds[0])",
        "feeds[2].url: duplicate feed HTTPS://NEWS.EXAMPLE/feed.xml (as feeds[0])",
    ]


def test_a_rule_must_say_whom_it_notifies(tmp_path: Path) -> None:
    text = "channels: {desk: 'json://127.0.0.1:9/'}\nrules:\n  - {id: a, query: kyiv}\n"
    [problem] = problems_of(tmp_path, text)
    assert (problem.path, problem.line) == ("rules[0].notify", 3)
    assert "write notify: [] to record this rule's alerts without sending them" in problem.reason


def test_a_rule_may_notify_nobody_when_it_says_so(tmp_path: Path) -> None:
    cfg = load(tmp_path, "rules:\n  - {id: a, query: kyiv, notify: []}\n")
    assert cfg.rules[0].notify == []


# --- one duration syntax, the file's own terms ------------------------------------------


def test_fetch_timeouts_take_durations_as_the_other_sections_do(tmp_path: Path) -> None:
    cfg = load(tmp_path, "fetch: {timeout: 30s, connect_timeout: 1m, read_timeout: 20}\n" + RULE)
    assert (cfg.fetch.timeout, cfg.fetch.connect_timeout, cfg.fetch.read_timeout) == (30, 60, 20)
    assert reasons(tmp_path, "fetch: {timeout: soon}\n" + RULE) == [
        "fetch.timeout: not a duration: 'soon' (use e.g. 30s, 5m, 1h, 1d)"
    ]


@pytest.mark.parametrize(
    ("channel", "reason"),
    [
        ("5", "a channel is an apprise URL, or {secret: NAME} for a Prefect Secret block"),
        ("{url: 'json://x'}", "a channel is an apprise URL, or {secret: NAME} for a Prefect"),
        ("{secret: 5}", "secret 5: a block name is lower-case letters, digits and '-'"),
        ("{secret: Bad Name}", "secret 'Bad Name': a block name is lower-case letters"),
    ],
)
def test_a_bad_channel_is_told_in_the_files_terms(
    tmp_path: Path, channel: str, reason: str
) -> None:
    text = f"channels:\n  desk: {channel}\nrules: [{{id: a, query: kyiv, notify: [desk]}}]\n"
    [problem] = problems_of(tmp_path, text)
    assert problem.path == "channels.desk" and problem.reason.startswith(reason)
    assert "SecretChannel" not in problem.reason and "Input should" not in problem.reason


def test_an_unknown_key_names_the_one_meant(tmp_path: Path) -> None:
    feeds = "feeds: [{url: 'https://a.example/', evry: 5m}]\n"
    found = reasons(tmp_path, "fetch: {timout: 3}\n" + feeds + RULE)
    assert found == [
        "fetch.timout: unknown key (did you mean timeout?)",
        "feeds[0].evry: unknown key (did you mean every?)",
    ]


def test_a_section_of_the_wrong_shape(tmp_path: Path) -> None:
    assert reasons(tmp_path, "fetch: fast\n" + RULE) == [
        "fetch: should be a mapping of keys (key: value)"
    ]


# --- where: YAML errors, query errors, ${VAR, TOML --------------------------------------


def test_a_yaml_error_is_given_at_the_line_where_it_starts(tmp_path: Path) -> None:
    text = "store: sqlite:///x.db\nfeeds: [\n  {url: 'https://a.example/'}\nrules: []\n"
    [problem] = problems_of(tmp_path, text)
    assert problem.line == 2
    assert problem.reason.startswith("not valid YAML: line 2, column 8: while parsing a flow")


@pytest.mark.parametrize(
    ("text", "line", "hint"),
    [
        ("feeds:\n  - url: https://x.example/rss\n notify: [a]\n", 3, "check the indentation"),
        ("feeds:\n  - url: https://x.example/rss\n      name: x\n", 3, "check the indentation"),
        ("feeds:\n\t- url: https://x.example/rss\n", 2, "spaces, not tabs"),
    ],
)
def test_an_indentation_mistake_is_told_at_its_line(
    tmp_path: Path, text: str, line: int, hint: str
) -> None:
    [problem] = problems_of(tmp_path, text)
    assert problem.line == line
    assert problem.reason.startswith(f"not valid YAML: line {line}, column ")
    assert hint in problem.reason


def test_an_unclosed_quote_is_given_where_it_opens(tmp_path: Path) -> None:
    [problem] = problems_of(tmp_path, "store: 'sqlite:///x.db\nfeeds: []\nrules: []\n")
    assert problem.line == 1
    assert "line 1, column 8: while scanning a quoted scalar" in problem.reason


def test_a_query_error_is_given_at_its_line_and_column_in_the_file(tmp_path: Path) -> None:
    text = (
        "channels: {desk: 'json://127.0.0.1:9/'}\n"  # 1
        "rules:\n"  # 2
        "  - id: folded\n"  # 3
        "    notify: [desk]\n"  # 4
        "    query: >-\n"  # 5
        '      (("security guarantee*" OR "security assurance*")\n'  # 6
        "        NEAR/25s (Ukraine OR Kyiv)\n"  # 7
        "       AND (foo OR bar\n"  # 8
        "  - {id: quoted, notify: [desk], query: 'a AND \"b c'}\n"  # 9
        '  - {id: escaped, notify: [desk], query: "x AND \\"y\\" AND title:"}\n'  # 10
    )
    found = reasons(tmp_path, text)
    assert found == [
        "rules[0].query: rule 'folded': unbalanced parenthesis: '(' at line 8, column 12 "
        "is not closed",
        "rules[1].query: rule 'quoted': unbalanced quotes: '\"' at line 9, column 48 is not closed",
        "rules[2].query: rule 'escaped': field 'title:' at line 10, column 59 scopes nothing",
    ]
    lines = text.splitlines()
    assert lines[7][11] == "(" and lines[8][47] == '"' and lines[9][58:64] == "title:"


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("${HOOK", "'${HOOK' is not closed: write ${NAME}"),
        ("json://${1HOOK}/x", "'${1HOOK}' is not a variable: write ${NAME} or ${NAME:-default}"),
    ],
)
def test_a_malformed_variable_is_named_as_such(tmp_path: Path, value: str, reason: str) -> None:
    text = f"channels:\n  desk: '{value}'\nrules: [{{id: a, query: kyiv, notify: [desk]}}]\n"
    [problem] = problems_of(tmp_path, text)
    assert problem.path == "channels.desk" and problem.reason.startswith(reason)


@pytest.mark.parametrize(
    ("name", "text"),
    [
        ("newsmon.toml", "[fetch]\ntimeout = 30\n"),
        ("newsmon.yaml", 'store = "sqlite:///x.db"\n'),
    ],
)
def test_a_toml_file_is_told_that_yaml_is_expected(tmp_path: Path, name: str, text: str) -> None:
    [problem] = problems_of(tmp_path, text, name=name)
    assert "this looks like TOML: the config file is YAML, `key: value`" in problem.reason


# --- the store URL ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("newsmon.db", "not a store URL: use sqlite:///PATH or postgresql+psycopg://USER@HOST/DB"),
        ("mysql://u@h/db", "database 'mysql' is not supported"),
        ("postgres://u@h/db", "write postgresql+psycopg:// (SQLAlchemy does not know postgres://)"),
        ("postgresql+asyncpg://u@h/db", "driver 'asyncpg' is not supported"),
    ],
)
def test_a_store_url_newsmon_cannot_use(tmp_path: Path, url: str, reason: str) -> None:
    found = problems_of(tmp_path, f"store: '{url}'\n" + RULE)
    assert [(p.path, p.line) for p in found] == [("store", 1)]
    assert found[0].reason.startswith(reason)


def test_a_bad_store_variable_is_named(tmp_path: Path) -> None:
    found = problems_of(tmp_path, RULE, env={"NEWSMON_STORE": "garbage"})
    assert [str(p) for p in found] == [
        "environment: NEWSMON_STORE: not a store URL: use sqlite:///PATH or "
        "postgresql+psycopg://USER@HOST/DB"
    ]


def test_the_store_variable_is_noted_on_the_config(tmp_path: Path) -> None:
    path = tmp_path / "newsmon.yaml"
    path.write_text(RULE)
    assert not config_mod.load(path, env={}).store_from_env
    from_env = config_mod.load(path, env={"NEWSMON_STORE": "postgresql+psycopg://u@h/db"})
    assert from_env.store_from_env and from_env.store == "postgresql+psycopg://u@h/db"


# --- channels a command that sends nothing does not need ----------------------------------


def test_channels_naming_unset_variables_when_nothing_is_sent() -> None:
    shipped = ROOT / "config" / "newsmon.yaml"
    cfg = config_mod.load(shipped, env={}, channels_needed=False)
    assert cfg.channels == {"slack": "", "email": ""}
    assert [r.notify for r in cfg.rules] == [["slack", "email"]] * 3
    with pytest.raises(ConfigError) as info:
        config_mod.load(shipped, env={})
    assert [p.path for p in info.value.problems] == ["channels.slack", "channels.email"]


def test_a_channel_that_is_no_url_is_left_empty_when_nothing_is_sent(tmp_path: Path) -> None:
    text = 'channels: {desk: "${HOOK}"}\nrules: [{id: a, query: kyiv, notify: [desk]}]\n'
    path = tmp_path / "newsmon.yaml"
    path.write_text(text)
    cfg = config_mod.load(path, env={"HOOK": "garbage"}, channels_needed=False)
    assert cfg.channels == {"desk": ""}
    assert reasons(tmp_path, text, env={"HOOK": "garbage"}) == [
        "channels.desk: not a valid apprise URL (scheme '(none)')"
    ]


def test_other_unset_variables_are_problems_even_when_nothing_is_sent(tmp_path: Path) -> None:
    text = "store: ${DB_URL}\n" + RULE
    found = reasons(tmp_path, text, env={}, channels_needed=False)
    assert found == [
        "store: environment variable DB_URL is not set "
        "(set it, or write ${DB_URL:-default} for a default)"
    ]


def test_nested_yaml_aliases_cost_no_more_than_the_text(tmp_path: Path) -> None:
    """Nine levels of nine aliases each (the "billion laughs") is a 400-byte file that
    names 387 million strings: it is read and refused at once."""
    levels = ["a0: &a0 ['${HOOK}']"]
    levels += [f"a{n}: &a{n} [{', '.join([f'*a{n - 1}'] * 9)}]" for n in range(1, 10)]
    text = "x-laughs:\n" + "".join(f"  {line}\n" for line in levels) + "feeds: *a9\n"
    started = time.monotonic()
    found = problems_of(tmp_path, text)
    assert time.monotonic() - started < 5
    assert "x-laughs: unknown key" in [f"{p.path}: {p.reason}" for p in found]


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("''", "the URL is empty"),
        ("example.com/rss", "no scheme: write the URL in full, e.g. https://example.com/rss"),
        ("https://example.com:99999/rss", "the port is not a number from 0 to 65535"),
    ],
)
def test_a_feed_url_a_user_mistyped(tmp_path: Path, url: str, reason: str) -> None:
    assert reasons(tmp_path, f"feeds: [{{url: {url}}}]\n{RULE}") == [f"feeds[0].url: {reason}"]


@pytest.mark.parametrize(("env", "state"), [({"HOOK": ""}, "is empty"), ({}, "is not set")])
def test_a_channel_variable_empty_or_unset_is_told_which(
    tmp_path: Path, env: dict[str, str], state: str
) -> None:
    text = 'channels: {desk: "${HOOK}"}\nrules: [{id: a, query: kyiv, notify: [desk]}]\n'
    assert reasons(tmp_path, text, env=env) == [
        f"channels.desk: environment variable HOOK {state} (set it, or write ${{HOOK:-default}} "
        "for a default)"
    ]


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("feeds:\n  - {url: 'https://a.example/x', every: 1s}\n", "feeds[0].every"),
        ("feeds: [{url: 'https://a.example/x'}]\npoll: {min_interval: 30s}\n", "poll.min_interval"),
    ],
)
def test_polling_more_than_once_a_minute_is_refused(tmp_path: Path, text: str, key: str) -> None:
    [problem] = problems_of(tmp_path, text + RULE)
    assert problem.path == key
    assert " is too often: poll a feed at most once a minute" in problem.reason
    assert "WebSub" in problem.reason


def test_polling_once_a_minute_is_accepted(tmp_path: Path) -> None:
    config = load(tmp_path, "feeds:\n  - {url: 'https://a.example/x', every: 1m}\n" + RULE)
    assert config.feeds[0].every == 60.0


def test_rereads_default_to_three_after_ten_minutes_and_zero_turns_them_off(
    tmp_path: Path,
) -> None:
    poll = load(tmp_path, RULE).poll
    assert (poll.reread, poll.reread_after) == (3, 600.0)
    poll = load(tmp_path, "poll: {reread: 0, reread_after: 1h}\n" + RULE).poll
    assert (poll.reread, poll.reread_after) == (0, 3600.0)


@pytest.mark.parametrize(
    ("text", "key"),
    [("poll: {reread: -1}\n", "poll.reread"), ("poll: {reread_after: 0}\n", "poll.reread_after")],
)
def test_a_negative_reread_or_a_zero_gap_is_refused(tmp_path: Path, text: str, key: str) -> None:
    [problem] = problems_of(tmp_path, text + RULE)
    assert problem.path == key
