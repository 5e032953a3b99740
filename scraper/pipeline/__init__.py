"""Pipeline: a source in, stored articles out.

``SourceRunner`` runs one source: listing pages -> new article URLs -> fetch ->
extract -> normalize -> cluster key -> ``Store.upsert_article``; also the
resumable backfill.  ``extractpool`` optionally moves extraction to worker
processes during a backfill; ``reextract`` re-reads stored raw pages.  It talks
to storage only through the ``Store`` interface.
"""

from scraper.pipeline.reextract import ReextractResult, reextract
from scraper.pipeline.runner import RunResult, SourceRunner, article_from_file

__all__ = ["ReextractResult", "RunResult", "SourceRunner", "article_from_file", "reextract"]
