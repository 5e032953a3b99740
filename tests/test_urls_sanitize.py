"""Canonical URLs (the article key) and the body HTML allowlist."""

from __future__ import annotations

import pytest

from scraper.normalize.sanitize import sanitize_html
from scraper.urls import absolute_url, canonical_url, scheme_twin, url_identity


@pytest.mark.parametrize(
    "variant",
    [
        "https://quankhu3.vn/chinh-tri-xa-hoi/bai-viet-4048",
        "https://www.quankhu3.vn/chinh-tri-xa-hoi/bai-viet-4048",
        "https://QUANKHU3.vn:443/chinh-tri-xa-hoi/bai-viet-4048#comments",
        "https://quankhu3.vn/chinh-tri-xa-hoi/bai-viet-4048?utm_source=facebook&utm_medium=social",
        "https://quankhu3.vn/chinh-tri-xa-hoi/bai-viet-4048?fbclid=IwAR0abc&zarsrc=30",
    ],
)
def test_variants_share_one_key(variant: str) -> None:
    assert canonical_url(variant) == "https://quankhu3.vn/chinh-tri-xa-hoi/bai-viet-4048"


def test_the_scheme_is_kept_and_identity_ignores_it() -> None:
    # a site that serves only http keeps http links: the key never sends a reader to https
    for variant in ("http://quankhu3.vn/a-1", "HTTP://www.QuanKhu3.vn:80/a-1#x", "http://quankhu3.vn/a-1?utm_source=z"):
        assert canonical_url(variant) == "http://quankhu3.vn/a-1"
        assert url_identity(variant) == url_identity("https://quankhu3.vn/a-1") == "https://quankhu3.vn/a-1"
    assert canonical_url("http://quankhu3.vn:443/a-1") == "http://quankhu3.vn/a-1"
    assert canonical_url("https://quankhu3.vn:8443/a-1") == "https://quankhu3.vn:8443/a-1"
    assert scheme_twin("http://a.vn/x") == "https://a.vn/x" and scheme_twin("https://a.vn/x") == "http://a.vn/x"


def test_query_that_selects_content_is_kept_and_sorted() -> None:
    assert canonical_url("https://a.vn/x?page=2&id=5&utm_campaign=z") == "https://a.vn/x?id=5&page=2"


def test_canonical_is_idempotent() -> None:
    for u in ("https://www.a.vn/a b/ý?b=1&a=2#x", "http://127.0.0.1:8080/x-1"):
        assert canonical_url(canonical_url(u)) == canonical_url(u)


def test_absolute_url() -> None:
    assert absolute_url("https://qdnd.vn/a/b", "/c-1") == "https://qdnd.vn/c-1"
    assert absolute_url("https://qdnd.vn/a/b", "//file3.qdnd.vn/data/tin anh.jpg") == "https://file3.qdnd.vn/data/tin%20anh.jpg"
    for bad in ("javascript:alert(1)", "mailto:a@b", "#top", "", None, "data:text/html,x"):
        assert absolute_url("https://qdnd.vn/", bad) is None


@pytest.mark.parametrize(
    "dirty",
    [
        "<script>alert(1)</script>",
        '<img src=x onerror="alert(1)">',
        '<a href="javascript:alert(1)">x</a>',
        '<a href="JaVaScRiPt&#58;alert(1)">x</a>',
        '<iframe src="https://evil"></iframe>',
        '<svg><script>alert(1)</script></svg>',
        '<p style="background:url(javascript:alert(1))">x</p>',
        '<form action="https://evil"><input name=a></form>',
        '<base href="https://evil/">',
        '<meta http-equiv="refresh" content="0;url=https://evil">',
        '<object data="x.swf"></object>',
        '<img src="data:image/svg+xml;base64,PHN2Zz48L3N2Zz4=">',
    ],
)
def test_sanitizer_removes_active_content(dirty: str) -> None:
    clean = sanitize_html(f"<p>before</p>{dirty}<p>after</p>").lower()
    for needle in ("<script", "onerror", "javascript:", "<iframe", "<svg", "style=", "<form", "<base", "<meta", "<object", "data:"):
        assert needle not in clean
    assert "before" in clean and "after" in clean


def test_sanitizer_keeps_structure() -> None:
    html = '<p>Một <strong>đoạn</strong> <a href="https://qdnd.vn/x-1">văn</a></p><figure><img src="https://a.vn/i.jpg" alt="ảnh"><figcaption>Chú thích</figcaption></figure>'
    clean = sanitize_html(html)
    assert "<figure>" in clean and "<figcaption>Chú thích</figcaption>" in clean
    assert 'href="https://qdnd.vn/x-1"' in clean and 'src="https://a.vn/i.jpg"' in clean
