"""Notices and the week's events for the demo: a county notice for everyone, a town notice for its staff, the
demo village's notices for residents and party members (one pinned), and events at its service points over
the coming week (送戏、送医、送教, a lecture), with a few residents signed up — all through the services."""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass

from accounts.models import Role, RoleAssignment, User
from core.clock import SHANGHAI, frozen, now
from core.errors import ApiError
from notices import services
from notices.models import Event
from org.models import Level, Node, ServicePoint

EVENTS = [
    (Event.Kind.CLINIC, "义诊进村：量血压、测血糖", "卫生室", 40),
    (Event.Kind.SHOW, "送戏下乡：楚剧专场", "村文化广场", 200),
    (Event.Kind.TEACHING, "长辈智能手机课堂", "党群服务中心", 20),
    (Event.Kind.LECTURE, "防范电信诈骗讲座", "村委会会议室", 60),
]


@dataclass
class Summary:
    notices: int = 0
    events: int = 0
    signups: int = 0


def seed_notices(*, seed: int = 1, end: dt.datetime | None = None) -> Summary:
    rng = random.Random(seed)
    summary = Summary()
    at = (end or now()).astimezone(SHANGHAI)
    admin = User.objects.filter(is_superuser=True).order_by("id").first()
    county = Node.objects.filter(level=Level.COUNTY).order_by("id").first()
    village_ra = RoleAssignment.objects.filter(role=Role.VILLAGE_STAFF, user__username="village").first()
    town_ra = RoleAssignment.objects.filter(role=Role.TOWN_STAFF, user__username="town").first()
    if admin is None or county is None or village_ra is None or village_ra.node is None:
        return summary
    village, clerk = village_ra.node, village_ra.user
    with frozen(at - dt.timedelta(days=3)):
        services.notice_create(
            by=admin, node=county, title="关于做好今冬明春森林防火工作的通知",
            body="进入森林防火期，严禁野外用火。发现火情请立即拨打 12119。", to_residents=True, to_staff=True,
        )  # fmt: skip
        summary.notices += 1
        if town_ra is not None and town_ra.node is not None:
            services.notice_create(
                by=town_ra.user, node=town_ra.node, title="本周五下午召开网格员工作例会",
                body="请各村网格员周五 14:30 到镇政府三楼会议室参会，带好本月走访台账。", to_residents=False,
                to_staff=True,
            )  # fmt: skip
            summary.notices += 1
    with frozen(at - dt.timedelta(days=1)):
        services.notice_create(
            by=clerk, node=village, title="村级事务公开：本季度财务收支", pinned=True,
            body="本季度村集体收入、支出明细已在村务公开栏张贴，欢迎村民监督。", to_residents=True, to_party=True,
        )  # fmt: skip
        services.notice_create(
            by=clerk, node=village, title="党员冬训通知", body="全体党员本周日上午 9 点到党群服务中心参加冬训。",
            to_residents=False, to_party=True,
        )  # fmt: skip
        summary.notices += 2
    points = list(ServicePoint.objects.filter(node=village).order_by("id"))
    residents = list(User.objects.filter(resident__path__startswith=village.path).order_by("id")[:30])
    start_day = at.date() + dt.timedelta(days=1)
    with frozen(at):
        for i, (kind, title, place, capacity) in enumerate(EVENTS):
            day = start_day + dt.timedelta(days=i + 1)
            starts = dt.datetime.combine(day, dt.time(9 if i % 2 == 0 else 14, 30), tzinfo=SHANGHAI)
            point = points[0] if points and kind == Event.Kind.TEACHING else None
            e = services.event_publish(
                by=clerk, node=village, kind=kind, title=title, place=place if point is None else "",
                starts_at=starts, ends_at=starts + dt.timedelta(hours=2), capacity=capacity, point=point,
            )  # fmt: skip
            summary.events += 1
            for u in rng.sample(residents, min(len(residents), rng.randint(2, 8))):
                try:
                    services.event_attend(event=Event.objects.get(pk=e.pk), by=u)
                    summary.signups += 1
                except ApiError:
                    continue  # full, or someone the demo has living elsewhere
    return summary
