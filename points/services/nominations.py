"""Recognition: nominating a good person (好人) of the month and the village's decision."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from core.clock import now
from core.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from org.models import Resident
from points.models import Claim, Nomination, Rule
from points.selectors import manages
from points.services.claims import _approve, claim_submit
from points.services.common import _tell, village_id
from points.states import NOMINATION

if TYPE_CHECKING:
    from accounts.models import User

# --- recognition -----------------------------------------------------------------------------------------------


def nominate(*, resident: Resident, month: dt.date, reason: str, by: User) -> Nomination:
    """Nominate a resident as a "good person" (好人) of a month: staff of their area, or a neighbour
    of the same village."""
    reason = (reason or "").strip()
    if not reason or len(reason) > 500:
        raise ValidationFailed(
            _("Describe the good deeds (at most 500 characters)."),
            code="points.bad_reason",
            fields={"reason": _("required")},
        )
    from org.access import get_scope

    own = get_scope(by).own
    if own is not None and own.id == resident.pk:
        raise PermissionDenied(_("Nominate someone else."), code="points.own_nomination")
    neighbour = own is not None and village_id(own.path) == village_id(resident.path)
    if not neighbour and not manages(by, resident.path, grid_workers=True):
        raise NotFound(_("No such resident in your area."), code="resident.not_found")
    month = month.replace(day=1)
    try:
        with transaction.atomic():
            return Nomination.objects.create(
                resident=resident, path=resident.path, month=month, reason=reason, nominated_by=by, nominated_at=now()
            )
    except IntegrityError as exc:
        raise Conflict(
            _("This resident is already nominated for that month."), code="points.already_nominated"
        ) from exc


def nomination_decide(*, nomination: Nomination, select: bool, by: User) -> Nomination:
    """Village staff select (points under the good-person rule, if there is one) or pass over."""
    if not manages(by, nomination.path):
        raise NotFound(_("No such nomination."), code="points.nomination_not_found")
    if nomination.resident.user_id is not None and nomination.resident.user_id == by.pk:
        raise PermissionDenied(_("You cannot decide your own nomination."), code="points.own_nomination")
    with transaction.atomic():
        NOMINATION.move(nomination, "select" if select else "pass_over", fields={"decided_by": by, "decided_at": now()})
        if select:
            rule = Rule.objects.filter(kind=Rule.Kind.GOOD_PERSON, is_active=True).first()
            if rule is not None:
                claim, _created = claim_submit(
                    resident=nomination.resident,
                    rule=rule,
                    quantity=1,
                    by=by,
                    source=f"nomination:{nomination.pk}",
                    description=_("Good person of %(month)s") % {"month": nomination.month.strftime("%Y-%m")},
                )
                if claim.state == Claim.State.PENDING:
                    _approve(claim, by=by, note="")
                Nomination.objects.filter(pk=nomination.pk).update(entry=claim.entry)
            _tell(nomination.resident, _("You were selected as a good person of the month. Thank you!"))
    nomination.refresh_from_db()
    return nomination
