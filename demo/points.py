"""Demo volunteer service and points: a year of a county's 积分服务制, played through the services.

Volunteers (a share of each village's adults, with skills; the demo 'volunteer' and 'resident' logins
among them) in one or two teams per village; activities published by village staff or a team leader
(the 'volunteer' login leads one), with sign-ups, a waiting list, check-in and check-out and the
organiser's rating, which awards points under VS01 by itself. The demo logins' village is the busiest
(up to an activity a week), the others share the rest, and how busy a village is sets how many claims,
redemptions and nominations it has: claims under EN01, NB01, GD01 and MD01 filed by grid workers and
decided by village staff; a points shop per village and per town with everyday goods, restocked monthly,
serving residents at the counter, and the demo logins reserving online (collected, cancelled, lapsed);
monthly good-person nominations with a selection; a few deductions with reasons.

Cost: every step is a service call (a rated participation is ~25 queries), about 0.1 s an activity with
everything around it on a laptop-class CPU; hence the modest default for the small demo.

Every step runs with the clock set to when it happened (core.clock.frozen), week after week, so the
ledger, lots, stock moves and states are what the running system would have written; what falls after
'now' stays undone (pending claims, open reservations, next week's activities with their sign-ups). The
same seed gives the same data, except the activities' check-in codes, which the service draws at random.
"""

from __future__ import annotations

import datetime as dt
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from django.db import transaction
from django.db.models import Max, Q

from accounts.models import Role, RoleAssignment, User
from accounts.services import role_assign, user_create
from core.clock import SHANGHAI, frozen, now
from core.errors import ApiError
from notify.models import Message
from org.models import Level, Node, Resident, ServicePoint, path_range
from points import services as points
from points.models import Account, Claim, Goods, Nomination, Rule, Shop
from volunteers import services as vol
from volunteers.models import Participation, Team, TeamMember, Volunteer

SKILLS = [
    "电工", "水管维修", "理发", "医疗护理", "政策宣传", "文艺演出", "驾驶", "摄影", "心理疏导", "法律咨询",
    "厨艺", "农技", "手机教学", "保洁", "陪伴老人", "作业辅导", "急救", "书法",
]  # fmt: skip
AVAILABILITY = ["周末", "工作日晚上", "周末上午", "农闲时", "随时可以", "每周三下午"]

# name of the team, what it does, and its activities: (title, where in the village, what to do, hour, hours,
# the months it belongs to or none for all year)
WINTER = (1, 2, 3, 4, 10, 11, 12)
SUMMER = (5, 6, 7, 8, 9)
TEAMS: list[tuple[str, str, list[tuple[str, str, str, int, float, tuple[int, ...]]]]] = [
    ("环境卫生志愿服务队", "村庄清洁、垃圾分类宣传和沟渠河道清理", [
        ("清扫主干道和公共区域", "主干道", "自带扫帚和手套，垃圾袋和夹子由村里准备。", 8, 2.5, ()),
        ("清理沟渠河道垃圾", "河堤", "穿雨靴，注意安全，不要下深水。", 8, 3, ()),
        ("垃圾分类入户宣传", "党群服务中心", "发放垃圾分类宣传单，教大家怎么分。", 15, 2, ()),
        ("整治房前屋后杂物", "文化广场", "帮助独居老人清理房前屋后的杂物和柴堆。", 8, 3, ()),
    ]),
    ("邻里互助志愿服务队", "走访独居老人、留守儿童，代购代办", [
        ("走访慰问独居老人", "党群服务中心", "分组上门，聊聊天、看看家里水电，记下需要帮忙的事。", 9, 2.5, ()),
        ("为老人义务理发", "党群服务中心", "理发志愿者自带工具，其他人帮忙登记和维持秩序。", 9, 3, ()),
        ("留守儿童作业辅导", "党群服务中心", "辅导小学生写作业、读绘本。", 15, 2, ()),
        ("教老人用智能手机", "党群服务中心", "教老人用微信视频通话、识别诈骗电话。", 15, 2, ()),
    ]),
    ("平安巡逻志愿服务队", "夜间巡逻、防溺水、防火和反诈宣传", [
        ("夜间治安巡逻", "村委会门前", "两人一组，带手电和袖标，重点看独居老人家和池塘边。", 19, 2, ()),
        ("防溺水巡查", "河堤", "在河边、水塘边巡查，劝离玩水的孩子。", 16, 2, SUMMER),
        ("森林防火宣传", "村委会门前", "在山口路口发放宣传单，劝阻野外用火。", 9, 2.5, WINTER),
        ("防范电信诈骗宣传", "文化广场", "发放反诈宣传单，帮村民安装国家反诈中心APP。", 9, 2, ()),
    ]),
    ("文明实践志愿服务队", "新时代文明实践、文艺演出和义诊", [
        ("文明实践广场舞展演", "文化广场", "排练和展演，欢迎大家来看。", 19, 2, ()),
        ("义诊和免费量血压", "党群服务中心", "请镇卫生院医生坐诊，志愿者帮忙登记、量血压。", 8, 3, ()),
        ("移风易俗宣传", "文化广场", "宣传红白喜事简办，发放倡议书。", 9, 2, ()),
        ("写春联送福字", "党群服务中心", "书法志愿者写春联，其他人帮忙裁纸、分发。", 9, 3, (1, 2)),
    ]),
]  # fmt: skip

# The same work in a 社区: streets instead of a village road, a riverside path instead of the embankment.
URBAN_SPOTS = {"主干道": "各小区道路", "河堤": "滨河步道", "村委会门前": "居委会门前"}
CANCEL_REASONS = ["天气原因：暴雨预警，活动取消", "与村里集中防疫安排冲突，改期举行", "高温预警，户外活动暂停"]

CLAIMS: dict[str, list[str]] = {
    "EN01": ["清理房前屋后的垃圾和杂物", "清扫村道落叶", "疏通门前排水沟", "清理公共厕所周边卫生", "捡拾河边白色垃圾"],
    "NB01": ["帮独居老人代购米面油", "陪同邻居老人去镇卫生院看病", "帮残疾邻居代缴电费和话费",
             "雨天帮老人抢收晾晒的稻谷"],
    "GD01": ["拾到装有现金的钱包，交还失主", "雨夜帮助被困车辆脱困", "发现邻居家电线起火及时扑灭",
             "劝阻小孩到水塘边玩水"],
    "MD01": ["协助调解两户宅基地界址纠纷", "劝和因排水问题争吵的邻居"],
}  # fmt: skip
CLAIM_RULES = [("EN01", 0.45), ("NB01", 0.3), ("GD01", 0.15), ("MD01", 0.1)]
REJECTIONS = ["经核实与事实不符", "同一件事已经申报过", "属于本职工作，不予积分"]

GOOD_DEEDS = [
    "常年照顾瘫痪在床的婆婆，任劳任怨，邻里称赞",
    "拾到装有现金和证件的钱包，主动交还失主",
    "义务清扫村道三年如一日",
    "暴雨中帮助邻居转移财物，连夜排水",
    "带头为修路捐款，主动让出自家宅基地边角",
    "坚持接送邻居家留守儿童上下学",
    "义务为村里老人理发五年",
    "积极参加志愿服务，全年服务时长村里第一",
]
DEDUCTIONS = [
    ("乱倒建筑垃圾，经劝导仍未清理", 20),
    ("虚报公共环境维护次数", 15),
    ("报名志愿活动后连续三次无故缺席", 10),
    ("在禁烧区焚烧秸秆", 30),
]
REDEEM_CANCEL = "商品包装破损，已退回，积分退还"
RESIDENT_CANCEL = "计划有变，暂时不需要了"

# name, description, points, stock at opening, limit per person and period
VILLAGE_GOODS: list[tuple[str, str, int, int, int | None, str]] = [
    ("食盐", "500克", 10, 12, None, "month"),
    ("香皂", "125克", 20, 12, None, "month"),
    ("面条", "挂面1千克", 25, 10, None, "month"),
    ("牙膏", "120克", 30, 10, 2, "month"),
    ("毛巾", "纯棉", 30, 10, 2, "month"),
    ("酱油", "生抽500毫升", 30, 8, None, "month"),
    ("卷纸", "10卷装", 40, 8, None, "month"),
    ("洗洁精", "1.5千克", 40, 8, None, "month"),
    ("洗衣粉", "1.5千克", 50, 8, 2, "month"),
    ("鸡蛋", "一板30个", 60, 6, 1, "week"),
    ("雨伞", "折叠伞", 80, 5, 1, "year"),
    ("食用油", "菜籽油5升", 150, 5, 1, "month"),
    ("大米", "10千克", 200, 5, 1, "month"),
]  # fmt: skip
TOWN_GOODS: list[tuple[str, str, int, int, int | None, str]] = [
    ("保温杯", "500毫升不锈钢", 120, 10, 1, "year"),
    ("暖水瓶", "3.2升", 150, 8, 1, "year"),
    ("电热水壶", "1.8升", 400, 5, 1, "year"),
    ("床上四件套", "纯棉1.8米", 600, 4, 1, "year"),
    ("电饭煲", "4升", 800, 3, 1, "year"),
    ("食用油", "菜籽油5升", 150, 10, 1, "month"),
    ("大米", "10千克", 200, 10, 1, "month"),
]  # fmt: skip
T = TypeVar("T")
OPENING_HOURS = "每周六 9:00-11:30，每月5日 14:30-17:00"


@dataclass
class Summary:
    volunteers: int = 0
    teams: int = 0
    activities: int = 0
    upcoming: int = 0
    participations: int = 0
    claims: int = 0
    shops: int = 0
    goods: int = 0
    redemptions: int = 0
    nominations: int = 0
    deductions: int = 0
    seconds: float = 0.0


@dataclass
class _Village:
    node: Node
    town: Node
    staff: User
    urban: bool
    weekday: int
    adults: list[Resident]
    point: ServicePoint | None = None
    volunteers: list[Volunteer] = field(default_factory=list)
    joined: dict[int, dt.datetime] = field(default_factory=dict)  # volunteer id → joined at
    teams: list[tuple[Team, int]] = field(default_factory=list)  # team, index in TEAMS
    leader_user: dict[int, User] = field(default_factory=dict)  # team id → the leader's login, if any
    shop: Shop | None = None
    goods: list[Goods] = field(default_factory=list)
    rate: float = 1.0  # how busy it is: 1 with an activity every week
    schedule: list[dt.datetime] = field(default_factory=list)  # the days of its activities


@dataclass
class _World:
    rng: random.Random
    end: dt.datetime
    summary: Summary
    villages: list[_Village]
    grid_workers: dict[int, User]
    residents: dict[int, Resident]
    logins: dict[str, User]
    demo: dict[str, Volunteer] = field(default_factory=dict)  # login username → their volunteer record
    rules: dict[str, Rule] = field(default_factory=dict)
    town_shops: dict[int, tuple[Shop, list[Goods], User]] = field(default_factory=dict)
    stock_at_opening: dict[int, int] = field(default_factory=dict)
    nominations: dict[int, list[Nomination]] = field(default_factory=dict)  # village id → this month's
    deductions: set[tuple[int, int, int]] = field(default_factory=set)  # (year, month, village id)


def _at(day: dt.date, hour: float) -> dt.datetime:
    h = int(hour)
    return dt.datetime(day.year, day.month, day.day, h, round((hour - h) * 60) % 60, tzinfo=SHANGHAI)


def _local_user(node: Node, role: str) -> User:
    """The node's staff login: the demo login or the work-order demo's `unit-…` user if there is one,
    else a new `unit-…` user (no password) in the same shape."""
    ra = RoleAssignment.objects.filter(node=node, role=role).select_related("user").order_by("id").first()
    if ra is not None:
        return ra.user
    user = User.objects.filter(username=f"unit-{node.code}").first() or user_create(
        username=f"unit-{node.code}", password=None, display_name=f"{node.name}经办人", is_staff=True
    )
    role_assign(user=user, role=role, node=node)
    return user


def _years_ago(end: dt.datetime, years: int) -> dt.date:
    d = end.date()
    return d.replace(year=d.year - years, day=28 if (d.month, d.day) == (2, 29) else d.day)


def _age(birth: dt.date | None, on: dt.date) -> int:
    if birth is None:
        return 0
    return on.year - birth.year - ((on.month, on.day) < (birth.month, birth.day))


def _try(step: Callable[..., T], **kwargs: Any) -> T | None:
    """A step the rules may refuse (a limit reached, sold out, a monthly cap): skip it, as a user would."""
    try:
        with transaction.atomic():
            return step(**kwargs)
    except ApiError:
        return None


@transaction.atomic
def seed_points(*, activities: int, seed: int = 1, end: dt.datetime | None = None) -> Summary:
    """Play about `activities` volunteer activities over the year before `end`, with everything around
    them, and one or two activities per village in the coming week (published, with sign-ups)."""
    started = time.perf_counter()
    rng = random.Random(seed)
    end = (end or now()).astimezone(SHANGHAI)
    start = end - dt.timedelta(days=365)
    summary = Summary()
    county = Node.objects.filter(level=Level.COUNTY).order_by("id").first()
    if county is None or activities <= 0:
        return summary
    logins = {u.username: u for u in User.objects.filter(username__in=["resident", "volunteer", "party"])}
    grid_workers = {
        ra.node_id: ra.user
        for ra in RoleAssignment.objects.filter(role=Role.GRID_WORKER, node__path__startswith=county.path)
        .select_related("user")
        .order_by("id")
        if ra.node_id is not None
    }
    nodes = list(Node.objects.filter(path_range(county.path), level__in=[Level.TOWN, Level.VILLAGE]).order_by("id"))
    towns = {n.pk: n for n in nodes if n.level == Level.TOWN}
    villages = [n for n in nodes if n.level == Level.VILLAGE]
    points_by_node: dict[int, ServicePoint] = {}
    for sp in ServicePoint.objects.filter(path_range(county.path), kind=ServicePoint.Kind.PARTY_MASSES_CENTER).order_by(
        "id"
    ):
        points_by_node.setdefault(sp.node_id, sp)
    town_staff = {pk: _local_user(t, Role.TOWN_STAFF) for pk, t in towns.items()}
    w = _World(rng=rng, end=end, summary=summary, villages=[], grid_workers=grid_workers, residents={}, logins=logins)
    w.rules = {r.code: r for r in Rule.objects.filter(is_active=True).order_by("code")}
    # The demo logins' village is the busiest (up to an activity a week); the others share the rest evenly.
    home = Resident.objects.filter(user__username="volunteer").values_list("path", flat=True).first() or ""
    home_id = next((n.pk for n in villages if home.startswith(n.path)), villages[0].pk)
    busiest = min(52, activities, max(1, round(activities * 0.45), round(activities / len(villages))))
    others = (activities - busiest) / max(1, len(villages) - 1)
    login_ids = {u.pk for u in logins.values()}
    for node in villages:
        count = busiest if node.pk == home_id else others
        adults = [
            r
            for r in Resident.objects.filter(path_range(node.path))
            .filter(Q(birth_date__range=(_years_ago(end, 76), _years_ago(end, 18))) | Q(user_id__in=login_ids))
            .order_by("id")
            if 18 <= _age(r.birth_date, end.date()) <= 75 or r.user_id in login_ids
        ]
        for r in adults:
            w.residents[r.pk] = r
        urban = node.kind == "community"
        assert node.parent_id is not None  # a village is in a town
        v = _Village(
            node=node,
            town=towns[node.parent_id],
            staff=_local_user(node, Role.VILLAGE_STAFF),
            urban=urban,
            weekday=rng.choice([2, 5, 6] if urban else [5, 5, 6]),
            adults=adults,
            point=points_by_node.get(node.pk),
            rate=min(1.0, count / 52),
        )
        # One activity every 365/count days on the village's day, and one in the coming week.
        if count > 0:
            interval = 365 / count
            offset = rng.uniform(0, interval)
            while (day := (start + dt.timedelta(days=offset)).date()) < end.date():
                day += dt.timedelta(days=(v.weekday - day.weekday()) % 7)
                if not v.schedule or _at(day, 0) > v.schedule[-1]:
                    v.schedule.append(_at(day, 0))
                offset += interval
        v.schedule = [s for s in v.schedule if s < end.replace(hour=0, minute=0)]
        for _ in range(2 if node.pk == home_id else 1):
            v.schedule.append(_at(end.date() + dt.timedelta(days=rng.randint(1, 6)), 0))
        v.schedule.sort()
        w.villages.append(v)

    # A few deductions in the year, in the busier villages more likely (they have points to take).
    for _ in range(max(3, activities // 15)):
        v = rng.choices(w.villages, [0.1 + v.rate for v in w.villages])[0]
        m = (start + dt.timedelta(days=rng.uniform(60, 360))).date()
        w.deductions.add((m.year, m.month, v.node.pk))
    with frozen(start - dt.timedelta(days=40)):  # the teams and shops were there before the year began
        for v in w.villages:
            _volunteers_and_teams(w, v, start)
            _shop(w, v)
        for town_id, town in towns.items():
            _town_shop(w, town, town_staff[town_id])
    summary.shops = len(w.villages) + len(w.town_shops)
    summary.volunteers = sum(len(v.volunteers) for v in w.villages)

    boundary: int | None = None
    month = None
    week = start
    while week < end + dt.timedelta(days=7):
        if boundary is None and week >= end - dt.timedelta(days=8):
            boundary = Message.objects.aggregate(m=Max("id"))["m"] or 0
        if month != (week.year, week.month):
            month = (week.year, week.month)
            _month(w, week.date().replace(day=1))
        nxt = week + dt.timedelta(days=7)
        for v in w.villages:
            for day in [d for d in v.schedule if week <= d < nxt]:
                _activity(w, v, day)
            if week < end:
                _claims(w, v, week, home=v.node.pk == home_id)
                _counter(w, v, week)
        if week < end:
            _online(w, week)
        week = nxt
    # The inbox of a demo login shows the last week as new, not a year of unread messages.
    if boundary is not None:
        Message.objects.filter(id__lte=boundary, kind__in=["points", "volunteers"], read_at__isnull=True).update(
            read_at=end
        )
    summary.seconds = time.perf_counter() - started
    return summary


def _volunteers_and_teams(w: _World, v: _Village, start: dt.datetime) -> None:
    rng = w.rng
    share = rng.uniform(0.08, 0.14)
    want = min(30, max(4, round(len(v.adults) * share)))
    pool = [r for r in v.adults if r.user_id is None]
    chosen = rng.sample(pool, min(want, len(pool)))
    # The demo 'volunteer' and 'resident' logins volunteer too, in their village.
    logins: dict[int | None, tuple[str | None, User | None]] = {
        u.pk: (name, u) for name, u in w.logins.items() if name in ("volunteer", "resident")
    }
    chosen = [r for r in v.adults if r.user_id in logins] + sorted(chosen, key=lambda r: r.pk)
    for r in chosen:
        name, login = logins.get(r.user_id, (None, None))
        # Most joined before the year began; some during it.
        if rng.random() < 0.75 or login is not None:
            joined = start - dt.timedelta(days=rng.uniform(45, 900))
        else:
            joined = start + dt.timedelta(days=rng.uniform(0, 330))
        skills = rng.sample(SKILLS, rng.randint(1, 3))
        if login is not None and _age(r.birth_date, w.end.date()) > 65:
            skills = ["陪伴老人", "政策宣传"]
        with frozen(joined):
            vo = vol.volunteer_join(
                resident=r, by=login or v.staff, skills=skills, availability=rng.choice(AVAILABILITY)
            )
        vo.resident = r
        v.volunteers.append(vo)
        v.joined[vo.pk] = joined
        if name is not None:
            w.demo[name] = vo
    # One or two teams; a leader each (the demo volunteer leads the first team of their village).
    kinds = rng.sample(range(len(TEAMS)), 2 if len(v.volunteers) >= 8 else 1)
    early = [x for x in v.volunteers if v.joined[x.pk] < start]
    for i, k in enumerate(kinds):
        demo = w.demo.get("volunteer")
        if i == 0 and demo is not None and demo in v.volunteers:
            leader = demo
        else:
            leader = rng.choice([x for x in early if x.resident.user_id is None] or v.volunteers)
        name = f"{v.node.name}{TEAMS[k][0]}"
        team = vol.team_create(node=v.node, name=name, by=v.staff, description=TEAMS[k][1], leader=leader)
        v.teams.append((team, k))
        if (login := _login(w, leader)) is not None:
            v.leader_user[team.pk] = login
        w.summary.teams += 1
        members = [x for x in early if x is not leader and rng.random() < 0.45]
        for m in members:
            _try(vol.team_add, team=team, volunteer=m, by=v.staff)


def _goods(w: _World, shop: Shop, by: User, items: list[tuple[str, str, int, int, int | None, str]]) -> list[Goods]:
    made = []
    for sort, (name, desc, price, stock, limit, period) in enumerate(items):
        g = points.goods_save(
            shop=shop, by=by, name=name, description=desc, price=price, limit_per_person=limit, limit_period=period,
            sort=sort,
        )  # fmt: skip
        g = points.goods_restock(goods=g, delta=stock, by=by, note="开业进货")
        w.stock_at_opening[g.pk] = stock
        made.append(g)
    w.summary.goods += len(made)
    return made


def _shop(w: _World, v: _Village) -> None:
    address = v.point.address if v.point else f"{v.node.name}党群服务中心"
    v.shop = points.shop_create(
        node=v.node, name=f"{v.node.name}积分超市", by=v.staff, address=address, opening_hours=OPENING_HOURS
    )
    count = w.rng.randint(7, 10)
    items = sorted(w.rng.sample(VILLAGE_GOODS, count), key=lambda g: g[2])
    v.goods = _goods(w, v.shop, v.staff, items)


def _town_shop(w: _World, town: Node, staff: User) -> None:
    shop = points.shop_create(
        node=town, name=f"{town.name}积分超市", by=staff, address=f"{town.name}党群服务中心一楼",
        opening_hours="周一至周五 8:30-12:00 14:30-17:30",
    )  # fmt: skip
    w.town_shops[town.pk] = (shop, _goods(w, shop, staff, TOWN_GOODS), staff)


def _balances(v: _Village, least: int) -> list[tuple[int, int]]:
    return list(
        Account.objects.filter(path_range(v.node.path), kind=Account.Kind.RESIDENT, balance__gte=least)
        .order_by("resident_id")
        .values_list("resident_id", "balance")
    )


# --- an activity, from publishing to the rating -------------------------------------------------------------


def _activity(w: _World, v: _Village, day: dt.datetime) -> None:
    rng, end = w.rng, w.end
    team, k = rng.choice(v.teams) if v.teams and rng.random() < 0.7 else (None, rng.randrange(len(TEAMS)))
    title, spot, description, hour, hours, _months = rng.choice(
        [a for a in TEAMS[k][2] if not a[5] or day.month in a[5]]
    )
    starts = _at(day.date(), hour + rng.choice([0, 0, 0.5]))
    ends = starts + dt.timedelta(hours=hours)
    published = starts - dt.timedelta(days=rng.uniform(2, 6))
    if published >= end:  # next week's: published in the last days
        published = end - dt.timedelta(hours=rng.uniform(2, 60))
    organiser = v.staff
    if team is not None and team.pk in v.leader_user and rng.random() < 0.6:
        organiser = v.leader_user[team.pk]
    place = f"{v.node.name}{URBAN_SPOTS.get(spot, spot) if v.urban else spot}"
    with frozen(published):
        activity = vol.activity_publish(
            node=v.node, title=title, place=place, starts_at=starts, ends_at=ends, description=description,
            capacity=rng.choice([6, 8, 10, 12, 15]) if rng.random() < 0.85 else 4, by=organiser, team=team,
            service_point=v.point if spot == "党群服务中心" else None,
        )  # fmt: skip
    if starts < end:
        w.summary.activities += 1
    else:
        w.summary.upcoming += 1
    # Who comes: some of the village's volunteers, the demo logins often, now and then one from next door.
    pool = [x for x in v.volunteers if v.joined[x.pk] < published and x.resident.user_id is None]
    team_ids = (
        set(TeamMember.objects.filter(team=team, left_at__isnull=True).values_list("volunteer_id", flat=True))
        if team is not None
        else set()
    )
    pool.sort(key=lambda x: (x.pk not in team_ids, rng.random()))
    people = pool[: rng.randint(2, 6)]
    if rng.random() < 0.15:
        others = [
            x
            for o in w.villages
            if o.town is v.town and o is not v
            for x in o.volunteers
            if x.resident.user_id is None and o.joined[x.pk] < published
        ]
        if others:
            people.append(rng.choice(others))
    for name, chance in (("volunteer", 0.7), ("resident", 0.3)):
        demo = w.demo.get(name)
        if demo is not None and demo in v.volunteers and rng.random() < chance:
            people.insert(rng.randrange(len(people) + 1), demo)
    window = max(0.0, (min(starts, end) - published).total_seconds() - 3600)
    signed_at = sorted(published + dt.timedelta(seconds=rng.uniform(600, 600 + window)) for _ in people)
    parts: list[tuple[Volunteer, Participation]] = []
    for x, t in zip(people, signed_at, strict=True):
        if t >= end:
            continue
        own = x.resident.user_id is not None
        with frozen(t):
            if own:  # the demo logins sign up on their phones
                p = _try(vol.signup, activity=activity, by=_login(w, x))
            else:
                p = _try(vol.signup, activity=activity, by=organiser, volunteer=x)
        if p is not None:
            p.volunteer = x
            parts.append((x, p))
            w.summary.participations += 1
    # A few withdraw before it starts; the first on the waiting list moves up.
    for x, p in list(parts):
        t = p.signed_at + dt.timedelta(hours=rng.uniform(1, 24))
        if rng.random() < 0.06 and t < min(starts, end):
            with frozen(t):
                _try(vol.withdraw, participation=p, by=_login(w, x) or organiser)
    cancel_at = max(starts - dt.timedelta(hours=rng.uniform(3, 30)), max(signed_at, default=published))
    if rng.random() < 0.03 and cancel_at < min(starts, end):
        with frozen(cancel_at + dt.timedelta(minutes=10)):
            _try(vol.activity_cancel, activity=activity, by=organiser, reason=rng.choice(CANCEL_REASONS))
        return
    if starts >= end:
        return
    activity.refresh_from_db()
    current = {p.volunteer_id: p for p in Participation.objects.filter(activity=activity).order_by("id")}
    came: list[Volunteer] = []
    for x, _p in parts:
        p = current[x.pk]
        if p.state != Participation.State.SIGNED_UP or (rng.random() < 0.08 and not x.resident.user_id):
            continue  # withdrawn, still waiting, or did not come
        t = starts + dt.timedelta(minutes=rng.uniform(-25, 15))
        if t >= end:
            continue
        with frozen(t):
            if x.resident.user_id:  # the demo logins scan the code at the place
                done = _try(vol.check_in, activity=activity, by=_login(w, x), code=activity.checkin_code)
            else:
                done = _try(vol.check_in, activity=activity, by=organiser, volunteer=x)
        if done is not None:
            came.append(x)
    for x in came:
        t = ends + dt.timedelta(minutes=rng.uniform(-30, 20))
        if rng.random() < 0.15 or t >= end:
            continue  # forgot to check out: the hours count to the end of the activity
        p = Participation.objects.select_related("activity").get(activity=activity, volunteer=x)
        with frozen(t):
            if x.resident.user_id:
                _try(vol.check_out, participation=p, by=_login(w, x), code=activity.checkin_code)
            else:
                _try(vol.check_out, participation=p, by=organiser)
    rated = ends + dt.timedelta(hours=rng.uniform(1, 30))
    if rated >= end:
        return  # still to be rated: the organiser's to-do list
    with frozen(rated):
        for p in (
            Participation.objects.filter(
                activity=activity,
                state__in=[
                    Participation.State.SIGNED_UP,
                    Participation.State.CHECKED_IN,
                    Participation.State.CHECKED_OUT,
                ],
            )
            .select_related("activity__rule", "volunteer__resident")
            .order_by("id")
        ):
            rating = 0 if p.checkin_at is None else rng.choice([5, 5, 5, 4, 4, 3])
            by = v.staff if p.volunteer.resident.user_id == organiser.pk else organiser
            _try(vol.rate, participation=p, rating=rating, by=by)
        # A team leader's ratings wait for the village: its clerk approves them.
        for p in Participation.objects.filter(activity=activity, claim__state=Claim.State.PENDING).select_related(
            "claim__resident", "claim__rule"
        ):
            _try(points.claim_decide, claim=p.claim, approve=True, by=v.staff)
        _try(vol.activity_finish, activity=activity, by=organiser)


def _login(w: _World, x: Volunteer) -> User | None:
    uid = x.resident.user_id
    return next((u for u in w.logins.values() if u.pk == uid), None) if uid else None


# --- claims under the other rules ---------------------------------------------------------------------------


def _claims(w: _World, v: _Village, week: dt.datetime, *, home: bool) -> None:
    rng, end = w.rng, w.end
    recent = week + dt.timedelta(days=7) >= end  # this week's wait for the village: the staff's to-do list
    if recent:
        count = 2 if home else int(rng.random() < 0.4)
    else:
        count = rng.choice([1, 1, 2]) if rng.random() < 0.6 * v.rate else 0
    for _ in range(count):
        code = rng.choices([c for c, _ in CLAIM_RULES], [p for _, p in CLAIM_RULES])[0]
        rule = w.rules.get(code)
        if rule is None:
            continue
        demo = w.demo.get("volunteer")
        own = demo is not None and demo in v.volunteers and rng.random() < 0.08
        resident = demo.resident if own and demo is not None else _someone(w, v)
        t = _at((week + dt.timedelta(days=rng.uniform(0, 7))).date(), rng.uniform(8, 20))
        if recent:
            t = end - dt.timedelta(hours=rng.uniform(2, 120))
        if t >= end:
            continue
        by = w.logins["volunteer"] if own else w.grid_workers.get(_grid(resident)) or v.staff
        quantity = rng.randint(1, 3) if code == "EN01" else 1
        with frozen(t):
            made = _try(
                points.claim_submit, resident=resident, rule=rule, quantity=quantity,
                description=rng.choice(CLAIMS[code]), by=by, key=f"demo-{t:%Y%m%d%H%M}-{resident.pk}-{code}",
            )  # fmt: skip
        if made is None:
            continue
        claim = made[0]
        w.summary.claims += 1
        decided = t + dt.timedelta(days=rng.uniform(0.3, 9))
        if recent or decided >= end or claim.state != Claim.State.PENDING:
            continue
        approve = rng.random() < 0.85
        note = "" if approve else rng.choice(REJECTIONS)
        with frozen(decided):
            _try(points.claim_decide, claim=claim, approve=approve, by=v.staff, note=note)


def _someone(w: _World, v: _Village) -> Resident:
    """A resident doing a good turn: a volunteer half of the time."""
    if v.volunteers and w.rng.random() < 0.5:
        return w.rng.choice(v.volunteers).resident
    return w.rng.choice(v.adults)


def _grid(r: Resident) -> int:
    return int(r.path.strip("/").split("/")[-1])


# --- the month: nominations, restocking, stock counts, deductions ---------------------------------------------


def _month(w: _World, first: dt.date) -> None:
    rng, end = w.rng, w.end
    for v in w.villages:
        # Last month's good person: chosen in the first days of this month.
        pending = w.nominations.pop(v.node.pk, [])
        if pending:
            t = _at(first + dt.timedelta(days=rng.randint(1, 4)), rng.uniform(9, 17))
            if t < end:
                chosen = rng.choice(pending)
                with frozen(t):
                    for n in pending:
                        _try(points.nomination_decide, nomination=n, select=n is chosen, by=v.staff)
            else:
                w.nominations[v.node.pk] = pending
        # This month's nominations, by grid workers, the village or a neighbour.
        busy = rng.random() < max(0.1, v.rate)
        people = rng.sample(v.adults, min(len(v.adults), rng.randint(1, 3) if busy else 0))
        for r in people:
            t = _at(first + dt.timedelta(days=rng.randint(0, 24)), rng.uniform(8, 20))
            if t >= end:
                continue
            by = w.grid_workers.get(_grid(r)) or v.staff
            party = w.logins.get("party")
            if party is not None and rng.random() < 0.3 and party.resident.path.startswith(v.node.path):
                by = party
            with frozen(t):
                nominated = _try(points.nominate, resident=r, month=first, reason=rng.choice(GOOD_DEEDS), by=by)
            if nominated is not None:
                w.nominations.setdefault(v.node.pk, []).append(nominated)
                w.summary.nominations += 1
        # Now and then a deduction, with the reason on the record.
        if (first.year, first.month, v.node.pk) in w.deductions:
            reason, amount = rng.choice(DEDUCTIONS)
            t = _at(first + dt.timedelta(days=rng.randint(2, 26)), rng.uniform(9, 17))
            rich = _balances(v, amount + 20)
            if rich and t < end:
                rid = rng.choice(rich)[0]
                with frozen(t):
                    done = _try(
                        points.deduct_manual, resident=w.residents[rid], amount=amount, reason=reason, by=v.staff,
                        key=f"demo-deduct-{t:%Y%m%d}-{rid}",
                    )  # fmt: skip
                w.summary.deductions += done is not None
    # Restock what is running low; now and then a stock count finds a damaged item.
    shops = [(v.shop, v.goods, v.staff) for v in w.villages if v.shop is not None] + list(w.town_shops.values())
    for _shop, goods, staff in shops:
        t = _at(first + dt.timedelta(days=rng.randint(0, 4)), rng.uniform(9, 16))
        if t >= end:
            continue
        fresh = dict(Goods.objects.filter(pk__in=[g.pk for g in goods]).values_list("pk", "stock"))
        with frozen(t):
            for g in goods:
                full = w.stock_at_opening[g.pk]
                if fresh[g.pk] <= full * 0.6:
                    points.goods_restock(goods=g, delta=full - fresh[g.pk], by=staff, note="月度补货")
                elif fresh[g.pk] > 0 and rng.random() < 0.02:
                    points.goods_restock(goods=g, delta=-1, by=staff, note="盘点：包装破损报损1件", count=True)


# --- the shop: at the counter, and the demo logins reserving online ---------------------------------------------


def _pick_goods(w: _World, goods: list[Goods], balance: int, share: float) -> Goods | None:
    """Goods for at most `share` of the balance: people keep some points back."""
    affordable = [g for g in goods if g.price <= balance * share]
    if not affordable:
        return None
    # Cheap everyday goods most often; a big item when the points are there.
    return w.rng.choices(affordable, [1 + g.price / 100 for g in affordable])[0]


def _counter(w: _World, v: _Village, week: dt.datetime) -> None:
    rng, end = w.rng, w.end
    if v.shop is None or not v.goods:
        return
    saturday = (week + dt.timedelta(days=(5 - week.weekday()) % 7)).date()
    n = rng.choice([1, 1, 2, 3]) if rng.random() < 0.8 * v.rate else 0
    rich = _balances(v, min(g.price for g in v.goods)) if n else []
    for rid, balance in rng.sample(rich, min(n, len(rich))):
        t = _at(saturday, rng.uniform(9, 11.5))
        town = w.town_shops.get(v.town.pk)
        goods, staff = v.goods, v.staff
        if town is not None and balance >= 150 and rng.random() < 0.15:
            _shop, goods, staff = town
            t = _at(saturday - dt.timedelta(days=rng.randint(1, 5)), rng.uniform(9, 17))
        g = _pick_goods(w, goods, balance, 0.8)
        if g is None or t >= end:
            continue
        resident = w.residents[rid]
        with frozen(t):
            made = _try(
                points.redeem, goods=g, resident=resident, quantity=1, by=staff,
                key=f"demo-{t:%Y%m%d%H%M%S}-{resident.pk}",
            )  # fmt: skip
        if made is None:
            continue
        w.summary.redemptions += 1
        if rng.random() < 0.02:
            with frozen(t + dt.timedelta(minutes=rng.uniform(5, 120))):
                _try(points.redemption_cancel, redemption=made[0], by=staff, reason=REDEEM_CANCEL)


def _online(w: _World, week: dt.datetime) -> None:
    """The demo logins reserve goods on their phones and pick them up at the shop, or cancel, or forget."""
    rng, end = w.rng, w.end
    last = week + dt.timedelta(days=7) >= end  # this week's reservations are still to be picked up
    for name in ("volunteer", "volunteer", "resident") if last else ("volunteer", "resident"):
        x, user = w.demo.get(name), w.logins.get(name)
        if x is None or user is None or not (last or rng.random() < 0.2):
            continue
        v = next(o for o in w.villages if x in o.volunteers)
        balance = Account.objects.filter(resident=x.resident).values_list("balance", flat=True).first() or 0
        goods, staff = v.goods, v.staff
        town = w.town_shops.get(v.town.pk)
        if town is not None and balance >= 400 and rng.random() < 0.3:
            _shop, goods, staff = town
        g = _pick_goods(w, goods, balance, 0.5)
        t = (end - dt.timedelta(hours=rng.uniform(3, 40))) if last else _at(
            (week + dt.timedelta(days=rng.uniform(0, 6))).date(), rng.uniform(7, 22)
        )  # fmt: skip
        if g is None or t >= end:
            continue
        with frozen(t):
            made = _try(
                points.redeem, goods=g, resident=x.resident, quantity=1, by=user, key=f"demo-online-{t:%Y%m%d%H%M%S}"
            )
        if made is None:
            continue
        r = made[0]
        w.summary.redemptions += 1
        if last:
            continue  # still to pick up
        roll = rng.random()
        if roll < 0.75:
            t2 = t + dt.timedelta(days=rng.uniform(0.2, 5))
            if t2 < end:
                with frozen(t2):
                    _try(points.redemption_collect, redemption=r, by=staff)
        elif roll < 0.9:
            t2 = t + dt.timedelta(days=rng.uniform(0.1, 3))
            if t2 < end:
                with frozen(t2):
                    _try(points.redemption_cancel, redemption=r, by=user, reason=RESIDENT_CANCEL)
        elif r.pickup_by is not None and r.pickup_by < end:
            with frozen(min(end, r.pickup_by + dt.timedelta(minutes=rng.uniform(1, 50)))):
                points.pickup_lapse_one()  # not picked up in time: the worker puts points and goods back
