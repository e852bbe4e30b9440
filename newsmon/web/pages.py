"""The desk's pages: each reads the store in one read-only unit of work and renders one
template; the two actions (retry, playground) are POST forms checked for CSRF."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from monitors.config import Config
from monitors.delivery import Outbox
from monitors.extract.language import UNKNOWN
from monitors.store import Store, StoryFilter
from newsmon.web.guard import SESSION_COOKIE, SESSION_DAYS, Guard, local_path
from newsmon.web.playground import Playground, Trial, TrialError
from newsmon.web.render import Renderer

MAX_PARAM = 200  # characters of a filter value
MAX_WORDS = 10
STATUSES = ("pending", "sending", "sent", "failed", "held")
RELISTED_SHOWN = 100


@dataclass
class Desk:
    """What every page needs: the config, the store, the renderer, the guard."""

    config: Config
    store: Store
    render: Renderer
    guard: Guard
    playground: Playground

    @property
    def size(self) -> int:
        return self.config.web.page_size

    # pages

    def stories(self, request: Request) -> Response:
        q = request.query_params
        where = StoryFilter(
            rule=_param(q, "rule"),
            site=_param(q, "site"),
            language=_param(q, "lang"),
            words=tuple((_param(q, "q") or "").split()[:MAX_WORDS]),
        )
        page = _page(q)
        with self.store.reading() as tx:
            found = tx.story_summaries(where, (page - 1) * self.size, self.size + 1)
            sites, languages = tx.article_facets()
        filters = {"rule": where.rule, "site": where.site, "lang": where.language}
        return self.render(
            request,
            "stories.html",
            stories=found[: self.size],
            older=len(found) > self.size,
            page=page,
            filters={**filters, "q": " ".join(where.words)},
            sites=sites,
            languages=languages,
        )

    def story(self, request: Request) -> Response:
        story_id = int(request.path_params["story_id"])
        page = _page(request.query_params)
        with self.store.reading() as tx:
            story = tx.story_summary(story_id)
            if story is None:
                raise HTTPException(404, f"there is no story {story_id}")
            members = tx.story_articles(story_id, (page - 1) * self.size, self.size + 1)
            made = tx.alert_listing(story_id=story_id, limit=1000)
            relisted = tx.relisted_entries(story_id, RELISTED_SHOWN + 1)
            listed = tx.listings([story_id], [a.id for a in members[: self.size]])
            languages = tx.story_languages([story_id]).get(story_id, ())
        return self.render(
            request,
            "story.html",
            story=story,
            languages=[language for language in languages if language != UNKNOWN],
            articles=members[: self.size],
            more=len(members) > self.size,
            page=page,
            first=(page - 1) * self.size,
            alerts=list(reversed(made)),
            relisted=relisted[:RELISTED_SHOWN],
            relisted_more=len(relisted) > RELISTED_SHOWN,
            listed=listed,
        )

    def alerts(self, request: Request) -> Response:
        q = request.query_params
        status = _param(q, "status")
        if status is not None and status not in STATUSES:
            raise HTTPException(400, f"status must be one of {', '.join(STATUSES)}")
        before = _number(q, "before")
        with self.store.reading() as tx:
            listing = tx.alert_listing(status, self.size + 1, before=before)
        shown = listing[: self.size]
        return self.render(
            request,
            "alerts.html",
            listing=shown,
            status=status,
            statuses=STATUSES,
            older=shown[-1].alert.id if len(listing) > self.size else None,
            newer=before is not None,
            retried=_number(q, "retried"),
        )

    def feeds(self, request: Request) -> Response:
        with self.store.reading() as tx:
            rows = {r.url: r for r in tx.feed_rows()}
        configured = {feed.url for feed in self.config.feeds}
        return self.render(
            request,
            "feeds.html",
            feeds=[(feed.label, feed.url, rows.get(feed.url)) for feed in self.config.feeds],
            former=[(r.name or r.url, url, r) for url, r in rows.items() if url not in configured],
        )

    async def playground_form(self, request: Request) -> Response:
        trial = Trial(rules=tuple(r.id for r in self.config.rules))
        return self.render(request, "playground.html", trial=trial, outcome=None, error=None)

    async def playground_run(self, request: Request) -> Response:
        form = await self._form(request)
        trial = Trial.of(_fields(form), [str(r) for r in form.getlist("rule")])
        outcome, error = None, None
        try:
            outcome = await self.playground.run(trial)
        except TrialError as exc:
            error = str(exc)
        return self.render(
            request,
            "playground.html",
            http_status=200 if error is None else 422,
            trial=trial,
            outcome=outcome,
            error=error,
        )

    # actions

    async def retry(self, request: Request) -> Response:
        form = await self._form(request)
        alert_id = request.path_params.get("alert_id")
        ids = None if alert_id is None else [int(alert_id)]
        outbox = Outbox.of(self.config, self.store)
        count = await run_in_threadpool(outbox.retry, ids)
        back = local_path(form.get("next") or "/alerts")
        return RedirectResponse(_with_param(back, "retried", str(count)), 303)

    async def login_form(self, request: Request) -> Response:
        if not self.guard.token:
            return RedirectResponse("/stories", 303)
        nxt = local_path(request.query_params.get("next"))
        return self.render(request, "login.html", next=nxt, error=None)

    async def login(self, request: Request) -> Response:
        form = await self._form(request)
        nxt = local_path(form.get("next"))
        if not self.guard.check_token(str(form.get("token", ""))):
            return self.render(
                request, "login.html", http_status=403, next=nxt, error="That is not the token."
            )
        answer = RedirectResponse(nxt, 303)
        cookie = self.guard.cookie(SESSION_COOKIE, self.guard.session(), SESSION_DAYS * 86400)
        answer.headers.append("Set-Cookie", cookie)
        return answer

    async def logout(self, request: Request) -> Response:
        await self._form(request)
        answer = RedirectResponse("/login", 303)
        answer.headers.append("Set-Cookie", self.guard.cookie(SESSION_COOKIE, "", 0))
        return answer

    async def _form(self, request: Request) -> FormData:
        """The POSTed form, once its CSRF token is checked."""
        form = await request.form(max_files=0, max_fields=100)
        self.guard.check_form(request, form.get("csrf"))
        return form


def _fields(form: FormData) -> dict[str, str]:
    return {k: v for k, v in form.items() if isinstance(v, str)}


def _param(params: Mapping[str, str], name: str) -> str | None:
    """A filter's value, or None when empty; 400 when too long."""
    value = (params.get(name) or "").strip()
    if len(value) > MAX_PARAM:
        raise HTTPException(400, f"{name} is over {MAX_PARAM} characters")
    return value or None


def _number(params: Mapping[str, str], name: str) -> int | None:
    value = params.get(name)
    if value is None or value == "":
        return None
    if not value.isdigit() or len(value) > 12:
        raise HTTPException(400, f"{name} must be a whole number")
    return int(value)


def _page(params: Mapping[str, str]) -> int:
    page = _number(params, "page") or 1
    if page < 1 or page > 100_000:
        raise HTTPException(400, "page must be between 1 and 100000")
    return page


def _with_param(path: str, name: str, value: str) -> str:
    parts = urlsplit(path)
    query = [(k, v) for k, v in parse_qsl(parts.query) if k != name] + [(name, value)]
    return f"{parts.path}?{urlencode(query)}"


def error_page(render: Renderer) -> Any:
    """The handler of HTTP errors: a page saying what went wrong."""

    async def handle(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        code = exc.status_code
        return render(request, "error.html", http_status=code, code=code, message=exc.detail)

    return handle
