"""``fold_accents`` and ``clean_text`` were made faster (issue 6): they must give exactly what
the plain definitions below give — stored search text and fingerprints depend on them."""

from __future__ import annotations

import html
import re
import unicodedata

from hypothesis import given, settings
from hypothesis import strategies as st

from scraper import text as T
from scraper.text import clean_text, fold_accents

_WS = re.compile(r"\s+")
_TOOLBAR = re.compile(r"\bleftcenterrightdel\b", re.I)


def fold_reference(text: str) -> str:
    """The whole-string definition: đ/Đ -> d/D, NFD, combining marks dropped, lower, spaces collapsed."""
    decomposed = unicodedata.normalize("NFD", text.replace("đ", "d").replace("Đ", "D"))
    stripped = "".join(c for c in decomposed if not unicodedata.combining(c))
    return _WS.sub(" ", stripped.lower()).strip()


def clean_reference(text: str | None) -> str:
    if not text:
        return ""
    text = html.unescape(text)
    text = T._INVISIBLE.sub("", unicodedata.normalize("NFC", text))
    text = T._XML_ILLEGAL.sub("", _TOOLBAR.sub(" ", text))
    return _WS.sub(" ", text).strip()


VIETNAMESE = [
    "Biên giới Đồn biên phòng",
    "ĐẢNG ỦY QUÂN SỰ TỈNH HƯNG YÊN lãnh đạo thực hiện nhiệm vụ năm 2024",
    "đường Trường Sơn — Hồ Chí Minh, Ðà Nẵng (Ð U+00D0 is not Đ U+0110)",
    unicodedata.normalize("NFD", "Sư đoàn 395 kỷ niệm 79 năm Ngày truyền thống"),
    "  Quân\u00a0khu\u20033\n\n\tHải  Phòng  ",
    "a \u0301 b",  # a lone combining mark folds to nothing
    "ΣΊΣΥΦΟΣ Οδυσσεύς İstanbul ﬁnal Ǆ",  # final sigma, dotted I, ligature, titlecase digraph
]
# characters where folding could go wrong: marks, sigmas, the Vietnamese d, odd spaces
TRICKY = "đĐÐ\u0301\u0300\u0323\u0309\u0303ΣσςİıﬁǄǅ\u00a0\u2003\x1c\x1f\x85 \n\tAaỆệ"
tricky_text = st.text(alphabet=st.sampled_from(TRICKY) | st.characters(), max_size=40)


def test_fold_accents_vietnamese() -> None:
    assert fold_accents("Biên giới Đồn biên phòng") == "bien gioi don bien phong"
    assert fold_accents("ĐẢNG ỦY QUÂN SỰ") == "dang uy quan su"
    assert fold_accents("đường Trường Sơn") == "duong truong son"
    for text in VIETNAMESE:
        assert fold_accents(text) == fold_reference(text), text


@settings(max_examples=1000, deadline=None)
@given(tricky_text)
def test_fold_accents_equals_whole_string_definition(text: str) -> None:
    assert fold_accents(text) == fold_reference(text)


def test_fold_accents_cache_is_bounded(monkeypatch: object) -> None:
    monkeypatch.setattr(T, "_FOLDED", {})  # type: ignore[attr-defined]
    monkeypatch.setattr(T, "_FOLDED_MAX", 3)  # type: ignore[attr-defined]
    text = "một hai ba bốn năm sáu bảy tám chín mười"
    assert fold_accents(text) == fold_reference(text)
    assert len(T._FOLDED) == 3
    assert fold_accents(text) == fold_reference(text)


@settings(max_examples=1000, deadline=None)
@given(st.text(alphabet=st.sampled_from(TRICKY + "&;#x2013amp\u200b\u00ad\x01\x0bleftcenterrightdelLEFTCENTERRIGHTDEL") | st.characters(), max_size=60))
def test_clean_text_equals_plain_definition(text: str) -> None:
    assert clean_text(text) == clean_reference(text)


def test_clean_text_toolbar_leftover() -> None:
    for text in ("Nội dung leftcenterrightdel tiếp", "x LeftCenterRightDel y", "left\u200bcenterrightdel z",
                 "a left\x01centerrightdel b", "xleftcenterrightdel", "İleftcenterrightdel", None, ""):
        assert clean_text(text) == clean_reference(text)
    assert clean_text("Nội dung  leftcenterrightdel\n tiếp") == "Nội dung tiếp"
