"""Token login, token management, /me, and the errors for bad credentials and bad input."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from django.test import Client

from accounts import services
from accounts.models import ApiToken
from core import clock
from gongzhi.test import PASSWORD


def post_json(client: Client, url: str, body, **headers):
    return client.post(url, data=json.dumps(body), content_type="application/json", headers=headers)


def bearer(raw: str) -> dict:
    return {"Authorization": f"Bearer {raw}"}


def test_token_login_then_use_then_revoke(county):
    client = Client()
    r = post_json(client, "/api/v1/auth/token", {"username": "li", "password": PASSWORD, "name": "mini program"})
    assert r.status_code == 201
    raw = r.json()["token"]
    assert raw.startswith("gz_") and r.json()["prefix"] == raw[:10]
    # Only a digest is stored.
    assert not ApiToken.objects.filter(digest=raw).exists()

    me = client.get("/api/v1/me", headers=bearer(raw)).json()
    assert me["username"] == "li"
    assert [(x["role"], x["node"]["name"]) for x in me["roles"]] == [("grid_worker", "A1湾组")]
    assert [n["name"] for n in me["scope_nodes"]] == ["A1湾组"]

    token_id = r.json()["id"]
    revoked = client.delete(f"/api/v1/tokens/{token_id}", headers=bearer(raw))
    assert revoked.status_code == 200 and revoked.json()["revoked_at"]
    after = client.get("/api/v1/me", headers=bearer(raw))
    assert after.status_code == 401
    assert after.json()["error"]["code"] == "auth.invalid_token"


def test_token_login_wrong_password_and_lockout(county):
    client = Client()
    for _ in range(4):
        r = post_json(client, "/api/v1/auth/token", {"username": "li", "password": "wrong-password"})
        assert r.status_code == 401
        assert r.json()["error"]["code"] == "auth.bad_credentials"
    r = post_json(client, "/api/v1/auth/token", {"username": "li", "password": "wrong-password"})
    assert r.status_code == 429
    assert r.json()["error"]["code"] == "auth.locked_out"
    # Locked out: even the right password is refused now, and no token is made.
    r = post_json(client, "/api/v1/auth/token", {"username": "li", "password": PASSWORD})
    assert r.status_code == 429
    assert ApiToken.objects.count() == 0


def test_page_login_lockout_after_five_failures(county):
    client = Client()
    for _ in range(5):
        page = client.post("/accounts/login/", {"username": "zhou", "password": "nope-nope"})
    assert page.status_code == 429
    page = client.post("/accounts/login/", {"username": "zhou", "password": PASSWORD})
    assert page.status_code == 429
    assert "_auth_user_id" not in client.session


def test_page_login_works(county):
    client = Client()
    page = client.post("/accounts/login/", {"username": "zhou", "password": PASSWORD}, follow=True)
    assert page.status_code == 200
    assert "东村" in page.content.decode()


@pytest.mark.parametrize(
    ("header", "code"),
    [
        (None, "auth.required"),
        ("Bearer nonsense", "auth.invalid_token"),
        ("Bearer gz_" + "x" * 43, "auth.invalid_token"),
        ("Bearer " + "gz_" + "y" * 500, "auth.invalid_token"),
        ("Basic Zm9vOmJhcg==", "auth.invalid_token"),
    ],
)
def test_bad_or_missing_credentials_are_401(county, header, code):
    headers = {"Authorization": header} if header else {}
    r = Client().get("/api/v1/households", headers=headers)
    assert r.status_code == 401
    assert r.json()["error"]["code"] == code
    assert r.json()["error"]["message"]


def test_expired_token_is_refused(county):
    _token, raw = services.token_create(user=county.u_li, name="old", expires_at=clock.now() - dt.timedelta(seconds=1))
    r = Client().get("/api/v1/me", headers=bearer(raw))
    assert r.status_code == 401


def test_inactive_user_token_is_refused(county):
    _token, raw = services.token_create(user=county.u_li, name="x")
    county.u_li.is_active = False
    county.u_li.save()
    assert Client().get("/api/v1/me", headers=bearer(raw)).status_code == 401


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"username": "li", "password": PASSWORD, "admin": True}, "admin"),  # unknown field
        ({"username": "li", "password": 12345}, "password"),  # wrong type
        ({"username": "x" * 151, "password": PASSWORD}, "username"),  # oversized
        ({"username": "li"}, "password"),  # missing
        ({"username": "li", "password": PASSWORD, "expires_in_days": 0}, "expires_in_days"),
    ],
)
def test_token_login_bad_input_is_422_and_makes_nothing(county, body, field):
    r = post_json(Client(), "/api/v1/auth/token", body)
    assert r.status_code == 422
    err = r.json()["error"]
    assert err["code"] == "validation_error"
    assert field in err["fields"]
    assert ApiToken.objects.count() == 0


def test_malformed_json_is_400(county):
    r = Client().post("/api/v1/auth/token", data="{not json", content_type="application/json")
    assert r.status_code == 400
    assert r.json()["error"]["code"] == "malformed_request"


def test_oversized_body_is_413(county, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1024
    body = {"username": "li", "password": "p" * 2000}
    r = post_json(Client(), "/api/v1/auth/token", body)
    assert r.status_code == 413
    assert r.json()["error"]["code"] == "request_too_large"
    assert ApiToken.objects.count() == 0


def test_tokens_are_per_user(county, client_as):
    token, _raw = services.token_create(user=county.u_li, name="li's")
    other = client_as(county.u_zhou)
    assert other.get("/api/v1/tokens").json() == []
    r = other.delete(f"/api/v1/tokens/{token.pk}")
    assert r.status_code == 404
    token.refresh_from_db()
    assert token.revoked_at is None


def test_token_limit(county, client_as, settings):
    settings.GONGZHI = {**settings.GONGZHI, "TOKEN_MAX_PER_USER": 2}
    client = client_as(county.u_li)
    assert post_json(client, "/api/v1/tokens", {"name": "a"}).status_code == 201
    assert post_json(client, "/api/v1/tokens", {"name": "b"}).status_code == 201
    r = post_json(client, "/api/v1/tokens", {"name": "c"})
    assert r.status_code == 409
    assert r.json()["error"]["code"] == "token.too_many"
    assert ApiToken.objects.filter(user=county.u_li).count() == 2


def test_session_post_needs_csrf(county):
    client = Client(enforce_csrf_checks=True)
    client.force_login(county.u_li, backend="django.contrib.auth.backends.ModelBackend")
    r = post_json(client, "/api/v1/tokens", {"name": "a"})
    assert r.status_code == 403
    assert r.json()["error"]["code"] == "csrf_failed"
    assert ApiToken.objects.count() == 0


def test_tokens_page_create_and_revoke(county, client_as):
    client = client_as(county.u_li)
    page = client.post("/accounts/tokens/", {"action": "create", "name": "call box"}).content.decode()
    token = ApiToken.objects.get(user=county.u_li)
    assert 'id="new-token"' in page and token.prefix in page
    assert client.post("/accounts/tokens/", {"action": "create", "name": ""}).status_code == 200
    assert ApiToken.objects.count() == 1
    client.post("/accounts/tokens/", {"action": "revoke", "id": "abc"})
    client.post("/accounts/tokens/", {"action": "revoke", "id": str(token.pk)})
    token.refresh_from_db()
    assert token.revoked_at is not None


def test_production_hashes_passwords_with_argon2():
    from gongzhi import settings as production

    assert production.PASSWORD_HASHERS[0] == "django.contrib.auth.hashers.Argon2PasswordHasher"
