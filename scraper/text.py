"""Plain-text cleaning shared by every stage: NFC, whitespace, XML-illegal characters.

Vietnamese text arrives both precomposed (NFC) and decomposed (NFD); all text is
normalized to NFC before it is compared, hashed, searched or stored.
"""

from __future__ import annotations

import html
import re
import unicodedata

# Characters XML 1.0 forbids (C0 controls except tab/LF/CR, surrogates, U+FFFE/U+FFFF).
_XML_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
# Zero-width and soft-hyphen characters editors leave inside words.
_INVISIBLE = re.compile("[\u00ad\u200b\u200c\u200d\u2060\ufeff]")
_ANY_WS = re.compile(r"\s+")
# Editor-toolbar leftover seen in qdnd.vn bodies (sites.md, "Text quirks").
_TOOLBAR_LEFTOVER = re.compile(r"\bleftcenterrightdel\b", re.I)


def nfc(text: str) -> str:
    """Unicode NFC, so precomposed and decomposed Vietnamese compare equal."""
    return unicodedata.normalize("NFC", text)


def strip_xml_illegal(text: str) -> str:
    """Remove characters that may not appear in an XML 1.0 document."""
    return _XML_ILLEGAL.sub("", text)


def clean_text(text: str | None) -> str:
    """One-line text: entities decoded, NFC, XML-safe, whitespace collapsed, trimmed."""
    if not text:
        return ""
    if "&" in text:
        text = html.unescape(text)
    # ASCII text is NFC and holds no invisible character: both passes skipped (most text nodes)
    if not text.isascii():
        text = _INVISIBLE.sub("", unicodedata.normalize("NFC", text))
    # a case-insensitive regex scans slowly (no literal prefix): look for the word first; every
    # character re.I matches in "leftcenterr" lower-cases to that letter, so nothing is missed
    # (and a text shorter than the 18-letter word cannot hold it)
    if len(text) >= 18 and "leftcenterr" in text.lower():
        text = _TOOLBAR_LEFTOVER.sub(" ", text)
    # every XML-illegal character is unprintable: the regex runs only on text with one (or a
    # newline, tab, no-break space ...)
    if not text.isprintable():
        text = _XML_ILLEGAL.sub("", text)
    # str.split() splits on exactly what \s matches (str.isspace), at a third of the cost
    return " ".join(text.split())


_FOLDED: dict[str, str] = {}  # non-ASCII word -> folded; Vietnamese has a few thousand syllables
_FOLDED_MAX = 20_000  # then new words are folded without being kept (bounded memory)


def _fold_word(word: str) -> str:
    decomposed = unicodedata.normalize("NFD", word.replace("đ", "d").replace("Đ", "D"))
    return "".join(c for c in decomposed if not unicodedata.combining(c)).lower()


def fold_accents(text: str) -> str:
    """Lower-case ASCII-ish form for accent-insensitive search ('Biên giới' -> 'bien gioi').

    Word by word with a cache: it runs over every stored article's text, and a generator
    over the whole NFD string cost ~0.8 ms an article.  Same result as folding the whole
    string (as it did before): NFD, accent stripping and lower-casing never
    cross whitespace nor create or remove it (``tests/test_text_fold.py`` checks).
    """
    if text.isascii():
        return " ".join(text.lower().split())
    out = []
    for word in text.split():
        if word.isascii():
            out.append(word.lower())
            continue
        folded = _FOLDED.get(word)
        if folded is None:
            folded = _fold_word(word)
            if len(_FOLDED) < _FOLDED_MAX:
                _FOLDED[word] = folded
        if folded:  # a lone combining mark folds to nothing
            out.append(folded)
    return " ".join(out)
