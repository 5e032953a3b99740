"""Dedup: an Article in, its near-duplicate cluster key out.

Syndicated copies of one story on several sites are found by MinHash over word
shingles (``minhash``) and LSH band keys stored with each article
(``syndication``); the store files a new article with the earliest copy.
"""

from scraper.dedup.syndication import ClusterKey, cluster_key, index_archive

__all__ = ["ClusterKey", "cluster_key", "index_archive"]
