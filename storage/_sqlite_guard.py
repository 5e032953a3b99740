"""Guarding a SQLite store's file: what makes it unusable, told in a short reason.

A long-running service holds the database open.  If the file is deleted (or
replaced: ``mv other.db qk.db``, a restore from backup) under it, SQLite keeps
writing to the unlinked inode and every write is lost at the next restart.  So
the store remembers the file's ``(st_dev, st_ino)`` at open, compares it before
every write transaction and in ``check``, and once it differs refuses every
further write (sticky: only a restart opens the file that is there now).

Failures SQLite reports are reduced to a short reason by their primary result
code (``REASONS``: disk full, read-only, corrupted, I/O error).  The last one
is remembered for ``check``: a full disk or a read-only file until a later
write commits, a corrupted file until the process ends (the next start's
``PRAGMA quick_check`` decides).

Everything here is a ``stat``/``statvfs`` call or an attribute read: cheap
enough for every write and every health probe.
"""

from __future__ import annotations

import os
import sqlite3
import threading

__all__ = ["FileGuard", "short_reason"]

MEMORY = ":memory:"
# Primary result codes (the low byte of an extended code) and what a person is told.
REASONS = {
    sqlite3.SQLITE_FULL: "disk full",
    sqlite3.SQLITE_READONLY: "read-only",
    sqlite3.SQLITE_CORRUPT: "corrupted",
    sqlite3.SQLITE_NOTADB: "corrupted",
    sqlite3.SQLITE_IOERR: "I/O error",
    sqlite3.SQLITE_CANTOPEN: "cannot open the file",
}
# Reasons a later successful commit clears (space freed, remounted read-write).
TRANSIENT = frozenset({"disk full", "read-only", "I/O error", "cannot open the file"})
MAX_DETAIL = 200  # characters of SQLite's own message kept in a reason


def short_reason(exc: sqlite3.Error) -> str | None:
    """"disk full", "read-only", "corrupted", ... for ``exc``, or None if it is none of them."""
    code = getattr(exc, "sqlite_errorcode", None)
    return REASONS.get(code & 0xFF) if isinstance(code, int) else None


class FileGuard:
    """The identity of one database file, and the last failure seen on it."""

    def __init__(self, path: str) -> None:
        self.path = path if path == MEMORY else os.path.abspath(path)
        self._identity = self._stat_id()
        self._lost: str | None = None
        self._failure: str | None = None
        self._lock = threading.Lock()

    def _stat_id(self) -> tuple[int, int] | None:
        if self.path == MEMORY:
            return None
        try:
            info = os.stat(self.path)
        except FileNotFoundError:
            return None
        return info.st_dev, info.st_ino

    def lost(self) -> str | None:
        """Why the open file is no longer the one at the path (sticky), or None."""
        if self._lost is not None or self.path == MEMORY:
            return self._lost
        try:
            now = self._stat_id()
        except OSError as exc:  # e.g. the directory became unreadable
            now, detail = None, exc.strerror
        else:
            detail = None
        if now == self._identity:
            return None
        if now is None:
            reason = "the database file was deleted while the store had it open"
            reason += f" ({detail})" if detail else ""
        else:
            reason = "the database file was replaced while the store had it open (device/inode changed)"
        with self._lock:
            self._lost = self._lost or reason
        return self._lost

    def note_error(self, exc: sqlite3.Error) -> str | None:
        """Remember ``exc``'s short reason for ``check``; return it (None: not a storage fault)."""
        reason = short_reason(exc)
        if reason is not None:
            with self._lock:
                if self._failure != "corrupted":  # corruption outranks what follows it
                    self._failure = reason
        return reason

    def note_commit(self) -> None:
        """A write committed: a full disk or read-only file is fine again."""
        if self._failure in TRANSIENT:
            with self._lock:
                if self._failure in TRANSIENT:
                    self._failure = None

    def check(self) -> str | None:
        """The first reason the file cannot be trusted with writes now, or None."""
        lost = self.lost()
        if lost is not None:
            return lost
        if self._failure is not None:
            return f"the last operation failed: {self._failure}"
        if self.path != MEMORY and _read_only_mount(self.path):
            return "read-only: the file system holding the database is mounted read-only"
        return None


def _read_only_mount(path: str) -> bool:
    try:
        return bool(os.statvfs(path).f_flag & os.ST_RDONLY)
    except (OSError, AttributeError):  # statvfs is POSIX only
        return False
