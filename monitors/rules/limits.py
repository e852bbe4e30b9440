"""Bounds on matching one article: how much of it the rules read, and for how long.

A hostile or freak article (a megabyte of the rules' own words, a long chain of wide
`NEAR`s over it) could otherwise hold the matcher for seconds or minutes. The headline
and the text are each read up to `Limits.max_chars` characters, cut at a white space;
the rules are evaluated, and their matches explained, until `Limits.timeout` seconds of
the thread's CPU time have gone into the article (tokenizing included), checked as
operators are evaluated and every `CHECK_EVERY` steps of their loops. CPU time, not the
clock, so that a busy machine cuts no article that an idle one would not.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

CHECK_EVERY = 1024  # steps of an operator's loop between two looks at the clock
WORD_REACH = 100  # characters a cut moves back to fall between two words


@dataclass(frozen=True)
class Limits:
    """At most `max_chars` characters of the headline and of the text read, at most
    `timeout` CPU seconds spent on one article; None for no bound."""

    max_chars: int | None = None
    timeout: float | None = None


class OutOfTime(Exception):
    """An article's matching reached its time limit (caught by the rule set)."""


CLOCK_EVERY = 0.001  # seconds of wall time between two reads of the CPU time


class Deadline:
    """The CPU time by which one article's matching must end; `check()` raises
    `OutOfTime` once it has passed. The thread's CPU time (a system call, 0.6 µs here)
    is read at most every CLOCK_EVERY seconds of wall time (a cheap clock): a thread
    spends no more CPU time than wall time, so the deadline is overrun by at most that."""

    __slots__ = ("at", "_next")

    def __init__(self, seconds: float | None) -> None:
        self.at = None if seconds is None else time.thread_time() + seconds
        self._next = 0.0

    def check(self) -> None:
        if self.at is None:
            return
        now = time.perf_counter()
        if now < self._next:
            return
        self._next = now + CLOCK_EVERY
        if time.thread_time() > self.at:
            raise OutOfTime


NO_DEADLINE = Deadline(None)


def cut(text: str, max_chars: int | None) -> str:
    """`text`, or its first `max_chars` characters less the word the cut would split
    (when that word starts within `WORD_REACH` characters of the cut)."""
    if max_chars is None or len(text) <= max_chars:
        return text
    end = max_chars
    low = max(1, end - WORD_REACH)
    while end > low and not text[end].isspace():
        end -= 1
    return text[:end] if text[end].isspace() else text[:max_chars]
