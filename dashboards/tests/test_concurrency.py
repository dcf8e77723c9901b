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


def test_two_workers_scanning_hot_topics_at_once_make_and_tell_each_once(world) -> None:
    from dashboards.management.commands.run_rollups import HotScan
    from notify.models import Message
    from workorders.models import HotTopic
    from workorders.tests.test_hot import _plant

    _plant(world)  # six households, one matter, two days: a rising topic

    def target(i: int, go) -> int:
        scan = HotScan()
        go()
        scan()
        return 0

    run_threads(2, target)
    assert HotTopic.objects.count() == 1 and HotTopic.objects.get().rising
    assert Message.objects.filter(kind="workorder.hot_topic", user=world.c.u_li).count() == 1
