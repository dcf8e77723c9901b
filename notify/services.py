"""Writing to the outbox, the sender's one step, and the inbox's writes (marking read)."""

from __future__ import annotations

import datetime as dt

from django.db import transaction
from django.db.models import F, Q

from accounts.models import User
from core.clock import now
from core.worker import skip_locked
from notify.gateways import get_gateway
from notify.models import Message
from notify.selectors import access_message

MAX_ATTEMPTS = 8

# Staff notices that must not wait for someone to open the inbox: they go by SMS as well, to the work
# phone, whoever writes them (the README promises it). 催办, warnings and new orders stay in the inbox:
# a dispatcher would get dozens of texts a day.
IMPORTANT_KINDS = frozenset(
    {
        "workorder.extension",  # a handling unit asks for more time: the dispatcher decides
        "workorder.supervise",  # 督办 by a dispatcher or leader
        "workorder.returned",  # 退单: the dispatcher must send it elsewhere
        "workorder.bad_rating",  # 重办: reopened after a bad rating, to verify and dispatch again
        "workorder.reopened",  # 重办: reopened by a dispatcher, or after a failed callback
        "mediation.red_flag",  # a dispute at risk of violence or of a crime (民转刑): the town at once
        "webhook.disabled",  # another system stopped hearing of events (notify.webhooks): its managers at once
    }
)


def _work_phone(user: User | None, user_id: int | None) -> str:
    if user is not None:
        return user.work_phone
    if user_id is None:
        return ""
    return User.objects.filter(pk=user_id).values_list("work_phone", flat=True).first() or ""


def message_queue(
    *,
    user: User | None = None,
    user_id: int | None = None,
    phone: str = "",
    kind: str,
    text: str,
    link: str = "",
    sms: bool = False,
) -> Message | None:
    """Queue a message in the caller's transaction (to `user`, or the user with `user_id`). With nobody to
    tell, nothing is written. An important kind (IMPORTANT_KINDS) goes by SMS too, to the number given or
    else the user's work phone; without either it stays in the inbox."""
    if user is None and user_id is None and not phone:
        return None
    if kind in IMPORTANT_KINDS:
        sms = True
        phone = phone or _work_phone(user, user_id)
    user_id = user.pk if user is not None else user_id
    sms = sms and bool(phone)
    return Message.objects.create(
        user_id=user_id,
        phone=phone if sms else "",
        channel=Message.Channel.SMS if sms else Message.Channel.SITE,
        kind=kind,
        text=text[:500],
        link=link[:200],
        send_after=now() if sms else None,
        sent_at=None if sms else now(),
    )


def _backoff(attempts: int) -> dt.timedelta:
    return dt.timedelta(seconds=min(3600, 15 * 2**attempts))


def send_one() -> bool:
    """Send one due SMS through the gateway; returns whether there was one.

    The row is claimed by pushing its send_after forward (by the backoff its next failure would wait), read
    FOR UPDATE SKIP LOCKED on PostgreSQL (core.worker.skip_locked): senders claiming at the same moment take
    different rows instead of racing for the oldest, and a sender that dies after claiming leaves it to be
    retried once that time has passed.
    """
    t = now()
    with transaction.atomic():
        due = Message.objects.filter(sent_at__isnull=True, send_after__lte=t, attempts__lt=MAX_ATTEMPTS)
        row = skip_locked(due.order_by("send_after", "id")).values("id", "phone", "text", "attempts").first()
        if row is None:
            return False
        Message.objects.filter(pk=row["id"]).update(
            send_after=t + _backoff(row["attempts"]), attempts=F("attempts") + 1
        )
    try:
        get_gateway().send(phone=row["phone"], text=row["text"])
    except Exception as exc:
        Message.objects.filter(pk=row["id"]).update(last_error=str(exc)[:300])
        return True
    Message.objects.filter(pk=row["id"]).update(sent_at=now(), last_error="")
    return True


# --- the inbox ------------------------------------------------------------------------------------------


@transaction.atomic
def inbox_mark_read(*, user: User, ids: list[int] | None = None) -> int:
    q = Q(user=user, read_at__isnull=True)
    if ids is not None:
        q &= Q(pk__in=ids)
    return Message.objects.filter(q).update(read_at=now())


@transaction.atomic
def inbox_open(*, user: User, message_id: int) -> Message:
    """Mark one of the user's messages read (the first reading time stays) and return it."""
    m = access_message(user, message_id)
    if m.read_at is None:
        t = now()
        if Message.objects.filter(pk=m.pk, read_at__isnull=True).update(read_at=t):
            m.read_at = t
        else:
            m.refresh_from_db(fields=["read_at"])
    return m
