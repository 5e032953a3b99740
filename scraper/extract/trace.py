"""Why each field came out as it did: a record of the extractor's own decisions.

``run.py extract --explain`` is for people writing site profiles: which selector or rule
gave the title, the date, the authors, the lead, the body and the image, and which
candidates lost and why.  The record is written *at the decision points themselves*
(``article.py``, ``metadata.py``, ``published.py``, ``scoring.py`` …), so it says what the
code did, not what a second reading of the page thinks it did.

A ``ContextVar`` holds the trace; it is None unless ``recording()`` is active, so the
normal path pays one ``current() is None`` check per hook and builds nothing.  Hooks that
would cost anything to describe (a CSS-like path, a ranking of containers) sit behind
``if (t := current()) is not None``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

from scraper.html import HtmlElement, select_all

__all__ = ["FIELDS", "Candidate", "FieldTrace", "Trace", "current", "element_path", "recording", "short"]

FIELDS = ("title", "published", "authors", "lead", "body", "image")
MAX_VALUE = 120  # characters of a value shown (a body is long)
PATH_DEPTH = 4  # steps of a CSS-like path at most (``div#main > article > div.body``)
_URL = re.compile(r"(?:https?:)?//\S+|/\S*")
_NAME = re.compile(r"-?[A-Za-z_][\w-]*")  # a class or id CSS can name without escapes

_current: ContextVar[Trace | None] = ContextVar("qkfeed_extract_trace", default=None)


@dataclass
class Candidate:
    """One rule's candidate that lost: what it would have given and why it did not win."""

    rule: str
    value: Any
    why: str
    selector: str | None = None


@dataclass
class FieldTrace:
    """The rule (and selector, if one) that gave a field its value, and the candidates that lost."""

    rule: str | None = None
    selector: str | None = None
    value: Any = None
    why: str | None = None
    lost: list[Candidate] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "rule": self.rule, "selector": self.selector, "value": self.value, "why": self.why,
            "lost": [{"rule": c.rule, "selector": c.selector, "value": c.value, "why": c.why} for c in self.lost],
        }  # fmt: skip


@dataclass
class Trace:
    """Per field, the winner and the losers, in the order the extractor met them."""

    fields: dict[str, FieldTrace] = field(default_factory=lambda: {name: FieldTrace() for name in FIELDS})
    notes: dict[str, Any] = field(default_factory=dict)  # what one decision point tells a later one

    def won(self, name: str, rule: str, value: Any, *, selector: str | None = None, why: str | None = None) -> None:
        """``rule`` gave the field (replacing any winner so far: ``overridden`` first keeps it as a loser)."""
        f = self.fields.setdefault(name, FieldTrace())
        f.rule, f.selector, f.value, f.why = rule, selector, short(value), why

    def lost(self, name: str, rule: str, value: Any, why: str, *, selector: str | None = None) -> None:
        self.fields.setdefault(name, FieldTrace()).lost.append(Candidate(rule, short(value), why, selector))

    def overridden(self, name: str, why: str) -> None:
        """The current winner of ``name`` loses to what the next ``won`` names."""
        f = self.fields.setdefault(name, FieldTrace())
        if f.rule is not None:
            f.lost.append(Candidate(f.rule, f.value, why, f.selector))
            f.rule = f.selector = f.value = f.why = None

    def finish(self, body_text: str) -> None:
        """The body's value is its text once cleaned; a field no rule gave is "none found"."""
        self.fields["body"].value = short(body_text)
        for f in self.fields.values():
            if f.rule is None:
                f.rule = "none found"

    def as_dict(self) -> dict[str, Any]:
        return {name: f.as_dict() for name, f in self.fields.items()}


def current() -> Trace | None:
    """The trace being recorded, or None (the normal path)."""
    return _current.get()


@contextmanager
def recording() -> Iterator[Trace]:
    """Record the decisions of the extraction run inside the block."""
    trace = Trace()
    token = _current.set(trace)
    try:
        yield trace
    finally:
        _current.reset(token)


def short(value: Any) -> Any:
    """A value as shown: long text cut, with its length (a URL is shown whole)."""
    if isinstance(value, str) and len(value) > MAX_VALUE and not _URL.fullmatch(value):
        return f"{value[:MAX_VALUE].rstrip()}… ({len(value)} characters)"
    return value


def _step(el: HtmlElement) -> str:
    tag = el.tag if isinstance(el.tag, str) else "*"
    eid = (el.get("id") or "").strip()
    if eid and _NAME.fullmatch(eid):
        return f"{tag}#{eid}"
    classes = [c for c in (el.get("class") or "").split() if _NAME.fullmatch(c)]
    return tag + "".join(f".{c}" for c in classes[:2])


def element_path(el: HtmlElement | None) -> str | None:
    """A short CSS-like path a profile can use: ``div.article-body``, ``div#main > article``,
    one step more from the element up until it names only that element (or reaches an id)."""
    if el is None:
        return None
    root = el.getroottree().getroot()
    steps: list[str] = []
    node: HtmlElement | None = el
    while node is not None and node.tag not in ("body", "html") and len(steps) < PATH_DEPTH:
        steps.insert(0, _step(node))
        path = " > ".join(steps)
        if "#" in steps[0] or len(select_all(root, path)) == 1:
            break
        node = node.getparent()
    return " > ".join(steps) or _step(el)  # (the <body> itself)
