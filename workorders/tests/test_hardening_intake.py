"""Intake outside one's area: staff (and party members) file only into the grids where they may file for
others; a grid elsewhere answers 404, like a grid that is not there. A resident's own appeal keeps its
rules: she may report a problem wherever she sees it."""

from __future__ import annotations

import pytest

from notify.models import Message
from workorders import services
from workorders.models import Channel, Event, Kind, WorkOrder
from workorders.tests.helpers import error_code, intake_body, post

pytestmark = pytest.mark.django_db

URL = "/api/v1/workorders"
NEW = "/workorders/new/"
A1_POINT = {"lat": "31.180100", "lng": "115.020200"}  # in 东镇's grid A1
C1_POINT = {"lat": "31.300000", "lng": "115.020000"}  # in 南镇's grid C1


def nothing_made() -> None:
    assert WorkOrder.objects.count() == 0
    assert not Event.objects.exists()
    assert not Message.objects.exists()


def test_a_grid_worker_cannot_file_a_patrol_order_into_another_towns_grid(world, client_as):
    c = world.c
    sun = client_as(c.u_sun)  # 孙网格, grid worker of C1 in 南镇
    r = post(sun, URL, intake_body(channel="patrol", kind="report", grid_id=c.a1.pk))
    assert r.status_code == 404, r.content
    assert error_code(r) == "node.not_found"
    # Located by a point in the other town: the same answer.
    r2 = post(sun, URL, intake_body(channel="patrol", kind="report", **A1_POINT))
    assert r2.status_code == 404, r2.content
    assert r2.json() == r.json()
    # Nor does a node there that is not a grid answer otherwise (a 422 would say it exists).
    r3 = post(sun, URL, intake_body(channel="patrol", kind="report", grid_id=c.v1.pk))
    assert (r3.status_code, r3.json()) == (404, r.json())
    nothing_made()
    # His own grid is his to patrol.
    ok = post(sun, URL, intake_body(channel="patrol", kind="report", grid_id=c.c1.pk))
    assert ok.status_code == 201, ok.content
    assert WorkOrder.objects.get().grid_id == c.c1.pk


def test_filing_as_himself_is_no_way_around_his_area(world, client_as):
    """李网格 has no resident record: an order he files from a resident channel is still filed as staff."""
    c = world.c
    r = post(client_as(c.u_li), URL, intake_body(channel="api", grid_id=c.c1.pk))
    assert r.status_code == 404, r.content
    nothing_made()


@pytest.mark.parametrize("channel", ["hotline", "window", "patrol"])
def test_town_staff_file_only_in_their_town(world, client_as, channel):
    c = world.c
    wu = client_as(c.u_wu)  # 吴镇干, 东镇
    assert post(wu, URL, intake_body(channel=channel, grid_id=c.c1.pk)).status_code == 404
    nothing_made()
    r = post(wu, URL, intake_body(channel=channel, grid_id=c.b1.pk))  # 西村, still 东镇
    assert r.status_code == 201, r.content


def test_filing_for_a_resident_into_a_grid_outside_the_area_is_refused(world, client_as):
    c = world.c
    li = client_as(c.u_li)
    r = post(li, URL, intake_body(owner_id=c.zhang.pk, channel="proxy", grid_id=c.c1.pk))
    assert r.status_code == 404, r.content
    nothing_made()
    # At her home, the grid is hers (and his).
    r = post(li, URL, intake_body(owner_id=c.zhang.pk, channel="proxy"))
    assert r.status_code == 201, r.content
    assert WorkOrder.objects.get().grid_id == c.a1.pk


def test_a_party_member_relays_only_into_his_branch_but_files_his_own_anywhere(world, client_as):
    c = world.c
    liu = client_as(c.u_liu)  # 刘党员: party member over 东村, living in A1
    assert post(liu, URL, intake_body(channel="party", grid_id=c.c1.pk)).status_code == 404
    nothing_made()
    # His own appeal (he is its owner) keeps a resident's rules.
    r = post(liu, URL, intake_body(**C1_POINT))
    assert r.status_code == 201, r.content
    o = WorkOrder.objects.get()
    assert (o.grid_id, o.owner_id) == (c.c1.pk, c.liu.pk)


def test_residents_and_the_county_dispatcher_keep_todays_rules(world, client_as):
    c = world.c
    # 张阿姨 reports a problem she saw in the other town: her own appeal, filed where it is.
    r = post(client_as(c.u_zhang), URL, intake_body(grid_id=c.c1.pk))
    assert r.status_code == 201, r.content
    # The county's dispatcher takes hotline calls from anywhere in the county.
    r = post(client_as(c.u_zhao), URL, intake_body(channel="hotline", grid_id=c.c1.pk, contact_name="过路人"))
    assert r.status_code == 201, r.content
    # Department staff file nobody's appeal but their own (they cannot file for others): as before.
    r = post(client_as(c.u_wang), URL, intake_body(channel="api", grid_id=c.c1.pk))
    assert r.status_code == 201, r.content
    assert WorkOrder.objects.count() == 3


def test_the_service_itself_refuses_so_every_caller_obeys(world):
    from core.errors import NotFound

    c = world.c
    with pytest.raises(NotFound):
        services.workorder_submit(
            by=c.u_sun, kind=Kind.REPORT, category=world.streetlight, text="巡查发现路灯不亮", channel=Channel.PATROL,
            grid=c.a1,
        )  # fmt: skip
    nothing_made()


def test_the_submit_page_refuses_a_point_outside_the_area(world, client_as):
    """The page offers only the grids of one's area, but a point from the phone is located by the service:
    that path too stops at the area's edge."""
    sun = client_as(world.c.u_sun)
    base = {"kind": "report", "cat": "0101", "sub": "010101", "text": "巡查发现路灯不亮", "channel": "patrol"}
    r = sun.post(NEW, {**base, "key": "sun-1", **A1_POINT})
    assert r.status_code == 422, r.status_code
    assert "No such grid in your area." in r.content.decode() or "您的辖区内没有这个网格" in r.content.decode()
    nothing_made()
    r = sun.post(NEW, {**base, "key": "sun-2", **C1_POINT})
    assert r.status_code == 302, r.content.decode()[:2000]
    assert WorkOrder.objects.get().grid_id == world.c.c1.pk
