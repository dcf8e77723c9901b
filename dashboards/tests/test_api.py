"""The dashboard API: scope, bad input, appeals and the monthly assessment."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal

import pytest
from django.core.management import call_command

from dashboards import indicators, rollups
from dashboards.models import Result, ResultLog, Tally
from workorders.services import Unit
from workorders.states import State
from workorders.tests.helpers import fresh, order_in

pytestmark = pytest.mark.django_db


def post(client, url, body=None):
    return client.post(url, json.dumps(body or {}), content_type="application/json")


@pytest.fixture
def done(world, clock):
    """This month: two rated orders in 东村 (one 非常满意, one 不满意 and reopened), one in 南村 answered."""
    from workorders import services

    clock.set("2026-11-02 09:00")
    good = order_in(world, State.RATED)
    bad = order_in(world, State.REOPENED)
    south = services.workorder_submit(
        by=world.c.u_sun, owner=world.c.sun_resident, kind="consult", category=world.streetlight, text="咨询路灯",
        channel="hotline",
    ).order  # fmt: skip
    services.workorder_answer(order=fresh(south), by=world.c.u_zhao, reply="已答复")
    rollups.apply_all()
    return {"good": good, "bad": bad, "south": south}


NOV = "start=2026-11-01&end=2026-11-30"


def test_a_leader_sees_the_county_and_drills_down(world, done, client_as) -> None:
    c = world.c
    r = client_as(c.u_qian).get(f"/api/v1/dashboard/nodes/{c.county.pk}?{NOV}")
    assert r.status_code == 200
    body = r.json()
    assert body["counters"]["total"] == 3
    kids = {k["name"]: k["counters"]["total"] for k in body["children"]}
    assert kids == {"东镇": 2, "南镇": 1}
    assert body["rates"]["satisfaction"] == pytest.approx(0.5)  # 5 and 2
    town = client_as(c.u_qian).get(f"/api/v1/dashboard/nodes/{c.t1.pk}?{NOV}").json()
    assert {k["name"]: k["counters"]["total"] for k in town["children"]} == {"东村": 2, "西村": 0}


def test_scope_is_airtight(world, done, client_as) -> None:
    c = world.c
    town = client_as(c.u_wu)  # 东镇
    assert town.get(f"/api/v1/dashboard/nodes/{c.t1.pk}?{NOV}").status_code == 200
    missing = town.get("/api/v1/dashboard/nodes/999999")
    for other in (c.t2, c.v3, c.county):
        r = town.get(f"/api/v1/dashboard/nodes/{other.pk}?{NOV}")
        assert (r.status_code, r.content) == (404, missing.content)
    assert town.get(f"/api/v1/dashboard/ranking?group=village&node={c.t2.pk}").status_code == 404
    ranked = town.get(f"/api/v1/dashboard/ranking?group=village&{NOV}").json()["rows"]
    assert {r["name"] for r in ranked} == {"东村", "西村"}
    dept = client_as(c.u_wang)  # 民政局
    assert dept.get(f"/api/v1/dashboard/departments/{c.civil_affairs.pk}?{NOV}").status_code == 200
    assert dept.get(f"/api/v1/dashboard/departments/{world.housing.pk}?{NOV}").status_code == 404
    assert dept.get(f"/api/v1/dashboard/nodes/{c.county.pk}").status_code == 404
    peers = dept.get(f"/api/v1/dashboard/ranking?group=department&{NOV}").json()["rows"]
    assert {r["name"] for r in peers} == {"民政局", "住建局"}  # where it stands, not their detail
    resident = client_as(c.u_zhang)
    assert resident.get("/api/v1/dashboard/board").status_code == 404
    assert resident.get(f"/api/v1/dashboard/nodes/{c.a1.pk}").status_code == 404
    assert resident.get("/api/v1/dashboard/ranking").status_code == 404
    assert client_as(None).get("/api/v1/dashboard/ranking").status_code == 401


def test_bad_input_gets_a_clear_error(world, done, client_as) -> None:
    leader = client_as(world.c.u_qian)
    county = world.c.county.pk
    for query in ("start=2026-11-30&end=2026-11-01", "start=2020-01-01&end=2026-11-01", "start=yesterday"):
        r = leader.get(f"/api/v1/dashboard/nodes/{county}?{query}")
        assert r.status_code == 422, query
        assert r.json()["error"]["message"]
    assert leader.get("/api/v1/dashboard/ranking?group=hamlet").status_code == 422
    assert leader.get("/api/v1/dashboard/volume?start=2026-11-01").status_code == 422  # no unit
    assert post(leader, "/api/v1/dashboard/assessment/2026-13/village/compute").status_code == 422
    assert post(leader, "/api/v1/dashboard/assessment/2026-11/hamlet/compute").status_code == 404
    assert post(leader, "/api/v1/dashboard/assessment/2026-11/village/compute", {"x": 1}).status_code == 422
    assert not Result.objects.exists()


def test_volume_by_channel_kind_and_category(world, done, client_as) -> None:
    leader = client_as(world.c.u_qian)
    v = leader.get(f"/api/v1/dashboard/volume?node={world.c.county.pk}&{NOV}").json()
    assert {r["value"]: r["count"] for r in v["c"]} == {"mobile": 2, "hotline": 1}
    assert {r["value"]: r["count"] for r in v["k"]} == {"complaint": 2, "consult": 1}
    assert [(r["label"], r["count"]) for r in v["g"]] == [("城乡建设", 3)]
    grid = leader.get(f"/api/v1/dashboard/volume?node={world.c.a1.pk}&{NOV}").json()  # counted from the orders
    assert {r["value"]: r["count"] for r in grid["c"]} == {"mobile": 2}


def test_the_monthly_assessment(world, done, client_as, clock) -> None:
    c = world.c
    leader = client_as(c.u_qian)
    url = "/api/v1/dashboard/assessment/2026-11/village"
    assert post(client_as(c.u_wu), f"{url}/compute").status_code == 404  # town staff do not assess
    r = post(leader, f"{url}/compute")
    assert r.status_code == 200, r.content
    rows = {row["name"]: row for row in r.json()["rows"]}
    # 南村: responded, solved? no verdict, not rated → only response counts → 100.
    assert Decimal(rows["南村"]["base"]) == Decimal("100.00")
    # 东村: response 2/2, resolution 1/2, satisfaction (1 + 0)/2 → 30 + 17.5 + 17.5 = 65.
    v1 = indicators.for_unit(node_id=c.v1.pk, start=dt.date(2026, 11, 1), end=dt.date(2026, 11, 30)).rates
    assert (v1["response"], v1["resolution"], v1["satisfaction"]) == (1.0, 0.5, 0.5)
    assert Decimal(rows["东村"]["base"]) == Decimal("65.00")
    assert [row["name"] for row in r.json()["rows"]] == ["南村", "西村", "东村"]  # 西村: nothing to rate
    # 专项: a bonus for 东村.
    s = post(leader, f"{url}/specials", {"node_id": c.v1.pk, "points": "5", "reason": "防汛专项表现突出"})
    assert s.status_code == 201
    rows = {row["name"]: row for row in post(leader, f"{url}/compute").json()["rows"]}
    assert Decimal(rows["东村"]["score"]) == Decimal("70.00")
    assert post(leader, f"{url}/publish").status_code == 200
    assert post(leader, f"{url}/publish").status_code == 409
    late = post(leader, f"{url}/specials", {"node_id": c.v1.pk, "points": "-3", "reason": "迟报"})
    assert late.status_code == 409
    again = post(leader, f"{url}/compute")
    assert again.status_code == 409 and again.json()["error"]["code"] == "dashboard.published"
    ok = post(leader, f"{url}/compute", {"reason": "区里更正了一单"})
    assert ok.status_code == 200
    log = list(ResultLog.objects.order_by("id").values_list("action", "reason"))
    assert log[-1] == ("recompute", "区里更正了一单") and ("publish", "") in log
    assert ok.json()["published_at"] is not None  # still published: recomputed on purpose, logged


def test_appeals(world, done, client_as) -> None:
    c = world.c
    bad = done["bad"]
    feng, leader = client_as(world.u_feng), client_as(c.u_qian)
    body = {"order_id": bad.pk, "reason": "居民诉求超出政策范围"}
    assert post(client_as(c.u_zhang), "/api/v1/dashboard/exemptions", body).status_code == 403
    r = post(feng, "/api/v1/dashboard/exemptions", body)
    assert r.status_code == 201, r.content
    assert post(feng, "/api/v1/dashboard/exemptions", body).status_code == 409
    ex = r.json()["id"]
    assert post(feng, f"/api/v1/dashboard/exemptions/{ex}/decide", {"approve": True}).status_code == 404
    assert post(client_as(c.u_wu), f"/api/v1/dashboard/exemptions/{ex}/decide", {"approve": True}).status_code == 404
    assert (
        post(leader, f"/api/v1/dashboard/exemptions/{ex}/decide", {"approve": True, "note": "属实"}).status_code == 200
    )
    assert post(leader, f"/api/v1/dashboard/exemptions/{ex}/decide", {"approve": False}).status_code == 409
    rollups.apply_all()
    county = leader.get(f"/api/v1/dashboard/nodes/{c.county.pk}?{NOV}").json()["counters"]
    assert (county["total"], county["excluded"]) == (3, 1)
    assert [e["status"] for e in leader.get("/api/v1/dashboard/exemptions").json()] == ["approved"]
    assert post(feng, "/api/v1/dashboard/exemptions", body).status_code == 409  # already excluded


def test_the_board(world, done, client_as) -> None:
    b = client_as(world.c.u_qian).get("/api/v1/dashboard/board")
    assert b.status_code == 200
    body = b.json()
    assert body["node"]["name"] == "测试市"
    assert body["live"]["open"] == 1  # the reopened order
    assert {g["id"]: g["total"] for g in body["map"] if g["total"]} == {world.c.a1.pk: 2, world.c.c1.pk: 1}
    assert body["hot"][0]["count"] == 3


def test_definitions_are_in_chinese_and_in_the_openapi_document(client_as, world) -> None:
    d = client_as(world.c.u_qian).get("/api/v1/dashboard/definitions").json()
    assert {x["key"] for x in d} >= {"response", "resolution", "satisfaction", "on_time", "return", "reopen"}
    doc = client_as(world.c.u_qian).get("/api/v1/openapi.json").json()
    assert any(p.startswith("/api/v1/dashboard/") for p in doc["paths"])


def test_the_check_command_finds_a_broken_tally(world, done, capsys) -> None:
    call_command("rollups_check")
    assert "differences 0" in capsys.readouterr().out
    Tally.objects.filter(node=world.c.county, period="m").update(total=99)
    with pytest.raises(Exception, match="differ"):
        call_command("rollups_check")
    call_command("rollups_check", "--rebuild")
    assert "differences 0" in capsys.readouterr().out


def test_reassignment_moves_the_order_between_departments(world, done) -> None:
    from workorders import services

    o = order_in(world, State.DISPATCHED)
    rollups.apply_all()
    nov = (dt.date(2026, 11, 1), dt.date(2026, 11, 30))
    civil = world.c.civil_affairs.pk
    before = indicators.for_unit(department_id=civil, start=nov[0], end=nov[1]).counters["total"]
    services.workorder_reassign(order=fresh(o), to=Unit(department=world.c.civil_affairs), by=world.c.u_zhao)
    rollups.apply_all()
    assert indicators.for_unit(department_id=civil, start=nov[0], end=nov[1]).counters["total"] == before + 1
    assert rollups.differences() == []


def test_a_new_scheme_version_applies_from_its_month(world, done, client_as) -> None:
    leader = client_as(world.c.u_qian)
    assert [s["version"] for s in leader.get("/api/v1/dashboard/schemes").json()] == [1]
    bad = post(
        leader, "/api/v1/dashboard/schemes", {"name": "新方案", "weights": {"response": 50}, "valid_from": "2026-12"}
    )
    assert bad.status_code == 422 and "100" in str(bad.json()["error"]["fields"])
    unknown = {"name": "x", "weights": {"response": 50, "luck": 50}, "valid_from": "2026-12"}
    assert post(leader, "/api/v1/dashboard/schemes", unknown).status_code == 422
    assert post(client_as(world.c.u_wu), "/api/v1/dashboard/schemes", unknown).status_code == 404
    body = {
        "name": "提高群众评价权重",
        "weights": {"response": 20, "resolution": 30, "satisfaction": 50},
        "valid_from": "2026-12",
    }
    r = post(leader, "/api/v1/dashboard/schemes", body)
    assert r.status_code == 201 and r.json()["version"] == 2
    nov = post(leader, "/api/v1/dashboard/assessment/2026-11/village/compute").json()
    assert nov["weights"] == {"response": 30, "resolution": 35, "satisfaction": 35}  # November keeps version 1
    from dashboards.services import scheme_for

    assert scheme_for(dt.date(2026, 12, 1)).version == 2


def test_a_town_leader_assesses_the_town_in_a_result_of_its_own(world, done, client_as) -> None:
    from accounts import services as accounts
    from accounts.models import Role
    from gongzhi.test import _user

    c = world.c
    town_leader = _user("t1lead", "东镇书记", is_staff=True)
    accounts.role_assign(user=town_leader, role=Role.LEADER, node=c.t1)
    county = post(client_as(c.u_qian), "/api/v1/dashboard/assessment/2026-11/village/compute").json()
    assert {r["name"] for r in county["rows"]} == {"东村", "西村", "南村"}
    town = client_as(town_leader)
    assert post(town, "/api/v1/dashboard/assessment/2026-11/village/publish").status_code == 404  # not theirs
    mine = post(town, "/api/v1/dashboard/assessment/2026-11/village/compute").json()
    assert {r["name"] for r in mine["rows"]} == {"东村", "西村"}
    again = client_as(c.u_qian).get("/api/v1/dashboard/assessment/2026-11/village").json()
    assert {r["name"] for r in again["rows"]} == {"东村", "西村", "南村"} and again["published_at"] is None
    assert Result.objects.count() == 2


def test_ties_share_a_rank_and_never_split_across_the_lists(world, done, client_as) -> None:
    rows = post(client_as(world.c.u_qian), "/api/v1/dashboard/assessment/2026-11/village/compute").json()["rows"]
    by = {r["name"]: r for r in rows}
    # 南村 and 西村 both score 100 (nothing rated against them): one rank, one list.
    assert by["南村"]["rank"] == by["西村"]["rank"] == 1 and by["东村"]["rank"] == 3
    # Three units, one list place each: the tie at the top is two of three, so no top list; 东村 is last.
    assert by["南村"]["listed"] == by["西村"]["listed"] == ""
    assert by["东村"]["listed"] == "black"


def test_special_items_must_fit_the_group_and_short_reasons_do(world, done, client_as) -> None:
    c = world.c
    leader = client_as(c.u_qian)
    url = "/api/v1/dashboard/assessment/2026-11/village/specials"
    wrong = post(leader, url, {"node_id": c.t1.pk, "points": "2", "reason": "抗洪"})
    assert wrong.status_code == 422 and "unit" in wrong.json()["error"]["fields"]
    assert post(leader, url, {"department_id": c.civil_affairs.pk, "points": "2", "reason": "抗洪"}).status_code == 422
    assert post(leader, url, {"node_id": c.v1.pk, "points": "2", "reason": "抗洪"}).status_code == 201
    r = post(client_as(world.u_feng), "/api/v1/dashboard/exemptions", {"order_id": done["bad"].pk, "reason": "重复件"})
    assert r.status_code == 201


def test_a_department_sees_its_peers_scores_but_only_its_own_rates(world, done, client_as) -> None:
    rows = client_as(world.c.u_wang).get(f"/api/v1/dashboard/ranking?group=department&{NOV}").json()["rows"]
    by = {r["name"]: r for r in rows}
    assert by["住建局"]["score"] and set(by["住建局"]["rates"].values()) == {None}
    assert by["民政局"]["rates"]["response"] is None or "response" in by["民政局"]["rates"]
    leader = client_as(world.c.u_qian).get(f"/api/v1/dashboard/ranking?group=department&{NOV}").json()["rows"]
    assert {r["name"]: r["rates"]["response"] for r in leader}["住建局"] == 1.0
    assert client_as(world.c.u_qian).get("/api/v1/dashboard/assessment/2026-1/village").status_code == 422
