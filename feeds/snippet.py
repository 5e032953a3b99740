"""Search snippets: the part of a text around the matched words, the words marked.

A search matches folded words (``storage.base.search_terms``: no case, no
diacritics, đ = d), so the words are found the same way here: every word of
the original text is folded and compared, and the original, accented word is
what gets the ``<mark>`` (``bien gioi`` marks "biên giới").  The output is
HTML: every piece of text is escaped, only ``<mark>`` is added.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Collection
from functools import lru_cache
from html import escape

from scraper.text import fold_accents

__all__ = ["excerpt", "highlight", "snippet"]

WORD = re.compile(r"[^\W_]+")  # as storage.base: a word is letters and digits
LEAD_CHARS = 80  # how much text a snippet keeps before its first match
MAX_WINDOWS = 500  # matches tried as a snippet's start (a long text may hold thousands)
ELLIPSIS = "…"


@lru_cache(maxsize=64)
def _terms_pattern(terms: frozenset[str]) -> re.Pattern[str]:
    """Any of ``terms`` as a whole word (not inside a longer run of letters and digits)."""
    words = "|".join(re.escape(t) for t in sorted(terms, key=len, reverse=True))
    return re.compile(rf"(?<![^\W_])(?:{words})(?![^\W_])")


def _fold_aligned(text: str) -> str | None:
    """``text`` folded character by character, when every character folds to exactly one
    (true of NFC Vietnamese: "ế" -> "e", "Đ" -> "d"), so positions in it are positions
    in ``text``; None otherwise.  One ``str.translate`` instead of one call per word."""
    table: dict[int, str] = {}
    for char in set(text):
        if char.isascii():
            continue
        folded = " " if char.isspace() else fold_accents(char)
        if len(folded) != 1:
            return None
        table[ord(char)] = folded
    out = text.translate(table).lower()
    return out if len(out) == len(text) else None


def _matches(
    text: str, terms: Collection[str], limit: int | None = None
) -> list[tuple[int, int, str]]:
    """(start, end, folded word) of the words of ``text`` that fold to one of ``terms``
    (the first ``limit`` of them)."""
    if not terms:
        return []
    found = []
    aligned = _fold_aligned(text)
    if aligned is not None:  # only the hits, found by the regex engine
        words = ((m.start(), m.end(), m.group()) for m in _terms_pattern(frozenset(terms)).finditer(aligned))
    else:  # word by word (a character that folds to several or none)
        words = ((m.start(), m.end(), fold_accents(m.group())) for m in WORD.finditer(text))
    for start, end, folded in words:
        if folded in terms:
            found.append((start, end, folded))
            if limit is not None and len(found) >= limit:
                break
    return found


def _best_start(found: list[tuple[int, int, str]], span: int) -> int:
    """Where the window of ``span`` characters holding the most distinct matched words starts
    (the first such): "bien gioi" prefers "biên giới" to a lone "biên" before it.
    One pass with two ends over the matches."""
    best, best_count = found[0][0], 0
    inside: Counter[str] = Counter()
    end = 0
    for start, _, word in found:
        while end < len(found) and found[end][0] < start + span:
            inside[found[end][2]] += 1
            end += 1
        if len(inside) > best_count:
            best, best_count = start, len(inside)
        inside[word] -= 1
        if not inside[word]:
            del inside[word]
    return best


def highlight(text: str, terms: Collection[str]) -> str:
    """``text`` as HTML, each word whose folded form is in ``terms`` inside ``<mark>``."""
    out, pos = [], 0
    for start, end, _ in _matches(text, terms):
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
        found = _matches(text, terms, MAX_WINDOWS)
        if not found:
            continue
        start = _best_start(found, limit - LEAD_CHARS)
        if start + LEAD_CHARS > limit:  # the match would fall outside the beginning
            cut = text.rfind(" ", 0, max(0, start - LEAD_CHARS)) + 1
            text = ELLIPSIS + text[cut:]
        return highlight(excerpt(text, limit), terms)
    first = next((t for t in texts if t), "")
    return escape(excerpt(first, limit))
