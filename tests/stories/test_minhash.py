"""Near-duplicate detection: signatures, LSH bands and the SQL index on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest

from monitors.config import StoriesConfig
from monitors.store import Store, Tx
from monitors.stories import minhash
from monitors.stories.minhash import (
    NearDuplicate,
    Signature,
    band_keys,
    lsh_params,
    near_duplicates,
    signature,
)

THRESHOLD = StoriesConfig().near_duplicate
LSH = lsh_params(THRESHOLD)

WIRE = (
    "KYIV, Nov 25 (Reuters) - Ukrainian President Volodymyr Zelenskyy will meet U.S. special "
    "envoy Steve Witkoff in Geneva on Thursday to discuss security guarantees for Ukraine, his "
    "office said on Tuesday. The talks will focus on the 28-point peace plan drafted in "
    "Washington, which European officials say must be changed before Kyiv can accept it. "
    "Zelenskyy said Ukraine would not give up territory in the Donbas region that Russian "
    'forces have failed to capture in more than three years of war. "We need guarantees '
    'that work, not promises on paper," he told reporters in Kyiv after meeting the heads '
    "of the parliamentary factions. Andriy Yermak, the head of the presidential office, "
    "will lead the delegation, which also includes the defence minister and the chief of "
    "the general staff. A senior European diplomat said the meeting in Geneva would test "
    "whether Washington was ready to listen to Kyiv's objections to the draft."
)
UNRELATED = (
    "Shares of the carmaker fell 4% on Tuesday after it cut its full-year sales forecast, "
    "blaming weaker demand in China and the cost of new tariffs on parts imported from "
    "Mexico. The company said it now expects revenue of about $41 billion this year, down "
    "from an earlier forecast of $44 billion, and will delay the launch of two electric "
    "models until 2027. Analysts at two brokerages lowered their price targets, saying the "
    "guidance implied a sharp slowdown in the fourth quarter. The chief executive told "
    "investors on a call that the company would keep investing in its battery plant in "
    "Tennessee and expected margins to recover next year as new models reach dealers."
)


def republished(text: str) -> str:
    """The same story on another site: other page chrome around the same words."""
    return f"Advertisement\n{text}\nShare this article. Sign up for our morning newsletter."


def edited(text: str) -> str:
    """A lightly copy-edited version: three words changed, one sentence trimmed."""
    return (
        text.replace("will meet", "is due to meet")
        .replace("told reporters", "said")
        .replace(" A senior European diplomat said", " A European diplomat said")
    )


@pytest.fixture
def tx(store: Store) -> Iterator[Tx]:
    with store.transaction() as unit:
        yield unit


def add(tx: Tx, article_id: int, sig: Signature) -> None:
    """Index a signature as story placement does (an empty one is not indexed)."""
    if keys := sig.bands(LSH):
        tx.add_signature(article_id, sig.to_bytes(), keys)


def near(tx: Tx, sig: Signature, threshold: float = THRESHOLD) -> list[NearDuplicate]:
    """The indexed articles near `sig`, as story placement finds them."""
    keys = sig.bands(LSH)
    return near_duplicates(tx.signature_candidates(keys) if keys else [], sig, threshold)


def test_signature_ignores_case_punctuation_and_spacing() -> None:
    a = signature("The quick brown fox jumps over the lazy dog.")
    b = signature("the  QUICK brown fox -- jumps over the lazy dog")
    assert a.jaccard(b) == 1.0
    assert a.to_bytes() == b.to_bytes()
    assert len(a.to_bytes()) == 4 * minhash.NUM_PERM


def test_signature_round_trips_through_bytes() -> None:
    sig = signature(WIRE)
    assert Signature.from_bytes(sig.to_bytes()).jaccard(sig) == 1.0


def test_similar_texts_estimate_high_jaccard_and_unrelated_low() -> None:
    sig = signature(WIRE)
    assert sig.jaccard(signature(republished(WIRE))) >= 0.85
    assert sig.jaccard(signature(edited(WIRE))) >= 0.8
    assert sig.jaccard(signature(UNRELATED)) < 0.1


def test_empty_and_short_texts() -> None:
    empty = signature("  -- ")
    assert empty.empty and band_keys(empty, LSH) == []
    assert empty.jaccard(empty) == 0.0
    assert signature("Breaking news").jaccard(signature("breaking NEWS!")) == 1.0
    assert signature("Breaking news").jaccard(signature("Breaking story")) == 0.0


def test_band_keys_fit_a_signed_bigint() -> None:
    keys = band_keys(signature(WIRE), LSH)
    assert len(keys) == LSH.bands
    assert all(-(2**63) <= k < 2**63 for k in keys)
    assert band_keys(signature(WIRE), LSH) == keys


def test_banding_finds_pairs_at_the_threshold() -> None:
    assert LSH.bands * LSH.rows <= minhash.NUM_PERM
    assert LSH.probability(THRESHOLD) >= 1 - minhash.MAX_MISS
    assert LSH.probability(0.3) < 0.05
    assert lsh_params(0.9).rows > lsh_params(0.7).rows


def test_index_finds_copies_and_not_unrelated(tx: Tx) -> None:
    add(tx, 1, signature(WIRE))
    add(tx, 2, signature(UNRELATED))
    verbatim = near(tx, signature(republished(WIRE)))
    assert [d.article_id for d in verbatim] == [1]
    assert verbatim[0].jaccard >= 0.85
    assert [d.article_id for d in near(tx, signature(edited(WIRE)))] == [1]
    other = UNRELATED.replace("Tennessee", "Ohio") + " The shares recovered later."
    assert [d.article_id for d in near(tx, signature(other))] == [2]
    fresh = signature("Heavy snow closed schools across the region on Monday, officials said.")
    assert near(tx, fresh) == []


def test_index_orders_best_first_and_adding_again_changes_nothing(tx: Tx) -> None:
    add(tx, 10, signature(edited(WIRE)))
    add(tx, 11, signature(WIRE))
    add(tx, 11, signature(WIRE))
    found = near(tx, signature(WIRE))
    assert [d.article_id for d in found] == [11, 10]
    assert found[0].jaccard == 1.0 > found[1].jaccard
    assert near(tx, signature(WIRE), threshold=0.99) == found[:1]


def test_empty_text_is_not_indexed(tx: Tx) -> None:
    add(tx, 5, signature(""))
    add(tx, 6, signature(""))
    assert near(tx, signature("")) == []


@pytest.mark.parametrize("count", [0, 1, 2, 3, 50, 2000])
def test_signatures_are_datasketchs_affine32_minhash_bit_for_bit(count: int) -> None:
    datasketch = pytest.importorskip("datasketch")
    vocabulary = [f"w{n}" for n in range(300)]
    text = [vocabulary[(n * 7919) % 300] for n in range(count)]
    reference = datasketch.MinHash(
        num_perm=minhash.NUM_PERM, seed=minhash.SEED, hashfunc=int, scheme="affine32"
    )
    reference.update_batch(minhash.shingle_hashes(text).tolist())
    ours = minhash.signature_of_words(text).values
    assert ours.dtype == np.uint32
    assert ours.tolist() == reference.hashvalues.tolist()
