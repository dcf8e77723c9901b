"""Household work for the demo: the past three months of party members' visits to the households linked to
them (most visited each month, some missed, a few needs found on each round: settled on the spot, left
open, or — for the latest visits — relayed as work orders through the services), a village with a visit
plan of its own, and a request from the demo resident to their member (双联双找).

Visits are written in bulk (a county has tens of thousands); what makes a work order goes through
partylink.services, as a member's tap would."""

from __future__ import annotations

import datetime as dt
import random
import time
from dataclasses import dataclass
from decimal import Decimal

from accounts.models import Role, RoleAssignment, User
from core.clock import SHANGHAI, frozen, now
from core.errors import ApiError
from org.models import HouseholdLink, Level, Node, PartyMember
from partylink import services
from partylink.models import Need, Visit
from partylink.selectors import period_bounds

NEEDS = {
    Need.Kind.NEED: ["想申请高龄津贴，不知道要带什么材料", "孩子上学的补助怎么申请", "想办残疾证", "医保卡丢了要补办",
                     "想找点零工做", "家里老人要人帮忙买药"],
    Need.Kind.PROBLEM: ["门口路灯坏了好几天", "屋后排水沟堵了", "自来水压力太小", "村道上有个大坑"],
    Need.Kind.RISK: ["老房子墙体开裂", "电线老化裸露", "独居老人最近身体不好", "液化气罐放在灶边"],
}  # fmt: skip
NOTES = ["一切正常", "身体尚好", "家中有困难，已记录", "宣传了政策"]
SETTLED = ["当场讲清了办理流程和材料", "帮忙在手机上预约了", "已联系村医上门", "帮忙买好送到家"]


@dataclass
class Summary:
    visits: int = 0
    needs: int = 0
    orders: int = 0
    projects: int = 0
    seconds: float = 0.0


def seed_party(*, seed: int = 1, end: dt.datetime | None = None, cap: int = 20000) -> Summary:
    """Three months of visits to up to `cap` linked households."""
    started = time.perf_counter()
    rng = random.Random(seed)
    end = (end or now()).astimezone(SHANGHAI)
    summary = Summary()
    grid_workers = {
        ra.node_id: ra.user_id
        for ra in RoleAssignment.objects.filter(role=Role.GRID_WORKER).order_by("id")
        if ra.node_id
    }
    fallback = User.objects.filter(is_superuser=True).order_by("id").values_list("id", flat=True).first()
    links = list(HouseholdLink.objects.select_related("member__resident", "household").order_by("id")[:cap])
    months = []
    start, _ = period_bounds("month", end)
    for back in range(3, -1, -1):
        s = start
        for _ in range(back):
            s, _e = period_bounds("month", s - dt.timedelta(days=1))
        months.append((s, min(period_bounds("month", s)[1], end)))
    visits: list[Visit] = []
    for link in links:
        h = link.household
        visitor = link.member.resident.user_id or grid_workers.get(h.grid_id) or fallback
        if visitor is None:
            continue
        for s, e in months:
            current = e == end
            if rng.random() > (0.45 if current else 0.8):
                continue  # missed this month (or not yet, this month)
            at = s + (e - s) * rng.random()
            visits.append(Visit(household=h, path=h.path, visitor_id=visitor, member=link.member, visited_at=at,
                                met="户主", notes=rng.choice(NOTES),
                                created_at=at))  # fmt: skip
    Visit.objects.bulk_create(visits, batch_size=2000)
    summary.visits = len(visits)
    needs: list[Need] = []
    for v in visits:
        if rng.random() > 0.25:
            continue
        kind = rng.choice(list(NEEDS))
        settled = rng.random() < 0.6
        needs.append(Need(visit=v, household=v.household, path=v.path, kind=kind, text=rng.choice(NEEDS[kind]),
                          raised_by_id=v.visitor_id, created_at=v.visited_at,
                          state=Need.State.SETTLED if settled else Need.State.OPEN,
                          outcome=rng.choice(SETTLED) if settled else "",
                          closed_by_id=v.visitor_id if settled else None,
                          closed_at=v.visited_at if settled else None))  # fmt: skip
    Need.objects.bulk_create(needs, batch_size=2000)
    summary.needs = len(needs)
    # The latest open needs become work orders, as the visitor's tap would make them.
    recent = [n for n in needs if n.state == Need.State.OPEN and n.created_at > end - dt.timedelta(days=6)]
    for n in recent[:20]:
        by = User.objects.get(pk=n.raised_by_id)
        with frozen(n.created_at + dt.timedelta(minutes=5)):
            try:
                services.need_relay(need=Need.objects.select_related("household__grid").get(pk=n.pk), by=by)
                summary.orders += 1
            except ApiError:  # a demo visitor who may not file there: the need stays open
                continue
    # The demo logins' village visits twice a month; the demo resident has asked their member for help.
    party = User.objects.filter(username="party").first()
    if party is not None:
        village = Node.objects.filter(level=Level.VILLAGE, party_members__resident__user=party).first()
        if village is not None:
            services.plan_set(village=village, visits=2, period="month", by=_clerk(village) or party)
    summary.projects = _projects(rng, end)
    resident = User.objects.filter(username="resident").first()
    if resident is not None:
        try:
            services.need_ask(by=resident, text="家里的灯坏了，我够不着，能帮忙看看吗？")
            summary.needs += 1
        except ApiError:  # their household has no member in this demo
            pass
    summary.seconds = time.perf_counter() - started
    return summary


def _clerk(village: Node) -> User | None:
    ra = RoleAssignment.objects.filter(role=Role.VILLAGE_STAFF, node=village).select_related("user").first()
    return ra.user if ra else None


PROJECTS = [
    ("修缮村口便民桥", "桥面防滑、加装护栏，方便老人和孩子出行", "8000"),
    ("留守老人爱心午餐", "每周三次为独居和留守老人送午餐", "12000"),
    ("村道路灯补装", "补装主村道 20 盏太阳能路灯", "15000"),
    ("农家书屋整理开放", "整理图书、周末开放，组织读书会", "2000"),
]


def _projects(rng: random.Random, end: dt.datetime) -> int:
    """In the demo logins' village and a few others: one project done and rated, one under way, one proposed."""
    from partylink.models import Project

    made = 0
    with_login = list(
        PartyMember.objects.filter(resident__user__isnull=False).select_related("resident__user", "branch")
    )
    others = list(PartyMember.objects.filter(resident__user__isnull=True).select_related("resident", "branch")[:3])
    members = (with_login + others)[:3]
    for i, m in enumerate(members[:3]):
        village = m.branch if m.branch.level == Level.VILLAGE else m.branch.parent
        clerk = (_clerk(village) if village is not None else None) or User.objects.filter(is_superuser=True).first()
        by = m.resident.user or clerk
        if village is None or clerk is None or by is None:
            continue
        title, goals, budget = PROJECTS[i % len(PROJECTS)]
        with frozen(end - dt.timedelta(days=60)):
            try:
                p = services.project_propose(by=by, village=village, title=title, goals=goals, budget=Decimal(budget),
                                             lead=m if by == clerk else None)  # fmt: skip
            except ApiError:
                continue
        made += 1
        if i == 2:
            continue  # still waiting for the village
        with frozen(end - dt.timedelta(days=55)):
            services.project_decide(project=p, by=clerk, approve=True, note="村两委会议研究同意")
        for k, (text, pct) in enumerate((("材料采购完成", 40), ("施工过半", 70))):
            with frozen(end - dt.timedelta(days=40 - 10 * k)):
                services.project_update(project=Project.objects.get(pk=p.pk), by=clerk, text=text, progress=pct)
        if i == 0:
            with frozen(end - dt.timedelta(days=10)):
                services.project_complete(project=Project.objects.get(pk=p.pk), by=clerk)
            raters = User.objects.filter(resident__path__startswith=village.path).order_by("id")[:6]
            for u in raters:
                services.project_rate(project=Project.objects.get(pk=p.pk), by=u, stars=rng.choice((4, 5, 5)))
    return made
