"""The config file: YAML, `${VAR}` from the environment, validated with pydantic.

`load` either returns a `Config` or raises `ConfigError` listing every problem
with the file, the key path and the reason.
"""

from __future__ import annotations

import ipaddress
import logging
import os
import re
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any, Literal

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
from monitors.rules import AliasError, Aliases, RuleSet

Network = ipaddress.IPv4Network | ipaddress.IPv6Network

DEFAULT_STORE = "sqlite:///newsmon.db"
ENV_PRIVATE_NETWORKS = "NEWSMON_ALLOW_PRIVATE_NETWORKS"
_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"", "0", "false", "no", "off"})
_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")
_DURATION = re.compile(
    r"(\d+(?:\.\d+)?)\s*(s|secs?|seconds?|m|mins?|minutes?|h|hrs?|hours?|d|days?)(?![a-z])"
)
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_ID = re.compile(r"^[a-z0-9][a-z0-9_-]*$")


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
        if re.fullmatch(r"\d+(\.\d+)?", text):
            seconds = float(text)
        elif re.fullmatch(rf"(?:{_DURATION.pattern}\s*,?\s*)+", text):
            seconds = sum(float(n) * _UNITS[u[0]] for n, u in _DURATION.findall(text))
        else:
            raise ValueError(f"not a duration: {value!r} (use e.g. 30s, 5m, 1h, 1d)")
    if seconds <= 0:
        raise ValueError("a duration must be positive")
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

    if "\\" in url or any(c.isspace() for c in url):
        raise ValueError("a URL may not hold backslashes or spaces")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise ValueError(f"scheme {parts.scheme or '(none)'!r} is not allowed: use http or https")
    if not parts.hostname:
        raise ValueError("the URL has no host")
    if parts.username or parts.password:
        raise ValueError("credentials in a feed URL are not allowed")
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
Span = Annotated[timedelta, BeforeValidator(lambda v: timedelta(seconds=parse_duration(v)))]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class FetchConfig(_Strict):
    """Limits for every HTTP request (see monitors.ingest.fetch): seconds for the whole
    request, to connect and between bytes; the decoded body's size; redirects followed;
    requests at once in all and to one host; retries of a feed's transient errors within
    its `timeout`; private addresses allowed (true, or CIDR networks)."""

    timeout: float = Field(30.0, gt=0)
    connect_timeout: float = Field(10.0, gt=0)
    read_timeout: float = Field(15.0, gt=0)
    max_bytes: int = Field(10 * 2**20, gt=0)
    max_redirects: int = Field(5, ge=0, le=20)
    concurrency: int = Field(16, ge=1, le=256)
    per_host: int = Field(6, ge=1, le=256)
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


class DeliveryConfig(_Strict):
    """How deliveries are retried, leased and throttled; see docs/delivery.md."""

    max_attempts: int = Field(8, ge=1, le=100)
    backoff: Duration = 30.0
    max_backoff: Duration = 6 * 3600.0
    lease: Duration = 600.0
    max_alerts_per_hour: int = Field(20, ge=1)


class PollConfig(_Strict):
    """Bounds of adaptive polling (feeds without `every`) and the first error backoff."""

    min_interval: Duration = 300.0
    max_interval: Duration = 7200.0
    error_backoff: Duration = 120.0


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
    same_story: float = Field(0.4, gt=0.0, le=1.0)
    update_gap: Span = timedelta(minutes=10)

    @model_validator(mode="after")
    def _span(self) -> StoriesConfig:
        if self.max_span < self.window:
            raise ValueError("max_span must be at least the window")
        return self


class SecretChannel(_Strict):
    """A value kept in a Prefect Secret block: a channel's apprise URL, the web token."""

    secret: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*$")


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


class FeedConfig(_Strict):
    url: str
    name: str | None = None
    every: float | None = None

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        return check_http_url(value)

    @field_validator("every", mode="before")
    @classmethod
    def _every(cls, value: Any) -> float | None:
        return None if value is None else parse_duration(value)

    @property
    def label(self) -> str:
        """The feed's name, else its URL."""
        return self.name or self.url


class RuleConfig(_Strict):
    id: str
    query: str
    title: str | None = None
    notify: list[str] = Field(default_factory=list)
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
            raise ValueError("use lower-case letters, digits, '-' and '_'")
        return value

    @property
    def label(self) -> str:
        """The rule's title, else its id."""
        return self.title or self.id


class Config(_Strict):
    store: str = DEFAULT_STORE
    fetch: FetchConfig = FetchConfig()
    extract: ExtractConfig = ExtractConfig()
    feeds: list[FeedConfig] = Field(default_factory=list)
    channels: dict[str, str | SecretChannel] = Field(default_factory=dict)
    delivery: DeliveryConfig = DeliveryConfig()
    poll: PollConfig = PollConfig()
    backfill: BackfillConfig = BackfillConfig()
    stories: StoriesConfig = StoriesConfig()
    web: WebConfig = WebConfig()
    rules: list[RuleConfig] = Field(default_factory=list)
    aliases: dict[str, list[str]] = Field(default_factory=dict)
    source: str = Field("<config>", exclude=True)

    def labels(self) -> dict[str, str]:
        """Each rule's title (else id) by id."""
        return {r.id: r.label for r in self.rules}

    def ruleset(self) -> RuleSet:
        """All rules compiled into one matcher."""
        return RuleSet.compile(((r.id, r.query) for r in self.rules), aliases=self.aliases)


def default_path() -> Path:
    """`NEWSMON_CONFIG`, else ./newsmon.yaml."""
    return Path(os.environ.get("NEWSMON_CONFIG") or "newsmon.yaml")


def load(path: str | Path | None = None, env: Mapping[str, str] | None = None) -> Config:
    """Read, expand and validate a config file; raise ConfigError with every problem."""
    path = Path(path) if path is not None else default_path()
    env = os.environ if env is None else env
    name = str(path)
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        hint = "no such file (give --config PATH, or set NEWSMON_CONFIG)"
        raise ConfigError([Problem(name, "", hint)]) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError([Problem(name, "", f"cannot be read: {exc}")]) from None
    except yaml.YAMLError as exc:
        raise ConfigError([Problem(name, "", f"not valid YAML: {_yaml_reason(exc)}")]) from None
    return from_dict(raw, name, env, base_dir=path.parent)


def from_dict(raw: Any, name: str, env: Mapping[str, str], base_dir: Path | None = None) -> Config:
    """Validate an already-parsed config document."""
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ConfigError([Problem(name, "", "the file must hold a mapping of keys")])
    problems: list[Problem] = []
    raw = _expand(raw, "", env, name, problems)
    if env.get("NEWSMON_STORE"):
        raw["store"] = env["NEWSMON_STORE"]
    flagged = {p.path for p in problems}
    problems += [p for p in _cross_check(raw, name) if p.path not in flagged]
    problems += _environment_problems(env)
    try:
        config = Config.model_validate({**raw, "source": name})
    except ValidationError as exc:
        problems += [Problem(name, _loc(e["loc"]), _reason(e)) for e in exc.errors()]
    if problems:
        raise ConfigError(sorted(problems, key=_document_order))
    return config.model_copy(update={"store": _resolve_store(config.store, base_dir)})


def _expand(value: Any, path: str, env: Mapping[str, str], name: str, out: list[Problem]) -> Any:
    """Replace ${VAR} and ${VAR:-default} in every string, noting unset variables."""
    if isinstance(value, dict):
        return {k: _expand(v, _join(path, str(k)), env, name, out) for k, v in value.items()}
    if isinstance(value, list):
        return [_expand(v, f"{path}[{i}]", env, name, out) for i, v in enumerate(value)]
    if not isinstance(value, str):
        return value

    def substitute(m: re.Match[str]) -> str:
        var, default = m.group(1), m.group(2)
        if var in env and env[var] != "":
            return env[var]
        if default is not None:
            return default
        hint = f"set it, or write ${{{var}:-default}} for a default"
        out.append(Problem(name, path, f"environment variable {var} is not set ({hint})"))
        return ""

    return _VAR.sub(substitute, value)


def _cross_check(raw: dict[str, Any], name: str) -> list[Problem]:
    """Problems between keys, found even where the rest does not validate."""
    return [Problem(name, path, reason) for path, reason in _cross_problems(raw)]


def _section(raw: dict[str, Any], key: str, kind: type[Any]) -> Any:
    """raw[key] if it is of that kind, else an empty one."""
    value = raw.get(key)
    return value if isinstance(value, kind) else kind()


def _cross_problems(raw: dict[str, Any]) -> Iterator[tuple[str, str]]:
    feeds: list[Any] = _section(raw, "feeds", list)
    seen_urls: set[str] = set()
    for i, feed in enumerate(feeds):
        url = feed.get("url") if isinstance(feed, dict) else None
        if isinstance(url, str) and url in seen_urls:
            yield f"feeds[{i}].url", f"duplicate feed {url}"
        seen_urls.add(str(url))
    channels: dict[str, Any] = _section(raw, "channels", dict)
    for key, url in channels.items():
        reason = _channel_problem(url) if isinstance(url, str) else None
        if reason:
            yield f"channels.{key}", reason
    aliases = None
    try:
        aliases = Aliases.compile(_alias_section(raw))
    except AliasError as exc:
        yield f"aliases.{exc.name}", exc.reason
    rules: list[Any] = _section(raw, "rules", list)
    seen_ids: set[str] = set()
    for i, rule in enumerate(rules):
        if isinstance(rule, dict):
            yield from _rule_problems(i, rule, channels, seen_ids, aliases)
    fetch: dict[str, Any] = _section(raw, "fetch", dict)
    try:
        parse_private_networks(fetch.get("allow_private_networks"))
    except ValueError as exc:
        yield "fetch.allow_private_networks", str(exc)


def _environment_problems(env: Mapping[str, str]) -> list[Problem]:
    """Problems in the environment variables that override the config."""
    try:
        parse_private_networks(env.get(ENV_PRIVATE_NETWORKS))
    except ValueError as exc:
        return [Problem("environment", ENV_PRIVATE_NETWORKS, str(exc))]
    return []


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


def _rule_problems(
    i: int,
    rule: dict[str, Any],
    channels: dict[str, Any],
    seen_ids: set[str],
    aliases: Aliases | None,
) -> Iterator[tuple[str, str]]:
    rule_id = str(rule.get("id", f"#{i + 1}"))
    if rule_id in seen_ids:
        yield f"rules[{i}].id", f"duplicate rule id {rule_id!r}"
    seen_ids.add(rule_id)
    notify = rule.get("notify")
    for j, channel in enumerate(notify if isinstance(notify, list) else []):
        if not isinstance(channel, str) or channel not in channels:
            known = ", ".join(sorted(map(str, channels))) or "none defined"
            yield f"rules[{i}].notify[{j}]", f"no channel named {channel!r} (channels: {known})"
    query = rule.get("query")
    if isinstance(query, str):
        try:
            RuleSet.compile([(rule_id, query)], aliases=aliases)
        except QueryError as exc:
            yield f"rules[{i}].query", str(exc)


def _channel_problem(url: str) -> str | None:
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


def _document_order(problem: Problem) -> tuple[int, list[int]]:
    """Sort key: sections in the order Config declares them, then list indices."""
    sections = list(Config.model_fields)
    head = re.split(r"[.\[]", problem.path, maxsplit=1)[0]
    rank = sections.index(head) if head in sections else len(sections)
    return rank, [int(i) for i in re.findall(r"\[(\d+)\]", problem.path)]


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _loc(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        out = f"{out}[{part}]" if isinstance(part, int) else _join(out, str(part))
    return out


def _reason(error: Any) -> str:
    kind = error.get("type", "")
    if kind == "extra_forbidden":
        return "unknown key"
    if kind == "missing":
        return "required key is missing"
    message = str(error.get("msg", "invalid value"))
    return message.removeprefix("Value error, ")


def _yaml_reason(exc: yaml.YAMLError) -> str:
    mark = getattr(exc, "problem_mark", None)
    problem = getattr(exc, "problem", None) or str(exc)
    if mark is not None:
        return f"line {mark.line + 1}, column {mark.column + 1}: {problem}"
    return str(problem)
