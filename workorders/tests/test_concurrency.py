"""Races with real threads and real connections, on SQLite (a file database, IMMEDIATE transactions and
a busy timeout) and on PostgreSQL alike: two clerks signing for one order, fifty residents submitting
and retrying at once, two deadline workers sharing the queue."""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection, transaction
from django.test import Client

from accounts.services import token_create
from core.clock import frozen
from core.errors import Conflict
from notify.models import Message
from workorders import deadlines, services
from workorders.models import Event, WorkOrder
from workorders.states import State
from workorders.tests.helpers import at, order_in, post

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)

BACKEND = "django.contrib.auth.backends.ModelBackend"


def run_threads(n: int, target: Callable[[int, Callable[[], Any]], Any]) -> list[Any]:
    """Run target(i, go) in n threads; each calls go() to wait for all the others, then races. Each
    thread uses (and closes) its own database connection."""
    barrier = threading.Barrier(n, timeout=60)
    results: list[Any] = [None] * n
    errors: list[BaseException] = []

    def run(i: int) -> None:
        try:
            results[i] = target(i, barrier.wait)
        except BaseException as exc:  # surfaced below: a thread must not swallow a failure
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not any(t.is_alive() for t in threads), "a thread hung"
    assert errors == [], errors
    return results


@pytest.mark.parametrize("rounds", [5])
def test_two_clerks_sign_for_one_order_through_the_api(world, rounds):
    for _ in range(rounds):
        order = order_in(world, State.DISPATCHED)
        clerks = [world.u_feng, world.u_ma]

        def sign(i, go, order=order, clerks=clerks):
            client = Client()
            client.force_login(clerks[i], backend=BACKEND)
            go()
            r = post(client, f"/api/v1/workorders/{order.pk}/accept")
            return r.status_code, r.json()

        results = run_threads(2, sign)
        assert sorted(s for s, _ in results) == [200, 409], results
        loser = next(body for s, body in results if s == 409)
        assert loser["error"]["code"] in ("workorder.transition_not_allowed", "workorder.state_changed")
        assert WorkOrder.objects.get(pk=order.pk).state == State.ACCEPTED
        assert Event.objects.filter(order=order, action="accept").count() == 1


def test_two_clerks_holding_the_same_stale_order_sign_at_once(world):
    """Both read the order as dispatched before either signs: the compare-and-set UPDATE lets one through."""
    for _ in range(5):
        order = order_in(world, State.DISPATCHED)
        clerks = [world.u_feng, world.u_ma]

        def sign(i, go, order=order, clerks=clerks):
            stale = WorkOrder.objects.select_related("department").get(pk=order.pk)
            go()
            try:
                with transaction.atomic():
                    services.workorder_accept(order=stale, by=clerks[i])
            except Conflict as exc:
                return exc.code
            return "ok"

        results = run_threads(2, sign)
        assert sorted(results) == ["ok", "workorder.state_changed"], results
        assert Event.objects.filter(order=order, action="accept").count() == 1
        accepted = Event.objects.get(order=order, action="accept")
        assert WorkOrder.objects.get(pk=order.pk).state == State.ACCEPTED
        assert accepted.actor_id in (world.u_feng.pk, world.u_ma.pk)


def http_post(url: str, token: str, body: dict) -> tuple[int, dict]:
    """POST as a phone would: a connection refused or reset before an answer is sent again, with the
    same idempotency key, after a short pause. (Django's test server listens with a backlog of 10;
    fifty clients at once overflow it, and the kernel resets some connections.)"""
    req = urllib.request.Request(  # noqa: S310 - the test's own live server
        url,
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {token}"},
        method="POST",
    )
    for attempt in range(20):
        try:
            with urllib.request.urlopen(req, timeout=60) as resp:  # noqa: S310
                return resp.status, json.loads(resp.read())
        except urllib.error.HTTPError as exc:
            return exc.code, json.loads(exc.read())
        except (ConnectionError, urllib.error.URLError):
            time.sleep(0.05 * (attempt + 1))
    raise AssertionError("the server never answered")


def submission(i: int, key: str) -> dict:
    return {
        "kind": "complaint",
        "category": "010101",
        "text": f"第{i}号：村口路灯坏了",
        "channel": "mobile",
        "idempotency_key": key,
    }


def test_fifty_residents_submit_and_retry_at_once_over_http(world, live_server):
    """Each client sends its submission and, as after a timeout, sends it again with the same key."""
    _, token = token_create(user=world.c.u_zhang, name="phone")
    url = f"{live_server.url}/api/v1/workorders"
    n = 50

    def client(i, go):
        go()
        first = http_post(url, token, submission(i, f"phone-{i}"))
        again = http_post(url, token, submission(i, f"phone-{i}"))
        return first, again

    results = run_threads(n, client)
    for (s1, b1), (s2, b2) in results:
        # The first answer made the order (201) — unless a reset lost that answer after the order was
        # made, and the client's resend got the order back (200). The deliberate retry always finds it.
        assert s1 in (200, 201) and s2 == 200, (b1, b2)
        assert b1["order"]["id"] == b2["order"]["id"]
        assert b2["created"] is False
    assert WorkOrder.objects.count() == n
    assert Event.objects.filter(action="submit").count() == n
    codes = list(WorkOrder.objects.values_list("tracking_code", flat=True))
    assert len(set(codes)) == n
    assert sorted(WorkOrder.objects.values_list("idempotency_key", flat=True)) == sorted(f"phone-{i}" for i in range(n))


def test_the_same_key_sent_twice_at_the_same_moment_makes_one_order(world, live_server):
    """A retry that overtakes the original: both requests race on one key (the unique constraint decides)."""
    _, token = token_create(user=world.c.u_zhang, name="phone")
    url = f"{live_server.url}/api/v1/workorders"
    keys = 10

    def client(i, go):
        go()
        return http_post(url, token, submission(i // 2, f"race-{i // 2}"))  # the same request, twice

    results = run_threads(2 * keys, client)
    by_key: dict[str, list[tuple[int, int]]] = {}
    for i, (status, body) in enumerate(results):
        assert status in (200, 201), body
        by_key.setdefault(f"race-{i // 2}", []).append((status, body["order"]["id"]))
    for answers in by_key.values():
        assert sorted(s for s, _ in answers) == [200, 201], answers
        assert len({oid for _, oid in answers}) == 1
    assert WorkOrder.objects.count() == keys
    assert Event.objects.filter(action="submit").count() == keys


def test_two_deadline_workers_share_the_queue_without_doing_anything_twice(world):
    t0 = at("2026-11-02T09:00")
    with frozen(t0):
        orders = [order_in(world, State.DISPATCHED) for _ in range(12)]
    Message.objects.all().delete()
    later = at("2026-11-02T16:00")  # past every signing-for limit (15:30), before any warning

    def worker(i, go):
        with frozen(later):
            go()
            n = 0
            while k := deadlines.handle_one():
                n += k
            return n

    results = run_threads(2, worker)
    assert sum(results) >= len(orders)
    for o in orders:
        assert WorkOrder.objects.get(pk=o.pk).respond_overdue
        assert Event.objects.filter(order=o, action="respond_overdue").count() == 1
    assert Message.objects.filter(user=world.u_feng, kind="workorder.urge").count() == len(orders)
    assert Message.objects.filter(user=world.u_ma, kind="workorder.urge").count() == len(orders)


@pytest.mark.slow
def test_two_deadline_workers_flag_a_midnights_orders_exactly_once_each(world):
    """Deadlines fall due in thousands at once (every order dispatched one morning): two workers claim them
    in batches (core.worker.claim_batch: FOR UPDATE SKIP LOCKED on PostgreSQL) and every order is flagged
    exactly once — one event, no order missed, no batch taken twice. 10,000 orders on PostgreSQL; 1,000 on
    SQLite, where claims queue on the one write lock anyway."""
    n = 10_000 if connection.vendor == "postgresql" else 1_000
    t0 = at("2026-11-02T09:00")
    with frozen(t0):
        first = order_in(world, State.DISPATCHED)
    template = WorkOrder.objects.get(pk=first.pk)
    copies = []
    for i in range(n - 1):
        template.pk = None
        template.tracking_code = f"M{i:011d}"
        copies.append(WorkOrder(**{f.attname: getattr(template, f.attname) for f in WorkOrder._meta.concrete_fields}))
    WorkOrder.objects.bulk_create(copies, batch_size=2000)
    assert WorkOrder.objects.filter(next_check_at=first.next_check_at, respond_overdue=False).count() == n
    later = at("2026-11-02T16:00")  # past every signing-for limit (15:30), before any warning
    claims: list[list[int]] = [[], []]
    real_claim = deadlines.claim_batch

    def worker(i, go):
        def claim(*args, **kw):
            ids = real_claim(*args, **kw)
            claims[i].extend(ids)
            return ids

        with frozen(later):
            go()
            done = 0
            while k := deadlines.handle_one(claim=claim):
                done += k
            return done

    results = run_threads(2, worker)
    assert sum(results) == n and all(results), results  # both worked, and together did each order once
    assert len(set(claims[0]) | set(claims[1])) == n and not set(claims[0]) & set(claims[1])
    assert WorkOrder.objects.filter(respond_overdue=True).count() == n
    flagged = Event.objects.filter(action="respond_overdue")
    assert flagged.count() == n and flagged.values("order").distinct().count() == n
