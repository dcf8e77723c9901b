"""Pending extension requests (延期待批) in the dispatcher's lists: a tab of the console listing the orders
whose unit asked for more time and waits for an answer, with their number on the tab, scoped like every
other list."""

from __future__ import annotations

import re

import pytest

from accounts import services as accounts
from accounts.models import Role
from gongzhi.test import PASSWORD
from workorders import selectors, services
from workorders.models import Channel, Kind
from workorders.services import Unit
from workorders.states import State
from workorders.tests.helpers import fresh, order_in

pytestmark = pytest.mark.django_db

CONSOLE = "/workorders/console/"


def rows(page: str) -> set[int]:
    return {int(x) for x in re.findall(r'<tr data-order="(\d+)"', page)}


def tab_count(page: str) -> int | None:
    m = re.search(r'data-tab="extension"[^>]*>[^<]*<span[^>]*data-count="(\d+)"', page)
    return int(m.group(1)) if m else None


@pytest.fixture
def asked(world):
    """Orders in hand at 住建局: two with a pending request (one in 东镇, one in 南镇), one whose request was
    refused, one that never asked."""
    c = world.c
    east = order_in(world, State.IN_PROGRESS)
    services.extension_request(order=east, by=world.u_feng, days=3, reason="需要采购灯具")
    refused = order_in(world, State.IN_PROGRESS, text="另一盏路灯坏了")
    ext = services.extension_request(order=refused, by=world.u_feng, days=2, reason="等配件")
    services.extension_decide(extension=ext, by=c.u_zhao, approve=False, note="请按期办结")
    order_in(world, State.IN_PROGRESS, text="第三盏路灯坏了")
    south = services.workorder_submit(
        by=c.u_sun, kind=Kind.REPORT, category=world.streetlight, text="南村路灯不亮", channel=Channel.PATROL,
        grid=c.c1,
    ).order  # fmt: skip
    services.workorder_dispatch(order=fresh(south), to=Unit(department=world.housing), by=c.u_zhao)
    services.workorder_accept(order=fresh(south), by=world.u_feng)
    services.extension_request(order=fresh(south), by=world.u_feng, days=5, reason="南村路远")
    return {"east": east, "south": south, "refused": refused}


def test_the_console_has_a_tab_of_pending_extension_requests_with_their_number(world, client_as, asked):
    zhao = client_as(world.c.u_zhao)
    page = zhao.get(CONSOLE, {"queue": "extension"}).content.decode()
    assert rows(page) == {asked["east"].pk, asked["south"].pk}
    assert tab_count(page) == 2
    # The number is on the tab whichever list is shown.
    assert tab_count(zhao.get(CONSOLE).content.decode()) == 2
    # Decided, the request leaves the list.
    ext = selectors.pending_extension(asked["east"])
    services.extension_decide(extension=ext, by=world.c.u_zhao, approve=True)
    page = zhao.get(CONSOLE, {"queue": "extension"}).content.decode()
    assert rows(page) == {asked["south"].pk} and tab_count(page) == 1


def test_the_tab_is_scoped_like_the_other_lists(world, client_as, asked):
    c = world.c
    east_dispatcher = accounts.user_create(username="t1disp", password=PASSWORD, display_name="东镇调度", is_staff=True)
    accounts.role_assign(user=east_dispatcher, role=Role.DISPATCHER, node=c.t1)
    page = client_as(east_dispatcher).get(CONSOLE, {"queue": "extension"}).content.decode()
    assert rows(page) == {asked["east"].pk}
    assert tab_count(page) == 1
    # The selector the API lists through answers the same.
    f = selectors.QueueFilter(queue="extension")
    assert set(selectors.order_list(user=east_dispatcher, f=f).values_list("pk", flat=True)) == {asked["east"].pk}
    assert selectors.pending_extension_count(user=east_dispatcher) == 1
    assert selectors.pending_extension_count(user=c.u_zhao) == 2
    # Someone outside every order learns nothing.
    assert selectors.pending_extension_count(user=c.u_wang) == 0
    assert not selectors.order_list(user=c.u_wang, f=f).exists()


def test_the_tab_costs_one_query_however_many_requests_wait(
    world, client_as, asked, django_assert_max_num_queries, settings
):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    # The in-memory copies (the scope, the place names of each row) are read once and then kept: what is
    # counted is the page's own queries.
    settings.GONGZHI = {**settings.GONGZHI, "MEMO_CHECK_SECONDS": 3600}
    zhao = client_as(world.c.u_zhao)
    zhao.get(CONSOLE, {"queue": "extension"})
    with CaptureQueriesContext(connection) as few:
        zhao.get(CONSOLE, {"queue": "extension"})
    for i in range(4):
        o = order_in(world, State.ACCEPTED, text=f"更多路灯{i}")
        services.extension_request(order=o, by=world.u_feng, days=1, reason="等配件")
    with django_assert_max_num_queries(len(few)):
        page = zhao.get(CONSOLE, {"queue": "extension"}).content.decode()
    assert len(rows(page)) == 6 and tab_count(page) == 6
