"""PostgreSQL database names that are safe to print: the password never reaches a message.

A storage URL may hold a password (``postgresql://user:pw@host/db``); every
message about the database names it as ``user@host:port/dbname`` instead, and
every error text from libpq is scrubbed of the password before it is shown.
"""

from __future__ import annotations

import re
from urllib.parse import unquote

import psycopg
import psycopg.errors
from psycopg.conninfo import conninfo_to_dict

from scraper.errors import StorageError

__all__ = ["describe", "display_name", "parse_url", "scrub"]

PRIVILEGES_HINT = "check the role's privileges on the database"
# The short reason added to a message, by SQLSTATE class (the same words as SQLite's).
REASONS: tuple[tuple[type[psycopg.Error] | tuple[type[psycopg.Error], ...], str], ...] = (
    (psycopg.errors.DiskFull, "disk full"),
    (psycopg.errors.ReadOnlySqlTransaction, "read-only"),
    ((psycopg.errors.DataCorrupted, psycopg.errors.IndexCorrupted), "corrupted"),
)
MAX_DETAIL = 300  # characters of the server's message kept
# A password shorter than this is not scrubbed from messages (it would mangle them).
MIN_SCRUB_LENGTH = 3

# The password of user:password@host (what urlsplit cannot parse is still scrubbed).
_USERINFO = re.compile(r"[^@/?#]*?:([^@/?#]*)@")


def describe(exc: psycopg.Error, secret: str | None) -> str:
    """One line about ``exc``, without the password."""
    primary = exc.diag.message_primary if exc.diag is not None else None
    text = primary or " ".join(s.strip() for s in str(exc).splitlines() if s.strip())
    if isinstance(exc, psycopg.errors.InsufficientPrivilege):
        text += f" ({PRIVILEGES_HINT})"
    for kinds, reason in REASONS:
        if isinstance(exc, kinds):
            text += f" ({reason})"
            break
    return scrub((text or type(exc).__name__)[:MAX_DETAIL], secret)


def display_name(url: str) -> str:
    """``user@host:port/dbname`` of a PostgreSQL URL: safe to print (no password)."""
    return parse_url(url)[1]


def parse_url(url: str) -> tuple[str, str, str | None]:
    """(conninfo for libpq, display name, password) of a ``postgresql://`` URL.

    ``postgres://`` and ``postgresql+driver://`` are accepted as well.
    """
    scheme, sep, rest = url.partition("://")
    if not sep or scheme.lower().split("+", 1)[0] not in ("postgresql", "postgres"):
        raise StorageError("a PostgreSQL storage URL starts with postgresql://")
    conninfo = "postgresql://" + rest
    userinfo = _USERINFO.match(rest)
    secret = unquote(userinfo[1]) if userinfo else None
    try:
        params = conninfo_to_dict(conninfo)
    except psycopg.Error as exc:
        # libpq may quote the whole URL back: never show it.
        text = " ".join(str(exc).replace(conninfo, "<url>").split())
        if userinfo:
            text = text.replace(userinfo[1], "***")
        raise StorageError(f"invalid PostgreSQL URL: {scrub(text, secret)}") from exc
    secret = params.get("password") or secret
    user = params.get("user")
    host = params.get("host") or "localhost"
    port = params.get("port")
    dbname = params.get("dbname") or user or ""
    name = (f"{user}@" if user else "") + host + (f":{port}" if port else "") + f"/{dbname}"
    return conninfo, scrub(name, secret), secret


def scrub(text: str, secret: str | None) -> str:
    if secret and len(secret) >= MIN_SCRUB_LENGTH:
        return text.replace(secret, "***")
    return text
