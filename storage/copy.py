"""Copying a whole archive from one store to another (``run.py copy``), any backend to any.

What is copied, row by row, as stored: every article with its guid, first_seen
and updated (to the microsecond), authors/agencies/categories, search text;
its raw page exactly as stored (the compressed bytes and fetched_at); the run
history; the conditional-GET cache; source state; backfill state.  Not copied:
row ids and the change counter (the target numbers its own rows and bumps its
own counter, so its ``version()`` moves and feed caches refresh) and
``schema_migrations`` (both stores are migrated to this qkfeed's schema first).

Rules for a row whose key (article URL, run source+start, ...) the target
already holds:

- identical: left alone, so copying twice changes nothing;
- an article that differs: updated when the source's ``updated`` is later (the
  target is a copy that fell behind); otherwise the target has something the
  source has not, and the copy stops with ``CopyConflict`` naming the URL;
- a run that differs: ``CopyConflict`` (runs are history, never rewritten);
- a page, cache entry, source state or backfill state that differs: the newer
  one (by fetched_at, stored_at, last_run, updated_at) is kept.

The whole copy is one transaction on the target: after a conflict or any
other error the target is exactly as before.  Source rows are read in batches
(``BATCH``) in id or key order; ``progress(table, rows)`` is called as rows are
done, for a progress bar.

This module reads and writes the tables through the stores' own connections
(``SQLiteStore``'s one connection under its lock, one pooled connection of a
``PostgresStore`` held for a session): it is part of the storage package and
knows both backends' column encodings.
"""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from scraper.errors import StorageError

from . import open_store
from .base import Store, utc
from .sqlite import MEMORY, SQLiteStore

__all__ = ["BATCH", "CopyConflict", "CopyReport", "TableCounts", "copy_store", "copy_urls"]

BATCH = 200

Progress = Callable[[str, int], None]


class CopyConflict(StorageError):
    """The target holds a row that differs from the source's and is not older."""


# -- what is copied ----------------------------------------------------------

# Column kinds: how a value is encoded per backend.
TEXT, INT, TS, JSON, BYTES, BOOL = "text", "int", "ts", "json", "bytes", "bool"


@dataclass(frozen=True)
class _Table:
    name: str
    key: tuple[str, ...]
    columns: tuple[tuple[str, str], ...]  # (name, kind), key columns included
    clock: str | None  # the column that says which side is newer; None: never rewritten
    newer_wins_silently: bool  # False: an older differing source row is a conflict
    order: str  # reading order of the source (an indexed, unique column)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(name for name, _ in self.columns)


ARTICLES = _Table(
    "articles",
    key=("url",),
    columns=(
        ("url", TEXT),
        ("guid", TEXT),
        ("source_id", TEXT),
        ("title", TEXT),
        ("published", TS),
        ("modified", TS),
        ("authors", JSON),
        ("agencies", JSON),
        ("categories", JSON),
        ("body_html", TEXT),
        ("body_text", TEXT),
        ("summary", TEXT),
        ("image_url", TEXT),
        ("fingerprint", TEXT),
        ("original_url", TEXT),
        ("search_text", TEXT),
        ("first_seen", TS),
        ("updated", TS),
    ),
    clock="updated",
    newer_wins_silently=False,
    order="id",
)
PAGES = _Table(
    "pages",
    key=("url",),
    columns=(("url", TEXT), ("fetched_at", TS), ("html", BYTES)),
    clock="fetched_at",
    newer_wins_silently=True,
    order="url",
)
RUNS = _Table(
    "runs",
    key=("source_id", "started"),
    columns=(
        ("source_id", TEXT),
        ("started", TS),
        ("finished", TS),
        ("ok", BOOL),
        ("new_count", INT),
        ("updated_count", INT),
        ("error_count", INT),
        ("message", TEXT),
        ("degraded", TEXT),
    ),
    clock=None,
    newer_wins_silently=False,
    order="id",
)
HTTP_CACHE = _Table(
    "http_cache",
    key=("url",),
    columns=(("url", TEXT), ("etag", TEXT), ("last_modified", TEXT), ("stored_at", TS)),
    clock="stored_at",
    newer_wins_silently=True,
    order="url",
)
SOURCE_STATE = _Table(
    "source_state",
    key=("source_id",),
    columns=(
        ("source_id", TEXT),
        ("last_run", TS),
        ("last_success", TS),
        ("last_errors", INT),
        ("consecutive_failures", INT),
        ("last_error", TEXT),
        ("degraded", TEXT),
    ),
    clock="last_run",
    newer_wins_silently=True,
    order="source_id",
)
BACKFILL_STATE = _Table(
    "backfill_state",
    key=("source_id",),
    columns=(("source_id", TEXT), ("state", JSON), ("updated_at", TS)),
    clock="updated_at",
    newer_wins_silently=True,
    order="source_id",
)
# Articles before pages (pages reference them).
TABLES = (ARTICLES, PAGES, RUNS, HTTP_CACHE, SOURCE_STATE, BACKFILL_STATE)


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


# -- backends ----------------------------------------------------------------


class _Side:
    """Raw access to one store's tables with values in neutral Python form.

    Neutral: aware UTC datetimes, JSON as Python objects, bytes, bool.
    """

    def __init__(self, store: Store) -> None:
        self.store = store

    # Every backend provides these.
    def session(self) -> Any:
        """A context manager: queries inside it share one connection, held for its length."""
        raise NotImplementedError

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        raise NotImplementedError

    def execute(self, sql: str, params: Sequence[Any] = ()) -> None:
        raise NotImplementedError

    @contextmanager
    def transaction(self) -> Iterator[None]:
        raise NotImplementedError
        yield

    def encode(self, kind: str, value: Any) -> Any:
        raise NotImplementedError

    def decode(self, kind: str, value: Any) -> Any:
        raise NotImplementedError

    def next_seq(self) -> int:
        raise NotImplementedError

    def identity(self) -> str:
        raise NotImplementedError

    # Shared.
    def count(self, table: _Table) -> int:
        ((n,),) = self.query(f"SELECT COUNT(*) FROM {table.name}")
        return int(n)

    def read(self, table: _Table, after: Any) -> list[tuple[Any, ...]]:
        """The next batch of ``table`` after the order value ``after``, the order value last."""
        cols = ", ".join(table.names)
        where = f" WHERE {table.order} > ?" if after is not None else ""
        rows = self.query(
            f"SELECT {cols}, {table.order} FROM {table.name}{where} ORDER BY {table.order} LIMIT ?",
            ([after] if after is not None else []) + [BATCH],
        )
        return [self._decode_row(table, row[:-1]) + (row[-1],) for row in rows]

    def lookup(self, table: _Table, keys: Sequence[tuple[Any, ...]]) -> dict[tuple[Any, ...], Any]:
        """The rows of ``table`` with these keys, by key."""
        if not keys:
            return {}
        cols = ", ".join(table.names)
        one = "(" + " AND ".join(f"{k} = ?" for k in table.key) + ")"
        kinds = dict(table.columns)
        params = [
            self.encode(kinds[k], v) for key in keys for k, v in zip(table.key, key, strict=True)
        ]
        rows = self.query(
            f"SELECT {cols} FROM {table.name} WHERE " + " OR ".join([one] * len(keys)), params
        )
        found = {}
        for row in rows:
            decoded = self._decode_row(table, row)
            found[_key(table, decoded)] = decoded
        return found

    def insert(self, table: _Table, row: tuple[Any, ...], extra: dict[str, Any]) -> None:
        names = table.names + tuple(extra)
        values = [self.encode(kind, v) for (_, kind), v in zip(table.columns, row, strict=True)]
        values += list(extra.values())
        marks = ", ".join("?" * len(names))
        self.execute(f"INSERT INTO {table.name} ({', '.join(names)}) VALUES ({marks})", values)

    def update(self, table: _Table, row: tuple[Any, ...], extra: dict[str, Any]) -> None:
        sets = [(n, self.encode(k, v)) for (n, k), v in zip(table.columns, row, strict=True)]
        sets = [(n, v) for n, v in sets if n not in table.key] + list(extra.items())
        kinds = dict(table.columns)
        key = _key(table, row)
        self.execute(
            f"UPDATE {table.name} SET {', '.join(f'{n} = ?' for n, _ in sets)}"
            f" WHERE {' AND '.join(f'{k} = ?' for k in table.key)}",
            [v for _, v in sets]
            + [self.encode(kinds[k], v) for k, v in zip(table.key, key, strict=True)],
        )

    def _decode_row(self, table: _Table, row: Sequence[Any]) -> tuple[Any, ...]:
        return tuple(self.decode(kind, v) for (_, kind), v in zip(table.columns, row, strict=True))


class _SQLiteSide(_Side):
    store: SQLiteStore

    @contextmanager
    def session(self) -> Iterator[None]:
        with self.store._lock, self.store._errors():
            yield

    def _conn(self) -> sqlite3.Connection:
        return self.store._connection()

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        return self._conn().execute(sql, params).fetchall()

    def execute(self, sql: str, params: Sequence[Any] = ()) -> None:
        self._conn().execute(sql, params)

    @contextmanager
    def transaction(self) -> Iterator[None]:
        conn = self._conn()
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise

    def encode(self, kind: str, value: Any) -> Any:
        if value is None:
            return None
        if kind == TS:
            return utc(value).isoformat(timespec="microseconds")  # as SQLiteStore writes it
        if kind == JSON:
            return json.dumps(value, ensure_ascii=False, sort_keys=True)
        return value

    def decode(self, kind: str, value: Any) -> Any:
        if value is None:
            return None
        if kind == TS:
            return utc(datetime.fromisoformat(value))
        if kind == JSON:
            return json.loads(value)
        if kind == BOOL:
            return bool(value)
        return value

    def next_seq(self) -> int:
        conn = self._conn()
        conn.execute("UPDATE counters SET value = value + 1 WHERE name = 'articles'")
        ((seq,),) = conn.execute("SELECT value FROM counters WHERE name = 'articles'").fetchall()
        return int(seq)

    def identity(self) -> str:
        path = self.store._path
        return "sqlite:" + (path if path == MEMORY else os.path.realpath(path))


class _PostgresSide(_Side):
    _pinned: Any = None  # the pooled connection of the current session

    @contextmanager
    def session(self) -> Iterator[None]:
        store: Any = self.store
        with store._errors(), store._connection() as conn:
            self._pinned = conn
            try:
                yield
            finally:
                self._pinned = None

    def _conn(self) -> Any:
        if self._pinned is None:
            raise RuntimeError("a PostgreSQL side is used outside a session")
        return self._pinned

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        return self._conn().execute(sql.replace("?", "%s"), params).fetchall()

    def execute(self, sql: str, params: Sequence[Any] = ()) -> None:
        self._conn().execute(sql.replace("?", "%s"), params)

    @contextmanager
    def transaction(self) -> Iterator[None]:
        with self._conn().transaction():
            yield

    def encode(self, kind: str, value: Any) -> Any:
        if value is not None and kind == JSON:
            from psycopg.types.json import Jsonb

            return Jsonb(value)
        return value

    def decode(self, kind: str, value: Any) -> Any:
        if value is not None and kind == TS:
            return utc(value)
        return value

    def next_seq(self) -> int:
        ((seq,),) = self.query(
            "UPDATE counters SET value = value + 1 WHERE name = 'articles' RETURNING value"
        )
        return int(seq)

    def identity(self) -> str:
        return "postgresql:" + self.store.name  # type: ignore[attr-defined]


def _side(store: Store) -> _Side:
    if isinstance(store, SQLiteStore):
        return _SQLiteSide(store)
    try:
        from .postgres import PostgresStore
    except ImportError:  # pragma: no cover - psycopg missing: no such store either
        PostgresStore = None  # type: ignore[assignment,misc]  # noqa: N806
    if PostgresStore is not None and isinstance(store, PostgresStore):
        return _PostgresSide(store)
    raise StorageError(f"cannot copy a {type(store).__name__}: unknown backend")


def _key(table: _Table, row: Sequence[Any]) -> tuple[Any, ...]:
    index = {name: i for i, name in enumerate(table.names)}
    return tuple(row[index[k]] for k in table.key)


# -- copying -----------------------------------------------------------------


def copy_urls(source_url: str, target_url: str, *, progress: Progress | None = None) -> CopyReport:
    """Open both stores (migrating them), copy, close."""
    with ExitStack() as stack:
        source = stack.enter_context(open_store(source_url))
        target = stack.enter_context(open_store(target_url))
        return copy_store(source, target, progress=progress)


def source_rows(store: Store) -> int:
    """How many rows ``copy_store`` will walk in ``store`` (for a progress bar's total)."""
    side = _side(store)
    with _locked(side):
        return sum(side.count(t) for t in TABLES)


def copy_store(source: Store, target: Store, *, progress: Progress | None = None) -> CopyReport:
    """Copy every row of ``source`` into ``target`` (see the module docstring)."""
    src, dst = _side(source), _side(target)
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
    dst: _Side, table: _Table, rows: list[tuple[Any, ...]], counts: TableCounts
) -> None:
    existing = dst.lookup(table, [_key(table, row) for row in rows])
    clock = table.names.index(table.clock) if table.clock is not None else None
    for row in rows:
        key = _key(table, row)
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


def _bookkeeping(dst: _Side, table: _Table) -> dict[str, Any]:
    """Columns the target fills itself: an article write bumps its change counter."""
    return {"change_seq": dst.next_seq()} if table is ARTICLES else {}


def _later(a: datetime | None, b: datetime | None) -> bool:
    if a is None:
        return False
    return b is None or a > b


@contextmanager
def _locked(side: _Side) -> Iterator[None]:
    """A session on the side's store: every query of ``side`` in it uses one connection."""
    with side.session():
        yield
