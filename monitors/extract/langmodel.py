"""py3langid's model with its byte automaton in 16 bits: the same language scores in
14 MB less (59 MB), and a load that peaks 40 MB lower.

py3langid counts a text's byte n-grams by walking a DFA of 104,583 states whose
transition table (38,346 distinct 256-byte rows) holds 32-bit state numbers: 39 MB. Here
the states are numbered again, the start state first and then by how many table entries
lead to them, so that all but 39,048 entries (those leading to states only one entry
leads to) name a state below `ESCAPE`: the table holds 16-bit numbers, `ESCAPE` sending
the walk to a dict of the rest. The walk visits the same states under new numbers, each
with its n-gram, so the counts, and the scores, are py3langid's own.

Building it (0.7 s of CPU, most of it unpacking the shipped model's xz) happens once per
model: the result (`Compact`) is cached in `cache_path()`, its arrays one after another
in .npy format, uncompressed (49 MB), which later processes read straight into their
arrays in 0.05 s, their peak no higher than a build's. The file's name holds `FORMAT`
and the shipped model's digest, so a new model or layout is built afresh; it is written
to a temporary file and renamed, so a reader never sees half of one. A cache that is
missing, unwritable or unsound (its arrays' shapes, types and bounds are checked on
reading, and its length; it has no checksum, which would cost as much as the read) is
built again and written anew, logged at debug level only.
"""

from __future__ import annotations

import hashlib
import io
import logging
import lzma
import os
import shutil
import tempfile
import zipfile
from array import array
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any, NamedTuple

import numpy as np
from py3langid.langid import MODEL_DIR, MODEL_FILE, RAW_FLOOR, LanguageIdentifier

from monitors.extract import cache

FORMAT = 1  # the cached arrays' layout: a change of `Compact` or of the numbering bumps it
ESCAPE = 0xFFFF  # in the table: the next state is in the escapes, by the entry's position
_CHUNK = 1 << 20  # table entries renumbered at a time (bounds the copies made on loading)
_PARTS = ("ptc", "pc", "classes", "nextmove_row", "out_feat")  # the model's other arrays
log = logging.getLogger(__name__)


class Compact(NamedTuple):
    """The model's arrays, as cached: py3langid's `ptc`, `pc` and `classes`; the 16-bit
    `table`; each state's n-gram (`out_feat`) and table row (`rows`) under its new
    number; the escapes by the table entry's position (`escape_at`, increasing)."""

    ptc: np.ndarray
    pc: np.ndarray
    classes: np.ndarray
    table: array[int]
    out_feat: np.ndarray
    rows: array[int]
    escape_at: np.ndarray
    escape_to: np.ndarray


class CompactIdentifier(LanguageIdentifier):  # type: ignore[misc]
    """py3langid's identifier walking the 16-bit table (see the module's doc)."""

    def __init__(self, *args: Any, escapes: dict[int, int], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.escapes = escapes

    def _raw_score(self, text: bytes) -> Any:
        visits = visit_counts(self.tk_nextmove, self.escapes, self._rowbase, self.tk_output, text)
        if visits:
            return self._sparse_score(visits, self.nb_ptc)
        fill = 0.0 if self._norm_probs else RAW_FLOOR  # no features: as py3langid
        return np.full(len(self.nb_classes), fill, dtype=np.float32)


def visit_counts(
    moves: array[int], escapes: dict[int, int], rowbase: list[int], out: list[int], text: bytes
) -> Counter[int] | None:
    """py3langid's `visit_counts` over the 16-bit table: each n-gram's count, None if
    none."""
    state, found = 0, []
    for letter in text:
        at = rowbase[state] + letter
        state = moves[at]
        if state == ESCAPE:
            state = escapes[at]
        feature = out[state]
        if feature >= 0:
            found.append(feature)
    return Counter(found) if found else None


def load(norm_probs: bool = True) -> CompactIdentifier:
    """py3langid's shipped model, its table in 16 bits: from the cache (see the module's
    doc) when it holds this model, else built and cached."""
    path = cache_path()
    compact = _read_cache(path) if path is not None else None
    if compact is None:
        compact = build()
        if path is not None:
            _write_cache(path, compact)
    return CompactIdentifier(
        compact.ptc,
        compact.pc,
        compact.classes.tolist(),
        compact.table,
        compact.out_feat.tolist(),
        norm_probs=norm_probs,
        tk_row=compact.rows,
        escapes=dict(zip(compact.escape_at.tolist(), compact.escape_to.tolist(), strict=True)),
    )


def build() -> Compact:
    """The compact model from py3langid's shipped one. The table is read and renumbered
    a chunk at a time, so building holds no more than the model's own memory and a chunk
    (py3langid's loader holds the 39 MB table twice)."""
    with tempfile.TemporaryFile(suffix=".npz") as npz:
        with lzma.open(MODEL_DIR / MODEL_FILE) as packed:
            shutil.copyfileobj(packed, npz, length=_CHUNK)
        npz.seek(0)
        with zipfile.ZipFile(npz) as model:
            part = {name: _read(model, name) for name in _PARTS}
            number = _numbering(model, len(part["out_feat"]))
            table, escape_at, escape_to = _renumbered(model, number)
    order = np.argsort(number)  # the old state of each new number
    return Compact(
        part["ptc"],
        part["pc"],
        part["classes"],
        table,
        part["out_feat"][order],
        array("H", part["nextmove_row"].astype(np.uint16)[order].tobytes()),
        escape_at,
        escape_to,
    )


def cache_path() -> Path | None:
    """Where the compact model of the shipped one is cached (monitors.extract.cache),
    under a name that holds `FORMAT` and the shipped model's digest; None when there is
    no such place."""
    folder = cache.directory()
    try:
        with open(MODEL_DIR / MODEL_FILE, "rb") as source:
            digest = hashlib.file_digest(source, "sha256").hexdigest()[:16]
    except OSError as exc:
        log.debug("language model: no cache (%s)", exc)
        return None
    return None if folder is None else folder / f"langid-{FORMAT}-{digest}.npy"


def _read_cache(path: Path) -> Compact | None:
    """The compact model cached at `path`, or None when it is missing or not sound."""
    try:
        with open(path, "rb") as cached:
            compact = Compact(  # in the order written
                ptc=_read_array(cached),
                pc=_read_array(cached),
                classes=_read_array(cached),
                table=_read_words(cached),
                out_feat=_read_array(cached),
                rows=_read_words(cached),
                escape_at=_read_array(cached),
                escape_to=_read_array(cached),
            )
            if cached.read(1):
                raise ValueError("more than the arrays")
        _check(compact)
    except FileNotFoundError:
        log.debug("language model: no cache at %s", path)
        return None
    except Exception as exc:  # noqa: BLE001 (any fault: built again, the file replaced)
        log.debug("language model: cache %s unsound (%r)", path, exc)
        return None
    return compact


def _write_cache(path: Path, compact: Compact) -> None:
    """Cache `compact` at `path` (atomically; a failure is only logged)."""

    def fill(stream: IO[bytes]) -> None:
        for value in compact:
            words = isinstance(value, array)
            value = np.frombuffer(value, dtype=np.uint16) if words else value
            np.save(stream, value, allow_pickle=False)

    cache.write(path, fill)


def _check(compact: Compact) -> None:
    """Raise ValueError unless the arrays fit together: every walk stays in the table
    and finds each state's row, n-gram and escape (every state a 16-bit entry names is
    one: the model has more than `ESCAPE`)."""
    states, rows = len(compact.out_feat), len(compact.table) // 256
    table = np.frombuffer(compact.table, dtype=np.uint16)
    escaped = sum(
        int(np.count_nonzero(table[start : start + _CHUNK] == ESCAPE))
        for start in range(0, len(table), _CHUNK)
    )
    at, to = compact.escape_at, compact.escape_to
    sound = (
        compact.ptc.ndim == 2
        and compact.ptc.shape[1] == len(compact.pc) == len(compact.classes)
        and compact.classes.dtype.kind == "U"
        and compact.out_feat.dtype.kind == at.dtype.kind == to.dtype.kind == "i"
        and len(compact.rows) == states > ESCAPE
        and len(table) == rows * 256
        and np.frombuffer(compact.rows, dtype=np.uint16).max() < rows
        and -1 <= compact.out_feat.min() <= compact.out_feat.max() < len(compact.ptc)
        and at.shape == to.shape == (escaped,)
        and bool(np.all(np.diff(at) > 0) and np.all(at >= 0) and np.all(table[at] == ESCAPE))
        and bool(np.all((to >= ESCAPE) & (to < states)))
    )
    if not sound:
        raise ValueError("the cached arrays do not fit together")


def _read(model: zipfile.ZipFile, name: str) -> np.ndarray:
    """One array of the model, whole."""
    with model.open(f"{name}.npy") as member:
        return _read_array(member)


def _read_array(stream: IO[bytes]) -> np.ndarray:
    """The .npy array `stream` is at, whole."""
    return np.lib.format.read_array(stream, allow_pickle=False)


def _read_words(stream: io.BufferedIOBase) -> array[int]:
    """The .npy array of 16-bit numbers `stream` is at, read into an `array("H")`."""
    shape, dtype = _header(stream)
    if dtype != np.uint16 or len(shape) != 1:
        raise ValueError(f"{dtype} {shape}, not 16-bit numbers")
    if 2 * shape[0] > os.fstat(stream.fileno()).st_size - stream.tell():
        raise ValueError(f"{shape[0]} numbers: more than the file holds")
    words = array("H", [0]) * shape[0]
    if stream.readinto(memoryview(words).cast("B")) != 2 * len(words):
        raise ValueError("truncated")
    return words


def _header(member: IO[bytes] | io.BufferedIOBase) -> tuple[tuple[int, ...], np.dtype[Any]]:
    """The shape and type of the .npy array whose data `member` is then at."""
    version = np.lib.format.read_magic(member)
    header = (
        np.lib.format.read_array_header_1_0
        if version == (1, 0)
        else np.lib.format.read_array_header_2_0
    )
    shape, fortran, dtype = header(member)
    if fortran and len(shape) > 1:
        raise ValueError("an array in Fortran order")
    return shape, dtype


def _table(model: zipfile.ZipFile) -> Iterator[np.ndarray]:
    """The transition table's entries, `_CHUNK` at a time."""
    with model.open("nextmove.npy") as member:
        _, dtype = _header(member)
        while chunk := member.read(_CHUNK * dtype.itemsize):
            yield np.frombuffer(chunk, dtype=dtype)


def _numbering(model: zipfile.ZipFile, states: int) -> np.ndarray:
    """Each state's new number: the start state 0, then the others by how many table
    entries lead to them, most first."""
    leading = np.zeros(states, dtype=np.int64)
    for chunk in _table(model):
        leading += np.bincount(chunk, minlength=states)
    leading[0] = np.iinfo(leading.dtype).max
    number = np.empty(states, dtype=np.uint32)
    number[np.argsort(-leading, kind="stable")] = np.arange(states, dtype=np.uint32)
    return number


def _renumbered(
    model: zipfile.ZipFile, number: np.ndarray
) -> tuple[array[int], np.ndarray, np.ndarray]:
    """The table with new state numbers in 16 bits, `ESCAPE` where a number does not fit,
    and the positions of those entries with their numbers."""
    table: array[int] = array("H")
    escape_at, escape_to = [], []
    for chunk in _table(model):
        renumbered = number[chunk]
        over = np.flatnonzero(renumbered >= ESCAPE)
        escape_at.append(over + len(table))
        escape_to.append(renumbered[over].astype(np.int64))
        table.frombytes(np.minimum(renumbered, ESCAPE).astype(np.uint16).tobytes())
    return table, np.concatenate(escape_at), np.concatenate(escape_to)
