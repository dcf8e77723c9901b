"""Demo one-key call: residents of households tagged elderly-alone, disabled or seriously ill registered
with their default chains and a family contact, and a year of calls played through the services on a
replayed clock (most taken by the first responder within a minute, some escalated, a few pocket presses
taken back), the messages of the past marked as sent."""

from __future__ import annotations

import datetime as dt
import random

from django.db.models import F

from accounts.models import Role, RoleAssignment, User
from core.clock import SHANGHAI, frozen, now
from core.errors import ApiError
from notify.models import Message
from org.models import Household, Resident
from sos import services
from sos.models import Call, CareProfile

OUTCOMES = {
    Call.Kind.EMERGENCY: [
        "量了血压偏高，陪同到村卫生室，医生处理后好转",
        "老人在家摔倒，扶起检查无大碍，已通知家属",
        "突发胸闷，拨打120送往镇卫生院，家属已赶到",
        "血糖低，喂了糖水后缓解，留观半小时",
    ],
    Call.Kind.SERVICE: [
        "代买降压药两盒，已送到家",
        "陪同去镇卫生院复查，已送回家",
        "家里灯泡坏了，已换新",
        "水管接头漏水，已修好",
        "代缴电费，收据已交给老人",
    ],
}
FAMILY = ["儿子", "女儿", "侄子", "孙女"]


def _registrar(resident: Resident, grid_workers: dict[int, User], village_staff: dict[int, User]) -> User | None:
    grid_id = resident.household.grid_id
    if grid_id in grid_workers:
        return grid_workers[grid_id]
    parts = [int(x) for x in resident.path.strip("/").split("/")]
    return village_staff.get(parts[-2]) if len(parts) >= 2 else None


def seed_calls(*, count: int, seed: int = 1, profiles: int = 40, end: dt.datetime | None = None) -> int:
    """Register up to `profiles` residents and play `count` calls over the year before `end`."""
    rng = random.Random(seed)
    end = end or now()
    grid_workers = {
        a.node_id: a.user
        for a in RoleAssignment.objects.filter(role=Role.GRID_WORKER).select_related("user")
        if a.node_id is not None
    }
    village_staff = {
        a.node_id: a.user
        for a in RoleAssignment.objects.filter(role=Role.VILLAGE_STAFF).select_related("user")
        if a.node_id is not None
    }
    wanted = set(CareProfile.Reason.values)
    tagged = [pk for pk, tags in Household.objects.exclude(tags=[]).values_list("pk", "tags") if wanted & set(tags)]
    tagged = tagged[: profiles * 2]
    people = list(
        Resident.objects.filter(household_id__in=tagged)
        .select_related("household")
        .order_by("household_id", "birth_date")[:profiles]
    )
    demo = Resident.objects.filter(user__username="resident").select_related("household").first()
    if demo is not None and all(p.pk != demo.pk for p in people):
        people.insert(0, demo)
    made: list[tuple[CareProfile, User]] = []  # with who registered them
    with frozen(end - dt.timedelta(days=366)):
        for r in people:
            by = _registrar(r, grid_workers, village_staff)
            if by is None or CareProfile.objects.filter(resident=r).exists():
                continue
            tags = set(r.household.tags) & set(CareProfile.Reason.values)
            try:
                p = services.care_register(resident=r, by=by, reasons=sorted(tags) or ["elderly_alone"])
                services.contacts_set(
                    profile=p, by=by,
                    contacts=[{"name": r.name[0] + rng.choice("明华强丽军红"), "relation": rng.choice(FAMILY),
                               "phone": f"139{rng.randint(10_000_000, 99_999_999)}"}],
                )  # fmt: skip
            except ApiError:
                continue
            made.append((p, by))
    if not made:
        return 0
    done = 0
    for _ in range(count):
        p, registrar = rng.choice(made)
        age = 365 * (rng.random() ** 1.3)
        t = (
            (end - dt.timedelta(days=age))
            .astimezone(SHANGHAI)
            .replace(hour=rng.randint(6, 22), minute=rng.randint(0, 59))
        )
        if t >= end - dt.timedelta(hours=3):
            continue
        try:
            _one(rng, p, registrar, t)
            done += 1
        except ApiError:
            continue
    # What happened in the past was sent in the past: the outbox must not send a year of SMS at start.
    Message.objects.filter(kind__startswith="sos.", sent_at__isnull=True).update(sent_at=F("send_after"))
    return done


def _one(rng: random.Random, profile: CareProfile, registrar: User, t: dt.datetime) -> None:
    kind = Call.Kind.EMERGENCY if rng.random() < 0.3 else Call.Kind.SERVICE
    owner = profile.resident.user
    by, channel = (owner, Call.Channel.BUTTON) if owner else (registrar, Call.Channel.STAFF)
    with frozen(t):
        call = services.call_raise(profile=profile, kind=kind, channel=channel, by=by).call
    if rng.random() < 0.05:  # a pocket press, taken back at once
        with frozen(t + dt.timedelta(seconds=rng.randint(2, 8))):
            services.call_cancel(call=call, by=by if owner else registrar, note="误按，已电话确认")
        return
    chain = list(profile.chain.filter(user__isnull=False).select_related("user").order_by("position"))
    rung = 0
    ack_at = t + dt.timedelta(seconds=rng.randint(15, 55))
    while rung + 1 < len(chain) and rng.random() < 0.15:  # nobody answered in time: the next one is alerted
        due = Call.objects.get(pk=call.pk).escalate_at
        assert due is not None  # raised and not taken: it escalates
        with frozen(due):
            services.escalate_one()
        rung += 1
        ack_at = due + dt.timedelta(seconds=rng.randint(10, 50))
    responder = chain[rung].user if chain else registrar
    assert responder is not None  # the chain was read with its logins only
    call = Call.objects.select_related("profile__resident").get(pk=call.pk)
    with frozen(ack_at):
        services.call_acknowledge(call=call, by=responder)
    arrive = ack_at + dt.timedelta(minutes=rng.randint(4, 25))
    with frozen(ack_at + dt.timedelta(minutes=1)):
        services.call_depart(call=call, by=responder)
    with frozen(arrive):
        services.call_arrive(call=call, by=responder)
    spent = rng.randint(15, 90)
    with frozen(arrive + dt.timedelta(minutes=spent)):
        services.call_resolve(call=call, by=responder, outcome=rng.choice(OUTCOMES[kind]), minutes_spent=spent)
    if kind == Call.Kind.EMERGENCY and call.followup_at and call.followup_at < now():
        with frozen(call.followup_at + dt.timedelta(hours=rng.randint(0, 6))):
            services.call_follow_up(call=call, by=responder, note="血压平稳，精神尚好")
    Call.objects.filter(pk=call.pk).update(followup_reminded=True)
