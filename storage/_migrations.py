"""Loading the numbered migrations; backend-neutral.

A migration is ``storage/migrations/NNNN_name.sql``: versions start at 1 and
have no gaps.  Each backend applies the pending ones in order, each in its own
transaction together with its row in ``schema_migrations``, and refuses a
database whose newest applied version is higher than the newest it knows.
Column types that differ between backends are macros (``{timestamp}`` ...)
that the backend expands with its own ``TYPE_MACROS`` mapping.

Where more than a column type differs (full-text search: an FTS5 table and
triggers in SQLite, a GIN expression index in PostgreSQL), a version is
written once per backend instead: ``NNNN_name.sqlite.sql`` and
``NNNN_name.postgresql.sql``, both required, same name, and no shared
``NNNN_name.sql`` beside them.  ``Migration.sql_for(backend)`` picks the text.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from importlib import resources

from scraper.errors import StorageError

MIGRATIONS_PACKAGE = "storage.migrations"
TYPE_MACRO_NAMES = frozenset({"id", "timestamp", "bytes", "json"})
BACKENDS = ("sqlite", "postgresql")

# The bookkeeping table every backend creates before applying migration 1.
SCHEMA_MIGRATIONS_SQL = """
CREATE TABLE IF NOT EXISTS schema_migrations (
    version     INTEGER PRIMARY KEY,
    applied_at  {timestamp} NOT NULL
)
"""

_FILE_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)(?:\.(" + "|".join(BACKENDS) + r"))?\.sql$")
_MACRO = re.compile(r"\{(" + "|".join(sorted(TYPE_MACRO_NAMES)) + r")\}")


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str  # with type macros not yet expanded; "" when every backend has its own
    per_backend: Mapping[str, str] = field(default_factory=dict)  # backend -> its own SQL

    def sql_for(self, backend: str) -> str:
        """The SQL ``backend`` ("sqlite" or "postgresql") applies for this version."""
        return self.per_backend.get(backend, self.sql)


def load_migrations() -> list[Migration]:
    """The bundled migrations, in version order."""
    shared: dict[int, tuple[str, str]] = {}
    variants: dict[int, dict[str, tuple[str, str]]] = {}
    for entry in resources.files(MIGRATIONS_PACKAGE).iterdir():
        match = _FILE_NAME.match(entry.name)
        if not match:
            continue
        version, name, backend = int(match[1]), match[2], match[3]
        text = entry.read_text(encoding="utf-8")
        if backend is None:
            if version in shared:
                raise StorageError(f"two migrations numbered {version:04d}")
            shared[version] = (name, text)
        else:
            variants.setdefault(version, {})[backend] = (name, text)
    found = [Migration(v, name, sql) for v, (name, sql) in shared.items()]
    for version, by_backend in variants.items():
        names = {name for name, _ in by_backend.values()}
        missing = [b for b in BACKENDS if b not in by_backend]
        if version in shared or missing or len(names) != 1:
            problem = (
                "a shared file beside per-backend ones" if version in shared
                else f"no file for {', '.join(missing)}" if missing
                else "per-backend files with different names"
            )
            raise StorageError(f"migration {version:04d}: {problem}")
        found.append(
            Migration(
                version,
                names.pop(),
                "",
                {backend: text for backend, (_, text) in by_backend.items()},
            )
        )
    return check_sequence(found)


def check_sequence(migrations: Sequence[Migration]) -> list[Migration]:
    """Sort by version and insist on 1, 2, 3 ... without gaps or duplicates."""
    ordered = sorted(migrations, key=lambda m: m.version)
    for expected, migration in enumerate(ordered, start=1):
        if migration.version != expected:
            raise StorageError(
                f"migrations are not numbered 1..{len(ordered)}: found "
                f"{migration.version:04d}_{migration.name} where {expected:04d} was expected"
            )
    return ordered


def expand_types(sql: str, macros: Mapping[str, str]) -> str:
    """Replace ``{timestamp}`` etc. with the backend's column types."""
    return _MACRO.sub(lambda m: macros[m[1]], sql)


def newer_schema_error(found: int, known: int) -> StorageError:
    return StorageError(
        f"database schema version {found} is newer than this qkfeed (knows {known}); upgrade qkfeed"
    )
