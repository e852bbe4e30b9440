"""The config file: YAML, `${VAR}` from the environment, validated with pydantic.

`load` either returns a `Config` or raises `ConfigError` listing every problem
with the file, its line, the key path and the reason.
"""

from __future__ import annotations

import ipaddress
import logging
import os
import re
import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from difflib import get_close_matches
from pathlib import Path
from typing import Annotated, Any, Literal, get_args, get_origin

import yaml
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from monitors.errors import ConfigError, Problem, QueryError
from monitors.rules import AliasError, Aliases, Limits, RuleSet

Network = ipaddress.IPv4Network | ipaddress.IPv6Network

DEFAULT_STORE = "sqlite:///newsmon.db"
ENV_PRIVATE_NETWORKS = "NEWSMON_ALLOW_PRIVATE_NETWORKS"
ENV_STORE = "NEWSMON_STORE"
_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"", "0", "false", "no", "off"})
_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")
_DURATION = re.compile(
    r"(\d+(?:\.\d+)?)\s*(s|secs?|seconds?|m|mins?|minutes?|h|hrs?|hours?|d|days?)(?![a-z])"
)
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_ID = re.compile(r"^[a-z0-9][a-z0-9_-]*$")
_BLOCK = re.compile(r"^[a-z0-9][a-z0-9-]*$")
_STORE = re.compile(r"^(?P<dialect>[A-Za-z0-9_]+)(?:\+(?P<driver>[A-Za-z0-9_]+))?://")
_DRIVERS = {"sqlite": {None, "pysqlite"}, "postgresql": {None, "psycopg", "psycopg2", "pg8000"}}
STORE_EXAMPLES = "sqlite:///PATH or postgresql+psycopg://USER@HOST/DB"


def parse_duration(value: object) -> float:
    """Seconds in "90", "30s", "5m", "5 minutes", "1h30m", "1 hour 30 min" or "1d"."""
    if isinstance(value, timedelta):
        value = value.total_seconds()
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise ValueError(f"not a duration: {value!r} (use e.g. 30s, 5m, 1h, 1d)")
    if isinstance(value, int | float):
        seconds = float(value)
    else:
        text = value.strip().lower()
        sign = -1.0 if text.startswith("-") else 1.0
        text = text.removeprefix("-").strip()
        if re.fullmatch(r"\d+(\.\d+)?", text):
            seconds = sign * float(text)
        elif re.fullmatch(rf"(?:{_DURATION.pattern}\s*,?\s*)+", text):
            seconds = sign * sum(float(n) * _UNITS[u[0]] for n, u in _DURATION.findall(text))
        else:
            raise ValueError(f"not a duration: {value!r} (use e.g. 30s, 5m, 1h, 1d)")
    if seconds <= 0:
        raise ValueError(f"a duration must be positive, not {value!r}")
    return seconds


def parse_moment(text: str, end: bool = False) -> datetime:
    """A UTC time from ISO 8601; a bare date is its day's start, or with `end` the next day's."""
    value = text.strip()
    try:
        if len(value) == 10:
            day = date.fromisoformat(value)
            moment = datetime(day.year, day.month, day.day, tzinfo=UTC)
            return moment + timedelta(days=1) if end else moment
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(f"not a date: {text!r} (use YYYY-MM-DD or an ISO 8601 time)") from None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def check_http_url(url: str) -> str:
    """The URL if it is an absolute http(s) URL with a host, else ValueError."""
    from urllib.parse import urlsplit

    if not url:
        raise ValueError("the URL is empty")
    if "\\" in url or any(c.isspace() for c in url):
        raise ValueError("a URL may not hold backslashes or spaces")
    parts = urlsplit(url)
    if not parts.scheme and not url.startswith(("/", "$")):
        raise ValueError(f"no scheme: write the URL in full, e.g. https://{url}")
    if parts.scheme not in ("http", "https"):
        raise ValueError(f"scheme {parts.scheme or '(none)'!r} is not allowed: use http or https")
    if not parts.hostname:
        raise ValueError("the URL has no host")
    if parts.username or parts.password:
        raise ValueError("credentials in a feed URL are not allowed")
    try:
        parts.port  # noqa: B018 - urlsplit checks the port when asked for it
    except ValueError:
        raise ValueError("the port is not a number from 0 to 65535") from None
    return url


def parse_private_networks(
    value: bool | str | Sequence[str] | None,
) -> tuple[bool, tuple[Network, ...]]:
    """Read an "allow private networks" setting: (allow all, networks allowed).

    True/"true"/"1"/"yes" allow every address; ""/"0"/"false"/None allow none; otherwise
    CIDR networks such as "127.0.0.1/32,10.0.0.0/8", comma-separated or as a list.
    Raises ValueError naming what is wrong.
    """
    if value is None or isinstance(value, bool):
        return bool(value), ()
    if isinstance(value, list | tuple) and all(isinstance(item, str) for item in value):
        value = ",".join(value)
    if not isinstance(value, str):
        raise ValueError("private networks: use true, false or a list of CIDR networks")
    word = value.strip().lower()
    if word in _TRUE:
        return True, ()
    if word in _FALSE:
        return False, ()
    return False, tuple(_network(item) for item in value.split(",") if item.strip())


def _network(text: str) -> Network:
    try:
        return ipaddress.ip_network(text.strip())
    except ValueError as exc:
        raise ValueError(
            f"private networks: {text.strip()!r} is not a CIDR network such as 10.0.0.0/8 ({exc})"
        ) from None


Duration = Annotated[float, BeforeValidator(parse_duration)]
MIN_EVERY = 60.0  # seconds: more often burdens a publisher and seldom brings news sooner
Span = Annotated[timedelta, BeforeValidator(lambda v: timedelta(seconds=parse_duration(v)))]


def _not_too_often(seconds: float) -> float:
    """A feed's polling interval, refused under a minute."""
    if seconds < MIN_EVERY:
        raise ValueError(
            f"{seconds:g}s is too often: poll a feed at most once a minute (1m or more);"
            " for news within seconds, a feed with a WebSub hub pushes (push.base_url)"
        )
    return seconds


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class FetchConfig(_Strict):
    """Limits for every HTTP request (see monitors.ingest.fetch): seconds for the whole
    request, to connect and between bytes; the decoded body's size; redirects followed;
    requests at once in all and to one host; pages fetched from one host in a cycle (the
    rest wait for the next cycle); retries of a feed's transient errors within its
    `timeout`; private addresses allowed (true, or CIDR networks)."""

    timeout: Duration = 30.0
    connect_timeout: Duration = 10.0
    read_timeout: Duration = 15.0
    max_bytes: int = Field(10 * 2**20, gt=0)
    max_redirects: int = Field(5, ge=0, le=20)
    concurrency: int = Field(16, ge=1, le=256)
    per_host: int = Field(6, ge=1, le=256)
    pages_per_host_per_cycle: int = Field(100, ge=1)
    retries: int = Field(2, ge=0, le=10)
    allow_private_networks: bool | str | list[str] = False
    user_agent: str | None = None


class ExtractConfig(_Strict):
    """Page extraction: `workers` processes, each page within `timeout` and each process
    within `memory_mib` of address space, pages of at most `max_page_bytes` (else the
    feed's title and summary stand in, as they do when a page gives under `min_chars`)."""

    min_chars: int = Field(200, ge=0)
    timeout: Duration = 10.0
    workers: int = Field(2, ge=1, le=64)
    memory_mib: int = Field(2048, ge=256)
    max_page_bytes: int = Field(3 * 2**20, gt=0)


class MatchingConfig(_Strict):
    """Bounds on matching one article against the rules (see docs/rules.md): the rules
    read at most `max_chars` characters of its headline and of its text, and stop after
    `timeout` of CPU time; either cut is noted on the article."""

    max_chars: int = Field(100_000, ge=1_000)
    timeout: Duration = 1.0

    def limits(self) -> Limits:
        return Limits(self.max_chars, self.timeout)


class DeliveryConfig(_Strict):
    """How deliveries are retried, leased and throttled; see docs/delivery.md."""

    max_attempts: int = Field(8, ge=1, le=100)
    backoff: Duration = 30.0
    max_backoff: Duration = 6 * 3600.0
    lease: Duration = 600.0
    max_alerts_per_hour: int = Field(20, ge=1)


class PollConfig(_Strict):
    """Bounds of adaptive polling (feeds without `every`) and the first error backoff;
    how often an entry whose title or summary changes in its feed is read again
    (`reread` times at most, 0 for never, each at least `reread_after` since it was
    last processed)."""

    min_interval: Duration = 300.0
    max_interval: Duration = 7200.0
    error_backoff: Duration = 120.0
    reread: int = Field(3, ge=0, le=100)
    reread_after: Duration = 600.0

    @field_validator("min_interval")
    @classmethod
    def _min_interval(cls, value: float) -> float:
        return _not_too_often(value)

    @model_validator(mode="after")
    def _bounds(self) -> PollConfig:
        reason = _not_below("max_interval", self.max_interval, "min_interval", self.min_interval)
        if reason:
            raise ValueError(reason)
        return self


class BackfillConfig(_Strict):
    """Politeness of backfills that fetch: per host, at most this many requests at
    once and per second; robots.txt is obeyed for page fetches unless `robots` is off."""

    per_host_concurrency: int = Field(2, ge=1, le=64)
    per_host_rps: float = Field(2.0, gt=0)
    robots: bool = True


class StoriesConfig(_Strict):
    """How articles join stories and when a story alerts again; see docs/stories.md. A
    story lasts while articles come within `window` of its articles, at most `max_span`
    from its first; `near_duplicate` and `same_story` are the join thresholds;
    `update_gap` the least time between two updates of a rule in a story."""

    window: Span = timedelta(hours=72)
    max_span: Span = timedelta(days=7)
    near_duplicate: float = Field(0.8, ge=0.5, lt=1.0)
    same_story: float = Field(0.22, gt=0.0, le=1.0)
    update_gap: Span = timedelta(minutes=10)

    @model_validator(mode="after")
    def _span(self) -> StoriesConfig:
        reason = _not_below(
            "max_span", self.max_span.total_seconds(), "window", self.window.total_seconds()
        )
        if reason:
            raise ValueError(reason)
        return self


def _not_below(high_key: str, high: float, low_key: str, low: float) -> str | None:
    """Why `high` (in seconds) may not be below `low`, or None."""
    if high >= low:
        return None
    return f"{high_key} ({_seconds(high)}) is shorter than {low_key} ({_seconds(low)})"


def _seconds(value: float) -> str:
    """A duration as the largest whole unit that states it: 90 -> 90s, 7200 -> 2h."""
    for unit in ("d", "h", "m"):
        if value >= _UNITS[unit] and value % _UNITS[unit] == 0:
            return f"{value // _UNITS[unit]:.0f}{unit}"
    return f"{value:g}s"


class SecretChannel(_Strict):
    """A value kept in a Prefect Secret block: a channel's apprise URL, the web token."""

    secret: str

    @field_validator("secret")
    @classmethod
    def _name(cls, value: str) -> str:
        reason = _secret_name_problem(value)
        if reason:
            raise ValueError(reason)
        return value


def _secret_name_problem(name: object) -> str | None:
    """Why `name` cannot name a Prefect Secret block, or None."""
    if isinstance(name, str) and _BLOCK.match(name):
        return None
    return f"secret {name!r}: a block name is lower-case letters, digits and '-'"


STORY_PATH = "/stories/{story_id}"  # a story's page on the desk's site
MIN_TOKEN = 16


class WebConfig(_Strict):
    """The desk's site (`newsmon web`): the address it listens on; `base_url`, where the
    desk reaches it (alert messages then link to their story's page); `token`, asked of
    every visitor when set, and required for any bind beyond loopback; `page_size`, the
    rows of a listing page."""

    host: str = "127.0.0.1"
    port: int = Field(8080, ge=1, le=65535)
    base_url: str | None = None
    token: str | SecretChannel | None = None
    page_size: int = Field(50, ge=10, le=500)

    @field_validator("base_url")
    @classmethod
    def _base_url(cls, value: str | None) -> str | None:
        return None if value is None else check_http_url(value).rstrip("/")

    @field_validator("token")
    @classmethod
    def _token(cls, value: str | SecretChannel | None) -> str | SecretChannel | None:
        if isinstance(value, str) and len(value) < MIN_TOKEN:
            raise ValueError(
                f"a web token needs at least {MIN_TOKEN} characters "
                "(make one with `openssl rand -hex 16`)"
            )
        return value

    def story_url(self, story_id: int | None) -> str | None:
        """The address of a story's page, when the site's `base_url` is known."""
        if self.base_url is None or story_id is None:
            return None
        return self.base_url + STORY_PATH.format(story_id=story_id)


PUSH_PATH = "/websub/{callback_id}"  # a subscription's callback on the desk's site


class PushConfig(_Strict):
    """WebSub push (docs/push.md). Off unless `base_url` is set: the public address at
    which hubs reach the desk's site, whose `/websub/…` callbacks receive the pushes.
    `lease` is asked of each hub (the hub decides); a lease is renewed when less than
    `renew_before` of it is left; a feed whose subscription is active is still polled
    every `safety_interval`; a push body over `max_bytes` is refused."""

    base_url: str | None = None
    lease: Duration = 86400.0
    renew_before: Duration = 3600.0
    safety_interval: Duration = 3600.0
    max_bytes: int = Field(5 * 2**20, gt=0)

    @field_validator("base_url")
    @classmethod
    def _base_url(cls, value: str | None) -> str | None:
        return None if value is None else check_http_url(value).rstrip("/")

    @model_validator(mode="after")
    def _renewal(self) -> PushConfig:
        if self.renew_before >= self.lease:
            lease, before = _seconds(self.lease), _seconds(self.renew_before)
            raise ValueError(f"renew_before ({before}) must be shorter than lease ({lease})")
        return self

    @property
    def enabled(self) -> bool:
        return self.base_url is not None

    def callback_url(self, callback_id: str) -> str:
        """The address a hub pushes a subscription's content to."""
        if self.base_url is None:
            raise ValueError("push.base_url is not set")
        return self.base_url + PUSH_PATH.format(callback_id=callback_id)


class FeedConfig(_Strict):
    url: str
    name: str | None = None
    every: Duration | None = None

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        return check_http_url(value)

    @field_validator("every")
    @classmethod
    def _every(cls, value: float | None) -> float | None:
        return None if value is None else _not_too_often(value)

    @property
    def label(self) -> str:
        """The feed's name, else its URL."""
        return self.name or self.url


class RuleConfig(_Strict):
    id: str
    query: str
    notify: list[str]  # required: `notify: []` records the rule's alerts and sends none
    title: str | None = None
    delivery: Literal["immediate", "hourly", "daily"] = "immediate"
    max_alerts_per_hour: int | None = Field(None, ge=1)

    @field_validator("notify", mode="before")
    @classmethod
    def _notify(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value

    @field_validator("id")
    @classmethod
    def _id(cls, value: str) -> str:
        if not _ID.match(value):
            raise ValueError(f"{value!r}: use lower-case letters, digits, '-' and '_'")
        return value

    @property
    def label(self) -> str:
        """The rule's title, else its id."""
        return self.title or self.id


class Config(_Strict):
    store: str = DEFAULT_STORE
    fetch: FetchConfig = FetchConfig()
    extract: ExtractConfig = ExtractConfig()
    matching: MatchingConfig = MatchingConfig()
    feeds: list[FeedConfig] = Field(default_factory=list)
    channels: dict[str, str | SecretChannel] = Field(default_factory=dict)
    delivery: DeliveryConfig = DeliveryConfig()
    poll: PollConfig = PollConfig()
    backfill: BackfillConfig = BackfillConfig()
    stories: StoriesConfig = StoriesConfig()
    web: WebConfig = WebConfig()
    push: PushConfig = PushConfig()
    rules: list[RuleConfig] = Field(default_factory=list)
    aliases: dict[str, list[str]] = Field(default_factory=dict)
    source: str = Field("<config>", exclude=True)
    store_from_env: bool = Field(False, exclude=True)  # the store URL is $NEWSMON_STORE's

    def labels(self) -> dict[str, str]:
        """Each rule's title (else id) by id."""
        return {r.id: r.label for r in self.rules}

    def ruleset(self) -> RuleSet:
        """All rules compiled into one matcher."""
        return RuleSet.compile(
            ((r.id, r.query) for r in self.rules),
            aliases=self.aliases,
            limits=self.matching.limits(),
        )


_INTERNAL = frozenset({"source", "store_from_env"})  # Config fields no file may set


def default_path() -> Path:
    """`NEWSMON_CONFIG`, else ./newsmon.yaml."""
    return Path(os.environ.get("NEWSMON_CONFIG") or "newsmon.yaml")


def load(
    path: str | Path | None = None,
    env: Mapping[str, str] | None = None,
    *,
    channels_needed: bool = True,
) -> Config:
    """Read, expand and validate a config file; raise ConfigError with every problem.

    Without `channels_needed` (for commands that send nothing), a channel naming an
    unset environment variable, or whose value is no apprise URL, is left empty instead of
    being a problem."""
    path = Path(path) if path is not None else default_path()
    name = str(path)
    text = _read(path, name)
    try:
        raw, where = _Where.parse(text)
    except yaml.YAMLError as exc:
        raise ConfigError([_yaml_problem(name, exc, _toml_hint(path, text))]) from None
    if raw is None:
        hint = "the file is empty: give at least feeds, channels and rules (see README.md)"
        raise ConfigError([Problem(name, "", hint)])
    if not isinstance(raw, dict):
        reason = f"the file must hold a mapping of keys (key: value){_toml_hint(path, text)}"
        raise ConfigError([Problem(name, "", reason, 1)])
    env = os.environ if env is None else env
    return from_dict(
        raw, name, env, base_dir=path.parent, channels_needed=channels_needed, where=where
    )


def locate(problems: Iterable[Problem]) -> list[Problem]:
    """`problems` with the line of each one's key in its config file where it can be
    read again (problems found after loading: the store, a secret channel)."""
    found: dict[str, _Where | None] = {}
    out = []
    for problem in problems:
        if problem.line is None and problem.path and problem.file not in found:
            try:
                found[problem.file] = _Where.parse(Path(problem.file).read_text("utf-8"))[1]
            except (OSError, UnicodeDecodeError, yaml.YAMLError):
                found[problem.file] = None
        where = found.get(problem.file)
        line = where.line(problem.path) if where and problem.line is None else problem.line
        out.append(replace(problem, line=line))
    return out


def _read(path: Path, name: str) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        hint = "no such file (give --config PATH, or set NEWSMON_CONFIG)"
        raise ConfigError([Problem(name, "", hint)]) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError([Problem(name, "", f"cannot be read: {exc}")]) from None


def from_dict(
    raw: Any,
    name: str,
    env: Mapping[str, str],
    base_dir: Path | None = None,
    *,
    channels_needed: bool = True,
    where: _Where | None = None,
) -> Config:
    """Validate an already-parsed config document (`where`: the lines of its keys)."""
    if not isinstance(raw, dict):
        raise ConfigError([Problem(name, "", "the file must hold a mapping of keys")])
    where = where or _Where()
    problems = [Problem(name, path, reason) for path, reason in where.repeated()]
    expansion = _Expansion(env)
    raw = expansion.expand(raw, "")
    problems += _expansion_problems(expansion, raw, name, channels_needed)
    skipped = expansion.paths() | (set() if channels_needed else _blank_unusable_channels(raw))
    from_env = bool(env.get(ENV_STORE))
    if from_env:
        raw["store"] = env[ENV_STORE]
    elif isinstance(raw.get("store"), str) and "store" not in skipped:
        reason = store_problem(raw["store"])
        problems += [Problem(name, "store", reason)] if reason else []
    problems += [
        Problem(name, path, reason)
        for path, reason in _cross_problems(raw, where)
        if path not in skipped
    ]
    problems += _environment_problems(env)
    try:
        config = Config.model_validate({**raw, "source": name, "store_from_env": from_env})
    except ValidationError as exc:
        problems += _validation_problems(exc, name, problems)
    if problems:
        located = [replace(p, line=where.line(p.path)) if p.file == name else p for p in problems]
        raise ConfigError(sorted(located, key=_document_order))
    return config.model_copy(update={"store": _resolve_store(config.store, base_dir)})


def _expansion_problems(
    expansion: _Expansion, raw: dict[str, Any], name: str, channels_needed: bool
) -> list[Problem]:
    """Unset variables and malformed references; without `channels_needed`, a channel
    naming an unset variable is left empty instead."""
    problems = [Problem(name, path, reason) for path, reason in expansion.broken]
    for path, var in expansion.unset:
        if channels_needed or not path.startswith("channels."):
            hint = f"set it, or write ${{{var}:-default}} for a default"
            state = "is empty" if expansion.env.get(var) == "" else "is not set"
            problems.append(Problem(name, path, f"environment variable {var} {state} ({hint})"))
        else:
            raw["channels"][_channel_key(path)] = ""
    return problems


def _blank_unusable_channels(raw: dict[str, Any]) -> set[str]:
    """Each channel whose value is no apprise URL left empty, as a command that sends
    nothing does not use it (`newsmon check` and the commands that send still refuse);
    their paths."""
    channels: dict[str, Any] = _section(raw, "channels", dict)
    blanked = set()
    for key, value in channels.items():
        if _channel_value_problem(value):
            channels[key] = ""
            blanked.add(f"channels.{key}")
    return blanked


def _channel_key(path: str) -> str:
    """The channel a path under `channels.` is in."""
    return re.split(r"[.\[]", path.removeprefix("channels."), maxsplit=1)[0]


@dataclass
class _Expansion:
    """Replaces ${VAR} and ${VAR:-default} in every string, noting each unset variable
    and each ${ that names no variable. A mapping or list that YAML aliases in several
    places is expanded once (so that nested aliases cannot multiply the work)."""

    env: Mapping[str, str]
    unset: list[tuple[str, str]] = field(default_factory=list)  # (path, variable)
    broken: list[tuple[str, str]] = field(default_factory=list)  # (path, reason)
    done: dict[int, Any] = field(default_factory=dict)  # by id of the value expanded

    def paths(self) -> set[str]:
        """The paths of values whose expansion went wrong."""
        return {path for path, _ in self.unset + self.broken}

    def expand(self, value: Any, path: str) -> Any:
        if isinstance(value, dict | list) and id(value) in self.done:
            return self.done[id(value)]
        if isinstance(value, dict):
            expanded: Any = {k: self.expand(v, _join(path, str(k))) for k, v in value.items()}
        elif isinstance(value, list):
            expanded = [self.expand(v, f"{path}[{i}]") for i, v in enumerate(value)]
        else:
            return self._string(value, path) if isinstance(value, str) else value
        self.done[id(value)] = expanded
        return expanded

    def _string(self, value: str, path: str) -> str:
        self._check_references(value, path)

        def substitute(m: re.Match[str]) -> str:
            var, default = m.group(1), m.group(2)
            if var in self.env and self.env[var] != "":
                return self.env[var]
            if default is not None:
                return default
            self.unset.append((path, var))
            return ""

        return _VAR.sub(substitute, value)

    def _check_references(self, value: str, path: str) -> None:
        """Note each `${` that does not start a well-formed reference."""
        for start in (m.start() for m in re.finditer(r"\$\{", value)):
            if _VAR.match(value, start):
                continue
            end = value.find("}", start)
            if end < 0:
                reason = f"{value[start : start + 40]!r} is not closed: write ${{NAME}}"
            else:
                reason = (
                    f"{value[start : end + 1]!r} is not a variable: write ${{NAME}} or "
                    "${NAME:-default}, NAME being letters, digits and '_'"
                )
            self.broken.append((path, reason))


class _Loader(yaml.SafeLoader):
    """PyYAML's safe loader in pure Python: its marks hold the text, to point into it."""


@dataclass
class _Where:
    """Where the keys and values of a YAML document are: the line of each key or list
    item by path, the node of each value, and the keys given twice in one mapping."""

    lines: dict[str, int] = field(default_factory=dict)
    nodes: dict[str, yaml.Node] = field(default_factory=dict)
    twice: list[tuple[str, int, int]] = field(default_factory=list)  # (path, line, first)

    @classmethod
    def parse(cls, text: str) -> tuple[Any, _Where]:
        """The document in `text` and where its parts are; yaml.YAMLError if it is not YAML."""
        loader = _Loader(text)
        try:
            node = loader.get_single_node()
            where = cls()
            if node is None:
                return None, where
            where._walk(node, "", set())
            return loader.construct_document(node), where
        finally:
            loader.dispose()

    def _walk(self, node: yaml.Node, path: str, seen: set[int]) -> None:
        if id(node) in seen:  # an alias: walked where its anchor is
            return
        seen.add(id(node))
        if isinstance(node, yaml.MappingNode):
            first: dict[str, int] = {}
            for key, value in node.value:
                if key.tag == "tag:yaml.org,2002:merge":
                    continue
                child, line = _join(path, str(key.value)), key.start_mark.line + 1
                if child in first:
                    self.twice.append((child, line, first[child]))
                first[child] = line
                self._note(child, line, value, seen)
        elif isinstance(node, yaml.SequenceNode):
            for i, item in enumerate(node.value):
                self._note(f"{path}[{i}]", item.start_mark.line + 1, item, seen)

    def _note(self, path: str, line: int, node: yaml.Node, seen: set[int]) -> None:
        self.lines[path] = line
        self.nodes[path] = node
        self._walk(node, path, seen)

    def repeated(self) -> Iterator[tuple[str, str]]:
        """A problem for each key given twice in one mapping (YAML keeps the last)."""
        for path, _line, first in self.twice:
            yield path, f"given twice (first at line {first}): only this one would be used"

    def line(self, path: str) -> int | None:
        """The line of the key or item at `path`, else of its nearest parent."""
        while path:
            if path in self.lines:
                return self.lines[path]
            path = _parent(path)
        return None

    def spot(self, path: str, offset: int) -> str | None:
        """ "line L, column C" of character `offset` of the string value at `path`."""
        node = self.nodes.get(path)
        if not isinstance(node, yaml.ScalarNode) or node.start_mark.buffer is None:
            return None
        buffer: str = node.start_mark.buffer
        index = _source_index(node, offset)
        line = buffer.count("\n", 0, index) + 1
        column = index - buffer.rfind("\n", 0, index)
        return f"line {line}, column {column}"


def _source_index(node: yaml.ScalarNode, offset: int) -> int:
    """Where in the file character `offset` of a scalar's value is. Folding and quoting
    change only whitespace and escapes, so the value's other characters are found in
    the file in order."""
    buffer = str(node.start_mark.buffer)
    index, end = node.start_mark.index, node.end_mark.index
    if node.style in ("|", ">"):  # the text starts on the line after the indicator
        index = buffer.find("\n", index, end) + 1
    elif node.style in ("'", '"'):
        index += 1
    for char in node.value[:offset]:
        if not char.isspace():
            found = buffer.find(char, index, end)
            if found < 0:
                return index
            index = found + 1
    target = node.value[offset : offset + 1]
    found = buffer.find(target, index, end) if target.strip() else -1
    return found if found >= 0 else index


def _parent(path: str) -> str:
    """`a.b` -> `a`, `a[2]` -> `a`, `a` -> ``."""
    found = re.match(r"^(.*?)(\.[^.\[\]]*|\[\d+\])$", path)
    return found.group(1) if found else ""


def _yaml_problem(name: str, exc: yaml.YAMLError, hint: str) -> Problem:
    """Not YAML: the reason, at the line where the broken construct starts."""
    problem = str(getattr(exc, "problem", None) or exc).replace("'<stream end>'", "end of file")
    indent = _indent_hint(problem)
    hint = indent + hint
    mark: yaml.Mark | None = getattr(exc, "problem_mark", None)
    context: str | None = getattr(exc, "context", None)
    start: yaml.Mark | None = getattr(exc, "context_mark", None)
    if mark is None:
        return Problem(name, "", f"not valid YAML: {problem}{hint}")
    at = f"line {mark.line + 1}, column {mark.column + 1}"
    if indent:  # where the key out of line is, not where its mapping began
        context = None
    if context and start is not None and (start.line, start.column) < (mark.line, mark.column):
        since = f"line {start.line + 1}, column {start.column + 1}"
        reason = f"{since}: {context} here: {problem} at {at}"
        return Problem(name, "", f"not valid YAML: {reason}{hint}", start.line + 1)
    return Problem(name, "", f"not valid YAML: {at}: {problem}{hint}", mark.line + 1)


def _indent_hint(problem: str) -> str:
    """What a YAML parser's complaint most often means in a config file."""
    if "'\\t'" in problem:
        return " (YAML indents with spaces, not tabs)"
    if problem.startswith(("expected <block end>", "mapping values are not allowed")) or (
        "could not find expected ':'" in problem or "did not find expected key" in problem
    ):
        return " (check the indentation: a key lines up with the keys of its section)"
    return ""


def _toml_hint(path: Path, text: str) -> str:
    """A hint when a file that is not YAML looks like TOML."""
    if path.suffix.lower() == ".toml" or re.search(r"(?m)^\s*[\w.\"-]+\s*=\s*\S", text):
        return " (this looks like TOML: the config file is YAML, `key: value`)"
    return ""


def _validation_problems(exc: ValidationError, name: str, found: list[Problem]) -> list[Problem]:
    """pydantic's problems but those a more specific check has stated already."""
    paths = {p.path for p in found}
    reasons = {p.reason for p in found}
    out = []
    for error in exc.errors():
        path, reason = _loc(error["loc"]), _reason(error)
        if reason in reasons or any(_within(path, p) for p in paths):
            continue
        out.append(Problem(name, path, reason))
    return out


def _within(path: str, parent: str) -> bool:
    return path == parent or path.startswith((f"{parent}.", f"{parent}["))


def _cross_problems(raw: dict[str, Any], where: _Where) -> Iterator[tuple[str, str]]:
    """Problems between keys, and those pydantic would state in its own terms; found
    even where the rest does not validate."""
    yield from _feed_problems(_section(raw, "feeds", list))
    channels: dict[str, Any] = _section(raw, "channels", dict)
    for key, value in channels.items():
        reason = _channel_value_problem(value)
        if reason:
            yield f"channels.{key}", reason
    aliases = None
    try:
        aliases = Aliases.compile(_alias_section(raw))
    except AliasError as exc:
        yield f"aliases.{exc.name}", exc.reason
    rules: list[Any] = _section(raw, "rules", list)
    queries = _queries(rules)
    seen_ids: set[str] = set()
    each = not _compile_together(queries, aliases)  # else no query has a problem
    for i, rule in enumerate(rules):
        if isinstance(rule, dict):
            yield from _rule_problems(i, rule, channels, seen_ids, aliases, queries, where, each)
    fetch: dict[str, Any] = _section(raw, "fetch", dict)
    try:
        parse_private_networks(fetch.get("allow_private_networks"))
    except ValueError as exc:
        yield "fetch.allow_private_networks", str(exc)
    yield from _order_problem(raw, "poll", PollConfig, "min_interval", "max_interval")
    yield from _order_problem(raw, "stories", StoriesConfig, "window", "max_span")


def _section(raw: dict[str, Any], key: str, kind: type[Any]) -> Any:
    """raw[key] if it is of that kind, else an empty one."""
    value = raw.get(key)
    return value if isinstance(value, kind) else kind()


def _feed_problems(feeds: list[Any]) -> Iterator[tuple[str, str]]:
    """Feeds given twice: the same name, or the same URL but for the case of its host."""
    urls: dict[str, int] = {}
    names: dict[str, int] = {}
    for i, feed in enumerate(feeds):
        if not isinstance(feed, dict):
            continue
        url, name = feed.get("url"), feed.get("name")
        if isinstance(url, str):
            key = _url_key(url)
            if key in urls:
                yield f"feeds[{i}].url", f"duplicate feed {url} (as feeds[{urls[key]}])"
            urls.setdefault(key, i)
        if isinstance(name, str):
            if name in names:
                yield f"feeds[{i}].name", f"duplicate feed name {name!r} (as feeds[{names[name]}])"
            names.setdefault(name, i)


def _url_key(url: str) -> str:
    """A URL with its scheme and host in lower case: two spellings of one feed."""
    from urllib.parse import urlsplit

    try:
        parts = urlsplit(url)
    except ValueError:
        return url
    return parts._replace(scheme=parts.scheme.lower(), netloc=parts.netloc.lower()).geturl()


def _order_problem(
    raw: dict[str, Any], section: str, model: type[BaseModel], low: str, high: str
) -> Iterator[tuple[str, str]]:
    """`section.high` shorter than `section.low`, given or by default (as the model's
    own check says, which runs only when every key of the section is valid)."""
    values: dict[str, Any] = _section(raw, section, dict)
    try:
        bounds = [
            parse_duration(values.get(key, model.model_fields[key].default)) for key in (low, high)
        ]
    except ValueError:
        return  # the duration itself is the problem, stated by validation
    reason = _not_below(high, bounds[1], low, bounds[0])
    if reason:
        yield f"{section}.{high}", reason


def _environment_problems(env: Mapping[str, str]) -> list[Problem]:
    """Problems in the environment variables that override the config."""
    problems = []
    try:
        parse_private_networks(env.get(ENV_PRIVATE_NETWORKS))
    except ValueError as exc:
        problems.append(Problem("environment", ENV_PRIVATE_NETWORKS, str(exc)))
    reason = store_problem(env[ENV_STORE]) if env.get(ENV_STORE) else None
    if reason:
        problems.append(Problem("environment", ENV_STORE, reason))
    return problems


def store_problem(url: str) -> str | None:
    """Why `url` is not a store URL newsmon can use, or None (whether the store can be
    opened is for the store to say)."""
    found = _STORE.match(url)
    if found is None:
        return f"not a store URL: use {STORE_EXAMPLES}"
    dialect, driver = found.group("dialect").lower(), found.group("driver")
    if dialect == "postgres":
        return "write postgresql+psycopg:// (SQLAlchemy does not know postgres://)"
    if dialect not in _DRIVERS:
        return f"database {dialect!r} is not supported: use {STORE_EXAMPLES}"
    if driver not in _DRIVERS[dialect]:
        return f"driver {driver!r} is not supported: use {STORE_EXAMPLES}"
    return None


def _alias_section(raw: dict[str, Any]) -> dict[str, list[str]]:
    """The aliases whose name and spellings are strings (the others fail validation)."""
    section: dict[Any, Any] = _section(raw, "aliases", dict)
    return {
        name: values
        for name, values in section.items()
        if isinstance(name, str)
        and isinstance(values, list)
        and all(isinstance(v, str) for v in values)
    }


def _queries(rules: list[Any]) -> list[tuple[str, str]]:
    """The (id, query) of each rule that has both, for `rule:ID` to refer to."""
    return [
        (str(rule["id"]), rule["query"])
        for rule in rules
        if isinstance(rule, dict) and "id" in rule and isinstance(rule.get("query"), str)
    ]


def _rule_problems(
    i: int,
    rule: dict[str, Any],
    channels: dict[str, Any],
    seen_ids: set[str],
    aliases: Aliases | None,
    queries: list[tuple[str, str]],
    where: _Where,
    compile_query: bool,
) -> Iterator[tuple[str, str]]:
    rule_id = str(rule.get("id", f"#{i + 1}"))
    if rule_id in seen_ids:
        yield f"rules[{i}].id", f"duplicate rule id {rule_id!r}"
    seen_ids.add(rule_id)
    notify = rule.get("notify")
    if "notify" not in rule:
        yield (
            f"rules[{i}].notify",
            (
                "no notify: name the channels to alert (notify: [slack]), or write "
                "notify: [] to record this rule's alerts without sending them"
            ),
        )
    for j, channel in enumerate(notify if isinstance(notify, list) else []):
        if not isinstance(channel, str) or channel not in channels:
            known = ", ".join(sorted(map(str, channels))) or "none defined"
            yield f"rules[{i}].notify[{j}]", f"no channel named {channel!r} (channels: {known})"
    query = rule.get("query")
    if compile_query and isinstance(query, str):
        try:
            RuleSet.compile([(rule_id, query)], aliases=aliases, library=queries)
        except QueryError as exc:
            yield f"rules[{i}].query", _located(str(exc), f"rules[{i}].query", where)


def _compile_together(queries: list[tuple[str, str]], aliases: Aliases | None) -> bool:
    """Whether the rules compile together, as `Config.ruleset` compiles them (which then
    finds them compiled: see `RuleSet.compile`)."""
    try:
        RuleSet.compile(queries, aliases=aliases)
    except QueryError:
        return False
    return True


def _located(message: str, path: str, where: _Where) -> str:
    """A query error with each "position N" in the query as its line and column in the
    file, when known."""

    def spot(m: re.Match[str]) -> str:
        return where.spot(path, int(m.group(1))) or m.group(0)

    return re.sub(r"position (\d+)", spot, message)


def _channel_value_problem(value: Any) -> str | None:
    """Why a channel's value is not an apprise URL or {secret: NAME}, or None."""
    if isinstance(value, str):
        return channel_problem(value)
    if isinstance(value, dict) and set(value) == {"secret"}:
        return _secret_name_problem(value["secret"])
    return "a channel is an apprise URL, or {secret: NAME} for a Prefect Secret block"


def channel_problem(url: str) -> str | None:
    """Why apprise cannot use this URL, or None. The URL itself is never repeated,
    nor logged: apprise's own records (which quote it) are dropped meanwhile."""
    if not url:
        return "empty channel URL"
    import apprise

    with _silenced("apprise"):
        target = apprise.Apprise.instantiate(url)
    if target is None:
        scheme = url.split("://", 1)[0] if "://" in url else "(none)"
        return f"not a valid apprise URL (scheme {scheme!r})"
    return None


@contextmanager
def _silenced(name: str) -> Iterator[None]:
    """Drop the records of logger `name` made in this thread while the block runs."""
    thread = threading.get_ident()

    def other_threads(record: logging.LogRecord) -> bool:
        return record.thread != thread

    logger = logging.getLogger(name)
    logger.addFilter(other_threads)
    try:
        yield
    finally:
        logger.removeFilter(other_threads)


def _resolve_store(store: str, base_dir: Path | None) -> str:
    """A relative SQLite path is taken relative to the config file's folder."""
    prefix = "sqlite:///"
    if base_dir is None or not store.startswith(prefix):
        return store
    db = store[len(prefix) :]
    if not db or db.startswith("/") or db.startswith(":memory:"):
        return store
    return prefix + str((base_dir / db).resolve())


def _document_order(problem: Problem) -> tuple[bool, int, int, list[int]]:
    """Sort key: the file's problems by line, then in the order Config declares its
    sections and by list index; the environment's last."""
    sections = list(Config.model_fields)
    head = re.split(r"[.\[]", problem.path, maxsplit=1)[0]
    rank = sections.index(head) if head in sections else len(sections)
    indices = [int(i) for i in re.findall(r"\[(\d+)\]", problem.path)]
    return problem.file == "environment", problem.line or 0, rank, indices


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _loc(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        out = f"{out}[{part}]" if isinstance(part, int) else _join(out, str(part))
    return out


_PLAIN = {
    "missing": "required key is missing",
    "model_type": "should be a mapping of keys (key: value)",
    "model_attributes_type": "should be a mapping of keys (key: value)",
    "dict_type": "should be a mapping of keys (key: value)",
    "list_type": "should be a list",
    "string_type": "should be text",
}


def _reason(error: Any) -> str:
    """pydantic's reason in the config file's terms."""
    kind = error.get("type", "")
    if kind == "extra_forbidden":
        return "unknown key" + _suggestion(error["loc"])
    if kind in _PLAIN:
        return _PLAIN[kind]
    message = str(error.get("msg", "invalid value")).removeprefix("Value error, ")
    return re.sub(r"^Input should", "should", message)


def _suggestion(loc: tuple[int | str, ...]) -> str:
    """ " (did you mean KEY?)" for an unknown key close to a known one."""
    model: type[BaseModel] = Config
    for part in loc[:-1]:
        if isinstance(part, int):
            continue
        info = model.model_fields.get(str(part))
        inner = info.annotation if info else None
        if get_origin(inner) is list:
            inner = get_args(inner)[0]
        if not (isinstance(inner, type) and issubclass(inner, BaseModel)):
            return ""
        model = inner
    known = [k for k in model.model_fields if k not in _INTERNAL]
    close = get_close_matches(str(loc[-1]), known, n=1, cutoff=0.7)
    return f" (did you mean {close[0]}?)" if close else ""
