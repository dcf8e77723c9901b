"""core.pages.back reads `next` through core.forms.NextForm: one of ours under the prefix is where the
page goes back to; anything else — another site, a NUL byte, too long — goes to the default."""

from __future__ import annotations

import pytest
from django.test import RequestFactory

from core.forms import NextForm
from core.pages import back

LIMIT = NextForm.base_fields["next"].max_length


@pytest.mark.parametrize(
    ("data", "to"),
    [
        ({"next": "/points/shop/?page=2"}, "/points/shop/?page=2"),
        ({"next": "/points/shop/", "other": "x\x00"}, "/points/shop/"),  # another field's fault is not ours
        ({}, "/points/"),
        ({"next": "/volunteers/"}, "/points/"),
        ({"next": "https://evil.example/points/"}, "/points/"),
        ({"next": "/points//evil.example"}, "/points/"),
        ({"next": "/points/\x00"}, "/points/"),
        ({"next": "/points/" + "a" * LIMIT}, "/points/"),
    ],
)
def test_back_goes_to_next_only_when_it_is_ours(data, to):
    request = RequestFactory().post("/points/x/", data)
    assert back(request, "/points/", "/points/")["Location"] == to


@pytest.mark.parametrize("nxt", ["/\\evil.example", "/\\\\evil.example/", "//evil.example", "/\\/evil.example"])
def test_back_to_never_leaves_the_site_even_under_the_root(nxt):
    from core.pages import back_to

    assert back_to(nxt, "/", "/home/")["Location"] == "/home/"
