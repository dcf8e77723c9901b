"""Every write of the personal-data duties: a resident files a correction or deletion request, staff answer
it (done or refused, with a reply; the resident is told), a resident's look at their own data is recorded,
and the retention rule anonymises closed work orders past the retention period."""

from __future__ import annotations

import datetime as dt
import logging
from typing import TYPE_CHECKING

from django.core.files.storage import default_storage
from django.db import transaction
from django.db.models import F
from django.utils.translation import gettext as _

from accounts.models import RoleAssignment
from core.clock import now
from core.errors import Conflict, NotFound, ValidationFailed
from core.validation import clean_text, has_nul
from notify.models import Message
from notify.services import message_queue
from org.models import Resident, path_ids
from org.policy import Cap, holders, may
from privacy.conf import retention_years
from privacy.models import TEXT_MAX, AnonymisedOrder, DataRequest, OwnDataAccess
from privacy.states import DATA_REQUEST
from workorders.models import Callback, Event, Extension, Photo, Rating, WorkOrder
from workorders.states import State as OrderState

if TYPE_CHECKING:
    from accounts.models import User

log = logging.getLogger("gongzhi.privacy")

# What stands where a person's words were. Stored data, not a page's words: the same in every language.
PLACEHOLDER = "（已匿名）"
# Open requests a resident may have at once: enough for any real need, a stop for a runaway script.
MAX_OPEN = 5
BATCH = 500
CLOSED_STATES = (OrderState.CLOSED, OrderState.CANCELLED)


def _invalid(field: str, message: str, code: str) -> ValidationFailed:
    return ValidationFailed(message, code=code, fields={field: [message]})


def _text(value: str | None, field: str) -> str:
    value = value or ""
    if has_nul(value):
        raise _invalid(field, _("NUL characters are not allowed."), "validation.nul")
    value = clean_text(value).strip()
    if not value:
        raise _invalid(field, _("This field is required."), "validation.required")
    if len(value) > TEXT_MAX:
        raise _invalid(field, _("At most %(n)s characters.") % {"n": TEXT_MAX}, "validation.too_long")
    return value


@transaction.atomic
def datarequest_file(*, resident: Resident, by: User, kind: str, text: str) -> DataRequest:
    """File a request to correct or delete `resident`'s personal data; whoever answers such requests over
    the resident's place is told."""
    if kind not in DataRequest.Kind.values:
        raise _invalid("kind", _("Choose one of the options offered."), "validation.choice")
    text = _text(text, "text")
    # Locks the resident's row: two posts at once cannot both slip under the limit.
    locked = Resident.objects.select_for_update().filter(pk=resident.pk).values_list("path", flat=True).first()
    if locked is None:
        raise NotFound()
    if DataRequest.objects.filter(resident_id=resident.pk, state=DataRequest.State.OPEN).count() >= MAX_OPEN:
        raise Conflict(
            _("You already have %(n)s open requests. Please wait for an answer to them.") % {"n": MAX_OPEN},
            code="datarequest.too_many_open",
        )
    r = DataRequest.objects.create(
        resident_id=resident.pk, path=locked, user=by, kind=kind, text=text, created_at=now()
    )
    link = f"/privacy/requests/{r.pk}/"
    told: set[int] = set()
    for a in RoleAssignment.objects.filter(holders(Cap.PRIVACY_HANDLE), node_id__in=path_ids(locked)).order_by("id"):
        if a.user_id not in told:
            told.add(a.user_id)
            message_queue(
                user_id=a.user_id, kind="privacy", link=link,
                text=_("A resident filed a personal data request (%(kind)s).") % {"kind": r.get_kind_display()},
            )  # fmt: skip
    return r


@transaction.atomic
def datarequest_handle(*, request: DataRequest, by: User, outcome: str, reply: str) -> DataRequest:
    """Answer an open request: done or refused, with a reply to the resident, recorded with who and when.
    Only who holds Cap.PRIVACY_HANDLE over the resident's place may (others: 404, as if it were missing)."""
    if not may(by, Cap.PRIVACY_HANDLE, request.path):
        raise NotFound()
    actions: dict[str, str] = {DataRequest.State.DONE: "complete", DataRequest.State.REFUSED: "refuse"}
    if outcome not in actions:
        raise _invalid("outcome", _("Choose one of the options offered."), "validation.choice")
    reply = _text(reply, "reply")
    at = now()
    DATA_REQUEST.move(request, actions[outcome], fields={"handled_by": by, "handled_at": at, "reply": reply})
    if request.user_id is not None:
        text = (
            _("Your personal data request was dealt with: %(reply)s")
            if outcome == DataRequest.State.DONE
            else _("Your personal data request was refused: %(reply)s")
        )
        message_queue(user_id=request.user_id, kind="privacy", link="/privacy/mine/", text=text % {"reply": reply})
    return request


def own_data_accessed(*, user: User, resident: Resident, channel: str) -> OwnDataAccess:
    """Record that a resident looked at (page) or downloaded (download) their own data."""
    return OwnDataAccess.objects.create(at=now(), user=user, resident=resident, channel=channel)


# --- retention ----------------------------------------------------------------------------------------------


def _years_before(t: dt.datetime, years: int) -> dt.datetime:
    try:
        return t.replace(year=t.year - years)
    except ValueError:  # 29 February in a year that has none
        return t.replace(year=t.year - years, day=28)


def anonymise_closed_orders(at: dt.datetime | None = None, *, years: int | None = None, batch: int = BATCH) -> int:
    """Blank the personal fields of work orders closed or cancelled more than `years` (by default the
    PERSONAL_DATA_RETENTION_YEARS setting; 0 = never) before `at`, `batch` orders per transaction; the
    number of orders anonymised. Idempotent: an order done once is recorded (AnonymisedOrder) and skipped.

    Blanked: who (owner, their account, who typed it in, contact name and phone, the resident's own name on
    the timeline), where exactly (address, coordinates), and every free text that may name someone (title,
    description, form answers, reply, the timeline's notes, rating comments, callback notes, extension
    reasons and decisions, the texts of messages about the order), and the photos (rows and files). Kept:
    what the dashboards and the assessment count — state, category, kind, channel, grid and
    path, units, dates, deadlines, ratings' scores and callbacks' outcomes. None of the blanked columns fires
    the dashboards' triggers."""
    years = retention_years() if years is None else years
    if years <= 0:
        return 0
    cutoff = _years_before(at or now(), years)
    done = 0
    while True:
        with transaction.atomic():
            ids = list(
                WorkOrder.objects.filter(state__in=CLOSED_STATES, closed_at__lt=cutoff)
                .exclude(pk__in=AnonymisedOrder.objects.values("order_id"))
                .order_by("id")
                .values_list("id", flat=True)[:batch]
            )
            if not ids:
                return done
            _anonymise(ids)
            done += len(ids)


def _delete_files(names: list[str]) -> None:
    for name in names:
        try:
            default_storage.delete(name)
        except OSError:
            log.warning("privacy: photo %s could not be deleted", name, exc_info=True)


def _anonymise(ids: list[int]) -> None:
    orders = WorkOrder.objects.filter(pk__in=ids)
    # The resident's own steps on the timeline (filed, rated, cancelled) name them: before their account goes.
    Event.objects.filter(order_id__in=ids, actor_id=F("order__owner_user_id")).update(
        actor=None, actor_label=PLACEHOLDER
    )
    orders.update(
        title=PLACEHOLDER, text=PLACEHOLDER, form_data={}, address="", lat=None, lng=None,
        owner=None, owner_user=None, submitted_by=None, contact_name=PLACEHOLDER, contact_phone="",
        idempotency_key="",
    )  # fmt: skip
    orders.exclude(reply="").update(reply=PLACEHOLDER)
    Event.objects.filter(order_id__in=ids).exclude(note="").update(note=PLACEHOLDER)
    Rating.objects.filter(order_id__in=ids).update(by=None)
    Rating.objects.filter(order_id__in=ids).exclude(comment="").update(comment=PLACEHOLDER)
    Callback.objects.filter(order_id__in=ids).exclude(note="").update(note=PLACEHOLDER)
    Extension.objects.filter(order_id__in=ids).update(reason=PLACEHOLDER)
    Extension.objects.filter(order_id__in=ids).exclude(decision_note="").update(decision_note=PLACEHOLDER)
    # Messages about these orders quote their titles. (No index on the link: a scan of the messages a batch;
    # the messages' own retention is to bound that table.)
    Message.objects.filter(link__in=[f"/workorders/{i}/" for i in ids]).update(text=PLACEHOLDER)
    # Photos show people and their homes: the files go once the transaction has committed, the rows with it.
    photos = list(Photo.objects.filter(order_id__in=ids).values_list("image", flat=True))
    Photo.objects.filter(order_id__in=ids).delete()
    if photos:
        transaction.on_commit(lambda: _delete_files(photos))
    t = now()
    AnonymisedOrder.objects.bulk_create([AnonymisedOrder(order_id=i, at=t) for i in ids])
