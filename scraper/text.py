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
    text = html.unescape(text)
    text = _INVISIBLE.sub("", nfc(text))
    text = strip_xml_illegal(_TOOLBAR_LEFTOVER.sub(" ", text))
    return _ANY_WS.sub(" ", text).strip()


def fold_accents(text: str) -> str:
    """Lower-case ASCII-ish form for accent-insensitive search ('Biên giới' -> 'bien gioi')."""
    decomposed = unicodedata.normalize("NFD", text.replace("đ", "d").replace("Đ", "D"))
    stripped = "".join(c for c in decomposed if not unicodedata.combining(c))
    return _ANY_WS.sub(" ", stripped.lower()).strip()
