"""Two rollup workers and a stream of order changes at once: no change counted twice or lost."""

from __future__ import annotations

import pytest

from dashboards import rollups
from dashboards.models import Dirty, WorkerLock
from workorders import services
from workorders.states import State
from workorders.tests.helpers import fresh, order_in
from workorders.tests.test_concurrency import run_threads

pytestmark = pytest.mark.django_db(transaction=True)


def test_two_workers_and_the_clerks_at_once(world) -> None:
    orders = [order_in(world, State.DISPATCHED) for _ in range(6)]

    def target(i: int, go) -> int:
        go()
        if i == 0:  # the clerks: every order signed for, resolved and rated, one step at a time
            for o in orders:
                services.workorder_accept(order=fresh(o), by=world.u_feng)
                services.workorder_resolve(order=fresh(o), by=world.u_feng, reply="已处理")
                services.workorder_rate(order=fresh(o), by=world.c.u_zhang, solved=True, satisfaction=4)
            return 0
        folded = 0
        for _ in range(40):  # the workers, in small batches so that they interleave with the clerks
            folded += rollups.apply_pending(batch=2)
        return folded

    results = run_threads(3, target)
    assert results[1] + results[2] > 0
    rollups.apply_all()
    assert not Dirty.objects.exists()
    assert rollups.differences() == []
    assert WorkerLock.objects.get(pk=1).passes >= 2
