"""Extraction worker processes: each page's text (monitors.extract.page) within a
deadline and a memory cap, and the analysis of that text (monitors.extract.analysis).

Workers start on first use, one page at a time each; one that runs past the deadline or
dies is killed and replaced. Requests and answers cross the worker's pipes as marshalled
plain values, the length first.
"""

from __future__ import annotations

import contextlib
import logging
import marshal
import math
import os
import queue
import select
import signal
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import astuple, fields, replace
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from monitors.extract.analysis import analyse
from monitors.extract.page import PageText, page_text
from monitors.models import Analysis, StoryFeatures

if TYPE_CHECKING:
    from monitors.config import ExtractConfig

log = logging.getLogger(__name__)

# trafilatura imports py3langid (and numpy with it) for a language filter the workers never
# use: kept out, a worker starts with 14 MB and 0.15 s of CPU less
WORKER_CODE = (
    "import sys; sys.modules['py3langid'] = None; "
    "from monitors.extract.workers import serve; serve()"
)
WORKER_GRACE = 5  # seconds a worker gives itself past the deadline before it dies
START_TIMEOUT = 60.0  # seconds a new worker has to get ready
READY = "ready"
WARM_UP_PAGE = b"<html><body><p>Imports trafilatura and its stop words.</p></body></html>"
_HEADER = struct.Struct(">I")
_ROOT = str(Path(__file__).resolve().parents[2])


class Extractor:
    """Extracts pages in the config's `workers` processes, each page within its `timeout`.

    Workers start on first use and are reused. One that runs past the deadline or
    dies is killed and replaced, and its page gives a PageText whose `problem` says
    so. `page_text` is thread-safe: call it from threads to extract pages in parallel.
    """

    def __init__(self, config: ExtractConfig, start_timeout: float = START_TIMEOUT):
        self.workers = config.workers
        self.timeout = config.timeout
        self.start_timeout = start_timeout
        self.memory_mib = config.memory_mib
        self.max_page_bytes = config.max_page_bytes
        self._idle: queue.SimpleQueue[_Worker | None] = queue.SimpleQueue()
        for _ in range(self.workers):
            self._idle.put(None)
        self._lock = threading.Lock()
        self._alive: set[_Worker] = set()

    def page_text(
        self,
        page: bytes,
        url: str,
        headline: str = "",
        analyse: Callable[[str], bool] | None = None,
    ) -> PageText:
        """Steps 1-3 for one page in a worker, within the deadline; then, if `analyse`
        says so of the text's fingerprint (default: always), the analysis of the text
        under the page's title (else `headline`), within the deadline again. A page too
        large, or that cannot be sent to a worker, gives its `problem` instead; an
        analysis that fails is left to the caller."""
        if len(page) > self.max_page_bytes:
            return PageText(problem=f"page of {len(page)} bytes, over {self.max_page_bytes}")
        try:
            request = _encode(("page", page, url))
        except (TypeError, ValueError) as exc:
            return PageText(problem=f"page cannot be sent to the extraction worker ({exc})")
        worker = self._idle.get() or self._start()
        kept: _Worker | None = worker
        found = None
        try:
            found = worker.call(request, self.timeout, self.start_timeout)
            title = found.title or headline
            if found.text and title and (analyse is None or analyse(found.text_hash)):
                found = replace(found, analysis=worker.analyse(title, found.text, self.timeout))
            return found
        except (TimeoutError, EOFError, OSError, ValueError) as exc:
            problem = _worker_problem(exc, worker, self.timeout)
            self._stop(worker)
            kept = None
            if found is not None:  # the analysis failed: the text stands
                log.warning("page %s: analysis in the worker failed (%s)", url, problem)
                return found
            return PageText(problem=problem)
        finally:
            self._idle.put(kept)

    def start(self) -> None:
        """Start the workers not running yet, without waiting for them to be ready."""
        slots: list[_Worker | None] = []
        with contextlib.suppress(queue.Empty):
            while len(slots) < self.workers:
                slots.append(self._idle.get_nowait())
        for worker in slots:
            self._idle.put(worker or self._start())

    def close(self) -> None:
        """Stop every worker (each is restarted if the extractor is used again)."""
        with self._lock:
            workers = list(self._alive)
        for worker in workers:
            self._stop(worker)

    def _start(self) -> _Worker:
        worker = _Worker(self.timeout, self.memory_mib)
        with self._lock:
            self._alive.add(worker)
        return worker

    def _stop(self, worker: _Worker) -> None:
        with self._lock:
            self._alive.discard(worker)
        worker.stop()


class _Worker:
    """One extraction process, spoken to over its stdin and stdout."""

    def __init__(self, timeout: float, memory_mib: int) -> None:
        path = os.pathsep.join(filter(None, [_ROOT, os.environ.get("PYTHONPATH")]))
        env = {**os.environ, "PYTHONPATH": path}
        self.process = subprocess.Popen(
            [sys.executable, "-c", WORKER_CODE, str(timeout), str(memory_mib)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env=env,
        )
        self.ready = False

    def call(self, request: bytes, timeout: float, start_timeout: float) -> PageText:
        """The text of the page `request` holds (see `_encode`); TimeoutError past
        `timeout`, EOFError or OSError if the worker dies."""
        if not self.ready:
            if self._receive(start_timeout, starting=True) != READY:
                raise ValueError("the extraction worker did not say it was ready")
            self.ready = True
        assert self.process.stdin is not None
        _send(self.process.stdin, request)
        answer = self._receive(timeout)
        if not isinstance(answer, tuple) or len(answer) != len(fields(PageText)) - 1:
            raise ValueError("the extraction worker sent an answer of the wrong shape")
        return PageText(*answer)

    def analyse(self, title: str, text: str, timeout: float) -> Analysis | None:
        """The analysis of the text of the page last extracted, under `title`; None when
        it failed in the worker."""
        assert self.process.stdin is not None
        _write(self.process.stdin, ("analyse", title))
        answer = self._receive(timeout)
        return _from_plain(answer, text) if answer is not None else None

    def stop(self) -> None:
        """Kill the process (it keeps no state) and close the pipes to it."""
        self.process.kill()
        self.process.wait()
        for pipe in (self.process.stdin, self.process.stdout):
            if pipe is not None:
                with contextlib.suppress(OSError):
                    pipe.close()

    def _receive(self, timeout: float, starting: bool = False) -> Any:
        deadline = time.monotonic() + timeout
        try:
            (size,) = _HEADER.unpack(self._read(_HEADER.size, deadline))
            return marshal.loads(self._read(size, deadline))
        except TimeoutError:
            if starting:
                raise _StartTimeout() from None
            raise

    def _read(self, size: int, deadline: float) -> bytes:
        assert self.process.stdout is not None
        fd = self.process.stdout.fileno()
        parts: list[bytes] = []
        while size:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([fd], [], [], left)[0]:
                raise TimeoutError()
            part = os.read(fd, min(size, 1 << 20))
            if not part:
                raise EOFError()
            parts.append(part)
            size -= len(part)
        return b"".join(parts)


class _StartTimeout(TimeoutError):
    """The worker did not get ready in time."""


def _worker_problem(exc: Exception, worker: _Worker, timeout: float) -> str:
    if isinstance(exc, _StartTimeout):
        return "the extraction worker did not start in time"
    if isinstance(exc, TimeoutError):
        return f"extraction took longer than {timeout:g} s"
    if isinstance(exc, ValueError):
        return str(exc) or "the extraction worker sent an unreadable answer"
    try:
        code: int | None = worker.process.wait(timeout=1)
    except subprocess.TimeoutExpired:
        code = None
    return f"the extraction worker died (exit status {code})"


def _encode(message: Any) -> bytes:
    """A message as sent over a pipe: its length, then its marshalled bytes."""
    data = marshal.dumps(message)
    return _HEADER.pack(len(data)) + data


def _send(stream: IO[bytes], encoded: bytes) -> None:
    stream.write(encoded)
    stream.flush()


def _write(stream: IO[bytes], message: Any) -> None:
    _send(stream, _encode(message))


def _read_message(stream: IO[bytes]) -> Any:
    """The next message on a stream, or None at its end (a message cut short too)."""
    header = stream.read(_HEADER.size)
    if len(header) < _HEADER.size:
        return None
    (size,) = _HEADER.unpack(header)
    data = stream.read(size)
    return marshal.loads(data) if len(data) == size else None


def serve() -> None:
    """An extraction worker's loop over requests on stdin, each answered on stdout:
    ("page", page, url) with the PageText fields but the analysis; ("analyse", title)
    with the plain analysis of the last page's text under `title`. An alarm kills the
    worker if a request runs well past the deadline, even when nobody is left to kill
    it; a page that needs more memory than the cap fails, reported as running out of
    memory (monitors.extract.page). A worker whose parent is gone (its requests end, or
    its answer finds no reader) exits quietly."""
    limit = math.ceil(float(sys.argv[1])) + WORKER_GRACE
    analyse("Warm up", "Loads the IDF table before the cap.")
    page_text(WARM_UP_PAGE, "https://example.com/")  # imports trafilatura before the cap
    _cap_memory(int(sys.argv[2]))
    requests, answers = sys.stdin.buffer, sys.stdout.buffer
    sys.stdout = sys.stderr  # nothing but answers may reach the answer pipe
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides when to stop
    logging.disable(logging.CRITICAL)
    try:
        _write(answers, READY)
        _answer(requests, answers, limit)
    except BrokenPipeError:  # nobody reads the answers: what is left unsent goes nowhere
        os.dup2(os.open(os.devnull, os.O_WRONLY), answers.fileno())


def _answer(requests: IO[bytes], answers: IO[bytes], limit: int) -> None:
    """Answer each request until there are no more, each within `limit` seconds."""
    last = ""
    while (request := _read_message(requests)) is not None:
        signal.alarm(limit)
        if request[0] == "analyse":
            answer: Any = _analysis(request[1], last)
        else:
            found = page_text(*request[1:])
            last = found.text
            answer = astuple(found)[:-1]
        signal.alarm(0)
        _write(answers, answer)


def _analysis(title: str, text: str) -> tuple[Any, ...] | None:
    """The plain analysis of a text under a headline; None when there is no text, or when
    it fails (the caller then analyses it)."""
    if not (text and title):
        return None
    try:
        return _plain(analyse(title, text))
    except Exception:  # noqa: BLE001 - the recording process analyses it again, and reports
        return None


def _cap_memory(mib: int) -> None:
    """Cap this process's address space at `mib` MiB, where the system allows it."""
    try:
        import resource
    except ImportError:  # pragma: no cover - not on Windows
        return
    limit = mib * 2**20
    with contextlib.suppress(ValueError, OSError):
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))


def _plain(analysis: Analysis) -> tuple[Any, ...]:
    """An analysis as marshallable values (the text is not sent back)."""
    f = analysis.features
    return (analysis.title, dict(f.body), f.keys, dict(f.marks))


def _from_plain(values: tuple[Any, ...], text: str) -> Analysis:
    """The analysis `_plain` gave, of `text`."""
    title, body, keys, marks = values
    return Analysis(title, text, StoryFeatures(body=body, keys=frozenset(keys), marks=marks))
