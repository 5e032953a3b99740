"""Normalize: a :class:`~scraper.models.RawArticle` in, a clean :class:`~scraper.models.Article` out.

Vietnamese dates to aware UTC datetimes (``dates``), bylines to authors and
agencies (``bylines``), body HTML sanitized (``sanitize``), text cleaned, the
URL canonicalized, a summary and a fingerprint computed (``article``).
"""

from scraper.normalize.article import body_text_of, fingerprint, normalize
from scraper.normalize.bylines import parse_byline
from scraper.normalize.dates import find_publish_date, parse_datetime
from scraper.normalize.sanitize import sanitize_html

__all__ = [
    "body_text_of",
    "find_publish_date",
    "fingerprint",
    "normalize",
    "parse_byline",
    "parse_datetime",
    "sanitize_html",
]
