"""Turn a fetched page into an article with trafilatura, or fall back to the feed entry.

1. Parse the HTML once with lxml (through trafilatura's loader).
2. Extract the main text, favouring precision so page chrome stays out: first without
   trafilatura's fallback extractors, and with them only when that finds under
   FULL_BELOW characters (most pages are done in two thirds of the time, with the
   same result; bench/extraction.py).
3. Take the headline from the feed entry, else the page's og:title or <title>; the
   site from og:site_name or application-name, else the host; the language from
   <html lang>. These few meta tags are read directly: trafilatura's metadata pass
   (dates, authors, categories) cost a quarter of each extraction, for nothing we use.
4. When the page yields less than `min_chars` and less than the entry's summary,
   the article is the entry's title and summary, marked `source="summary"`.

Pages come from anyone, and trafilatura spends seconds to minutes on some (a few MiB
of bare paragraphs or links). The pipeline therefore runs steps 1-3 in an
`Extractor`: worker processes, one page at a time each, killed past a deadline and
capped in memory (RLIMIT_AS, on Linux). A page over `max_page_bytes` is not extracted.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import marshal
import math
import os
import queue
import re
import select
import signal
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import astuple, dataclass, field, fields, replace
from pathlib import Path
from typing import IO, Any

import trafilatura
from lxml.html import HtmlElement

from monitors.analysis import Analysis, analyse
from monitors.feeds import safe_text
from monitors.models import Article, Entry
from monitors.text import words
from monitors.urls import site_of

log = logging.getLogger(__name__)

WORKER_CODE = "from monitors.extract import serve; serve()"
MAX_PAGE_BYTES = 3 * 2**20  # a larger page keeps its entry's summary
FULL_BELOW = 1000  # characters: a shorter fast extraction is done again with fallbacks
WORKER_GRACE = 5  # seconds a worker gives itself past the deadline before it dies
READY = "ready"
_HEADER = struct.Struct(">I")
_ROOT = str(Path(__file__).resolve().parent.parent)


@dataclass(frozen=True)
class PageText:
    """What a page gave; `problem` says why it gave nothing (a failure or a timeout).
    `text_hash` is the text's fingerprint; a worker also gives the analysis of the text
    under the article's headline, unless told the text is a copy."""

    text: str = ""
    title: str = ""
    site: str = ""
    language: str | None = None
    problem: str | None = None
    text_hash: str = ""
    analysis: Analysis | None = field(default=None, compare=False)


def extract_article(page: bytes | None, entry: Entry, url: str, min_chars: int = 200) -> Article:
    """The entry's article from its page, extracted in this process without a time
    bound; the entry's own text when the page gives too little."""
    return article_from(page_text(page, url) if page else PageText(), entry, url, min_chars)


def article_from(found: PageText, entry: Entry, url: str, min_chars: int = 200) -> Article:
    """The entry's article from what its page gave (step 4)."""
    text, summary = found.text, entry.summary
    if len(text) < min_chars and len(text) < len(summary):
        text = summary
        source = "summary"
    else:
        source = "page" if text else "summary"
    headline = entry.title or found.title or summary[:120]
    analysis = found.analysis
    if analysis is not None and not analysis.fits(headline, text):
        analysis = None
    digest = found.text_hash if text and text == found.text else ""
    return Article(
        url=url or entry.url,
        canonical_url=entry.canonical_url,
        title=headline,
        text=text,
        site=found.site or site_of(url or entry.url),
        source=source,
        language=found.language,
        published=entry.published,
        text_hash=digest or text_hash(text or headline),
        analysis=analysis,
    )


def page_text(page: bytes, url: str) -> PageText:
    """Steps 1-3 for one page; any failure is reported in `problem`, never raised."""
    try:
        tree = trafilatura.load_html(page)
        if tree is None:
            return PageText()
        title, site = _meta(tree, "og:title"), _meta(tree, "og:site_name", "application-name")
        language = _language(tree)
        text = _main_text(tree, url, fast=True)
        if len(text) < FULL_BELOW:
            text = _main_text(trafilatura.load_html(page), url, fast=False)
    except Exception as exc:  # trafilatura raises many kinds on odd pages
        return PageText(problem=f"extraction failed ({type(exc).__name__}: {exc})"[:300])
    site = site_of(site) if "://" in site else site  # some give their URL
    title = safe_text(title or _title(tree))
    return PageText(
        text, title, safe_text(site), language, text_hash=text_hash(text) if text else ""
    )


def _main_text(tree: HtmlElement | None, url: str, fast: bool) -> str:
    """The page's main text; `fast` skips trafilatura's fallback extractors."""
    doc = trafilatura.bare_extraction(
        tree,
        url=url,
        fast=fast,
        with_metadata=False,
        favor_precision=True,
        include_comments=False,
        include_tables=False,
    )
    return safe_text(getattr(doc, "text", None) or "").strip() if doc is not None else ""


def _meta(tree: HtmlElement, *names: str) -> str:
    """The content of the first <meta property|name=NAME> present, of the first name."""
    for name in names:
        for found in tree.iterfind(f".//meta[@property='{name}']"):
            if content := (found.get("content") or "").strip():
                return content
        for found in tree.iterfind(f".//meta[@name='{name}']"):
            if content := (found.get("content") or "").strip():
                return content
    return ""


def _title(tree: HtmlElement) -> str:
    found = tree.find(".//title")
    return " ".join((found.text_content() if found is not None else "").split())


def _language(tree: HtmlElement) -> str | None:
    lang = (
        tree.get("lang")
        or tree.get("xml:lang")  # the HTML parser keeps the prefix in the name
        or tree.get("{http://www.w3.org/XML/1998/namespace}lang")
    )
    primary = re.split(r"[-_]", lang.strip())[0].lower()[:8] if lang else ""
    return safe_text(primary) or None


def text_hash(text: str) -> str:
    """A fingerprint of the words of a text, blind to case, accents, spacing and punctuation."""
    return hashlib.sha256(" ".join(words(text)).encode("utf-8")).hexdigest()


class Extractor:
    """Extracts pages in `workers` processes, each page within `timeout` seconds.

    Workers start on first use and are reused. One that runs past the deadline or
    dies is killed and replaced, and its page gives a PageText whose `problem` says
    so. `page_text` is thread-safe: call it from threads to extract pages in parallel.
    """

    def __init__(
        self,
        workers: int = 2,
        timeout: float = 10.0,
        start_timeout: float = 60.0,
        memory_mib: int = 2048,
        max_page_bytes: int = MAX_PAGE_BYTES,
    ):
        self.workers = workers
        self.timeout = timeout
        self.start_timeout = start_timeout
        self.memory_mib = memory_mib
        self.max_page_bytes = max_page_bytes
        self._idle: queue.SimpleQueue[_Worker | None] = queue.SimpleQueue()
        for _ in range(workers):
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
        under `headline` (else the page's title), within the deadline again. A page too
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
            title = headline or found.title
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
        return Analysis.from_plain(answer, text) if answer is not None else None

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
    """The next message on a stream, or None at its end."""
    header = stream.read(_HEADER.size)
    if len(header) < _HEADER.size:
        return None
    (size,) = _HEADER.unpack(header)
    return marshal.loads(stream.read(size))


def serve() -> None:
    """An extraction worker's loop over requests on stdin, each answered on stdout:
    ("page", page, url) with the PageText fields but the analysis; ("analyse", title)
    with the plain analysis of the last page's text under `title`. An alarm kills the
    worker if a request runs well past the deadline, even when nobody is left to kill
    it; a page that needs more memory than the cap fails with MemoryError, reported as
    its problem."""
    limit = math.ceil(float(sys.argv[1])) + WORKER_GRACE
    analyse("Warm up", "Loads the IDF table before the cap.")
    _cap_memory(int(sys.argv[2]))
    requests, answers = sys.stdin.buffer, sys.stdout.buffer
    sys.stdout = sys.stderr  # nothing but answers may reach the answer pipe
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides when to stop
    logging.disable(logging.CRITICAL)
    _write(answers, READY)
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
        return analyse(title, text).plain()
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
