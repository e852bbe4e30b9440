"""CPU of one page fetch: newsmon's `Fetcher.fetch` against a plain `client.get`.

Serves `bench/cycle.py`'s pages from a loopback server in its own process (answers after
`--latency`) and fetches the same pages each way in this process, `--concurrency` at a
time, the ways taken in turn over `--rounds` passes; prints the CPU of this process a
request (`time.process_time`), best and median of the passes, and the connections the
server accepted. With `--against`, also the Fetcher of another copy of
`monitors/ingest/fetch.py` (a snapshot of main, say), and the median difference by pass.

    python bench/fetch_cost.py ../shared/corpora --latency 0.02 0.08 --rounds 8 \
        --against ../snapshot/monitors/ingest/fetch.py
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib.util
import multiprocessing
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from bench import cycle as bench_cycle  # noqa: E402
from monitors.config import FetchConfig  # noqa: E402
from monitors.ingest.fetch import Fetcher  # noqa: E402
from monitors.pipeline.cycle import PAGE_ACCEPT, PAGE_TYPES  # noqa: E402

Get = Callable[[str], Awaitable[int]]


class _Counting(bench_cycle._Server):
    """The bench's server, counting the connections it accepts (in its stats)."""

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.counts["connections"] += 1
        await super().handle(reader, writer)


def _serve(corpora: Path, port: int, latency: tuple[float, float]) -> None:
    bench_cycle.LATENCY = latency
    server = _Counting(bench_cycle.Site(), bench_cycle.load_pages(corpora))
    asyncio.run(server.serve(port, 1))


async def _pass(get: Get, urls: list[str], concurrency: int) -> float:
    """CPU seconds of this process to fetch `urls` with `get`, `concurrency` at a time."""
    queue = list(reversed(urls))

    async def runner() -> None:
        while queue:
            await get(queue.pop())

    started = time.process_time()
    await asyncio.gather(*(runner() for _ in range(concurrency)))
    return time.process_time() - started


def _fetcher_from(path: Path) -> type[Fetcher]:
    """The Fetcher class of another copy of monitors/ingest/fetch.py."""
    spec = importlib.util.spec_from_file_location("other_fetch", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["other_fetch"] = module
    spec.loader.exec_module(module)
    return module.Fetcher  # type: ignore[no-any-return]


async def _measure(
    base: str, pages: int, rounds: int, concurrency: int, other: type[Fetcher] | None
) -> tuple[dict[str, list[float]], dict[str, int]]:
    """CPU seconds a request of each way, by pass; connections each opened in all."""
    urls = [f"{base}/f{n % 97}/page/{n}.html" for n in range(pages)]
    config = FetchConfig(allow_private_networks="127.0.0.0/8", concurrency=16, per_host=16)
    limits = httpx.Limits(max_connections=50, max_keepalive_connections=20)
    async with contextlib.AsyncExitStack() as stack:
        client = await stack.enter_async_context(httpx.AsyncClient(limits=limits, trust_env=False))

        async def plain(url: str) -> int:
            return len((await client.get(url)).content)

        def fetching(fetcher: Fetcher) -> Get:
            async def get(url: str) -> int:
                return len((await fetcher.fetch(url, accept=PAGE_ACCEPT, only=PAGE_TYPES)).body)

            return get

        ways: dict[str, Get] = {"client.get": plain}
        ways["Fetcher.fetch"] = fetching(await stack.enter_async_context(Fetcher(config)))
        if other is not None:
            ways["other Fetcher"] = fetching(await stack.enter_async_context(other(config)))
        spent: dict[str, list[float]] = {name: [] for name in ways}
        opened: dict[str, int] = {name: 0 for name in ways}
        for get in ways.values():  # warm: connections open, code paths run
            await _pass(get, urls[:200], concurrency)
        for n in range(rounds):
            order = list(ways) if n % 2 == 0 else list(reversed(ways))
            for name in order:
                bench_cycle.control(base, "stats")
                spent[name].append(await _pass(ways[name], urls, concurrency) / pages)
                opened[name] += bench_cycle.control(base, "stats").get("connections", 0)
    return spent, opened


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("corpora", type=Path)
    parser.add_argument("--pages", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--against", type=Path, help="another copy of monitors/ingest/fetch.py")
    parser.add_argument(
        "--latency",
        type=float,
        nargs=2,
        default=(0.0, 0.0),
        metavar=("MIN", "MAX"),
        help="seconds the server waits before each answer, drawn between MIN and MAX",
    )
    args = parser.parse_args()
    port = bench_cycle.free_port()
    server = multiprocessing.get_context("spawn").Process(
        target=_serve, args=(args.corpora, port, tuple(args.latency)), daemon=True
    )
    server.start()
    base = f"http://127.0.0.1:{port}"
    try:
        bench_cycle.wait_up(base)
        other = _fetcher_from(args.against) if args.against else None
        spent, opened = asyncio.run(
            _measure(base, args.pages, args.rounds, args.concurrency, other)
        )
    finally:
        server.terminate()
    for name, seconds in spent.items():
        ms = [s * 1000 for s in seconds]
        print(
            f"{name:>14}: best {min(ms):.3f} ms, median {statistics.median(ms):.3f} ms a "
            f"request; {opened[name]} connections for {args.rounds * args.pages} requests"
        )
    if "other Fetcher" in spent:
        pairs = zip(spent["Fetcher.fetch"], spent["other Fetcher"], strict=True)
        differences = [(ours - other) * 1000 for ours, other in pairs]
        print(f"Fetcher.fetch - other Fetcher: median {statistics.median(differences):+.3f} ms")


if __name__ == "__main__":
    main()
