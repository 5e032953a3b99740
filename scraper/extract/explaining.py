"""The decisions of ``article.py``, ``scoring.py``, ``rescue.py`` and ``thin.py`` written into the
trace (``--explain``).

Called only when a trace is being recorded (``trace.current()`` is not None), from the line
where the decision was taken, with the values the extractor itself used: these functions
describe the decision, they do not take it again.  Title and date are described beside their
rules (``metadata.py``, ``published.py``); the rest is here, to keep ``article.py`` and
``scoring.py`` about extraction.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from scraper.extract.trace import Trace, element_path
from scraper.html import HtmlElement, meta_content, text_of
from scraper.urls import absolute_url

if TYPE_CHECKING:
    from scraper.extract.authors import MetaAuthors
    from scraper.extract.scoring import BlockScores

__all__ = [
    "NOSCRIPT_RULE",
    "RESCUE_RULE",
    "explain_authors",
    "explain_body",
    "explain_image",
    "explain_lead",
    "explain_noscript",
    "explain_rescue",
    "explain_summary",
]

MAX_LOSERS = 3  # containers shown beside the chosen one
META_SOURCES = {"json-ld": "JSON-LD author", "meta": "<meta name=author>", "markup": "itemprop/rel=author"}
# The body's rule when a fallback of rescue.py or thin.py decided it.
RESCUE_RULE = "zones loosened: hints would have eaten the article"
NOSCRIPT_RULE = "text from <noscript>"
SUMMARY_RULE = "the page's stated summary ({}) as the body: no article text in the HTML"
SUMMARY_SOURCES = (("og:description", "og:description"), ("twitter:description", "twitter:description"),
                   ("description", "<meta name=description>"))


def _names(authors: tuple[str, ...], agencies: tuple[str, ...]) -> str:
    shown = ", ".join(authors)
    if agencies:
        shown += f"{'; ' if shown else ''}agencies: {', '.join(agencies)}"
    return shown


def explain_authors(t: Trace, end: str | None, byline: str | None, meta: MetaAuthors, ld_people: bool,
                    meta_won: bool) -> None:
    """The generic author decision: the byline at the body's end, one around the text
    (``authormark``, noted in the trace when found), or the metadata's people."""
    around = t.notes.get("authors.around")  # (rule, selector, text)
    lines = [("byline at the body's end", None, end)] if end else []
    if around:
        lines.append(around)
    meta_rule = f"metadata {META_SOURCES.get(meta.source, '(agencies only)')}"
    if meta_won:
        why = "JSON-LD names the people one by one" if ld_people else "no byline names a person or an agency"
        t.won("authors", meta_rule, _names(meta.authors, meta.agencies), why=why)
        for rule, sel, text in lines:
            lost_why = ("JSON-LD people beat a byline line (its agencies are still kept)" if ld_people
                        else "names no person or agency")
            t.lost("authors", rule, text, lost_why, selector=sel)
        return
    winner = around if around and around[2] == byline else lines[0] if lines and byline else None
    if winner is None:
        t.won("authors", "none found", None, why="no byline and no author in the metadata")
        return
    why = "the byline at the body's end names no person" if winner is around and end else None
    t.won("authors", winner[0], byline, selector=winner[1], why=why)
    for rule, sel, text in lines:
        if (rule, sel, text) != tuple(winner):
            t.lost("authors", rule, text, "names no person", selector=sel)
    if meta:
        t.lost("authors", meta_rule, _names(meta.authors, meta.agencies),
               "a byline naming people beats <meta>/markup authors (often the site's name)")


def explain_lead(t: Trace, lead_el: HtmlElement | None) -> None:
    """The generic lead: an element with a lead/sapo class between the title and the body."""
    if lead_el is None:
        t.won("lead", "none found", None,
              why="no lead/sapo box between the title and the body: the summary is the body's first paragraph")
    else:
        t.won("lead", "lead/sapo class between the title and the body", text_of(lead_el),
              selector=element_path(lead_el))


def explain_image(t: Trace, root: HtmlElement, ld_image: str | None, url: str, chosen: str | None) -> None:
    """The metadata images, winning when the profile gave none (``chosen`` is None)."""
    found = [(f"<meta {k}>", meta_content(root, k)) for k in ("og:image", "twitter:image")]
    found = [(rule, absolute_url(url, value)) for rule, value in (*found, ("JSON-LD image", ld_image)) if value]
    first = None
    for rule, value in found:
        if chosen is not None:
            t.lost("image", rule, value, "the profile's selector comes first")
        elif first is None:
            first = rule
            t.won("image", rule, value, why="the first metadata image (og:image, twitter:image, JSON-LD)")
        else:
            t.lost("image", rule, value, f"{first} comes first")


def explain_body(t: Trace, page: BlockScores, found: HtmlElement | None, best: HtmlElement | None,
                 photo_story: bool) -> None:
    """The chosen container and the best few losers, with the scores ``scoring`` ranked them by."""
    from scraper.extract.scoring import (  # (it imports this module)
        BOILERPLATE_WEIGHT,
        MAIN_BONUS,
        container_score,
    )

    loosened = t.notes.pop("body.rescue", None)  # rescue.py, on this scoring of the page
    if found is None:
        t.won("body", "none found", None, why="no block of prose on the page")
        return
    scored = [(s, i) for i in range(len(page.order))
              if (s := container_score(page, i, with_captions=photo_story)) is not None]  # fmt: skip
    scores = {i: s for s, i in scored}
    fi = page.index[found]

    def formula(i: int) -> str:
        prose = page.content[i] + (page.captioned[i] if photo_story else 0)
        score = scores.get(i, 0.0)
        hinted = score != prose - BOILERPLATE_WEIGHT * page.junk[i]  # the article-body bonus was applied
        bonus = f", × {MAIN_BONUS:g} for an article-body hint" if hinted else ""
        return f"score {score:.0f} = prose {prose:.0f} − {BOILERPLATE_WEIGHT:g} × link text {page.junk[i]:.0f}{bonus}"

    if found is not best:
        rule = "the title's own <article>"
        why = "the best container also holds other posts' <article>s; " + formula(fi)
    elif photo_story:
        rule, why = "most caption prose (a photo story)", formula(fi)
    elif scores.get(fi, 0) <= 0:
        rule, why = "most prose (link text outweighs prose everywhere)", formula(fi)
    else:
        rule, why = f"most prose minus {BOILERPLATE_WEIGHT:g} × link text", formula(fi)
    if loosened:
        rule, why = RESCUE_RULE, f"{loosened}; {why}"
    t.won("body", rule, text_of(found), selector=element_path(found), why=why)
    chosen = (page.content[fi], page.junk[fi])
    lineage = {id(a) for a in found.iterancestors()}
    shown: list[tuple[int, str]] = []
    elsewhere = None  # the best container outside the chosen one's lineage (a sidebar, a comment box)
    for _, i in sorted(scored, key=lambda si: -si[0]):
        if i == fi or (page.content[i], page.junk[i]) == chosen:
            continue  # a bare wrapper of the chosen one says nothing new
        el = page.order[i]
        where = ("holds the chosen one and more link text" if id(el) in lineage
                 else "part of the chosen one" if any(a is found for a in el.iterancestors()) else "elsewhere on the page")
        if len(shown) < MAX_LOSERS:
            shown.append((i, where))
        if elsewhere is None and where.startswith("elsewhere"):
            elsewhere = (i, where)
        if elsewhere is not None and len(shown) >= MAX_LOSERS:
            break
    if elsewhere is not None and elsewhere not in shown:
        shown.append(elsewhere)
    for i, where in shown:
        el = page.order[i]
        t.lost("body", "container", text_of(el), f"{formula(i)} ({where})", selector=element_path(el))


def explain_rescue(t: Trace, kept: str) -> None:
    """``rescue.keep_the_text`` loosened the zones, keeping only ``kept`` as zones: on the whole
    page (noted for ``explain_body``, which comes next) or inside the chosen body (``pruning``:
    the body's rule is already written, and is renamed)."""
    why = f"the hinted boxes left the page almost none of its prose: only {kept} stay zones"
    t.notes["body.rescue"] = why
    f = t.fields["body"]
    if f.rule is not None and f.rule != RESCUE_RULE:
        f.rule, f.why = RESCUE_RULE, f"{why}; {f.why}" if f.why else why


def explain_noscript(t: Trace) -> None:
    """``thin.noscript_body`` gave the body: the container was chosen among the ``<noscript>``
    boxes read as plain boxes (``explain_body`` wrote its score)."""
    f = t.fields["body"]
    why = "too little text outside <noscript> (a page rendered by JavaScript): its copy for readers without it"
    f.rule, f.why = NOSCRIPT_RULE, f"{why}; {f.why}" if f.why else why


def explain_summary(t: Trace, root: HtmlElement, ld: dict[str, Any], summary: str) -> None:
    """``thin.summary_text`` became the body (after ``Trace.finish``): what was found before loses."""
    stated = [name for key, name in SUMMARY_SOURCES if _same(meta_content(root, key), summary)]
    if _same(ld.get("description"), summary):
        stated.append("JSON-LD description")
    f = t.fields["body"]
    if f.rule == "none found":
        f.rule = None  # nothing to show as a loser
    t.overridden("body", "too little text for an article")
    t.won("body", SUMMARY_RULE.format(", ".join(stated) or "og:description …"), summary,
          why="the title and a publish date are stated; the article is marked as a summary")


def _same(stated: Any, summary: str) -> bool:
    return isinstance(stated, str) and " ".join(stated.split()) == summary
