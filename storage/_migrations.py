"""Loading the numbered migrations; backend-neutral.

A migration is ``storage/migrations/NNNN_name.sql``: versions start at 1 and
have no gaps.  Each backend applies the pending ones in order, each in its own
transaction together with its row in ``schema_migrations``, and refuses a
database whose newest applied version is higher than the newest it knows.
Column types that differ between backends are macros (``{timestamp}`` ...)
that the backend expands with its own ``TYPE_MACROS`` mapping.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from importlib import resources

from scraper.errors import StorageError

MIGRATIONS_PACKAGE = "storage.migrations"
TYPE_MACRO_NAMES = frozenset({"id", "timestamp", "bytes", "json"})

# The bookkeeping table every backend creates before applying migration 1.
SCHEMA_MIGRATIONS_SQL = """
CREATE TABLE IF NOT EXISTS schema_migrations (
    version     INTEGER PRIMARY KEY,
    applied_at  {timestamp} NOT NULL
)
"""

_FILE_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")
_MACRO = re.compile(r"\{(" + "|".join(sorted(TYPE_MACRO_NAMES)) + r")\}")


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str  # with type macros not yet expanded


def load_migrations() -> list[Migration]:
    """The bundled migrations, in version order."""
    found = []
    for entry in resources.files(MIGRATIONS_PACKAGE).iterdir():
        match = _FILE_NAME.match(entry.name)
        if match:
            found.append(Migration(int(match[1]), match[2], entry.read_text(encoding="utf-8")))
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
