"""The real-page corpus: Vietnamese news pages nobody here wrote, with hand-checked fields.

``tests/fixtures/real/<id>/expected.json`` holds what a reader sees on the page (checked by
reading its HTML, never by running an extractor) and where the page comes from::

    {"url": canonical URL, "title": headline, "published": "2026-03-07T08:01:00+07:00",
     "published_precision": "day"   (only when the page shows a date without a time),
     "authors": [names as the byline shows them], "agencies": [...]   (only when credited),
     "body_sentence": one sentence copied from the article body,
     "source": {"site", "repository", "commit", "path", "licence", "file", "sha256"}}

The pages themselves are other projects' test files, kept byte for byte as they were
published (``source.sha256`` is checked on every load).  They are data from other
repositories, so they live outside our commits: a page is looked for next to its
``expected.json`` first, then in ``$QKFEED_REAL_PAGES/<id>/`` and in
``../shared/real-pages/<id>/`` (beside the checkout, like the public benchmark in
``../shared/bench/``).  Tests and benchmarks skip a page that is not there.

    for page in corpus():
        if page.available:
            html = page.html()
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import unicodedata
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
REAL_DIR = ROOT / "tests" / "fixtures" / "real"
FIELDS = ("title", "published", "authors", "body")


def page_dirs() -> list[Path]:
    """Where page files are looked for, in order (the corpus directory itself comes first)."""
    dirs = []
    if os.environ.get("QKFEED_REAL_PAGES"):
        dirs.append(Path(os.environ["QKFEED_REAL_PAGES"]))
    dirs.append(ROOT.parent / "shared" / "real-pages")
    return dirs


def norm(text: str | None) -> str:
    """NFC, whitespace runs as one space: how every field is compared."""
    return " ".join(unicodedata.normalize("NFC", text or "").split())


@dataclass(frozen=True)
class RealPage:
    """One corpus page and its hand-checked fields."""

    id: str
    url: str
    title: str
    published: datetime | None
    published_precision: str  # "minute" or "day"
    authors: tuple[str, ...]
    body_sentence: str
    source: dict[str, str]
    agencies: tuple[str, ...] | None = None  # None: the page credits no agency, not compared
    extra: dict[str, Any] = field(default_factory=dict, compare=False)

    @cached_property
    def path(self) -> Path | None:
        """The page file, wherever it was found (None: not on this machine)."""
        name = self.source["file"]
        for base in [REAL_DIR / self.id, *(d / self.id for d in page_dirs())]:
            if (base / name).is_file():
                return base / name
        return None

    @property
    def available(self) -> bool:
        return self.path is not None

    def html(self) -> str:
        """The page's text, after checking its bytes are the published ones."""
        if self.path is None:
            raise FileNotFoundError(f"{self.id}: {self.source['file']} not found in {REAL_DIR / self.id} "
                                    f"or {', '.join(map(str, page_dirs()))}")
        data = self.path.read_bytes()
        digest = hashlib.sha256(data).hexdigest()
        if digest != self.source["sha256"]:
            raise ValueError(f"{self.path}: sha256 {digest} is not the published file's {self.source['sha256']}")
        if self.path.name.endswith(".gz"):  # kept compressed as its repository publishes it
            data = gzip.decompress(data)
        # every page of the corpus declares UTF-8 (checked when it was added)
        return data.decode("utf-8")


def _page(exp_path: Path) -> RealPage:
    exp = json.loads(exp_path.read_text("utf-8"))
    published = datetime.fromisoformat(exp["published"]) if exp.get("published") else None
    if published is not None and published.tzinfo is None:
        raise ValueError(f"{exp_path}: published needs its offset")
    agencies = exp.get("agencies")
    return RealPage(
        id=exp_path.parent.name, url=exp["url"], title=exp["title"], published=published,
        published_precision=exp.get("published_precision", "minute"), authors=tuple(exp["authors"]),
        body_sentence=exp["body_sentence"], source=exp["source"],
        agencies=tuple(agencies) if agencies is not None else None,
    )


def field_ok(page: RealPage, name: str, got: Any) -> bool:
    """Whether one extracted field matches the page: title exact (after ``norm``), publish time
    to the minute (or the day, where the page shows only a date), authors and agencies as sets of
    names (case-insensitive), the body containing the sentence."""
    if name == "title":
        return norm(got) == norm(page.title)
    if name == "published":
        if page.published is None or got is None:
            return page.published is None and got is None
        if page.published_precision == "day":
            return got.astimezone(page.published.tzinfo).date() == page.published.date()
        return got.replace(second=0, microsecond=0) == page.published.replace(second=0, microsecond=0)
    if name in ("authors", "agencies"):
        expected = page.authors if name == "authors" else (page.agencies or ())
        return {norm(a).casefold() for a in got or ()} == {norm(a).casefold() for a in expected}
    if name == "body":
        return norm(page.body_sentence) in norm(got)
    raise ValueError(f"unknown field {name!r}")


def corpus() -> list[RealPage]:
    """Every page of the corpus, sorted by id."""
    return [_page(p) for p in sorted(REAL_DIR.glob("*/expected.json"))]
