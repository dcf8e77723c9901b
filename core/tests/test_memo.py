"""The in-memory copies (core.memo) never outlive a change: in the process that made it at once, in
every other server process within MEMO_CHECK_SECONDS. "Another process" is played here by changing the
rows and bumping the counter with SQL, behind the signals' back, as a second server process would."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts import services as accounts
from accounts.models import ApiToken, Role, RoleAssignment
from catalog.models import Category
from core import memo as memo_module
from core.memo import bump, memo
from core.models import Generation
from org import services as org
from org.models import Level
from workorders.tests.helpers import error_code, intake_body, post

pytestmark = pytest.mark.django_db

URL = "/api/v1/workorders"


body = intake_body


def other_process_bumps(name: str) -> None:
    """What a bump in another server process looks like from here: the counter moved, nothing else."""
    with connection.cursor() as c:
        c.execute("UPDATE core_generation SET value = value + 1 WHERE name = %s", [name])
        if c.rowcount == 0:
            c.execute("INSERT INTO core_generation (name, value) VALUES (%s, 1)", [name])


def test_a_copy_is_built_once_and_rebuilt_after_a_bump(db):
    calls = []
    m = memo("test")
    assert m.get("k", lambda: calls.append(1) or "first") == "first"
    assert m.get("k", lambda: calls.append(1) or "second") == "first"
    assert len(calls) == 1
    bump("test")
    assert m.get("k", lambda: calls.append(1) or "third") == "third"
    assert Generation.objects.get(name="test").value == 1


def test_another_process_bump_is_seen_after_the_check_interval(db, settings, monkeypatch):
    settings.GONGZHI = {**settings.GONGZHI, "MEMO_CHECK_SECONDS": 60}
    clock = [1000.0]
    monkeypatch.setattr(memo_module.time, "monotonic", lambda: clock[0])
    m = memo("test")
    assert m.get("k", lambda: "old") == "old"
    other_process_bumps("test")
    clock[0] += 30  # within the interval: the copy stands, and no query is made to find out
    with CaptureQueriesContext(connection) as q:
        assert m.get("k", lambda: "new") == "old"
    assert len(q) == 0
    clock[0] += 31  # past it: the counter is read, has moved, and the copy goes
    assert m.get("k", lambda: "new") == "new"


def test_the_counter_row_is_made_when_missing(db):
    Generation.objects.filter(name="fresh").delete()
    bump("fresh")
    bump("fresh")
    assert Generation.objects.get(name="fresh").value == 2


# --- what the copies serve: scopes, tokens, the catalogue, the grid centres -------------------------


def test_a_role_taken_away_stops_working_on_the_next_request(world, client_as):
    c = world.c
    zhou = client_as(c.u_zhou)  # village staff of 东村: sees its residents
    assert zhou.get(f"/api/v1/residents/{c.zhang.pk}").status_code == 200
    RoleAssignment.objects.filter(user=c.u_zhou).delete()
    assert zhou.get(f"/api/v1/residents/{c.zhang.pk}").status_code == 404


def test_a_role_given_works_on_the_next_request(world, client_as):
    c = world.c
    zheng = client_as(c.u_zheng)  # a volunteer: no register
    assert zheng.get(f"/api/v1/residents/{c.zhang.pk}").status_code == 404
    accounts.role_assign(user=c.u_zheng, role=Role.VILLAGE_STAFF, node=c.v1)
    assert zheng.get(f"/api/v1/residents/{c.zhang.pk}").status_code == 200


def test_a_role_taken_away_in_another_process_stops_working_within_the_interval(world, client_as, settings):
    settings.GONGZHI = {**settings.GONGZHI, "MEMO_CHECK_SECONDS": 0}
    c = world.c
    zhou = client_as(c.u_zhou)
    assert zhou.get(f"/api/v1/residents/{c.zhang.pk}").status_code == 200
    with connection.cursor() as cur:
        cur.execute("DELETE FROM accounts_roleassignment WHERE user_id = %s", [c.u_zhou.pk])
    other_process_bumps("org")
    assert zhou.get(f"/api/v1/residents/{c.zhang.pk}").status_code == 404


def test_a_revoked_token_is_refused_at_once(world, client):
    token, raw = accounts.token_create(user=world.c.u_zhang, name="app")
    auth = {"HTTP_AUTHORIZATION": f"Bearer {raw}"}
    assert client.get("/api/v1/me", **auth).status_code == 200
    accounts.token_revoke(token=token)
    assert client.get("/api/v1/me", **auth).status_code == 401


def test_a_token_revoked_in_another_process_is_refused_within_the_interval(world, client, settings):
    settings.GONGZHI = {**settings.GONGZHI, "MEMO_CHECK_SECONDS": 0}
    token, raw = accounts.token_create(user=world.c.u_zhang, name="app")
    auth = {"HTTP_AUTHORIZATION": f"Bearer {raw}"}
    assert client.get("/api/v1/me", **auth).status_code == 200
    ApiToken.objects.filter(pk=token.pk).update(revoked_at=dt.datetime(2026, 1, 1, tzinfo=dt.UTC))
    other_process_bumps("auth")
    assert client.get("/api/v1/me", **auth).status_code == 401


def test_a_deactivated_user_loses_their_tokens_at_once(world, client):
    _token, raw = accounts.token_create(user=world.c.u_zhang, name="app")
    auth = {"HTTP_AUTHORIZATION": f"Bearer {raw}"}
    assert client.get("/api/v1/me", **auth).status_code == 200
    world.c.u_zhang.is_active = False
    world.c.u_zhang.save()
    assert client.get("/api/v1/me", **auth).status_code == 401


def test_a_cached_token_gives_each_request_its_own_user_object(world, client):
    from accounts.services import token_authenticate

    _token, raw = accounts.token_create(user=world.c.u_zhang, name="app")
    a, b = token_authenticate(raw), token_authenticate(raw)
    assert a == b and a is not b  # per-request state hung on one must not show up on the other
    a._gongzhi_scope = "per request"
    assert not hasattr(b, "_gongzhi_scope")


def test_a_category_taken_out_of_use_is_refused_at_once(world, client_as):
    zhang = client_as(world.c.u_zhang)
    assert post(zhang, URL, body(idempotency_key="a")).status_code == 201
    cat = Category.objects.get(code="010101")
    cat.is_active = False
    cat.save()
    r = post(zhang, URL, body(idempotency_key="b"))
    assert r.status_code == 422
    assert "category" in r.json()["error"]["fields"]


def test_a_new_grid_is_found_by_the_next_report(world, client_as):
    zhang = client_as(world.c.u_zhang)
    far = {"lat": "31.600000", "lng": "115.500000"}
    r = post(zhang, URL, body(idempotency_key="far-1", **far))
    assert (r.status_code, error_code(r)) == (422, "workorder.location_outside")
    grid = org.node_create(
        parent=world.c.v1, level=Level.GRID, kind="grid", name="新组", code="ng1",
        lat=Decimal("31.600500"), lng=Decimal("115.500500"),
    )  # fmt: skip
    r = post(zhang, URL, body(idempotency_key="far-2", **far))
    assert r.status_code == 201, r.content
    assert r.json()["order"]["grid_id"] == grid.pk
