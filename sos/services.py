"""Every write of one-key call: the care register, raising a call, escalation, handling.

Each change of a call is one transaction that moves its state with a compare-and-set, writes its
CallEvent (the record and the live feed) and queues its messages in the outbox: a crash at any point
leaves either all of it or none of it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypedDict

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import RoleAssignment, User, actor_label
from core import ratelimit
from core.clock import now
from core.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from core.memo import bump
from core.validators import validate_phone
from core.worker import skip_locked
from notify import webhooks
from notify.services import message_queue
from org.access import get_scope
from org.models import HouseholdLink, Level, Node, Resident, ServicePoint, path_ids
from org.policy import Cap, centre_ladder, holders, may_respond
from sos.models import Call, CallEvent, CareProfile, Contact, Responder
from sos.selectors import GATE_GENERATION, looks_after
from sos.states import FINAL_STATES, MACHINE, Action, State

if TYPE_CHECKING:
    from catalog.models import Category

MAX_CHAIN = 8
MAX_CONTACTS = 5


def setting(name: str) -> Any:
    return settings.GONGZHI["SOS"][name]


def _publish(call: Call, event_type: str) -> None:
    """Tell subscribed systems (notify.webhooks) in this transaction: the call's place and progress, never
    who called (no query at all when nobody subscribed)."""
    if not webhooks.wanted(event_type):
        return
    webhooks.publish(
        event_type,
        {
            "id": call.pk, "kind": call.kind, "channel": call.channel, "state": call.state, "stage": call.stage,
            "level": call.level, "node_id": path_ids(call.path)[-1] if call.path else None,
            "raised_at": call.raised_at, "acknowledged_at": call.acknowledged_at,  # ISO 8601 in the body
            "resolved_at": call.resolved_at, "cancelled_at": call.cancelled_at,
        },
        path=call.path,
    )  # fmt: skip


def _event(call: Call, action: str, by: User | None, *, from_state: str = "", to_state: str = "", note: str = "",
           to_users: list[int] | None = None, data: dict[str, Any] | None = None, at: dt.datetime | None = None,
           ) -> CallEvent:  # fmt: skip
    return CallEvent.objects.create(
        call=call, path=call.path, action=action, from_state=from_state, to_state=to_state, level=call.level,
        actor=by if getattr(by, "pk", None) else None, actor_label=actor_label(by), to_users=to_users or [],
        at=at or now(), note=note[:500], data=data or {},
    )  # fmt: skip


# --- the care register ------------------------------------------------------------------------------


def _check_staff(by: User, path: str) -> None:
    """Registering people and arranging who answers them is work for staff over their grid."""
    if not looks_after(by, path):
        raise NotFound(_("No such resident in your area."), code="resident.not_found")


def default_chain(resident: Resident) -> list[dict[str, Any]]:
    """The responders a resident gets unless staff arrange otherwise: the grid's workers, the party
    member linked to the household, the village's volunteers, then the village on duty."""
    grid = Node.objects.get(pk=resident.household.grid_id)
    village_id = path_ids(grid.path)[-2] if len(path_ids(grid.path)) >= 2 else None
    rungs: list[dict[str, Any]] = []
    seen: set[int] = set()

    def add(kind: str, user: User | None, name: str, phone: str) -> None:
        if user is not None and user.pk in seen:
            return
        if user is not None:
            seen.add(user.pk)
        rungs.append({"kind": kind, "user": user, "name": name[:40], "phone": phone})

    for a in RoleAssignment.objects.filter(holders(Cap.SOS_GRID), node=grid).select_related("user").order_by("id"):
        add(Responder.Kind.GRID_WORKER, a.user, actor_label(a.user), a.user.work_phone)
    link = HouseholdLink.objects.filter(household_id=resident.household_id).select_related("member__resident").first()
    if link is not None:
        member = link.member.resident
        add(Responder.Kind.PARTY_MEMBER, member.user if member.user_id else None, member.name, member.phone)
    if village_id is not None:
        for a in (
            RoleAssignment.objects.filter(holders(Cap.SOS_VOLUNTEER), node_id=village_id)
            .select_related("user")
            .order_by("id")[:2]
        ):
            add(Responder.Kind.VOLUNTEER, a.user, actor_label(a.user), a.user.work_phone)
        duty = ServicePoint.objects.filter(node_id=village_id).exclude(phone="").values_list("phone", flat=True).first()
        staff = (
            RoleAssignment.objects.filter(holders(Cap.SOS_VILLAGE), node_id=village_id)
            .select_related("user")
            .order_by("id")
            .first()
        )
        if staff is not None or duty:
            add(Responder.Kind.VILLAGE_DUTY, staff.user if staff else None, _("Village on duty"), duty or "")
    return rungs[:MAX_CHAIN]


@transaction.atomic
def care_register(
    *, resident: Resident, by: User, reasons: Sequence[str] = (), needs: str = "", device_id: str = ""
) -> CareProfile:
    """Register a resident for one-key call, with the default responder chain."""
    _check_staff(by, resident.path)
    unknown = set(reasons) - set(CareProfile.Reason.values)
    if unknown:
        raise ValidationFailed(fields={"reasons": [_("Unknown reason.")]})
    if CareProfile.objects.filter(resident=resident).exists():
        raise Conflict(_("This resident is already registered."), code="sos.already_registered")
    if device_id and CareProfile.objects.filter(device_id=device_id).exists():
        raise Conflict(_("This call device belongs to someone else."), code="sos.device_taken")
    profile = CareProfile.objects.create(
        resident=resident, path=resident.path, reasons=sorted(set(reasons)), needs=needs, device_id=device_id
    )
    for i, rung in enumerate(default_chain(resident)):
        Responder.objects.create(profile=profile, position=i, **rung)
    if resident.user_id is not None:  # 长辈版 (accounts.mode) from now on, unless they have chosen already
        User.objects.filter(pk=resident.user_id, elder_mode__isnull=True).update(elder_mode=True)
    bump(GATE_GENERATION)  # the chain's people see this resident's calls from now on, live screens too
    return profile


class Rung(TypedDict, total=False):
    """One responder of a chain, as chain_set takes it: a login (`user`, or its id as a form or the API
    names it), or a name with a phone (kind: Responder.Kind)."""

    user: User | None
    user_id: int | None
    name: str
    phone: str
    kind: str


def chain_candidates(*, profile: CareProfile) -> list[User]:
    """Who may be on a resident's chain, and so see their calls: active users holding a role over the
    resident's grid or a place above it that may answer one-key calls (org.policy.may_respond: the
    place's staff, party members and volunteers; not department staff, not residents). The page offers
    exactly these; chain_set, and so the page and the API, takes no one else."""
    return sorted(
        {
            a.user
            for a in RoleAssignment.objects.filter(node_id__in=path_ids(profile.path), user__is_active=True)
            .select_related("user")
            .order_by("id")
            if may_respond(a.role)
        },
        key=lambda u: u.pk,
    )


@transaction.atomic
def chain_set(*, profile: CareProfile, rungs: list[Rung], by: User) -> list[Responder]:
    """Replace the responder chain, in order. Each rung: a user (who sees the call on their screen) among
    chain_candidates, or a name with a phone (told by SMS). A login that is not a candidate, or no login
    at all, is refused in the same words: ids cannot be probed."""
    _check_staff(by, profile.path)
    if not rungs:
        raise ValidationFailed(fields={"chain": [_("Someone must answer this resident's calls.")]})
    if len(rungs) > MAX_CHAIN:
        raise ValidationFailed(fields={"chain": [_("At most %(n)d responders.") % {"n": MAX_CHAIN}]})
    candidates = {u.pk: u for u in chain_candidates(profile=profile)}
    users: list[User | None] = []
    for rung in rungs:
        given = rung.get("user")
        user_id = given.pk if given is not None else rung.get("user_id")
        if user_id is not None and user_id not in candidates:
            msg = _("Choose responders among the staff, party members and volunteers of this resident's place.")
            raise ValidationFailed(fields={"chain": [msg]})
        users.append(candidates[user_id] if user_id is not None else None)
    made = []
    profile.chain.all().delete()
    for i, (rung, user) in enumerate(zip(rungs, users, strict=True)):
        phone = rung.get("phone") or ""
        if not phone and user:
            phone = getattr(user, "work_phone", "")
        if user is None and not phone:
            raise ValidationFailed(fields={"chain": [_("Each responder needs a login or a phone number.")]})
        if phone:
            validate_phone(phone)
        if rung.get("kind", Responder.Kind.OTHER) not in Responder.Kind.values:
            raise ValidationFailed(fields={"chain": [_("Unknown kind of responder.")]})
        made.append(
            Responder.objects.create(
                profile=profile,
                position=i,
                kind=rung.get("kind", Responder.Kind.OTHER),
                user=user,
                name=(rung.get("name") or (actor_label(user) if user else ""))[:40],
                phone=phone,
            )
        )
    bump(GATE_GENERATION)  # whoever left the chain stops seeing the calls, open live streams too
    return made


@transaction.atomic
def contacts_set(*, profile: CareProfile, contacts: list[dict[str, str]], by: User) -> list[Contact]:
    _check_staff(by, profile.path)
    if len(contacts) > MAX_CONTACTS:
        raise ValidationFailed(fields={"contacts": [_("At most %(n)d contacts.") % {"n": MAX_CONTACTS}]})
    for c in contacts:
        if not (c.get("name") or "").strip() or not c.get("phone"):
            raise ValidationFailed(fields={"contacts": [_("Each contact needs a name and a phone number.")]})
        validate_phone(c["phone"])
    profile.contacts.all().delete()
    return [
        Contact.objects.create(
            profile=profile, name=c["name"][:40], phone=c["phone"], relation=c.get("relation", ""), sort=i
        )
        for i, c in enumerate(contacts)
    ]


# --- raising a call -----------------------------------------------------------------------------------


@dataclass
class Raised:
    call: Call
    created: bool


def _may_raise_for(by: User, profile: CareProfile) -> bool:
    if by is None:
        return False
    return profile.resident.user_id == by.pk or looks_after(by, profile.path)


def call_raise(
    *, profile: CareProfile, kind: str, channel: str, by: User, note: str = "", idempotency_key: str = "",
    device_id: str = "",
) -> Raised:  # fmt: skip
    """Raise a call: the first responder is alerted in the same transaction. A retried press with the
    same key (per device, or per user) returns the first call."""
    if kind not in Call.Kind.values:
        raise ValidationFailed(fields={"kind": [_("Unknown kind of call.")]})
    if channel not in Call.Channel.values:
        raise ValidationFailed(fields={"channel": [_("Unknown channel.")]})
    if not profile.is_active:
        raise Conflict(_("This resident is no longer registered for one-key call."), code="sos.not_registered")
    if not _may_raise_for(by, profile):
        raise NotFound(_("No such resident in your area."), code="resident.not_found")
    key_owner = f"d{device_id}" if device_id else f"u{by.pk}"
    # Each call texts responders and family: a press repeated twenty times in a second is one too many
    # (core.ratelimit). A retried press with its key (answered with the first call below) is not counted.
    retry = bool(idempotency_key) and Call.objects.filter(key_owner=key_owner, idempotency_key=idempotency_key).exists()
    if not retry:
        ratelimit.hit("sos", "staff" if get_scope(by).is_staff else "user", by.pk)
    try:
        with transaction.atomic():
            return Raised(_raise(profile, kind, channel, by, note, idempotency_key, key_owner), True)
    except IntegrityError:
        if not idempotency_key:
            raise
        existing = Call.objects.filter(key_owner=key_owner, idempotency_key=idempotency_key).first()
        if existing is None:
            raise
        return Raised(existing, False)


def _raise(profile: CareProfile, kind: str, channel: str, by: User, note: str, key: str, key_owner: str) -> Call:
    t = now()
    call = Call.objects.create(
        profile=profile, resident_id=profile.resident_id, path=profile.path, kind=kind, channel=channel,
        note=note[:500], raised_by=by, idempotency_key=key, key_owner=key_owner, raised_at=t,
        stage=Call.Stage.CHAIN, level=0,
    )  # fmt: skip
    _event(call, Action.RAISE, by, to_state=State.RAISED, note=note, at=t, data={"kind": kind, "channel": channel})
    _alert_rung(call, t)
    _tell_family(call)
    _publish(call, "sos.raised")
    return call


def _tell_family(call: Call) -> None:
    rule = setting("NOTIFY_FAMILY")
    if rule == "none" or (rule == "emergency" and call.kind != Call.Kind.EMERGENCY):
        return
    name = call.profile.resident.name
    for c in call.profile.contacts.all():
        message_queue(
            phone=c.phone, kind="sos.family", sms=True,
            text=_("%(name)s pressed the one-key call (%(kind)s). Responders have been alerted.")
            % {"name": name, "kind": Call.Kind(call.kind).label},
        )  # fmt: skip


# --- escalation ---------------------------------------------------------------------------------------


def _ack_seconds(call: Call) -> int:
    return setting("ACK_SECONDS")[call.kind]


def _village_users(call: Call) -> list[User]:
    ids = path_ids(call.path)
    village = Node.objects.filter(pk__in=ids, level=Level.VILLAGE).first()
    if village is None:
        return []
    return [
        a.user
        for a in RoleAssignment.objects.filter(holders(Cap.SOS_VILLAGE), node=village).select_related("user")
        if a.user.is_active
    ]


def _centre_users(call: Call) -> list[User]:
    """Dispatchers (the command centre) whose part of the tree holds the call; leaders if none."""
    ids = path_ids(call.path)
    for group in centre_ladder():
        users = [
            a.user
            for a in RoleAssignment.objects.filter(group, node_id__in=ids).select_related("user")
            if a.user.is_active
        ]
        if users:
            return users
    return []


def _alert(call: Call, users: list[User], phones: list[str], at: dt.datetime, who: str, **data: Any) -> None:
    text = _("One-key call: %(name)s needs help (%(kind)s). Please acknowledge.") % {
        "name": call.profile.resident.name,
        "kind": Call.Kind(call.kind).label,
    }
    link = f"/sos/calls/{call.pk}/"
    sms_sent: set[str] = set()
    for u in users:
        phone = u.work_phone
        message_queue(user=u, phone=phone, kind="sos.alert", text=text, link=link, sms=bool(phone))
        sms_sent.add(phone)
    for phone in phones:
        if phone and phone not in sms_sent:
            message_queue(phone=phone, kind="sos.alert", text=text, sms=True)
    _event(
        call, Action.ALERT, None, at=at, to_users=[u.pk for u in users],
        note=_("Alerted: %(who)s") % {"who": who}, data={"stage": call.stage, "phones": len(phones), **data},
    )  # fmt: skip


def _alert_rung(call: Call, at: dt.datetime, **data: Any) -> None:
    """Alert whoever the call's (stage, level) names, and set when to go on if nobody acknowledges.
    `data` goes on the alert's event (the worker adds how late it fired)."""
    chain = list(call.profile.chain.select_related("user").order_by("position"))
    if call.stage == Call.Stage.CHAIN and call.level < len(chain):
        rung = chain[call.level]
        users = [rung.user] if rung.user is not None and rung.user.is_active else []
        _alert(call, users, [rung.phone] if not users else [], at, f"{rung.get_kind_display()} {rung.name}", **data)
        call.escalate_at = at + dt.timedelta(seconds=_ack_seconds(call))
    elif call.stage in (Call.Stage.CHAIN, Call.Stage.VILLAGE) and (users := _village_users(call)):
        call.stage = Call.Stage.VILLAGE
        _alert(call, users, [], at, _("the village"), **data)
        call.escalate_at = at + dt.timedelta(seconds=setting("VILLAGE_SECONDS")[call.kind])
    else:
        call.stage = Call.Stage.CENTRE
        _alert(call, _centre_users(call), [], at, _("the command centre"), **data)
        call.escalate_at = None  # the top: the board shows it until someone takes it
    Call.objects.filter(pk=call.pk).update(level=call.level, stage=call.stage, escalate_at=call.escalate_at)


def escalate_one() -> bool:
    """Fire the most overdue escalation; returns whether there was one. The call is read and its next rung
    alerted in one transaction, the row locked — FOR UPDATE SKIP LOCKED on PostgreSQL (core.worker.skip_locked),
    so a second worker takes the next due call instead of waiting on this one: two workers, or a worker
    restarted after a crash, fire each rung exactly once."""
    t = now()
    with transaction.atomic():
        due = Call.objects.filter(escalate_at__lte=t).order_by("escalate_at", "id")
        call = skip_locked(due, of=("self",)).select_related("profile__resident").first()
        if call is None:
            return False
        if call.state != State.RAISED:
            Call.objects.filter(pk=call.pk).update(escalate_at=None)
            return True
        assert call.escalate_at is not None  # matched escalate_at <= t
        late_ms = int((t - call.escalate_at).total_seconds() * 1000)
        call.level += 1
        if call.stage == Call.Stage.VILLAGE:
            call.stage = Call.Stage.CENTRE
        _alert_rung(call, t, late_ms=late_ms)
        _publish(call, "sos.escalated")
    return True


def followup_one() -> bool:
    """Remind the responder of the next day's visit after an emergency; returns whether there was one."""
    t = now()
    with transaction.atomic():
        call = (
            Call.objects.select_for_update(of=("self",))
            .filter(followup_at__lte=t, followup_reminded=False)
            .select_related("profile__resident", "responder")
            .order_by("followup_at", "id")
            .first()
        )
        if call is None:
            return False
        if not Call.objects.filter(pk=call.pk, followup_reminded=False).update(followup_reminded=True):
            return True
        if call.followed_up_at is None and call.responder is not None:
            name = call.profile.resident.name
            message_queue(
                user=call.responder, kind="sos.followup", link=f"/sos/calls/{call.pk}/",
                text=_("Please visit %(name)s today after yesterday's emergency call.") % {"name": name},
            )  # fmt: skip
            _event(call, Action.FOLLOW_UP_DUE, None, at=t)
    return True


def handle_one() -> bool:
    return escalate_one() or followup_one()


# --- handling -------------------------------------------------------------------------------------------


def _taken(call: Call) -> Conflict:
    """What a responder hears who is too late: who has the call, since when."""
    return Conflict(
        _("%(who)s took this call at %(at)s.")
        % {"who": actor_label(call.responder), "at": timezone.localtime(call.acknowledged_at).strftime("%H:%M:%S")},
        code="sos.already_acknowledged",
    )


def _move(call: Call, action: str, by: User, *, note: str = "", **fields: Any) -> CallEvent:
    if action == Action.ACKNOWLEDGE and call.responder_id and not MACHINE.can(action, call.state):
        raise _taken(call)
    t = now()

    def lost(c: Call) -> Conflict | None:
        fresh = Call.objects.select_related("responder").get(pk=c.pk)
        return _taken(fresh) if action == Action.ACKNOWLEDGE and fresh.responder_id else None

    moved = MACHINE.move(
        call,
        action,
        fields=fields,
        lost=lost,
        record=lambda frm, to: _event(call, action, by, from_state=frm, to_state=to, note=note, at=t),
    )
    assert moved.event is not None
    if moved.to_state in (State.RESOLVED, State.CANCELLED):
        _publish(call, "sos.closed")
    return moved.event


def _may_respond(by: User | None, call: Call) -> bool:
    if by is None or by.pk == call.profile.resident.user_id:
        return False
    return looks_after(by, call.path) or Responder.objects.filter(profile_id=call.profile_id, user=by).exists()


@transaction.atomic
def call_acknowledge(*, call: Call, by: User) -> Call:
    """Take the call: escalation stops, the caller and the others alerted are told who is coming."""
    if not _may_respond(by, call):
        raise PermissionDenied(_("You are not among this resident's responders."))
    t = now()
    _move(call, Action.ACKNOWLEDGE, by, responder=by, acknowledged_at=t, escalate_at=None)
    told = set(
        uid
        for users in CallEvent.objects.filter(call=call, action=Action.ALERT).values_list("to_users", flat=True)
        for uid in users
    ) - {by.pk}
    for u in User.objects.filter(pk__in=told):
        message_queue(
            user=u, kind="sos.taken", link=f"/sos/calls/{call.pk}/",
            text=_("%(who)s has taken the call of %(name)s.")
            % {"who": actor_label(by), "name": call.profile.resident.name},
        )  # fmt: skip
    owner = call.profile.resident
    if owner.user_id:
        message_queue(
            user=User.objects.get(pk=owner.user_id), kind="sos.coming",
            text=_("%(who)s has your call and is coming.") % {"who": actor_label(by)},
        )  # fmt: skip
    return call


def _handles(by: User | None, call: Call) -> bool:
    """The responder who took the call, or staff over its area."""
    return by is not None and (call.responder_id == by.pk or looks_after(by, call.path))


def _check_owner(call: Call, by: User | None) -> None:
    if by is None:
        raise PermissionDenied()
    if not _handles(by, call):
        raise PermissionDenied(_("Only the responder who took this call may do that."))


def call_actions(user: User, call: Call) -> list[str]:
    """What `user` may do with the call now: the lifecycle's moves the services would accept from this
    user, then the steps that change no state (a follow-up visit, a work order). Pages show exactly these."""
    is_caller = user.pk in (call.profile.resident.user_id, call.raised_by_id)
    staff = looks_after(user, call.path)
    handles = _handles(user, call)

    def may(action: str) -> bool:
        if action == Action.ACKNOWLEDGE:
            return _may_respond(user, call)
        if action == Action.CANCEL:
            late = now() - call.raised_at > dt.timedelta(seconds=setting("CANCEL_SECONDS"))
            return staff or (is_caller and not late)
        return handles

    out = MACHINE.allowed(call, may)
    if handles and call.state == State.RESOLVED and call.kind == Call.Kind.EMERGENCY and not call.followed_up_at:
        out.append(Action.FOLLOW_UP)
    if (
        handles
        and call.kind == Call.Kind.SERVICE
        and not call.workorder_id
        and call.state
        in MACHINE.states
        - {
            State.RAISED,
            State.CANCELLED,
        }
    ):
        out.append(Action.TO_WORKORDER)
    return [str(a) for a in out]


@transaction.atomic
def call_depart(*, call: Call, by: User) -> Call:
    _check_owner(call, by)
    _move(call, Action.DEPART, by, departed_at=now())
    return call


@transaction.atomic
def call_arrive(*, call: Call, by: User) -> Call:
    _check_owner(call, by)
    _move(call, Action.ARRIVE, by, arrived_at=now())
    return call


def _next_day_at(t: dt.datetime, hhmm: str) -> dt.datetime:
    local = timezone.localtime(t)
    h, m = (int(x) for x in hhmm.split(":"))
    return (local + dt.timedelta(days=1)).replace(hour=h, minute=m, second=0, microsecond=0)


@transaction.atomic
def call_resolve(*, call: Call, by: User, outcome: str, minutes_spent: int | None = None) -> Call:
    _check_owner(call, by)
    outcome = (outcome or "").strip()
    if len(outcome) < 2:
        raise ValidationFailed(fields={"outcome": [_("Please say what was done.")]})
    if minutes_spent is not None and not 0 <= minutes_spent <= 24 * 60:
        raise ValidationFailed(fields={"minutes_spent": [_("Between 0 and 1440 minutes.")]})
    t = now()
    followup = _next_day_at(t, setting("FOLLOWUP_AT")) if call.kind == Call.Kind.EMERGENCY else None
    _move(
        call, Action.RESOLVE, by, note=outcome, resolved_at=t, outcome=outcome[:1000], minutes_spent=minutes_spent,
        followup_at=followup,
    )  # fmt: skip
    return call


@transaction.atomic
def call_cancel(*, call: Call, by: User, note: str = "") -> Call:
    """The caller takes back a press within CANCEL_SECONDS; staff over the area may cancel a raised
    call at any time (they called back and all is well), saying why."""
    if by is None:
        raise PermissionDenied()
    is_caller = by.pk in (call.profile.resident.user_id, call.raised_by_id)
    is_staff = looks_after(by, call.path)
    if is_staff and not is_caller and len((note or "").strip()) < 2:
        raise ValidationFailed(fields={"note": [_("Please say why the call is cancelled.")]})
    if not is_staff:
        if not is_caller:
            raise PermissionDenied()
        if now() - call.raised_at > dt.timedelta(seconds=setting("CANCEL_SECONDS")):
            raise Conflict(
                _("Help is already on its way: a call can only be taken back in the first seconds."),
                code="sos.cancel_too_late",
            )
    _move(call, Action.CANCEL, by, note=note, cancelled_at=now(), escalate_at=None)
    return call


@transaction.atomic
def call_follow_up(*, call: Call, by: User, note: str) -> Call:
    _check_owner(call, by)
    if call.state != State.RESOLVED or call.kind != Call.Kind.EMERGENCY:
        raise Conflict(_("Only a resolved emergency gets a follow-up visit."), code="sos.transition_not_allowed")
    if call.followed_up_at is not None:
        raise Conflict(_("The follow-up visit is already recorded."), code="sos.already_followed_up")
    if len((note or "").strip()) < 2:
        raise ValidationFailed(fields={"note": [_("Please say how the resident is.")]})
    t = now()
    Call.objects.filter(pk=call.pk).update(followed_up_at=t, followup_reminded=True)
    call.followed_up_at = t
    _event(call, Action.FOLLOW_UP, by, note=note, at=t)
    return call


@transaction.atomic
def call_to_workorder(*, call: Call, by: User, text: str, category: Category) -> Call:
    """A service need that takes more than a visit becomes a work order of the closed loop, owned by
    the resident and filed by the responder (代办)."""
    from workorders.models import Channel, Kind
    from workorders.services import workorder_submit

    _check_owner(call, by)
    if call.kind != Call.Kind.SERVICE:
        raise Conflict(_("Only a service need becomes a work order."), code="sos.not_service")
    if call.workorder_id:
        raise Conflict(_("This call already has a work order."), code="sos.has_workorder")
    if call.state in FINAL_STATES - {State.RESOLVED}:
        raise Conflict(_("This call was cancelled."), code="sos.transition_not_allowed")
    resident = Resident.objects.select_related("household").get(pk=call.resident_id)
    order = workorder_submit(
        by=by, kind=Kind.HELP, category=category, text=text, channel=Channel.PROXY, owner=resident,
        grid=Node.objects.get(pk=resident.household.grid_id), idempotency_key=f"sos-{call.pk}",
    ).order  # fmt: skip
    Call.objects.filter(pk=call.pk).update(workorder=order)
    call.workorder = order
    _event(call, Action.TO_WORKORDER, by, note=order.tracking_code, data={"workorder": order.pk})
    return call
