"""A year of demo work orders, played through the services on a replayed clock.

Every order walks the real lifecycle (submit, dispatch, sign for, resolve, rate, …) with the clock set
to when each step happened, so deadlines, overdue flags, events and ratings are what the running system
would have produced. At the end the deadline worker runs once at the real 'now', closing what is past
its rating window and flagging what is overdue.
"""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass, field

from django.contrib.auth.hashers import make_password
from django.db import transaction

from accounts.models import Role, RoleAssignment, User
from accounts.services import role_assign
from catalog import defaults
from catalog.models import Category, DispatchRule, ServiceItem, Urgency
from core.clock import SHANGHAI, frozen, now
from core.errors import ApiError
from org.models import Department, Level, Node, Resident, path_ids
from workorders import deadlines, services
from workorders.models import Channel, Kind, WorkOrder
from workorders.services import Unit

# second-level category code (or top level) → department name ending, as a county would set it up
RULES: list[tuple[str, str]] = [
    ("0101", "住房和城乡建设局"),
    ("010201", "自来水公司"),
    ("010202", "供电公司"),
    ("010203", "自来水公司"),
    ("0103", "住房和城乡建设局"),
    ("0104", "自然资源和规划局"),
    ("02", "生态环境局"),
    ("03", "民政局"),
    ("0303", "残疾人联合会"),
    ("0304", "医疗保障局"),
    ("04", "农业农村局"),
    ("0502", "应急管理局"),
    ("06", "人力资源和社会保障局"),
]

TEXTS: dict[str, list[str]] = {
    "010101": ["村口路灯不亮已经一周了，晚上出行不安全", "小区3栋前路灯闪烁，麻烦修一下"],
    "010102": ["通组公路有个大坑，下雨天积水，电动车容易摔", "桥头水泥路面开裂"],
    "010103": ["路边井盖丢失，有小孩经过很危险"],
    "010201": ["今天早上开始停水，没有接到通知", "自来水断断续续，已经两天了"],
    "010202": ["整个湾组停电了，老人家里冰箱药品要冷藏", "电压不稳，灯泡老是烧坏"],
    "010203": ["自来水发黄有异味"],
    "010301": ["闻到楼道里有燃气味"],
    "010302": ["暖气不热，家里老人受不了"],
    "010401": ["邻居在承包地上违规建房"],
    "010402": ["老房子墙体开裂，下雨漏水，申请危房改造"],
    "020101": ["垃圾桶满了好几天没人清运", "河边堆了很多建筑垃圾"],
    "020102": ["生活污水直接排到沟里，气味很大"],
    "020103": ["有人在田里焚烧秸秆，烟很大"],
    "020201": ["工地晚上十点以后还在施工"],
    "020202": ["楼下商铺音响声音太大"],
    "030101": ["家里收入低，想咨询低保怎么申请"],
    "030102": ["家里突发大病，能否申请临时救助"],
    "030201": ["父亲今年满80岁，高龄津贴怎么领"],
    "030202": ["独居老人需要上门助餐服务"],
    "030301": ["孩子肢体残疾，想办残疾证"],
    "030302": ["残疾人两项补贴这个月没到账"],
    "030401": ["住院费用医保报销比例有疑问"],
    "030402": ["想预约县医院专家号，不会在手机上操作"],
    "040101": ["水稻出现病虫害，需要农技人员指导"],
    "040102": ["灌溉渠道堵塞，田里放不进水"],
    "040201": ["和邻组对承包地边界有争议"],
    "040202": ["想把承包地流转出去，手续怎么办"],
    "050101": ["邻居家排水管对着我家院子，多次沟通无果", "宅基地界址纠纷"],
    "050102": ["家庭赡养纠纷，需要调解"],
    "050201": ["楼道堆放杂物，堵塞消防通道"],
    "050202": ["学校门口路段没有减速带，车速很快"],
    "060101": ["在工地干了半年，老板拖欠工资"],
    "060102": ["公司不签劳动合同"],
    "060201": ["想参加电工技能培训"],
    "060202": ["返乡创业，想了解创业担保贷款"],
    "990101": ["建议村里增设健身器材"],
}

REPLIES = [
    "已安排人员现场处理，问题已解决。",
    "经核实，已协调相关单位整改完毕。",
    "已电话联系诉求人，解释相关政策并指导办理。",
    "已现场查看并维修，恢复正常。",
    "已调解双方达成一致意见。",
]


@dataclass
class DemoWorld:
    rng: random.Random
    dispatcher: User
    county: Node
    residents: list[Resident]
    staff_by_grid: dict[int, User]
    clerks: dict[int, User] = field(default_factory=dict)  # department id → a clerk
    local: dict[int, User] = field(default_factory=dict)  # node id → a local handler
    categories: list[Category] = field(default_factory=list)
    items: list[ServiceItem] = field(default_factory=list)


def _clerk(w: DemoWorld, dept: Department) -> User:
    if dept.pk not in w.clerks:
        ra = RoleAssignment.objects.filter(department=dept).select_related("user").first()
        if ra is None:
            user = User.objects.create(
                username=f"clerk-{dept.code.lower()}", display_name=f"{dept.name[-6:]}经办人", is_staff=True,
                password=make_password(None),
            )  # fmt: skip
            role_assign(user=user, role=Role.DEPT_STAFF, department=dept)
        else:
            user = ra.user
        w.clerks[dept.pk] = user
    return w.clerks[dept.pk]


def _local(w: DemoWorld, node: Node) -> User:
    if node.pk not in w.local:
        ra = (
            RoleAssignment.objects.filter(node=node, role__in=[Role.TOWN_STAFF, Role.VILLAGE_STAFF, Role.GRID_WORKER])
            .select_related("user")
            .first()
        )
        if ra is None:
            roles: dict[int, str] = {Level.TOWN: Role.TOWN_STAFF, Level.VILLAGE: Role.VILLAGE_STAFF}
            role = roles.get(node.level, Role.GRID_WORKER)
            user = User.objects.create(
                username=f"unit-{node.code}", display_name=f"{node.name}经办人", is_staff=True,
                password=make_password(None),
            )  # fmt: skip
            role_assign(user=user, role=role, node=node)
        else:
            user = ra.user
        w.local[node.pk] = user
    return w.local[node.pk]


def _handler(w: DemoWorld, order: WorkOrder) -> User:
    if order.department is not None:
        return _clerk(w, order.department)
    assert order.unit_node is not None  # dispatched: to a department or to a node
    return _local(w, order.unit_node)


def setup_catalog() -> None:
    """The default catalogue, and dispatch rules pointing its categories at the demo county's departments."""
    defaults.load_defaults()
    county = Node.objects.filter(level=Level.COUNTY).order_by("id").first()
    if county is None or DispatchRule.objects.exists():
        return
    depts = list(Department.objects.filter(jurisdiction=county))
    cats = {c.code: c for c in Category.objects.all()}
    for code, ending in RULES:
        dept = next((d for d in depts if d.name.endswith(ending)), None)
        if dept is not None and code in cats:
            DispatchRule.objects.create(name=f"{cats[code].name}→{ending}", category=cats[code], department=dept)
    DispatchRule.objects.create(name="矛盾纠纷→村", category=cats["0501"], handle_at_level=Level.VILLAGE)
    DispatchRule.objects.create(name="兜底→镇", handle_at_level=Level.TOWN, priority=999)


def _at(t: dt.datetime, hours: float) -> dt.datetime:
    return t + dt.timedelta(hours=hours)


@transaction.atomic
def seed_orders(*, count: int, seed: int = 1, end: dt.datetime | None = None) -> int:
    """Play `count` orders over the year before `end`; returns how many were made."""
    setup_catalog()
    county = Node.objects.filter(level=Level.COUNTY).order_by("id").first()
    if county is None:
        return 0
    rng = random.Random(seed)
    end = end or now()
    dispatcher = (
        User.objects.filter(roles__role=Role.DISPATCHER).order_by("id").first()
        or User.objects.filter(is_superuser=True).order_by("id").first()
    )
    residents = list(
        Resident.objects.filter(path__startswith=county.path)
        .exclude(phone="")
        .select_related("household__grid", "user")[:5000]
    )
    staff_by_grid = {
        ra.node_id: ra.user
        for ra in RoleAssignment.objects.filter(role=Role.GRID_WORKER).select_related("user")
        if ra.node_id is not None
    }  # fmt: skip
    if not residents or dispatcher is None:
        return 0
    w = DemoWorld(rng=rng, dispatcher=dispatcher, county=county, residents=residents, staff_by_grid=staff_by_grid)
    w.categories = list(Category.objects.filter(level=3, code__in=list(TEXTS)))
    w.items = list(ServiceItem.objects.filter(is_published=True).select_related("category"))
    demo_resident = next((r for r in residents if r.user is not None and r.user.username == "resident"), None)
    made = 0
    for i in range(count):
        # More orders lately: the county is using the system more and more.
        # More orders lately (the county uses the system more and more), and a working week's worth still
        # fresh, so that every queue has something in it.
        age_days = rng.uniform(0, 5) if rng.random() < 0.1 else 365 * (rng.random() ** 1.6)
        start = end - dt.timedelta(days=age_days)
        start = start.astimezone(SHANGHAI).replace(hour=rng.randint(7, 21), minute=rng.randint(0, 59))
        if start >= end:
            start = end - dt.timedelta(hours=2)
        resident = demo_resident if (demo_resident and i % 60 == 0) else rng.choice(residents)
        try:
            _one(w, resident, start, end)
            made += 1
        except ApiError:
            continue  # a random path the rules refuse (e.g. nothing to duplicate): skip it
    with frozen(end):
        while deadlines.handle_one():
            pass
    return made


def _one(w: DemoWorld, resident: Resident, t: dt.datetime, end: dt.datetime) -> None:
    rng = w.rng
    grid = resident.household.grid
    roll = rng.random()
    by = None
    owner = None
    if resident.user_id:
        channel, by, owner = Channel.MOBILE, resident.user, resident
    elif roll < 0.35:
        channel, by, owner = Channel.HOTLINE, w.dispatcher, resident
    elif roll < 0.55:
        channel, by, owner = Channel.PATROL, w.staff_by_grid.get(grid.pk, w.dispatcher), resident
    elif roll < 0.65:
        channel, by, owner = Channel.WINDOW, w.dispatcher, resident
    else:
        channel = rng.choice([Channel.MOBILE, Channel.WEB])
    item = None
    if rng.random() < 0.12 and w.items:
        item = rng.choice(w.items)
        kind, category = Kind.SERVICE, item.category
        text = f"申请{item.name}"
        form = {}
        for f in item.form_fields:
            form[f["name"]] = {
                "choice": (f.get("choices") or [""])[0], "number": 3, "date": t.date().isoformat(), "bool": True,
            }.get(f["type"], "详见电话沟通")  # fmt: skip
    else:
        category = rng.choice(w.categories)
        kind = rng.choices(
            [Kind.COMPLAINT, Kind.HELP, Kind.CONSULT, Kind.REPORT, Kind.SUGGESTION], weights=[35, 30, 15, 12, 8]
        )[0]
        text = rng.choice(TEXTS[category.code])
        form = {}
    urgency = Urgency.EMERGENCY if rng.random() < 0.03 else Urgency.URGENT if rng.random() < 0.08 else Urgency.NORMAL
    lat = lng = None
    if grid.lat is not None and grid.lng is not None and rng.random() < 0.6:
        lat = grid.lat + type(grid.lat)(f"{rng.uniform(-0.002, 0.002):.6f}")
        lng = grid.lng + type(grid.lng)(f"{rng.uniform(-0.002, 0.002):.6f}")
    with frozen(t):
        order = services.workorder_submit(
            by=by, kind=kind, category=category, item=item, text=text, channel=channel, urgency=urgency,
            owner=owner, grid=grid, lat=lat, lng=lng, address=resident.household.address,
            contact_name=resident.name, contact_phone=resident.phone, form_data=form,
        ).order  # fmt: skip

    def step(hours: float) -> dt.datetime | None:
        nonlocal t
        t = _at(t, hours)
        return t if t < end else None

    # A consultation the dispatcher answers at once.
    if kind == Kind.CONSULT and rng.random() < 0.5:
        if step(rng.uniform(0.2, 3)) is None:
            return
        with frozen(t):
            order = services.workorder_answer(order=order, by=w.dispatcher, reply=rng.choice(REPLIES))
        _rate(w, order, t, end, good=0.95)
        return
    # The same problem reported twice: linked to the earlier order.
    if rng.random() < 0.03:
        earlier = (
            WorkOrder.objects.filter(category=category, grid=grid, created_at__lt=t, primary__isnull=True)
            .exclude(pk=order.pk)
            .exclude(state__in=["closed", "cancelled", "duplicate"])
            .order_by("-id")
            .first()
        )
        if earlier is not None and step(rng.uniform(0.2, 2)) is not None:
            with frozen(t):
                order = services.workorder_mark_duplicate(order=order, primary=earlier, by=w.dispatcher)
            return
    if step(rng.uniform(0.2, 8)) is None:
        return
    unit = _suggested(order)
    with frozen(t):
        order = services.workorder_dispatch(order=order, to=unit, by=w.dispatcher)
    # 退单: the unit says it is not theirs; the dispatcher sends it to the town.
    if rng.random() < 0.07:
        if step(rng.uniform(0.5, 6)) is None:
            return
        with frozen(t):
            order = services.workorder_return(
                order=order, by=_handler(w, order), reason="不属于本单位职责范围，建议由属地乡镇处理"
            )
        if step(rng.uniform(0.5, 4)) is None:
            return
        town = Node.objects.get(pk=path_ids(order.path)[1])
        with frozen(t):
            order = services.workorder_dispatch(order=order, to=Unit(node=town), by=w.dispatcher)
    _handle(w, order, t, end, slow=rng.random() < 0.12)


def _suggested(order: WorkOrder) -> Unit:
    if order.suggested_department_id:
        return Unit(department=order.suggested_department)
    if order.suggested_node_id:
        return Unit(node=order.suggested_node)
    town = Node.objects.get(pk=path_ids(order.path)[1])
    return Unit(node=town)


def _handle(w: DemoWorld, order: WorkOrder, t: dt.datetime, end: dt.datetime, *, slow: bool) -> None:
    rng = w.rng
    handler = _handler(w, order)
    t = _at(t, rng.uniform(0.1, 8 if slow else 3))
    if t >= end:
        return
    with frozen(t):
        order = services.workorder_accept(order=order, by=handler)
    span = (order.due_at - t).total_seconds() / 3600 if order.due_at else 48
    t = _at(t, span * (rng.uniform(1.05, 2.0) if slow else rng.uniform(0.1, 0.8)))
    if t >= end:
        if rng.random() < 0.5:
            assert order.accepted_at is not None  # accepted just above
            with frozen(min(end, _at(order.accepted_at, 1))):
                order = services.workorder_start(order=order, by=handler)
        return
    with frozen(t):
        order = services.workorder_resolve(order=order, by=handler, reply=rng.choice(REPLIES))
    _rate(w, order, t, end, good=0.9)


def _rate(w: DemoWorld, order: WorkOrder, t: dt.datetime, end: dt.datetime, *, good: float) -> None:
    rng = w.rng
    if rng.random() > 0.75:
        return  # not rated: the worker will close it when the window has passed
    t = _at(t, rng.uniform(1, 60))
    order.refresh_from_db()
    if t >= end or (order.rate_by and t >= order.rate_by):
        return
    rater = order.owner_user or order.submitted_by or w.dispatcher
    ok = rng.random() < good
    with frozen(t):
        services.workorder_rate(
            order=order, by=rater, solved=ok, satisfaction=rng.choice([5, 5, 5, 4, 4, 3]) if ok else rng.choice([2, 1]),
            comment="" if ok else "问题没有解决",
        )  # fmt: skip
    if ok:
        if rng.random() < 0.1:
            t = _at(t, rng.uniform(2, 30))
            if t < end:
                with frozen(t):
                    services.workorder_callback(order=order, by=w.dispatcher, reached=True, solved=True, satisfaction=5)
        return
    # 重办: back to the same unit with a rectification period, then a mandatory callback.
    t = _at(t, rng.uniform(1, 8))
    if t >= end:
        return
    unit = Unit(department=order.department) if order.department_id else Unit(node=order.unit_node)
    with frozen(t):
        order = services.workorder_dispatch(order=order, to=unit, by=w.dispatcher, note="群众不满意，重新办理")
    handler = _handler(w, order)
    t = _at(t, rng.uniform(0.5, 4))
    if t >= end:
        return
    with frozen(t):
        order = services.workorder_accept(order=order, by=handler)
    t = _at(t, rng.uniform(4, 60))
    if t >= end:
        return
    with frozen(t):
        order = services.workorder_resolve(order=order, by=handler, reply="已重新处理并回访确认。")
    t = _at(t, rng.uniform(4, 30))
    if t >= end:
        return
    with frozen(t):
        services.workorder_callback(order=order, by=w.dispatcher, reached=True, solved=True, satisfaction=4)
