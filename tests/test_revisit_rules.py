"""The small rules of revisits (issue 12): what counts as removal evidence, the config keys."""

from __future__ import annotations

import pytest

from scraper.config_load import config_from_dict
from scraper.errors import ConfigError
from scraper.models import Page
from scraper.pipeline.revisit import GONE_STATUSES, removal_evidence

CONFIG = config_from_dict({"sources": {"qk3": {"name": "QK3", "start_urls": ["https://quankhu3.vn/chinh-tri-xa-hoi"]}}})
SOURCE = CONFIG.source("qk3")
ASKED = "https://quankhu3.vn/chinh-tri-xa-hoi/bai-4057"


def page(url: str) -> Page:
    return Page(url=url, status=200, text="<html></html>")


@pytest.mark.parametrize(("final", "evidence"), [
    ("https://quankhu3.vn/", "home page"),
    ("https://quankhu3.vn", "home page"),
    ("http://www.quankhu3.vn/?utm_source=x", "home page"),
    ("https://quankhu3.vn/chinh-tri-xa-hoi", "listing page"),
    (ASKED, None),  # no redirect
    (ASKED + "?utm_source=rss", None),  # tracking junk is the same page
    ("https://quankhu3.vn/chinh-tri-xa-hoi/bai-moi-4057", None),  # moved: the page is still there
])
def test_a_redirect_home_or_to_a_listing_is_removal_evidence(final: str, evidence: str | None) -> None:
    found = removal_evidence(SOURCE, ASKED, page(final))
    assert (found is None) if evidence is None else (evidence in (found or "")), found


def test_only_404_and_410_are_gone() -> None:
    assert GONE_STATUSES == {404, 410}


def test_revisit_config_defaults_overrides_and_errors() -> None:
    assert CONFIG.fetch.revisit == (3600.0, 21600.0, 86400.0, 259200.0, 604800.0)
    assert CONFIG.fetch.removal_confirm_after == 21600.0 and CONFIG.fetch.max_revisits_per_run == 20
    assert SOURCE.revisit is None
    custom = config_from_dict({"fetch": {"revisit": [], "removal_confirm_after": 3},
                               "sources": {"a": {"name": "A", "start_urls": ["https://a.vn/"], "revisit": ["2h"]}}})
    assert custom.fetch.revisit == () and custom.fetch.removal_confirm_after == 3.0
    assert custom.source("a").revisit == (7200.0,)
    for bad in ({"revisit": ["6h", "1h"]}, {"revisit": ["soon"]}, {"revisit": "1h"},
                {"removal_confirm_after": 0}, {"max_revisits_per_run": -1}):
        with pytest.raises(ConfigError):
            config_from_dict({"fetch": bad})
