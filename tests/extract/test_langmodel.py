"""py3langid's model with its automaton in 16 bits scores as py3langid's own."""

from __future__ import annotations

import random
from functools import cache

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from py3langid.langid import MODEL_FILE, LanguageIdentifier, visit_counts

from monitors.extract import langmodel
from tests.conftest import DATA

SAMPLES = sorted((DATA / "languages").glob("*.yaml"))


@cache
def models() -> tuple[LanguageIdentifier, langmodel.CompactIdentifier]:
    return LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True), langmodel.load()


def same_walk(text: str | bytes) -> None:
    original, compact = models()
    encoded = original._encode(text)
    assert langmodel.visit_counts(
        compact.tk_nextmove, compact.escapes, compact._rowbase, compact.tk_output, encoded
    ) == visit_counts(original.tk_nextmove, original._rowbase, original.tk_output, encoded)
    assert compact.rank(text) == original.rank(text)


def test_the_table_is_16_bits_and_its_escapes_few() -> None:
    _, compact = models()
    assert compact.tk_nextmove.itemsize == 2
    assert 0 < len(compact.escapes) < len(compact.tk_nextmove) // 100
    assert all(state >= langmodel.ESCAPE for state in compact.escapes.values())


@pytest.mark.parametrize("path", SAMPLES, ids=lambda path: path.name)
def test_the_labelled_samples_walk_and_rank_as_py3langid(path) -> None:  # noqa: ANN001
    text = path.read_text(encoding="utf-8")
    for start in range(0, len(text), 500):
        same_walk(text[start : start + 1000])


def test_random_bytes_walk_as_py3langid() -> None:
    rnd = random.Random(17)
    for _ in range(20):
        same_walk(bytes(rnd.randrange(256) for _ in range(3000)))


@settings(max_examples=60, deadline=None)
@given(st.text(max_size=300))
def test_any_text_ranks_as_py3langid(text: str) -> None:
    same_walk(text)
