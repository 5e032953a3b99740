"""Finding active content in HTML: what could run script, load or submit something, or restyle.

    active_content(fragment) -> list of findings ([] = inert)
    bad_url(value)           -> True for a URL whose scheme is not http(s)/mailto

Used by the hostile-content and fuzz tests to scan what qkfeed publishes.
"""

from __future__ import annotations

import html
import re

import lxml.html
from lxml import etree

__all__ = ["ACTIVE_TAGS", "active_content", "bad_url"]

ACTIVE_TAGS = frozenset(
    {
        "script", "style", "iframe", "frame", "frameset", "object", "embed", "applet", "param",
        "form", "input", "button", "select", "textarea", "option", "isindex", "keygen", "base",
        "meta", "link", "svg", "math", "template", "noscript", "noembed", "noframes", "video",
        "audio", "source", "track", "marquee", "xmp", "plaintext", "details", "dialog", "canvas",
        "map", "area", "portal", "body", "html", "head", "title",
    }
)  # fmt: skip
URL_ATTRIBUTES = frozenset(
    {
        "href", "src", "action", "formaction", "data", "background", "poster", "srcset",
        "lowsrc", "dynsrc", "cite", "longdesc", "usemap", "codebase", "classid", "profile",
        "manifest", "ping", "icon", "xlink:href", "archive",
    }
)  # fmt: skip
SAFE_SCHEMES = frozenset({"http", "https", "mailto"})
_SCHEME = re.compile(r"^([a-zA-Z][a-zA-Z0-9+.\-]*):")
_IGNORED_IN_URLS = re.compile(r"[\x00-\x20\x7f-\x9f]")  # browsers drop these around/inside schemes


def bad_url(value: str) -> bool:
    """True for a URL whose scheme is not http(s)/mailto, however it is spelled."""
    for candidate in value.split(","):  # srcset lists
        v = _IGNORED_IN_URLS.sub("", html.unescape(candidate))
        m = _SCHEME.match(v)
        if m and m.group(1).lower() not in SAFE_SCHEMES:
            return True
    return False


_TAG_TOKEN = re.compile(r"<\s*/?\s*([A-Za-z][^\s/>]*)|<!|<\?")
_PARSER = lxml.html.HTMLParser(huge_tree=True)
MAX_CHECKED_DEPTH = 2000  # libxml2 drops what lies deeper, even with huge_tree


def active_content(fragment: str, allowed_tags: frozenset[str] = frozenset()) -> list[str]:
    """What in an HTML fragment could run script, load or submit something, or restyle.

    Two looks: every tag token in the text (depth-independent, sees a nested <body> that
    a fragment parser would swallow), then the parsed tree's elements and attributes.
    """
    if not fragment.strip():
        return []
    found: list[str] = []
    for m in _TAG_TOKEN.finditer(fragment):
        name = (m.group(1) or "").lower().rsplit(":", 1)[-1]
        if not m.group(1):
            found.append(f"markup declaration {fragment[m.start() : m.start() + 30]!r}")
        elif name in ACTIVE_TAGS and name not in allowed_tags:
            found.append(f"<{name}> token")
    root = lxml.html.fragment_fromstring(fragment, create_parent="div", parser=_PARSER)
    for el in root.iter():
        if not isinstance(el.tag, str):
            found.append(f"comment or PI {etree.tostring(el)[:60]!r}")
            continue
        if sum(1 for _ in el.iterancestors()) >= MAX_CHECKED_DEPTH:
            found.append("nesting too deep to check")
            break
        tag = el.tag.lower().rsplit("}", 1)[-1].rsplit(":", 1)[-1]
        if tag in ACTIVE_TAGS and tag not in allowed_tags:
            found.append(f"<{tag}>")
        for name, value in el.attrib.items():
            attr = name.lower().rsplit("}", 1)[-1]
            if attr.startswith("on") or attr in ("style", "srcdoc", "formaction"):
                found.append(f"<{tag} {attr}=…>")
            elif (attr in URL_ATTRIBUTES or attr.endswith("href")) and bad_url(value):
                found.append(f"<{tag} {attr}={value[:40]!r}>")
    return found
