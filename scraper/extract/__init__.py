"""Extract: page HTML (+ a site profile) in, raw fields out.

``extract_article`` turns an article page into a :class:`~scraper.models.RawArticle`
(title, date text, byline text, body HTML, lead, image), using the site's CSS
selectors first and the generic rules (``generic``) where they miss; the listing
functions turn a listing page into article URLs and the next page's URL.
"""

from scraper.extract.article import extract_article
from scraper.extract.listing import extract_links, next_page_url, numbered_page_url

__all__ = ["extract_article", "extract_links", "next_page_url", "numbered_page_url"]
