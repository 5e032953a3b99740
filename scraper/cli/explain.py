"""``extract --explain``: which rule or selector gave each field, and which candidates lost.

The record itself is made by the extractor (``scraper.extract.trace``); this module turns it
on for one ``extract`` run and prints it: as an ``"explain"`` object in the JSON on stdout,
and as a readable report on stderr (one block per field, the winner first, then the losers
with why).
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, TextIO

from scraper.extract.trace import FieldTrace, Trace, recording

__all__ = ["explaining", "report"]


@contextmanager
def explaining(enabled: bool, stream: TextIO | None = None) -> Iterator[Trace | None]:
    """Record the extraction inside the block when ``enabled``; if it fails, what was decided
    before the failure is still reported (a profile writer wants to see where it stopped)."""
    if not enabled:
        yield None
        return
    with recording() as trace:
        try:
            yield trace
        except Exception:
            (stream or sys.stderr).write(report(trace, partial=True))
            raise


def _quoted(value: Any) -> str:
    if value is None:
        return "(nothing)"
    text = str(value).replace("\n", " ")
    return f'"{text}"'


def _rule(rule: str | None, selector: str | None) -> str:
    return f"{rule} `{selector}`" if selector else str(rule)


def _block(name: str, f: FieldTrace) -> list[str]:
    lines = [f"{name}: {_rule(f.rule, f.selector)}", f"    value: {_quoted(f.value)}"]
    if f.why:
        lines.append(f"    why:   {f.why}")
    for c in f.lost:
        lines.append(f"  lost: {_rule(c.rule, c.selector)}: {_quoted(c.value)}")
        lines.append(f"        {c.why}")
    return lines


def report(trace: Trace, *, partial: bool = False) -> str:
    """The readable report: one block per field, the winner first, then the losers."""
    lines = ["explain: extraction stopped; the fields decided so far" if partial else "explain:"]
    for name, f in trace.fields.items():
        if partial and f.rule is None and not f.lost:
            continue
        lines += _block(name, f)
    return "\n".join(lines) + "\n"
