"""Every answer carries the Content-Security-Policy: the pages nothing inline and nothing from elsewhere,
the API's documentation page (Swagger UI styles inline) its own looser policy."""

from __future__ import annotations

import pytest


@pytest.mark.django_db
def test_pages_api_answers_and_errors_carry_the_policy(client, settings):
    for url in ("/accounts/login/", "/catalog/", "/api/v1/me", "/no-such-page/"):
        r = client.get(url)
        policy = r["Content-Security-Policy"]
        assert policy == settings.CONTENT_SECURITY_POLICY, url
        assert "script-src 'self'" in policy and "'unsafe-inline'" not in policy
        assert "frame-ancestors 'none'" in policy


@pytest.mark.django_db
def test_the_api_docs_page_may_style_inline_and_nothing_more(client, settings):
    r = client.get("/api/v1/docs")
    policy = r["Content-Security-Policy"]
    assert policy == settings.CONTENT_SECURITY_POLICY_DOCS
    assert "style-src 'self' 'unsafe-inline'" in policy and "script-src 'self'" in policy
