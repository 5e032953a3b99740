"""qkfeed: follows Vietnam's military news sites and publishes one clean feed.

The data flow, one subpackage per stage:

    config -> fetch -> extract -> normalize -> dedup -> pipeline -> (storage) -> service -> cli
                                                                     feeds (render, serve)

The bottom layer every package may import: ``config`` (settings as frozen
models), ``models`` (Page, RawArticle, Article, StoredArticle), ``errors`` (the
exception tree), ``logs`` (structured logging), ``text``, ``urls`` and ``html``
(text, URL and lxml helpers shared by several stages).  ``storage`` and ``feeds``
import only that layer, never a stage.
"""

__version__ = "0.1.0"
