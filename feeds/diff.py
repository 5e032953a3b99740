"""Word-level differences between two versions of an article (issue 12).

Why the standard ``difflib``: its ``SequenceMatcher`` diffs any sequence, so it
works on word tokens directly and gives word-level opcodes with no extra
dependency; ``diff-match-patch`` diffs characters and would need its
words-to-characters trick to get there.  ``autojunk`` is off: in a long body
frequent words ("của", "và") would otherwise be treated as junk and the diff
would come out ragged.

Both texts are NFC-normalized first and split into runs of non-space
characters and runs of spaces (``TOKEN``): a combining mark never stands
alone, so a diacritic is never split from its letter whether the input was NFC
or NFD, and an edit shows as whole Vietnamese syllables.
"""

from __future__ import annotations

import difflib
import html
import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass

from scraper.versions import Version

__all__ = ["FIELD_NAMES", "Change", "changed_fields", "diff_html", "edit_html", "tokens", "word_diff", "word_diff_text"]

TOKEN = re.compile(r"\S+|\s+")
CONTEXT_WORDS = 6  # words of unchanged text shown around a change in the text form
# The fields' names where readers see them (feeds, the article view).
FIELD_NAMES = {"title": "tiêu đề", "published": "ngày đăng", "authors": "tác giả", "lead": "sa-pô",
               "body": "nội dung"}


@dataclass(frozen=True)
class Change:
    """One run of the diff: "equal", "delete" or "insert", and its text."""

    op: str
    text: str


def tokens(text: str) -> list[str]:
    """NFC words and the spaces between them, in order (joined, they give the NFC text back)."""
    return TOKEN.findall(unicodedata.normalize("NFC", text))


def word_diff(old: str, new: str) -> list[Change]:
    """The runs that turn ``old`` into ``new``, word by word (a replacement is a delete, then an insert)."""
    a, b = tokens(old), tokens(new)
    runs: list[Change] = []
    for op, i1, i2, j1, j2 in difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
        if op == "equal":
            runs.append(Change("equal", "".join(a[i1:i2])))
            continue
        if i2 > i1:
            runs.append(Change("delete", "".join(a[i1:i2])))
        if j2 > j1:
            runs.append(Change("insert", "".join(b[j1:j2])))
    return runs


def diff_html(old: str, new: str) -> str:
    """The diff as escaped HTML: deleted words in ``<del>``, inserted ones in ``<ins>``, line breaks kept."""
    out = []
    for run in word_diff(old, new):
        if run.op == "equal":
            out.append(_escape_lines(run.text))
            continue
        # spaces at either end stay outside the mark: only words are marked
        core = run.text.strip()
        lead, trail = run.text[: len(run.text) - len(run.text.lstrip())], run.text[len(run.text.rstrip()):]
        tag = run.op[:3]
        out.append(f"{_escape_lines(lead)}<{tag}>{_escape_lines(core)}</{tag}>{_escape_lines(trail)}")
    return "".join(out)


def _escape_lines(text: str) -> str:
    escaped = html.escape(text, quote=False)
    return re.sub(r"[ \t]*\n\s*", "<br/>", escaped) if "\n" in escaped else escaped


def changed_fields(before: Version, after: Version) -> list[str]:
    """Which extracted fields an edit changed: title, published, authors, lead, body."""
    pairs = (
        ("title", before.title, after.title),
        ("published", before.published, after.published),
        ("authors", before.authors, after.authors),
        ("lead", before.summary, after.summary),
        ("body", _nfc(before.body_text), _nfc(after.body_text)),
    )
    return [name for name, a, b in pairs if a != b]


def _nfc(text: str) -> str:
    return " ".join(unicodedata.normalize("NFC", text).split())


def edit_html(before: Version, after: Version, *, history_link: str | None = None) -> str:
    """An edit as a feed entry's content: what changed, then the title and body diffs."""
    fields = changed_fields(before, after)
    names = ", ".join(FIELD_NAMES[f] for f in fields) or "định dạng"
    parts = [f"<p>Đã sửa: {html.escape(names)}.</p>"]
    if "title" in fields:
        parts.append(f"<h3>Tiêu đề</h3><p>{diff_html(before.title, after.title)}</p>")
    if "published" in fields:
        parts.append(f"<p>Ngày đăng: <del>{_when(before)}</del> <ins>{_when(after)}</ins></p>")
    if "authors" in fields:
        parts.append(
            f"<p>Tác giả: <del>{html.escape(', '.join(before.authors))}</del>"
            f" <ins>{html.escape(', '.join(after.authors))}</ins></p>"
        )
    if "lead" in fields:
        parts.append(f"<h3>Sa-pô</h3><p>{diff_html(before.summary, after.summary)}</p>")
    if "body" in fields:
        parts.append(f"<h3>Nội dung</h3><p>{diff_html(before.body_text, after.body_text)}</p>")
    if history_link:
        parts.append(f'<p><a href="{html.escape(history_link)}">Lịch sử các phiên bản</a></p>')
    return "\n".join(parts)


def _when(v: Version) -> str:
    return v.published.isoformat() if v.published else "—"


def word_diff_text(before: Version, after: Version) -> Iterator[str]:
    """Plain-text lines for a terminal: each changed field, then each change in context,
    deleted words as ``[-…-]`` and inserted ones as ``{+…+}`` (as ``git diff --word-diff``)."""
    fields = changed_fields(before, after)
    yield "changed: " + (", ".join(fields) or "formatting only")
    for name, old, new in (("title", before.title, after.title), ("body", before.body_text, after.body_text)):
        if name in fields:
            for hunk in _hunks(word_diff(old, new)):
                yield f"{name}: {hunk}"


def _hunks(runs: list[Change]) -> Iterator[str]:
    """One line per change, with a few unchanged words either side."""
    for i, run in enumerate(runs):
        if run.op == "equal" or (run.op == "insert" and i and runs[i - 1].op == "delete"):
            continue
        before = runs[i - 1].text.split()[-CONTEXT_WORDS:] if i and runs[i - 1].op == "equal" else []
        body = _mark(run)
        j = i + 1
        if run.op == "delete" and j < len(runs) and runs[j].op == "insert":
            body += " " + _mark(runs[j])
            j += 1
        after = runs[j].text.split()[:CONTEXT_WORDS] if j < len(runs) and runs[j].op == "equal" else []
        yield " ".join([*(["…", *before] if before else []), body, *([*after, "…"] if after else [])])


def _mark(run: Change) -> str:
    text = " ".join(run.text.split())
    return f"[-{text}-]" if run.op == "delete" else f"{{+{text}+}}"
