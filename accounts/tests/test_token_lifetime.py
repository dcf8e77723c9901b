"""Every API token expires: a token made without a date lasts GONGZHI["TOKEN_DEFAULT_DAYS"] days."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from django.test import Client

from core.clock import frozen, now

pytestmark = pytest.mark.django_db


def test_a_token_without_a_date_expires_after_the_default_lifetime(county, settings) -> None:
    county.u_zhang.set_password("pw-zhang-1")
    county.u_zhang.save()
    start = now()
    with frozen(start):
        r = Client().post(
            "/api/v1/auth/token",
            json.dumps({"username": "zhang", "password": "pw-zhang-1"}),
            content_type="application/json",
        )
    assert r.status_code == 201, r.content
    expires = dt.datetime.fromisoformat(r.json()["expires_at"])
    assert abs(expires - (start + dt.timedelta(days=settings.GONGZHI["TOKEN_DEFAULT_DAYS"]))) < dt.timedelta(seconds=1)
    headers = {"HTTP_AUTHORIZATION": f"Bearer {r.json()['token']}"}
    with frozen(expires - dt.timedelta(minutes=1)):
        assert Client().get("/api/v1/me", **headers).status_code == 200
    with frozen(expires + dt.timedelta(minutes=1)):
        r = Client().get("/api/v1/me", **headers)
    assert r.status_code == 401
    assert r.json()["error"]["code"] == "auth.invalid_token"
