"""The end of a body: promo lines, end marks, and the byline paragraph.

Vietnamese news bodies end with "Mời bạn đọc …", view counters, the end mark ``./.`` and
the author's name on a line of its own ("Ngọc Trâm", "Đại tá, TS. PHẠM VĂN THẮNG" +
office).  ``take_byline`` drops the trailers and takes the byline paragraph out of the
body (the pipeline keeps it apart as the author); ``strip_trailers`` only drops the
trailers, for pages whose profile found the author elsewhere.
"""

from __future__ import annotations

import re

from scraper.html import (
    BLOCK_TAGS,
    HtmlElement,
    drop,
    leaf_blocks,
    link_density,
    rendered_text,
    text_of,
)
from scraper.normalize.bylines import looks_like_byline, parse_byline
from scraper.text import clean_text, strip_xml_illegal

__all__ = ["strip_trailers", "take_byline"]

# Lines at the end of a body that are neither text nor byline.
TRAILER = re.compile(
    r"^(?:\*?\s*mời (?:bạn|quý) (?:đọc|vị)|xem thêm|xem tiếp|tin liên quan|bài liên quan|"
    r"\./\.|\.\s*/\s*\.|\(?\s*\d[\d.,]*\s+lượt xem\s*\)?|chia sẻ|in bài)",
    re.I,
)
END_MARK = re.compile(r"\s*\.\s*/\s*\.\s*$")
PHOTO_CREDIT = re.compile(r"^\(?\s*ảnh\s*:", re.I)
# A note after the byline: "(*) Bài viết thể hiện quan điểm riêng …", "* Độc giả có thể …", promo.
NOTE_START = re.compile(
    r"^(?:\(\*+\)|\*|ghi chú\b|chú thích\b|lời tòa soạn|lời toà soạn|(?:quý )?(?:độc giả|bạn đọc) (?:có thể|vui lòng|hãy|gửi)"
    r"|(?:đọc|xem) (?:thêm|tiếp)|mời (?:quý )?(?:độc giả|bạn đọc|quý vị)|theo dõi)",
    re.I,
)
MAX_AFTER = 2  # blocks after the byline looked past at most
MAX_NOTE_CHARS = 400


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
    """A line's text, inline tags joined as written (see ``_shown``)."""
    return clean_text("".join(x if isinstance(x, str) else _raw_text(x) for x in line))  # type: ignore[arg-type]


def _raw_text(el: HtmlElement) -> str:
    """An inline element's text with its own spaces; a block child stands apart."""
    text = "".join(el.itertext())
    return f" {text} " if el.tag in BLOCK_TAGS else text


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
    """The byline paragraph at the end of the body (removed from it), if there is one.

    The byline may be followed by a photo credit, or by a note that is no article text either
    (a column blurb, a promo paragraph in other words than the trailers', a link): up to
    ``MAX_AFTER`` such blocks are looked past.
    """
    blocks = strip_trailers(body)
    for n, block in enumerate(reversed(blocks[-(MAX_AFTER + 1) :])):
        if block is body:
            return None
        text = _shown(block)
        if block.tag == "figcaption" and PHOTO_CREDIT.match(text) and block.getparent() is not None and block.getparent().tag != "figure":
            continue  # a photo credit line after the byline
        if _is_figure(block):
            return None
        found = _byline_of(block, text)
        if found is not None:
            # "NGUYỄN HÀ" then "(Theo TTXVN)" on a line of its own: the people are on the line before
            before = blocks[-n - 2] if len(blocks) >= n + 2 else None
            if before is not None and before is not body and not parse_byline(found).authors and not _is_figure(before):
                people = _shown(before)
                if parse_byline(people).authors and looks_like_byline(people):
                    drop(before)
                    return f"{people} - {found}"
            return found
        if not (PHOTO_CREDIT.match(text) or _is_note(block, text)):
            return None
    return None


def _is_figure(block: HtmlElement) -> bool:
    return block.find(".//img") is not None or block.tag == "figcaption" or any(a.tag == "figure" for a in block.iterancestors())


def _byline_of(block: HtmlElement, text: str) -> str | None:
    """The byline in one block (taken out of it), or None."""
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
    return None


def _is_note(block: HtmlElement, text: str) -> bool:
    """A block after the byline that is no article text: a column blurb or an editor's note (all
    of it italic or bold, or starred), a promo paragraph, a line of links."""
    if not text or len(text) > MAX_NOTE_CHARS:
        return False
    if NOTE_START.match(text) or TRAILER.match(text):
        return True
    if link_density(block) > 0.5:
        return True
    return any(_shown(styled) == text for styled in block.iter("em", "i", "strong", "b"))


def _shown(el: HtmlElement) -> str:
    """The text of ``el`` as a reader sees it: inline tags joined as written
    (``<strong>TRẦ</strong><strong>N HOÀI</strong>`` is "TRẦN HOÀI", not "TRẦ N HOÀI")."""
    return clean_text(rendered_text(el))
