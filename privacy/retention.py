"""The tables that grow with every day the county runs, kept only as long as the settings say: the inbox's
messages, one-key calls' event logs, webhook delivery attempts and the log of who read whose personal numbers.
Each is pruned by `manage.py privacy_retention` (nightly, deploy/systemd/gongzhi-retention.timer) in batches of
BATCH rows a transaction, so a first run over years of rows neither holds a lock for long nor fills the log.

Settings (settings.RETENTION_DAYS, from GONGZHI_KEEP_*_DAYS; 0 keeps for ever, the default):
- messages: inbox messages and SMS older than this, read or not, except an SMS still waiting to be sent;
- call_events: the events of one-key calls resolved or cancelled, raised this long ago (the call row and its
  times stay: the command centre's figures read those);
- webhook_attempts: the log of each delivery attempt (the delivery's own state stays);
- access_log: who read whose ID number or phone (the law asks that it be kept for an audit: three years is
  usual).

Work orders' own timelines are not pruned: they are the record of what was done; their personal fields are
anonymised after PERSONAL_DATA_RETENTION_YEARS (privacy.services.anonymise_closed_orders).
"""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.db import models, transaction
from django.db.models import Q, QuerySet

from core.clock import now
from core.models import PersonalDataAccess
from notify.models import DeliveryAttempt, Message
from notify.services import MAX_ATTEMPTS
from sos.models import Call, CallEvent
from sos.states import State as CallState

BATCH = 5000


def days(kind: str) -> int:
    return int(getattr(settings, "RETENTION_DAYS", {}).get(kind, 0) or 0)


def _due(kind: str, cutoff: dt.datetime) -> QuerySet[models.Model]:
    if kind == "messages":
        pending_sms = Q(sent_at__isnull=True, send_after__isnull=False, attempts__lt=MAX_ATTEMPTS)
        return Message.objects.filter(created_at__lt=cutoff).exclude(pending_sms)
    if kind == "call_events":
        done = Call.objects.filter(state__in=(CallState.RESOLVED, CallState.CANCELLED), raised_at__lt=cutoff)
        return CallEvent.objects.filter(call__in=done.values("id"))
    if kind == "webhook_attempts":
        return DeliveryAttempt.objects.filter(at__lt=cutoff)
    if kind == "access_log":
        return PersonalDataAccess.objects.filter(at__lt=cutoff)
    raise ValueError(kind)


KINDS = ("messages", "call_events", "webhook_attempts", "access_log")


def prune(at: dt.datetime | None = None, *, batch: int = BATCH) -> dict[str, int]:
    """Delete what each kept-days setting lets go, oldest first, `batch` rows a transaction; the rows deleted by
    kind (a kind kept for ever is left out)."""
    at = at or now()
    deleted: dict[str, int] = {}
    for kind in KINDS:
        keep = days(kind)
        if keep <= 0:
            continue
        cutoff = at - dt.timedelta(days=keep)
        due = _due(kind, cutoff)
        model = due.model
        n = 0
        while True:
            with transaction.atomic():
                ids = list(due.order_by("id").values_list("id", flat=True)[:batch])
                if not ids:
                    break
                model._default_manager.filter(pk__in=ids).delete()
                n += len(ids)
        deleted[kind] = n
    return deleted
