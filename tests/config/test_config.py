"""Config loading: expansion, validation, and a readable list of every problem."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from monitors import config as config_mod
from monitors.errors import ConfigError
from tests.conftest import ROOT

SHIPPED = ROOT / "config" / "newsmon.yaml"
ENV = {"SLACK_WEBHOOK_URL": "slack://T1/B2/C3", "ALERT_EMAIL_URL": "mailto://u:p@example.com"}

GOOD = """
store: sqlite:///db/newsmon.db
feeds:
  - {url: "https://example.com/feed.xml", name: Example, every: 15m}
channels:
  slack: ${HOOK}
rules:
  - {id: kyiv, title: Kyiv news, query: 'Kyiv AND "security guarantee*"', notify: [slack]}
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "newsmon.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def problems(tmp_path: Path, text: str, env: dict[str, str] | None = None) -> list[str]:
    with pytest.raises(ConfigError) as info:
        config_mod.load(write(tmp_path, text), env=env or {"HOOK": "json://127.0.0.1:9/"})
    return [f"{p.path}: {p.reason}" for p in info.value.problems]


def test_shipped_config_is_valid_with_its_variables() -> None:
    cfg = config_mod.load(SHIPPED, env=ENV)
    assert len(cfg.feeds) >= 10
    assert [r.id for r in cfg.rules] == [
        "security-guarantees",
        "donbas-withdrawal",
        "senate-ratification",
    ]
    assert set(cfg.channels) == {"slack", "email"}
    assert all(r.notify == ["slack", "email"] for r in cfg.rules)


def test_shipped_config_names_its_unset_variables() -> None:
    with pytest.raises(ConfigError) as info:
        config_mod.load(SHIPPED, env={})
    assert [(p.path, p.reason) for p in info.value.problems] == [
        (
            "channels.slack",
            "environment variable SLACK_WEBHOOK_URL is not set "
            "(set it, or write ${SLACK_WEBHOOK_URL:-default} for a default)",
        ),
        (
            "channels.email",
            "environment variable ALERT_EMAIL_URL is not set "
            "(set it, or write ${ALERT_EMAIL_URL:-default} for a default)",
        ),
    ]


def test_good_config_expands_and_resolves(tmp_path: Path) -> None:
    cfg = config_mod.load(write(tmp_path, GOOD), env={"HOOK": "json://127.0.0.1:9/"})
    assert cfg.channels == {"slack": "json://127.0.0.1:9/"}
    assert cfg.feeds[0].every == 900
    assert cfg.store == f"sqlite:///{tmp_path.resolve() / 'db' / 'newsmon.db'}"
    assert cfg.labels() == {"kyiv": "Kyiv news"}


def test_store_from_environment_overrides(tmp_path: Path) -> None:
    env = {"HOOK": "json://127.0.0.1:9/", "NEWSMON_STORE": "postgresql+psycopg://u@h/db"}
    assert config_mod.load(write(tmp_path, GOOD), env=env).store == "postgresql+psycopg://u@h/db"


def test_default_values_of_variables(tmp_path: Path) -> None:
    text = GOOD.replace("${HOOK}", "${HOOK:-json://127.0.0.1:10/}")
    assert config_mod.load(write(tmp_path, text), env={}).channels["slack"] == (
        "json://127.0.0.1:10/"
    )


def test_every_problem_is_listed_with_its_key_path(tmp_path: Path) -> None:
    text = """
store: sqlite:///x.db
colour: blue
feeds:
  - {url: "file:///etc/passwd"}
  - {url: "https://example.com/a.xml", every: often}
  - {url: "https://example.com/a.xml"}
  - {name: no url}
channels:
  slack: ${UNSET_HOOK}
  bogus: "nonsense-scheme://x"
rules:
  - {id: a, query: '(Kyiv OR Kiev', notify: [slack]}
  - {id: b, query: 'Kyiv', notify: [pager]}
  - {id: b, query: 'Kyiv', notify: []}
  - {id: Bad Id, query: 'x', notify: []}
"""
    found = problems(tmp_path, text)
    expected = [
        "colour: unknown key",
        "feeds[0].url: scheme 'file' is not allowed: use http or https",
        "feeds[1].every: not a duration: 'often' (use e.g. 30s, 5m, 1h, 1d)",
        "feeds[2].url: duplicate feed https://example.com/a.xml (as feeds[1])",
        "feeds[3].url: required key is missing",
        "channels.slack: environment variable UNSET_HOOK is not set "
        "(set it, or write ${UNSET_HOOK:-default} for a default)",
        "rules[1].notify[0]: no channel named 'pager' (channels: bogus, slack)",
        "rules[2].id: duplicate rule id 'b'",
        "rules[3].id: 'Bad Id': use lower-case letters, digits, '-' and '_'",
    ]
    for line in expected:
        assert line in found, f"missing problem {line!r} in {found}"
    assert any(p.startswith("channels.bogus: not a valid apprise URL") for p in found)
    assert any(p.startswith("rules[0].query: rule 'a':") for p in found)
    assert not any(p.startswith("channels.slack: empty channel URL") for p in found)


def test_problems_name_the_file_and_line(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        config_mod.load(write(tmp_path, "\nfeeds: [{url: 'ftp://x/'}]"), env={})
    where = f"{tmp_path / 'newsmon.yaml'}:2: feeds[0].url: scheme 'ftp'"
    assert str(info.value).startswith(where)


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("feeds: [", "not valid YAML: line 1, column"),
        ("- a\n- b\n", "the file must hold a mapping of keys"),
    ],
)
def test_unreadable_documents(tmp_path: Path, text: str, reason: str) -> None:
    assert any(reason in p for p in problems(tmp_path, text))


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no such file"):
        config_mod.load(tmp_path / "nope.yaml", env={})


def test_backslash_url_rejected(tmp_path: Path) -> None:
    found = problems(tmp_path, "feeds: [{url: 'https:\\\\\\\\evil.example\\\\feed'}]")
    assert found == ["feeds[0].url: a URL may not hold backslashes or spaces"]


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        ("30s", 30),
        ("5m", 300),
        ("1h30m", 5400),
        ("1d", 86400),
        (90, 90),
        ("5 minutes", 300),
        ("1 hour, 30 mins", 5400),
        ("2 hrs", 7200),
        ("45 Seconds", 45),
        ("1 day", 86400),
    ],
)
def test_durations(value: str | int, seconds: float) -> None:
    assert config_mod.parse_duration(value) == seconds


@pytest.mark.parametrize(
    "value", ["5ms", "5 mo", "five minutes", "5 minutesx", "m5", "", True, "--5m", "-x"]
)
def test_bad_durations(value: object) -> None:
    with pytest.raises(ValueError, match="not a duration"):
        config_mod.parse_duration(value)


@pytest.mark.parametrize("value", ["-5m", "-1", "- 1h30m", -1, 0, "0s"])
def test_a_duration_under_zero_is_named_as_such(value: object) -> None:
    with pytest.raises(ValueError, match=f"a duration must be positive, not {value!r}"):
        config_mod.parse_duration(value)


def test_bad_private_networks(tmp_path: Path) -> None:
    found = problems(tmp_path, "fetch: {allow_private_networks: '10.0.0.0/33'}")
    assert len(found) == 1 and found[0].startswith("fetch.allow_private_networks:")


def test_the_readme_config_example_is_valid() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    block = readme.split("### The config file")[1].split("```yaml")[1].split("```")[0]
    raw = yaml.safe_load(block)
    raw["channels"]["email"] = "json://127.0.0.1:9/email"  # a Prefect Secret block there
    cfg = config_mod.from_dict(raw, "README.md", env={"SLACK_WEBHOOK_URL": "json://127.0.0.1:9"})
    assert [r.id for r in cfg.rules] == ["security-guarantees"]
