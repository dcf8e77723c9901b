"""Submitting an appeal or a service order: locating its grid, the tracking code, routing, the similar
open orders, idempotency."""

from __future__ import annotations

import datetime as dt
import secrets
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from catalog import selectors as catalog_selectors
from catalog import services as catalog
from catalog.models import UNCLASSIFIED, Category, ServiceItem, Urgency
from core import ratelimit
from core.clock import now
from core.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from core.extra import attach
from core.fastinsert import insert
from core.geo import PointIndex
from core.memo import memo
from core.validation import one_line
from org.access import residents_for
from org.models import Level, Node, Resident
from workorders import deadlines
from workorders.access import WorkScope, work_scope
from workorders.models import (
    Channel,
    Kind,
    WorkOrder,
)
from workorders.services.common import (
    RESIDENT_CHANNELS,
    TRACKING_ALPHABET,
    TRACKING_LENGTH,
    _event,
    notify_owner,
    publish,
)
from workorders.services.routing import Routing, auto_dispatch, auto_dispatch_wanted, route
from workorders.states import (
    State,
)

if TYPE_CHECKING:
    from accounts.models import User

# --- intake -----------------------------------------------------------------------------------


def _grid_index() -> PointIndex:
    return PointIndex(
        Node.objects.filter(level=Level.GRID, lat__isnull=False, lng__isnull=False).values_list(
            "id", "lat", "lng", "path", "name", "code", "parent_id"
        )
    )


def locate_grid(lat: Decimal, lng: Decimal) -> Node:
    """The grid whose centre is nearest to a point, if the point lies within reach of one. The grid
    centres are kept in memory (core.memo "tree"): intake locates every report."""
    reach = deadlines.setting("LOCATE_MAX_KM")
    best = memo("tree").get("grid-index", _grid_index).nearest(float(lat), float(lng), reach)
    if best is None:
        raise ValidationFailed(
            _("This place lies outside the area we serve."),
            code="workorder.location_outside",
            fields={"lat": [_("This place lies outside the area we serve.")]},
        )
    pk, glat, glng, path, name, code, parent_id = best[1]
    return Node(id=pk, lat=glat, lng=glng, path=path, name=name, code=code, parent_id=parent_id, level=Level.GRID)


def _may_file_into(ws: WorkScope, grid: Node, *, owner: Resident | None) -> bool:
    """Whether the filer may file this order into `grid`.

    Who may file for others (org.policy's orders.proxy: staff of a place, the dispatch centre; a party
    member for the households linked to them) files only into their own area: the grids under the nodes
    where they hold that capability, and, filing for a resident (代办), that resident's home grid (they
    passed residents_for already). That holds for everything such a filer enters that is not their own
    appeal as a resident: a patrol report (巡查) of a grid worker lands in their grid, not in another
    town's. A staff member without a resident record of their own files as staff whatever the channel.

    A resident's own appeal (its owner is the filer's resident record) keeps its rules: a problem may be
    reported wherever the resident saw it. So do people who cannot file for others at all (department
    staff, leaders, an account not linked to a resident): they may only file their own appeal anyway.
    """
    scope = ws.scope
    if owner is not None and owner.pk == scope.own_resident_id:
        return True
    if not ws.proxy_paths and not scope.linked_household_ids:
        return True
    if ws.covers(ws.proxy_paths, grid.path):
        return True
    return owner is not None and owner.household.grid_id == grid.pk


def _new_tracking_code() -> str:
    return "".join(secrets.choice(TRACKING_ALPHABET) for _ in range(TRACKING_LENGTH))


@dataclass
class Submitted:
    order: WorkOrder
    created: bool


def workorder_submit(
    *,
    by: User | None,
    kind: str,
    category: Category | None,
    text: str,
    channel: str,
    title: str = "",
    item: ServiceItem | None = None,
    urgency: str = Urgency.NORMAL,
    owner: Resident | None = None,
    grid: Node | None = None,
    lat: Decimal | None = None,
    lng: Decimal | None = None,
    address: str = "",
    contact_name: str = "",
    contact_phone: str = "",
    anonymous: bool = False,
    form_data: dict[str, Any] | None = None,
    idempotency_key: str = "",
    at: dt.datetime | None = None,
    rate: str = "",
) -> Submitted:
    """File an appeal or a service order into the one pool.

    A retried submission with the same idempotency key returns the order the first one made. `rate`: the
    rate-limit rule the filer is counted under (core.ratelimit) when it is not theirs as a person — a hotline
    system's exchange account files a county's orders ("exchange").
    """
    # The key is looked up only when the insert breaks its unique constraint: the first try of every
    # submission (nearly all of them) costs no extra query.
    try:
        order = _submit(
            by=by,
            kind=kind,
            category=category,
            text=text,
            channel=channel,
            title=title,
            item=item,
            urgency=urgency,
            owner=owner,
            grid=grid,
            lat=lat,
            lng=lng,
            address=address,
            contact_name=contact_name,
            contact_phone=contact_phone,
            anonymous=anonymous,
            form_data=form_data or {},
            idempotency_key=idempotency_key,
            at=at,
            rate=rate,
        )
        return Submitted(order, True)
    except ratelimit.RateLimited:
        # A retry of a submission that was filed (its answer lost on the way) is answered with its order,
        # over the limit or not: the limit is on new orders. Looked up only here, off the normal path.
        existing = _replayed(by, idempotency_key, kind=kind, text=text, category=category, item=item, owner=owner)
        if existing is None:
            raise
        return Submitted(existing, False)
    except IntegrityError:
        # A retry, or the same key twice at once: the first request made the order.
        if idempotency_key and by is not None:
            existing = WorkOrder.objects.filter(submitted_by=by, idempotency_key=idempotency_key).first()
            if existing is not None:
                if not _same_request(existing, kind=kind, text=text, category=category, item=item, owner=owner):
                    # The key names another request: answering with the first order would tell the client
                    # that this one was filed when it was not.
                    raise Conflict(
                        _("This idempotency key was already used for a different submission."),
                        code="workorder.key_reused",
                    ) from None
                return Submitted(existing, False)
        raise


def _replayed(
    by: User | None,
    key: str,
    *,
    kind: str,
    text: str,
    category: Category | None,
    item: ServiceItem | None,
    owner: Resident | None,
) -> WorkOrder | None:
    if not key or by is None:
        return None
    existing = WorkOrder.objects.filter(submitted_by=by, idempotency_key=key).first()
    if existing is None or not _same_request(existing, kind=kind, text=text, category=category, item=item, owner=owner):
        return None
    return existing


def _same_request(
    order: WorkOrder,
    *,
    kind: str,
    text: str,
    category: Category | None,
    item: ServiceItem | None,
    owner: Resident | None,
) -> bool:
    """Whether a retried submission asks for what the order with its key was made from."""
    return (
        order.kind == kind
        and order.text == text.strip()
        and (item is None or order.item_id == item.pk)
        and (category is None or item is not None or order.category_id == category.pk)
        and (owner is None or order.owner_id == owner.pk)
    )


def _submit(
    *,
    by: User | None,
    kind: str,
    category: Category | None,
    text: str,
    channel: str,
    title: str,
    item: ServiceItem | None,
    urgency: str,
    owner: Resident | None,
    grid: Node | None,
    lat: Decimal | None,
    lng: Decimal | None,
    address: str,
    contact_name: str,
    contact_phone: str,
    anonymous: bool,
    form_data: dict[str, Any],
    idempotency_key: str,
    at: dt.datetime | None,
    rate: str = "",
) -> WorkOrder:
    errors: dict[str, list[str]] = {}
    text = (text or "").strip()
    if len(text) < 2:
        errors["text"] = [_("Please describe the problem.")]
    if kind not in Kind.values:
        errors["kind"] = [_("Unknown type.")]
    if channel not in Channel.values:
        errors["channel"] = [_("Unknown channel.")]
    if urgency not in Urgency.values:
        errors["urgency"] = [_("Unknown urgency.")]
    if kind == Kind.SERVICE:
        if item is None:
            errors["item"] = [_("A service order needs a service item.")]
        elif category is None:
            category = item.category
    elif item is not None:
        errors["item"] = [_("Only service orders name a service item.")]
    if category is None and "item" not in errors:
        # Free text alone (a resident does not know that a broken lift is 城乡建设/物业管理): the order
        # waits as "to be classified" for the text model or a dispatcher.
        category = catalog_selectors.category_by_code(UNCLASSIFIED)
        if category is None:
            errors["category"] = [_("Please choose a category.")]
    elif category is not None and not category.is_active:
        errors["category"] = [_("This category is no longer in use.")]
    if errors:
        raise ValidationFailed(fields=errors)
    assert category is not None  # every way to none at all was refused just above
    cleaned_form = catalog.clean_form_data(item, form_data)

    ws = work_scope(by)
    scope = ws.scope
    if by is not None:
        # Per person, whichever way they came in (core.ratelimit); a hotline operator files for many.
        ratelimit.hit("intake", rate or ("staff" if scope.is_staff else "user"), by.pk)
    proxying = owner is not None and owner.pk != scope.own_resident_id
    if owner is not None and proxying:
        if not ws.proxy_paths and not scope.linked_household_ids:
            raise PermissionDenied(_("Only staff and party members may file an appeal for someone else."))
        if not residents_for(by).filter(pk=owner.pk).exists():
            raise NotFound(_("No such resident in your area."), code="resident.not_found")
    elif owner is None and scope.own is not None and channel in RESIDENT_CHANNELS:
        owner = scope.own.instance()
    if channel in RESIDENT_CHANNELS - {Channel.API} and proxying:
        channel = Channel.PROXY
    if channel not in RESIDENT_CHANNELS and not ws.proxy_paths and not scope.linked_household_ids:
        raise PermissionDenied(_("Only staff may enter orders from this channel."))

    if lat is not None and lng is not None:
        grid = locate_grid(lat, lng)
    elif (lat is None) != (lng is None):
        raise ValidationFailed(fields={"lat": [_("Give both latitude and longitude, or neither.")]})
    if grid is None and owner is not None:
        grid_id = scope.own.grid_id if scope.own is not None and owner.pk == scope.own.id else None
        grid = Node.objects.get(pk=grid_id) if grid_id else owner.household.grid
    if grid is None:
        raise ValidationFailed(fields={"grid": [_("Please say where the problem is.")]})
    if not _may_file_into(ws, grid, owner=owner):
        # Like a grid that is not there (asked before whether it is a grid at all): nobody learns what
        # lies outside their area by asking.
        raise NotFound(_("No such grid in your area."), code="node.not_found")
    if grid.level != Level.GRID:
        raise ValidationFailed(fields={"grid": [_("Please choose a grid.")]})

    if owner is not None:
        contact_name = contact_name or owner.name
        contact_phone = contact_phone or owner.phone
    if not contact_name:
        contact_name = str(by) if by is not None else ""
    if not contact_name:
        raise ValidationFailed(fields={"contact_name": [_("Please say who we should reply to.")]})

    t = at or now()
    # A title is one line (core.validation's rule): a description's first words lose their line breaks.
    title = one_line(title or "") or (
        item.name
        if item
        else one_line(text)[:30]
        if category.code == UNCLASSIFIED
        else f"{category.name}：{one_line(text)[:30]}"
    )
    routing = route(kind=kind, category=category, item=item, title=title, text=text, grid=grid)
    # Everything above only reads; the write lock (SQLite has one per database) is held for the inserts
    # alone. A clash of tracking codes (32^10 of them) starts the transaction again with a new code.
    for _attempt in range(5):
        try:
            with transaction.atomic():
                return _insert_order(
                    WorkOrder(
                        tracking_code=_new_tracking_code(),
                        kind=kind,
                        channel=channel,
                        urgency=urgency,
                        category=category,
                        item=item,
                        title=title[:80],
                        text=text,
                        form_data=cleaned_form,
                        grid=grid,
                        path=grid.path,
                        address=address,
                        lat=lat,
                        lng=lng,
                        owner=owner,
                        owner_user_id=owner.user_id
                        if owner is not None
                        else by.pk
                        if by is not None and not proxying
                        else None,
                        submitted_by=by,
                        contact_name=contact_name[:40],
                        contact_phone=contact_phone,
                        anonymous=anonymous,
                        idempotency_key=idempotency_key,
                        suggested_department_id=routing.department_id,
                        suggested_node_id=routing.node_id,
                        suggested_category=routing.category,
                        category_confidence=routing.category_confidence,
                        unit_confidence=routing.unit_confidence,
                        model_version=routing.version,
                        created_at=t,
                        updated_at=t,
                    ),
                    by=by,
                    at=t,
                    proxying=proxying,
                    routing=routing,
                )
        except IntegrityError as exc:
            if "tracking_code" not in str(exc) and "workorder.tracking" not in str(exc).lower():
                raise
    # pragma: no cover - five clashes in a row means something else is wrong
    raise Conflict(_("Please try again."), code="workorder.code_collision")


def _insert_order(order: WorkOrder, *, by: User | None, at: dt.datetime, proxying: bool, routing: Routing) -> WorkOrder:
    insert(order)
    event = _event(
        order,
        "submit",
        by,
        to_state=State.SUBMITTED,
        public=True,
        at=at,
        data={"channel": order.channel, "proxy": proxying},
    )
    attach(order, fresh_events=[event])  # the whole timeline of a new order: the answer needs no query for it
    publish(order, "workorder.submitted")
    if proxying:
        notify_owner(
            order,
            "workorder.proxy",
            _("%(who)s has filed an appeal for you: %(title)s. Tracking code %(code)s."),
            sms=True,
            who=str(by),
        )
    if auto_dispatch_wanted(order, routing):
        return auto_dispatch(order, routing)
    return order
