"""config.toml -> ``Config``: reading the file, folding each source's profile, and the
error wording.

Every mistake becomes one ``ConfigError`` line naming the file, the dotted key
and the problem, in the config's words (TOML types, not pydantic's); several
problems of one file are named at once.  The models themselves are
``scraper.config``.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from scraper.config import DEFAULT_CONFIG_PATH, PROFILE_KEYS, Config
from scraper.errors import ConfigError

__all__ = ["config_from_dict", "load_config"]

_SOURCE_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


def _fold_profile(path: str, sid: str, raw: dict[str, Any]) -> dict[str, Any]:
    """Accept selectors either in ``[sources.X.profile]`` or directly on the source."""
    raw = dict(raw)
    profile = raw.pop("profile", {})
    if not isinstance(profile, dict):
        raise ConfigError(path, f"sources.{sid}.profile", "must be a table of CSS selectors")
    profile = dict(profile)
    for key in PROFILE_KEYS:
        if key in raw:
            if key in profile:
                raise ConfigError(path, f"sources.{sid}.{key}", "given both on the source and in its profile")
            profile[key] = raw.pop(key)
    raw["profile"] = profile
    raw["id"] = sid
    if "feed_urls" in raw and "start_urls" not in raw:
        raw["start_urls"] = []  # a source that lists through its feeds only
    return raw


def _dotted(loc: tuple[Any, ...]) -> str:
    # pydantic puts validator and union-member names into loc; keep only real keys
    noise = {"str", "float", "int", "bool", "dict", "list", "tuple"}
    parts = [str(p) for p in loc]
    return ".".join(p for p in parts if p not in noise and "[" not in p)


def config_from_dict(data: dict[str, Any], path: str = "<config>") -> Config:
    """Validate a parsed TOML document; raise ConfigError with the first problem."""
    data = dict(data)
    sources = data.get("sources", {})
    if not isinstance(sources, dict):
        raise ConfigError(path, "sources", "must be a table of [sources.ID] tables")
    folded: dict[str, Any] = {}
    for sid, raw in sources.items():
        if not _SOURCE_ID.match(sid):
            raise ConfigError(path, f"sources.{sid}", "source ids may use only letters, digits, '-' and '_'")
        if not isinstance(raw, dict):
            raise ConfigError(path, f"sources.{sid}", "must be a table")
        folded[sid] = _fold_profile(path, sid, raw)
    data["sources"] = folded
    data["path"] = path
    try:
        return Config.model_validate(data)
    except ValidationError as exc:
        problems = list(dict.fromkeys((_dotted(e["loc"]) or None, _human(e)) for e in exc.errors()))
        if len(problems) == 1:
            raise ConfigError(path, *problems[0]) from None
        # every problem at once (three broken selectors: three names, not one per try)
        raise ConfigError(path, None, "; ".join(f"{k}: {m}" if k else m for k, m in problems)) from None


# pydantic's error types -> what to write instead, in the config's words (TOML types)
_HUMAN = {
    "extra_forbidden": "unknown key",
    "missing": "required key is missing",
    "string_type": "must be a string (in quotes)",
    "int_type": "must be a whole number",
    "int_from_float": "must be a whole number",
    "float_type": "must be a number",
    "bool_type": "must be true or false",
    "tuple_type": "must be a list, e.g. [\"a\", \"b\"]",
    "list_type": "must be a list, e.g. [\"a\", \"b\"]",
    "dict_type": "must be a table",
    "model_type": "must be a table",
}


def _human(err: Any) -> str:
    """One pydantic error as a person fixing a TOML file reads it."""
    if err["type"] in _HUMAN:
        return _HUMAN[err["type"]]
    msg = str(err["msg"]).removeprefix("Value error, ")
    return msg.replace("Input should be", "must be")


def load_config(path: str | Path = DEFAULT_CONFIG_PATH) -> Config:
    """Read and validate a TOML config file."""
    p = Path(path)
    try:
        raw = p.read_bytes()
    except FileNotFoundError:
        raise ConfigError(str(p), None, "file not found") from None
    except OSError as exc:
        raise ConfigError(str(p), None, f"cannot read: {exc.strerror}") from None
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise ConfigError(str(p), None, "not UTF-8 text") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(str(p), None, f"invalid TOML: {exc}") from None
    return config_from_dict(data, str(p))
