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
from demo import appeals
from org.models import Department, Level, Node, Resident, path_ids
from workorders import deadlines, services
from workorders.models import Channel, Kind, WorkOrder
from workorders.services import Unit

# category code (any level) → department name ending, as a county would set it up; the most specific
# category's rule wins (catalog.services.suggest_unit), so an area's rule is the default and a second- or
# third-level one the exception. Without a rule (矛盾纠纷 is the village's, below; 政策咨询, 村务公开, 企业服务
# and 其他 have none) an order goes to the town.
RULES: list[tuple[str, str]] = [
    # 01 城乡建设
    ("01", "住房和城乡建设局"),
    ("010201", "自来水公司"),
    ("010202", "供电公司"),
    ("010203", "自来水公司"),
    ("010204", "供电公司"),
    ("0104", "自然资源和规划局"),
    ("010402", "住房和城乡建设局"),  # 危房改造
    ("0107", "城市管理执法局"),
    # 02 环境保护
    ("02", "生态环境局"),
    ("020101", "城市管理执法局"),  # 垃圾清运
    ("020202", "公安局"),  # 社会生活噪声
    ("020502", "城市管理执法局"),  # 露天烧烤
    # 03 民政
    ("03", "民政局"),
    ("0303", "残疾人联合会"),
    ("0304", "医疗保障局"),
    ("030402", "卫生健康局"),  # 看病就医
    ("0307", "退役军人事务局"),
    # 04 农村农业
    ("04", "农业农村局"),
    ("040102", "水利和湖泊局"),  # 灌溉水利
    ("0403", "水利和湖泊局"),
    ("0404", "乡村振兴局"),
    # 05 政法
    ("0502", "应急管理局"),
    ("050202", "交通运输局"),  # 交通隐患
    ("0503", "公安局"),
    ("0504", "公安局"),
    ("0505", "司法局"),
    ("0506", "公安局"),
    # 06 劳动和社会保障
    ("06", "人力资源和社会保障局"),
    # 07 交通运输
    ("07", "交通运输局"),
    # 08 教育文体
    ("08", "教育局"),
    ("0805", "文化和旅游局"),
    # 09 商贸旅游
    ("09", "市场监督管理局"),
    ("0903", "文化和旅游局"),
    # 10 卫生计生
    ("10", "卫生健康局"),
    ("1005", "市场监督管理局"),  # 食品卫生
    # 11 党务政务
    ("1101", "数据局"),  # 政务服务
    ("1102", "信访局"),  # 办事效率
    # 12 经济管理
    ("1202", "财政局"),
    ("120201", "住房和城乡建设局"),  # 拖欠工程款
    ("1203", "市场监督管理局"),
    # 13 国土资源
    ("13", "自然资源和规划局"),
    ("130302", "水利和湖泊局"),  # 河道采砂
    # 14 科技与信息产业
    ("14", "数据局"),
    # 15 纪检监察: no 纪委监委 among the demo's departments; 信访局 takes complaints about officials
    ("15", "信访局"),
]

# leaf code → core sentences, the categories the demo plays (demo.appeals.appeal_text composes fuller ones)
TEXTS: dict[str, list[str]] = {code: list(cores) for code, cores in appeals.LEAF_TEXTS.items()}

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
        text = appeals.appeal_text(category.code, rng, place=grid.name)
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


# One matter, many voices: what a village's households say in the days a water main has burst near the
# school. The demo plants them over the last two days so that the hot-topic scan flags them (未诉先办).
HOT_VOICES: list[str] = [
    "小学门口的自来水管爆了，水冲到马路上，已经淌了一上午",
    "学校门口那条路全是水，听说是自来水主管破了，伢们上学要蹚水",
    "市民来电反映，小学门口水管破裂漏水严重，路面积水，家里水压也很小，请尽快抢修",
    "小学旁边自来水管爆裂，水哗哗地流，浪费太可惜了，麻烦自来水公司快来修",
    "今早小学门口水管爆了，路上积水很深，电动车都过不去",
    "诉求人称，小学门口自来水管道破裂，漏水两天了还没人来修，家里水龙头出水很小",
    "小学门口地下水管破了，水往外冒，路面都泡软了，担心塌陷",
]


@dataclass(frozen=True)
class Smart:
    model: int | None  # the version trained, if there were enough decided appeals
    accuracy: float | None
    planted: int
    topics: int
    flagged: int


def seed_smart(*, seed: int = 0) -> Smart:
    """Train the smart-dispatch model on the demo year's decided appeals, plant one rising matter, scan.

    After this, `make run` shows the model's guesses on new appeals and on the console, and one flagged
    hot topic with the appeals behind it."""
    from triage import services as triage
    from workorders import hot
    from workorders.services.routing import setting, training_rows

    rng = random.Random(seed + 19)
    rows = list(training_rows())
    version = accuracy = None
    if len(rows) >= setting("TRAIN_MIN_ORDERS") and len({r[1] for r in rows}) >= 2:
        trained = triage.train(rows, holdout=0.1, seed=seed)
        version = triage.classifier_store(trained=trained, orders=len(rows), by="seed_demo").pk
        accuracy = trained.report.get("category", {}).get("accuracy")
    planted = _plant_hot(rng)
    topics, flagged = hot.scan()
    return Smart(model=version, accuracy=accuracy, planted=planted, topics=topics, flagged=flagged)


def _plant_hot(rng: random.Random) -> int:
    """HOT_VOICES from different households of one village, over the last two days."""
    category = Category.objects.filter(code="010201").first()  # 停水
    grids = (
        Resident.objects.filter(household__isnull=False, household__grid__isnull=False)
        .values_list("household__grid__parent_id", flat=True)
        .distinct()
    )
    village = next(iter(grids), None)
    if category is None or village is None:
        return 0
    residents = list(
        Resident.objects.filter(household__grid__parent_id=village)
        .select_related("household__grid", "user")
        .order_by("household_id")
    )
    by_household: dict[int, Resident] = {}
    for r in residents:
        by_household.setdefault(r.household_id, r)
    voices = list(by_household.values())[: len(HOT_VOICES)]
    dispatcher = User.objects.filter(roles__role=Role.DISPATCHER).order_by("id").first()
    end = now()
    made = 0
    for i, (resident, text) in enumerate(zip(voices, HOT_VOICES, strict=False)):
        grid = resident.household.grid
        t = end - dt.timedelta(hours=44 - i * 6, minutes=rng.randint(0, 50))
        with frozen(t):
            services.workorder_submit(
                by=resident.user or dispatcher, kind=Kind.COMPLAINT, category=category, item=None, text=text,
                channel=Channel.MOBILE if resident.user_id else Channel.HOTLINE, urgency=Urgency.URGENT,
                owner=resident, grid=grid, lat=grid.lat, lng=grid.lng, address=resident.household.address,
                contact_name=resident.name, contact_phone=resident.phone, form_data={},
            )  # fmt: skip
        made += 1
    return made
