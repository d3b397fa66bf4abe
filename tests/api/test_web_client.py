"""The built web client served at /: the page under a strict CSP, assets cached for good."""

from __future__ import annotations

import re

from taskboard.api.web import WEB_DIST
from tests.helpers import ApiClient


async def test_the_page_is_served_with_a_strict_content_security_policy(api: ApiClient) -> None:
    assert (WEB_DIST / "index.html").is_file(), "build the client first: make web"
    page = await api.request("GET", "/")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert page.headers["cache-control"] == "no-cache"
    csp = page.headers["content-security-policy"]
    assert "script-src 'self';" in csp
    assert "unsafe-inline" not in csp
    assert "unsafe-eval" not in csp
    assert "frame-ancestors 'none'" in csp
    assert page.headers["x-content-type-options"] == "nosniff"
    # No inline script: every script is a file of this origin.
    scripts = re.findall(r"<script[^>]*>", page.text)
    assert scripts
    assert all('src="/assets/' in tag for tag in scripts), scripts

    asset = re.search(r'src="(/assets/[^"]+\.js)"', page.text)
    assert asset is not None
    script = await api.request("GET", asset.group(1))
    assert script.status_code == 200
    assert script.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert "javascript" in script.headers["content-type"]
    missing = await api.request("GET", "/assets/nothing-here.js")
    assert missing.status_code == 404
    assert "immutable" not in missing.headers.get("cache-control", "")


async def test_the_api_keeps_its_own_answers_beside_the_page(api: ApiClient) -> None:
    unknown = await api.request("GET", "/api/v1/no-such-thing")
    assert unknown.status_code == 404
    assert unknown.headers["content-type"] == "application/problem+json"
