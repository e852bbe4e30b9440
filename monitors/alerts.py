"""Alerts: one per rule and story, and later ones only when a development is new.

The first article of a story that matches a rule makes a `new` alert. A later
article of the same story makes an `update` for that rule only when its rule-matching
sentences bring salient facts (names, numbers, quoted phrases) that the story's
earlier alerts for the rule did not have, some hours after them. Otherwise it
is recorded on the story silently, with the reason, and the story's sources grow.
"""

from __future__ import annotations

import json
import re
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from monitors import similarity
from monitors.models import Article, Match
from monitors.schema import alerts, articles, decisions, insert_ignore, utcnow
from monitors.similarity import StoryFeatures
from monitors.text import sentences

MIN_NEW_FACTS = 2
UPDATE_GAP = timedelta(hours=12)


def novelty(
    conn: Connection,
    rule_id: str,
    story_id: int,
    match: Match,
    article: Article,
    feats: StoryFeatures,
) -> tuple[str, int | None, list[str]] | str:
    """(kind, alert followed, what is new) for this match, or why there is no alert.

    An update needs MIN_NEW_FACTS salient facts, in sentences holding a matched term, that none of
    the rule's earlier alerts in the story had, and comes at least UPDATE_GAP after
    the last of them (by publication time): other outlets' write-ups of the same
    news within hours are coverage, not a development."""
    prior = conn.execute(
        sa.select(
            alerts.c.id,
            alerts.c.article_id,
            articles.c.title,
            articles.c.text,
            articles.c.published_at,
            articles.c.fetched_at,
        )
        .join(articles, articles.c.id == alerts.c.article_id)
        .where(alerts.c.rule_id == rule_id, alerts.c.story_id == story_id)
        .order_by(alerts.c.id)
    ).all()
    if not prior:
        return "new", None, []
    last = max(row.published_at or row.fetched_at for row in prior)
    when = article.published or utcnow()
    if when - last < UPDATE_GAP:
        return f"within {UPDATE_GAP / timedelta(hours=1):g} h of its last alert: coverage"
    earlier = [similarity.features(r.title, r.text, r.published_at) for r in prior]
    passage = _hit_sentences(f"{article.title}\n{article.text}", match.terms)
    outlet = {w.casefold() for w in re.findall(r"\w+", article.site)}
    news = [
        fact
        for fact in similarity.new_facts(earlier, feats)
        if fact.casefold() in passage and fact.casefold() not in outlet
    ]
    if len(news) < MIN_NEW_FACTS:
        return f"new facts in the passage: {', '.join(news) or 'none'}; not a development"
    return "update", int(prior[0].id), list(dict.fromkeys(news))


def _hit_sentences(text: str, terms: tuple[str, ...]) -> str:
    """The sentences of a text that hold a matched term, lower-cased."""
    wanted = [t.casefold() for t in terms]
    spans = [text[a:b].casefold() for a, b in sentences(text)]
    return "\n".join(s for s in spans if any(t in s for t in wanted))


def add_alert(
    conn: Connection,
    article_id: int,
    article: Article,
    match: Match,
    story_id: int,
    feats: StoryFeatures,
    now: datetime,
) -> int | None:
    """Insert the alert this match deserves, if any; note a silent one's reason."""
    verdict = novelty(conn, match.rule_id, story_id, match, article, feats)
    if isinstance(verdict, str):
        conn.execute(
            decisions.insert().values(
                article_id=article_id,
                story_id=story_id,
                kind="no update",
                rule_id=match.rule_id,
                reason=f"no update for {match.rule_id}: {verdict}",
                created_at=now,
            )
        )
        return None
    kind, follows, news = verdict
    alert_id = conn.scalar(
        insert_ignore(conn, alerts)
        .values(
            rule_id=match.rule_id,
            article_id=article_id,
            story_id=story_id,
            kind=kind,
            follows=follows,
            new_facts=json.dumps(news, ensure_ascii=False),
            headline=article.title,
            url=article.canonical_url,
            site=article.site,
            terms=json.dumps(list(match.terms), ensure_ascii=False),
            passage=match.passage.text,
            marks=json.dumps([list(m) for m in match.passage.marks]),
            sources=json.dumps([[article.site, article.canonical_url]], ensure_ascii=False),
            created_at=now,
        )
        .returning(alerts.c.id)
    )
    return int(alert_id) if alert_id is not None else None
