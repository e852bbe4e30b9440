"""Alert decisions: one alert per rule and story, and a later one only for a development.

The first article of a story that matches a rule makes a `new` alert. A later article of
the story (a near-duplicate too: an updated wire version) makes an `update` for the rule
only when the sentences that carry the rule (its headline when it speaks of the rule's
matter, and each sentence of its lead holding one of the rule's hits: news comes first)
state a fact neither the rule's earlier alerts nor the story's articles it matched
silently as nothing new did:

1. a party: a country, bloc or institution none of the earlier articles named under any
   of its names ("US", "U.S.", "United States", "America", "Washington" and "American"
   are one party, as are "Germany" and "the German government"; the House is news after
   the Senate, Congress is not; see monitors.stories.names). A person's name is no
   development on its own, nor is anyone who only speaks ("..., a senior official said");
2. a number with its unit or context whose value they did not write ("30,000 troops",
   "15 years", "four frigates", "two-thirds"), outside an attribution;
3. a status, in a clause holding a rule hit or a word of the rule's matter, the rule's
   earlier sentences did not assert: where the matter stands (proposed < submitted <
   agreed/ready < signed < ratified/approved) or a turn (rejected, blocked, delayed,
   withdrawn, paused), in a word or a phrase ("put off", "on hold", "reached his
   committee"); a refusal that restates a known demand as its condition ("will not agree
   unless Ukraine withdraws") is none. A status
   asserted is one not put as a wish or a condition ("would need to be ratified",
   "hopes to sign", "has yet to");
4. a condition ("only if", "in exchange for", "depends on", "would have to", a
   reservation, ...) whose clause (or, for one put first, the clause it governs) holds
   a salient word or name the earlier articles did not, other than a form of a known
   word or a kin of a known condition's words in the rule's own alternatives
   ("advice and consent" after "Senate ratification": monitors.rules.kin);
5. a place (a region, port, city, air base: "the Kherson region", "the port of
   Constanta") none of the earlier articles named, nor the area it is part of (the
   Donetsk region after the Donbas), in a clause holding a rule hit.

A number of votes that is a known share of the chamber ("67 votes" after "two-thirds"
of the Senate) is the same number, as is a span of time in other units ("two days" after
"48 hours"); a date counts when set for a decisive act ("a vote on March 3"), not when
something was said on it. In a condition, another form of a known word ("withdrew" after
"withdraw") or a word a desk reads as it ("a freeze" after "a ceasefire") is known.

Each such fact (a clause; none in an attribution, background, a clause dated earlier,
a question or a poll) is then weighed: a logistic regression over its evidence (its
kinds and place, a quote, a hedge, a described speaker, its length and new words, ...;
see `evidence`), fitted on labelled cases by bench/fit_updates.py (weights in
monitors.stories.weights), says whether it is a development. Each development is said
in the words of its clause ("New: Britain and France would also provide security
guarantees; the document is 100% ready"). An update comes at least
`stories.update_gap` (by publication time) after the rule's last alert in the story: a
burst of write-ups of one development makes one update, and what a held one brought
(decision "update held") stays new for the next. Otherwise the article is recorded on
the story silently, with the reason (decision "no update").
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache

from monitors.extract.analysis import STOPWORDS, default_idf, facts_of, stem
from monitors.models import Article, Kin, Match
from monitors.store import PriorAlert, Tx, utcnow
from monitors.stories.names import CAPITALS, identity, known, parties_in
from monitors.stories.weights import BIAS, WEIGHTS
from monitors.text import sentences, tokenize, words


def _wordset(text: str) -> frozenset[str]:
    return frozenset(text.split())


MAX_CLAUSE_WORDS = 24
LEAD_SENTENCES = 6  # where a report states what is new
SUBJECT_WORDS = 2  # a capital this early in a clause is its subject
CONTENT_IDF = 5.0  # a rarer word can make a condition new
MIN_ROOT = 5  # letters a stem shares with another form of its word

# where a matter stands, by rank; a turn has no rank
STATUS_RANKS = {
    "proposed": 1,
    "submitted": 2,
    "agreed": 3,
    "signed": 4,
    "ratified": 5,
    "rejected": 0,
    "blocked": 0,
    "delayed": 0,
    "withdrawn": 0,
    "begun": 0,
}
STATUS_WORDS = {
    "proposed": r"propos(?:e|es|ed)|offer(?:s|ed)?|draft(?:s|ed)?|unveil(?:s|ed)?|ready|"
    r"prepared|willing|contribut(?:e|es|ed)|deploy(?:s|ed)?|pledg(?:e|es|ed)|provid(?:e|es|ed)|"
    r"commit(?:s|ted)?|suppl(?:y|ies|ied)|fund(?:s|ed)?|launch(?:es|ed)?",
    "submitted": r"submit(?:s|ted)?|introduc(?:e|es|ed)|schedul(?:e|es|ed)|sent|"
    r"transmit(?:s|ted)?|referred|forward(?:s|ed)|hand(?:s|ed)",
    "agreed": r"agree(?:s|d)?|accept(?:s|ed)?|endors(?:e|es|ed)|approv(?:e|es|ed)|"
    r"finali[sz](?:e|es|ed)|clinch(?:es|ed)?|conclud(?:e|es|ed)|finish(?:es|ed)?|"
    r"complet(?:e|es|ed)",
    "signed": r"sign(?:s|ed)?|initial(?:l?ed|s)",
    "ratified": r"ratif(?:y|ies|ied)",
    "rejected": r"reject(?:s|ed)?|refus(?:e|es|ed)|dismiss(?:es|ed)?|rebuff(?:s|ed)?|"
    r"spurn(?:s|ed)?",
    "blocked": r"block(?:s|ed)?|veto(?:es|ed)?|stall(?:s|ed)?",
    "delayed": r"delay(?:s|ed)?|postpon(?:e|es|ed)|suspend(?:s|ed)?|shelv(?:e|es|ed)|"
    r"defer(?:s|red)?|paus(?:e|es|ed)",
    "withdrawn": r"withdr(?:aw|aws|ew|awn)|abandon(?:s|ed)?|scrap(?:s|ped)?|collaps(?:e|es|ed)|"
    r"drop(?:s|ped)?",
}
# phrases that say a status in other words, as its one word in the same tense
_PHRASAL = tuple(
    (re.compile(pattern, re.IGNORECASE), word)
    for pattern, word in (
        (r"\b(?:put|pushed) off\b", "postponed"),
        (r"\bputs off\b", "postpones"),
        (r"\bputting off\b", "postponing"),
        (r"\bpushed back against\b", "rejected"),
        (r"\bpushed back\b(?! (?:on|at|by|from)\b)", "postponed"),
        (r"\bheld up\b", "blocked"),
        (r"\bfail(?:s|ed)? to (?:win|pass|clear|secure|get|gain)\b", "rejected"),
        (
            r"\bpulled (?:(?:its|their|the|his) (?:troops|forces|army|units) )?(?:back|out)\b",
            "withdrew",
        ),
        (
            r"\bpulls (?:(?:its|their|the|his) (?:troops|forces|army|units) )?(?:back|out)\b",
            "withdraws",
        ),
        (r"\bcalled off\b", "scrapped"),
        (r"\b(?:put|placed|kept) on hold\b", "suspended"),
        (r"\bon hold\b", "suspended"),
        (r"\bsigned off\b", "approved"),
        (r"\b(?:reached|struck|sealed) (?:an? |the )?(?:deal|agreement|accord)\b", "agreed"),
        (
            r"\breached (?:the |his |her |its |their )?(?:\w+ )?"
            r"(?:committee|desk|floor|senate|congress|parliament)\b",
            "sent",
        ),
    )
)
# words before a status that make it a wish, a need or a condition, not a fact
UNASSERTED = _wordset(
    """
    would could might may should must need needs needed if unless whether yet hope
    hopes hoped want wants wanted seek seeks sought plan plans planned expect expects
    expected aim aims intend intends ask asks asked call calls urge urges urged demand
    demands demanded once when before until
    """
)
# of those, the modals and conjunctions: a wish even before a status with its own
# auxiliary ("would have been ratified", "once it has been signed")
CONJUNCTIVE = _wordset(
    "would could might may should must if unless whether yet once when before until"
)
NEGATION = _wordset("not never no nor without")
CONDITIONS = re.compile(
    r"\b(only if|unless|provided(?: that)?|on (?:the )?condition(?: that)?(?! of anonymity)|"
    r"in exchange for|"
    r"in return for|depend(?:s|ed|ing)? on|contingent (?:on|upon)|conditional on|"
    r"subject to|as long as|only after|(?:would|will) (?:need|require|have to)|"
    r"reservations? (?:to|that|stating|barring|requiring|limiting|on)|with the proviso|"
    r"once(?= (?:(?:the|a|an|it|they|he|she|we|its|their|both|all)\b|(?-i:[A-Z]))))\b",
    re.IGNORECASE,
)
COMMENTATORS = _wordset(
    "critics analysts analyst experts expert observers commentators pundits opponents"
)
PARTICIPLES = _wordset("saying adding noting warning calling arguing citing repeating reiterating")
SPEECH = _wordset(
    """
    said says say told tell tells added adds stated stressed warned noted according
    reported reports quoted speaking
    """
)
INSTITUTION_WORDS = _wordset(
    """
    senate congress parliament assembly council commission committee union court
    ministry government administration alliance coalition agency bank fund duma rada
    house cabinet army forces navy command organization organisation office
    """
)
_SMALL = "zero one two three four five six seven eight nine ten eleven twelve"
_COUNTS = {w: str(i) for i, w in enumerate(_SMALL.split())} | {
    "fifteen": "15",
    "twenty": "20",
    "thirty": "30",
    "fifty": "50",
    "hundred": "100",
}
_SPELLED_COUNT = re.compile(
    r"(?<!-)\b(" + "|".join(_COUNTS) + r")[ -](years?|months?|weeks?|days?|hours?|countries|"
    r"nations|brigades|battalions|divisions|jets|aircraft|ships|senators|votes|points)\b",
    re.IGNORECASE,
)
_UNITS = [
    "one",
    "two",
    "three",
    "four",
    "five",
    "six",
    "seven",
    "eight",
    "nine",
    "ten",
    "eleven",
    "twelve",
    "thirteen",
    "fourteen",
    "fifteen",
    "sixteen",
    "seventeen",
    "eighteen",
    "nineteen",
]
_TENS = ["twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"]
# a count in words of things: "four frigates", "sixty-one senators", "two Patriot air
# defence batteries" (a plural within four words; not "one", which is rarely a count, nor
# the decades of history)
HOURS = {"hour": 1, "day": 24, "week": 168, "month": 730, "year": 8760}
_DURATION = re.compile(
    r"(?<![\d.,])\b(\d+|" + "|".join(_COUNTS) + r")[ -](hours?|days?|weeks?|months?|years?)\b",
    re.IGNORECASE,
)
_SPELLED_PLURAL = re.compile(
    rf"\b((?:{'|'.join(_TENS)})(?:[ -](?:{'|'.join(_UNITS[:9])}))?|{'|'.join(_UNITS[1:])})"
    r"(?!\s+(?:decades|centuries|generations)\b)(?=\s+(?:[\w-]+\s+){0,3}?[a-z]+[^s\W]s\b)",
    re.IGNORECASE,
)
_SPELLED = re.compile(
    r"\b(two-thirds|three-quarters|three-fifths|a majority|simple majorit(?:y|ies)|"
    r"unanimous(?:ly)?|half)\b",
    re.IGNORECASE,
)
_NAME = r"[A-Z][\w'’.-]*(?:\s+[A-Z][\w'’.-]*)*"
_LIST_COMMA = rf"(?!\s+{_NAME}(?:,|\s+(?:and|or)\s+[A-Z]))"  # "France, Germany and Britain"
_SINCE = r"(?:days|weeks|hours|months|a day|a week|a month|shortly|soon|just) after"
_CLAUSE = re.compile(
    rf"(?:(?<!\d),|,(?!\d)){_LIST_COMMA}|(?<!\d):|:(?!\d)|[;\u2013\u2014()]| - |"
    rf"(?= while | whereas | {_SINCE} )"
)
_REFERENCE_TO = re.compile(rf"\s*{_SINCE}\b", re.IGNORECASE)
BACKGROUND = _wordset("which whose where while who whom since")
STANCE = SPEECH | _wordset(
    """
    welcomed welcomes welcome hoped hopes praised praises urged urges believes believed
    thinks thought described describes criticised criticized condemned condemns doubts
    doubted fears feared warned cautioned called calls reacted responded insists insist
    insisted argues argue argued
    """
)
_STATUS = {status: re.compile(f"(?:{forms})") for status, forms in STATUS_WORDS.items()}
DETERMINERS = _wordset("the a an its their this that his her any our your such")
ACTS = _wordset(
    """
    send sign ratify provide withdraw accept join hold allow deploy cede give submit
    approve agree back support guarantee
    """
)
INFLECTED = _wordset("sent withdrew withdrawn ready willing prepared")
BARE_BEFORE = _wordset("will shall can cannot do did not never they we i you")
PREPOSITIONS = _wordset("for of without after before on at with from into upon under")
AUXILIARIES = _wordset("is are was were been has have had")
# the words that open a verb phrase after its subject
PREDICATES = AUXILIARIES | _wordset("will would could can may might shall should must")
BEGIN = _wordset("began begun begins started starts starting")
ONGOING = _wordset("is are was were be been being began begin begins started start starts")
ROLES = _wordset(
    """
    top head chair chairman chairwoman leader member members spokesman spokeswoman
    minister secretary senator ranking former
    """
)
# a speaker's title opening the clause that describes her
TITLES = _wordset(
    "chairman chairwoman head director fellow researcher professor spokesman spokeswoman"
)
BACKGROUND_NUMBERS = _wordset(
    """
    casualties killed wounded dead die dies died deaths seats anniversary marched
    protesters demonstrators rallied
    """
)
OPINION = _wordset("poll polls survey surveys respondents pollster")
_MODAL_IF = re.compile(r"\b(?:would|could|might|may|will|only)\b[^,;]*?\bif\b", re.IGNORECASE)
_REFERENCE = re.compile(
    r"\b(?:similar to|like|modell?ed on|akin to|based on|in the style of)\b", re.IGNORECASE
)
_OBJECT = re.compile(
    r"\b(?:to|against|with|on|into|in|at|for|alongside|over|about)\s+(?:the\s+)?"
    r"[A-Z][\w.'’-]*(?:\s+[A-Z][\w.'’-]*)*"
)
_YEAR = re.compile(r"\b(19\d\d|20\d\d)\b")
_PAST = re.compile(r"\b(?:last year|years ago|a year ago|decades? ago)\b", re.IGNORECASE)
_OWNER = re.compile(r"\b([A-Z][a-z]+(?: [A-Z][a-z]+)?)['’]s\s+([A-Z][\w-]*(?:\s+[A-Z][\w-]*)*)")
_DEMONYM_MODIFIER = re.compile(  # not of an institution: "the British and French parliaments"
    r"\b[A-Z][a-z]+(?:an|ian|ese|ish|i|ch)\s+(?=[a-z])(?!(?:and|or|"
    + "|".join(sorted(INSTITUTION_WORDS))
    + r")s?\b)"
)
_HEDGED = re.compile(
    r"\b(?:more than|over|about|around|nearly|almost|roughly|some|at least|up to|close to|"
    r"approximately|just under|just over)\s+\$?([\d][\d,.]*)",
    re.IGNORECASE,
)
# acts whose date, once set, is news ("a vote on March 3"), as stems, and how many words
# before "on" one may stand
DECISIVE = frozenset(
    map(
        stem,
        _wordset(
            """
            vote votes voting ballot referendum deadline sign signing ratify ratification
            expire expires effect
            """
        ),
    )
)
DATE_REACH = 8
_DATE = re.compile(
    r"\b(by|for|until|before|on) (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Sept|Oct|Nov|Dec)"
    r"[a-z]*\.? (\d{1,2})\b"
)
# a direction and the name it qualifies are a place ("west London", "southern France")
_COMPASS = re.compile(
    r"\b(?:west|western|east|eastern|north|northern|south|southern)\b(?:\s+[A-Z][\w'’-]*)*"
)
# a place: a name before a word for a place ("the Odesa region", "Rzeszow airport"), after
# one ("the port of Constanta"), or a region of Ukraine the coverage names bare
_NAMED = r"[A-Z][\w'’-]+(?:\s+[A-Z][\w'’-]+)?"
_PLACE_WORDS = r"region|oblast|province|district|coast|port|city|town|airport|air base|front"
_PLACE_BEFORE = re.compile(rf"\b({_NAMED})\s+(?:{_PLACE_WORDS})\b")
_PLACE_AFTER = re.compile(rf"\b(?:{_PLACE_WORDS}) of\s+({_NAMED})")
REGIONS = _wordset(
    """
    donbas donbass donetsk luhansk zaporizhzhia kherson kharkiv sumy chernihiv
    dnipropetrovsk dnipro mykolaiv odesa crimea kramatorsk sloviansk pokrovsk
    """
)
# places that are one area: a part of the Donbas names the Donbas
AREAS = {"donbas": "donbas donbass donetsk luhansk kramatorsk sloviansk"}
# seats of the chambers a share of votes is counted in, and the shares as fractions
CHAMBERS = {"senate": 100, "senat": 100, "senators": 100, "rada": 450, "duma": 450}
SHARES = {
    "two-thirds": 2 / 3,
    "three-fifths": 3 / 5,
    "three-quarters": 3 / 4,
    "a majority": 0.5,
    "simple majority": 0.5,
}
# one root for the irregular forms of a verb and for the words a desk reads as one
# (a freeze of the fighting is a ceasefire), by stem
ROOTS = {
    stem(form): stem(root)
    for root, forms in {
        "withdraw": "withdrew withdrawn",
        "draw": "drew drawn",
        "give": "gave given",
        "take": "took taken",
        "leave": "left",
        "send": "sent",
        "hold": "held",
        "strike": "struck",
        "fight": "fought",
        "win": "won",
        "make": "made",
        "break": "broke broken",
        "begin": "began begun",
        "choose": "chose chosen",
        "fall": "fell fallen",
        "rise": "rose risen",
        "sell": "sold",
        "bring": "brought",
        "keep": "kept",
        "seek": "sought",
        "go": "went gone",
        "ceasefire": "freeze froze frozen truce armistice",
    }.items()
    for form in forms.split()
}
APPROXIMATE = 0.1  # a hedged number this close to a known one is that number rounded
_ORDINAL = re.compile(r"\b\d+(?:st|nd|rd|th)\b")
_IDENTIFIER = re.compile(
    r"\b((?:[A-Z][a-z]+ )?[A-Z][a-z]+) \d+\b|\b\d+-(?:member|point|nation|page|seat)\b|"
    r"\b[A-Z][\w]*-\d+\b|\[\d+\]|\b\d+(?:\.\d+){2,}\b"
)
_MONTHS = _wordset(
    """
    january february march april may june july august september october november december
    jan feb mar apr jun jul aug sep sept oct nov dec
    """
)
WHEN = _wordset(
    """
    monday tuesday wednesday thursday friday saturday sunday today tomorrow tonight next
    this on in from at
    """
)
_HEDGES = _wordset("about around nearly almost roughly some over approximately")
_TIME = re.compile(
    r"(?<![$£€.\d])\b\d{1,2}:[0-5]\d(?:\s*[ap]\.?m\b\.?)?|"
    r"(?<![$£€.\d])\b\d{1,2}\.[0-5]\d(?![\d%]|\s*(?:per ?cent|percent|(?:b|m|tr)illion|bn)\b)"
    r"(?:\s*[ap]\.?m\b\.?)?|\b\d{1,2}\s*[ap]\.?m\b\.?|"
    r"\b\d{3,4}\s*(?:GMT|UTC|BST|CET|EST|EDT|PST|PDT)\b",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Known:
    """What the rule's earlier alerts said: the parties, numbers and words of their
    articles, the statuses their rule sentences asserted and the words of the conditions
    they set."""

    parties: set[str]
    numbers: set[str]
    stems: set[str]
    statuses: set[tuple[str, str]]
    conditions: set[str]
    terms: tuple[str, ...] = ()  # the conditions' own words, as written
    lines: tuple[frozenset[str], ...] = ()  # the stems of each of their sentences
    hits: tuple[str, ...] = ()  # the rule's hits in the alerts, as written

    @classmethod
    def of(cls, prior: Sequence[PriorAlert], seen: Iterable[tuple[str, str]] = ()) -> Known:
        """What the `prior` alerts' articles said, and the (title, text) of the story's
        articles the rule matched `seen` without an alert (they brought nothing new, so
        asserted no status beyond the alerts')."""
        parties: set[str] = set()
        numbers: set[str] = set()
        stems: set[str] = set()
        statuses: set[tuple[str, str]] = set()
        conditions: set[str] = set()
        terms: list[str] = []
        lines: list[frozenset[str]] = []
        for alert in prior:
            for sentence in _sentences_with(alert.title, alert.text, alert.terms):
                statuses.update(_statuses(sentence, named=True))
        for title, text in [*((a.title, a.text) for a in prior), *seen]:
            body = f"{title}\n{text}"
            terms.extend(_condition_terms(body))
            parties.update(parties_in(body))
            parties.update(k for f in facts_of(body) if f.kind == "name" for k in identity(f.text))
            numbers.update(_numbers(body))
            stems.update(stem(w) for w in words(body))
            lines.append(_stems(title))
            lines.extend(_stems(text[a:b]) for a, b in sentences(text))
        conditions = set().union(*map(_content, terms))
        hits = tuple(t for alert in prior for t in alert.terms)
        return cls(parties, numbers, stems, statuses, conditions, tuple(terms), tuple(lines), hits)


class Held(str):
    """Why a match that brings news makes no update yet: the update gap holds it."""


def novelty(
    prior: Sequence[PriorAlert],
    match: Match,
    article: Article,
    gap: timedelta,
    seen: Iterable[tuple[str, str]] = (),
) -> tuple[str, int | None, list[str]] | str:
    """(kind, alert followed, what is new) for this match, given the rule's earlier
    alerts in the story and the (title, text) of the articles it matched there silently
    (`seen`: what the story already held), or why there is no alert (a `Held` when the
    update gap holds back what is new)."""
    if not prior:
        return "new", None, []
    weighed = [(f, weight) for f, weight in weigh(prior, match, article, seen) if not f.aside]
    if not weighed:
        return "nothing new where the rule matched: no new party, number, status or condition"
    news = list(dict.fromkeys(f.shown for f, weight in weighed if weight >= 0))
    if not news:
        best = max(weight for _, weight in weighed)
        said = "; ".join(dict.fromkeys(f.shown for f, _ in weighed))
        return f"nothing that weighs as new where the rule matched (best {best:.2f}): {said}"
    last = max(row.published_at or row.fetched_at for row in prior)
    if abs((article.published or utcnow()) - last) < gap:
        minutes = gap / timedelta(minutes=1)
        return Held(
            f"within {minutes:g} min of its last alert: {'; '.join(news)} wait for the next"
        )
    return "update", int(prior[0].id), news


def weigh(
    prior: Sequence[PriorAlert],
    match: Match,
    article: Article,
    seen: Iterable[tuple[str, str]] = (),
) -> list[tuple[Fact, float]]:
    """The facts of the article's rule sentences the rule's earlier alerts (and the
    story's silent matches, `seen`) did not state, each with the fitted log-odds that
    it is a development (at least 0: it is one; a fact that stands aside is none)."""
    found, known_ = new_facts(prior, match, article, seen)
    return [(f, -math.inf if f.aside else score(evidence(f, known_))) for f in found]


def new_facts(
    prior: Sequence[PriorAlert],
    match: Match,
    article: Article,
    seen: Iterable[tuple[str, str]] = (),
) -> tuple[list[Fact], Known]:
    """The facts of the article's rule sentences the rule's earlier alerts (and `seen`)
    did not state, and what those said."""
    known_ = Known.of(prior, seen)
    known_.parties.update(parties_in(" ".join(match.terms)))  # the rule's own topic
    year = (article.published or utcnow()).year
    topic = frozenset(w for term in match.terms for w in words(term))
    matter = _matter([*match.terms, *(t for alert in prior for t in alert.terms)])
    found = facts(known_, rule_sentences(article, match, matter), year, topic, match.kin)
    return found, known_


KINDS = ("party", "number", "status", "condition", "place")
MODALS = _wordset("would could may might should")
FUTURE = _wordset("will ll shall going")
# a speaker described after what is said: "said Jane Roe, a fellow at ...", "said Jane
# Roe of the Marshall Fund"
_DESCRIBED = re.compile(
    r"\b(?:said|says|told|wrote|argued|according to)\s+(?:[A-Z][\w'’.-]*\s*){1,3}"
    r"(?:,\s+(?:a|an|who)\b|\s+of\s+the\s+[A-Z])"
)
FIRST_PERSON = _wordset("i we our us my")


def evidence(fact: Fact, known_: Known) -> dict[str, float]:
    """What weighs for a fact being a development, by name (see
    monitors.stories.weights): its kinds and how many; its sentence's place (headline,
    lede, lead); whether it holds a rule hit; whether
    it is quoted, spoken in the first person, hedged by a modal, negated, attributed in
    its own words or holds a commentator; its length; and the share (by IDF) of its
    words, and the number of its rare words, the earlier articles did not write."""
    tokens = words(fact.text)
    present = set(tokens)
    out = {f"is {kind}": float(kind in fact.kinds) for kind in KINDS}
    out |= {f"in {name}": float(fact.place == place) for place, name in enumerate(PLACES)}
    out |= {
        f"{kind} in {name}": float(kind in fact.kinds and fact.place == place)
        for kind in KINDS
        for place, name in enumerate(PLACES)
    }
    out["kinds"] = float(len(fact.kinds))
    out["hit"] = float(fact.hit)
    out["quoted"] = float(bool(re.search('["“”]', fact.text)))
    out["first person"] = float(bool(present & FIRST_PERSON))
    out["hedged"] = float(bool(present & MODALS))
    out["negated"] = float(bool(present & NEGATION))
    out["speech"] = float(bool(present & SPEECH))
    out["future"] = float(bool(present & FUTURE))
    out["sentence quoted"] = float(bool(re.search('["“”]', fact.sentence)))
    out["speaker described"] = float(bool(_DESCRIBED.search(fact.sentence)))
    out["overlap"] = _overlap(fact.text, known_)
    out["length"] = min(len(tokens), MAX_CLAUSE_WORDS) / MAX_CLAUSE_WORDS
    out["fresh"] = _fresh(tokens, known_)
    out["new rare words"] = math.log1p(len(_content(fact.text) - known_.stems))
    return out


def _stems(text: str) -> frozenset[str]:
    """The stems of a text's words, stop words left out."""
    return frozenset(stem(w) for w in words(text) if w not in STOPWORDS)


def _overlap(text: str, known_: Known) -> float:
    """The largest share of a text's stems one earlier sentence holds."""
    own = _stems(text)
    return max((len(own & line) / len(own) for line in known_.lines), default=0.0) if own else 0.0


def _fresh(tokens: Sequence[str], known_: Known) -> float:
    """The share of the IDF weight of these words (stop words left out) whose stems the
    earlier articles did not write."""
    idf = default_idf()
    weights = {stem(w): idf.idf(stem(w)) for w in tokens if w not in STOPWORDS and not w.isdigit()}
    total = sum(weights.values())
    return sum(v for s, v in weights.items() if s not in known_.stems) / total if total else 0.0


def score(found: dict[str, float]) -> float:
    """The fitted log-odds that a fact with this evidence is a development."""
    return BIAS + sum(WEIGHTS.get(name, 0.0) * value for name, value in found.items())


@dataclass(frozen=True)
class Clause:
    """A piece of a rule sentence, whether it holds one of the rule's hits, and where
    its sentence stands: the headline (HEADLINE), the text's first sentence (LEDE) or
    the rest of the lead (LEAD)."""

    text: str
    hit: bool
    place: int = 2


HEADLINE, LEDE, LEAD = 0, 1, 2
PLACES = ("headline", "lede", "lead")


def rule_sentences(
    article: Article, match: Match, matter: re.Pattern[str] | None = None
) -> list[list[Clause]]:
    """The clauses of the article's headline, where an outlet says what is new, when the
    rule matches it or it shares a telling word with the rule's terms ("buffer zone"),
    and of each sentence of its lead (the first LEAD_SENTENCES: news comes first, what
    follows is background) holding one of the rule's hits: its lede when only the
    headline matched, its passage's when the match gives no hit spans. A clause holds a
    hit when it holds a hit span or the rule's `matter`; the headline's clauses holding
    its matter, or all of them when none does (its hits have no spans)."""
    found = []
    if match.in_title:
        title = _clauses(article.title, 0, [], matter, HEADLINE)
        whole = [(0, len(article.title))]
        if not any(c.hit for c in title):
            title = _clauses(article.title, 0, whole, None, HEADLINE)
        found.append(title)
    spans = match.spans
    text = article.text
    if not spans and match.in_title:  # only the headline matched: its lede tells it
        spans = tuple(sentences(text)[:1])
    elif not spans and match.passage.text:
        text, spans = match.passage.text, ((0, len(match.passage.text)),)
    for n, (start, end) in enumerate(sentences(text)[:LEAD_SENTENCES]):
        inside = [(a, b) for a, b in spans if start <= a and b <= end]
        if inside:
            found.append(_clauses(text[start:end], start, inside, matter, LEDE if n == 0 else LEAD))
    return found


def _matter(terms: Iterable[str]) -> re.Pattern[str] | None:
    """The rule's terms that name its matter, not a party or a name ("guarantees",
    "ratification", not "Senate" or "Ukraine"), as one pattern."""
    kept = {t.casefold() for t in terms if t.islower() and not parties_in(t)}
    if not kept:
        return None
    alternatives = "|".join(map(re.escape, sorted(kept, key=len, reverse=True)))
    return re.compile(rf"\b(?:{alternatives})\b", re.IGNORECASE)


@dataclass(frozen=True)
class Fact:
    """A clause of a rule sentence that states something the earlier alerts did not:
    its `kinds` (party, number, status, condition, place), its sentence's place, and `aside`,
    why it may say nothing of the matter ("attribution", "background", "history",
    "aside": a question, a poll, a reference to an earlier event), or ""."""

    text: str
    kinds: frozenset[str]
    place: int
    aside: str = ""
    hit: bool = False
    sentence: str = ""
    shown: str = ""  # what the desk reads: the clause's words around what is new


def facts(
    known_: Known,
    sentences_: Iterable[list[Clause]],
    year: int,
    topic: frozenset[str],
    kin: Kin | None = None,
) -> list[Fact]:
    """The clauses of these sentences that state something `known_` lacks, in order,
    each with what it states and whether it stands aside: background clauses ("which
    ...", "while ...", a clause dated before `year`), attributions and asides
    (questions, polls, a sentence opened by an earlier year). A number or a status counts
    only in a clause holding a rule hit (the rule's matter: "offered his condolences"
    says nothing of it), a number not in a toll unless the rule is about one (a word of
    its `topic`); a condition's words that are `kin` of a known condition's (the rule's
    alternatives) are known."""
    kin_known = _Kin(kin, known_)
    found: list[Fact] = []
    for clauses in sentences_:
        aside = "aside" if _aside(clauses, year, topic) else ""
        whole = ", ".join(c.text for c in clauses)
        for before, clause in zip([None, *clauses], clauses, strict=False):
            text = clause.text
            opening = before.text if before and _opens_condition(before.text) else ""
            kinds = {
                kind
                for kind, new in (
                    ("party", _new_party(text, known_)),
                    ("number", clause.hit and _new_number(text, known_, topic)),
                    ("status", clause.hit and _new_status(text, known_, kin_known)),
                    ("place", clause.hit and _new_place(text, known_)),
                    (
                        "condition",
                        _new_condition(text, known_, kin_known)
                        or bool(opening and _new_condition(f"{opening} {text}", known_, kin_known)),
                    ),
                )
                if new
            }
            if kinds and (phrase := _phrase(text)):
                why = aside or _why_aside(text, year)
                shown = _shown(text, known_.stems)
                found.append(
                    Fact(phrase, frozenset(kinds), clause.place, why, clause.hit, whole, shown)
                )
    return found


def _why_aside(clause: str, year: int) -> str:
    """Why a clause says nothing new of its own: an attribution, background or history."""
    for why, test in (
        ("attribution", _attribution(clause)),
        ("background", _background(clause)),
        ("history", _history(clause, year)),
    ):
        if test:
            return why
    return ""


def developments(
    known_: Known,
    sentences_: Iterable[list[Clause]],
    year: int,
    topic: frozenset[str],
    kin: Kin | None = None,
) -> list[str]:
    """What the clauses of these sentences state that `known_` lacks, in order, as a
    desk reads it: the facts (see `facts`) that do not stand aside."""
    return list(
        dict.fromkeys(f.shown for f in facts(known_, sentences_, year, topic, kin) if not f.aside)
    )


def _opens_condition(clause: str) -> bool:
    """Whether a clause is a condition put first ("In return for Ukraine ceding the
    Donbas, ..."): what the next clause offers is part of it."""
    found = CONDITIONS.search(clause) or re.match(r"\s*(?:if|unless)\b", clause, re.IGNORECASE)
    return found is not None and found.start() <= 1


def _aside(clauses: list[Clause], year: int, topic: frozenset[str]) -> bool:
    """Whether a sentence asserts nothing of the matter: a question, a sentence opened
    by an earlier year ("In 1994 Ukraine gave up ..., Britain and Russia"), a sentence
    whose rule hits lie only in a reference to an earlier event ("Russia hits Kyiv days
    after the US guarantee offer"), or an opinion poll's finding when the rule's `topic`
    is not polls."""
    if not clauses:
        return True
    if clauses[-1].text.rstrip(" \"'”’").endswith("?") or _history(clauses[0].text, year):
        return True
    hits = [clause for clause in clauses if clause.hit]
    if hits and all(_REFERENCE_TO.match(clause.text) for clause in hits):
        return True
    tokens = {t for clause in clauses for t in words(clause.text)}
    return bool(tokens & (OPINION - topic))


def _clauses(
    sentence: str,
    offset: int,
    hits: list[tuple[int, int]],
    matter: re.Pattern[str] | None = None,
    place: int = LEAD,
) -> list[Clause]:
    """A sentence cut at commas (not inside a number), semicolons, colons, dashes and
    brackets, except where a piece would be a lone word or two (a list of names stays
    one clause); `offset` is where the sentence starts among the `hits` spans; a piece
    holding the rule's `matter` holds a hit too; `place` is the sentence's."""
    out: list[tuple[str, int, int]] = []
    start = 0
    for cut in [*_CLAUSE.finditer(sentence), None]:
        end = cut.start() if cut else len(sentence)
        piece = sentence[start:end].strip()
        if out and len(words(piece)) < 3:
            text, a, _ = out[-1]
            out[-1] = (f"{text}, {piece}" if piece else text, a, end)
        elif piece:
            out.append((piece, start, end))
        start = cut.end() if cut else len(sentence)
    out = _subjects_rejoined(out)
    return [
        Clause(
            text,
            any(offset + a < e and s < offset + b for s, e in hits)
            or bool(matter and matter.search(text)),
            place,
        )
        for text, a, b in out
    ]


def _subjects_rejoined(pieces: list[tuple[str, int, int]]) -> list[tuple[str, int, int]]:
    """The pieces of a sentence with a short subject cut from its verb by a relative
    clause given back to the verb ("Iceland, which has no armed forces, will pay ...":
    "Iceland will pay ...")."""
    out = list(pieces)
    for i in range(len(out) - 2):
        (subject, a, _), (aside, _, _), (rest, _, b) = out[i : i + 3]
        opens = [words(aside)[:1], words(rest)[:1]]
        if len(words(subject)) < 3 and set(opens[0]) & BACKGROUND and set(opens[1]) & PREDICATES:
            out[i + 2] = (f"{subject} {rest}", a, b)
    return out


def _attribution(clause: str) -> bool:
    """Whether a clause only says who said something ("a senior official said",
    "according to two people familiar with the talks")."""
    tokens = words(clause)
    if tokens[:2] == ["according", "to"] or tokens[:1] and tokens[0] in PARTICIPLES:
        return True
    if set(tokens[:4]) & COMMENTATORS:
        return True  # "critics say ...": an opinion
    if tokens and tokens[0] in DETERMINERS and len(tokens) <= 10 and set(tokens) & ROLES:
        return True  # "the top Democrat on the Foreign Relations Committee"
    if tokens and tokens[0] in TITLES and len(tokens) <= 12:
        return True  # "(said Jane Roe,) chairman of the foreign affairs committee"
    said = [i for i, t in enumerate(tokens) if t in SPEECH]
    return bool(said) and said[-1] <= 6 and len(tokens) - said[-1] <= 4  # "officials said"


def _history(clause: str, year: int) -> bool:
    """Whether a clause is dated to an earlier year ("in 2022", "of 1994", "last
    year")."""
    return bool(_PAST.search(clause)) or any(int(y) < year for y in _YEAR.findall(clause))


def _background(clause: str) -> bool:
    """Whether a clause only gives background: a relative or a while-clause."""
    tokens = words(clause)
    return bool(tokens) and tokens[0] in BACKGROUND


def _new_party(clause: str, known_: Known) -> bool:
    """Whether the clause names a party (a country, bloc or institution) not known that
    acts in it: not one that only comments ("Japan welcomed ...", "Tokyo hoped"), the
    object of a preposition ("ceding the region to Russia") or a model ("similar to
    NATO's Article 5"), a capital that is no subject, a direction ("west London"), nor a
    demonym that only qualifies a thing or people ("European astronomers")."""
    acting = _REFERENCE.split(_before_stance(clause))[0]
    acting = _OBJECT.sub(" ", _COMPASS.sub(" ", acting))
    acting = _OWNER.sub(lambda found: _owner(found, known_), acting)
    named = _DEMONYM_MODIFIER.sub(_demonym, acting)
    for party in parties_in(_capitals_as_subjects(named)):
        if not known(frozenset({party}), known_.parties):
            return True
    for fact in facts_of(acting):
        if fact.kind != "name" or not _institution(fact.text):
            continue
        if not known(identity(fact.text), known_.parties) and not _variant(fact.text, known_):
            return True
    return False


def _owner(found: re.Match[str], known_: Known) -> str:
    """A country's possessive before a name the earlier articles wrote, removed: it only
    says where that one is from ("Germany's Commerzbank" after "Commerzbank"); kept
    before an institution or a name not written ("Russia's parliament", "China's Xi")."""
    name = found.group(2)
    if _institution(name) or not all(stem(w) in known_.stems for w in words(name)):
        return found.group()
    return name


def _demonym(found: re.Match[str]) -> str:
    """A demonym qualifying a thing or people ("European astronomers"), removed; a
    country's own name that looks like one kept ("Japan will join", "Iran says")."""
    word = found.group().strip().lower()
    return found.group() if parties_in(word) == [word] else " "


def _capitals_as_subjects(clause: str) -> str:
    """The clause less any capital city named after its first words: a capital stands
    for its government as a subject ("Moscow insists"), and is a place or a memory as an
    object ("Kyiv remembers Budapest")."""
    rest = list(re.finditer(r"\S+", clause))[SUBJECT_WORDS:]
    kept = [m.group() for m in rest if not set(words(m.group())[:1]) & CAPITALS]
    if len(kept) == len(rest):
        return clause
    return clause[: rest[0].start()] + " ".join(kept)


def _variant(name: str, known_: Known) -> bool:
    """Whether an institution's name is another form of one the earlier articles wrote:
    every word of it but its kind ("Government", "Union") is in them ("the Abbott
    Government" after "the Abbott government", "RMT Union" after "the RMT")."""
    own = [w for w in words(name) if w not in INSTITUTION_WORDS and w not in STOPWORDS]
    return bool(own) and all(stem(w) in known_.stems for w in own)


def _before_stance(clause: str) -> str:
    """The clause less whatever comes before a speech or stance verb (its speaker),
    unless the speaker says what it will do itself ("France and Germany said on
    Wednesday they would support the proposal"; not "Japan said it welcomed ...")."""
    tokens = tokenize(clause)
    for i, token in enumerate(tokens):
        if token.norm in STANCE:
            own = _own_act([t.norm for t in tokens[i + 1 :]])
            return clause if own else clause[token.end :]
    return clause


def _own_act(said: list[str]) -> bool:
    """Whether what a speaker says opens with its own act ("on Wednesday they would
    support", "it will send"): "it" or "they", then a word that is no stance."""
    while said and (said[0] in WHEN or said[0] == "that"):
        said = said[1:]
    return said[:1] in (["it"], ["they"]) and len(said) > 1 and said[1] not in STANCE


def _institution(name: str) -> bool:
    """Whether a name is a party rather than a person: holding a word such as Senate,
    Council, Ministry, Union (a bare acronym may be an outlet, a time zone or a part:
    "CNN", "EST", "MGB")."""
    return any(t in INSTITUTION_WORDS for t in words(name))


def _new_number(clause: str, known_: Known, topic: frozenset[str]) -> bool:
    """Whether a clause gives a number not known, other than background (tolls and
    seats, unless the rule's `topic` words are about them), ordinals and a hedged
    rounding of a known number ("more than 700" after "715")."""
    if set(words(clause)) & (BACKGROUND_NUMBERS - topic):
        return False
    rounded = {_value(m.group(1)) for m in _HEDGED.finditer(clause)}
    near = [_value(k[1:]) for k in known_.numbers if k.startswith("#")]
    seats = _seats(clause, known_)
    spans = _durations(clause)
    for value in _numbers(_ORDINAL.sub("", clause)) - known_.numbers:
        if _shares(value, seats) & known_.numbers or value.startswith("~"):
            continue  # "67 votes" after "two-thirds" of the Senate
        if value in spans and f"~{spans[value]:g}h" in known_.numbers:
            continue  # "two days" after "48 hours"
        amount = _value(value[1:]) if value.startswith("#") else None
        if amount is None or amount not in rounded:
            return True
        if not any(k and abs(amount - k) <= APPROXIMATE * max(amount, k) for k in near):
            return True
    return False


def _seats(clause: str, known_: Known) -> set[int]:
    """The sizes of the chambers the clause or the earlier articles name."""
    named = set(words(clause)) | {stem(w) for w in words(clause)} | known_.stems
    return {size for word, size in CHAMBERS.items() if word in named}


def _shares(value: str, seats: set[int]) -> set[str]:
    """The numbers that say the same as `value` in a chamber of one of these sizes: the
    votes a share needs ("two-thirds" of 100 seats is 67) and the share some votes are."""
    out = set()
    for share, part in SHARES.items():
        for size in seats:
            votes = f"#{math.floor(part * size) + 1 if part == 0.5 else math.ceil(part * size)}"
            if value == share:
                out.add(votes)
            elif value == votes:
                out.add(share)
    return out


def _value(text: str) -> float | None:
    """A written number's value, if it is one ("30,000" is 30000)."""
    try:
        return float(text.replace(",", "").rstrip("."))
    except ValueError:
        return None


def _numbers(text: str) -> set[str]:
    """The values of the numbers of a text (with their unit), spelled fractions too, and
    the dates set for something ("by February 28", "a vote on March 3"); a number naming
    something ("Article 5", "Resolution 2231") or a clock time is no quantity."""
    dates = {f"@{m.group(2).lower()[:3]} {m.group(3)}" for m in _DATE.finditer(text) if _set(m)}
    text = _TIME.sub("", _IDENTIFIER.sub(_identifier, text))
    values = {f.key for f in facts_of(text) if f.kind == "number"}
    values.update(
        m.group(1).lower().replace("unanimously", "unanimous").replace("majorities", "majority")
        for m in _SPELLED.finditer(text)
    )
    values.update(f"#{_COUNTS[m.group(1).lower()]}" for m in _SPELLED_COUNT.finditer(text))
    values.update(f"#{_spelled(m.group(1))}" for m in _SPELLED_PLURAL.finditer(text))
    spans = {f"~{hours:g}h" for hours in _durations(text).values()}
    return values | dates | spans


def _durations(text: str) -> dict[str, float]:
    """The spans of time a text gives, in hours, by their number's key ("48-hour" and
    "two days" are both 48)."""
    out: dict[str, float] = {}
    for found in _DURATION.finditer(text):
        count, unit = found.group(1).lower(), found.group(2).lower().rstrip("s")
        value = int(count) if count.isdigit() else int(_COUNTS[count])
        out[f"#{value}"] = value * HOURS[unit]
    return out


def _set(date: re.Match[str]) -> bool:
    """Whether a date is one set for something ("by February 28"; "on March 3" after a
    decisive act: "would hold its ratification vote on March 3"), not the day something
    was said or done ("said on March 3", "talks will resume on January 23", "the
    ratification first promised on December 15")."""
    if date.group(1) != "on":
        return True
    before = words(date.string[: date.start()])[-DATE_REACH:]
    acts = [i for i, w in enumerate(before) if stem(w) in DECISIVE]
    if not acts or set(before[-3:]) & STANCE:
        return False
    return not any(w.endswith("ed") for w in before[acts[-1] + 1 :])  # "... promised by"


def _spelled(count: str) -> int:
    """The value of a count in words ("sixty-one" is 61)."""
    value = 0
    for word in re.split(r"[ -]", count.lower()):
        value += 10 * (_TENS.index(word) + 2) if word in _TENS else _UNITS.index(word) + 1
    return value


def _identifier(found: re.Match[str]) -> str:
    """An identifier found, removed ("Article 5"), unless it is a capitalised hedge or
    month before a number ("Some 35 countries", "January 27") or a party given it
    ("gives Ukraine 60 days", "gives the United States 72 hours")."""
    name = found.group(1) or ""
    last = name.split()[-1].lower() if name else ""
    return found.group() if last in _MONTHS | _HEDGES or parties_in(name) else ""


def _statuses(clause: str, named: bool = False) -> set[tuple[str, str]]:
    """The statuses a clause asserts (or, if `named`, names too: "the offer", "on
    offer", not "a signing expected"; what an earlier article spoke of is known), each
    with who it is said of (the agent of a passive, else the last party before it, if
    any); a negated one ("did not sign") is a refusal, and one put as a wish, a need, a
    demand or a condition before it in the clause ("hope the Senate will ratify", "once
    they are submitted"; not a noun: "Talks on Russia's demand that Ukraine withdraw
    have been put off"), as an infinitive ("to sign", "to be ratified") or in
    a gerund's phrase ("Getting the pact ratified will be hard"), asserts nothing."""
    for pattern, word in _PHRASAL:
        clause = pattern.sub(word, clause)
    tokens = [t.norm for t in tokenize(clause)]
    found = set()
    for i, token in enumerate(tokens):
        status = _status_of(tokens, i, named)
        if status is None and _refusal(tokens, i):
            status = "rejected"
        elif (
            status is None and token in BEGIN and tokens[i + 1 : i + 2] and not _when(tokens[i + 1])
        ):
            status = "begun"  # "began withdrawing", not "starting Monday"
        if status is None:
            continue
        subject = _agent(tokens[i + 1 : i + 6]) or _subject(tokens[:i])
        if _wish(tokens[:i]) or "to" in tokens[max(0, i - 2) : i] or _gerund(tokens[:i]):
            continue
        negated = any(t in NEGATION for t in tokens[max(0, i - 3) : i])
        found.add((subject, "rejected" if negated else status))
    return found


def _when(token: str) -> bool:
    """Whether a word says when ("Monday", "next", "on"): after "starting" or "from", a
    date, not a matter begun."""
    return token in WHEN or token in _MONTHS


def _wish(before: list[str]) -> bool:
    """Whether the words before a status hold a wish, a need, a demand or a condition: as
    a verb or a conjunction; as a noun ("Russia's demand that Ukraine withdraw", "the
    peace plan") or a participle ("The mission planned under the guarantees") only
    unless the status has an auxiliary of its own, the sentence's verb ("Talks on
    Russia's demand ... have been put off", "Talks under the US peace plan have been put
    on hold"): then only a modal or a conjunction makes it one."""
    own = bool(before) and before[-1] in AUXILIARIES
    return any(token in (CONJUNCTIVE if own else UNASSERTED) for token in before)


def _gerund(before: list[str]) -> bool:
    """Whether the words before a status open with a gerund, whose phrase is a
    hypothetical ("Getting the pact ratified ...")."""
    first = before[0] if before else ""
    return len(first) > 5 and first.endswith("ing") and first not in ONGOING | BEGIN


def _refusal(tokens: list[str], i: int) -> bool:
    """Whether the word at `i` opens a refusal of an act: "will not send", "would not
    send", "won't sign", "refused to sign", "decided not to submit" (not "declined to
    comment")."""
    pair = tokens[i : i + 2]
    if tokens[i] in ("refused", "refuses", "declined", "declines") or pair == ["not", "to"]:
        return pair[1:] == ["to"] and bool(set(tokens[i + 2 : i + 3]) & ACTS)
    acts = tokens[i + 2 : i + 4]
    return pair in (["will", "not"], ["would", "not"], ["won", "t"]) and bool(set(acts) & ACTS)


def _status_of(tokens: list[str], i: int, named: bool = False) -> str | None:
    """The status the word at `i` asserts, if any: a verb or an adjective, not (unless
    `named`) a noun or a modifier ("the offer", "the proposed deal", "without delay",
    "a defence pledge"); an -ing form only as what is under way ("began withdrawing")."""
    token, before = tokens[i], tokens[i - 1] if i else ""
    if token.endswith("ing"):
        token = token[:-3]
        if before not in ONGOING:
            return None
    elif not named and (
        before in DETERMINERS | PREPOSITIONS or _noun(token, before, tokens[max(0, i - 2)])
    ):
        return None
    after = tokens[i + 1] if i + 1 < len(tokens) else ""
    for status, pattern in _STATUS.items():
        if pattern.fullmatch(token) or pattern.fullmatch(token + "e"):
            # "agreed to provide" is a willingness, as an offer is; "agreed a deal" is not
            return "proposed" if status == "agreed" and after == "to" else status
    return None


def _noun(token: str, before: str, earlier: str = "") -> bool:
    """Whether an uninflected status word is a noun: a verb in its bare form follows a
    modal, a pronoun, a plural or a party ("will sign", "they sign", "allies pledge",
    "Kyiv and Washington sign"), a noun anything else ("a collective-defence pledge"),
    a party qualifying it too ("the US pledge": the word `earlier` is a determiner)."""
    if token.endswith(("s", "ed")) or token in INFLECTED:
        return False
    if parties_in(before) and earlier in DETERMINERS:
        return True
    return not (before in BARE_BEFORE or before.endswith("s") or parties_in(before))


def _agent(after: list[str]) -> str:
    """The party a passive names as its agent ("offered by Washington"), if any."""
    parties = parties_in(" ".join(after[1:])) if after[:1] == ["by"] else []
    return parties[0] if parties else ""


def _subject(before: list[str]) -> str:
    """Who a status is said of: the last party before it (after any speaker), else
    nobody (a person stands for no one in particular)."""
    for i in range(len(before) - 1, -1, -1):
        if before[i] in STANCE:
            before = before[i + 1 :]
            break
    parties = parties_in(" ".join(before))
    return parties[-1] if parties else ""


def _new_status(clause: str, known_: Known, kin: _Kin | None = None) -> bool:
    """Whether the clause asserts a status the earlier rule sentences did not assert of
    the same party: a turn not seen, or a rank above every one seen; a refusal that only
    restates a known demand as its condition is none."""
    for subject, status in _statuses(clause):
        said = [s for who, s in known_.statuses if who == subject or not (who and subject)]
        rank = STATUS_RANKS[status]
        if status in said or (status == "rejected" and _restated(clause, known_, kin)):
            continue
        if rank == 0 or rank > max((STATUS_RANKS[s] for s in said), default=0):
            return True
    return False


_RESTRICTION = re.compile(
    r"\b(?:unless|until|(?:that|which) (?:does|do|did|would|will) not|"
    r"(?:that|which) (?:doesn'?t|don'?t|won'?t))\b",
    re.IGNORECASE,
)


def _restated(clause: str, known_: Known, kin: _Kin | None = None) -> bool:
    """Whether a refusal in the clause is a known demand put as its condition ("will
    not agree to a ceasefire unless Ukraine withdraws", "will reject any deal that does
    not require ..."): what it requires holds no party or content word the earlier
    articles did not write, nor a `kin` of the rule's hits in them ("quits" after
    "withdraw")."""
    found = _RESTRICTION.search(clause)
    if found is None:
        return False
    terms = clause[found.end() :]
    new = {s for s in _content(terms) - known_.stems if not _derived(s, known_.stems)}
    if new and kin is not None:
        new -= kin.hit_words(terms)
    return not new and not _new_party(terms, known_)


def _places(clause: str) -> set[str]:
    """The places a clause names (see _PLACE_BEFORE, _PLACE_AFTER, REGIONS), in lower
    case; a country, a capital or a demonym is a party, not a place."""
    found = {m.group(1) for p in (_PLACE_BEFORE, _PLACE_AFTER) for m in p.finditer(clause)}
    found.update(w for w in words(clause) if w in REGIONS)
    return {name.lower() for name in found if not parties_in(name)}


def _new_place(clause: str, known_: Known) -> bool:
    """Whether the clause names a place the earlier articles did not, nor its area (the
    Donetsk region after the Donbas)."""
    areas = {_area(s) for s in known_.stems}
    for place in _places(clause):
        own = [stem(w) for w in words(place)]
        if not all(s in known_.stems for s in own) and _area(own[0]) not in areas:
            return True
    return False


@cache
def _area(stem_: str) -> str:
    """The area a place's stem is part of (see AREAS), else the stem."""
    return next((a for a, parts in AREAS.items() if stem_ in map(stem, parts.split())), stem_)


class _Kin:
    """A rule's kin words, and which of its groups the known conditions and the earlier
    alerts' hits hold."""

    def __init__(self, kin: Kin | None, known_: Known) -> None:
        self.kin = kin
        self.known = set(kin.found(" ; ".join(known_.terms))) if kin and known_.terms else set()
        self.hits = set(kin.found(" ; ".join(known_.hits))) if kin and known_.hits else set()

    def hit_words(self, text: str) -> set[str]:
        """The stems of the words of `text` that are kin of an earlier alert's hit."""
        if self.kin is None or not self.hits:
            return set()
        found = self.kin.found(text)
        return {stem(w) for group in self.hits & set(found) for w in found[group]}

    def known_words(self, text: str) -> set[str]:
        """The stems of the words of `text` that are kin of a known condition's."""
        if self.kin is None or not self.known:
            return set()
        found = self.kin.found(text)
        return {stem(w) for group in self.known & set(found) for w in found[group]}


def _new_condition(clause: str, known_: Known, kin: _Kin | None = None) -> bool:
    """Whether the clause sets a condition holding a content word (or a party) that no
    earlier article held, nor a kin of a known condition's words ("advice and consent"
    after "needs Senate ratification") or of the earlier alerts' hits ("unless Kyiv
    quits the Donbas" after "withdraw from the Donbas"): in what it requires ("only if
    Kyiv cedes ..."), or in what is offered or threatened for it ("Russia would return
    Kharkiv if ...")."""
    found = CONDITIONS.search(clause)
    if found is not None:
        terms = clause[found.end() :]
    elif (found := _MODAL_IF.search(clause)) is not None:
        terms = clause[found.start() :]
    else:
        return False
    new = {s for s in _content(terms) - known_.stems if not _derived(s, known_.stems)}
    if new and kin is not None:
        new -= kin.known_words(terms) | kin.hit_words(terms)
    return bool(new) or _new_party(terms, known_)


def _derived(stem_: str, stems: set[str]) -> bool:
    """Whether a stem is another form of one of `stems`, or the same thing in a word of
    the news's own (see ROOTS: "withdrew" and "withdraw", "freeze" and "ceasefire"): one
    starts with the other, both at least MIN_ROOT letters long ("approv" and
    "approval")."""
    root = ROOTS.get(stem_, stem_)
    if any(ROOTS.get(s, s) == root for s in stems):
        return True
    if len(root) < MIN_ROOT:
        return False
    return any(len(s) >= MIN_ROOT and (s.startswith(root) or root.startswith(s)) for s in stems)


def _condition_terms(text: str) -> list[str]:
    """What each condition a text sets requires, as written."""
    out = []
    for found in CONDITIONS.finditer(text):
        end = re.search(r"[.;]", text[found.end() :])
        out.append(text[found.end() : found.end() + (end.start() if end else 200)])
    return out


def _content(text: str) -> set[str]:
    """The stems of the content words of a text: not stop words, not a lone letter (the
    "s" of "Ukraine's"), not common (IDF)."""
    idf = default_idf()
    stems = {stem(w) for w in words(text) if w not in STOPWORDS and not w.isdigit() and w[1:]}
    return {s for s in stems if idf.idf(s) >= CONTENT_IDF}


def _worded(clause: str) -> tuple[str, list[tuple[int, int]]]:
    """A clause without its trailing attribution ("..., officials said"), and the spans
    of its words."""
    head, _, tail = clause.rpartition(",")
    clause = head if head and _attribution(tail) else clause
    return clause, [m.span() for m in re.finditer(r"\S+", clause)]


def _phrase(clause: str) -> str:
    """A clause as a desk reads it: without a trailing attribution ("..., officials
    said"), at most MAX_CLAUSE_WORDS words."""
    clause, spans = _worded(clause)
    if len(spans) <= MAX_CLAUSE_WORDS:
        return clause.strip(" .")
    return clause[: spans[MAX_CLAUSE_WORDS - 1][1]].strip(" .") + "…"


def _shown(clause: str, known_stems: set[str]) -> str:
    """The clause's `_phrase` as the desk reads it in an update: of a clause longer than
    MAX_CLAUSE_WORDS, the run of that many words holding the most words the earlier alerts
    did not write (what is new, not the clause's opening)."""
    clause, spans = _worded(clause)
    if len(spans) <= MAX_CLAUSE_WORDS:
        return clause.strip(" .")
    new = [bool(_content(clause[a:b]) - known_stems) for a, b in spans]
    first = max(
        range(len(spans) - MAX_CLAUSE_WORDS + 1),
        key=lambda i: (sum(new[i : i + MAX_CLAUSE_WORDS]), -i),
    )
    last = first + MAX_CLAUSE_WORDS - 1
    phrase = clause[spans[first][0] : spans[last][1]].strip(" .,;")
    return ("…" if first else "") + phrase + ("…" if last < len(spans) - 1 else "")


def _sentences_with(title: str, text: str, terms: Iterable[str]) -> list[str]:
    """The headline and sentences of an earlier article holding one of its rule's terms."""
    wanted = [t.casefold() for t in terms if t]
    spans = [text[a:b] for a, b in sentences(text)]
    return [s for s in [title, *spans] if any(t in s.casefold() for t in wanted)]


def decide_alert(
    tx: Tx,
    article_id: int,
    article: Article,
    match: Match,
    story_id: int,
    now: datetime,
    gap: timedelta,
) -> int | None:
    """Add the alert this match deserves, if any; note a silent one's reason: "no
    update" (nothing new: what it said counts as known for the rule's later articles) or
    "update held" (its news waits for the update gap and stays new)."""
    prior = tx.prior_alerts(match.rule_id, story_id)
    seen = tx.silent_matches(match.rule_id, story_id, but=article_id) if prior else []
    verdict = novelty(prior, match, article, gap, seen)
    if isinstance(verdict, str):
        kind = "update held" if isinstance(verdict, Held) else "no update"
        reason = f"no update for {match.rule_id}: {verdict}"
        tx.add_decision(article_id, story_id, kind, reason, now, rule_id=match.rule_id)
        return None
    kind, follows, news = verdict
    return tx.add_alert(article_id, article, match, story_id, kind, follows, news, now)
