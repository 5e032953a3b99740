"""No package of qkfeed imports a dependency's private module or name.

A private import (a module path component or an imported name starting with
``_``, or a module a library documents as internal) ties qkfeed to one
release of that library; the project's rule is its public API only.  The scan
reads every module of ``scraper/``, ``feeds/`` and ``storage/`` with ``ast``
(imports inside functions count too) and skips qkfeed's own packages.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("scraper", "feeds", "storage")
OWN = frozenset(PACKAGES)
# internal modules of dependencies that have no leading underscore
INTERNAL_MODULES = ("uvicorn.protocols", "aiohttp.client_proto", "granian.server.common")


def _modules() -> list[Path]:
    return sorted(p for package in PACKAGES for p in (ROOT / package).rglob("*.py"))


def private_imports(source: str) -> list[str]:
    """The private imports in ``source``, as ``module`` or ``module.name`` strings."""
    found: list[str] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            targets = [(alias.name, None) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            targets = [(node.module, alias.name) for alias in node.names]
        else:
            continue  # relative imports are qkfeed's own
        for module, name in targets:
            parts = module.split(".")
            if parts[0] in OWN or parts[0] == "__future__":
                continue
            private_module = any(p.startswith("_") for p in parts) or any(
                module == m or module.startswith(m + ".") for m in INTERNAL_MODULES
            )
            if private_module or (name is not None and name.startswith("_")):
                found.append(module if name is None else f"{module}.{name}")
    return found


def test_the_scan_finds_what_it_must() -> None:
    source = (
        "import uvicorn.protocols.http.httptools_impl\n"
        "from aiohttp.client_proto import ResponseHandler\n"
        "from httpx._client import Client\n"
        "from granian.asgi import _callback_wrapper\n"
        "def f():\n    from starlette._utils import is_async_callable\n"
        "import httpx\nfrom starlette.responses import Response\nfrom scraper._x import y\n"
        "from . import _ours\n"
    )
    assert private_imports(source) == [
        "uvicorn.protocols.http.httptools_impl",
        "aiohttp.client_proto.ResponseHandler",
        "httpx._client.Client",
        "granian.asgi._callback_wrapper",
        "starlette._utils.is_async_callable",
    ]


@pytest.mark.parametrize("path", _modules(), ids=lambda p: str(p.relative_to(ROOT)))
def test_no_private_imports(path: Path) -> None:
    found = private_imports(path.read_text(encoding="utf-8"))
    assert not found, f"{path.relative_to(ROOT)} imports private parts of a dependency: {found}"
