"""Two rollup workers and a stream of order changes at once: no change counted twice or lost."""

from __future__ import annotations

import threading

import pytest
from django.db import connection

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
    assert sum(WorkerLock.objects.values_list("passes", flat=True)) >= 2


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


def _two_shards_with_changes(world, settings, n: int) -> list:
    """`n` orders folded once, then changed again: waiting in both of two shards."""
    settings.GONGZHI = {**settings.GONGZHI, "ROLLUP_SHARDS": 2}
    orders = [order_in(world, State.DISPATCHED) for _ in range(n)]
    rollups.apply_all()
    for o in orders:
        services.workorder_accept(order=fresh(o), by=world.u_feng)
    assert {o.pk % 2 for o in orders} == {0, 1}
    return orders


def _stuck_pass(monkeypatch, thread_name: str) -> tuple[threading.Event, threading.Event]:
    """Passes run in the thread named `thread_name` stop inside their transaction (computing facts, their shard
    locked) until `release` is set; `entered` is set when one has."""
    entered, release = threading.Event(), threading.Event()
    real = rollups.facts_for

    def slow(ids):
        if threading.current_thread().name == thread_name:
            entered.set()
            assert release.wait(30)
        return real(ids)

    monkeypatch.setattr(rollups, "facts_for", slow)
    return entered, release


def _in_thread(name: str, target) -> threading.Thread:
    def body() -> None:
        try:
            target()
        finally:
            connection.close()

    t = threading.Thread(target=body, name=name)
    t.start()
    return t


@pytest.mark.skipif(connection.vendor != "postgresql", reason="SQLite folds one pass at a time (one write lock)")
def test_a_second_worker_folds_another_shard_while_the_first_is_busy(world, settings, monkeypatch) -> None:
    """The rollup worker scales beyond one: while one pass holds its shard (here, stuck computing facts), a
    second worker folds the other shard's orders instead of waiting on a single lock row."""
    _two_shards_with_changes(world, settings, 6)
    shard_rows = WorkerLock.objects.filter(pk__gte=rollups.SHARD_BASE).order_by("pk")
    before = list(shard_rows.values_list("passes", flat=True))
    entered, release = _stuck_pass(monkeypatch, "first")
    folded: list[int] = []
    t = _in_thread("first", lambda: folded.append(rollups.apply_pending()))
    try:
        assert entered.wait(30)
        second = rollups.apply_pending()  # while the first pass is still inside its transaction
        assert second == 3, "the second worker folded the other shard's three orders"
        assert rollups.apply_pending() == 0, "the first worker's shard is passed over, not waited for"
    finally:
        release.set()
        t.join(30)
    assert folded == [3]
    assert not Dirty.objects.exists()
    assert rollups.differences() == []
    assert list(shard_rows.values_list("passes", flat=True)) == [n + 1 for n in before]


def test_a_pass_that_meets_another_passes_new_row_is_run_again_whole(world, monkeypatch) -> None:
    """Two shards' passes creating the same new tally row: the loser's insert fails; its pass is rolled back
    (facts, marks, tallies) and run again, so nothing is counted twice or lost."""
    from django.db import IntegrityError

    orders = [order_in(world, State.DISPATCHED) for _ in range(3)]
    real = rollups._write
    calls = []

    def flaky(tallies, volumes) -> None:
        calls.append(1)
        real(tallies, volumes)  # written, then the insert "fails": all of it must be undone
        if len(calls) == 1:
            raise IntegrityError("duplicate key value violates unique constraint")

    monkeypatch.setattr(rollups, "_write", flaky)
    assert rollups.apply_all() >= len(orders)
    assert len(calls) >= 2
    assert not Dirty.objects.exists()
    assert rollups.differences() == []


def test_a_pass_that_fails_otherwise_is_not_retried(world, monkeypatch) -> None:
    order_in(world, State.DISPATCHED)

    def broken(tallies, volumes) -> None:
        raise ValueError("a bug")

    monkeypatch.setattr(rollups, "_write", broken)
    with pytest.raises(ValueError, match="a bug"):
        rollups.apply_pending()
    assert Dirty.objects.exists(), "the marks stay for the next pass"


@pytest.mark.skipif(connection.vendor != "postgresql", reason="SQLite folds one pass at a time (one write lock)")
def test_apply_all_waits_for_a_shard_a_worker_holds(world, settings, monkeypatch) -> None:
    """The month's scoring and the nightly check fold everything waiting before they count: a shard another
    worker holds is waited for, not passed over (a worker would pass it over)."""
    _two_shards_with_changes(world, settings, 4)
    entered, release = _stuck_pass(monkeypatch, "worker")
    w = _in_thread("worker", lambda: rollups.apply_pending(batch=1))  # holds its shard, stuck
    assert entered.wait(30)
    c = _in_thread("check", rollups.apply_all)
    c.join(1.0)
    assert c.is_alive(), "apply_all returned while a shard was still being folded"
    release.set()
    w.join(30)
    c.join(30)
    assert not c.is_alive() and not Dirty.objects.exists()
    assert rollups.differences() == []
