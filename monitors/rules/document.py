"""An article as the matcher sees it: its fields' normalized words in one string.

The words of title, text, site and language are joined with spaces, each field ending
with a line break, and the whole wrapped in spaces: `" peace talks \\n the talks … \\n "`.
A literal is then a substring (" security guarantee" for "security guarantee*") that
never crosses a field. The text is tokenized line by line, so word positions map back to
character offsets, and lines to sentences, only for the lines a passage needs.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Iterable
from functools import cached_property
from itertools import accumulate, count
from operator import add

from monitors.rules.query import FIELDS
from monitors.text import sentences, word_spans, words

BREAK = "\n"
TITLE, TEXT, SITE, LANG = range(len(FIELDS))

Span = tuple[int, int]


class Document:
    """An article's title, text, site and language, tokenized once."""

    def __init__(
        self, title: str, text: str, site: str | None = None, lang: str | None = None
    ) -> None:
        self.title = title
        self.text = text
        self._lines = text.split(BREAK)
        self._line_starts = list(accumulate((len(line) + 1 for line in self._lines), initial=0))
        text_words: list[str] = []
        self._line_words = [0]
        for line in self._lines:
            text_words += words(line)
            self._line_words.append(len(text_words))
        self.words: list[str] = []
        self.first_word: list[int] = []
        self.bounds: list[int] = []
        chars = 0
        for field in (words(title), text_words, words(site or ""), words(lang or "")):
            self.bounds.append(len(self.words) + chars)
            self.first_word.append(len(self.words))
            self.words += field
            self.words.append(BREAK)
            chars += sum(map(len, field)) + len(BREAK)
        self.first_word.append(len(self.words))
        self.haystack = f" {' '.join(self.words)} "
        self.bounds.append(len(self.haystack))
        self._spans: dict[int, list[Span]] = {}
        self._sentences: dict[int, list[Span]] = {}
        self._firsts: dict[int, list[int]] = {}

    def char_range(self, first: int, last: int) -> Span:
        """The haystack offsets from field `first` to the end of field `last`."""
        return self.bounds[first], self.bounds[last + 1]

    @cached_property
    def _word_offsets(self) -> list[int]:
        """The haystack offset of the space before each word."""
        return list(map(add, accumulate(map(len, self.words), initial=0), count()))

    def word_at(self, offset: int) -> int:
        """The index of the word after the space at haystack `offset`."""
        return bisect_right(self._word_offsets, offset) - 1

    def field_of(self, position: int) -> int:
        """The field holding word `position`."""
        return bisect_right(self.first_word, position) - 1

    def field_words(self, field: int) -> Span:
        """The positions of the words of `field` (its break excluded)."""
        return self.first_word[field], self.first_word[field + 1] - 1

    def text_words(self) -> list[str]:
        """The normalized words of the text, as `monitors.text.words` finds them (a
        word never crosses a line break)."""
        first, last = self.field_words(TEXT)
        return self.words[first:last]

    def key(self, span: Span) -> str:
        """The normalized words of `span`."""
        return " ".join(self.words[span[0] : span[1]])

    def locate(self, span: Span) -> tuple[int, Span] | None:
        """The field (`TITLE` or `TEXT`) and character span of words `span`, if they lie in
        one of them (and in one line of the text)."""
        field = self.field_of(span[0])
        if field != self.field_of(span[1] - 1) or field not in (TITLE, TEXT):
            return None
        first, last = span[0] - self.first_word[field], span[1] - 1 - self.first_word[field]
        if field == TITLE:
            spans = self._title_spans
            return TITLE, (spans[first][0], spans[last][1])
        line = bisect_right(self._line_words, first) - 1
        if last >= self._line_words[line + 1]:
            return None
        spans, base = self._line_spans(line), self._line_starts[line]
        first -= self._line_words[line]
        last -= self._line_words[line]
        return TEXT, (base + spans[first][0], base + spans[last][1])

    @cached_property
    def _title_spans(self) -> list[Span]:
        return word_spans(self.title)

    def _line_spans(self, line: int) -> list[Span]:
        if line not in self._spans:
            self._spans[line] = word_spans(self._lines[line])
        return self._spans[line]

    def sentence_of(self, position: int) -> Span:
        """The positions of the words of the sentence holding word `position`: in the text,
        a sentence of its line; elsewhere, the whole field."""
        field = self.field_of(position)
        if field != TEXT:
            return self.field_words(field)
        base = self.first_word[TEXT]
        line = bisect_right(self._line_words, position - base) - 1
        firsts = self._sentence_firsts(line)
        i = bisect_right(firsts, position - base) - 1
        last = firsts[i + 1] if i + 1 < len(firsts) else self._line_words[line + 1]
        return base + firsts[i], base + last

    def _sentence_firsts(self, line: int) -> list[int]:
        """The text word index of the first word of each sentence of `line`."""
        if line not in self._firsts:
            first = self._line_words[line]
            starts = [start for start, _ in self._line_spans(line)]
            base = self._line_starts[line]
            cuts = [bisect_left(starts, start - base) for start, _ in self._line_sentences(line)]
            self._firsts[line] = [first] + [first + cut for cut in cuts[1:]]
        return self._firsts[line]

    def paragraphs(self, offsets: Iterable[int]) -> list[list[Span]]:
        """The sentence spans of each line of the text holding one of `offsets`, in order."""
        lines = sorted({bisect_right(self._line_starts, offset) - 1 for offset in offsets})
        return [self._line_sentences(line) for line in lines]

    def _line_sentences(self, line: int) -> list[Span]:
        if line not in self._sentences:
            start = self._line_starts[line]
            self._sentences[line] = sentences(self.text, start, start + len(self._lines[line]))
        return self._sentences[line]
