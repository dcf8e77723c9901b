"""POST /api/v1/workorders/dispatch-bulk: several orders in one call, all or nothing. (It used to answer
405: the "/workorders/{order_id}" route, declared first, took the path.)"""

from __future__ import annotations

import json
import re

import pytest

from accounts import services as accounts
from org.policy import Cap, roles_with
from workorders.models import Event
from workorders.states import State
from workorders.tests.helpers import error_code, events, fresh, post, submit

pytestmark = pytest.mark.django_db

URL = "/api/v1/workorders/dispatch-bulk"


def in_c1(world, text: str):
    """An order located in C1 (南镇), outside 东镇."""
    from gongzhi.test import GRID_CENTRES

    lat, lng = GRID_CENTRES["c1"]
    return submit(world, text=text, lat=lat, lng=lng)


def test_several_orders_are_dispatched_in_one_call(world, client_as):
    c = world.c
    a, b, d = (submit(world, text=t) for t in ("路灯一", "路灯二", "路灯三"))
    zhao = client_as(c.u_zhao)
    r = post(zhao, URL, {"ids": [a.pk, b.pk], "to": {"department_id": world.housing.pk}})
    assert r.status_code == 200, r.content
    assert [row["id"] for row in r.json()] == [a.pk, b.pk]
    assert {row["state"] for row in r.json()} == {State.DISPATCHED}
    for o in (a, b):
        o = fresh(o)
        assert (o.state, o.department_id) == (State.DISPATCHED, world.housing.pk)
        assert events(o)[-1] == ("dispatch", State.SUBMITTED, State.DISPATCHED)
    assert fresh(d).state == State.SUBMITTED
    # Without `to`, each goes to its suggested unit (street lights → 住建局 by the dispatch rules).
    r = post(zhao, URL, {"ids": [d.pk]})
    assert r.status_code == 200, r.content
    assert (fresh(d).state, fresh(d).department_id) == (State.DISPATCHED, world.housing.pk)


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"ids": []},
        {"ids": "1,2"},
        {"ids": [0]},
        {"ids": [-3]},
        {"ids": list(range(1, 102))},
        {"ids": [1], "to": {"department_id": "住建局"}},
        {"ids": [1], "extra": True},
    ],
)
def test_bad_input_is_422_and_changes_nothing(world, client_as, body):
    o = submit(world)
    body = {**body, "ids": [o.pk]} if body.get("ids") == [1] else body
    before = Event.objects.count()
    r = post(client_as(world.c.u_zhao), URL, body)
    assert r.status_code == 422, r.content
    assert "error" in r.json()
    assert fresh(o).state == State.SUBMITTED
    assert Event.objects.count() == before


def test_an_unknown_unit_is_422_and_changes_nothing(world, client_as):
    o = submit(world)
    r = post(client_as(world.c.u_zhao), URL, {"ids": [o.pk], "to": {"department_id": 987654}})
    assert (r.status_code, error_code(r)) == (422, "workorder.unknown_unit")
    assert fresh(o).state == State.SUBMITTED


def test_ids_you_cannot_see_are_404_and_nothing_is_dispatched(world, client_as):
    c = world.c
    # A dispatcher for 东镇 only.
    town = accounts.user_create(username="tdisp", password="x" * 12, display_name="镇调度", is_staff=True)
    accounts.role_assign(user=town, role=sorted(roles_with(Cap.ORDERS_DISPATCH))[0], node=c.t1)
    mine = submit(world, text="东镇的路灯")
    theirs = in_c1(world, "南镇的路灯")
    client = client_as(town)
    before = Event.objects.count()
    for ids in ([mine.pk, theirs.pk], [theirs.pk], [mine.pk, 987654]):
        r = post(client, URL, {"ids": ids, "to": {"department_id": world.housing.pk}})
        assert (r.status_code, error_code(r)) == (404, "not_found"), r.content
        hidden = [i for i in ids if i != mine.pk]
        assert r.json()["error"]["fields"]["ids"] == [r.json()["error"]["message"]]
        assert re.findall(r"\d+", r.json()["error"]["message"]) == [str(i) for i in hidden]  # only those

    # Missing and not yours read the same.
    def answer(order_id: int) -> str:
        r = post(client, URL, {"ids": [order_id], "to": {"department_id": world.housing.pk}})
        return json.dumps(r.json(), ensure_ascii=False).replace(str(order_id), "#")

    assert answer(theirs.pk) == answer(987654)
    assert (fresh(mine).state, fresh(theirs).state) == (State.SUBMITTED, State.SUBMITTED)
    assert Event.objects.count() == before
    # Within their own town the same call works.
    r = post(client, URL, {"ids": [mine.pk], "to": {"department_id": world.housing.pk}})
    assert r.status_code == 200, r.content


def test_an_order_that_cannot_be_dispatched_undoes_the_whole_call(world, client_as):
    a, b = submit(world, text="路灯一"), submit(world, text="路灯二")
    zhao = client_as(world.c.u_zhao)
    assert post(zhao, URL, {"ids": [b.pk], "to": {"department_id": world.housing.pk}}).status_code == 200
    before = Event.objects.count()
    r = post(zhao, URL, {"ids": [a.pk, b.pk], "to": {"department_id": world.housing.pk}})
    assert r.status_code == 409, r.content
    assert fresh(a).state == State.SUBMITTED
    assert Event.objects.count() == before


def test_residents_may_not_bulk_dispatch(world, client_as):
    o = submit(world)
    r = post(client_as(world.c.u_zhang), URL, {"ids": [o.pk], "to": {"department_id": world.housing.pk}})
    assert r.status_code == 403
    assert fresh(o).state == State.SUBMITTED


def test_every_fixed_path_under_workorders_reaches_its_own_operation():
    """A fixed path declared after "/workorders/{order_id}" would be taken by it (405): guard them all."""
    from django.urls import resolve

    from api.api import api

    by_id = resolve("/api/v1/workorders/1").url_name
    fixed = [p for p in api.get_openapi_schema()["paths"] if p.startswith("/api/v1/workorders/") and "{" not in p]
    assert "/api/v1/workorders/dispatch-bulk" in fixed
    assert [p for p in fixed if resolve(p).url_name == by_id] == []
