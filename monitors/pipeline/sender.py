"""Deliveries sent in a thread as soon as alerts are made, while entries are still processed."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Collection

from monitors.delivery import Delivered


class Sender:
    """Runs `deliver` in a thread whenever woken, one run at a time, until finished; a
    delivery is tried once a cycle (a failed one waits for its backoff and a later run)."""

    def __init__(self, deliver: Callable[[Collection[int]], list[Delivered]]) -> None:
        self._deliver = deliver
        self._woken = asyncio.Event()
        self._done: list[Delivered] = []
        self._task: asyncio.Task[None] | None = None

    def wake(self) -> None:
        """There are new alerts: deliver them soon."""
        self._woken.set()
        if self._task is None or self._task.done():
            self._task = asyncio.ensure_future(self._run())

    async def _run(self) -> None:
        while self._woken.is_set():
            self._woken.clear()
            self._done += await asyncio.to_thread(self._deliver, self._tried())

    async def finish(self) -> list[Delivered]:
        """Wait for a run under way, then deliver whatever is still due; all the outcomes."""
        if self._task is not None:
            await self._task
        self._done += await asyncio.to_thread(self._deliver, self._tried())
        return self._done

    def _tried(self) -> set[int]:
        return {d.delivery_id for d in self._done}
