"""Claims: points by rule, filed by the resident or for them, decided by village staff (or at once
where the rule needs no approval), within the rule's caps."""

from __future__ import annotations

import datetime as dt
from decimal import ROUND_DOWN, Decimal
from typing import TYPE_CHECKING, Any

from django.db import transaction
from django.db.models import Sum
from django.utils.translation import gettext as _

from core.clock import SHANGHAI, now
from core.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from org.models import Resident
from points.models import Account, Claim, Entry, Rule
from points.selectors import manages
from points.services.common import MAX_QUANTITY, _client_key, _once, _tell, village_id
from points.services.ledger import _move, node_account, resident_account
from points.states import CLAIM

if TYPE_CHECKING:
    from accounts.models import User

# --- claims: points by rule ---------------------------------------------------------------------------------


def _month_start(at: dt.datetime) -> dt.datetime:
    d = at.astimezone(SHANGHAI)
    return dt.datetime(d.year, d.month, 1, tzinfo=SHANGHAI)


def rule_points(rule: Rule, quantity: Decimal) -> int:
    points = int((Decimal(rule.points_per_unit) * quantity).to_integral_value(rounding=ROUND_DOWN))
    if rule.cap_per_activity is not None:
        points = min(points, rule.cap_per_activity)
    return points


def _quantity(rule: Rule, quantity: Any) -> Decimal:
    try:
        q = Decimal(str(quantity)).quantize(Decimal("0.1"))
    except Exception as exc:
        raise ValidationFailed(
            _("Enter a number of hours or acts."), code="points.bad_quantity", fields={"quantity": _("not a number")}
        ) from exc
    top = Decimal(24) if rule.unit == Rule.Unit.HOUR else Decimal(MAX_QUANTITY)
    if not q.is_finite() or q <= 0 or q > top:
        raise ValidationFailed(
            _("The quantity must be more than 0 and at most %(max)s.") % {"max": top},
            code="points.bad_quantity",
            fields={"quantity": _("out of range")},
        )
    return q


def claim_submit(
    *,
    resident: Resident,
    rule: Rule,
    quantity: Any,
    description: str,
    by: User,
    source: str = "",
    key: str | None = None,
) -> tuple[Claim, bool]:
    """A claim for points under `rule`: by the resident for themself (a good deed, a neighbour helped),
    by staff or an activity's organiser for them. Rules that need no approval are decided at once."""
    if not rule.is_active:
        raise NotFound(_("No such points rule."), code="points.rule_not_found")
    own = resident.user_id is not None and resident.user_id == getattr(by, "pk", None)
    if not own and not source and not manages(by, resident.path, grid_workers=True):
        raise NotFound(_("No such resident in your area."), code="resident.not_found")
    description = (description or "").strip()
    if not description or len(description) > 300:
        raise ValidationFailed(
            _("Describe what was done (at most 300 characters)."),
            code="points.bad_description",
            fields={"description": _("required, at most 300 characters")},
        )
    q = _quantity(rule, quantity)
    full_key = f"claim:{source}" if source else f"claim:{by.pk}:{_client_key(key)}"

    def write() -> Claim:
        claim = Claim.objects.create(
            key=full_key,
            resident=resident,
            path=resident.path,
            rule=rule,
            quantity=q,
            description=description,
            source=source,
            submitted_by=by,
            submitted_at=now(),
        )
        # A rule without approval is decided at once only for what its organisers vouch for (a rated
        # participation, a selection) or village staff file: a resident's own word always goes to staff.
        if not rule.needs_approval and not own and manages(by, resident.path):
            _approve(claim, by=None, note="")
        return claim

    def lookup() -> Claim | None:
        found = Claim.objects.filter(key=full_key).first()
        if found is not None and (found.resident_id != resident.pk or found.rule_id != rule.pk or found.quantity != q):
            raise Conflict(
                _("This idempotency key was already used for a different request."), code="points.key_reused"
            )
        return found

    return _once(lookup, write)


def _approve(claim: Claim, *, by: User | None, note: str) -> None:
    resident = claim.resident
    account = resident_account(resident)
    # Decide first (compare-and-set), so a second approval of the same claim stops here, changing nothing.
    CLAIM.move(claim, "approve", fields={"decided_by": by if getattr(by, "pk", None) else None, "decided_at": now()})
    # The monthly cap is read and then written: hold the resident's account while deciding.
    Account.objects.select_for_update().filter(pk=account.pk).first()
    points = rule_points(claim.rule, claim.quantity)
    if claim.rule.cap_per_month is not None:
        got = (
            Entry.objects.filter(
                resident=resident,
                rule=claim.rule,
                kind=Entry.Kind.AWARD,
                at__gte=_month_start(now()),
                reversed_by__isnull=True,
            ).aggregate(s=Sum("amount"))["s"]
            or 0
        )
        points = max(0, min(points, claim.rule.cap_per_month - got))
        if points == 0 and not note:
            note = _("The monthly cap of this rule is reached.")
    entry = None
    if points > 0:
        source = node_account(village_id(resident.path), Account.Kind.ISSUE)
        entry = _move(
            key=f"award:{claim.key}",
            kind=Entry.Kind.AWARD,
            source=source,
            sink=account,
            amount=points,
            resident=resident,
            by=by,
            reason=f"{claim.rule.name}：{claim.description}"[:200],
            rule=claim.rule,
        )
        _tell(resident, _("You received %(n)s points: %(reason)s") % {"n": points, "reason": claim.rule.name})
    Claim.objects.filter(pk=claim.pk).update(points=points, decision_note=note[:200], entry=entry)
    claim.refresh_from_db()


def claim_decide(*, claim: Claim, approve: bool, by: User, note: str = "") -> Claim:
    """Village staff approve (the award is written) or reject (with a reason) a pending claim."""
    if claim.resident.user_id == by.pk:  # they see their own claim, so a plain "no" tells them nothing new
        raise PermissionDenied(_("You cannot decide your own claim."), code="points.own_claim")
    if not manages(by, claim.path):
        raise NotFound(_("No such claim."), code="points.claim_not_found")
    note = (note or "").strip()[:200]
    if not approve and not note:
        raise ValidationFailed(_("Give the reason."), code="points.reason_required", fields={"note": _("required")})
    with transaction.atomic():
        if approve:
            _approve(claim, by=by, note=note)
        else:
            CLAIM.move(claim, "reject", fields={"decided_by": by, "decided_at": now(), "decision_note": note})
            _tell(claim.resident, _("Your points claim was not approved: %(reason)s") % {"reason": note})
            claim.refresh_from_db()
    return claim
