"""Near-duplicate articles: MinHash signatures of word shingles, LSH bands in the SQL store.

1. `signature(text)`: the MinHash of datasketch's affine32 scheme (128 permutations:
   each 32-bit shingle hash mixed by the MurmurHash3 finalizer, then h -> a*h + b mod
   2^32 with datasketch's seeded a and b; computed here with numpy alone, bit for bit
   the same, without importing datasketch and scipy: 0.5 s and 44 MB a process) of the
   set of 3-word shingles of the text's `tokenize` norms, so case, accents, punctuation
   and spacing never matter. Three words, not five: a copy with 3% of its words edited
   still has Jaccard >= 0.8 (five words: only up to ~2%), while unrelated articles stay
   far below (99.9th percentile 0.03; bench/RESULTS.md, "Shingle size"). A text shorter
   than three words is one shingle, a near-duplicate of the same words only; a text
   without words has an empty signature, neither indexed nor matched.
2. `band_keys(sig, lsh)`: the signature cut into `lsh.bands` bands of `lsh.rows` values,
   each hashed with its position and the layout to a signed 64-bit key. The layout is
   `lsh_params(threshold)` for the near-duplicate threshold in use.
   Two articles with Jaccard similarity `j` share a band with probability
   1 - (1 - j**rows)**bands (`LshParams.probability`).
3. The store keeps each signature (512 bytes) and its band keys, and lists the articles
   sharing a band with a signature (one index range scan per band);
   `near_duplicates(candidates, sig, threshold)` keeps those whose stored signature agrees
   on at least `threshold` of its values (the Jaccard estimate), best first.

Signatures and band keys are persisted: changing the shingle size, the seed or the word
hash means rebuilding the index. Changing the threshold changes the banding: articles
indexed before are not found by lookups under the new one (they age out of the story
window); the old band rows stay until the index is rebuilt.
"""

from __future__ import annotations

import hashlib
import struct
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cache, cached_property, lru_cache
from typing import NamedTuple

import numpy as np
import numpy.typing as npt

from monitors.text import words

NUM_PERM = 128
SHINGLE_WORDS = 3
SEED = 1
MAX_MISS = 0.01

BLOCK = 2048  # shingles permuted at once (128 x 2048 values: 1 MiB, kept by each thread)
_SCRATCH = threading.local()
_SIG_DTYPE = np.dtype("<u4")
_UNSET = np.uint32(0xFFFFFFFF)
_FMIX32 = tuple(np.uint32(c) for c in (16, 0x85EBCA6B, 13, 0xC2B2AE35, 16))


@dataclass(frozen=True, eq=False)
class Signature:
    """A MinHash signature: one 32-bit minimum per permutation."""

    values: npt.NDArray[np.uint32]
    _bands: dict[LshParams, list[int]] = field(default_factory=dict, repr=False)

    @cached_property
    def empty(self) -> bool:
        """Whether the text had no words (every minimum is still the maximum)."""
        return bool(self.values.min(initial=_UNSET) == _UNSET)

    def jaccard(self, other: Signature) -> float:
        """The estimated Jaccard similarity of the two shingle sets (0 if either is empty)."""
        if len(self.values) != len(other.values):
            raise ValueError("signatures of different sizes cannot be compared")
        if self.empty or other.empty:
            return 0.0
        return float(np.count_nonzero(self.values == other.values)) / len(self.values)

    def bands(self, lsh: LshParams) -> list[int]:
        """`band_keys(self, lsh)`, computed once per layout."""
        keys = self._bands.get(lsh)
        if keys is None:
            keys = self._bands[lsh] = band_keys(self, lsh)
        return keys

    def to_bytes(self) -> bytes:
        return self.values.astype(_SIG_DTYPE).tobytes()

    @classmethod
    def from_bytes(cls, data: bytes) -> Signature:
        return cls(np.frombuffer(data, dtype=_SIG_DTYPE).astype(np.uint32))


class NearDuplicate(NamedTuple):
    """A stored article and the estimated Jaccard similarity of its text."""

    article_id: int
    jaccard: float


@dataclass(frozen=True)
class LshParams:
    """A banding of signatures: `bands` bands of `rows` values each."""

    bands: int
    rows: int

    def probability(self, jaccard: float) -> float:
        """The chance that two texts with this Jaccard similarity share a band."""
        return float(1.0 - (1.0 - jaccard**self.rows) ** self.bands)


@cache
def lsh_params(threshold: float, num_perm: int = NUM_PERM) -> LshParams:
    """The most selective banding that misses a pair at `threshold` at most MAX_MISS of the time.

    The widest bands (most rows) that fit in `num_perm`, and the fewest of them that reach
    the target: fewer band rows to store and look up, fewer dissimilar candidates.
    """
    if not 0.0 < threshold < 1.0:
        raise ValueError(f"threshold must be between 0 and 1, not {threshold}")
    for rows in range(num_perm, 0, -1):
        needed = int(np.ceil(np.log(MAX_MISS) / np.log1p(-(threshold**rows))))
        if needed * rows <= num_perm:
            return LshParams(bands=needed, rows=rows)
    return LshParams(bands=num_perm, rows=1)


def signature(text: str, num_perm: int = NUM_PERM) -> Signature:
    """The MinHash signature of the word shingles of `text`."""
    return signature_of_words(words(text), num_perm)


def signature_of_words(
    words: Sequence[str], num_perm: int = NUM_PERM, k: int = SHINGLE_WORDS
) -> Signature:
    """The MinHash signature of the `k`-word shingles of already normalized words."""
    hashes = shingle_hashes(words, k)  # a repeated shingle moves no minimum: kept
    if not len(hashes):
        return Signature(np.full(num_perm, _UNSET, dtype=np.uint32))
    a, b = _permutations(num_perm)
    mixed = _fmix32(hashes)
    values = np.full(num_perm, _UNSET, dtype=np.uint32)
    for start in range(0, len(mixed), BLOCK):
        part = mixed[start : start + BLOCK]
        permuted = _scratch(num_perm)[:, : len(part)]  # a row a permutation, in place
        np.multiply.outer(a, part, out=permuted)
        permuted += b[:, np.newaxis]
        np.minimum(values, permuted.min(axis=1), out=values)
    return Signature(values)


def _scratch(num_perm: int) -> npt.NDArray[np.uint32]:
    """This thread's array of `num_perm` rows of BLOCK values, kept between signatures:
    one of a long text's size would be mapped and unmapped at each (the allocator hands
    blocks of 128 KiB and more straight back: monitors.pipeline.memory)."""
    found: npt.NDArray[np.uint32] | None = getattr(_SCRATCH, "array", None)
    if found is None or len(found) != num_perm:
        found = _SCRATCH.array = np.empty((num_perm, BLOCK), dtype=np.uint32)
    return found


def _fmix32(hashes: npt.NDArray[np.uint32]) -> npt.NDArray[np.uint32]:
    """The MurmurHash3 finalizer of each 32-bit hash (a bijection; uint32 arrays wrap)."""
    s1, m1, s2, m2, s3 = _FMIX32
    hashes = (hashes ^ (hashes >> s1)) * m1
    hashes = (hashes ^ (hashes >> s2)) * m2
    return hashes ^ (hashes >> s3)


def shingle_hashes(words: Sequence[str], k: int = SHINGLE_WORDS) -> npt.NDArray[np.uint32]:
    """A 32-bit hash per run of `k` consecutive words (one run when there are fewer).

    Each word hashes once (BLAKE2b, stable across processes); a shingle's hash is the top
    half of an order-sensitive sum of its words' hashes times odd 64-bit constants.
    """
    if not words:
        return np.empty(0, dtype=np.uint32)
    hashes = np.fromiter(map(_word_hash, words), dtype=np.uint64, count=len(words))
    width = min(k, len(words))
    count = len(words) - width + 1
    acc = np.zeros(count, dtype=np.uint64)
    for j, constant in enumerate(_mixers(width)):
        acc += hashes[j : j + count] * constant
    return (acc >> np.uint64(32)).astype(np.uint32)


def band_keys(sig: Signature, lsh: LshParams) -> list[int]:
    """A signed 64-bit key per band of `sig` (none for an empty signature)."""
    if len(sig.values) != NUM_PERM:
        raise ValueError(f"the index takes signatures of {NUM_PERM} values")
    if sig.empty:
        return []
    data = sig.to_bytes()
    size = lsh.rows * _SIG_DTYPE.itemsize
    return [
        int.from_bytes(
            hashlib.blake2b(salt + data[band * size : (band + 1) * size], digest_size=8).digest(),
            "little",
            signed=True,
        )
        for band, salt in enumerate(_band_salts(lsh))
    ]


def near_duplicates(
    candidates: Sequence[tuple[int, bytes]], sig: Signature, threshold: float
) -> list[NearDuplicate]:
    """The `candidates` (article id, stored signature) whose estimated Jaccard similarity
    to `sig` is at least `threshold`: best first, then oldest id first."""
    found = [
        NearDuplicate(article_id, score)
        for article_id, stored in candidates
        if (score := sig.jaccard(Signature.from_bytes(stored))) >= threshold
    ]
    return sorted(found, key=lambda d: (-d.jaccard, d.article_id))


@cache
def _band_salts(lsh: LshParams) -> tuple[bytes, ...]:
    return tuple(struct.pack("<HHH", band, lsh.rows, NUM_PERM) for band in range(lsh.bands))


@cache
def _permutations(num_perm: int) -> tuple[npt.NDArray[np.uint32], npt.NDArray[np.uint32]]:
    """The affine permutations (a odd, b) drawn as datasketch's affine32 scheme draws them
    from SEED, once per size."""
    gen = np.random.RandomState(SEED)
    a = gen.randint(0, 1 << 31, num_perm, dtype=np.uint32) * np.uint32(2) + np.uint32(1)
    b = gen.randint(0, 1 << 32, num_perm, dtype=np.uint32)
    return a, b


@cache
def _mixers(width: int) -> npt.NDArray[np.uint64]:
    """`width` fixed odd 64-bit multipliers, one per position in a shingle."""
    digests = (hashlib.blake2b(b"shingle-%d" % j, digest_size=8).digest() for j in range(width))
    return np.array([int.from_bytes(d, "little") | 1 for d in digests], dtype=np.uint64)


@lru_cache(maxsize=1 << 16)
def _word_hash(word: str) -> int:
    return int.from_bytes(hashlib.blake2b(word.encode("utf-8"), digest_size=8).digest(), "little")
