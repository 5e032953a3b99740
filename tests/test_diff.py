"""feeds/diff.py: word-level diffs of Vietnamese text, whatever its Unicode form (issue 12)."""

from __future__ import annotations

import unicodedata
from datetime import UTC, datetime

from lxml import html as lxml_html

from feeds.diff import changed_fields, diff_html, edit_html, tokens, word_diff, word_diff_text
from scraper.versions import Version

OLD = "Đồn Biên phòng Ia Đal tổ chức tuần tra bảo vệ đường biên, mốc quốc giới."
NEW = "Đồn Biên phòng Ia Đal đã tổ chức tuần tra song phương bảo vệ đường biên, cột mốc quốc giới."


def nfd(text: str) -> str:
    return unicodedata.normalize("NFD", text)


def version(title: str = "Tiêu đề", body: str = OLD, **kw: object) -> Version:
    fields: dict[str, object] = {
        "seen_from": datetime(2024, 5, 1, tzinfo=UTC), "seen_until": None, "title": title,
        "published": datetime(2024, 5, 1, tzinfo=UTC), "authors": ("Nguyễn Văn A",), "summary": "",
        "body_text": body,
    }
    fields.update(kw)
    return Version(**fields)  # type: ignore[arg-type]


def test_whole_words_are_inserted_and_deleted() -> None:
    runs = [(c.op, c.text.strip()) for c in word_diff(OLD, NEW) if c.op != "equal"]
    assert runs == [("insert", "đã"), ("insert", "song phương"), ("delete", "mốc"), ("insert", "cột mốc")] or runs == [
        ("insert", "đã"), ("insert", "song phương"), ("insert", "cột")
    ]


def test_nfd_input_gives_the_same_diff_as_nfc_and_never_splits_a_diacritic() -> None:
    for old, new in ((OLD, nfd(NEW)), (nfd(OLD), NEW), (nfd(OLD), nfd(NEW))):
        assert word_diff(old, new) == word_diff(OLD, NEW)
    # an edit of one diacritic marks the whole syllable, in NFC
    runs = word_diff(nfd("quốc giới"), nfd("quộc giới"))
    assert [(c.op, c.text) for c in runs if c.op != "equal"] == [("delete", "quốc"), ("insert", "quộc")]
    for c in runs:
        assert c.text == unicodedata.normalize("NFC", c.text)
        assert not unicodedata.combining(c.text[0])
    # NFD text alone is no change at all
    assert all(c.op == "equal" for c in word_diff(OLD, nfd(OLD)))
    assert "".join(tokens(nfd(OLD))) == OLD


def test_html_is_escaped_and_marks_changes_with_ins_and_del() -> None:
    out = diff_html("a <b> & c", "a <b> & d\n\nmới")
    assert out == "a &lt;b&gt; &amp; <del>c</del><ins>d<br/>mới</ins>"
    root = lxml_html.fragment_fromstring(f"<p>{diff_html(nfd(OLD), NEW)}</p>")
    assert [e.text_content().strip() for e in root.iter("ins")][0] == "đã"


def test_an_edit_says_what_changed_and_links_its_history() -> None:
    before = version()
    after = version(title="Tiêu đề mới", body=NEW, authors=("Trần B",))
    assert changed_fields(before, after) == ["title", "authors", "body"]
    assert changed_fields(before, version(body=nfd(OLD) + "  ")) == []  # form and spacing only
    page = edit_html(before, after, history_link="http://x/articles/1")
    assert "Đã sửa: tiêu đề, tác giả, nội dung." in page
    assert "<ins>mới</ins>" in page and 'href="http://x/articles/1"' in page
    lines = list(word_diff_text(before, after))
    assert lines[0] == "changed: title, authors, body"
    assert "title: … Tiêu đề {+mới+}" in lines
    assert any("{+đã+}" in line for line in lines)
