"""Rate limits as a person meets them: the post that is one too many is refused with a clear 429 (the API's
error shape, or a page saying when to try again), nothing is done, and the next window is open again."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from django.test import Client

from core import ratelimit
from core.clock import SHANGHAI, frozen
from gongzhi.test import db_fingerprint

pytestmark = [pytest.mark.django_db, pytest.mark.ratelimit]

T0 = dt.datetime(2026, 12, 7, 9, 0, 30, tzinfo=SHANGHAI)


def _limits(settings, **rules) -> None:
    settings.GONGZHI = {**settings.GONGZHI, "RATE_LIMITS": {**settings.GONGZHI["RATE_LIMITS"], **rules}}


def test_the_configured_limits_are_sensible() -> None:
    from django.conf import settings

    limits = settings.GONGZHI["RATE_LIMITS"]
    assert limits["intake"]["user"][0] >= 5, "a resident files a few orders in a row"
    assert limits["sos"]["user"][0] <= 5, "each call texts responders and family"
    assert limits["intake"]["staff"][0] > limits["intake"]["user"][0], "a hotline operator files for many"
    assert settings.GONGZHI["RATE_LIMIT_FACTOR"] == 1


def test_login_page_per_address(county, settings) -> None:
    _limits(settings, login={"address": (3, 300), "username": (100, 300)})
    client = Client(REMOTE_ADDR="10.0.0.7")
    with frozen(T0):
        for i in range(3):
            r = client.post("/accounts/login/", {"username": f"nobody{i}", "password": "x"})
            assert r.status_code == 200, r.status_code  # the form again: wrong password
        r = client.post("/accounts/login/", {"username": "nobody9", "password": "x"})
        assert r.status_code == 429
        assert r["Retry-After"] == "270"
        assert "5" in r.content.decode()  # "please wait 5 minutes"
        # Another address is not affected.
        assert (
            Client(REMOTE_ADDR="10.0.0.8").post("/accounts/login/", {"username": "a", "password": "x"}).status_code
            == 200
        )
    with frozen(T0 + dt.timedelta(seconds=300)):
        assert client.post("/accounts/login/", {"username": "nobody9", "password": "x"}).status_code == 200


def test_api_login_per_username_across_addresses(county, settings) -> None:
    _limits(settings, login={"address": (100, 300), "username": (2, 300)})
    body = json.dumps({"username": "Zhang", "password": "wrong", "name": "t"})
    with frozen(T0):
        for i in range(2):
            r = Client(REMOTE_ADDR=f"10.0.1.{i}").post("/api/v1/auth/token", body, content_type="application/json")
            assert r.status_code == 401
        r = Client(REMOTE_ADDR="10.0.1.99").post(
            "/api/v1/auth/token",
            json.dumps({"username": " zhang ", "password": "x", "name": "t"}),
            content_type="application/json",
        )
    assert r.status_code == 429
    assert r.json()["error"]["code"] == "rate_limited"
    assert r["Retry-After"] == "270"


def test_intake_per_address_page_and_api(world, settings) -> None:
    from workorders.models import WorkOrder
    from workorders.tests.helpers import intake_body

    _limits(settings, intake={"address": (2, 600)})
    client = Client(REMOTE_ADDR="10.0.2.1")
    client.force_login(world.c.u_zhang, backend="django.contrib.auth.backends.ModelBackend")
    with frozen(T0):
        for _ in range(2):
            r = client.post("/api/v1/workorders", json.dumps(intake_body()), content_type="application/json")
            assert r.status_code == 201, r.content
        before = db_fingerprint()
        r = client.post("/api/v1/workorders", json.dumps(intake_body()), content_type="application/json")
        assert r.status_code == 429
        assert r.json()["error"]["code"] == "rate_limited"
        r = client.post("/workorders/new/", {"kind": "complaint", "text": "路灯坏了三天"})
        assert r.status_code == 429
        assert db_fingerprint() == before
    assert WorkOrder.objects.count() == 2


def test_suspended_for_the_demo_loader(settings) -> None:
    _limits(settings, sos={"user": (1, 600)})
    with frozen(T0):
        ratelimit.hit("sos", "user", 1)
        with ratelimit.suspended():
            for _ in range(5):
                ratelimit.hit("sos", "user", 1)
        with pytest.raises(ratelimit.RateLimited) as caught:
            ratelimit.hit("sos", "user", 1)
    assert caught.value.status == 429
    assert "110" in str(caught.value.message)


def test_intake_per_person_whichever_way_they_come_in(world, settings) -> None:
    from workorders.models import WorkOrder
    from workorders.tests.helpers import intake_body

    _limits(settings, intake={"user": (2, 600), "staff": (50, 600), "address": (1000, 600)})
    api = Client(REMOTE_ADDR="10.0.3.1")
    api.force_login(world.c.u_zhang, backend="django.contrib.auth.backends.ModelBackend")
    with frozen(T0):
        for i in range(2):
            r = api.post(
                "/api/v1/workorders", json.dumps(intake_body(idempotency_key=f"k{i}")), content_type="application/json"
            )
            assert r.status_code == 201, r.content
        # A retry of a filed order is answered, not counted as a new one.
        r = api.post(
            "/api/v1/workorders", json.dumps(intake_body(idempotency_key="k1")), content_type="application/json"
        )
        assert r.status_code == 200 and r.json()["created"] is False
        # From another address, on the page: the same person, the same limit.
        page = Client(REMOTE_ADDR="10.0.3.2")
        page.force_login(world.c.u_zhang, backend="django.contrib.auth.backends.ModelBackend")
        r = page.post(
            "/workorders/new/",
            {"kind": "complaint", "sub": "010101", "cat": "0101", "text": "路灯坏了三天"},
            follow=True,
        )
        import re

        said = " ".join(re.findall(r'class="(?:msg|error)[^"]*"[^>]*>([^<]+)<', r.content.decode()))
        assert "10" in said, said
        # A grid worker filing patrol orders has the staff limit.
        li = Client(REMOTE_ADDR="10.0.3.3")
        li.force_login(world.c.u_li, backend="django.contrib.auth.backends.ModelBackend")
        for _ in range(3):
            r = li.post(
                "/api/v1/workorders",
                json.dumps(intake_body(channel="patrol", grid_id=world.c.a1.pk)),
                content_type="application/json",
            )
            assert r.status_code == 201, r.content
    assert WorkOrder.objects.filter(submitted_by=world.c.u_zhang).count() == 2


def test_one_key_calls_per_person_and_a_retried_press_is_free(world, settings) -> None:
    from notify.models import Message
    from sos import services
    from sos.models import Call

    c = world.c
    services.care_register(resident=c.zhang, by=c.u_li, reasons=["elderly_alone"])
    _limits(settings, sos={"user": (2, 600), "staff": (60, 600), "address": (1000, 600)})
    zhang = Client(REMOTE_ADDR="10.0.4.1")
    zhang.force_login(c.u_zhang, backend="django.contrib.auth.backends.ModelBackend")

    def press(key: str):
        return zhang.post(
            "/api/v1/sos/calls",
            json.dumps({"kind": "emergency", "idempotency_key": key}),
            content_type="application/json",
        )

    with frozen(T0):
        assert press("p1").status_code == 201
        for _ in range(5):
            assert press("p1").status_code == 200  # the same press again: answered with the first call
        assert press("p2").status_code == 201
        texts = Message.objects.count()
        r = press("p3")
        assert r.status_code == 429
        assert r.json()["error"]["code"] == "rate_limited"
        assert "110" in r.json()["error"]["message"] or "120" in r.json()["error"]["message"]
        assert Message.objects.count() == texts  # nobody texted for the refused press
    assert Call.objects.count() == 2


def test_a_proxy_not_declared_is_warned_about_once(county, settings, caplog) -> None:
    settings.TRUSTED_PROXY_COUNT = 0
    ratelimit._warned = False
    with caplog.at_level("WARNING", logger="core.ratelimit"):
        for _ in range(3):
            Client(REMOTE_ADDR="10.0.5.1", HTTP_X_FORWARDED_FOR="1.2.3.4").post(
                "/accounts/login/", {"username": "x", "password": "y"}
            )
    assert sum("TRUSTED_PROXY_COUNT" in r.getMessage() for r in caplog.records) == 1
