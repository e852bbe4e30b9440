"""CPU a page request costs the fetcher when pages go round many hosts.

A keep-alive loopback server answers 200 with a 20 KB page on `--hosts` loopback
addresses (127.0.0.1 to 127.0.0.N, one port; run in another process). This process
requests `--requests` pages taking the hosts in turn, `--concurrency` at once, as the
page queue does (fair across hosts), through newsmon's `Fetcher` and through a plain
httpx client with one pool for every host (50 connections, 20 kept: the floor's and the
bare poller's client in bench/cycle.py). It prints the CPU time of this process a
request and how many connections the server accepted, for 1 host and for `--hosts`,
each side `--rounds` times, alternated.

    python bench/connections.py [--hosts 100] [--requests 3000] [--concurrency 16]
                                [--rounds 2]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import multiprocessing
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from monitors.config import FetchConfig  # noqa: E402
from monitors.ingest.fetch import Fetcher  # noqa: E402

PAGE = b"<html><body>" + b"x" * 20_000 + b"</body></html>"
ANSWER = b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: %d\r\n\r\n" % len(PAGE)


def serve(hosts: int, port: int, accepted: multiprocessing.Value) -> None:  # type: ignore[type-arg]
    """Answer every request on each host's keep-alive connections, counting them."""

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with accepted.get_lock():
            accepted.value += 1
        with contextlib.suppress(asyncio.IncompleteReadError, ConnectionError):
            while await reader.readuntil(b"\r\n\r\n"):
                writer.write(ANSWER + PAGE)
                await writer.drain()
        writer.close()

    async def main() -> None:
        for n in range(1, hosts + 1):
            await asyncio.start_server(answer, f"127.0.0.{n}", port)
        await asyncio.Event().wait()

    asyncio.run(main())


async def timed(get: Callable[[str], Awaitable[bytes]], urls: list[str], at_once: int) -> float:
    """CPU seconds of this process to get every URL, `at_once` at a time."""
    slots = asyncio.Semaphore(at_once)

    async def one(url: str) -> None:
        async with slots:
            assert len(await get(url)) == len(PAGE)

    started = time.process_time()
    await asyncio.gather(*(one(url) for url in urls))
    return time.process_time() - started


async def with_fetcher(urls: list[str], at_once: int) -> float:
    async with Fetcher(FetchConfig(allow_private_networks=["127.0.0.0/8"])) as fetcher:

        async def get(url: str) -> bytes:
            return (await fetcher.fetch(url)).body

        return await timed(get, urls, at_once)


async def with_one_pool(urls: list[str], at_once: int) -> float:
    limits = httpx.Limits(max_connections=50, max_keepalive_connections=20)
    async with httpx.AsyncClient(limits=limits, trust_env=False) as client:

        async def get(url: str) -> bytes:
            return (await client.get(url)).content

        return await timed(get, urls, at_once)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--hosts", type=int, default=100, help="loopback hosts (2-250)")
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    hosts = max(2, min(args.hosts, 250))
    accepted = multiprocessing.Value("i", 0)
    port = 18_000 + multiprocessing.current_process().pid % 1_000
    server = multiprocessing.Process(target=serve, args=(hosts, port, accepted), daemon=True)
    server.start()
    time.sleep(1.0)
    sides = {"newsmon Fetcher": with_fetcher, "one httpx pool": with_one_pool}
    for _ in range(args.rounds):
        for spread in (1, hosts):
            urls = [
                f"http://127.0.0.{1 + i % spread}:{port}/page/{i}" for i in range(args.requests)
            ]
            for name, side in sides.items():
                accepted.value = 0
                cpu = asyncio.run(side(urls, args.concurrency))
                print(
                    f"{spread:4d} host(s), {name:16s}: {cpu / len(urls) * 1000:5.2f} ms CPU a "
                    f"request, {accepted.value:5d} connections for {len(urls)} requests"
                )
    server.kill()


if __name__ == "__main__":
    main()
