"""Prometheus metrics at GET /metrics: request latency by route, and the county's numbers read from the
database at each scrape (orders by state, overdue now, open one-key calls, the oldest rung not yet
climbed, the outbox's backlog, the rollups' backlog, every worker's heartbeat).

Request latency is a histogram per process, observed by MetricsMiddleware (outermost, so that it times
every middleware too). Several server processes (granian's workers) share their figures through
prometheus_client's multiprocess mode when PROMETHEUS_MULTIPROC_DIR names a directory (`manage.py serve`
makes one under VAR_DIR; deploy/ puts it on /run): a scrape that lands on any process then sees them all.
Without it each process answers for itself.

The domain's numbers come from the functions named in settings.METRICS_PROBES (each app's metrics.py:
`samples(now)` → metric families), so core imports no app. They are counted, not cached: a scrape every
15 s costs a few indexed counts.

Who may read it: with GONGZHI_METRICS_TOKEN set, a request bearing `Authorization: Bearer <token>`;
without it, only the machine itself, directly (a request that came through a proxy carries
X-Forwarded-For and is refused). Others get 404, as for a page that does not exist.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Iterable
from typing import Any

from django.conf import settings
from django.db import DatabaseError
from django.http import Http404, HttpRequest, HttpResponse
from django.utils.crypto import constant_time_compare
from django.utils.module_loading import import_string
from django.views.decorators.http import require_safe
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector

from core import clock

log = logging.getLogger("gongzhi.metrics")

# Seconds; a page or API call takes milliseconds, an export or a hotline file seconds.
BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})

REQUEST_SECONDS = Histogram(
    "gongzhi_http_request_duration_seconds",
    "Time from the request reaching Django to the response leaving it, by route (the URL pattern).",
    ["route", "method", "status"],
    buckets=BUCKETS,
)


def route_of(request: HttpRequest) -> str:
    """The URL pattern that answered ("api/v1/workorders/<int:order_id>"), never the path itself: the
    label's values are as many as the routes. A path that matched nothing is "unmatched"."""
    match = getattr(request, "resolver_match", None)
    return match.route if match is not None and match.route else "unmatched"


class MetricsMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        started = time.perf_counter()
        response = self.get_response(request)
        method = request.method if request.method in METHODS else "other"
        REQUEST_SECONDS.labels(route_of(request), method, f"{response.status_code // 100}xx").observe(
            time.perf_counter() - started
        )
        return response


def gauge(name: str, documentation: str, value: float | None = None, labels: Iterable[str] = ()) -> GaugeMetricFamily:
    """A gauge family for a probe: one value, or `labels` and then .add_metric([...], value) per row."""
    family = GaugeMetricFamily(name, documentation, labels=list(labels) or None)
    if value is not None:
        family.add_metric([], value)
    return family


class DomainCollector:
    """The probes of settings.METRICS_PROBES, asked at each scrape. A probe that fails (a table not there
    yet) is logged and left out; gongzhi_metrics_probe_up says which answered."""

    def collect(self) -> Iterable[Metric]:
        now = clock.now()
        up = gauge("gongzhi_metrics_probe_up", "1 when the probe of the domain's numbers answered.", labels=["probe"])
        for path in settings.METRICS_PROBES:
            try:
                families = list(import_string(path)(now))
            except DatabaseError:
                log.warning("metrics: probe %s failed", path, exc_info=True)
                up.add_metric([path], 0)
                continue
            up.add_metric([path], 1)
            yield from families
        yield up


def _allowed(request: HttpRequest) -> bool:
    token = getattr(settings, "METRICS_TOKEN", "")
    if token:
        given = request.headers.get("Authorization", "")
        return given.startswith("Bearer ") and constant_time_compare(given[7:].strip(), token)
    loopback = request.META.get("REMOTE_ADDR", "") in {"127.0.0.1", "::1"}
    return loopback and "HTTP_X_FORWARDED_FOR" not in request.META


def registry() -> Any:
    """The registry a scrape reads: every process's request figures (multiprocess mode) or this one's,
    and the domain's numbers."""
    directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if directory:
        reg = CollectorRegistry()
        MultiProcessCollector(reg, path=directory)
    else:
        reg = CollectorRegistry()
        reg.register(_ProcessCollector())
    reg.register(DomainCollector())
    return reg


class _ProcessCollector:
    """This process's own metrics (the default registry: request latency, and prometheus_client's process
    and platform collectors), when there is no multiprocess directory."""

    def collect(self) -> Iterable[Metric]:
        return REGISTRY.collect()


@require_safe
def metrics(request: HttpRequest) -> HttpResponse:
    if not _allowed(request):
        raise Http404
    response = HttpResponse(generate_latest(registry()), content_type=CONTENT_TYPE_LATEST)
    response["Cache-Control"] = "no-store"
    return response
