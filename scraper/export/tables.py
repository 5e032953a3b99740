"""JSONL and CSV: one article per line / row, written as the archive is walked.

JSONL is UTF-8, one JSON object per line (``pandas.read_json(lines=True)``
reads it).  CSV starts with a UTF-8 byte order mark: spreadsheet programs
(Excel, LibreOffice) read a BOM-less CSV in the local code page and show
Vietnamese as mojibake.  Written with the standard library's ``json`` and
``csv``, which quote everything a body may hold (newlines, quotes, commas).
"""

from __future__ import annotations

import codecs
import csv
import io
import json
from collections.abc import Callable, Iterable
from typing import BinaryIO

from storage._export import ArchivedArticle

from .records import CSV_FIELDS, article_record, csv_row

__all__ = ["write_csv", "write_jsonl"]


def write_jsonl(
    out: BinaryIO, items: Iterable[ArchivedArticle], on_item: Callable[[], None] = lambda: None
) -> int:
    """One JSON object per line; returns how many were written."""
    n = 0
    for item in items:
        line = json.dumps(article_record(item), ensure_ascii=False, separators=(",", ":"))
        out.write(line.encode("utf-8") + b"\n")
        n += 1
        on_item()
    return n


def write_csv(
    out: BinaryIO, items: Iterable[ArchivedArticle], on_item: Callable[[], None] = lambda: None
) -> int:
    """A header row and one row per article (``CSV_FIELDS``), UTF-8 with a BOM, CRLF rows."""
    text = io.TextIOWrapper(out, encoding="utf-8", newline="", write_through=True)
    try:
        text.write(codecs.BOM_UTF8.decode("utf-8"))
        writer = csv.writer(text)
        writer.writerow(CSV_FIELDS)
        n = 0
        for item in items:
            writer.writerow(csv_row(article_record(item)))
            n += 1
            on_item()
        text.flush()
    finally:
        text.detach()  # the caller owns (and closes or renames) the stream
    return n
