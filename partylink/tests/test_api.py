"""Household work over the API: a member's households with their standing, a visit whose need becomes a
work order, settling, a resident's request, links and plans — and bad input refused, changing nothing."""

from __future__ import annotations

import pytest

from core.audit import PersonalDataAccess
from org.models import HouseholdLink
from partylink import services
from partylink.models import LinkChange, Need, Visit, VisitPlan
from workorders.models import WorkOrder

API = "/api/v1/party"


def post(client, url, body=None):
    return client.post(url, body or {}, content_type="application/json")


def _state() -> tuple[int, int, int, int, int]:
    return (
        Visit.objects.count(), Need.objects.count(), WorkOrder.objects.count(), LinkChange.objects.count(),
        HouseholdLink.objects.count(),
    )  # fmt: skip


def test_a_member_visits_a_household_and_turns_a_need_into_an_order(world, client_as, clock):
    c = world.c
    liu = client_as(c.u_liu)
    mine = liu.get(f"{API}/households").json()
    assert [(h["address"], h["standing"]["state"]) for h in mine] == [
        ("东村A1湾组1号", "overdue"), ("东村A2湾组3号", "overdue"),
    ]  # fmt: skip
    assert mine[0]["head"] == "张阿姨" and mine[0]["head_phone"] == "13800001234"  # whole for their member ...
    assert PersonalDataAccess.objects.filter(user_id=c.u_liu.pk, resident_id=c.zhang.pk, field="phone").exists()
    body = {
        "household_id": c.h_zhang.pk, "met": "张阿姨", "notes": "独居，身体尚可",
        "needs": [
            {"text": "想申请高龄津贴", "then": "order", "category_id": world.elderly.pk},
            {"text": "家里灯不亮", "kind": "problem"},
        ],
    }  # fmt: skip
    r = post(liu, f"{API}/visits", body)
    assert r.status_code == 201, r.content
    v = r.json()
    assert v["as_member"] is True
    relayed, still_open = v["needs"]
    assert relayed["state"] == "relayed" and relayed["order_code"] and relayed["actions"] == []
    assert still_open["state"] == "open" and still_open["actions"] == ["settle", "relay"]
    order = WorkOrder.objects.get(pk=relayed["order_id"])
    assert (order.owner_id, order.channel) == (c.zhang.pk, "party")
    s = post(liu, f"{API}/needs/{still_open['id']}/settle", {"outcome": "换了灯泡"})
    assert s.status_code == 200 and s.json()["state"] == "settled"
    again = post(liu, f"{API}/needs/{still_open['id']}/order", {})
    assert again.status_code == 409 and again.json()["error"]["code"] == "need.closed"
    assert liu.get(f"{API}/households").json()[0]["standing"]["state"] == "done"
    assert liu.get(f"{API}/visits/{v['id']}").json()["notes"] == "独居，身体尚可"
    assert client_as(c.u_sun).get(f"{API}/visits/{v['id']}").status_code == 404
    assert client_as(c.u_zhou).get(f"{API}/visits?household={c.h_zhang.pk}").json()["count"] == 1


@pytest.mark.parametrize(
    ("change", "status"),
    [
        ({"household_id": 999999}, 404),  # unknown household
        ({"visited_at": "2026-11-20T10:00:00+08:00"}, 422),  # in the future
        ({"notes": "", "needs": []}, 422),  # nothing found at all
        ({"needs": [{"text": ""}]}, 422),  # an empty need
        ({"needs": [{"text": "   "}]}, 422),
        ({"notes": "x" * 1001}, 422),  # oversized
        ({"needs": [{"text": "x" * 501}]}, 422),
        ({"notes": "a\u0000b"}, 400),  # NUL
        ({"needs": [{"text": "要帮忙", "then": "later"}]}, 422),
        ({"needs": [{"text": "要帮忙", "surprise": 1}]}, 422),  # unknown field
        ({"household_id": "一"}, 422),
        ({"lat": 91, "lng": 114}, 422),
    ],
)
def test_bad_visits_get_a_clear_error_and_change_nothing(world, client_as, clock, change, status):
    c = world.c
    before = _state()
    r = post(client_as(c.u_liu), f"{API}/visits", {"household_id": c.h_zhang.pk, "notes": "看望", **change})
    assert r.status_code == status, r.content
    assert r.json()["error"]["code"] and r.json()["error"]["message"]
    assert _state() == before


def test_an_out_of_scope_member_cannot_visit_or_read_a_household_not_linked_to_them(world, client_as, clock):
    c = world.c
    before = _state()
    liu = client_as(c.u_liu)
    r = post(liu, f"{API}/visits", {"household_id": c.h_huang.pk, "notes": "看看"})
    assert r.status_code == 404 and r.json()["error"]["code"] == "household.not_found"
    assert liu.get(f"{API}/visits?household={c.h_huang.pk}").status_code == 404
    assert liu.get(f"{API}/households?grid={c.b1.pk}").status_code == 404
    assert client_as(None).get(f"{API}/households").status_code == 401
    assert _state() == before


def test_staff_list_a_grid_with_numbers_whole_only_where_their_role_needs_them(world, client_as, clock):
    c = world.c
    rows = client_as(c.u_li).get(f"{API}/households?grid={c.a1.pk}").json()
    assert {r["address"]: r["head_phone"] for r in rows} == {
        "东村A1湾组1号": "13800001234",
        "东村A1湾组2号": "13900002222",
    }
    assert PersonalDataAccess.objects.filter(user_id=c.u_li.pk, field="phone").count() == 2  # each read logged
    admin = client_as(c.u_admin).get(f"{API}/households?grid={c.a1.pk}").json()  # manages links, calls nobody
    assert [r["head_phone"] for r in admin] == ["138****1234", "139****2222"]
    assert not PersonalDataAccess.objects.filter(user_id=c.u_admin.pk).exists()
    assert client_as(c.u_sun).get(f"{API}/households?grid={c.a1.pk}").status_code == 404


def test_a_resident_finds_their_member_and_asks_for_help(world, client_as, clock):
    c = world.c
    zhang = client_as(c.u_zhang)
    m = zhang.get(f"{API}/my-member").json()
    assert m == {"name": "刘党员", "center_household": True, "phone": "13900002222"}
    r = post(zhang, f"{API}/ask", {"text": "帮我看看电费怎么交"})
    assert r.status_code == 201 and r.json()["asked"] is True and r.json()["actions"] == []
    assert [n["text"] for n in client_as(c.u_liu).get(f"{API}/needs?state=open").json()["items"]] == [
        "帮我看看电费怎么交"
    ]
    assert client_as(c.u_sun).get(f"{API}/my-member").status_code == 404  # staff, not on the register
    assert post(zhang, f"{API}/ask", {"text": "a\u0000"}).status_code == 400
    assert post(zhang, f"{API}/ask", {"text": "x" * 501}).status_code == 422


def test_links_are_managed_by_village_staff_with_history(world, client_as, clock):
    c = world.c
    zhou = client_as(c.u_zhou)
    member = c.liu.party_member
    r = post(zhou, f"{API}/links", {"household_id": c.h_liu.pk, "member_id": member.pk, "reason": "新联"})
    assert r.status_code == 201 and [h["action"] for h in r.json()] == ["link"]
    assert post(zhou, f"{API}/links", {"household_id": c.h_liu.pk, "member_id": member.pk}).status_code == 409
    before = _state()
    assert post(zhou, f"{API}/links", {"household_id": c.h_huang.pk, "member_id": member.pk}).status_code == 404
    assert post(client_as(c.u_liu), f"{API}/links/{c.h_liu.pk}/unlink", {"reason": "自己解"}).status_code == 404
    assert post(zhou, f"{API}/links/{c.h_liu.pk}/unlink", {"reason": ""}).status_code == 422
    assert _state() == before
    u = post(zhou, f"{API}/links/{c.h_liu.pk}/unlink", {"reason": "本户即党员户"})
    assert u.status_code == 200 and [h["action"] for h in u.json()] == ["unlink", "link"]
    assert zhou.get(f"{API}/links/{c.h_liu.pk}/history").json()[0]["previous"] == "刘党员"
    a = post(zhou, f"{API}/links/assign", {"grid_id": c.a1.pk, "member_ids": [member.pk]})
    assert a.status_code == 200 and a.json() == {"linked": 1, "left": 0}


def test_plans_are_read_by_staff_and_set_by_those_who_manage(world, client_as, clock):
    c = world.c
    zhou = client_as(c.u_zhou)
    assert zhou.get(f"{API}/plans/{c.v1.pk}").json() == {"village_id": c.v1.pk, "visits": 1, "period": "month",
                                                         "default": True}  # fmt: skip
    r = zhou.put(f"{API}/plans/{c.v1.pk}", {"visits": 2, "period": "quarter"}, content_type="application/json")
    assert r.status_code == 200 and r.json()["default"] is False
    bad = zhou.put(f"{API}/plans/{c.v1.pk}", {"visits": 40, "period": "quarter"}, content_type="application/json")
    assert bad.status_code == 422
    li = client_as(c.u_li).put(
        f"{API}/plans/{c.v1.pk}", {"visits": 3, "period": "month"}, content_type="application/json"
    )
    assert li.status_code == 404
    assert VisitPlan.objects.get(village=c.v1).visits == 2


def test_a_time_without_a_zone_is_read_as_shanghai_time_not_a_server_error(world, client_as, clock):
    c = world.c
    r = post(client_as(c.u_liu), f"{API}/visits", {"household_id": c.h_zhang.pk, "notes": "看望",
                                                  "visited_at": "2026-11-18T09:00:00"})  # fmt: skip
    assert r.status_code == 201 and r.json()["visited_at"] == "2026-11-18T01:00:00Z"  # 09:00 in Shanghai


def test_lists_cost_the_same_number_of_queries_for_one_row_or_many(world, client_as, clock, steady_memo):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    c = world.c
    zhou = client_as(c.u_zhou)

    def cost(url: str) -> int:
        zhou.get(url)  # warm the scope's memory
        with CaptureQueriesContext(connection) as q:
            assert zhou.get(url).status_code == 200
        return len(q.captured_queries)

    def visit() -> None:
        services.visit_log(by=c.u_liu, household_id=c.h_zhang.pk, notes="看望", needs=[services.NeedIn(text="要帮忙")])

    def project() -> None:
        services.project_propose(by=c.u_liu, village=c.v1, title="修路", goals="修村道")

    for make, url in ((visit, f"{API}/visits"), (project, f"{API}/projects")):
        make()
        one = cost(url)
        make()
        make()
        assert cost(url) == one, url
