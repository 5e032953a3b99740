"""Storage: the Store interface, its backends and the numbered migrations.

    open_store("sqlite:///data/qkfeed.db")     relative to the working directory
                                               (its directory is created if missing)
    open_store("sqlite:////var/lib/qkfeed.db")  absolute path
    open_store("sqlite:///:memory:")            in memory, for tests
    open_store("postgresql://...")              not installed yet (StorageError)

``open_store`` migrates the database before returning it.  Everything that
goes wrong with a database is a ``scraper.errors.StorageError``.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from scraper.errors import StorageError

from .base import Store, UpsertResult
from .sqlite import SQLiteStore

__all__ = ["Store", "UpsertResult", "SQLiteStore", "open_store"]

SQLITE_PREFIX = "sqlite:///"
POSTGRES_SCHEMES = frozenset({"postgresql", "postgres"})


def open_store(url: str) -> Store:
    """The store named by ``url``, migrated and ready."""
    scheme = urlsplit(url).scheme.lower() if "://" in url else ""
    if scheme == "sqlite":
        if not url.startswith(SQLITE_PREFIX) or url == SQLITE_PREFIX:
            raise StorageError(
                "a SQLite storage URL is sqlite:///relative/path.db, sqlite:////absolute/path.db "
                "or sqlite:///:memory:"
            )
        store = SQLiteStore(url[len(SQLITE_PREFIX) :])
    elif scheme in POSTGRES_SCHEMES:
        raise StorageError("PostgreSQL support is not installed yet")
    else:
        # Never echo the URL itself: it may hold a password.
        shown = f"scheme {scheme!r}" if scheme else "a URL without a scheme"
        raise StorageError(
            f"unsupported storage URL ({shown}); expected sqlite:/// or postgresql://"
        )
    try:
        store.migrate()
    except BaseException:
        store.close()
        raise
    return store
