"""The end of a body: promo lines, end marks, and the byline paragraph.

Vietnamese news bodies end with "Mời bạn đọc …", view counters, the end mark ``./.`` and
the author's name on a line of its own ("Ngọc Trâm", "Đại tá, TS. PHẠM VĂN THẮNG" +
office).  ``take_byline`` drops the trailers and takes the byline paragraph out of the
body (the pipeline keeps it apart as the author); ``strip_trailers`` only drops the
trailers, for pages whose profile found the author elsewhere.
"""

from __future__ import annotations

import re

from scraper.html import HtmlElement, drop, leaf_blocks, text_of
from scraper.normalize.bylines import looks_like_byline
from scraper.text import strip_xml_illegal

__all__ = ["strip_trailers", "take_byline"]

# Lines at the end of a body that are neither text nor byline.
TRAILER = re.compile(
    r"^(?:\*?\s*mời (?:bạn|quý) (?:đọc|vị)|xem thêm|xem tiếp|tin liên quan|bài liên quan|"
    r"\./\.|\.\s*/\s*\.|\(?\s*\d[\d.,]*\s+lượt xem\s*\)?|chia sẻ|in bài)",
    re.I,
)
END_MARK = re.compile(r"\s*\.\s*/\s*\.\s*$")
PHOTO_CREDIT = re.compile(r"^\(?\s*ảnh\s*:", re.I)


def strip_trailers(body: HtmlElement) -> list[HtmlElement]:
    """Drop promo lines, counters and end marks at the end; return the remaining leaf blocks."""
    blocks = leaf_blocks(body) or [body]
    while blocks:
        last = blocks[-1]
        if last is body:
            break
        text = text_of(last)
        has_img = last.find(".//img") is not None or last.tag == "img"
        if has_img and text:
            break
        if (not text and not has_img) or TRAILER.match(text) or text in ("./.", "."):
            blocks.pop()
            drop(last)
        else:
            break
    # an end mark glued to the last paragraphs: "...nhiệm vụ./."
    for block in blocks[-3:]:
        for el in block.iter():
            if el.text and END_MARK.search(el.text):
                el.text = strip_xml_illegal(END_MARK.sub(".", el.text))
            if el is not block and el.tail and END_MARK.search(el.tail):
                el.tail = strip_xml_illegal(END_MARK.sub(".", el.tail))
    return blocks


def _lines(block: HtmlElement) -> list[list[object]]:
    """The ``<br>``-separated lines of a block, each a list of its text and elements."""
    lines: list[list[object]] = [[]]
    if block.text:
        lines[-1].append(block.text)
    for child in block:
        if child.tag == "br":
            lines.append([])
            if child.tail:
                lines[-1].append(child.tail)
            continue
        lines[-1].append(child)
        if child.tail:
            lines[-1].append(child.tail)
    return [line for line in lines if _line_text(line)]


def _line_text(line: list[object]) -> str:
    return text_of(" ".join(x if isinstance(x, str) else " ".join(x.itertext()) for x in line))  # type: ignore[union-attr]


def _drop_last_line(block: HtmlElement) -> None:
    """Remove the last ``<br>``-separated line of ``block`` (and the <br> before it)."""
    for br in reversed([c for c in block if c.tag == "br"]):
        following = [br.tail or ""] + [" ".join(sib.itertext()) + (sib.tail or "") for sib in br.itersiblings()]
        if text_of(" ".join(following)):
            for sib in list(br.itersiblings()):
                block.remove(sib)
            block.remove(br)  # its tail goes with it
            break
    while len(block) and block[-1].tag == "br" and not (block[-1].tail or "").strip():
        block.remove(block[-1])


def take_byline(body: HtmlElement) -> str | None:
    """The byline paragraph at the end of the body (removed from it), if there is one."""
    blocks = strip_trailers(body)
    # look at the last block, and one more when the last is a photo credit
    for block in reversed(blocks[-2:]):
        text = text_of(block)
        if block.tag == "figcaption" and PHOTO_CREDIT.match(text) and block.getparent() is not None and block.getparent().tag != "figure":
            continue  # a photo credit line after the byline
        if block is body or block.find(".//img") is not None or block.tag == "figcaption" or any(
            a.tag == "figure" for a in block.iterancestors()
        ):
            return None
        lines = _lines(block)
        if len(lines) >= 2 and PHOTO_CREDIT.match(_line_text(lines[-1])):
            # "<strong>Tâm Giao</strong><br><em>Ảnh:</em> Cao Trung Hiếu": the byline, then the photo credit
            name = _line_text(lines[-2])
            if looks_like_byline(name):
                if len(lines) == 2:
                    drop(block)
                else:
                    _drop_last_line(block)
                    _drop_last_line(block)
                return name
        if looks_like_byline(text):
            drop(block)
            return text
        if len(lines) >= 2:
            # "…nhiệm vụ./.<br><strong>Ngọc Trâm</strong>": the last line is the byline
            last = _line_text(lines[-1])
            if looks_like_byline(last):
                _drop_last_line(block)
                return last
            # "<strong>Đại tá, TS. PHẠM VĂN THẮNG</strong><br><em>Học viện Chính trị</em>": name, office
            first = _line_text(lines[0])
            joined = ", ".join(_line_text(line) for line in lines)
            if len(lines) <= 3 and looks_like_byline(first) and looks_like_byline(joined):
                drop(block)
                return joined
        if not PHOTO_CREDIT.match(text):
            return None
    return None
