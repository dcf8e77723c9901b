"""The 12345 exchange by push: a hotline posts one order as signed JSON. A bad signature, a replay, a body
over the limit, NUL and wrong types get the error shape and change nothing; the same number again, or fifty
times at once, is one order."""

from __future__ import annotations

import contextlib
import json
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connection
from django.test import Client

from core.signing import sign
from integrations import services
from integrations.models import HotlineOrder
from workorders.models import WorkOrder
from workorders.tests.helpers import Clock

URL = "/api/v1/hotline/h12345/orders"


@pytest.fixture
def clock():
    c = Clock()
    c.set("2026-11-18 10:00")  # a Wednesday, Asia/Shanghai
    yield c
    c.reset()


@pytest.fixture
def source(world):
    return services.source_create(by=world.c.u_admin, name="12345热线", code="h12345", node=world.c.county)


def order(number: str = "P0001", **kw: object) -> dict[str, object]:
    return {"number": number, "content": "小区门口污水横流", "address": "东镇东村A1湾组", "category": "020102",
            "caller": "李女士", "phone": "13900000000", "time": "2026-11-18T09:00:00+08:00", **kw}  # fmt: skip


def post(client: Client, secret: str, body: bytes | dict, *, timestamp: int | None = None, url: str = URL):
    raw = body if isinstance(body, bytes) else json.dumps(body, ensure_ascii=False).encode()
    headers = {f"HTTP_{k.upper().replace('-', '_')}": v for k, v in sign(secret, raw, timestamp=timestamp).items()}
    return client.post(url, raw, content_type="application/json", **headers)


def unchanged() -> tuple[int, int]:
    return WorkOrder.objects.count(), HotlineOrder.objects.count()


def test_a_signed_order_is_filed_once(world, source, client, clock):
    r = post(client, source.secret, order())
    assert r.status_code == 201, r.content
    body = r.json()
    assert body["created"] is True and body["state"] == "submitted"
    o = WorkOrder.objects.get(tracking_code=body["tracking_code"])
    assert o.channel == "hotline" and o.grid == world.c.a1 and o.category.code == "020102"
    assert o.hotline.via == "push" and o.hotline.number == "P0001"
    again = post(client, source.secret, order())
    assert again.status_code == 200 and again.json()["tracking_code"] == body["tracking_code"]
    assert again.json()["created"] is False
    assert WorkOrder.objects.count() == 1
    # The hotline asks for the state of what it sent (signed, empty body).
    signed = {f"HTTP_{k.upper().replace('-', '_')}": v for k, v in sign(source.secret, b"").items()}
    r = client.get(f"{URL}/P0001", **signed)
    assert r.status_code == 200 and r.json()["tracking_code"] == body["tracking_code"]


@pytest.mark.parametrize(
    ("mutate", "status", "code"),
    [
        ("bad_signature", 401, "hotline.bad_signature"),
        ("no_signature", 401, "hotline.bad_signature"),
        ("replay", 401, "hotline.stale"),
        ("too_large", 413, "request_too_large"),
        ("nul", 400, "malformed_request"),
        ("wrong_types", 422, "validation_error"),
        ("not_json", 422, "malformed_request"),
        ("unknown_field", 422, "validation_error"),
        ("outside", 422, "hotline.row_refused"),
    ],
)
def test_bad_pushes_get_the_error_shape_and_change_nothing(world, source, client, clock, mutate, status, code):
    before = unchanged()
    secret = source.secret
    if mutate == "bad_signature":
        r = post(client, "whsec_wrong", order())
    elif mutate == "no_signature":
        r = client.post(URL, json.dumps(order()), content_type="application/json")
    elif mutate == "replay":
        r = post(client, secret, order(), timestamp=int(clock.t.timestamp()) - 301)
    elif mutate == "too_large":
        r = post(client, secret, order(content="水" * 40000))
    elif mutate == "nul":
        r = post(client, secret, json.dumps(order(content="污水\u0000横流")).encode())
    elif mutate == "wrong_types":
        r = post(client, secret, order(number=123, time="yesterday"))
    elif mutate == "not_json":
        r = post(client, secret, b"{not json")
    elif mutate == "unknown_field":
        r = post(client, secret, order(priority="high"))
    else:
        r = post(client, secret, order(address="北京市朝阳区"))
    assert r.status_code == status, r.content
    assert r.json()["error"]["code"] == code
    assert unchanged() == before


def test_an_old_secret_works_for_a_day_after_rotation(world, source, client, clock):
    old = source.secret
    services.source_rotate_secret(source=source, by=world.c.u_admin)
    assert post(client, old, order("R1")).status_code == 201
    clock.advance(days=1, seconds=1)
    assert post(client, old, order("R2")).status_code == 401
    source.refresh_from_db()
    assert post(client, source.secret, order("R3")).status_code == 201


def test_unknown_or_switched_off_sources_are_not_found(world, source, client, clock):
    assert post(client, source.secret, order(), url="/api/v1/hotline/nope/orders").status_code == 404
    source.is_active = False
    source.save()
    assert post(client, source.secret, order()).status_code == 404
    assert unchanged() == (0, 0)


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_fifty_concurrent_posts_of_one_number_make_one_order(world):
    source = services.source_create(by=world.c.u_admin, name="12345热线", code="h12345", node=world.c.county)
    raw = json.dumps(order("C0001"), ensure_ascii=False).encode()
    start = threading.Barrier(10)

    def one(_n: int) -> int:
        c = Client()
        with contextlib.suppress(threading.BrokenBarrierError):
            start.wait(timeout=10)
        headers = {f"HTTP_{k.upper().replace('-', '_')}": v for k, v in sign(source.secret, raw).items()}
        try:
            return c.post(URL, raw, content_type="application/json", **headers).status_code
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=10) as pool:
        statuses = list(pool.map(one, range(50)))
    assert sorted(set(statuses)) <= [200, 201], statuses
    assert statuses.count(201) == 1
    assert WorkOrder.objects.count() == 1 == HotlineOrder.objects.count()
