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
