"""Writing to the outbox, and the sender's one step."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from django.db import transaction
from django.db.models import F, Q

from core.clock import now
from notify.gateways import get_gateway
from notify.models import Message

if TYPE_CHECKING:
    from accounts.models import User

MAX_ATTEMPTS = 8


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
    tell, nothing is written."""
    user_id = user.pk if user is not None else user_id
    if user_id is None and not phone:
        return None
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

    The row is claimed by pushing its send_after forward with a compare-and-set, so two senders never
    take the same row, and a sender that dies after claiming leaves it to be retried after the lease.
    """
    t = now()
    row = (
        Message.objects.filter(sent_at__isnull=True, send_after__lte=t, attempts__lt=MAX_ATTEMPTS)
        .order_by("send_after", "id")
        .values("id", "send_after", "phone", "text", "attempts")
        .first()
    )
    if row is None:
        return False
    claimed = Message.objects.filter(pk=row["id"], send_after=row["send_after"], sent_at__isnull=True).update(
        send_after=t + _backoff(row["attempts"]), attempts=F("attempts") + 1
    )
    if not claimed:
        return True  # another sender took it; there may be more
    try:
        get_gateway().send(phone=row["phone"], text=row["text"])
    except Exception as exc:
        Message.objects.filter(pk=row["id"]).update(last_error=str(exc)[:300])
        return True
    Message.objects.filter(pk=row["id"]).update(sent_at=now(), last_error="")
    return True


def inbox_unread(user: User) -> int:
    return Message.objects.filter(user=user, read_at__isnull=True).count()


@transaction.atomic
def inbox_mark_read(*, user: User, ids: list[int] | None = None) -> int:
    q = Q(user=user, read_at__isnull=True)
    if ids is not None:
        q &= Q(pk__in=ids)
    return Message.objects.filter(q).update(read_at=now())
