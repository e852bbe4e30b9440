"""The compact language model's cache: written by the first load, read by the next, the
same model either way; a cache that cannot be read or written is built around."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest

from monitors.extract import langmodel

TEXTS = [
    "Ukraine's president said on Monday that Kyiv would not withdraw its troops from Donbas.",
    "Президент України заявив, що Київ не виведе війська з Донбасу, відкинувши вимогу Кремля.",
    "Президент Украины заявил, что Киев не выведет войска из Донбасса, отвергнув требование.",
    "Der ukrainische Präsident sagte am Montag, Kiew werde seine Truppen nicht abziehen.",
    "gas prices",
    "",
]


@pytest.fixture(scope="module")
def fresh(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[langmodel.CompactIdentifier, Path]]:
    """The model built from py3langid's file (into an empty cache), and its cache file."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("NEWSMON_CACHE_DIR", str(tmp_path_factory.mktemp("fresh")))
        model, path = langmodel.load(), langmodel.cache_path()
    assert path is not None and path.is_file()
    yield model, path
    path.unlink()  # 49 MB: pytest keeps the last runs' directories


@pytest.fixture
def built(fresh: tuple[langmodel.CompactIdentifier, Path]) -> langmodel.CompactIdentifier:
    return fresh[0]


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A cache directory of this test's own, not made yet (removed after the test)."""
    monkeypatch.setenv("NEWSMON_CACHE_DIR", str(tmp_path / "cache"))
    yield tmp_path / "cache"
    shutil.rmtree(tmp_path / "cache", ignore_errors=True)


def assert_same(model: langmodel.CompactIdentifier, built: langmodel.CompactIdentifier) -> None:
    assert model.tk_nextmove == built.tk_nextmove
    assert model.escapes == built.escapes
    assert model.tk_row == built.tk_row and model.tk_output == built.tk_output
    assert np.array_equal(model.nb_ptc, built.nb_ptc) and model.nb_ptc.dtype == np.float16
    assert np.array_equal(model.nb_pc, built.nb_pc) and model.nb_classes == built.nb_classes
    for text in TEXTS:
        assert model.rank(text) == built.rank(text)
    assert model.classify(TEXTS[1])[0] == "uk" and model.classify(TEXTS[2])[0] == "ru"


def test_a_cold_load_writes_the_cache_and_a_warm_one_reads_it(
    cache: Path, built: langmodel.CompactIdentifier, monkeypatch: pytest.MonkeyPatch
) -> None:
    cold = langmodel.load()
    path = langmodel.cache_path()
    assert path is not None and path.parent == cache and path.is_file()
    assert [p.name for p in cache.iterdir()] == [path.name]  # no temporary file left
    assert_same(cold, built)
    monkeypatch.setattr(langmodel.lzma, "open", pytest.fail)  # a warm load unpacks nothing
    warm = langmodel.load()
    assert_same(warm, built)
    assert isinstance(warm.tk_nextmove, type(built.tk_nextmove))
    assert warm.tk_nextmove.typecode == warm.tk_row.typecode == "H"


def _truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def _garble(path: Path) -> None:
    with open(path, "r+b") as cached:
        cached.seek(0)
        cached.write(b"\0" * 4096)


def _wrong_arrays(path: Path) -> None:
    with open(path, "wb") as cached:
        for _ in langmodel.Compact._fields:
            np.save(cached, np.arange(300, dtype=np.uint16))


def _bad_escape(path: Path) -> None:
    """Arrays of the right types and shapes, one escape pointing past the states."""
    compact = langmodel._read_cache(path)
    assert compact is not None
    compact.escape_to[0] = len(compact.out_feat)
    path.unlink()
    langmodel._write_cache(path, compact)


def _lying_header(path: Path) -> None:
    """A table whose header claims 10**10 numbers (20 GB): refused before any is made."""
    with open(path, "wb") as cached:
        np.save(cached, np.zeros((300, 2), dtype=np.float16))
        np.save(cached, np.zeros(2, dtype=np.float32))
        np.save(cached, np.array(["en", "uk"]))
        header = {"descr": "<u2", "fortran_order": False, "shape": (10**10,)}
        np.lib.format.write_array_header_1_0(cached, header)
        cached.write(b"\0" * 1000)


def _longer(path: Path) -> None:
    with open(path, "ab") as cached:
        cached.write(b"more")


@pytest.mark.parametrize(
    "spoil",
    [
        _truncate,
        _garble,
        _wrong_arrays,
        _bad_escape,
        _lying_header,
        _longer,
        lambda path: path.write_bytes(b""),
    ],
    ids=["truncated", "garbled", "wrong arrays", "bad escape", "lying header", "longer", "empty"],
)
def test_an_unsound_cache_is_built_again_and_replaced(
    cache: Path,
    built: langmodel.CompactIdentifier,
    monkeypatch: pytest.MonkeyPatch,
    spoil: Callable[[Path], None],
    fresh: tuple[langmodel.CompactIdentifier, Path],
) -> None:
    path = langmodel.cache_path()
    assert path is not None
    cache.mkdir()
    shutil.copy(fresh[1], path)
    spoil(path)
    assert langmodel._read_cache(path) is None
    assert_same(langmodel.load(), built)
    monkeypatch.setattr(langmodel.lzma, "open", pytest.fail)  # written anew: read next time
    assert_same(langmodel.load(), built)


def test_a_directory_that_cannot_be_made_is_built_around(
    tmp_path: Path, built: langmodel.CompactIdentifier, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "a-file").touch()
    monkeypatch.setenv("NEWSMON_CACHE_DIR", str(tmp_path / "a-file" / "cache"))
    assert_same(langmodel.load(), built)


def test_a_read_only_directory_is_built_around_and_left_clean(
    cache: Path, built: langmodel.CompactIdentifier, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache.mkdir()
    cache.chmod(0o555)

    def refuse(*args: object, **kwargs: object) -> None:  # as for any user but root
        raise PermissionError(13, "Permission denied", str(cache))

    monkeypatch.setattr(langmodel.tempfile, "mkstemp", refuse)
    try:
        assert_same(langmodel.load(), built)
        assert list(cache.iterdir()) == []
    finally:
        cache.chmod(0o755)


def test_a_write_that_fails_midway_leaves_no_file(
    cache: Path, built: langmodel.CompactIdentifier, monkeypatch: pytest.MonkeyPatch
) -> None:
    saved: list[np.ndarray] = []

    def fail_on_the_table(stream: object, value: np.ndarray, allow_pickle: bool) -> None:
        if len(saved) == langmodel.Compact._fields.index("table"):
            raise OSError(28, "No space left on device")
        saved.append(value)
        np.lib.format.write_array(stream, value, allow_pickle=allow_pickle)

    monkeypatch.setattr(langmodel.np, "save", fail_on_the_table)
    assert_same(langmodel.load(), built)
    assert list(cache.iterdir()) == []


def test_the_cache_is_where_the_environment_says(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NEWSMON_CACHE_DIR", "/srv/cache")
    monkeypatch.setenv("XDG_CACHE_HOME", "/xdg")
    monkeypatch.setenv("HOME", "/home/desk")
    path = langmodel.cache_path()
    assert path is not None and path.parent == Path("/srv/cache")
    assert path.name.startswith(f"langid-{langmodel.FORMAT}-") and path.suffix == ".npy"
    monkeypatch.delenv("NEWSMON_CACHE_DIR")
    assert langmodel.cache_path() == Path("/xdg/newsmon") / path.name
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert langmodel.cache_path() == Path("/home/desk/.cache/newsmon") / path.name
    monkeypatch.setattr(langmodel, "FORMAT", langmodel.FORMAT + 1)
    assert langmodel.cache_path() != Path("/home/desk/.cache/newsmon") / path.name


def test_the_test_session_keeps_its_cache_out_of_the_home(cache_dir: Path) -> None:
    assert os.environ["NEWSMON_CACHE_DIR"] == str(cache_dir)
    assert langmodel.cache_path().parent == cache_dir  # type: ignore[union-attr]
