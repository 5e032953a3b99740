"""Raw, per-backend access to a store's tables for ``storage.copy``.

A side reads and writes the tables through the store's own connection
(``SQLiteStore``'s one connection under its lock, one pooled connection of a
``PostgresStore`` held for a session) and converts values to and from a
neutral Python form, so the copy logic never sees a backend's encodings.
"""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from scraper.errors import StorageError

from ._copy_tables import BATCH, BOOL, JSON, TS, Table, row_key
from .base import Store, utc
from .sqlite import MEMORY, SQLiteStore


class Side:
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
    def count(self, table: Table) -> int:
        ((n,),) = self.query(f"SELECT COUNT(*) FROM {table.name}")
        return int(n)

    def read(self, table: Table, after: Any) -> list[tuple[Any, ...]]:
        """The next batch of ``table`` after the order value ``after``, the order value last."""
        cols = ", ".join(table.names)
        where = f" WHERE {table.order} > ?" if after is not None else ""
        rows = self.query(
            f"SELECT {cols}, {table.order} FROM {table.name}{where} ORDER BY {table.order} LIMIT ?",
            ([after] if after is not None else []) + [BATCH],
        )
        return [self._decode_row(table, row[:-1]) + (row[-1],) for row in rows]

    def lookup(self, table: Table, keys: Sequence[tuple[Any, ...]]) -> dict[tuple[Any, ...], Any]:
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
            found[row_key(table, decoded)] = decoded
        return found

    def insert(self, table: Table, row: tuple[Any, ...], extra: dict[str, Any]) -> None:
        names = table.names + tuple(extra)
        values = [self.encode(kind, v) for (_, kind), v in zip(table.columns, row, strict=True)]
        values += list(extra.values())
        marks = ", ".join("?" * len(names))
        self.execute(f"INSERT INTO {table.name} ({', '.join(names)}) VALUES ({marks})", values)

    def update(self, table: Table, row: tuple[Any, ...], extra: dict[str, Any]) -> None:
        sets = [(n, self.encode(k, v)) for (n, k), v in zip(table.columns, row, strict=True)]
        sets = [(n, v) for n, v in sets if n not in table.key] + list(extra.items())
        kinds = dict(table.columns)
        key = row_key(table, row)
        self.execute(
            f"UPDATE {table.name} SET {', '.join(f'{n} = ?' for n, _ in sets)}"
            f" WHERE {' AND '.join(f'{k} = ?' for k in table.key)}",
            [v for _, v in sets]
            + [self.encode(kinds[k], v) for k, v in zip(table.key, key, strict=True)],
        )

    def _decode_row(self, table: Table, row: Sequence[Any]) -> tuple[Any, ...]:
        return tuple(self.decode(kind, v) for (_, kind), v in zip(table.columns, row, strict=True))


class _SQLiteSide(Side):
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


class _PostgresSide(Side):
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


def side_for(store: Store) -> Side:
    if isinstance(store, SQLiteStore):
        return _SQLiteSide(store)
    try:
        from .postgres import PostgresStore
    except ImportError:  # pragma: no cover - psycopg missing: no such store either
        PostgresStore = None  # type: ignore[assignment,misc]  # noqa: N806
    if PostgresStore is not None and isinstance(store, PostgresStore):
        return _PostgresSide(store)
    raise StorageError(f"cannot copy a {type(store).__name__}: unknown backend")
