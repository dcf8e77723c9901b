"""The tokens page reads its posts through forms: a NUL byte or an over-long name is refused with the
form's message and changes nothing (compared row by row)."""

from __future__ import annotations

import pytest

from accounts import forms, services
from accounts.models import ApiToken
from gongzhi.test import assert_refuses_bad_input, db_fingerprint

pytestmark = pytest.mark.django_db


def test_every_tokens_form_refuses_nul_and_over_long_fields(county, client_as):
    li = client_as(county.u_li)
    create = {"action": "create", "name": "call box"}
    posts = 0
    posts += assert_refuses_bad_input(li, "/accounts/tokens/", create, forms.TokenActionForm)
    posts += assert_refuses_bad_input(li, "/accounts/tokens/", create, forms.TokenCreateForm)
    assert posts == 4
    assert not ApiToken.objects.exists()


def test_a_token_name_is_refused_not_cut_and_a_bad_id_revokes_nothing(county, client_as):
    li = client_as(county.u_li, lang="en")
    r = li.post("/accounts/tokens/", {"action": "create", "name": "x" * 61})
    assert any("At most 60 characters" in str(m) for m in r.context["messages"])
    assert not ApiToken.objects.exists()
    token, _raw = services.token_create(user=county.u_li, name="call box")
    before = db_fingerprint()
    for bad in (f"{token.pk}\x00", "abc", "-1", ""):
        r = li.post("/accounts/tokens/", {"action": "revoke", "id": bad})
        assert r.status_code == 200 and list(r.context["messages"]), bad
    r = li.post("/accounts/tokens/", {"action": "steal", "id": str(token.pk)})
    assert any("Unknown action" in str(m) for m in r.context["messages"])
    assert db_fingerprint() == before
    token.refresh_from_db()
    assert token.revoked_at is None
