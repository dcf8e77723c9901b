"""Village deliberation for the demo, in the demo village and two more of its town, all through the services:
matters in every stage (collecting signatures, on the agenda, declined with a reason, merged, voted down,
carried out with tasks, budget and spending, done and rated), a vote counted from online ballots and paper
tally sheets, an open vote the demo resident can take part in, three months of 三公开 postings with a
question answered (one village behind on its postings, flagged to the town), and the village rules with a
new version adopted by a vote."""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass

from accounts.models import Role, RoleAssignment, User
from core.clock import SHANGHAI, frozen, now
from deliberation import services
from deliberation.models import Matter, Option, Vote, Voter
from org.models import Level, Node, Resident

MATTERS = [
    ("硬化三组到村部的通组公路", "三组到村部的土路下雨天泥泞难走，老人孩子出行不便，建议硬化 1.2 公里。", "180000"),
    ("村口安装太阳能路灯", "村口到小学一段晚上漆黑，建议安装 20 盏太阳能路灯。", "36000"),
    ("修缮村文化广场戏台", "戏台顶棚漏雨，送戏下乡时无法使用。", "52000"),
    ("清理屋后排水沟", "每逢大雨屋后积水倒灌，需要清淤并加盖板。", "8000"),
    ("建一个村级红白理事会", "提倡红白事简办，减轻村民负担。", ""),
    ("村口装路灯（重复）", "村口到小学太黑了，装几盏路灯吧。", ""),
]
RULES = (
    "第一条 爱党爱国，遵纪守法。\n第二条 爱护公共设施，不乱堆乱放，门前三包。\n第三条 邻里和睦，有事好商量。\n"
    "第四条 移风易俗，不大操大办。"
)


@dataclass
class Summary:
    villages: int = 0
    matters: int = 0
    votes: int = 0
    ballots: int = 0
    disclosures: int = 0


def _at(base: dt.datetime, days: float) -> dt.datetime:
    return base - dt.timedelta(days=days)


def seed_deliberation(*, seed: int = 1, end: dt.datetime | None = None) -> Summary:
    rng = random.Random(seed)
    out = Summary()
    end = (end or now()).astimezone(SHANGHAI)
    ra = RoleAssignment.objects.filter(role=Role.VILLAGE_STAFF, user__username="village").select_related("node").first()
    admin = User.objects.filter(is_superuser=True).order_by("id").first()
    if ra is None or ra.node is None or admin is None:
        return out
    demo_village, clerk = ra.node, ra.user
    town = demo_village.parent
    others = list(
        Node.objects.filter(parent=town, level=Level.VILLAGE).exclude(pk=demo_village.pk).order_by("sort")[:2]
    )
    for i, village in enumerate([demo_village, *others]):
        by = clerk if village.pk == demo_village.pk else admin
        _village(rng, village, by, end, out, full=i == 0, behind=i == 2)
        out.villages += 1
    return out


def _people(village: Node, n: int) -> list[Resident]:
    return list(Resident.objects.filter(path__startswith=village.path).order_by("id")[:n])


def _village(
    rng: random.Random, village: Node, by: User, end: dt.datetime, out: Summary, *, full: bool, behind: bool
) -> None:
    people = _people(village, 60)
    if len(people) < 12:
        return
    users = {
        r.pk: r.user
        for r in Resident.objects.filter(path__startswith=village.path, user__isnull=False).select_related("user")
        if r.user is not None
    }
    proposer = next((r for r in people if r.pk in users), None)
    services.setting_update(by=by, village=village, cosign_threshold=5)
    matters = []
    for k, (title, body, cost) in enumerate(MATTERS if full else MATTERS[:3]):
        who = people[k + 1]
        with frozen(_at(end, 60 - k)):
            m = services.matter_propose(by=by, for_resident=who, title=title, body=body, cost=cost or None)
        matters.append(m)
        out.matters += 1
    # Collecting signatures: a few have signed the latest.
    with frozen(_at(end, 50)):
        for r in people[20:23]:
            services.matter_cosign(matter=matters[-1] if full else matters[2], by=by, for_resident=r)
    if proposer is not None and full:
        with frozen(_at(end, 45)):
            services.comment_add(matter=matters[0], by=users[proposer.pk], text="支持！路修好了卖菜也方便。")
    # The first matter: enough signatures, a meeting, a vote counted from online and paper ballots, carried out.
    first = matters[0]
    with frozen(_at(end, 55)):
        for r in people[10:15]:
            services.matter_cosign(matter=first, by=by, for_resident=r)
        services.comment_add(matter=first, by=by, text="已列入本月议事会议题，欢迎大家到阳光议事厅参加讨论。")
    first.refresh_from_db()
    with frozen(_at(end, 50)):
        services.meeting_record(
            by=by,
            village=village,
            matter=first,
            held_at=_at(end, 50),
            place="村委会阳光议事厅",
            minutes="与会村民一致认为应尽快硬化道路，资金由上级补助和村集体共同承担。",
            households=[r.household_id for r in people[:25]],
        )
    _counted_vote(rng, first, by, users, end, out, days=45, passed=True)
    first.refresh_from_db()
    with frozen(_at(end, 30)):
        services.matter_start(matter=first, by=by)
        t1 = services.task_add(matter=first, by=by, title="招标与施工", responsible="村主任")
        services.task_add(matter=first, by=by, title="质量验收", responsible="村民监督小组")
        line = services.budget_add(matter=first, by=by, item="水泥路面", amount="150000")
        services.budget_add(matter=first, by=by, item="排水边沟", amount="30000")
        services.spending_add(
            matter=first,
            by=by,
            line=line,
            amount="90000",
            spent_on=_at(end, 30).date(),
            payee="县路桥公司",
            note="首期工程款",
        )
        services.update_add(matter=first, by=by, text="路基已平整，开始浇筑路面。")
        services.task_done(task=t1, by=by)
    if full:
        for t in first.tasks.filter(done_at__isnull=True):
            with frozen(_at(end, 12)):
                services.task_done(task=t, by=by)
        with frozen(_at(end, 10)):
            services.spending_add(
                matter=first,
                by=by,
                line=line,
                amount="58000",
                spent_on=_at(end, 10).date(),
                payee="县路桥公司",
                note="尾款",
            )
            services.matter_finish(matter=first, by=by)
        with frozen(_at(end, 5)):
            for r in people[:8]:
                if r.pk in users:
                    services.rating_add(matter=first, by=users[r.pk], stars=rng.choice([4, 5, 5]), comment="路好走了")
        # Declined, merged, voted down, and an open vote the demo resident takes part in.
        with frozen(_at(end, 40)):
            services.matter_merge(matter=matters[5], into=matters[1], by=by)
            services.matter_decline(
                matter=matters[4], by=by, reason="属于村规民约修订内容，已并入村规民约修订一并表决。"
            )
            services.matter_agenda(matter=matters[3], by=by)
        _counted_vote(rng, matters[3], by, users, end, out, days=35, passed=False)
        with frozen(_at(end, 3)):
            services.matter_agenda(matter=matters[1], by=by)
            v = services.vote_create(
                by=by,
                matter=matters[1],
                question="是否同意在村口安装 20 盏太阳能路灯？",
                closes_at=end + dt.timedelta(days=5),
            )
            services.vote_open(vote=v, by=by)
            out.votes += 1
    _disclosures(village, by, end, out, behind=behind)
    _rules(rng, village, by, users, end, out, vote=full)


def _counted_vote(
    rng: random.Random,
    matter: Matter,
    by: User,
    users: dict[int, User],
    end: dt.datetime,
    out: Summary,
    *,
    days: int,
    passed: bool,
) -> Vote:
    with frozen(_at(end, days)):
        if matter.state != "agenda":
            services.matter_agenda(matter=matter, by=by)
        v = services.vote_create(
            by=by, matter=matter, question=f"是否同意「{matter.title}」？", closes_at=_at(end, days - 7)
        )
        services.vote_open(vote=v, by=by)
    return _ballots(rng, v, by, users, end, out, days=days, yes_share=0.8 if passed else 0.3)


def _ballots(
    rng: random.Random,
    v: Vote,
    by: User,
    users: dict[int, User],
    end: dt.datetime,
    out: Summary,
    *,
    days: int,
    yes_share: float,
) -> Vote:
    yes, no, abstain = list(Option.objects.filter(vote=v).order_by("sort"))
    online = 0
    with frozen(_at(end, days - 1)):
        for rid, u in users.items():
            if v.roll.filter(electors__resident_id=rid, turnout__isnull=True).exists():
                services.vote_cast(vote=v, by=u, option_id=(yes if rng.random() < yes_share else no).pk)
                online += 1
    with frozen(_at(end, days - 6)):
        waiting = list(
            Voter.objects.filter(vote=v, turnout__isnull=True).order_by("path", "id").values_list("pk", flat=True)
        )
        for part in (waiting[: len(waiting) * 2 // 5], waiting[len(waiting) * 2 // 5 : len(waiting) * 4 // 5]):
            if not part:
                continue
            n = len(part)
            invalid = 1 if n > 20 else 0
            y = round((n - invalid) * yes_share)
            a = min(2, n - invalid - y)
            services.vote_paper(
                vote=v,
                by=by,
                sheet=services.SheetIn({yes.pk: y, no.pk: n - invalid - y - a, abstain.pk: a}, invalid, part),
            )
            out.ballots += n
    with frozen(_at(end, days - 8)):
        services.vote_count(vote=v, by=by)
    out.ballots += online
    out.votes += 1
    return v


def _disclosures(village: Node, by: User, end: dt.datetime, out: Summary, *, behind: bool) -> None:
    day = end.date()
    months = []
    d = day.replace(day=1)
    for _ in range(3):
        d = (d - dt.timedelta(days=1)).replace(day=1)
        months.append(d)
    for k, start in enumerate(reversed(months)):
        if behind and k >= 1:
            break  # this village has posted nothing for two months: the town sees it flagged
        posted = _at(end, (day - start).days - 35)
        with frozen(min(posted, end)):
            f = services.disclosure_publish(
                by=by,
                village=village,
                kind="finance",
                period=f"{start:%Y-%m}",
                title=f"{start.month} 月村级财务收支公开",
                body="收入：上级转移支付、村集体经营收入。\n支出：办公经费、道路维护、保洁员工资。详见明细表。",
            )
            services.disclosure_publish(
                by=by,
                village=village,
                kind="affairs",
                period=f"{start:%Y-%m}",
                title=f"{start.month} 月村务公开",
                body="低保评议结果、惠农补贴发放名单、本月议事会决定事项。",
            )
            out.disclosures += 2
        if k == 0:
            asker = Resident.objects.filter(path__startswith=village.path, user__isnull=False).first()
            if asker is not None and asker.user is not None:
                with frozen(min(posted + dt.timedelta(days=2), end)):
                    q = services.question_ask(disclosure=f, by=asker.user, text="道路维护这一项具体修了哪几段路？")
                with frozen(min(posted + dt.timedelta(days=4), end)):
                    services.question_answer(
                        question=q, by=by, answer="修补了二组和五组的两段村道，共 320 米，明细已贴在公开栏。"
                    )
    quarter = (day.replace(day=1) - dt.timedelta(days=95)).replace(day=1)
    with frozen(_at(end, 20)):
        services.disclosure_publish(
            by=by,
            village=village,
            kind="party",
            period=f"{quarter.year}-Q{(quarter.month - 1) // 3 + 1}",
            title="党务公开",
            body="党员发展、党费收缴、主题党日活动情况。",
        )
        out.disclosures += 1


def _rules(
    rng: random.Random, village: Node, by: User, users: dict[int, User], end: dt.datetime, out: Summary, *, vote: bool
) -> None:
    with frozen(_at(end, 80)):
        services.rules_record(by=by, village=village, text=RULES, adopted_on=_at(end, 400).date())
    if not vote:
        return
    with frozen(_at(end, 28)):
        draft = services.rules_draft(
            by=by, village=village, text=RULES + "\n第五条 红白事简办，宴席不超过十桌。", summary="增加红白事简办一条"
        )
        v = services.vote_create(
            by=by,
            rules=draft,
            question="是否同意修订后的村规民约（增加红白事简办）？",
            closes_at=_at(end, 21),
            threshold=Vote.Threshold.TWO_THIRDS,
        )
        services.vote_open(vote=v, by=by)
    _ballots(rng, v, by, users, end, out, days=28, yes_share=0.9)
