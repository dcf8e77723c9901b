"""Scoped reads of work orders: the queues, one order's detail and timeline, similar open orders."""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from decimal import Decimal
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.db import connection
from django.db.models import F, Max, Q, QuerySet
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from catalog.models import UNCLASSIFIED, Category
from core.clock import now
from core.errors import NotFound
from core.geo import distance_km
from core.masking import mask_name
from core.memo import memo
from core.validation import one_line
from org.access import path_range, paths_q
from org.models import path_ids, path_prefixes
from org.selectors import whole_number
from workorders.access import orders_for, work_scope
from workorders.deadlines import setting
from workorders.models import Event, Extension, HotTopic, Kind, WorkOrder
from workorders.states import (
    CLOCK_STATES,
    DISPATCH_QUEUE,
    FINAL_STATES,
    HANDLING_STATES,
    MACHINE,
    OPEN_STATES,
    SIMILAR_STATES,
    State,
)

if TYPE_CHECKING:
    from accounts.models import Viewer


@dataclass
class QueueFilter:
    state: str | None = None
    states: frozenset[str] | None = None
    category: Category | None = None
    department_id: int | None = None
    unit_node_id: int | None = None
    overdue: bool | None = None
    channel: str | None = None
    kind: str | None = None
    node_path: str | None = None
    q: str = ""
    mine: bool = False  # only what the user owns or submitted
    queue: str = ""  # dispatch | handle | callback | extension | ""


def looks_like_code(text: str) -> bool:
    from workorders.services import TRACKING_ALPHABET, TRACKING_LENGTH

    return len(text) == TRACKING_LENGTH and all(ch in TRACKING_ALPHABET for ch in text)


def category_ids(category: Category) -> list[int]:
    """The category and everything under it (three levels at most): the category table is small, and
    `category_id IN (…)` keeps the order table's index usable without joins."""
    ids = {category.pk}
    frontier = {category.pk}
    for _level in range(2):
        frontier = set(Category.objects.filter(parent_id__in=frontier).values_list("pk", flat=True))
        ids |= frontier
    return sorted(ids)


WALK_SHARE = 40
WALK_MIN = 1000  # below a thousand matching orders, sorting them is cheap whatever the share


def _category_filter(qs: QuerySet[WorkOrder], category: Category) -> QuerySet[WorkOrder]:
    """Orders of the category's subtree, for a list shown newest first.

    SQLite's one index that starts with the category is (category_id, created_at): through it, a
    common category is read whole and its rows sorted by id to show a page — 250 ms for 84,000 orders
    of a million (bench/queue.py). When at least one order in WALK_SHARE is of the subtree, walking the
    ids newest first and skipping the others finds a page within a few thousand rows; `category_id + 0`
    keeps SQLite off the category index. Which case applies is told by counting the subtree's orders
    through that index up to 1/WALK_SHARE of the table (index only, ~2 ms at a million). The share
    bounds both sides at a million orders: the page's capped count (10,001 matches) reads at most
    400,000 rows when walking (~80 ms), the index reads and sorts at most 25,000 when not (~75 ms).
    PostgreSQL plans this well by itself."""
    ids = category_ids(category)
    if connection.vendor == "sqlite":
        top = WorkOrder.objects.aggregate(top=Max("id"))["top"] or 0
        cap = max(WALK_MIN, top // WALK_SHARE)
        if WorkOrder.objects.filter(category_id__in=ids).order_by()[:cap].count() >= cap:
            return qs.alias(category_unindexed=F("category_id") + 0).filter(category_unindexed__in=ids)
    return qs.filter(category_id__in=ids)


def order_list(*, user: Viewer, f: QueueFilter) -> QuerySet[WorkOrder]:
    qs = orders_for(user)
    ws = work_scope(user)
    if f.mine:
        qs = qs.filter(Q(owner_user=user) | Q(submitted_by=user))
    if f.queue == "dispatch":
        qs = qs.filter(state__in=DISPATCH_QUEUE)
    elif f.queue == "handle":
        handle = Q(pk__in=[])
        if ws.department_ids:
            handle |= Q(department_id__in=ws.department_ids)
        for p in ws.handler_paths:
            handle |= path_range(p, "unit_path")
        qs = qs.filter(handle, state__in=HANDLING_STATES | {State.SUSPENDED})
    elif f.queue == "callback":
        qs = qs.filter(Q(state__in=[State.RESOLVED, State.RATED], callback_required=True))
    elif f.queue == "extension":
        qs = qs.filter(_extension_pending())
    if f.state:
        qs = qs.filter(state=f.state)
    if f.states:
        qs = qs.filter(state__in=f.states)
    if f.category is not None:
        qs = _category_filter(qs, f.category)
    if f.department_id:
        qs = qs.filter(department_id=f.department_id)
    if f.unit_node_id:
        qs = qs.filter(unit_node_id=f.unit_node_id)
    if f.overdue is not None:
        qs = (
            qs.filter(overdue=f.overdue) if f.overdue is False else qs.filter(Q(overdue=True) | Q(respond_overdue=True))
        )
    if f.channel:
        qs = qs.filter(channel=f.channel)
    if f.kind:
        qs = qs.filter(kind=f.kind)
    if f.node_path:
        qs = qs.filter(path_range(f.node_path, "path"))
    if f.q:
        code = f.q.strip().upper()
        # A tracking code read out over the phone: one index lookup, not a scan of every title.
        qs = qs.filter(tracking_code=code) if looks_like_code(code) else qs.filter(title__contains=f.q)
    return qs.select_related("category", "department", "unit_node", "grid").order_by("-id")


def _extension_pending() -> Q:
    """Orders whose unit asked for more time (延期) and waits for the dispatcher's answer. IN (subquery):
    the pending requests are few and read through their own partial index (one_pending_extension)."""
    return Q(pk__in=Extension.objects.filter(status=Extension.Status.PENDING).values("order_id"))


def pending_extension_count(*, user: Viewer) -> int:
    """How many orders in `user`'s lists wait for a decision on more time: the number on the console's
    tab (延期待批). Scoped like order_list; at most one request per order is pending (a constraint)."""
    return orders_for(user).filter(_extension_pending()).count()


def local_open_orders(*, user: Viewer, f: QueueFilter) -> QuerySet[WorkOrder]:
    """Open orders located in the grids, villages or towns a local handler looks after (网格员: my grid's
    work), whoever handles them."""
    paths = work_scope(user).handler_paths
    if not paths:
        return WorkOrder.objects.none()
    return order_list(user=user, f=f).filter(paths_q(paths, "path"), state__in=OPEN_STATES)


def time_colour(order: WorkOrder, at: dt.datetime | None = None) -> str:
    """red: overdue · amber: past the warning point · green: in time · grey: no clock running (a reopened
    order's clock runs from the reopening: states.CLOCK_STATES)."""
    t = at or now()
    if order.state not in CLOCK_STATES:
        return "grey"
    if order.overdue or (order.due_at and t >= order.due_at):
        return "red"
    if order.respond_overdue or (order.warn_at and t >= order.warn_at):
        return "amber"
    return "green"


def timeline(order: WorkOrder, *, public: bool) -> QuerySet[Event]:
    qs = Event.objects.filter(order=order).select_related("actor")
    if public:
        qs = qs.filter(public=True)
    return qs.order_by("id")


def public_actor(event: Event, order: WorkOrder) -> str:
    """Who did it, as the public timeline says it: a unit or role, never a clerk's name."""
    from django.utils.translation import gettext as _

    if event.action in ("submit", "rate", "cancel"):
        return _("Resident")
    unit = event.data.get("unit") or event.data.get("to")
    if event.action in ("dispatch", "reassign", "mark_duplicate", "answer", "callback", "reopen", "close"):
        return _("Dispatch centre")
    return str(unit or _("Handling unit"))


def reporter_name(order: WorkOrder, *, viewer: Viewer) -> str:
    if work_scope(viewer).sees_person(order):
        return order.contact_name
    return "" if order.anonymous else mask_name(order.contact_name)


def reporter_phone(order: WorkOrder, *, viewer: Viewer, channel: str, path: str = "") -> str:
    """The number to call the reporter back on: whole for the reporter themself and whoever typed it in,
    for staff who see phones where the order is and for its dispatchers — each such read by someone else
    logged as the owner's (or, for a hotline caller not on the register, as the order's caller's)."""
    ws = work_scope(viewer)
    if ws.is_owner(order) or order.submitted_by_id == getattr(viewer, "pk", None):
        return order.contact_phone
    allowed = ws.covers(ws.scope.phone_paths, order.path) or ws.can_dispatch(order)
    owner = SimpleNamespace(pk=order.owner_id, user_id=order.owner_user_id) if order.owner_id else None
    return whole_number(
        viewer, order.contact_phone, field="phone", allowed=allowed, channel=channel, path=path, resident=owner,
        subject="" if owner else f"workorder:{order.tracking_code}:caller",
    )  # fmt: skip


@dataclass(frozen=True)
class SimilarOrder:
    """An open order that looks like the same problem (read as a plain row: this runs on every intake)."""

    pk: int
    tracking_code: str
    title: str
    state: str
    created_at: dt.datetime
    category: Category
    # What workorders.access.orders_q looks at, to decide visibility without another query.
    path: str = ""
    unit_path: str = ""
    owner_user_id: int | None = None
    submitted_by_id: int | None = None

    @property
    def id(self) -> int:
        return self.pk


SIMILAR_TEXT_CHARS = 300  # the matter is told at the start (as in workorders.hot)
_SIMILAR_COLUMNS = (
    "id", "tracking_code", "title", "state", "created_at", "path", "unit_path", "owner_user_id",
    "submitted_by_id", "lat", "lng", "category_id", f"SUBSTR(text, 1, {SIMILAR_TEXT_CHARS})",
)  # fmt: skip
SIMILAR_CANDIDATES = 20  # the newest open orders near the place that are read and compared
SIMILAR_SHOWN = 10


def appeal_words(title: str, text: str, path: str = "") -> str:
    """What an appeal says, for comparing it with others: its text, and its title when someone wrote one (an
    automatic title is the category's name and the text's first words: counting them twice would weigh the
    start double, and the category is compared on its own). The names of the places on its `path` (its town,
    village and grid) are taken out: the place is compared on its own too, and "天成公馆小区的群众反映" in
    every appeal of that community would otherwise make them all look alike."""
    start = one_line(text)[:30]
    words = text if not title or title.endswith(start) else f"{title}\n{text}"
    if path:
        names = _node_names()
        for pk in path_ids(path)[1:]:
            name = names.get(pk, "")
            if len(name) >= 2:
                words = words.replace(name, " ")
    return words


def _node_names() -> dict[int, str]:
    """Every node's name by id, kept in memory with the tree (core.memo "org")."""
    from org.models import Node

    return memo("tree").get("node-names-by-id", lambda: dict(Node.objects.values_list("pk", "name")))


def _aware(value: Any) -> dt.datetime:
    """A timestamp as the database gave it (SQLite: text in UTC; PostgreSQL: a datetime) as an aware
    datetime, the way the ORM's converters would."""
    if not isinstance(value, dt.datetime):
        value = parse_datetime(value)
    return value if timezone.is_aware(value) else value.replace(tzinfo=dt.UTC)


def similar_open_orders(
    *,
    category: Category,
    lat: Decimal | None,
    lng: Decimal | None,
    grid_id: int | None,
    exclude_id: int | None = None,
    text: str = "",
    title: str = "",
    path: str = "",
    at: dt.datetime | None = None,
) -> list[tuple[SimilarOrder, float | None]]:
    """Open orders that tell the same problem, near the place and recent: best match first.

    The candidates are the newest open appeals (any category: one resident files a dug-up road under 道路
    破损, the next under 停水) within DUPLICATE_RADIUS_M of the place when it has coordinates, else of the
    same grid, from the last DUPLICATE_WINDOW_DAYS; each is scored by triage.similar (the words, the place,
    the time, the category as a weak hint) and kept at THRESHOLD or above: ten households' reports of one
    broken road link, another matter of the same category next door does not (the measured precision and
    recall are in triage.similar). Each comes with its distance in metres when both have coordinates.

    Every submission runs this, so the candidates are one statement written out (the ORM spent ten times
    longer building it than the database did answering it); tests hold it to the same answers on SQLite and
    PostgreSQL."""
    from triage import similar

    t = at or now()
    window = setting("DUPLICATE_WINDOW_DAYS")
    radius_m = setting("DUPLICATE_RADIUS_M")
    since = t - dt.timedelta(days=window)
    radius_km = radius_m / 1000
    states = sorted(SIMILAR_STATES)  # as the partial index wo_open_recent has them
    where = [
        "created_at >= %s",
        f"state IN ({', '.join(['%s'] * len(states))})",
        "kind <> %s",
        "id <> %s",
    ]
    params: list[Any] = [
        connection.ops.adapt_datetimefield_value(since), *states, Kind.SERVICE, exclude_id or 0,
    ]  # fmt: skip
    town = path_prefixes(path)[1] if len(path_ids(path)) >= 2 else ""
    if town:
        # Within the order's town, read by the (path, id) index: a town's open orders of a fortnight are a
        # few hundred at most, where the county's are thousands (a matter does not cross a town line).
        where += ["path >= %s", "path < %s"]
        params += [town, town[:-1] + "0"]  # "0" sorts right after "/": "/1/5/…" < "/1/50"
    if lat is not None and lng is not None:  # near
        dlat = Decimal(radius_km / 111.0)
        dlng = Decimal(radius_km / (111.0 * max(0.1, math.cos(math.radians(float(lat))))))
        where += ["lat >= %s", "lat <= %s", "lng >= %s", "lng <= %s"]
        params += [lat - dlat, lat + dlat, lng - dlng, lng + dlng]
    elif grid_id is not None:
        where.append("grid_id = %s")
        params.append(grid_id)
    else:
        return []
    # Only constants and placeholders go into the text; every value travels as a parameter.
    sql = (
        f"SELECT {', '.join(_SIMILAR_COLUMNS)} FROM {WorkOrder._meta.db_table} "  # noqa: S608
        f"WHERE {' AND '.join(where)} ORDER BY id DESC LIMIT {SIMILAR_CANDIDATES}"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    if not rows:
        return []
    codes = _category_codes()
    me = similar.Doc(
        id=0, text=appeal_words(title, text[:SIMILAR_TEXT_CHARS], path), at=t, place=path,
        lat=float(lat) if lat is not None else None, lng=float(lng) if lng is not None else None,
        category=codes.get(category.pk, ""),
    )  # fmt: skip
    scored: list[tuple[float, tuple]] = []
    for row in rows:
        pk, _code, o_title, _state, created, o_path, *_rest, olat, olng, cat_id, o_text = row
        other = similar.Doc(
            id=pk, text=appeal_words(o_title, o_text or "", o_path), at=_aware(created), place=o_path,
            lat=float(olat) if olat is not None else None, lng=float(olng) if olng is not None else None,
            category=codes.get(cat_id, ""),
        )  # fmt: skip
        score = similar.same_problem_score(me, other, radius_m=radius_m, window_days=window)
        if score >= similar.THRESHOLD:
            scored.append((score, row))
    scored.sort(key=lambda x: -x[0])
    scored = scored[:SIMILAR_SHOWN]
    categories = _categories_by_id() if scored else {}
    out: list[tuple[SimilarOrder, float | None]] = []
    for _score, row in scored:
        pk, code, o_title, state, created, o_path, unit_path, owner_id, by_id, olat, olng, cat_id = row[:12]
        item = SimilarOrder(
            pk, code, o_title, state, _aware(created), categories[cat_id], o_path, unit_path, owner_id, by_id
        )
        far = None
        if None not in (lat, lng, olat, olng):
            far = round(distance_km(float(lat), float(lng), float(olat), float(olng)) * 1000)  # type: ignore[arg-type]
        out.append((item, far))
    return out


def _categories_by_id() -> dict[int, Category]:
    """Every category by id, kept in memory with the catalogue (intake names the similar orders' ones)."""
    return memo("catalog").get("categories-by-id", Category.objects.in_bulk)


def _category_codes() -> dict[int, str]:
    """Category id → code, for the similarity's category hint (kept in memory with the catalogue; the
    "to be classified" category counts as no category)."""

    def load() -> dict[int, str]:
        return {pk: ("" if code == UNCLASSIFIED else code) for pk, code in Category.objects.values_list("pk", "code")}

    return memo("catalog").get("category-codes", load)


def visible_among(user: Viewer, rows: list[SimilarOrder]) -> set[int]:
    """The ids among `rows` that `user` may see: access.WorkScope's gate asked of the rows in hand (this
    runs on every intake); only a department's assignments need the database."""
    ws = work_scope(user)
    if getattr(user, "pk", None) is None:
        return set()
    answers = {s.pk: ws.sees_row(s) for s in rows}
    visible = {pk for pk, seen in answers.items() if seen}
    ask = [pk for pk, seen in answers.items() if seen is None]
    if ask:
        visible |= set(orders_for(user).filter(pk__in=ask).values_list("pk", flat=True))
    return visible


def similar_for(*, user: Viewer, order: WorkOrder) -> list[tuple[SimilarOrder, float | None, bool]]:
    """similar_open_orders of `order` as `user` may learn of them: each with whether the user may see
    that order. Only then are its title and tracking code theirs to read; otherwise they learn that the
    problem is already being handled (near the edge of their area, staff's radius crosses into orders of
    other villages and towns)."""
    found = similar_open_orders(
        category=order.category, lat=order.lat, lng=order.lng, grid_id=order.grid_id, exclude_id=order.pk,
        text=order.text, title=order.title, path=order.path, at=order.created_at,
    )  # fmt: skip
    if not found:
        return []
    visible = visible_among(user, [s for s, _ in found])
    return [(s, d, s.pk in visible) for s, d in found]


DISPATCH_ACTIONS = frozenset(
    {"dispatch", "reassign", "answer", "reopen", "rule_unreasonable", "close", "mark_duplicate"}
)
HANDLE_ACTIONS = frozenset({"accept", "return", "transfer", "start", "suspend", "resume", "resolve"})


def available_actions(user: Viewer, order: WorkOrder) -> list[str]:
    """The state changes this user may make to the order now — the buttons a client should show."""
    ws = work_scope(user)

    def may(a: str) -> bool:
        return (
            (a in DISPATCH_ACTIONS and ws.can_dispatch(order))
            or (a in HANDLE_ACTIONS and ws.is_main_handler(order))
            or (a == "rate" and ws.is_owner(order))
            or (a == "cancel" and (ws.is_owner(order) or order.submitted_by_id == getattr(user, "pk", None)))
            or (a == "callback" and ws.can_supervise(order))
        )

    return sorted(MACHINE.allowed(order, may))


def page_actions(user: Viewer, order: WorkOrder, *, pending: Extension | None) -> set[str]:
    """available_actions plus the steps that change no state (extension, urging, notes, photos, spot
    checks), for the forms of the order page. `pending` is the order's waiting extension request."""
    ws = work_scope(user)
    out = set(available_actions(user, order))
    asking = order.state in (State.ACCEPTED, State.IN_PROGRESS, State.SUSPENDED)
    if asking and pending is None and ws.is_main_handler(order):
        out.add("extension_request")
    if pending is not None and ws.can_dispatch(order):
        out.add("extension_decide")
    if ws.can_supervise(order) and order.state in HANDLING_STATES | {State.SUSPENDED}:
        out.add("supervise")
    if ws.can_supervise(order) and order.state == State.CLOSED:
        out.add("spot_check")
    if ws.is_staff:
        out.add("note")
    uid = getattr(user, "pk", None)
    if (ws.is_owner(order) or order.submitted_by_id == uid) and order.state not in FINAL_STATES:
        out.add("photo")
    return out


def pending_extension(order: WorkOrder) -> Extension | None:
    return Extension.objects.filter(order=order, status=Extension.Status.PENDING).select_related("requested_by").first()


# --- hot topics (workorders.hot) -------------------------------------------------------------------------


def hot_topics_for(user: Viewer, *, rising_only: bool = False) -> QuerySet[HotTopic]:
    """The current hot topics with at least one appeal the user may see (their part of the tree)."""
    since = now() - dt.timedelta(days=settings.GONGZHI["TRIAGE"]["HOT_WINDOW_DAYS"])
    visible = orders_for(user).values("pk")
    qs = HotTopic.objects.filter(last_at__gte=since, orders__in=visible).distinct()
    if rising_only:
        qs = qs.filter(rising=True)
    return qs.select_related("node").order_by("-rising", "-households", "-last_at")


def access_hot_topic(user: Viewer, topic_id: int) -> tuple[HotTopic, list[WorkOrder]]:
    """A topic and the appeals behind it that the user may see; NotFound when they see none of them."""
    topic = HotTopic.objects.select_related("node").filter(pk=topic_id).first()
    if topic is None:
        raise NotFound()
    orders = list(
        orders_for(user)
        .filter(hot_topics=topic)
        .select_related("category", "grid", "department", "unit_node")
        .order_by("-created_at")
    )
    if not orders:
        raise NotFound()
    return topic, orders
