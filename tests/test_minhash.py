"""``scraper.dedup.minhash`` gives datasketch's signatures to the bit (stored signatures and band keys of
archived articles must keep matching new ones), without importing datasketch (memory)."""

from __future__ import annotations

import hashlib
import random
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from datasketch import MinHash
from fixture_sites import expected_articles

from scraper.dedup import minhash
from scraper.dedup.syndication import (
    NUM_PERM,
    SCHEME,
    SEED,
    SIGNATURE_DTYPE,
    ClusterKey,
    _hash32,
    shingles,
)


def _int_hash(data: bytes) -> int:
    return int.from_bytes(_hash32(data), "little")


def datasketch_signature(items: list[bytes], *, num_perm: int = NUM_PERM, seed: int = SEED) -> np.ndarray:
    mh = MinHash(num_perm=num_perm, seed=seed, hashfunc=_int_hash, scheme=SCHEME)
    mh.update_batch(items)
    return mh.hashvalues


def _texts() -> list[str]:
    rng = random.Random(6)
    bodies = [a["body_contains"] for site in ("qdnd", "bienphong", "qk7") for a in expected_articles(site)]
    words = " ".join(" ".join(b) if isinstance(b, list) else str(b) for b in bodies).split()
    texts = [" ".join(b) if isinstance(b, list) else str(b) for b in bodies]
    for _ in range(300):
        texts.append(" ".join(rng.choices(words, k=rng.randint(1, 1200))))
    return texts


def test_signatures_equal_datasketch_on_many_texts() -> None:
    texts = _texts()
    assert len(texts) > 300
    for text in texts:
        items = sorted(shingles(text))
        ours = minhash.signature(items, _hash32, num_perm=NUM_PERM, seed=SEED)
        theirs = datasketch_signature(items)
        assert ours.dtype == np.uint32 and theirs.dtype == np.uint32
        assert np.array_equal(ours, theirs), text[:80]


@pytest.mark.parametrize(("num_perm", "seed"), [(1, 0), (16, 1), (128, 42), (256, 7)])
def test_other_sizes_and_seeds(num_perm: int, seed: int) -> None:
    rng = random.Random(seed)
    for _ in range(20):
        items = [rng.randbytes(rng.randint(0, 40)) for _ in range(rng.randint(1, 500))]
        assert np.array_equal(
            minhash.signature(items, _hash32, num_perm=num_perm, seed=seed),
            datasketch_signature(items, num_perm=num_perm, seed=seed),
        )


def test_pinned_permutations_are_the_generated_ones() -> None:
    for (num_perm, seed) in minhash._PINNED:
        pinned = minhash._permutations(num_perm, seed)
        generated = minhash._generated(num_perm, seed)
        assert all(np.array_equal(p, g) and p.dtype == g.dtype == np.uint32 for p, g in zip(pinned, generated, strict=True))
    assert (NUM_PERM, SEED) in minhash._PINNED


def test_empty_set_is_all_ones() -> None:
    assert np.array_equal(minhash.signature([], _hash32, num_perm=NUM_PERM, seed=SEED), datasketch_signature([]))


def test_cluster_key_signature_and_bands_equal_datasketch() -> None:
    for text in _texts()[:60]:
        found = shingles(text)
        key = ClusterKey(found)
        theirs = datasketch_signature(sorted(found)).astype(SIGNATURE_DTYPE).tobytes()
        assert key.signature == theirs
        width = 5 * 4
        bands = tuple(
            int.from_bytes(hashlib.blake2b(bytes([band]) + theirs[band * width : (band + 1) * width], digest_size=8).digest(),
                           "little", signed=True)
            for band in range(20)
        )
        assert key.bands == bands


def test_clustering_imports_neither_datasketch_nor_scipy_nor_numpy_random() -> None:
    code = (
        "import sys; from scraper.dedup.syndication import ClusterKey, shingles;"
        "ClusterKey(shingles(' '.join(str(i) for i in range(100)))).bands;"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('datasketch', 'scipy') or m == 'numpy.random'))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=Path(__file__).resolve().parent.parent)
    assert out.stdout.strip() == "[]"
