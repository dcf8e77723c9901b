"""GET /healthz, /readyz and /metrics (core.health, core.metrics): what a monitor and Prometheus read."""

from __future__ import annotations

import datetime as dt

import pytest
from django.test import Client
from prometheus_client.parser import text_string_to_metric_families

from core import clock, health
from core.models import WorkerBeat
from dashboards.models import Dirty
from notify.models import Message
from sos import services as sos
from workorders.models import WorkOrder
from workorders.tests.helpers import submit

T0 = dt.datetime(2026, 10, 8, 9, 0, tzinfo=clock.SHANGHAI)


@pytest.fixture
def beats(settings):
    settings.WORKER_HEARTBEAT_SECONDS = 5.0
    settings.WORKER_LATE_AFTER = 3.0
    settings.WORKER_DEAD_AFTER = 10.0
    settings.WORKER_COMMANDS = ["run_a", "run_b"]
    settings.METRICS_TOKEN = ""
    return settings


def _beat(name: str, seconds_ago: float) -> None:
    WorkerBeat.objects.create(
        name=name, pid=1, host="box-1", interval=5.0, started_at=T0 - dt.timedelta(hours=1),
        last_beat=T0 - dt.timedelta(seconds=seconds_ago),
    )  # fmt: skip


def _scrape(client: Client, **headers: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    r = client.get("/metrics", **headers)
    assert r.status_code == 200, r.status_code
    assert r["Content-Type"].startswith("text/plain; version=")
    out = {}
    for family in text_string_to_metric_families(r.content.decode()):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def test_healthz_answers_without_the_database(db, django_assert_num_queries):
    with django_assert_num_queries(0):
        r = Client().get("/healthz")
    assert (r.status_code, r.json(), r["Cache-Control"]) == (200, {"status": "ok"}, "no-store")
    assert Client().post("/healthz").status_code == 405


def test_readyz_ok_when_database_migrations_and_every_worker_are(db, beats):
    _beat("run_a", 1)
    _beat("run_b", 4)
    with clock.frozen(T0):
        r = Client().get("/readyz")
    assert r.status_code == 200
    body = r.json()
    assert (body["status"], body["database"], body["migrations"], body["stale_workers"]) == ("ok", "ok", "ok", [])
    assert body["workers"]["run_b"] == {"state": "ok", "last_beat_age": 4}


def test_readyz_names_a_late_and_a_missing_worker(db, beats):
    """Unlike /health (a load balancer's: a long step is not a failure), readiness wants every heartbeat
    fresh, and says which is not."""
    _beat("run_a", 20)  # late: over 3 × 5 s
    with clock.frozen(T0):
        r = Client().get("/readyz")
    assert r.status_code == 503
    body = r.json()
    assert body["status"] == "fail" and body["stale_workers"] == ["run_a", "run_b"]
    assert body["workers"]["run_b"] == {"state": "dead", "last_beat_age": None}


def test_readyz_says_when_migrations_are_pending(db, beats, monkeypatch):
    _beat("run_a", 1)
    _beat("run_b", 1)
    monkeypatch.setattr(health, "_migrated", False)

    class Pending:
        def __init__(self, connection):
            self.loader = type("L", (), {"graph": type("G", (), {"leaf_nodes": lambda self: []})()})()

        def migration_plan(self, targets):
            return [("workorders", "9999_future")]

    monkeypatch.setattr(health, "MigrationExecutor", Pending)
    with clock.frozen(T0):
        r = Client().get("/readyz")
    assert (r.status_code, r.json()["migrations"]) == (503, "pending")


def test_metrics_count_the_countys_numbers(world, beats):
    c = world.c
    orders = [submit(world) for _ in range(3)]
    WorkOrder.objects.filter(pk=orders[0].pk).update(overdue=True)
    profile = sos.care_register(resident=c.zhang, by=c.u_li, reasons=["elderly_alone"], needs="", device_id="box-9")
    sos.call_raise(profile=profile, kind="emergency", channel="button", by=c.u_zhang)
    Message.objects.all().update(sent_at=None, send_after=T0 - dt.timedelta(minutes=3))
    backlog = Message.objects.count()
    Dirty.objects.all().delete()
    Dirty.objects.create(order_id=orders[1].pk)
    _beat("run_a", 2)
    with clock.frozen(T0):
        m = _scrape(Client())
    submitted = WorkOrder.objects.filter(state="submitted").count()
    assert m[("gongzhi_workorders", (("state", "submitted"),))] == submitted >= 1
    assert m[("gongzhi_workorders", (("state", "closed"),))] == 0
    assert m[("gongzhi_workorders_overdue", ())] == 1
    assert m[("gongzhi_sos_calls_open", (("state", "raised"),))] == 1
    assert backlog > 0 and m[("gongzhi_outbox_backlog", ())] == backlog
    assert m[("gongzhi_outbox_oldest_seconds", ())] == 180
    assert m[("gongzhi_rollup_backlog", ())] == 1
    assert m[("gongzhi_worker_up", (("worker", "run_a"),))] == 1
    assert m[("gongzhi_worker_up", (("worker", "run_b"),))] == 0
    assert m[("gongzhi_worker_heartbeat_age_seconds", (("worker", "run_a"),))] == 2
    assert m[("gongzhi_metrics_probe_up", (("probe", "sos.metrics.samples"),))] == 1


def test_metrics_time_requests_by_route_not_by_path(world, beats):
    c = Client()
    c.get("/healthz")
    c.get("/no/such/page/12345")
    m = _scrape(c)
    key = ("gongzhi_http_request_duration_seconds_count", (("method", "GET"), ("route", "healthz"), ("status", "2xx")))
    assert m[key] >= 1
    assert not [k for k in m if ("route", "no/such/page/12345") in k[1]]
    assert (
        m[
            (
                "gongzhi_http_request_duration_seconds_count",
                (("method", "GET"), ("route", "unmatched"), ("status", "4xx")),
            )
        ]
        >= 1
    )


def test_metrics_refused_through_a_proxy_or_from_afar_without_a_token(db, beats):
    assert Client().get("/metrics", HTTP_X_FORWARDED_FOR="203.0.113.9").status_code == 404
    assert Client(REMOTE_ADDR="203.0.113.9").get("/metrics").status_code == 404


def test_metrics_with_a_token_want_it(db, beats):
    beats.METRICS_TOKEN = "s3cret-token"
    assert Client().get("/metrics").status_code == 404  # loopback is not enough once a token is set
    assert Client().get("/metrics", HTTP_AUTHORIZATION="Bearer wrong").status_code == 404
    r = Client(REMOTE_ADDR="198.51.100.7").get("/metrics", HTTP_AUTHORIZATION="Bearer s3cret-token")
    assert r.status_code == 200 and b"gongzhi_workorders" in r.content
