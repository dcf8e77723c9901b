"""长辈版 point 4: a web app manifest with the one-key call as a shortcut, so that a helper can put it on an
elderly person's phone as an icon."""

from __future__ import annotations

import json

import pytest
from django.contrib.staticfiles import finders
from django.utils import translation

pytestmark = pytest.mark.django_db


def test_the_manifest_offers_the_one_key_call_first(client) -> None:
    r = client.get("/manifest.webmanifest")
    assert r.status_code == 200
    assert r["Content-Type"].startswith("application/manifest+json")
    m = json.loads(r.content)
    assert m["name"] == "共治" and m["display"] == "standalone" and m["start_url"] == "/"
    assert m["lang"] == "zh-hans"
    first = m["shortcuts"][0]
    assert first["url"] == "/sos/" and first["name"] == "一键呼叫"
    # Every icon it names is a file the site serves.
    for icon in [*m["icons"], *(i for s in m["shortcuts"] for i in s["icons"])]:
        assert icon["src"].startswith("/static/")
        assert finders.find(icon["src"].removeprefix("/static/")), icon["src"]


def test_the_manifest_speaks_english_too(client) -> None:
    with translation.override("en"):
        m = json.loads(client.get("/manifest.webmanifest", HTTP_ACCEPT_LANGUAGE="en").content)
    assert m["shortcuts"][0]["name"] == "One-key call" and m["lang"] == "en"


def test_every_page_links_the_manifest(client) -> None:
    page = client.get("/accounts/login/").content.decode()
    assert '<link rel="manifest" href="/manifest.webmanifest">' in page


def test_the_manifest_is_read_only(client) -> None:
    assert client.post("/manifest.webmanifest").status_code == 405
