"""The work orders' numbers for Prometheus (core.metrics, settings.METRICS_PROBES): orders by state, and
the open ones past their time limit now."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from django.db.models import Count
from prometheus_client.core import Metric

from core.metrics import gauge
from workorders.models import WorkOrder
from workorders.states import OPEN_STATES


def samples(now: dt.datetime) -> Iterable[Metric]:
    by_state = gauge("gongzhi_workorders", "Work orders by state.", labels=["state"])
    counts = dict(WorkOrder.objects.order_by().values_list("state").annotate(n=Count("id")))
    for state in WorkOrder._meta.get_field("state").choices or ():
        by_state.add_metric([str(state[0])], counts.get(state[0], 0))
    yield by_state
    overdue = WorkOrder.objects.filter(state__in=OPEN_STATES, overdue=True).count()
    yield gauge("gongzhi_workorders_overdue", "Open work orders past their time limit now.", overdue)
