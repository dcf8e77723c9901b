"""Special items (专项) are published as the page lists them: a result computed before an item was added
is not published, an item of no points is refused, and items that cancel out are published as 0 only
when the assessor says so."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from dashboards import rollups
from dashboards.models import Result, SpecialItem
from gongzhi.test import db_fingerprint
from workorders.states import State
from workorders.tests.helpers import order_in

pytestmark = pytest.mark.django_db

URL = "/api/v1/dashboard/assessment/2026-11/village"
PAGE = "/dashboard/assessment/2026-11/village/"


def post(client, url, body=None):
    return client.post(url, json.dumps(body or {}), content_type="application/json")


@pytest.fixture
def nov(world, clock):
    clock.set("2026-11-02 09:00")
    order_in(world, State.RATED)
    rollups.apply_all()
    return world


def listed(name: str) -> Decimal:
    """What the page lists for a unit: the sum of its special items."""
    return sum((s.points for s in SpecialItem.objects.filter(node__name=name)), Decimal(0))


def published(name: str) -> Decimal:
    return Result.objects.get(published_at__isnull=False).rows.get(name=name).special


def messages_of(response) -> list[str]:
    return [str(m) for m in response.context["messages"]] if response.context else []


def test_a_result_computed_before_an_item_is_not_published(nov, client_as) -> None:
    c = nov.c
    leader = client_as(c.u_qian)
    assert post(leader, f"{URL}/compute").status_code == 200
    r = post(leader, f"{URL}/specials", {"node_id": c.v1.pk, "points": "-2", "reason": "迟报"})
    assert r.status_code == 201
    assert "-2.00" in leader.get(PAGE).content.decode()  # the page lists it
    before = db_fingerprint()
    stale = post(leader, f"{URL}/publish")
    assert stale.status_code == 409, stale.content  # it would publish +0.00
    assert stale.json()["error"]["code"] == "dashboard.stale" and "东村" in stale.json()["error"]["message"]
    assert db_fingerprint() == before
    post(leader, f"{URL}/compute")
    ok = post(leader, f"{URL}/publish")
    assert ok.status_code == 200
    row = {r["name"]: r for r in ok.json()["rows"]}["东村"]
    assert Decimal(row["special"]) == published("东村") == listed("东村") == Decimal("-2.00")


def test_the_page_warns_and_does_not_publish_a_stale_result(nov, client_as) -> None:
    c = nov.c
    en = client_as(c.u_qian, lang="en")
    en.post(f"{PAGE}compute/")
    en.post(f"{PAGE}specials/", {"unit": f"n:{c.v1.pk}", "points": "－2", "reason": "迟报"})
    page = en.get(PAGE).content.decode()
    assert "-2.00" in page and 'data-warning="stale"' in page
    before = db_fingerprint()
    r = en.post(f"{PAGE}publish/", follow=True)
    assert any("compute again" in m.lower() for m in messages_of(r)), messages_of(r)
    assert db_fingerprint() == before
    en.post(f"{PAGE}compute/")
    r = en.post(f"{PAGE}publish/", follow=True)
    assert any("Published" in m for m in messages_of(r)), messages_of(r)
    assert published("东村") == listed("东村") == Decimal("-2.00")


def test_an_item_of_no_points_is_refused(nov, client_as) -> None:
    c = nov.c
    leader = client_as(c.u_qian)
    en = client_as(c.u_qian, lang="en")
    before = db_fingerprint()
    for points in ("0", "0.00", "-0.00"):
        r = post(leader, f"{URL}/specials", {"node_id": c.v1.pk, "points": points, "reason": "无"})
        assert r.status_code == 422 and "points" in r.json()["error"]["fields"], (points, r.content)
    for points in ("0", "-0", "0.004", "-2.005"):  # what would be stored or published otherwise than typed
        r = en.post(f"{PAGE}specials/", {"unit": f"n:{c.v1.pk}", "points": points, "reason": "无"}, follow=True)
        assert any("Points" in m for m in messages_of(r)), (points, messages_of(r))
    assert db_fingerprint() == before


def test_items_that_cancel_out_are_published_as_zero_only_on_purpose(nov, client_as) -> None:
    c = nov.c
    leader = client_as(c.u_qian)
    en = client_as(c.u_qian, lang="en")
    for points in ("-2", "2"):  # a penalty, then its correction
        body = {"node_id": c.v1.pk, "points": points, "reason": "更正"}
        assert post(leader, f"{URL}/specials", body).status_code == 201
    post(leader, f"{URL}/compute")
    assert 'data-warning="zero"' in en.get(PAGE).content.decode()
    before = db_fingerprint()
    r = post(leader, f"{URL}/publish")
    assert r.status_code == 409 and r.json()["error"]["code"] == "dashboard.special_zero", r.content
    assert "东村" in r.json()["error"]["message"]
    r = en.post(f"{PAGE}publish/", follow=True)
    assert any("add up to 0" in m for m in messages_of(r)), messages_of(r)
    assert db_fingerprint() == before
    r = en.post(f"{PAGE}publish/", {"confirm_zero": "on"}, follow=True)
    assert any("Published" in m for m in messages_of(r)), messages_of(r)
    assert published("东村") == listed("东村") == Decimal("0.00")


def test_the_api_publishes_cancelled_items_when_told_to(nov, client_as) -> None:
    c = nov.c
    leader = client_as(c.u_qian)
    for points in ("1.5", "-1.5"):
        post(leader, f"{URL}/specials", {"node_id": c.v2.pk, "points": points, "reason": "更正"})
    post(leader, f"{URL}/compute")
    assert post(leader, f"{URL}/publish").status_code == 409
    r = post(leader, f"{URL}/publish?confirm_zero=true")
    assert r.status_code == 200, r.content
    assert published("西村") == Decimal("0.00")
