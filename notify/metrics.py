"""The outbox's numbers for Prometheus (core.metrics, settings.METRICS_PROBES): messages due to be sent and
not yet sent (SMS through the gateway), the oldest one's wait, and webhook deliveries due."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from prometheus_client.core import Metric

from core.metrics import gauge
from notify.models import Delivery, Message


def samples(now: dt.datetime) -> Iterable[Metric]:
    due = Message.objects.filter(sent_at__isnull=True, send_after__lte=now)
    yield gauge("gongzhi_outbox_backlog", "Messages due to be sent and not yet sent.", due.count())
    oldest = due.order_by("send_after").values_list("send_after", flat=True).first()
    yield gauge(
        "gongzhi_outbox_oldest_seconds",
        "Seconds the oldest message due has waited (0: none).",
        (now - oldest).total_seconds() if oldest else 0.0,
    )
    yield gauge(
        "gongzhi_webhook_deliveries_due",
        "Webhook deliveries due to be sent (again) now.",
        Delivery.objects.filter(next_attempt_at__lte=now).count(),
    )
