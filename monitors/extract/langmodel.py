"""py3langid's model with its byte automaton in 16 bits: the same language scores in
14 MB less (59 MB), and a load that peaks 40 MB lower.

py3langid counts a text's byte n-grams by walking a DFA of 104,583 states whose
transition table (38,346 distinct 256-byte rows) holds 32-bit state numbers: 39 MB. Here
the states are numbered again, the start state first and then by how many table entries
lead to them, so that all but 39,048 entries (those leading to states only one entry
leads to) name a state below `ESCAPE`: the table holds 16-bit numbers, `ESCAPE` sending
the walk to a dict of the rest. The walk visits the same states under new numbers, each
with its n-gram, so the counts, and the scores, are py3langid's own.
"""

from __future__ import annotations

import lzma
import shutil
import tempfile
import zipfile
from array import array
from collections import Counter
from collections.abc import Iterator
from typing import Any

import numpy as np
from py3langid.langid import MODEL_DIR, MODEL_FILE, RAW_FLOOR, LanguageIdentifier

ESCAPE = 0xFFFF  # in the table: the next state is in the escapes, by the entry's position
_CHUNK = 1 << 20  # table entries renumbered at a time (bounds the copies made on loading)
_PARTS = ("ptc", "pc", "classes", "nextmove_row", "out_feat")  # the model's other arrays


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
    """py3langid's shipped model, its table in 16 bits. The table is read and renumbered
    a chunk at a time, so loading holds no more than the model's own memory and a chunk
    (py3langid's loader holds the 39 MB table twice)."""
    with tempfile.TemporaryFile(suffix=".npz") as npz:
        with lzma.open(MODEL_DIR / MODEL_FILE) as packed:
            shutil.copyfileobj(packed, npz, length=_CHUNK)
        npz.seek(0)
        with zipfile.ZipFile(npz) as model:
            part = {name: _read(model, name) for name in _PARTS}
            number = _numbering(model, len(part["out_feat"]))
            table, escapes = _renumbered(model, number)
    order = np.argsort(number)  # the old state of each new number
    return CompactIdentifier(
        part["ptc"],
        part["pc"],
        part["classes"].tolist(),
        table,
        part["out_feat"][order].tolist(),
        norm_probs=norm_probs,
        tk_row=array("H", part["nextmove_row"].astype(np.uint16)[order].tobytes()),
        escapes=escapes,
    )


def _read(model: zipfile.ZipFile, name: str) -> np.ndarray:
    """One array of the model, whole."""
    with model.open(f"{name}.npy") as member:
        return np.lib.format.read_array(member, allow_pickle=False)


def _table(model: zipfile.ZipFile) -> Iterator[np.ndarray]:
    """The transition table's entries, `_CHUNK` at a time."""
    with model.open("nextmove.npy") as member:
        version = np.lib.format.read_magic(member)
        header = (
            np.lib.format.read_array_header_1_0
            if version == (1, 0)
            else np.lib.format.read_array_header_2_0
        )
        _, _, dtype = header(member)
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


def _renumbered(model: zipfile.ZipFile, number: np.ndarray) -> tuple[array[int], dict[int, int]]:
    """The table with new state numbers in 16 bits, `ESCAPE` where a number does not fit,
    and those numbers by the entry's position."""
    table: array[int] = array("H")
    escapes: dict[int, int] = {}
    for chunk in _table(model):
        renumbered = number[chunk]
        over = np.flatnonzero(renumbered >= ESCAPE)
        at = over + len(table)
        escapes.update(zip(at.tolist(), renumbered[over].tolist(), strict=True))
        table.frombytes(np.minimum(renumbered, ESCAPE).astype(np.uint16).tobytes())
    return table, escapes
