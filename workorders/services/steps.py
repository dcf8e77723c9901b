"""Steps that change no state: extensions (延期), leaving an order out of the rates (甄别), urging and
supervising (催办/督办), notes."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.db import transaction
from django.utils.translation import gettext as _

from core.clock import now
from core.errors import Conflict, ValidationFailed
from workorders import deadlines
from workorders.models import (
    Event,
    Extension,
    WorkOrder,
)
from workorders.services.common import _event, _locked, _unit_label, notify_dispatchers, notify_handlers, notify_owner
from workorders.states import (
    EXTENSION,
    HANDLING_STATES,
    State,
)

if TYPE_CHECKING:
    from accounts.models import User

# --- non-transition steps -----------------------------------------------------------------------


@transaction.atomic
def extension_request(*, order: WorkOrder, by: User, days: int, reason: str) -> Extension:
    order = _locked(order)
    if order.state not in HANDLING_STATES - {State.DISPATCHED} and order.state != State.SUSPENDED:
        raise Conflict(_("Sign for the order before asking for more time."), code="workorder.transition_not_allowed")
    if not reason.strip():
        raise ValidationFailed(fields={"reason": [_("Please give the reason for the extension.")]})
    if not 1 <= days <= 30:
        raise ValidationFailed(fields={"days": [_("Between 1 and 30 working days.")]})
    # While an order waits for the resident its clock stands still: what counts is the time left when
    # it stopped, not a deadline that resuming will push back anyway.
    clock = order.suspended_at if order.state == State.SUSPENDED and order.suspended_at else now()
    if order.due_at is None or clock >= order.due_at or order.overdue:
        raise Conflict(_("An extension must be asked for before the deadline."), code="workorder.extension_too_late")
    if Extension.objects.filter(order=order, status=Extension.Status.PENDING).exists():
        raise Conflict(_("An extension request is already waiting."), code="workorder.extension_pending")
    ext = Extension.objects.create(order=order, days=days, reason=reason, requested_by=by, requested_at=now())
    _event(order, "extension_request", by, note=reason, data={"days": days, "extension": ext.pk})
    notify_dispatchers(order, "workorder.extension", _("Order %(code)s: more time requested."))
    return ext


@transaction.atomic
def extension_decide(*, extension: Extension, by: User, approve: bool, note: str = "") -> Extension:
    ext = Extension.objects.select_for_update().get(pk=extension.pk)
    EXTENSION.check(ext, "approve" if approve else "refuse")
    order = _locked(ext.order)
    t = now()
    EXTENSION.move(
        ext, "approve" if approve else "refuse", fields={"decided_by": by, "decided_at": t, "decision_note": note}
    )
    if approve and order.due_at is not None:
        old_due = order.due_at
        limits = deadlines.order_limits(order)
        order.due_at = deadlines.extend_by_working_days(order.due_at, ext.days)
        # The rule's own warning share (it was a fixed 75 %).
        order.warn_at = deadlines.warn_time(t, order.due_at, limits.warn_percent)
        order.warned = False
        # The request was made in time (extension_request refuses late ones); if the worker flagged
        # the order overdue while the dispatcher was deciding, the approved deadline is what counts.
        order.overdue = order.overdue and order.due_at <= t
        order.next_check_at = deadlines.next_check(order)
        WorkOrder.objects.filter(pk=order.pk).update(
            due_at=order.due_at,
            warn_at=order.warn_at,
            warned=False,
            overdue=order.overdue,
            next_check_at=order.next_check_at,
            updated_at=t,
        )
        _event(
            order,
            "extension_approved",
            by,
            note=note,
            public=True,
            data={"days": ext.days, "old_due": old_due.isoformat(), "new_due": order.due_at.isoformat()},
        )
        notify_owner(
            order,
            "workorder.extended",
            _("The time limit of your appeal %(code)s was extended to %(due)s."),
            due=order.due_at,
        )
    else:
        _event(order, "extension_refused", by, note=note, data={"days": ext.days})
    notify_handlers(order, "workorder.extension_decided", _("Order %(code)s: your extension request was decided."))
    return ext


@transaction.atomic
def workorder_exclude(*, order: WorkOrder, by: User, note: str) -> WorkOrder:
    """Leave the order out of the assessment rates (甄别, on an approved appeal); its log says why. The
    order's state does not change: what it counts for does."""
    t = now()
    WorkOrder.objects.filter(pk=order.pk).update(excluded=True, updated_at=t)
    order.excluded, order.updated_at = True, t
    _event(order, "excluded", by, note=note, public=False, at=t)
    return order


@transaction.atomic
def workorder_supervise(*, order: WorkOrder, by: User, level: str, note: str = "") -> Event:
    """催办 (urge) or 督办 (formal supervision) of work in hand."""
    if level not in ("urge", "supervise"):
        raise ValidationFailed(fields={"level": [_("Choose urge or supervise.")]})
    if order.state not in HANDLING_STATES | {State.SUSPENDED}:
        raise Conflict(_("Only work in hand can be urged."), code="workorder.transition_not_allowed")
    event = _event(order, level, by, note=note, data={"unit": _unit_label(order)})
    template = (
        _("Order %(code)s: please speed up (催办).")
        if level == "urge"
        else _("Order %(code)s is under supervision (督办). Please report progress.")
    )
    notify_handlers(order, f"workorder.{level}", template)
    return event


@transaction.atomic
def workorder_note(*, order: WorkOrder, by: User, note: str, public: bool = False) -> Event:
    note = (note or "").strip()
    if not note:
        raise ValidationFailed(fields={"note": [_("The note is empty.")]})
    return _event(order, "note", by, note=note, public=public)
