"""The rollups' numbers for Prometheus (core.metrics, settings.METRICS_PROBES): orders changed and not yet
added to the dashboards' tallies (rollup lag, in orders), and the passes run so far."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from django.db.models import Sum
from prometheus_client.core import Metric

from core.metrics import gauge
from dashboards.models import Dirty, WorkerLock


def samples(now: dt.datetime) -> Iterable[Metric]:
    yield gauge(
        "gongzhi_rollup_backlog", "Work orders changed and not yet in the dashboards' tallies.", Dirty.objects.count()
    )
    passes = WorkerLock.objects.aggregate(n=Sum("passes"))["n"]
    yield gauge("gongzhi_rollup_passes", "Rollup passes run so far (all shards).", passes or 0)
