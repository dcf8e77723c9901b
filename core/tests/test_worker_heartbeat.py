"""Workers' heartbeats (core.worker.Loop), their states (core.health.worker_states), GET /health and the
small table the admin index and the command centre show."""

from __future__ import annotations

import datetime as dt
import os
import socket

import pytest
from django.contrib.auth import get_user_model
from django.db import OperationalError
from django.template.loader import render_to_string
from django.test import Client, RequestFactory
from django.utils import translation

from core import clock, health
from core.models import WorkerBeat
from core.worker import Loop

T0 = dt.datetime(2026, 10, 8, 9, 0, tzinfo=clock.SHANGHAI)  # the day after National Day week


def at(seconds: float) -> dt.datetime:
    return T0 + dt.timedelta(seconds=seconds)


@pytest.fixture
def beats(settings):
    settings.WORKER_HEARTBEAT_SECONDS = 5.0
    settings.WORKER_LATE_AFTER = 3.0
    settings.WORKER_DEAD_AFTER = 10.0
    settings.WORKER_COMMANDS = ["run_a", "run_b"]
    return settings


def test_a_tick_writes_the_first_beat(db, beats):
    loop = Loop("run_a", lambda: False, idle_sleep=1.0)
    with clock.frozen(T0):
        assert loop.tick() is False
    row = WorkerBeat.objects.get(name="run_a")
    assert (row.started_at, row.last_beat, row.stopped_at) == (T0, T0, None)
    assert (row.pid, row.host) == (os.getpid(), socket.gethostname()[:100])
    # The beat comes every 5 s (or every idle sleep, when that is longer): that is the interval judged.
    assert row.interval == 5.0
    assert Loop("run_b", lambda: False, idle_sleep=30.0).interval == 30.0


def test_beats_are_written_at_most_every_few_seconds(db, beats, django_assert_num_queries):
    loop = Loop("run_a", lambda: True, idle_sleep=0.2)
    with clock.frozen(T0):
        loop.tick()
    with clock.frozen(at(4.9)), django_assert_num_queries(0):
        loop.tick()  # busy: a thousand steps a second must not be a thousand writes
    assert WorkerBeat.objects.get().last_beat == T0
    with clock.frozen(at(5)):
        loop.tick()
    row = WorkerBeat.objects.get()
    assert (row.started_at, row.last_beat) == (T0, at(5))


def test_a_failed_step_is_noted_with_the_next_beat(db, beats):
    def broken() -> bool:
        raise ValueError("bad row 17")

    loop = Loop("run_a", broken)
    with clock.frozen(T0), pytest.raises(ValueError, match="bad row 17"):
        loop.tick()
    row = WorkerBeat.objects.get()
    assert row.last_beat == T0
    assert row.last_error == "ValueError: bad row 17" and row.last_error_at == T0


def test_a_heartbeat_that_cannot_be_written_does_not_stop_the_worker(db, beats, monkeypatch, caplog):
    def no_database(*args, **kwargs):
        raise OperationalError("database is locked")

    monkeypatch.setattr(WorkerBeat.objects, "filter", no_database)
    monkeypatch.setattr(WorkerBeat.objects, "update_or_create", no_database)
    with clock.frozen(T0):
        assert Loop("run_a", lambda: True).tick() is True
    assert "heartbeat" in caplog.text


def test_once_runs_leave_no_beat(db, beats):
    """`--once` (from cron, or a test) is no long-running worker: /health must not wait for it."""
    done = iter([True, False])
    with clock.frozen(T0):
        assert Loop("run_a", lambda: next(done), idle_sleep=0).run(once=True) == 1
    assert not WorkerBeat.objects.exists()


def test_a_worker_that_stops_cleanly_says_so(db, beats):
    loop = Loop("run_a", lambda: False)

    def last_step() -> bool:
        loop.stopping = True  # as SIGTERM would, during the step
        return True

    loop.handle_one = last_step
    with clock.frozen(T0):
        assert loop.run() == 1
    row = WorkerBeat.objects.get()
    assert (row.last_beat, row.stopped_at) == (T0, T0)
    with clock.frozen(at(1)):
        assert {w.name: w.state for w in health.worker_states()}["run_a"] == "dead"
    # Started again: alive again.
    with clock.frozen(at(60)):
        Loop("run_a", lambda: False).tick()
        assert {w.name: w.state for w in health.worker_states()}["run_a"] == "ok"
    assert WorkerBeat.objects.get().stopped_at is None


def _beat(name: str, seconds_ago: float, *, interval: float = 5.0) -> None:
    WorkerBeat.objects.create(
        name=name, pid=1234, host="box-1", interval=interval, started_at=at(-3600), last_beat=at(-seconds_ago)
    )


def test_states_ok_late_dead_and_never_seen(db, beats):
    beats.WORKER_COMMANDS = ["run_a", "run_b", "run_c", "run_d", "run_e"]
    _beat("run_a", 14)  # within 3 × 5 s
    _beat("run_b", 16)  # late
    _beat("run_c", 51)  # dead: over 10 × 5 s
    _beat("run_d", 80, interval=30)  # a slow worker (30 s idle sleep): still fine
    _beat("run_x", 1)  # not expected here, yet beating: shown too
    with clock.frozen(T0):
        states = {w.name: (w.state, w.age) for w in health.worker_states()}
    assert states == {
        "run_a": ("ok", 14),
        "run_b": ("late", 16),
        "run_c": ("dead", 51),
        "run_d": ("ok", 80),
        "run_e": ("dead", None),  # never heard from
        "run_x": ("ok", 1),
    }


def test_health_all_ok(db, beats):
    _beat("run_a", 1)
    _beat("run_b", 2)
    with clock.frozen(T0):
        r = Client().get("/health")
    assert r.status_code == 200
    assert r["Cache-Control"] == "no-store"
    assert r.json() == {
        "status": "ok",
        "database": "ok",
        "workers": {"run_a": {"state": "ok", "last_beat_age": 1}, "run_b": {"state": "ok", "last_beat_age": 2}},
    }


def test_health_a_late_worker_or_one_not_expected_here_does_not_fail_the_service(db, beats):
    """A load balancer pulls a server answering 503: a long step (late) or a worker run elsewhere and
    stopped is reported, not failed."""
    _beat("run_a", 20)  # late
    _beat("run_b", 1)
    _beat("run_elsewhere", 600)  # dead, but not one this machine runs
    with clock.frozen(T0):
        r = Client().get("/health")
    assert r.status_code == 200
    assert r.json()["workers"]["run_a"]["state"] == "late"
    assert r.json()["workers"]["run_elsewhere"]["state"] == "dead"


def test_health_a_missing_worker_is_503_with_nothing_sensitive(db, beats):
    _beat("run_a", 20)
    WorkerBeat.objects.filter(name="run_a").update(last_error="ValueError: 张阿姨 13800138000")
    with clock.frozen(T0):
        r = Client().get("/health")
    assert r.status_code == 503
    body = r.json()
    assert body["status"] == "fail"
    assert body["workers"] == {
        "run_a": {"state": "late", "last_beat_age": 20},
        "run_b": {"state": "dead", "last_beat_age": None},
    }
    text = r.content.decode()
    for secret in ("1234", "box-1", "ValueError", "13800138000"):
        assert secret not in text


def test_health_database_unreachable(db, beats, monkeypatch):
    _beat("run_a", 1)
    _beat("run_b", 1)

    class Unreachable:
        def cursor(self):
            raise OperationalError("could not connect to server")

    monkeypatch.setattr(health, "connection", Unreachable())
    with clock.frozen(T0):
        r = Client().get("/health")
    assert r.status_code == 503
    assert r.json() == {"status": "fail", "database": "unreachable", "workers": {}}


def test_health_answers_get_and_head_only(db, beats):
    assert Client().post("/health").status_code == 405
    assert Client().head("/health").status_code in (200, 503)


def test_workers_table(db, beats):
    _beat("run_a", 1)
    _beat("run_b", 120)
    WorkerBeat.objects.filter(name="run_b").update(last_error="ValueError: bad row 17", last_error_at=at(-130))
    request = RequestFactory().get("/")
    request.user = get_user_model()(username="ops", is_staff=True)
    with clock.frozen(T0), translation.override("en"):
        html = render_to_string("core/_workers.html", request=request)
    assert "run_a" in html and "run_b" in html
    assert "Running" in html and "Not responding" in html and "120 seconds ago" in html
    # For the people who run the machines: where to look, and what went wrong.
    assert "ValueError: bad row 17" in html and "box-1 · 1234" in html
    # Others (a leader at the command centre) see the states only: an error may quote a row's data.
    request.user = get_user_model()(username="leader")
    with clock.frozen(T0), translation.override("en"):
        html = render_to_string("core/_workers.html", request=request)
    assert "Not responding" in html and "ValueError" not in html and "box-1" not in html


@pytest.mark.parametrize(("name", "once", "lowered"), [
    ("run_rollups", False, [10]),
    ("run_deadlines", False, [5]),
    ("run_sos", False, []),  # an elderly person's call climbs its ladder on time: never lowered
    ("run_rollups", True, []),  # --once (a test, a shell) keeps the caller's priority
])  # fmt: skip
def test_a_running_worker_steps_back_for_the_web_processes(db, beats, monkeypatch, name, once, lowered) -> None:
    """Workers yield the CPU to the residents' requests (settings.WORKER_NICE): measured with 10,000
    deadlines falling due at once beside intake (bench/province.py)."""
    calls: list[int] = []
    monkeypatch.setattr(os, "nice", lambda n: calls.append(n) or n)
    loop = Loop(name, lambda: False, idle_sleep=0.0)
    loop.handle_one = lambda: bool(setattr(loop, "stopping", True))
    loop.run(once=once)
    assert calls == lowered
