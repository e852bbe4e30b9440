"""`newsmon rules`: try the watch rules of a config on texts, pages, URLs or stored articles."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, NoReturn

import typer

from monitors.errors import FetchError
from monitors.models import Entry
from newsmon.common import App, ConfigOption, load_config, parse_since, store_for

if TYPE_CHECKING:
    from monitors.config import Config
    from monitors.rules import Matching, RuleSet
    from monitors.store import Tx

EXIT_SOURCE = 1
EXIT_USAGE = 2
HTML_SUFFIXES = frozenset({".html", ".htm", ".xhtml"})

rules_app = App(
    help="Try the watch rules on texts, pages, URLs or stored articles.",
    no_args_is_help=True,
)

STDIN_HINT = (
    " (to test a text, give it on standard input: printf 'Headline\\nText' | newsmon rules test -)"
)


@dataclass(frozen=True)
class Sample:
    """One thing to test the rules on: the source as given, and its article fields."""

    source: str
    title: str
    text: str
    site: str | None = None
    lang: str | None = None


class SourceError(Exception):
    """A source that cannot be read; the message says why."""


@rules_app.command("test")
def test(
    sources: Annotated[
        list[str] | None,
        typer.Argument(
            help="Text or HTML files (- for standard input), or http(s) URLs.",
            metavar="SOURCE",
            show_default=False,
        ),
    ] = None,
    config: ConfigOption = None,
    rule: Annotated[
        list[str] | None,
        typer.Option("--rule", "-r", help="Only this rule (repeatable).", metavar="ID"),
    ] = None,
    stored: Annotated[
        bool, typer.Option("--stored", help="Test the articles in the store instead.")
    ] = False,
    since: Annotated[
        str | None,
        typer.Option(
            help="With --stored: only articles fetched since this date or ISO 8601 time (UTC).",
            metavar="DATE",
        ),
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="One JSON object per line per source and rule.")
    ] = False,
    site: Annotated[
        str | None,
        typer.Option(help="The sources' site, for site: (default: what the page gives, or none)."),
    ] = None,
    lang: Annotated[
        str | None,
        typer.Option(help="The sources' language, for lang: (default: the page's, or none)."),
    ] = None,
) -> None:
    """Print which rules match each source, with the passage that explains the match.

    A text file's first line is its headline. Exits 0 unless the config (2), the store
    (3) or a source (1) cannot be read.
    """
    if stored == bool(sources):
        _usage_error("give SOURCE files or URLs, or --stored (not both)")
    if since is not None and not stored:
        _usage_error("--since goes with --stored")
    if stored and (site or lang):
        _usage_error("--site and --lang go with SOURCE files or URLs")
    moment = parse_since(since) if since else None
    cfg = load_config(config, sends=False)
    ruleset = _ruleset(cfg, rule or [])
    if stored:
        with store_for(cfg) as store, store.transaction() as tx:
            failed = _report(ruleset, _stored(tx, moment), as_json)
    else:
        samples = _with_fields(_read_all(cfg, sources or []), site, lang)
        failed = _report(ruleset, samples, as_json)
    if failed:
        raise typer.Exit(EXIT_SOURCE)


def _ruleset(cfg: Config, rule_ids: list[str]) -> RuleSet:
    ruleset = cfg.ruleset()
    if not rule_ids:
        return ruleset
    try:
        return ruleset.select(rule_ids)
    except KeyError as exc:
        known = ", ".join(r.id for r in cfg.rules)
        _usage_error(f"unknown rule {exc.args[0]} (rules: {known})")


def _usage_error(message: str) -> NoReturn:
    typer.echo(f"Error: {message}", err=True)
    raise typer.Exit(EXIT_USAGE)


def _report(ruleset: RuleSet, samples: Iterable[Sample | SourceError], as_json: bool) -> int:
    """Print each sample's verdicts; the number of sources that could not be read."""
    failed = 0
    for sample in samples:
        if isinstance(sample, SourceError):
            typer.echo(f"error: {sample}", err=True)
            failed += 1
            continue
        result = ruleset.matching(sample.title, sample.text, site=sample.site, lang=sample.lang)
        lines = _json_lines(sample, ruleset, result) if as_json else _text_lines(sample, result)
        for line in lines:
            typer.echo(line)
    return failed


def _json_lines(sample: Sample, ruleset: RuleSet, result: Matching) -> Iterator[str]:
    """One line per rule: `matched` is null for a rule the time limit left undecided,
    `cut` what the matching limits left out of the source (null when nothing)."""
    found = {match.rule_id: match for match in result.matches}
    for rule in ruleset.rules:
        match = found.get(rule.rule_id)
        undecided = rule.rule_id in result.unevaluated
        yield json.dumps(
            {
                "source": sample.source,
                "rule": rule.rule_id,
                "lang": sample.lang,
                "matched": None if undecided else match is not None,
                "terms": list(match.terms) if match else [],
                "passage": match.passage.marked() if match else "",
                "cut": result.cut,
            },
            ensure_ascii=False,
        )


def _text_lines(sample: Sample, result: Matching) -> Iterator[str]:
    heading = f"{sample.source} ({sample.lang or 'language unknown'})"
    yield f"{heading}: {sample.title}" if sample.title else heading
    if result.cut:
        yield f"  matched in part: {result.cut}"
    if not result.matches:
        yield "  no rule matches" + (" of those decided" if result.unevaluated else "")
    for match in result.matches:
        yield f"  {match.rule_id}: {', '.join(match.terms)}"
        yield f"    {match.passage.marked()}"


def _with_fields(
    samples: Iterable[Sample | SourceError], site: str | None, lang: str | None
) -> Iterator[Sample | SourceError]:
    """`samples` with `site` and `lang`, where given, in place of their own."""
    for sample in samples:
        if isinstance(sample, Sample):
            sample = replace(sample, site=site or sample.site, lang=lang or sample.lang)
        yield sample


def _read_all(cfg: Config, sources: Sequence[str]) -> Iterator[Sample | SourceError]:
    """Each source read, or the error that kept it from being read, in the order given."""
    import asyncio

    urls = [s for s in sources if s.startswith(("http://", "https://"))]
    fetched = asyncio.run(_fetch_all(cfg, urls)) if urls else {}
    for source in sources:
        if source in fetched:
            yield fetched[source]
            continue
        try:
            yield _read_file(cfg, source)
        except SourceError as exc:
            yield exc


async def _fetch_all(cfg: Config, urls: list[str]) -> dict[str, Sample | SourceError]:
    """The article of each URL, or why it could not be fetched."""
    from monitors.ingest import Fetcher
    from monitors.pipeline.cycle import PAGE_ACCEPT

    out: dict[str, Sample | SourceError] = {}
    async with Fetcher(cfg.fetch) as fetcher:
        for url in urls:
            try:
                page = await fetcher.fetch(url, accept=PAGE_ACCEPT)
            except FetchError as exc:
                out[url] = SourceError(f"{url}: {exc.reason}")
            else:
                out[url] = _from_html(cfg, url, page.body, page.url)
    return out


def _read_file(cfg: Config, source: str) -> Sample:
    """The sample in a file, or on standard input for "-": a headline line then the text,
    or an HTML page."""
    path = Path(source)
    try:
        data = sys.stdin.buffer.read() if source == "-" else path.read_bytes()
    except OSError as exc:
        hint = STDIN_HINT if isinstance(exc, FileNotFoundError) and " " in source else ""
        raise SourceError(f"{source}: {exc.strerror or exc}{hint}") from None
    if path.suffix.lower() in HTML_SUFFIXES or data.lstrip()[:15].lower().startswith(
        (b"<!doctype html", b"<html")
    ):
        return _from_html(cfg, source, data, path.resolve().as_uri())
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise SourceError(f"{source}: not UTF-8 text ({exc.reason})") from None
    from monitors.extract.language import detect_language

    title, _, body = text.partition("\n")
    return Sample(source, title.strip(), body.strip(), lang=detect_language(text))


def _from_html(cfg: Config, source: str, html: bytes, url: str) -> Sample:
    from monitors.extract import extract_article
    from monitors.ingest import canonical_url

    entry = Entry(key=url, url=url, canonical_url=canonical_url(url))
    article = extract_article(html, entry, url, cfg.extract.min_chars)
    return Sample(source, article.title, article.text, article.site or None, article.language)


def _stored(tx: Tx, since: datetime | None) -> Iterator[Sample]:
    """The stored articles (duplicates left out) fetched since `since`, oldest first."""
    for a in tx.originals_fetched_since(since):
        yield Sample(a.url, a.title, a.text, a.site, a.language)
