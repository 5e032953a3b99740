"""Search snippets: the part of a text around the matched words, the words marked.

A search matches folded words (``storage.base.search_terms``: no case, no
diacritics, đ = d), so the words are found the same way here: every word of
the original text is folded and compared, and the original, accented word is
what gets the ``<mark>`` (``bien gioi`` marks "biên giới").  The output is
HTML: every piece of text is escaped, only ``<mark>`` is added.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from html import escape
from itertools import takewhile

from scraper.text import fold_accents

__all__ = ["excerpt", "highlight", "snippet"]

WORD = re.compile(r"[^\W_]+")  # as storage.base: a word is letters and digits
LEAD_CHARS = 80  # how much text a snippet keeps before its first match
MAX_WINDOWS = 200  # matches tried as a snippet's start (a long text may hold thousands)
ELLIPSIS = "…"


def _matches(text: str, terms: Collection[str]) -> list[tuple[int, int]]:
    if not terms:
        return []
    return [(m.start(), m.end()) for m in WORD.finditer(text) if fold_accents(m.group()) in terms]


def _best_start(text: str, found: list[tuple[int, int]], span: int) -> int:
    """Where the window of ``span`` characters holding the most distinct matched words starts
    (the first such): "bien gioi" prefers "biên giới" to a lone "biên" before it."""
    best, best_count = found[0][0], 0
    for i, (start, _) in enumerate(found[:MAX_WINDOWS]):
        end = start + span
        words = {fold_accents(text[a:b]) for a, b in takewhile(lambda m, end=end: m[0] < end, found[i:])}
        if len(words) > best_count:
            best, best_count = start, len(words)
    return best


def highlight(text: str, terms: Collection[str]) -> str:
    """``text`` as HTML, each word whose folded form is in ``terms`` inside ``<mark>``."""
    out, pos = [], 0
    for start, end in _matches(text, terms):
        out += [escape(text[pos:start]), "<mark>", escape(text[start:end]), "</mark>"]
        pos = end
    out.append(escape(text[pos:]))
    return "".join(out)


def excerpt(text: str, limit: int) -> str:
    """At most ``limit`` characters of ``text``, cut at a word, with an ellipsis when cut."""
    if len(text) <= limit:
        return text
    cut = text[:limit].rsplit(" ", 1)[0] or text[:limit]
    return cut.rstrip(" ,;:.-") + ELLIPSIS


def snippet(texts: list[str], terms: Collection[str], limit: int) -> str:
    """HTML: the first of ``texts`` with a match, cut to ``limit`` characters around its first
    matched word; without a match (or terms), the first non-empty text's beginning."""
    for text in texts:
        found = _matches(text, terms)
        if not found:
            continue
        start = _best_start(text, found, limit - LEAD_CHARS)
        if start + LEAD_CHARS > limit:  # the match would fall outside the beginning
            cut = text.rfind(" ", 0, max(0, start - LEAD_CHARS)) + 1
            text = ELLIPSIS + text[cut:]
        return highlight(excerpt(text, limit), terms)
    first = next((t for t in texts if t), "")
    return escape(excerpt(first, limit))
