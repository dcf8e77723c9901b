"""Household-work pages: the member's list overdue first, the visit form whose need becomes a work order,
settling from the page, the resident's request from home, links and plans for village staff — refusals are
messages that change nothing, other people's households the 404 page."""

from __future__ import annotations

import pytest

from org.models import HouseholdLink
from partylink.models import LinkChange, Need, Visit, VisitPlan
from workorders.models import WorkOrder


def _state():
    return (Visit.objects.count(), Need.objects.count(), WorkOrder.objects.count(), LinkChange.objects.count(),
            HouseholdLink.objects.count())  # fmt: skip


def test_a_member_logs_a_visit_on_the_page_and_a_need_becomes_an_order(world, client_as, clock):
    c = world.c
    liu = client_as(c.u_liu)
    home = liu.get("/party/")
    assert home.status_code == 200
    html = home.content.decode()
    assert html.count('data-standing="overdue"') == 2 and "东村A1湾组1号" in html
    assert 'data-nav="party"' in html
    form = liu.get(f"/party/households/{c.h_zhang.pk}/visit/")
    assert form.status_code == 200 and "张阿姨" in form.content.decode()
    r = liu.post(f"/party/households/{c.h_zhang.pk}/visit/", {
        "visited_at": "2026-11-18T09:30", "met": "张阿姨", "notes": "独居",
        "need_0_text": "想申请高龄津贴", "need_0_kind": "need", "need_0_then": "order",
        "need_0_category": str(world.elderly.parent.parent.pk),
        "need_1_text": "问医保", "need_1_kind": "need", "need_1_then": "settle", "need_1_outcome": "已当场告知",
        "need_2_text": "", "key": "page-key-1",
    }, follow=True)  # fmt: skip
    assert r.status_code == 200
    page = r.content.decode()
    assert "走访已登记" in page or "Visit logged" in page
    order = WorkOrder.objects.get()
    assert (order.owner_id, order.channel) == (c.zhang.pk, "party")
    assert order.need.visit.household_id == c.h_zhang.pk
    assert order.tracking_code in page
    assert Need.objects.get(text="问医保").state == "settled"
    assert 'data-standing="done"' in liu.get("/party/").content.decode()


@pytest.mark.parametrize(
    ("fields", "expect"),
    [
        ({"visited_at": "2026-11-19T10:00"}, "before it happens"),
        ({"visited_at": "soon"}, "date and time"),
        ({"notes": ""}, "at least one need"),
        ({"notes": "x" * 1001}, "1000"),
        ({"notes": "a\x00b"}, "NUL"),
        ({"need_0_text": "要帮忙", "need_0_then": "settle"}, "at least 2"),
        ({"need_0_text": "x" * 501}, "500"),
        ({"need_0_text": "要帮忙", "need_0_then": "tomorrow"}, ""),
    ],
)
def test_bad_visit_forms_show_a_message_and_change_nothing(world, client_as, clock, settings, fields, expect):
    settings.LANGUAGE_CODE = "en"
    c = world.c
    liu = client_as(c.u_liu, lang="en")
    before = _state()
    r = liu.post(f"/party/households/{c.h_zhang.pk}/visit/", {"notes": "看望", **fields}, follow=True)
    assert r.status_code == 200
    messages = [str(m) for m in r.context["messages"]]
    assert messages and expect in " ".join(messages)
    assert _state() == before


def test_other_peoples_households_visits_and_needs_are_the_404_page(world, client_as, clock):
    c = world.c
    from partylink import services

    v = services.visit_log(by=c.u_li, household_id=c.h_liu.pk, notes="正常",
                           needs=[services.NeedIn(text="院墙开裂")])  # fmt: skip
    n = v.needs.get()
    liu, sun = client_as(c.u_liu), client_as(c.u_sun)
    assert liu.get(f"/party/households/{c.h_liu.pk}/visit/").status_code == 404
    assert liu.post(f"/party/households/{c.h_huang.pk}/visit/", {"notes": "看看"}).status_code == 404
    assert sun.get(f"/party/visits/{v.pk}/").status_code == 404
    assert sun.get(f"/party/needs/{n.pk}/").status_code == 404
    before = _state()
    assert sun.post(f"/party/needs/{n.pk}/order/", {}).status_code == 404
    assert _state() == before
    assert client_as(c.u_zhang).get("/party/").status_code == 404  # a resident has no households to visit
    assert client_as(None).get("/party/").status_code == 302


def test_a_need_is_settled_or_relayed_from_its_page(world, client_as, clock):
    c = world.c
    from partylink import services

    need = services.need_ask(by=c.u_zhang, text="灯泡坏了")
    liu = client_as(c.u_liu)
    page = liu.get(f"/party/needs/{need.pk}/").content.decode()
    assert 'data-action="relay"' in page and 'data-action="settle"' in page
    r = liu.post(f"/party/needs/{need.pk}/settle/", {"outcome": ""}, follow=True)
    assert Need.objects.get(pk=need.pk).state == "open" and list(r.context["messages"])
    liu.post(f"/party/needs/{need.pk}/settle/", {"outcome": "帮忙换好了"})
    assert Need.objects.get(pk=need.pk).state == "settled"
    page = liu.get(f"/party/needs/{need.pk}/").content.decode()
    assert 'data-action="relay"' not in page


def test_a_resident_asks_their_member_from_home(world, client_as, clock):
    c = world.c
    zhang = client_as(c.u_zhang)
    assert "ask-text" in zhang.get("/").content.decode()
    r = zhang.post("/party/ask/", {"text": "帮我看看电费"}, follow=True)
    assert r.status_code == 200 and Need.objects.filter(asked=True, household=c.h_zhang).count() == 1
    r = zhang.post("/party/ask/", {"text": "x" * 501}, follow=True)
    assert list(r.context["messages"]) and Need.objects.count() == 1


def test_village_staff_link_move_unlink_and_assign_on_the_links_page(world, client_as, clock):
    c = world.c
    zhou = client_as(c.u_zhou)
    page = zhou.get(f"/party/links/?grid={c.a1.pk}")
    assert page.status_code == 200 and f'data-household="{c.h_liu.pk}"' in page.content.decode()
    member = c.liu.party_member
    zhou.post("/party/links/link/", {"household": c.h_liu.pk, "member": member.pk, "reason": "就近"})
    assert HouseholdLink.objects.get(household=c.h_liu).member_id == member.pk
    before = _state()
    r = zhou.post("/party/links/unlink/", {"household": c.h_liu.pk, "reason": ""}, follow=True)
    assert list(r.context["messages"]) and _state() == before
    zhou.post("/party/links/unlink/", {"household": c.h_liu.pk, "reason": "本户即党员户"})
    assert not HouseholdLink.objects.filter(household=c.h_liu).exists()
    zhou.post("/party/links/assign/", {"grid": c.a1.pk, "members": [str(member.pk)]})
    assert HouseholdLink.objects.get(household=c.h_liu).member_id == member.pk
    history = zhou.get(f"/party/links/?grid={c.a1.pk}").content.decode()
    assert "本户即党员户" in history
    assert zhou.get(f"/party/links/?grid={c.b1.pk}").status_code == 404
    assert client_as(c.u_li).get("/party/links/").status_code == 404  # grid workers do not manage links
    assert zhou.post("/party/links/link/", {"household": c.h_huang.pk, "member": member.pk}).status_code == 404


def test_village_staff_set_the_visit_plan(world, client_as, clock):
    c = world.c
    zhou = client_as(c.u_zhou)
    assert f'data-village="{c.v1.pk}"' in zhou.get("/party/plans/").content.decode()
    zhou.post("/party/plans/", {"village": c.v1.pk, "visits": "2", "period": "quarter"})
    assert VisitPlan.objects.get(village=c.v1).visits == 2
    r = zhou.post("/party/plans/", {"village": c.v1.pk, "visits": "40", "period": "quarter"}, follow=True)
    assert list(r.context["messages"]) and VisitPlan.objects.get(village=c.v1).visits == 2
    assert zhou.post("/party/plans/", {"village": c.v2.pk, "visits": "2", "period": "month"}).status_code == 404
