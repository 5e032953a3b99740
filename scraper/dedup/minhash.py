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

__all__ = ["signature", "signature_of_hashes"]

_EMPTY = np.uint32(0xFFFFFFFF)


# (a, b) for num_perm=100, seed=1 (what scraper.dedup.syndication uses), as ``_permutations`` makes
# them: importing numpy.random costs an extraction worker 7 MB more (tests/test_minhash.py checks)
_PINNED = {
    (100, 1): bytes.fromhex(
        "4be883d5d7018ffe195fce70912878ddfffd0e00138799419755cb9a0b3d82ff9f96234b81a7e078"
        "2101472f03a10ccb997f5d5f8f3c9cc6db55edb0f9f3e8560d1b25cb33fafede65c9df1329aa4fb1"
        "fda9a0d6cb6265a02517d55ea993910c17f7ad68f9410ce3d59b98c139258b753bbf050e1db39e11"
        "6584475789d4f2d3aff9a8d5afbf16ead3970c1ee38584dcefcbe047bd5bd5e0c18e6d65ad08898e"
        "1b31fb99d3af936e13fbbfef0f08039b7f2279a07b96832f2d1c7862734a4b090314b6c001efe3ba"
        "79e209caa3f185a811ea8a2bb1c5c1a81bfdfe13e734cd8b5f03f456d51f551ef3e49bc191734f57"
        "3d845a328f48a62f076b9bd78d0be3572b7f70ea63dcd5d2730afb100764256589b73d6231564a94"
        "e3438ba157f8c348990c7d5f35980e91690e54aba14a38d3db145d09e7e67e1153ea1280a5db803f"
        "1f004cfa81d83e5289910f7f3360d498df5a968fc5bd6be4af6b1c940f4fba71350ada3433fd8f25"
        "d14c52e52d0840f0136e33d1877d3d31cf975496fd8886ce2f4a5793fbda2d3dc91a93423781b20c"
        "a53bf50439516815532ac8ada66cb7ea88422d36202513e9a2ddfa430aaf864c17bdd77d8f869a95"
        "ef2aa90d579cdf90195ff992c70f2b9df30090255c85dff44abadc96be84cf422e5d23b3a0d3233b"
        "d896321a97149088b792ff6941252ff37135c4b14d27397e03a7076a80cb648af8bfc90cfdd4f6c3"
        "cd81308906c79b0b3472eea9d5d1d423c6c5cf8302f6daca4cf6d0f1db0fa10795782896cb8214e2"
        "075945e74d18718ac88a31234bd4ae724c9da7232b0463e41432b1ce1e5ea9602426ce656733d689"
        "07a7542a2d0ffda6c43371ed399a7b5cf02e0759fc9d2d92d23835c0604049a30d01dbb90a2c5620"
        "175920e27c3fb1b051fba89f87e7d2a579c33dc098c09b5aca665159dc3d63c394fe1945a0a9455b"
        "8ccc58e5c1bcb6c05e62976d3c9e9fe1e9c1fff698c0fc02524dd7a97313847f6173279f8208e412"
        "ecfd5f1ddca675c967ba11f362b766100a712d73b69ef55a60571194e9391cf152a77b68d6c93a61"
        "c6ccad3cc2ba4ec347e143e7e73f87c5b0a8dc9236f6254d0f1cbc00853bd2c59135fd9daa682627"
    ),
}


@lru_cache(maxsize=8)
def _permutations(num_perm: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(a, b) of datasketch's affine32 scheme for ``num_perm`` and ``seed``."""
    pinned = _PINNED.get((num_perm, seed))
    if pinned is not None:
        values = np.frombuffer(pinned, dtype="<u4").astype(np.uint32)
        return values[:num_perm], values[num_perm:]
    return _generated(num_perm, seed)


def _generated(num_perm: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
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
    return signature_of_hashes(b"".join(map(hash32, items)), num_perm=num_perm, seed=seed)


def signature_of_hashes(hashes: bytes, *, num_perm: int, seed: int) -> np.ndarray:
    """``signature`` from the items' 4-byte little-endian hashes, concatenated (the caller may
    make them faster than one ``hash32`` call per item)."""
    a, b = _permutations(num_perm, seed)
    if not hashes:
        return np.full(num_perm, _EMPTY, dtype=np.uint32)
    hv = np.frombuffer(hashes, dtype="<u4").astype(np.uint32)
    hv = _fmix32(hv).reshape(-1, 1)
    return np.asarray((hv * a + b).min(axis=0), dtype=np.uint32)
