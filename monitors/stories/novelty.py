"""Alert decisions: one alert per rule and story, and later ones only when a development
is new.

The first article of a story that matches a rule makes a `new` alert. A later
article of the same story (a near-duplicate too: an updated wire version) makes an
`update` for that rule when it brings something the story's earlier alerts for the rule
did not have. One significant thing is enough:

- a rule term they neither mentioned nor matched a variant of (a rule's synonyms for
  one idea are not news), rare enough (RARE_IDF) to mean something on its own;
- a name, or a number with its unit or context, in the article's headline, in the
  passage that explains its match, or in a sentence holding a telling rule term (a
  phrase, or a rare word): bylines and background are not news for the rule.

New quotations and common rule terms are listed with them but make no update alone. An
update comes at least `gap` (by publication time) from the rule's last alert in the
story (`stories.update_gap`): a burst of write-ups of one development makes one update,
and what a silenced one brought stays new for the next. Otherwise the article is
recorded on the story silently, with the reason, and the story's sources grow.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime, timedelta

from monitors.extract.analysis import RARE_IDF, STOPWORDS, default_idf, features, stem
from monitors.models import Article, Fact, Match, StoryFeatures
from monitors.store import PriorAlert, Tx, utcnow
from monitors.stories import similarity
from monitors.text import sentences, words

SIGNIFICANT = frozenset({"name", "number"})


def novelty(
    prior: Sequence[PriorAlert],
    match: Match,
    article: Article,
    feats: StoryFeatures,
    gap: timedelta,
) -> tuple[str, int | None, list[str]] | str:
    """(kind, alert followed, what is new) for this match, given the rule's earlier
    alerts in the story, or why there is no alert."""
    if not prior:
        return "new", None, []
    earlier = [features(r.title, r.text, r.published_at) for r in prior]
    terms = _new_terms(match.terms, prior, earlier)
    facts = _new_facts(earlier, match, article, feats)
    news = terms + [f.text for f in facts]
    if not any(map(_rare, terms)) and not any(f.kind in SIGNIFICANT for f in facts):
        return f"nothing new in the passage ({', '.join(news) or 'no new name or number'})"
    last = max(row.published_at or row.fetched_at for row in prior)
    if abs((article.published or utcnow()) - last) < gap:
        minutes = gap / timedelta(minutes=1)
        return f"within {minutes:g} min of its last alert: {', '.join(news)} wait for the next"
    return "update", int(prior[0].id), list(dict.fromkeys(news))


def _new_terms(
    matched: tuple[str, ...], prior: Sequence[PriorAlert], earlier: list[StoryFeatures]
) -> list[str]:
    """The matched rule terms that the earlier alerts' texts lacked and that share no word
    with a term they matched ("security assurances" after "security guarantees" is the
    same idea)."""
    known = similarity.Roots(w for row in prior for t in row.terms for w in _term_key(t))
    said = set().union(*(e.terms for e in earlier))
    return [
        t
        for t in dict.fromkeys(matched)
        if not (any(map(known.seen, _term_key(t))) or _term_key(t) <= said)
    ]


def _rare(term: str) -> bool:
    """Whether a rule term is rare enough (RARE_IDF) to be news on its own: "ratification",
    not "insisted"."""
    idf = default_idf()
    return max(map(idf.idf, _term_key(term)), default=0.0) >= RARE_IDF


def _term_key(term: str) -> set[str]:
    """A term's stemmed content words ("calls on" is {call}: a stopword is never rare)."""
    content = [w for w in words(term) if w not in STOPWORDS]
    return {stem(w) for w in content or words(term)}


def _new_facts(
    earlier: list[StoryFeatures], match: Match, article: Article, feats: StoryFeatures
) -> list[Fact]:
    """The facts of the article's headline, match passage and telling sentences that the
    earlier alerts' articles lacked, leaving out the outlet's own name."""
    telling = tuple(t for t in match.terms if len(words(t)) > 1 or _rare(t))
    passage = "\n".join(
        (
            article.title.casefold(),
            match.passage.text.casefold(),
            _hit_sentences(article.text, telling),
        )
    )
    outlet = {w.casefold() for w in re.findall(r"\w+", article.site)}
    return [
        fact
        for fact in similarity.new_facts(earlier, feats)
        if fact.text.casefold() in passage and fact.text.casefold() not in outlet
    ]


def _hit_sentences(text: str, terms: tuple[str, ...]) -> str:
    """The sentences of a text that hold one of these terms, lower-cased."""
    wanted = [t.casefold() for t in terms]
    spans = [text[a:b].casefold() for a, b in sentences(text)]
    return "\n".join(s for s in spans if any(t in s for t in wanted))


def decide_alert(
    tx: Tx,
    article_id: int,
    article: Article,
    match: Match,
    story_id: int,
    feats: StoryFeatures,
    now: datetime,
    gap: timedelta,
) -> int | None:
    """Add the alert this match deserves, if any; note a silent one's reason."""
    verdict = novelty(tx.prior_alerts(match.rule_id, story_id), match, article, feats, gap)
    if isinstance(verdict, str):
        reason = f"no update for {match.rule_id}: {verdict}"
        tx.add_decision(article_id, story_id, "no update", reason, now, rule_id=match.rule_id)
        return None
    kind, follows, news = verdict
    return tx.add_alert(article_id, article, match, story_id, kind, follows, news, now)
