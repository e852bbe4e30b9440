"""The rule playground: the config's rules (or a query written there) on pasted text or on
a page fetched by URL, with what `newsmon rules test` says of each rule.

A URL is fetched by the pipeline's guarded fetcher (its size, time and redirect limits,
no private address unless the config allows it) and extracted in a worker process within
the extraction deadline and memory cap, never in the site's own process. The rules read
the sample within the config's `matching:` limits, as the pipeline does.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from starlette.concurrency import run_in_threadpool

from monitors.config import Config
from monitors.errors import FetchError, QueryError
from monitors.extract import Extractor, article_from
from monitors.ingest import Fetcher, canonical_url
from monitors.models import Entry, Match
from monitors.pipeline.cycle import PAGE_ACCEPT, PAGE_TYPES
from monitors.rules import RuleSet

QUERY_ID = "(query)"  # the written query's id: no rule id has parentheses
MAX_TEXT = 500_000  # characters of pasted text
MAX_QUERY = 5_000


class TrialError(Exception):
    """The trial cannot run: a query that does not parse, a page that cannot be read."""


@dataclass(frozen=True)
class Trial:
    """What the playground was asked: text or a URL, rules picked, a query written."""

    title: str = ""
    text: str = ""
    url: str = ""
    site: str = ""
    lang: str = ""
    rules: tuple[str, ...] = ()
    query: str = ""

    @classmethod
    def of(cls, form: Mapping[str, str], rules: Sequence[str]) -> Trial:
        """A trial from the form's fields and the rule ids ticked."""
        return cls(
            title=form.get("title", "").strip(),
            text=form.get("text", "").strip(),
            url=form.get("url", "").strip(),
            site=form.get("site", "").strip(),
            lang=form.get("lang", "").strip(),
            rules=tuple(rules),
            query=form.get("query", "").strip(),
        )


@dataclass(frozen=True)
class Verdict:
    """One rule's verdict: its match (terms and passage), or None; `written` for the
    query written in the playground; not `decided` when the time limit came first."""

    rule_id: str
    label: str
    query: str
    match: Match | None
    written: bool = False
    decided: bool = True


@dataclass
class Outcome:
    """The sample tested (title, text, site, language, where from) and each verdict."""

    title: str
    text: str
    site: str | None
    lang: str | None
    source: str
    verdicts: list[Verdict] = field(default_factory=list)
    cut: str | None = None  # what the matching limits left out


class Playground:
    """Runs trials with a config's rules and fetch limits; `close()` ends its worker."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self._extractor: Extractor | None = None

    def ruleset(self, trial: Trial) -> RuleSet:
        """The rules picked, and the written query as rule QUERY_ID."""
        if len(trial.query) > MAX_QUERY:
            raise TrialError(f"the query is over {MAX_QUERY} characters")
        picked = [(r.id, r.query) for r in self.config.rules if r.id in trial.rules]
        if trial.query:
            picked.append((QUERY_ID, trial.query))
        if not picked:
            raise TrialError("pick a rule or write a query")
        try:
            return RuleSet.compile(
                picked,
                aliases=self.config.aliases,
                limits=self.config.matching.limits(),
                library=[(r.id, r.query) for r in self.config.rules],
            )
        except QueryError as exc:
            raise TrialError(str(exc)) from None

    async def run(self, trial: Trial) -> Outcome:
        """The verdict of every rule of the trial on its text or page."""
        ruleset = self.ruleset(trial)
        outcome = await self._sample(trial)
        result = ruleset.matching(outcome.title, outcome.text, site=outcome.site, lang=outcome.lang)
        found = {m.rule_id: m for m in result.matches}
        outcome.cut = result.cut
        labels = self.config.labels()
        outcome.verdicts = [
            Verdict(
                r.rule_id,
                labels.get(r.rule_id, "the query written"),
                r.query,
                found.get(r.rule_id),
                written=r.rule_id == QUERY_ID,
                decided=r.rule_id not in result.unevaluated,
            )
            for r in ruleset.rules
        ]
        return outcome

    async def _sample(self, trial: Trial) -> Outcome:
        site, lang = trial.site or None, trial.lang or None
        if trial.url:
            return await self._page(trial.url, site, lang)
        if not (trial.title or trial.text):
            raise TrialError("paste a text (or a headline), or give a URL")
        if len(trial.text) + len(trial.title) > MAX_TEXT:
            raise TrialError(f"the text is over {MAX_TEXT:,} characters")
        return Outcome(trial.title, trial.text, site, lang, "the text pasted")

    async def _page(self, url: str, site: str | None, lang: str | None) -> Outcome:
        """The article of the page at `url`, fetched and extracted under the pipeline's
        guards; the form's site and language, where given, in place of the page's."""
        try:
            async with Fetcher(self.config.fetch) as fetcher:
                page = await fetcher.fetch(url, accept=PAGE_ACCEPT, only=PAGE_TYPES)
        except FetchError as exc:
            raise TrialError(f"{url} could not be fetched: {exc.reason}") from None
        found = await run_in_threadpool(
            self.extractor().page_text, page.body, page.url, "", lambda _: False
        )
        if found.problem:
            raise TrialError(f"{url} could not be read: {found.problem}")
        entry = Entry(key=page.url, url=page.url, canonical_url=canonical_url(page.url))
        article = article_from(found, entry, page.url, self.config.extract.min_chars)
        return Outcome(
            article.title, article.text, site or article.site, lang or article.language, url
        )

    def extractor(self) -> Extractor:
        """The extraction worker, one process, started on first use."""
        if self._extractor is None:
            settings = self.config.extract.model_copy(update={"workers": 1})
            self._extractor = Extractor(settings)
        return self._extractor

    def close(self) -> None:
        if self._extractor is not None:
            self._extractor.close()
