"""The tallies equal a full recount of the orders, whatever happened to them."""

from __future__ import annotations

import pytest

from dashboards import rollups
from dashboards.models import Dirty, Tally
from workorders.states import State
from workorders.tests.helpers import order_in

pytestmark = pytest.mark.django_db


def test_every_change_marks_the_order_and_the_worker_folds_it_in(world) -> None:
    o = order_in(world, State.RATED)
    assert Dirty.objects.filter(order_id=o.pk).exists()
    assert rollups.apply_all() >= 1
    assert not Dirty.objects.exists()
    county = Tally.objects.get(node=world.c.county, period="d")
    assert (county.total, county.done, county.verdicts, county.solved, county.sat5) == (1, 1, 1, 1, 1)
    assert rollups.differences() == []


def test_api_smoke(world, client) -> None:
    order_in(world, State.RATED)
    rollups.apply_all()
    client.force_login(world.c.u_qian)
    r = client.get(f"/api/v1/dashboard/nodes/{world.c.county.pk}")
    assert r.status_code == 200, r.content
    body = r.json()
    assert body["counters"]["total"] == 1
    assert client.get("/api/v1/dashboard/ranking?group=village").status_code == 200
    assert client.get("/api/v1/dashboard/board").status_code == 200, client.get("/api/v1/dashboard/board").content
    assert client.get("/api/v1/dashboard/ranking?group=department").status_code == 200
    r = client.post("/api/v1/dashboard/assessment/2026-11/village/compute", "{}", content_type="application/json")
    assert r.status_code == 200, r.content
