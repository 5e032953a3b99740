"""MinHash signatures, bit-identical to ``datasketch.MinHash(scheme="affine32")``.

Why not datasketch itself: ``import datasketch`` (even ``datasketch.minhash``)
runs the package's ``__init__``, which imports its LSH, HNSW and ensemble
modules and with them scipy — 47 MB of the pipeline's memory, against a
150 MB budget for a backfill (issue 6), for one class we use.  The part we use
is a few lines of numpy, written again here to the letter:

- permutations: ``np.random.RandomState(seed)``; ``a = randint(0, 2**31, n,
  uint32) * 2 + 1`` (odd, so ``h -> a*h + b mod 2**32`` is a bijection), then
  ``b = randint(0, 2**32, n, uint32)``;
- each item's 32-bit hash goes through the MurmurHash3 finalizer (``fmix32``),
  then every permutation; the signature is the per-permutation minimum, all
  in uint32 arithmetic that wraps (0xFFFFFFFF for an empty set).

Signatures are stored and compared with those of archived articles, so
``tests/test_minhash.py`` asserts equality with datasketch (kept in the test
extras for that) over many texts.  The permutations are made once per
(num_perm, seed), not for every article as ``MinHash.__init__`` does.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import lru_cache

import numpy as np

__all__ = ["signature"]

_EMPTY = np.uint32(0xFFFFFFFF)


@lru_cache(maxsize=8)
def _permutations(num_perm: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(a, b) of datasketch's affine32 scheme for ``num_perm`` and ``seed``."""
    gen = np.random.RandomState(seed)
    a = gen.randint(0, 1 << 31, num_perm, dtype=np.uint32) * np.uint32(2) + np.uint32(1)
    b = gen.randint(0, 1 << 32, num_perm, dtype=np.uint32)
    return a, b


def _fmix32(hv: np.ndarray) -> np.ndarray:
    """MurmurHash3's 32-bit finalizer (datasketch premixes every hash with it)."""
    hv = hv ^ (hv >> np.uint32(16))
    hv = hv * np.uint32(0x85EBCA6B)
    hv = hv ^ (hv >> np.uint32(13))
    hv = hv * np.uint32(0xC2B2AE35)
    return hv ^ (hv >> np.uint32(16))


def signature(
    items: Sequence[bytes], hash32: Callable[[bytes], bytes], *, num_perm: int, seed: int
) -> np.ndarray:
    """The uint32 MinHash values of ``items``; ``hash32`` gives each item's 4-byte
    little-endian hash (read as datasketch reads the int it is given)."""
    a, b = _permutations(num_perm, seed)
    if not items:
        return np.full(num_perm, _EMPTY, dtype=np.uint32)
    hv = np.frombuffer(b"".join(map(hash32, items)), dtype="<u4").astype(np.uint32)
    hv = _fmix32(hv).reshape(-1, 1)
    return np.asarray((hv * a + b).min(axis=0), dtype=np.uint32)
