"""Storage: the Store interface, its backends and the numbered migrations.

``storage.copy.copy_store`` moves a whole archive from one store to another.

    open_store("sqlite:///data/qkfeed.db")     relative to the working directory
                                               (its directory is created if missing)
    open_store("sqlite:////var/lib/qkfeed.db")  absolute path
    open_store("sqlite:///:memory:")            in memory, for tests
    open_store("postgresql://user:pw@host:5432/qkfeed")   PostgreSQL (also postgres://;
                                               needs psycopg: pip install '.[postgres]')

``open_store`` migrates the database before returning it.  Everything that
goes wrong with a database is a ``scraper.errors.StorageError``; a URL that names no
store at all (unknown scheme, ``sqlite:///`` without a path) is its subclass
``StorageURLError``, which the CLI reports as a usage error (exit 2).
"""

from __future__ import annotations

from scraper.errors import StorageError, StorageURLError

from .base import Store, StoreLost, UpsertResult
from .sqlite import SQLiteStore

__all__ = ["Store", "StoreLost", "UpsertResult", "SQLiteStore", "check_url", "open_store"]

SQLITE_PREFIX = "sqlite:///"
POSTGRES_SCHEMES = frozenset({"postgresql", "postgres"})


def check_url(url: str) -> str:
    """The backend a storage URL names (``sqlite`` or ``postgresql``), or ``StorageURLError``
    when it names none: checked before anything is opened (``copy`` checks both ends first)."""
    scheme = url.partition("://")[0].lower() if "://" in url else ""
    if scheme == "sqlite":
        if not url.startswith(SQLITE_PREFIX) or url == SQLITE_PREFIX:
            raise StorageURLError(
                "a SQLite storage URL is sqlite:///relative/path.db, sqlite:////absolute/path.db "
                "or sqlite:///:memory:"
            )
        return "sqlite"
    if scheme.split("+", 1)[0] in POSTGRES_SCHEMES:
        return "postgresql"
    # Never echo the URL itself: it may hold a password.
    shown = f"scheme {scheme!r}" if scheme else "a URL without a scheme"
    raise StorageURLError(f"unsupported storage URL ({shown}); expected sqlite:/// or postgresql://")


def open_store(url: str, *, pool_size: int | None = None) -> Store:
    """The store named by ``url``, migrated and ready.

    ``pool_size``: PostgreSQL connections per store at most (default
    ``storage.postgres.DEFAULT_POOL_SIZE``); SQLite has one connection.
    """
    store: Store
    if check_url(url) == "sqlite":
        store = SQLiteStore(url[len(SQLITE_PREFIX) :])
    else:
        try:
            from .postgres import PostgresStore
        except ImportError as exc:
            raise StorageError(
                "PostgreSQL support needs psycopg: pip install '.[postgres]' "
                "(in qkfeed's source folder)"
            ) from exc
        store = PostgresStore(url) if pool_size is None else PostgresStore(url, pool_size=pool_size)
    try:
        store.migrate()
    except BaseException:
        store.close()
        raise
    return store
