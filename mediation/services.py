"""Every write of dispute handling: report (from a patrol, a resident, a work order), accept with a mediator or
decline, sessions, extensions of the time limit, the agreement with its signed copies and follow-up visits,
referral and the unit's result, settlement and ending, the red flag; and the worker's step (time limits and
follow-ups due), which acts on columns, not on memory, so it fires after a restart.

Each state change goes through the case's machine (mediation.states) under the case's row lock, with its event
row in the same transaction; a refusal is a coded 409 and changes nothing."""

from __future__ import annotations

import datetime as dt
import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.core.files.base import ContentFile
from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from accounts.models import RoleAssignment
from core import workcal
from core.clock import SHANGHAI, now, today
from core.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from core.validation import checked_text
from core.worker import claim_due
from mediation import selectors
from mediation.models import (
    Agreement,
    Case,
    Event,
    Extension,
    FollowUp,
    Kind,
    Level,
    Mediator,
    Party,
    Referral,
    Risk,
    Scan,
    Session,
    Source,
)
from mediation.states import CASE, FOLLOW_UP, REFERRAL
from notify.services import message_queue
from org.access import get_scope, own_resident, residents_for
from org.models import Level as NodeLevel
from org.models import Node, Resident, path_ids, path_prefixes
from org.policy import Cap, holders

if TYPE_CHECKING:
    from accounts.models import User
    from workorders.models import WorkOrder

MAX_PARTIES = 20
MAX_SCANS = 5
KEY_RE = re.compile(r"^[A-Za-z0-9_.:-]{1,64}$")
PHONE_RE = re.compile(r"^\+?[0-9][0-9 -]{4,18}[0-9]$")
LINK = "/mediation/cases/%(pk)s/"


def setting(name: str) -> Any:
    return settings.GONGZHI["MEDIATION"][name]


def _invalid(field: str, message: str, code: str) -> ValidationFailed:
    return ValidationFailed(message, code=code, fields={field: [message]})


def _text(value: str | None, field: str, *, max_len: int, line: bool = False, min_len: int = 1) -> str:
    return checked_text(value, field, max_len=max_len, line=line, min_len=min_len)


def _choice(value: str, choices: Any, field: str) -> str:
    if value not in choices.values:
        raise _invalid(field, _("Choose one of the options."), f"{field}.invalid")
    return value


def _event(case: Case, action: str, by: User | None, note: str = "", moved: Any = None) -> Event:
    return Event.objects.create(
        case=case,
        action=action,
        from_state=moved.from_state if moved is not None else "",
        to_state=moved.to_state if moved is not None else "",
        note=note[:300],
        by=by,
        at=now(),
    )


def _tell(user_ids: Sequence[int], case: Case, kind: str, text: str) -> None:
    for uid in dict.fromkeys(user_ids):
        message_queue(user_id=uid, kind=kind, text=text, link=LINK % {"pk": case.pk})


def _handlers(case: Case) -> list[int]:
    """Who is told what happens to a case: its mediator, else the mediators registered over its place."""
    if case.mediator_id is not None:
        return [Mediator.objects.filter(pk=case.mediator_id).values_list("user_id", flat=True).get()]
    return list(
        Mediator.objects.filter(active=True, path__in=path_prefixes(case.path)).values_list("user_id", flat=True)
    )


def _handle(by: User, case: Case) -> None:
    if not selectors.handles(by, case):
        raise PermissionDenied(
            _("Only the case's mediator or the mediation staff of its place can do this."), code="case.not_mediator"
        )


def _locked(case: Case) -> Case:
    """The case under its row lock, as it is now (the caller's copy may be stale)."""
    return Case.objects.select_for_update().get(pk=case.pk)


# --- time limits ------------------------------------------------------------------------------------------------


def end_of_period(start: dt.datetime, days: int) -> dt.datetime:
    """The end (24:00, Asia/Shanghai) of the period of `days` calendar days counted from the day after `start`;
    a period whose last day is a day off ends at the end of the next working day (the legal rule for periods)."""
    last = start.astimezone(SHANGHAI).date() + dt.timedelta(days=days)
    while not workcal.is_workday(last):
        last += dt.timedelta(days=1)
    return dt.datetime.combine(last + dt.timedelta(days=1), dt.time(), tzinfo=SHANGHAI)


def warn_time(due: dt.datetime) -> dt.datetime:
    return due - dt.timedelta(days=setting("WARN_DAYS"))


def _clock(start: dt.datetime, days: int) -> dict[str, Any]:
    due = end_of_period(start, days)
    return {"due_at": due, "warn_at": warn_time(due), "warned": False, "overdue": False}


def next_check(case: Case) -> dt.datetime | None:
    """The earliest time limit the worker still has to act on (only while the case is being mediated)."""
    if case.state != Case.State.MEDIATING or case.due_at is None or case.overdue:
        return None
    if not case.warned and case.warn_at is not None and case.warn_at < case.due_at:
        return case.warn_at
    return case.due_at


def follow_up_time(signed_on: dt.date, days: int) -> dt.datetime:
    """08:00 of the day `days` after signing, moved to the next working day."""
    d = signed_on + dt.timedelta(days=days)
    while not workcal.is_workday(d):
        d += dt.timedelta(days=1)
    return dt.datetime.combine(d, dt.time(8, 0), tzinfo=SHANGHAI)


# --- reporting --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PartyIn:
    side: str
    resident_id: int | None = None
    name: str = ""
    phone: str = ""


def _phone(value: str, field: str) -> str:
    value = _text(value, field, max_len=20, line=True, min_len=0)
    if value and not PHONE_RE.match(value):
        raise _invalid(field, _("Enter a phone number of digits, like 13800001111."), "phone.invalid")
    return value


def _parties(by: User, parties: Sequence[PartyIn], own: Resident | None) -> list[Party]:
    """The parties as rows to save: residents by their id in the register the reporter sees (a resident
    reporting names only themself by id), others by name and phone."""
    if not parties:
        raise _invalid("parties", _("Name at least one party to the dispute."), "parties.required")
    if len(parties) > MAX_PARTIES:
        raise _invalid("parties", _("At most %(n)s parties.") % {"n": MAX_PARTIES}, "parties.too_many")
    out: list[Party] = []
    seen: set[int] = set()
    for n, p in enumerate(parties):
        field = f"parties[{n}]"
        side = _choice(p.side, Party.Side, f"{field}.side")
        if p.resident_id is not None:
            if own is not None and p.resident_id == own.pk:
                r: Resident | None = own
            elif own is not None and not get_scope(by).is_staff:
                r = None
            else:
                r = residents_for(by).filter(pk=p.resident_id).first()
            if r is None:
                raise NotFound(
                    _("Party %(n)s: no such resident in your area. Enter an outsider by name and phone.")
                    % {"n": n + 1},
                    code="party.not_found",
                )
            if r.pk in seen:
                raise _invalid(field, _("The same resident is named twice."), "party.twice")
            seen.add(r.pk)
            out.append(Party(resident=r, side=side, name=r.name, phone=""))
        else:
            name = _text(p.name, f"{field}.name", max_len=40, line=True)
            out.append(Party(resident=None, side=side, name=name, phone=_phone(p.phone, f"{field}.phone")))
    return out


def _code(case: Case) -> str:
    return f"TJ{case.created_at.astimezone(SHANGHAI).year}{case.pk:06d}"


def case_report(
    *,
    by: User,
    node: Node,
    kind: str,
    title: str,
    account: str,
    parties: Sequence[PartyIn],
    source: str = "",
    risk: str = Risk.LOW,
    red_reason: str = "",
    on_the_spot: str = "",
    work_order: WorkOrder | None = None,
    key: str = "",
) -> Case:
    """Report a dispute at `node` (a grid or a village). Staff who report (mediation.report) or mediate there
    name the source; a resident reports their own dispute (they are a party, the source is theirs). A red flag
    (a reason given) alerts the town at once. `on_the_spot`: what the grid worker did, for a dispute settled as
    it was found (当场化解): the case is reported settled, in the grid. Retried with the same `key`, the case
    already reported is returned."""
    if key and not KEY_RE.match(key):
        raise _invalid("idempotency_key", _("Use 1 to 64 letters, digits or . _ : -"), "idempotency_key.invalid")
    if key:
        done = Case.objects.filter(reported_by=by, key=key).first()
        if done is not None:
            return done
    if node.level not in (NodeLevel.VILLAGE, NodeLevel.GRID):
        raise _invalid("node", _("A dispute is reported at a village or a grid."), "node.level")
    own = own_resident(by)
    staff = selectors.may_report_at(by, node)
    if not staff:
        if own is None or not own.path.startswith(node.path):
            raise NotFound(_("No such place in your area."), code="node.not_found")
        source = Source.RESIDENT
    elif not source:
        raise _invalid("source", _("Choose how the dispute came to light."), "source.required")
    kind = _choice(kind, Kind, "kind")
    source = _choice(source, Source, "source")
    risk = _choice(risk, Risk, "risk")
    title = _text(title, "title", max_len=80, line=True)
    account = _text(account, "account", max_len=2000)
    red_reason = _text(red_reason, "red_reason", max_len=300, line=True, min_len=0)
    on_the_spot = _text(on_the_spot, "on_the_spot", max_len=300, line=True, min_len=0)
    if on_the_spot and (not staff or red_reason):
        raise _invalid(
            "on_the_spot",
            _("Only staff record a dispute settled on the spot, and never one with a red flag."),
            "case.spot_not_allowed",
        )
    rows = _parties(by, parties, own if not staff else None)
    if not staff and own is not None and not any(p.resident_id == own.pk for p in rows):
        rows.insert(0, Party(resident=own, side=Party.Side.APPLICANT, name=own.name))
    if len(rows) > MAX_PARTIES:
        raise _invalid("parties", _("At most %(n)s parties.") % {"n": MAX_PARTIES}, "parties.too_many")
    t = now()
    settled = bool(on_the_spot)
    try:
        with transaction.atomic():
            case = Case.objects.create(
                code=f"TMP-{uuid.uuid4().hex[:12]}",
                kind=kind,
                title=title,
                account=account,
                node=node,
                path=node.path,
                source=source,
                work_order=work_order,
                risk=Risk.HIGH if red_reason else risk,
                red_flag=bool(red_reason),
                red_reason=red_reason,
                reported_by=by,
                created_at=t,
                key=key,
                state=Case.State.SETTLED if settled else Case.State.REPORTED,
                level=(Level.GRID if node.level == NodeLevel.GRID else Level.VILLAGE) if settled else "",
                settled_at=t if settled else None,
                closed_at=t if settled else None,
                reason=on_the_spot,
            )
            case.code = _code(case)
            Case.objects.filter(pk=case.pk).update(code=case.code)
            for p in rows:
                p.case = case
            Party.objects.bulk_create(rows)
            _event(case, "report", by, on_the_spot or "")
            if settled:
                _event(case, "spot", by, on_the_spot)
            else:
                _tell(_handlers(case), case, "mediation.new", _("New dispute case %(code)s at %(place)s.") % _v(case))
            if red_reason:
                _red_alert(case, by)
    except IntegrityError:
        if key:
            done = Case.objects.filter(reported_by=by, key=key).first()
            if done is not None:
                return done
        if work_order is not None and Case.objects.filter(work_order=work_order).exists():
            raise Conflict(_("This work order is already a dispute case."), code="case.order_taken") from None
        raise
    return case


def _v(case: Case) -> dict[str, str]:
    return {"code": case.code, "place": case.node.name}


def _red_alert(case: Case, by: User | None) -> None:
    """Tell the town at once: the mediators registered over the case's place (the village's and the town's justice
    office: a link to the case) and those who watch disputes over it and above it (a link to the board, which counts
    red flags: they do not see the case itself). No party's name goes in a message."""
    text = _("Red flag: dispute case %(code)s at %(place)s risks violence or a crime. Act at once.") % _v(case)
    handlers = set(
        Mediator.objects.filter(active=True, path__in=path_prefixes(case.path)).values_list("user_id", flat=True)
    )
    if case.mediator_id is not None:
        handlers.add(Mediator.objects.filter(pk=case.mediator_id).values_list("user_id", flat=True).get())
    watchers = set(
        RoleAssignment.objects.filter(holders(Cap.MEDIATION_WATCH), node_id__in=path_ids(case.path)).values_list(
            "user_id", flat=True
        )
    )
    me = by.pk if by is not None else None
    _tell(sorted(handlers - {me}), case, "mediation.red_flag", text)
    board = f"/dashboard/?node={path_ids(case.path)[-1]}"
    for uid in sorted(watchers - handlers - {me}):
        message_queue(user_id=uid, kind="mediation.red_flag", text=text, link=board)


def case_flag(*, case: Case, by: User, reason: str) -> Case:
    """Raise the red flag on an open case (risk of violence or 民转刑): the town is told at once."""
    _handle(by, case)
    reason = _text(reason, "reason", max_len=300, line=True)
    with transaction.atomic():
        case = _locked(case)
        if case.state not in ("reported", "mediating", "agreed", "referred"):
            raise CASE.refusal(case.state, "flag")
        if case.red_flag:
            raise Conflict(_("This case is already flagged."), code="case.flagged")
        Case.objects.filter(pk=case.pk).update(red_flag=True, red_reason=reason, risk=Risk.HIGH)
        case.red_flag, case.red_reason, case.risk = True, reason, Risk.HIGH
        _event(case, "flag", by, reason)
        _red_alert(case, by)
    return case


def case_unflag(*, case: Case, by: User, reason: str) -> Case:
    """Lower the red flag once the danger is past, with a reason."""
    _handle(by, case)
    reason = _text(reason, "reason", max_len=300, line=True)
    with transaction.atomic():
        case = _locked(case)
        if not case.red_flag:
            raise Conflict(_("This case has no red flag."), code="case.not_flagged")
        Case.objects.filter(pk=case.pk).update(red_flag=False, red_reason="")
        case.red_flag, case.red_reason = False, ""
        _event(case, "unflag", by, reason)
    return case


def order_to_case(
    *, order: WorkOrder, by: User, kind: str, title: str = "", account: str = "", parties: Sequence[PartyIn] = ()
) -> Case:
    """Turn a work order that is a dispute into a case at the order's grid; the order and the case stay linked
    (the order's history says so). Its owner, if on the register, is the applicant unless named."""
    from workorders.services import system_event

    node = Node.objects.get(pk=order.grid_id)
    if not selectors.may_report_at(by, node):
        raise PermissionDenied(_("Only staff who report disputes here can do this."), code="case.not_reporter")
    parties = list(parties)
    if order.owner_id is not None and not any(p.resident_id == order.owner_id for p in parties):
        owner_visible = residents_for(by).filter(pk=order.owner_id).exists()
        parties.insert(
            0,
            PartyIn(side=Party.Side.APPLICANT, resident_id=order.owner_id)
            if owner_visible
            else PartyIn(side=Party.Side.APPLICANT, name=order.contact_name, phone=order.contact_phone),
        )
    if not parties:
        parties = [PartyIn(side=Party.Side.APPLICANT, name=order.contact_name, phone=order.contact_phone)]
    with transaction.atomic():
        case = case_report(
            by=by,
            node=node,
            kind=kind,
            title=title or order.title,
            account=account or order.text,
            parties=parties,
            source=Source.ORDER,
            work_order=order,
        )
        system_event(order, "dispute_case", _("Turned into dispute case %(code)s.") % {"code": case.code})
    return case


# --- accepting, mediating ---------------------------------------------------------------------------------------


def _mediator(case: Case, mediator: Mediator | None) -> Mediator:
    if mediator is None or not selectors.mediators_for(case).filter(pk=mediator.pk).exists():
        raise _invalid("mediator_id", _("Choose a mediator registered for this place or above it."), "mediator.invalid")
    return mediator


def case_accept(*, case: Case, by: User, mediator: Mediator | None) -> Case:
    """Accept the case for mediation (受理) and assign its mediator: the time limit starts now."""
    _handle(by, case)
    mediator = _mediator(case, mediator)
    t = now()
    with transaction.atomic():
        case = _locked(case)
        fields: dict[str, Any] = {"mediator": mediator, "accepted_at": t, **_clock(t, setting("LIMIT_DAYS"))}
        moved: Any = CASE.move(case, "accept", fields=fields, derive=lambda c: {"next_check_at": next_check(c)})
        _event(case, "accept", by, mediator.name, moved)
        _tell(
            [mediator.user_id], case, "mediation.assigned", _("Dispute case %(code)s is yours to mediate.") % _v(case)
        )
    return case


def case_assign(*, case: Case, by: User, mediator: Mediator | None) -> Case:
    """Hand the case to another mediator while it is being mediated."""
    _handle(by, case)
    mediator = _mediator(case, mediator)
    with transaction.atomic():
        case = _locked(case)
        if case.state != Case.State.MEDIATING:
            raise CASE.refusal(case.state, "assign")
        if case.mediator_id == mediator.pk:
            raise Conflict(_("This mediator already has the case."), code="case.same_mediator")
        Case.objects.filter(pk=case.pk).update(mediator=mediator)
        case.mediator = mediator
        _event(case, "assign", by, mediator.name)
        _tell(
            [mediator.user_id], case, "mediation.assigned", _("Dispute case %(code)s is yours to mediate.") % _v(case)
        )
    return case


def case_decline(*, case: Case, by: User, reason: str) -> Case:
    """Not accepted (not a civil dispute, already before a court...), with the reason the parties are told."""
    _handle(by, case)
    reason = _text(reason, "reason", max_len=300, line=True)
    with transaction.atomic():
        case = _locked(case)
        moved: Any = CASE.move(case, "decline", fields={"reason": reason, "closed_at": now()})
        _event(case, "decline", by, reason, moved)
    return case


def _local_date(value: dt.datetime) -> dt.date:
    return value.astimezone(SHANGHAI).date()


def _day(value: dt.date | None, case: Case, field: str) -> dt.date:
    if value is None:
        raise _invalid(field, _("Enter a date like 2026-11-18."), "date.invalid")
    if value < _local_date(case.created_at):
        raise _invalid(
            field, _("The date is before the case was reported (%(d)s).") % {"d": _local_date(case.created_at)},
            "date.before_case",
        )  # fmt: skip
    if value > today():
        raise _invalid(field, _("The date is in the future."), "date.future")
    return value


def session_add(*, case: Case, by: User, held_on: dt.date | None, place: str, attendees: str, notes: str) -> Session:
    """Record a mediation session: its date (not before the case, not in the future), place, who came, notes."""
    _handle(by, case)
    held_on = _day(held_on, case, "held_on")
    place = _text(place, "place", max_len=100, line=True)
    attendees = _text(attendees, "attendees", max_len=300, line=True)
    notes = _text(notes, "notes", max_len=3000)
    with transaction.atomic():
        case = _locked(case)
        if case.state != Case.State.MEDIATING:
            raise CASE.refusal(case.state, "session")
        s = Session.objects.create(
            case=case, held_on=held_on, place=place, attendees=attendees, notes=notes, by=by, at=now()
        )
        _event(case, "session", by, str(held_on))
    return s


def case_extend(*, case: Case, by: User, days: int | None, reason: str) -> Case:
    """Extend the time limit by `days` (1 to MAX_EXTENSION_DAYS), with a reason."""
    _handle(by, case)
    most = setting("MAX_EXTENSION_DAYS")
    if days is None or not 1 <= days <= most:
        raise _invalid("days", _("Extend by 1 to %(n)s days.") % {"n": most}, "extension.days")
    reason = _text(reason, "reason", max_len=300, line=True)
    with transaction.atomic():
        case = _locked(case)
        if case.state != Case.State.MEDIATING or case.due_at is None:
            raise CASE.refusal(case.state, "extend")
        before = case.due_at
        last = before - dt.timedelta(seconds=1)
        fields = _clock(last, days)
        fields["warned"] = fields["warn_at"] <= now()
        case.due_at, case.warn_at, case.warned, case.overdue = (
            fields["due_at"], fields["warn_at"], fields["warned"], fields["due_at"] <= now()
        )  # fmt: skip
        fields["overdue"] = case.overdue
        fields["next_check_at"] = next_check(case)
        fields["extended_days"] = case.extended_days + days
        Case.objects.filter(pk=case.pk).update(**fields)
        case.extended_days = fields["extended_days"]
        Extension.objects.create(
            case=case, days=days, reason=reason, due_before=before, due_after=case.due_at, by=by, at=now()
        )
        _event(case, "extend", by, reason)
    return case


def _level_of(mediator: Mediator | None) -> str:
    """The level a case settled by `mediator` is settled at: where they are registered."""
    if mediator is None:
        return Level.VILLAGE
    level = Node.objects.filter(pk=mediator.node_id).values_list("level", flat=True).get()
    by_level: dict[int, str] = {
        NodeLevel.GRID: Level.GRID,
        NodeLevel.VILLAGE: Level.VILLAGE,
        NodeLevel.TOWN: Level.TOWN,
    }
    return by_level.get(level, Level.COUNTY)


UNIT_LEVEL: dict[str, str] = {
    Referral.Unit.JUSTICE: Level.TOWN,
    Referral.Unit.LEGAL_AID: Level.COUNTY,
    Referral.Unit.PETITION: Level.COUNTY,
    Referral.Unit.COURT: Level.OUTSIDE,
    Referral.Unit.POLICE: Level.OUTSIDE,
}


def agreement_make(*, case: Case, by: User, facts: str, terms: str, signed_on: dt.date | None) -> Agreement:
    """The parties agreed: the agreement (调解协议书) is recorded, the case is settled at the mediator's level
    while the follow-up visits (FOLLOW_UP_DAYS after signing) check it is kept."""
    _handle(by, case)
    facts = _text(facts, "facts", max_len=3000)
    terms = _text(terms, "terms", max_len=3000)
    signed_on = _day(signed_on, case, "signed_on")
    t = now()
    with transaction.atomic():
        case = _locked(case)
        level = _level_of(case.mediator)
        moved: Any = CASE.move(
            case, "agree", fields={"level": level, "settled_at": t, "next_check_at": None, "reason": ""}
        )
        a = Agreement.objects.create(
            case=case, round=case.round, facts=facts, terms=terms, signed_on=signed_on, by=by, at=t
        )
        FollowUp.objects.bulk_create(
            FollowUp(case=case, agreement=a, after_days=d, due_at=follow_up_time(signed_on, d))
            for d in sorted(set(setting("FOLLOW_UP_DAYS")))
        )
        _event(case, "agree", by, "", moved)
        if not a.follow_ups.exists():
            _settle_kept(case, by)
    return a


def scan_add(*, case: Case, by: User, upload: Any) -> Scan:
    """A photo of the signed agreement (checked and re-encoded like an order's photo)."""
    from workorders.photos import upload_prepare

    _handle(by, case)
    a = case.agreements.order_by("-round").first()
    if a is None:
        raise Conflict(_("Record the agreement first."), code="agreement.missing")
    jpeg = upload_prepare(upload)[0]
    with transaction.atomic():
        _locked(case)
        if a.scans.count() >= MAX_SCANS:
            raise Conflict(_("At most %(n)s photos.") % {"n": MAX_SCANS}, code="photo.too_many")
        s = Scan(agreement=a, by=by, at=now())
        s.file.save("agreement.jpg", ContentFile(jpeg), save=False)
        s.save()
        _event(case, "scan", by)
    return s


def _settle_kept(case: Case, by: User | None) -> None:
    moved: Any = CASE.move(case, "settle", fields={"closed_at": now()})
    _event(case, "settle", by, _("The agreement was kept."), moved)


def follow_up_record(*, case: Case, follow_up: FollowUp, by: User, kept: bool, notes: str) -> FollowUp:
    """The follow-up visit: the agreement kept (the last visit settles the case) or broken (the case goes back
    to mediation, with a new time limit; the visits still planned are no longer needed)."""
    _handle(by, case)
    if follow_up.case_id != case.pk:
        raise NotFound(_("No such follow-up visit."), code="followup.not_found")
    notes = _text(notes, "notes", max_len=1000, min_len=0 if kept else 1)
    t = now()
    with transaction.atomic():
        case = _locked(case)
        if case.state != Case.State.AGREED:
            raise CASE.refusal(case.state, "follow_up")
        FOLLOW_UP.move(
            follow_up, "record", "kept" if kept else "broken", fields={"notes": notes, "by": by, "done_at": t}
        )
        if kept:
            _event(case, "kept", by, notes)
            if not case.follow_ups.filter(state__in=("planned", "due")).exists():
                _settle_kept(case, by)
            return follow_up
        Agreement.objects.filter(pk=follow_up.agreement_id).update(broken=True)
        for other in case.follow_ups.filter(state__in=("planned", "due")):
            FOLLOW_UP.move(other, "cancel")
        fields = {"round": case.round + 1, "level": "", "settled_at": None, **_clock(t, setting("LIMIT_DAYS"))}
        moved: Any = CASE.move(case, "break", fields=fields, derive=lambda c: {"next_check_at": next_check(c)})
        _event(case, "break", by, notes, moved)
        _tell(
            _handlers(case),
            case,
            "mediation.broken",
            _("The agreement of case %(code)s is broken: mediate again.") % _v(case),
        )
    return follow_up


def case_settle(*, case: Case, by: User, note: str, level: str = "") -> Case:
    """Settled without a written agreement (an oral agreement carried out at once, the dispute withdrawn), at the
    mediator's level unless named."""
    _handle(by, case)
    note = _text(note, "note", max_len=300, line=True)
    level = _choice(level, Level, "level") if level else ""
    t = now()
    with transaction.atomic():
        case = _locked(case)
        if case.state != Case.State.MEDIATING:
            raise CASE.refusal(case.state, "settle")
        moved: Any = CASE.move(
            case,
            "settle",
            fields={"level": level or _level_of(case.mediator), "settled_at": t, "closed_at": t, "reason": note,
                    "next_check_at": None},
        )  # fmt: skip
        _event(case, "settle", by, note, moved)
    return case


def case_end(*, case: Case, by: User, reason: str) -> Case:
    """Mediation ended without settling (调解终止: a party refused, went to court...), with the reason."""
    _handle(by, case)
    reason = _text(reason, "reason", max_len=300, line=True)
    with transaction.atomic():
        case = _locked(case)
        moved: Any = CASE.move(case, "end", fields={"reason": reason, "closed_at": now(), "next_check_at": None})
        _event(case, "end", by, reason, moved)
    return case


# --- referral -----------------------------------------------------------------------------------------------------


def case_refer(*, case: Case, by: User, unit: str, done: str) -> Referral:
    """Refer the case to the town's justice office, legal aid, a court, the police or the petition office, with
    what was done so far. The town's justice office is told."""
    _handle(by, case)
    unit = _choice(unit, Referral.Unit, "unit")
    done = _text(done, "done", max_len=1000)
    with transaction.atomic():
        case = _locked(case)
        moved: Any = CASE.move(case, "refer", fields={"next_check_at": None})
        r = Referral.objects.create(case=case, unit=unit, done=done, by=by, at=now())
        _event(case, "refer", by, r.get_unit_display(), moved)
        justice = Mediator.objects.filter(
            active=True, kind=Mediator.Kind.JUSTICE, path__in=path_prefixes(case.path)
        ).values_list("user_id", flat=True)
        _tell(
            list(justice),
            case,
            "mediation.referred",
            _("Dispute case %(code)s is referred: see what was done.") % _v(case),
        )
    return r


def referral_result(*, case: Case, by: User, settled: bool, result: str, level: str = "") -> Referral:
    """The receiving unit's result, recorded by the town's justice office or the case's mediation staff: settled
    there (the case is settled at the unit's level) or not (the case comes back to mediation, a new time limit)."""
    _handle(by, case)
    result = _text(result, "result", max_len=1000)
    level = _choice(level, Level, "level") if level else ""
    t = now()
    with transaction.atomic():
        case = _locked(case)
        r = case.referrals.filter(state=Referral.State.SENT).first()
        if case.state != Case.State.REFERRED or r is None:
            raise CASE.refusal(case.state, "result")
        REFERRAL.move(
            r,
            "result",
            "settled" if settled else "unsettled",
            fields={"result": result, "result_by": by, "result_at": t},
        )
        if settled:
            moved: Any = CASE.move(
                case, "settle",
                fields={"level": level or UNIT_LEVEL[r.unit], "settled_at": t, "closed_at": t, "reason": result[:300]},
            )  # fmt: skip
            _event(case, "settle", by, result, moved)
        else:
            again = _clock(t, setting("LIMIT_DAYS"))
            moved = CASE.move(case, "resume", fields=again, derive=lambda c: {"next_check_at": next_check(c)})
            _event(case, "resume", by, result, moved)
            _tell(
                _handlers(case), case, "mediation.resumed", _("Dispute case %(code)s came back unsettled.") % _v(case)
            )
    return r


# --- mediators ----------------------------------------------------------------------------------------------------


def mediator_register(*, by: User, user: User, node: Node, kind: str, name: str) -> Mediator:
    """Register someone with a login as a mediator of a village or a town (mediation.manage over it)."""
    from org.policy import may

    if not may(by, Cap.MEDIATION_MANAGE, node.path):
        raise NotFound(_("No such place in your area."), code="node.not_found")
    if node.level not in (NodeLevel.VILLAGE, NodeLevel.TOWN, NodeLevel.COUNTY):
        raise _invalid("node_id", _("Mediators are registered with a village, a town or the county."), "node.level")
    kind = _choice(kind, Mediator.Kind, "kind")
    name = _text(name, "name", max_len=40, line=True)
    try:
        with transaction.atomic():
            return Mediator.objects.create(user=user, node=node, path=node.path, kind=kind, name=name)
    except IntegrityError:
        raise Conflict(_("This person is already a mediator here."), code="mediator.exists") from None


def mediator_active(*, by: User, mediator: Mediator, active: bool) -> Mediator:
    from org.policy import may

    if not may(by, Cap.MEDIATION_MANAGE, mediator.path):
        raise NotFound(_("No such mediator in your area."), code="mediator.not_found")
    Mediator.objects.filter(pk=mediator.pk).update(active=active)
    mediator.active = active
    return mediator


# --- the worker ---------------------------------------------------------------------------------------------------

LEASE = dt.timedelta(seconds=60)


def handle_one() -> bool:
    """One step of `run_mediation`: a case whose time limit warns or runs out, else a follow-up visit that is due.
    Claimed by compare-and-set on the row (a lease on the case's next check; the follow-up's state), so several
    workers share the load and a worker killed anywhere leaves the work to the next."""
    return _case_step() or _follow_up_step()


def _case_step() -> bool:
    pk = claim_due(Case, LEASE)
    if pk is None:
        return False
    if pk:  # 0: another worker took it
        _act(pk)
    return True


@transaction.atomic
def _act(pk: int) -> None:
    case = Case.objects.select_for_update().select_related("node").get(pk=pk)
    t = now()
    changed: dict[str, Any] = {}
    if case.state == Case.State.MEDIATING and case.due_at is not None:
        if not case.overdue and case.due_at <= t:
            case.overdue = changed["overdue"] = True
            _event(case, "overdue", None, _("The time limit has passed."))
            ids = _handlers(case) + list(
                Mediator.objects.filter(active=True, path__in=path_prefixes(case.path)).values_list(
                    "user_id", flat=True
                )
            )
            _tell(ids, case, "mediation.overdue", _("Dispute case %(code)s is past its time limit.") % _v(case))
        elif not case.warned and case.warn_at is not None and case.warn_at <= t:
            case.warned = changed["warned"] = True
            _event(case, "warn", None, _("The time limit is near."))
            _tell(_handlers(case), case, "mediation.warn", _("Dispute case %(code)s is due soon.") % _v(case))
    changed["next_check_at"] = next_check(case)
    Case.objects.filter(pk=pk).update(**changed)


def _follow_up_step() -> bool:
    f = FollowUp.objects.filter(state=FollowUp.State.PLANNED, due_at__lte=now()).order_by("due_at", "id").first()
    if f is None:
        return False
    with transaction.atomic():
        try:
            FOLLOW_UP.move(f, "fire", fields={"fired_at": now()})
        except Conflict:
            return True  # another worker fired it, or it was recorded meanwhile
        case = Case.objects.select_related("node").get(pk=f.case_id)
        _event(case, "follow_up_due", None, _("Follow-up visit due (%(n)s days).") % {"n": f.after_days})
        _tell(_handlers(case), case, "mediation.follow_up", _("A follow-up visit of case %(code)s is due.") % _v(case))
    return True
