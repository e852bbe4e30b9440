"""Progress of long work on the console: rich bars on a terminal, else a plain line every
few seconds (monitors.pipeline.progress.Every)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rich.console import Console
    from rich.progress import Progress as Bars
    from rich.progress import TaskID

    from monitors.pipeline import CycleHook, CycleProgress, Progress, ProgressHook


@contextmanager
def cycle_progress(console: Console) -> Iterator[CycleHook]:
    """A hook drawing a cycle's feeds and entries, each with its rate and ETA."""
    from monitors.pipeline import Every

    if not console.is_terminal:
        yield Every(_plain(console))
        return
    bars = _bars(console)
    feeds = bars.add_task("feeds polled", total=None, rate=0.0, errors=0)
    entries = bars.add_task("entries processed", total=None, rate=0.0, errors=0, start=False)

    def update(p: CycleProgress) -> None:
        _show(bars, feeds, p.feeds)
        if p.stage != "poll" or p.entries.total or p.entries.done:
            bars.start_task(entries)
            _show(bars, entries, p.entries)

    with bars:
        yield update


@contextmanager
def backfill_progress(console: Console) -> Iterator[ProgressHook]:
    """A hook drawing a backfill's items; piped, a plain line also at the end."""
    from monitors.pipeline import Every

    if not console.is_terminal:
        yield Every(_plain(console), final=True)
        return
    bars = _bars(console)
    items = bars.add_task("backfill", total=None, rate=0.0, errors=0)

    def update(p: Progress) -> None:
        _show(bars, items, p)

    with bars:
        yield update


def _bars(console: Console) -> Bars:
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TaskProgressColumn,
        TextColumn,
        TimeRemainingColumn,
    )

    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TaskProgressColumn(),
        TextColumn("{task.fields[rate]:.1f}/s failed {task.fields[errors]}"),
        TimeRemainingColumn(),
        console=console,
        transient=True,
    )


def _show(bars: Bars, task: TaskID, p: Progress) -> None:
    bars.update(task, total=p.total, completed=p.done, rate=p.rate, errors=p.errors)


def _plain(console: Console) -> Callable[[str], None]:
    def emit(line: str) -> None:
        console.print(line, markup=False, highlight=False)

    return emit
