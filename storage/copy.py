"""Copying a whole archive from one store to another (``run.py copy``), any backend to any.

What is copied, row by row, as stored: every article with its guid, first_seen
and updated (to the microsecond), authors/agencies/categories, search text;
its raw page exactly as stored (the compressed bytes and fetched_at); its
earlier versions and removal state (migration 0004); the run
history; the conditional-GET cache; source state; backfill state.  Not copied:
row ids and the change counter (the target numbers its own rows and bumps its
own counter, so its ``version()`` moves and feed caches refresh) and
``schema_migrations`` (both stores are migrated to this qkfeed's schema first).

Rules for a row whose key (article URL, run source+start, ...) the target
already holds:

- identical: left alone, so copying twice changes nothing;
- an article that differs: updated when the source's ``changed_at`` (moved by
  any write: content, revisit, removal) is later (the
  target is a copy that fell behind); otherwise the target has something the
  source has not, and the copy stops with ``CopyConflict`` naming the URL;
- a run or article version that differs: ``CopyConflict`` (history, never rewritten);
- a page, cache entry, source state or backfill state that differs: the newer
  one (by fetched_at, stored_at, last_run, updated_at) is kept.

The whole copy is one transaction on the target: after a conflict or any
other error the target is exactly as before.  Source rows are read in batches
(``BATCH``) in id or key order; ``progress(table, rows)`` is called as rows are
done, for a progress bar.

What each table's key, columns and clock are is data in
``storage._copy_tables``; ``storage._copy_sides`` reads and writes the tables
through the stores' own connections and knows both backends' encodings.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from scraper.errors import StorageError

from . import open_store
from ._copy_sides import Side, side_for
from ._copy_tables import ARTICLES, BATCH, TABLES, Table, row_key
from .base import Store
from .sqlite import MEMORY

__all__ = ["BATCH", "CopyConflict", "CopyReport", "TableCounts", "copy_store", "copy_urls"]

Progress = Callable[[str, int], None]


class CopyConflict(StorageError):
    """The target holds a row that differs from the source's and is not older."""


@dataclass
class TableCounts:
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    kept: int = 0  # the target's row was newer and stayed

    @property
    def total(self) -> int:
        return self.inserted + self.updated + self.unchanged + self.kept


@dataclass
class CopyReport:
    tables: dict[str, TableCounts] = field(default_factory=dict)

    @property
    def changed(self) -> bool:
        return any(c.inserted or c.updated for c in self.tables.values())

    def lines(self) -> list[str]:
        return [
            f"{name}: {c.inserted} inserted, {c.updated} updated, {c.unchanged} unchanged"
            + (f", {c.kept} newer in the target kept" if c.kept else "")
            for name, c in self.tables.items()
        ]


# -- copying -----------------------------------------------------------------


def copy_urls(source_url: str, target_url: str, *, progress: Progress | None = None) -> CopyReport:
    """Open both stores (migrating them), copy, close."""
    with ExitStack() as stack:
        source = stack.enter_context(open_store(source_url))
        target = stack.enter_context(open_store(target_url))
        return copy_store(source, target, progress=progress)


def source_rows(store: Store) -> int:
    """How many rows ``copy_store`` will walk in ``store`` (for a progress bar's total)."""
    side = side_for(store)
    with _locked(side):
        return sum(side.count(t) for t in TABLES)


def copy_store(source: Store, target: Store, *, progress: Progress | None = None) -> CopyReport:
    """Copy every row of ``source`` into ``target`` (see the module docstring)."""
    src, dst = side_for(source), side_for(target)
    if src.identity() == dst.identity() and not src.identity().endswith(MEMORY):
        raise StorageError("source and target are the same database")
    report = CopyReport()
    with _locked(dst), dst.transaction():
        for table in TABLES:
            counts = report.tables.setdefault(table.name, TableCounts())
            after = None
            while True:
                with _locked(src):
                    batch = src.read(table, after)
                if not batch:
                    break
                after = batch[-1][-1]
                rows = [row[:-1] for row in batch]
                _copy_batch(dst, table, rows, counts)
                if progress is not None:
                    progress(table.name, len(rows))
                if len(batch) < BATCH:
                    break
    return report


def _copy_batch(
    dst: Side, table: Table, rows: list[tuple[Any, ...]], counts: TableCounts
) -> None:
    existing = dst.lookup(table, [row_key(table, row) for row in rows])
    clock = table.names.index(table.clock) if table.clock is not None else None
    for row in rows:
        key = row_key(table, row)
        theirs = existing.get(key)
        if theirs is None:
            dst.insert(table, row, _bookkeeping(dst, table))
            counts.inserted += 1
        elif theirs == row:
            counts.unchanged += 1
        elif clock is not None and _later(row[clock], theirs[clock]):
            dst.update(table, row, _bookkeeping(dst, table))
            counts.updated += 1
        elif table.newer_wins_silently:
            counts.kept += 1
        else:
            shown = ", ".join(str(v) for v in key)
            raise CopyConflict(
                f"the target already holds a different {table.name} row for {shown}"
                + (f" that is not older (its {table.clock} is later or equal)" if clock else "")
                + "; nothing was copied"
            )


def _bookkeeping(dst: Side, table: Table) -> dict[str, Any]:
    """Columns the target fills itself: an article write bumps its change counter."""
    return {"change_seq": dst.next_seq()} if table is ARTICLES else {}


def _later(a: datetime | None, b: datetime | None) -> bool:
    if a is None:
        return False
    return b is None or a > b


@contextmanager
def _locked(side: Side) -> Iterator[None]:
    """A session on the side's store: every query of ``side`` in it uses one connection."""
    with side.session():
        yield
