"""Who writes an assessment: schemes and special items (专项) are written only by those who own the
assessment they change — through the API, the pages and the admin alike, and a refusal changes nothing."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal

import pytest

from core.errors import NotFound, PermissionDenied
from dashboards import rollups, services
from dashboards.models import Result, Scheme, SpecialItem
from gongzhi.test import db_fingerprint
from workorders.states import State
from workorders.tests.helpers import order_in

pytestmark = pytest.mark.django_db

URL = "/api/v1/dashboard/assessment/2026-11/village"
PAGE = "/dashboard/assessment/2026-11/village/"
NOV = dt.date(2026, 11, 1)
SCHEME = {"name": "镇里的方案", "weights": {"response": 100}, "valid_from": "2026-11"}


def post(client, url, body=None):
    return client.post(url, json.dumps(body or {}), content_type="application/json")


@pytest.fixture
def town_leader(world, clock):
    """东镇's own leader (钱领导 leads the county), and an order rated in 东村 this month."""
    from accounts import services as accounts
    from accounts.models import Role
    from gongzhi.test import _user

    clock.set("2026-11-02 09:00")
    order_in(world, State.RATED)
    rollups.apply_all()
    user = _user("t1lead", "东镇书记", is_staff=True)
    accounts.role_assign(user=user, role=Role.LEADER, node=world.c.t1)
    return user


def county_special(world, client_as, name: str) -> Decimal:
    """The special points of a unit in the county's own result, computed now."""
    rows = post(client_as(world.c.u_qian), f"{URL}/compute").json()["rows"]
    return Decimal({r["name"]: r for r in rows}[name]["special"])


# --- schemes ------------------------------------------------------------------------------------------


def test_a_town_leader_cannot_write_the_scheme_every_assessment_uses(world, town_leader, client_as) -> None:
    town = client_as(town_leader)
    assert town.get("/api/v1/dashboard/schemes").status_code == 200  # they see it: 403, not 404
    before = db_fingerprint()
    r = post(town, "/api/v1/dashboard/schemes", SCHEME)
    assert r.status_code == 403, r.content
    assert r.json()["error"]["code"] == "permission_denied" and r.json()["error"]["message"]
    assert db_fingerprint() == before
    assert services.scheme_for(NOV).weights == services.DEFAULT_WEIGHTS
    # The service says the same to any caller (the admin and importers too).
    with pytest.raises(PermissionDenied):
        services.scheme_create(
            by=town_leader, name="x", weights={"response": 100}, basic_weight=Decimal("0.6"), valid_from=NOV
        )
    assert db_fingerprint() == before
    # The county's leader owns the county's assessment: their version applies.
    assert post(client_as(world.c.u_qian), "/api/v1/dashboard/schemes", SCHEME).status_code == 201
    assert services.scheme_for(NOV).weights == {"response": 100}


# --- special items ------------------------------------------------------------------------------------


def test_a_town_leaders_special_item_never_lifts_a_village_in_the_county(world, town_leader, client_as) -> None:
    c = world.c
    town = client_as(town_leader)
    r = post(town, f"{URL}/specials", {"node_id": c.v1.pk, "points": "100", "reason": "本镇加分"})
    assert r.status_code == 201, r.content  # the town's own assessment: theirs to write
    assert SpecialItem.objects.get().area_id == c.t1.pk
    assert county_special(world, client_as, "东村") == Decimal("0.00")  # the county's ranking is the county's
    mine = {r["name"]: r for r in post(town, f"{URL}/compute").json()["rows"]}
    assert Decimal(mine["东村"]["special"]) == Decimal("100.00")
    # A unit outside the town: like a missing one, and nothing changes.
    before = db_fingerprint()
    out = post(town, f"{URL}/specials", {"node_id": c.v3.pk, "points": "100", "reason": "越界"})
    missing = post(town, f"{URL}/specials", {"node_id": 999999, "points": "100", "reason": "越界"})
    assert (out.status_code, out.json()) == (404, missing.json())
    assert db_fingerprint() == before


def test_the_service_refuses_an_assessment_that_is_not_theirs(world, town_leader) -> None:
    c = world.c
    before = db_fingerprint()
    kw = {"month": NOV, "group": "village", "node": c.v1, "points": Decimal(100), "reason": "本镇加分"}
    with pytest.raises(NotFound):  # the county is not even visible to them
        services.special_add(by=town_leader, area=c.county, **kw)
    with pytest.raises(PermissionDenied):  # the dispatcher sees the county but does not assess it
        services.special_add(by=c.u_zhao, area=c.county, **kw)
    assert db_fingerprint() == before
    # The county's leader owns the towns' assessments too (their role is held over the subtree).
    assert services.special_add(by=c.u_qian, area=c.t1, **kw).area_id == c.t1.pk


def test_on_the_page_a_town_leaders_item_stays_in_the_town(world, town_leader, client_as) -> None:
    c = world.c
    town = client_as(town_leader, lang="en")
    r = town.post(f"{PAGE}specials/", {"unit": f"n:{c.v1.pk}", "points": "100", "reason": "本镇加分"}, follow=True)
    assert r.status_code == 200 and any("Special item added" in str(m) for m in r.context["messages"])
    county = client_as(c.u_qian)
    county.post(f"{PAGE}compute/")
    result = Result.objects.get(node=c.county)
    assert result.rows.get(name="东村").special == Decimal("0.00")
    assert "本镇加分" not in county.get(PAGE).content.decode()  # not among the county's special items
    assert "本镇加分" in town.get(PAGE).content.decode()
    before = db_fingerprint()
    assert town.post(f"{PAGE}specials/", {"unit": f"n:{c.v3.pk}", "points": "100", "reason": "x"}).status_code == 404
    assert db_fingerprint() == before


def test_the_admin_writes_no_scheme_and_no_special_item(world, town_leader, client_as) -> None:
    clients = [client_as(user) for user in (town_leader, world.c.u_admin)]  # a login writes last_login
    before = db_fingerprint()
    for user, client in zip((town_leader, world.c.u_admin), clients, strict=True):
        for model in ("scheme", "specialitem"):
            assert client.get(f"/admin/dashboards/{model}/add/").status_code in (302, 403), (user, model)
            r = client.post(
                f"/admin/dashboards/{model}/add/",
                {"version": 9, "name": "x", "valid_from": "2026-11-01", "weights": '{"response": 100}',
                 "basic_weight": "0.6", "created_at_0": "2026-11-01", "created_at_1": "09:00",
                 "month": "2026-11-01", "group": "village", "node": world.c.v1.pk, "points": "100", "reason": "x"},
            )  # fmt: skip
            assert r.status_code in (302, 403), (user, model)
    assert db_fingerprint() == before
    assert Scheme.objects.count() <= 1 and not SpecialItem.objects.exists()
