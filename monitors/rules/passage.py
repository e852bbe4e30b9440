"""The passage that explains a match: the sentence, or two, that best shows the rule.

Windows (one sentence of the text, or two adjacent ones of a line) are scored by how many of the
rule's concepts (its top-level AND parts) they show whole, then by distinct terms, then
by hits, then by being earlier. Two sentences win over one only if they show more
concepts or more distinct terms. The title stands in when the text holds no hit.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from monitors.models import Passage

MAX_PASSAGE = 400
SNAP_REACH = 20
ELLIPSIS = "\u2026"

Span = tuple[int, int]
Paragraphs = Callable[[list[int]], list[list[Span]]]


@dataclass(frozen=True)
class Hit:
    """A literal found in the title or text: its character span and normalized words."""

    in_title: bool
    start: int
    end: int
    key: str


def best_passage(
    title: str, text: str, paragraphs: Paragraphs, hits: Sequence[Hit], concepts: list[list[Span]]
) -> Passage:
    """The passage of the text that best explains a match, its hits marked.

    `hits` are in document order; `concepts` holds, for each concept, the character spans
    of the text where it matches whole; `paragraphs` gives the sentence spans of the lines
    holding some offsets.
    """
    in_text = [hit for hit in hits if not hit.in_title]
    if not in_text:
        return _passage(title, (0, len(title)), hits)
    window = _best_window(paragraphs([hit.start for hit in in_text]), in_text, concepts)
    return _passage(text, window, in_text)


def _best_window(
    paragraphs: list[list[Span]], hits: Sequence[Hit], concepts: list[list[Span]]
) -> Span:
    """The best sentence holding a hit, or the best two adjacent sentences of a line if
    they show more concepts or more distinct terms (`hits` sorted by start)."""
    scorer = _Scorer(hits, concepts)
    score, hit_starts = scorer.score, scorer.starts
    singles: list[Span] = []
    pairs: list[Span] = []
    for spans in paragraphs:
        span_starts = [start for start, _ in spans]
        first, last = bisect_left(hit_starts, spans[0][0]), bisect_left(hit_starts, spans[-1][1])
        touched = {bisect_right(span_starts, start) - 1 for start in hit_starts[first:last]}
        singles += [spans[i] for i in sorted(touched)]
        firsts = sorted({i for t in touched for i in (t - 1, t) if 0 <= i < len(spans) - 1})
        pairs += [(spans[i][0], spans[i + 1][1]) for i in firsts]
    single = max(singles, key=score)
    pair = max(pairs, key=score, default=single)
    return pair if score(pair)[:2] > score(single)[:2] else single


class _Scorer:
    """Scores windows by concepts shown, distinct terms, hits, then earliness."""

    def __init__(self, hits: Sequence[Hit], concepts: list[list[Span]]) -> None:
        self.hits = hits
        self.starts = [hit.start for hit in hits]
        self.concepts = [sorted(spans) for spans in concepts]

    def score(self, window: Span) -> tuple[int, int, int, int]:
        inside = _inside(self.hits, self.starts, window)
        shown = sum(_shows(window, spans) for spans in self.concepts)
        return shown, len({hit.key for hit in inside}), len(inside), -window[0]


def _shows(window: Span, spans: list[Span]) -> bool:
    """Whether one of `spans` (sorted) lies wholly in `window`."""
    for start, end in spans[bisect_left(spans, (window[0], -1)) :]:
        if start > window[1]:
            return False
        if end <= window[1]:
            return True
    return False


def _inside(hits: Sequence[Hit], starts: list[int], window: Span) -> list[Hit]:
    """The hits (sorted by start, `starts` their starts) lying wholly in `window`."""
    first, last = bisect_left(starts, window[0]), bisect_right(starts, window[1])
    return [hit for hit in hits[first:last] if hit.end <= window[1]]


def _passage(text: str, window: Span, hits: Sequence[Hit]) -> Passage:
    """The passage of `text` in `window`, marking `hits` and trimmed around them."""
    start, end = window
    spans = sorted((hit.start - start, hit.end - start) for hit in hits)
    marks = [span for span in spans if span[0] >= 0 and span[1] <= end - start]
    return _trim(text[start:end], _merge(marks))


def _merge(spans: list[Span]) -> list[Span]:
    """Sorted `spans` with overlapping ones merged."""
    merged: list[Span] = []
    for start, end in spans:
        if merged and start < merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged


def _trim(text: str, marks: list[Span]) -> Passage:
    """`text` cut to about `MAX_PASSAGE` characters around `marks`, at word boundaries,
    with an ellipsis where cut."""
    if len(text) <= MAX_PASSAGE:
        return Passage(text, tuple(marks))
    low = marks[0][0] if marks else 0
    high = min(marks[-1][1] if marks else 0, low + MAX_PASSAGE)
    start = max(0, low - (MAX_PASSAGE - (high - low)) // 2)
    end = min(len(text), start + MAX_PASSAGE)
    start = _snap_start(text, max(0, end - MAX_PASSAGE))
    end = _snap_end(text, end)
    head = ELLIPSIS if start > 0 else ""
    tail = ELLIPSIS if end < len(text) else ""
    shift = len(head) - start
    kept = tuple((s + shift, e + shift) for s, e in marks if s >= start and e <= end)
    return Passage(head + text[start:end] + tail, kept)


def _snap_start(text: str, pos: int) -> int:
    """`pos` moved back to the start of its word (if near), then past any white space."""
    word_start = pos
    while word_start > 0 and not text[word_start - 1].isspace() and pos - word_start < SNAP_REACH:
        word_start -= 1
    if word_start == 0 or text[word_start - 1].isspace():
        pos = word_start
    while pos < len(text) and text[pos].isspace():
        pos += 1
    return pos


def _snap_end(text: str, pos: int) -> int:
    """`pos` moved on to the end of its word (if near), then back before any white space."""
    word_end = pos
    while word_end < len(text) and not text[word_end].isspace() and word_end - pos < SNAP_REACH:
        word_end += 1
    if word_end == len(text) or text[word_end].isspace():
        pos = word_end
    while pos > 0 and text[pos - 1].isspace():
        pos -= 1
    return pos
