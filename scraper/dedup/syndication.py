"""Syndicated copies: the same story republished by several sites, found by near-duplicate text.

Regional sites republish stories of qdnd.vn and of the news agency (TTXVN) with
their own lead, byline, photo captions and boilerplate, so exact hashes miss
them.  ``cluster_key(article)`` describes an article's body for the store,
which files it among near-duplicates (``storage._clusters``) in the same
transaction as the upsert:

- text: the NFC body text, case-folded, split into words (letters and digits);
- shingles: every run of ``SHINGLE_WORDS`` consecutive words; a body with fewer
  than ``MIN_SHINGLES`` of them is too short to tell a copy from a template
  and gets no key (it is never clustered);
- MinHash (``scraper.dedup.minhash``, datasketch's affine32 scheme to the bit) with
  ``NUM_PERM`` permutations: the share of equal signature values estimates the
  Jaccard similarity of two shingle sets;
- LSH: the signature is cut into ``BANDS`` bands of ``ROWS`` values; each
  band hashes to a 64-bit key stored in ``article_bands``.  Articles sharing a
  key are candidates: with 20 x 5, a pair at Jaccard 0.7 shares a band with
  probability 0.975, at 0.8 with 0.9996, at 0.3 with 0.05.  Lookup is by key,
  so the cost of a new article does not grow with the archive;
- a candidate is a copy when the estimated Jaccard is at least ``THRESHOLD``.

A cluster's id is the id of its earliest article (by published time, else
first seen); the combined feed shows that one, with the others as "also
published by" links.

Why datasketch's MinHash and what is pinned: vectorized (numpy), about 5 ms
for a 1,000-word article where pure Python takes 40 ms, and this runs on the
event loop for every new article.  The signatures are datasketch's
(``scheme="affine32"``), computed by ``scraper.dedup.minhash``, a copy of those few
lines that does not import the library: its package imports scipy (47 MB of
a backfill's 150 MB budget).  Band keys and signatures are stored, so
whatever they depend on is fixed here rather than left to library defaults
(datasketch 2.0 changed its default scheme): the scheme, the seed, the number
of permutations and the shingle hash (BLAKE2b, not the library's default).
``tests/test_syndication.py`` pins a signature and ``tests/test_minhash.py``
compares with datasketch itself (a test dependency), so a change that would
silently split old copies from new ones fails loudly.  Datasketch's LSH index
lives in memory or Redis; ours lives in the database.
"""

from __future__ import annotations

import hashlib
import operator
import re
import unicodedata
from collections.abc import Callable, Iterable
from functools import cached_property, partial
from operator import methodcaller
from typing import Any

from scraper.models import Article

__all__ = [
    "BANDS",
    "NUM_PERM",
    "ROWS",
    "THRESHOLD",
    "ClusterKey",
    "cluster_key",
    "estimated_jaccard",
    "index_archive",
    "shingles",
]

SHINGLE_WORDS = 5
MIN_SHINGLES = 30
BANDS = 20
ROWS = 5
NUM_PERM = BANDS * ROWS
THRESHOLD = 0.7
SEED = 1
SCHEME = "affine32"
SIGNATURE_DTYPE = "<u4"  # how a signature is stored: NUM_PERM little-endian uint32
INDEX_BATCH = 100  # articles read at a time by index_archive

_WORD = re.compile(r"[^\W_]+")


def words(text: str) -> list[str]:
    """The words of ``text``: NFC, case-folded, letters and digits only."""
    return _WORD.findall(unicodedata.normalize("NFC", text).casefold())


def shingles(text: str) -> set[bytes]:
    """The distinct runs of ``SHINGLE_WORDS`` consecutive words (UTF-8, space-joined)."""
    ws = words(text)
    # zip of the shifted word lists gives every run as a tuple (none when there are fewer words);
    # map keeps the joining and encoding out of a Python-level loop (it runs on every article)
    runs = zip(*(ws[k:] for k in range(SHINGLE_WORDS)), strict=False)  # the shorter lists end it
    return set(map(str.encode, map(" ".join, runs)))


def _hash32(data: bytes) -> bytes:
    """The shingle hash: BLAKE2b, 4 bytes, read little-endian."""
    return hashlib.blake2b(data, digest_size=4).digest()


def _hash32_all(items: Iterable[bytes]) -> bytes:
    """``_hash32`` of every item, concatenated: the same bytes, without a Python call per item."""
    return b"".join(map(_DIGEST, map(_BLAKE2B_4, items)))


_BLAKE2B_4 = partial(hashlib.blake2b, digest_size=4)
_DIGEST = methodcaller("digest")


def estimated_jaccard(a: bytes, b: bytes) -> float:
    """The share of equal values of two stored signatures (no numpy: the process that stores
    articles need not load it when the signatures are made in extraction workers)."""
    if len(a) != len(b) or not a:
        return 0.0
    same = sum(map(operator.eq, memoryview(a).cast("I"), memoryview(b).cast("I")))  # 4-byte values
    return same / (len(a) // 4)


class ClusterKey:
    """An article's signature and band keys (``storage.base.ClusterKey``), computed on first use,
    so an upsert that turns out "unchanged" costs nothing."""

    def __init__(self, shingle_set: set[bytes], threshold: float = THRESHOLD) -> None:
        self._shingles = list(shingle_set)  # any order: a MinHash is a minimum over them all
        self.size = len(self._shingles)
        self.threshold = threshold

    @cached_property
    def signature(self) -> bytes:
        from scraper.dedup import minhash  # imported on first use: it pulls in numpy

        values = minhash.signature_of_hashes(_hash32_all(self._shingles), num_perm=NUM_PERM, seed=SEED)
        return bytes(values.astype(SIGNATURE_DTYPE).tobytes())

    @cached_property
    def bands(self) -> tuple[int, ...]:
        sig = self.signature
        width = ROWS * 4
        keys = []
        for band in range(BANDS):
            digest = hashlib.blake2b(
                bytes([band]) + sig[band * width : (band + 1) * width], digest_size=8
            ).digest()
            keys.append(int.from_bytes(digest, "little", signed=True))
        return tuple(keys)

    def computed(self) -> ClusterKey:
        """This key with its signature and band keys made now and the shingles let go, so it
        travels small (from an extraction worker, pickled)."""
        self.bands  # noqa: B018 (computes the signature too)
        self._shingles = []
        return self

    def matches(self, signature: bytes) -> bool:
        return estimated_jaccard(self.signature, signature) >= self.threshold

    def __repr__(self) -> str:
        return f"ClusterKey({self.size} shingles)"


def cluster_key(article: Article) -> ClusterKey | None:
    """The key to file ``article`` among near-duplicates, or None when its body is too short."""
    found = shingles(article.body_text)
    if len(found) < MIN_SHINGLES:
        return None
    return ClusterKey(found)


def index_archive(store: Any, *, progress: Callable[[int], None] | None = None) -> int:
    """File every article the upserts did not (stored before syndication existed, or by
    ``run.py copy``) among near-duplicates; the number filed.  Safe to repeat or interrupt."""
    done, after = 0, 0
    while True:
        batch = store.unfiled(after_id=after, limit=INDEX_BATCH)
        if not batch:
            return done
        for item in batch:
            store.file_article(item.article.url, cluster_key(item.article))
        done += len(batch)
        after = batch[-1].id
        if progress is not None:
            progress(len(batch))
