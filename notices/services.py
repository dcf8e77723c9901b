"""Every write of notices: write (as a draft or published at once), publish, withdraw with a reason, and
note that someone read one. Attachments are checked by size, count and kind."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from pathlib import PurePath
from typing import TYPE_CHECKING, Any

from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils.translation import gettext as _

from core.clock import SHANGHAI, aware, now
from core.errors import Conflict, NotFound, ValidationFailed
from core.validation import clean_text, has_nul, one_line
from notices import selectors
from notices.models import Attachment, Attendance, Event, Notice, Read
from notices.states import ATTENDANCE, EVENT, NOTICE
from notify.services import message_queue
from org.access import get_scope
from org.models import Node, ServicePoint
from org.policy import under

if TYPE_CHECKING:
    from accounts.models import User

MAX_ATTACHMENTS = 5
MAX_ATTACHMENT_BYTES = 10 * 1024 * 1024
ATTACHMENT_KINDS = frozenset({".pdf", ".jpg", ".jpeg", ".png", ".doc", ".docx", ".xls", ".xlsx", ".txt"})


def _invalid(field: str, message: str, code: str = "notice.invalid") -> ValidationFailed:
    return ValidationFailed(message, code=code, fields={field: [message]})


def _text(value: str | None, field: str, *, max_len: int, line: bool = False) -> str:
    value = value or ""
    if has_nul(value):
        raise _invalid(field, _("NUL characters are not allowed."), "validation.nul")
    value = one_line(value) if line else clean_text(value).strip()
    if not value:
        raise _invalid(field, _("This field is required."), "validation.required")
    if len(value) > max_len:
        raise _invalid(field, _("At most %(n)s characters.") % {"n": max_len}, "validation.too_long")
    return value


def notice_create(
    *,
    by: User,
    node: Node,
    title: str,
    body: str,
    to_residents: bool = True,
    to_staff: bool = False,
    to_party: bool = False,
    pinned: bool = False,
    expires_at: dt.datetime | None = None,
    publish: bool = True,
    attachments: Sequence[Any] = (),
) -> Notice:
    """Write a notice for `node`'s area (a subtree where `by` publishes), published at once unless a draft."""
    if not under(selectors.publish_paths(by), node.path):
        raise NotFound(_("No such place in your area."), code="node.not_found")
    title = _text(title, "title", max_len=80, line=True)
    body = _text(body, "body", max_len=5000)
    if not (to_residents or to_staff or to_party):
        raise _invalid("audience", _("Choose who the notice is for."), "notice.no_audience")
    at = now()
    expires_at = aware(expires_at) if expires_at is not None else None
    if expires_at is not None and expires_at <= at:
        raise _invalid("expires_at", _("The expiry must be in the future."), "notice.bad_expiry")
    if len(attachments) > MAX_ATTACHMENTS:
        raise _invalid("attachments", _("At most %(n)s attachments.") % {"n": MAX_ATTACHMENTS})
    for f in attachments:
        _check_file(f)
    with transaction.atomic():
        notice = Notice.objects.create(
            node=node, path=node.path, title=title, body=body, to_residents=to_residents, to_staff=to_staff,
            to_party=to_party, pinned=pinned, created_by=by, created_at=at, expires_at=expires_at,
            state=Notice.State.PUBLISHED if publish else Notice.State.DRAFT, published_at=at if publish else None,
        )  # fmt: skip
        for f in attachments:
            a = Attachment(notice=notice, name=PurePath(f.name).name[:120], size=f.size)
            a.file.save(PurePath(f.name).name[-60:], f, save=False)
            a.save()
    return notice


def _check_file(f: Any) -> None:
    name = PurePath(getattr(f, "name", "") or "").name
    if has_nul(name) or PurePath(name).suffix.lower() not in ATTACHMENT_KINDS:
        raise _invalid("attachments", _("Attach PDF, pictures, Word, Excel or text files only."), "notice.bad_file")
    if f.size > MAX_ATTACHMENT_BYTES:
        raise _invalid(
            "attachments", _("An attachment may be at most %(mb)s MB.") % {"mb": MAX_ATTACHMENT_BYTES // 2**20},
            "notice.file_too_large",
        )  # fmt: skip


def _managed(notice: Notice, by: User) -> None:
    if not selectors.manages(by, notice):
        raise NotFound(_("No such notice."), code="notice.not_found")


def notice_publish(*, notice: Notice, by: User) -> Notice:
    _managed(notice, by)
    with transaction.atomic():
        NOTICE.move(notice, "publish", fields={"published_at": now()})
    return notice


def notice_withdraw(*, notice: Notice, by: User, reason: str) -> Notice:
    _managed(notice, by)
    reason = _text(reason, "reason", max_len=200, line=True)
    with transaction.atomic():
        NOTICE.move(notice, "withdraw", fields={"withdrawn_reason": reason})
    return notice


def notice_read(*, notice: Notice, by: User) -> bool:
    """Note that `by` opened the notice; whether this was the first time."""
    try:
        with transaction.atomic():
            Read.objects.create(notice=notice, user=by, at=now())
        return True
    except IntegrityError:
        return False


# --- events ---------------------------------------------------------------------------------------------------

MAX_CAPACITY = 2000
MAX_HOURS = 24


def event_publish(
    *,
    by: User,
    node: Node,
    title: str,
    place: str,
    starts_at: dt.datetime,
    ends_at: dt.datetime,
    capacity: int,
    kind: str = Event.Kind.OTHER,
    description: str = "",
    point: ServicePoint | None = None,
) -> Event:
    """一周活动预告: an event for `node`'s residents (a subtree where `by` publishes), at a service point of it
    or a place named."""
    if not under(selectors.publish_paths(by), node.path):
        raise NotFound(_("No such place in your area."), code="node.not_found")
    if point is not None and not under(selectors.publish_paths(by), point.path):
        raise NotFound(_("No such service point in your area."), code="point.not_found")
    title = _text(title, "title", max_len=80, line=True)
    place = _text(place or (point.name if point else ""), "place", max_len=120, line=True)
    description = _text(description, "description", max_len=2000) if description.strip() else ""
    if kind not in Event.Kind.values:
        raise _invalid("kind", _("Unknown kind of event."), "event.bad_kind")
    at = now()
    starts_at, ends_at = aware(starts_at), aware(ends_at)
    if starts_at <= at:
        raise _invalid("starts_at", _("An event is published before it starts."), "event.bad_time")
    if ends_at <= starts_at or ends_at - starts_at > dt.timedelta(hours=MAX_HOURS):
        raise _invalid("ends_at", _("An event ends after it starts, within a day."), "event.bad_time")
    if not 1 <= capacity <= MAX_CAPACITY:
        raise _invalid("capacity", _("Places must be from 1 to %(n)s.") % {"n": MAX_CAPACITY}, "event.bad_capacity")
    return Event.objects.create(
        node=node, path=node.path, point=point, kind=kind, title=title, description=description, place=place,
        starts_at=starts_at, ends_at=ends_at, capacity=capacity, created_by=by, created_at=at,
    )  # fmt: skip


def event_cancel(*, event: Event, by: User, reason: str) -> Event:
    """Cancel an event: everyone signed up is told why."""
    if not under(selectors.publish_paths(by), event.path):
        raise NotFound(_("No such event."), code="event.not_found")
    reason = _text(reason, "reason", max_len=200, line=True)
    day = f"{event.starts_at.astimezone(SHANGHAI):%m-%d %H:%M}"
    with transaction.atomic():
        EVENT.move(event, "cancel")
        for uid in event.attendances.filter(state=Attendance.State.SIGNED_UP).values_list("user_id", flat=True):
            message_queue(
                user_id=uid, kind="events", link=f"/notices/events/{event.pk}/",
                text=_("%(title)s on %(day)s is cancelled: %(reason)s")
                % {"title": event.title, "day": day, "reason": reason},
            )  # fmt: skip
    return event


def event_attend(*, event: Event, by: User) -> Attendance:
    """Sign up to attend: one place, if one is left. The place is taken by a conditional UPDATE of the
    event's count (taken < capacity), so fifty at once never take more places than there are."""
    scope = get_scope(by)
    if scope.own is None or not scope.own.path.startswith(event.path):
        raise NotFound(_("No such event."), code="event.not_found")
    if event.starts_at <= now():
        raise Conflict(_("This event has already started."), code="event.started")
    with transaction.atomic():
        existing = Attendance.objects.select_for_update().filter(event=event, user=by).first()
        if existing is not None and existing.state == Attendance.State.SIGNED_UP:
            raise Conflict(_("You are already signed up for this event."), code="event.already_signed_up")
        took = Event.objects.filter(
            pk=event.pk, state=Event.State.PUBLISHED, taken__lt=F("capacity")
        ).update(taken=F("taken") + 1)  # fmt: skip
        if not took:
            state = Event.objects.filter(pk=event.pk).values_list("state", flat=True).first()
            if state == Event.State.CANCELLED:
                raise Conflict(_("This event is cancelled."), code="event.cancelled")
            raise Conflict(_("No places left."), code="event.full")
        if existing is not None:
            ATTENDANCE.move(existing, "signup_again", fields={"signed_at": now()})
            return existing
        try:
            with transaction.atomic():
                return Attendance.objects.create(event=event, user=by, signed_at=now())
        except IntegrityError:
            # The same person twice at once: the other request holds the place.
            raise Conflict(_("You are already signed up for this event."), code="event.already_signed_up") from None


def event_withdraw(*, event: Event, by: User) -> Attendance:
    with transaction.atomic():
        a = Attendance.objects.filter(event=event, user=by).first()
        if a is None:
            raise Conflict(_("You are not signed up for this event."), code="event.not_signed_up")
        ATTENDANCE.move(a, "withdraw")
        Event.objects.filter(pk=event.pk, taken__gt=0).update(taken=F("taken") - 1)
    return a
