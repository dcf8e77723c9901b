"""Disputes and mediation for the demo, in the demo town, all through the services: the demo village's clerk
(`village`) sits on its mediation committee and the town's clerk (`town`) at the justice office; six months of
disputes found on patrols (by `grid`), brought by residents and turned from work orders, most settled in the grid or
the village, some at the town, some referred to a court or the police; open cases being mediated (one near its
time limit, one past it), one agreement whose first follow-up visit is due, and one red flag the town was told of."""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass

from accounts.models import Role, RoleAssignment, User
from core.clock import SHANGHAI, frozen, now
from mediation import services
from mediation.models import Case, Mediator
from mediation.services import PartyIn
from org.models import Level, Node, Resident

DISPUTES = [
    ("neighbour", "邻里排水沟纠纷", "两家共用的排水沟被一方填平，雨天积水倒灌另一家院子，双方多次争吵。"),
    ("land", "宅基地界址纠纷", "两户翻建房屋时对界址有争议，一方砌墙占用了约半米通道。"),
    ("family", "赡养老人纠纷", "三兄弟对母亲的赡养费分摊意见不一，老人生活无着。"),
    ("labour", "农民工工资拖欠", "村民在附近工地务工三个月，包工头拖欠工资 1.8 万元。"),
    ("property", "房屋租赁押金纠纷", "租户退租后房东以墙面损坏为由拒不退还押金 2000 元。"),
    ("traffic", "电动车剐蹭赔偿", "电动车与三轮车在村道剐蹭，双方对修车费用争执不下。"),
    ("consumer", "农资质量纠纷", "购买的玉米种子出苗率不足三成，农户要求农资店赔偿。"),
    ("neighbour", "树木遮挡采光", "邻居屋后的杨树遮挡采光，落叶堵塞屋檐水槽。"),
    ("land", "承包地边界纠纷", "两户承包地相邻，田埂被犁掉后对边界各执一词。"),
    ("other", "家禽毁损庄稼", "一户散养的鸭子多次进入邻居菜地，毁坏蔬菜。"),
]
TERMS = "一、被申请人于十日内恢复原状；二、双方今后互谅互让，不再因此事争执。"


@dataclass
class Summary:
    cases: int = 0
    settled: int = 0
    in_village: int = 0
    open: int = 0
    red_flags: int = 0
    broken: int = 0


def seed_mediation(*, seed: int = 1, end: dt.datetime | None = None) -> Summary:
    rng = random.Random(seed)
    out = Summary()
    end = (end or now()).astimezone(SHANGHAI)
    village_ra = RoleAssignment.objects.filter(role=Role.VILLAGE_STAFF, user__username="village").first()
    town_ra = RoleAssignment.objects.filter(role=Role.TOWN_STAFF, user__username="town").first()
    grid_ra = RoleAssignment.objects.filter(role=Role.GRID_WORKER, user__username="grid").select_related("node").first()
    if village_ra is None or town_ra is None or grid_ra is None or village_ra.node is None or town_ra.node is None:
        return out
    village, town = village_ra.node, town_ra.node
    clerk, justice, grid_user = village_ra.user, town_ra.user, grid_ra.user
    committee = Mediator.objects.create(
        user=clerk, node=village, path=village.path, kind=Mediator.Kind.COMMITTEE, name=clerk.display_name or "村调委会"
    )
    office = Mediator.objects.create(
        user=justice, node=town, path=town.path, kind=Mediator.Kind.JUSTICE, name=justice.display_name or "司法所"
    )
    grid = grid_ra.node
    assert grid is not None
    people = list(Resident.objects.filter(path__startswith=grid.path).order_by("id")[:80])
    if len(people) < 20:
        return out
    villages = list(Node.objects.filter(parent=town, level=Level.VILLAGE).order_by("sort", "id")[:4])
    n = 0

    def report(days: float, where: Node, by: User, **kw: object) -> Case:
        nonlocal n
        kind, title, account = DISPUTES[n % len(DISPUTES)]
        a, b = people[(2 * n) % len(people)], people[(2 * n + 7) % len(people)]
        n += 1
        with frozen(end - dt.timedelta(days=days)):
            c = services.case_report(
                by=by, node=where, kind=kind, title=title, account=account,
                parties=[PartyIn(side="applicant", resident_id=a.pk), PartyIn(side="respondent", resident_id=b.pk)],
                source=str(kw.pop("source", "patrol")), **kw,  # type: ignore[arg-type]
            )  # fmt: skip
        out.cases += 1
        return c

    def mediate(c: Case, days: float, mediator: Mediator, by: User) -> None:
        with frozen(end - dt.timedelta(days=days)):
            services.case_accept(case=c, by=by, mediator=mediator)
            c.refresh_from_db()
            services.session_add(
                case=c, by=by, held_on=(end - dt.timedelta(days=days)).date(), place="村委会调解室",
                attendees="双方当事人、网格员、调解员", notes="听取双方陈述，释法明理，双方同意各让一步。",
            )  # fmt: skip

    # Six months of disputes: most settled on the spot or in the village, some at the town, some referred.
    for k in range(26):
        days = 180 - k * 6.5
        spot = rng.random() < 0.3
        c = report(days, grid, grid_user, on_the_spot="网格员现场劝解，双方握手言和。" if spot else "")
        if spot:
            continue
        mediator = office if k % 6 == 5 else committee
        by = justice if mediator is office else clerk
        mediate(c, days - 1, mediator, by)
        c.refresh_from_db()
        if k % 9 == 4:
            with frozen(end - dt.timedelta(days=days - 3)):
                services.case_refer(case=c, by=by, unit="court", done="两次调解未果，双方同意诉前调解。")
                c.refresh_from_db()
                services.referral_result(case=c, by=justice, settled=True, result="法院诉前调解成功，出具调解书。")
            continue
        if k % 7 == 3:
            with frozen(end - dt.timedelta(days=days - 4)):
                services.case_settle(case=c, by=by, note="当事人当场履行，撤回申请。")
            continue
        with frozen(end - dt.timedelta(days=days - 2)):
            services.agreement_make(
                case=c, by=by, facts=c.account, terms=TERMS, signed_on=(end - dt.timedelta(days=days - 2)).date()
            )
        # The worker's reminders and the visits, as they would have happened.
        c.refresh_from_db()
        for f in list(c.follow_ups.order_by("due_at")):
            if f.due_at > end:
                break
            with frozen(f.due_at):
                while services.handle_one():
                    pass
            with frozen(f.due_at + dt.timedelta(hours=4)):
                c.refresh_from_db()
                f.refresh_from_db()
                if c.state != "agreed":
                    break
                broken = k >= 8 and f.after_days == 30 and not out.broken
                out.broken += broken
                notes = "一方未按期恢复原状。" if broken else "协议已履行。"
                services.follow_up_record(case=c, follow_up=f, by=by, kept=not broken, notes=notes)
    # Now: cases being mediated (one near its limit, one past it), one just reported with a red flag, one from a
    # resident in another village of the town.
    near = report(27, grid, grid_user)
    mediate(near, 27, committee, clerk)
    late = report(40, grid, grid_user)
    mediate(late, 40, committee, clerk)
    report(1, grid, grid_user, red_reason="一方扬言要“动刀子”，情绪激动，有民转刑风险。")
    if len(villages) > 1:
        report(3, villages[1], justice, source="resident")
    with frozen(end):
        while services.handle_one():
            pass
    qs = Case.objects.filter(path__startswith=town.path)
    out.settled = qs.exclude(level="").count()
    out.in_village = qs.filter(level__in=("grid", "village")).count()
    out.open = qs.filter(state__in=("reported", "mediating", "agreed", "referred")).count()
    out.red_flags = qs.filter(red_flag=True).count()
    return out
