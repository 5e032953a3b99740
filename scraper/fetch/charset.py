"""Bytes of a fetched page -> text.

The order of evidence, strongest first:

    1. a byte-order mark
    2. the bytes are valid UTF-8 (a page whose header or ``<meta charset>`` says
       windows-1258 but whose bytes are UTF-8 is UTF-8: such labels often lie,
       while non-ASCII text in another encoding is practically never valid UTF-8)
    3. the bytes are UTF-8 but for a few stray bytes (a broken ad snippet)
    4. the charset of the Content-Type header, if the bytes decode with it
    5. ``<meta charset>`` / ``<?xml encoding?>`` in the first bytes, if they decode with it
    6. detection from the bytes with charset-normalizer
    7. UTF-8 with replacement characters

Labels are mapped as browsers map them (``iso-8859-1`` and ``us-ascii`` mean
windows-1252).  Encoding names returned are Python codec names (``utf-8``,
``cp1258``).  The text is returned as found: no Unicode normalization here.
"""

from __future__ import annotations

import codecs
import re
from email.message import Message

import charset_normalizer

__all__ = ["decode_html", "declared_charset"]

PRESCAN_BYTES = 4096  # how far to look for <meta charset>
MAX_STRAY_RATIO = 0.005  # stray bytes per non-ASCII byte still read as UTF-8

_BOMS = (
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
# WHATWG Encoding Standard: these labels mean windows-1252 in a browser.
_BROWSER_LABELS = {
    "iso-8859-1": "cp1252",
    "iso8859-1": "cp1252",
    "latin1": "cp1252",
    "latin-1": "cp1252",
    "l1": "cp1252",
    "us-ascii": "cp1252",
    "ascii": "cp1252",
}
_ASCII = bytes(range(0x80))
_META = re.compile(
    rb"""<meta\s[^>]*?charset\s*=\s*["']?\s*([A-Za-z0-9._:-]+)""",
    re.IGNORECASE,
)
_XML_DECL = re.compile(rb"""^\s*<\?xml\s[^>]*?encoding\s*=\s*["']([A-Za-z0-9._-]+)""")


def _codec(label: str | None) -> str | None:
    """Python codec name of a charset label, or None if unknown."""
    if not label:
        return None
    label = label.strip().strip("\"'").lower()
    label = _BROWSER_LABELS.get(label, label)
    try:
        return codecs.lookup(label).name
    except LookupError:
        return None


def declared_charset(content_type: str | None) -> str | None:
    """The ``charset`` parameter of a Content-Type header, as given."""
    if not content_type:
        return None
    msg = Message()
    msg["content-type"] = content_type
    charset = msg.get_param("charset")
    return charset if isinstance(charset, str) and charset else None


def _meta_charset(content: bytes) -> str | None:
    head = content[:PRESCAN_BYTES]
    m = _XML_DECL.match(head) or _META.search(head)
    return m.group(1).decode("ascii") if m else None


def _nearly_utf8(content: bytes) -> str | None:
    """UTF-8 text with only a few undecodable bytes, or None."""
    text = content.decode("utf-8", "replace")
    stray = text.count("\ufffd") - content.count("\ufffd".encode())
    non_ascii = len(content.translate(None, _ASCII))
    if non_ascii and stray <= non_ascii * MAX_STRAY_RATIO:
        return text
    return None


def decode_html(content: bytes, content_type: str | None) -> tuple[str, str]:
    """Decode a page body; return ``(text, encoding)``."""
    header = _codec(declared_charset(content_type))
    if not content:
        return "", header or "utf-8"
    for bom, encoding in _BOMS:
        if content.startswith(bom):
            return content[len(bom) :].decode(encoding, "replace"), encoding
    try:
        return content.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    text = _nearly_utf8(content)
    if text is not None:
        return text, "utf-8"
    for encoding in (header, _codec(_meta_charset(content))):
        if encoding and encoding != "utf-8":
            try:
                return content.decode(encoding), encoding
            except (UnicodeDecodeError, LookupError):
                pass
    best = charset_normalizer.from_bytes(content).best()
    if best is not None:
        encoding = _codec(best.encoding) or best.encoding
        return str(best), encoding
    return content.decode("utf-8", "replace"), "utf-8"
