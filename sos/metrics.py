"""The one-key calls' numbers for Prometheus (core.metrics, settings.METRICS_PROBES): open calls by state,
and how long the most overdue rung of the escalation ladder has been waiting for run_sos to climb it (0
when none is due: the worker keeps up)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from django.db.models import Count
from prometheus_client.core import Metric

from core.metrics import gauge
from sos.models import Call
from sos.states import State

OPEN = (State.RAISED, State.ACKNOWLEDGED, State.ON_THE_WAY, State.ARRIVED)


def samples(now: dt.datetime) -> Iterable[Metric]:
    open_calls = gauge(
        "gongzhi_sos_calls_open", "One-key calls not yet resolved or cancelled, by state.", labels=["state"]
    )
    counts = dict(Call.objects.filter(state__in=OPEN).order_by().values_list("state").annotate(n=Count("id")))
    for state in OPEN:
        open_calls.add_metric([str(state)], counts.get(state, 0))
    yield open_calls
    oldest = (
        Call.objects.filter(escalate_at__lte=now).order_by("escalate_at").values_list("escalate_at", flat=True).first()
    )
    yield gauge(
        "gongzhi_sos_oldest_unescalated_seconds",
        "Seconds the most overdue rung of an unacknowledged call has waited to be climbed (0: none due).",
        (now - oldest).total_seconds() if oldest else 0.0,
    )
