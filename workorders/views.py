"""Pages of the appeal loop: submit (a resident, or staff for a resident), my appeals, the order page with
the form of every step this user may take, the dispatcher console, the handler queue, callbacks, and
public tracking.

Every write calls a service; every read goes through access/selectors. A service's error becomes a
message on the page (never a 500); an order outside the user's part of the county is a 404 page. Pages
answer htmx requests (request.htmx) with the fragment they swap, and work as plain forms without it.
"""

from __future__ import annotations

import datetime as dt
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied as PageForbidden
from django.core.files.base import ContentFile
from django.db import transaction
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, QueryDict
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.cache import patch_vary_headers
from django.utils.formats import date_format
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext
from django.views.decorators.http import require_http_methods, require_POST

from catalog import selectors as catalog_selectors
from catalog.models import Category, FieldType, ServiceItem
from core.audit import log_personal_read
from core.errors import ApiError, PermissionDenied, ValidationFailed
from core.pages import gate as _gate
from org import selectors as org_selectors
from org.access import paths_q, residents_for
from org.models import Department, Level, Node, Resident, path_ids
from workorders import photos, selectors, services
from workorders.access import access_order, access_orders, orders_for, work_scope
from workorders.api import OWNER_NOTE_ACTIONS, PUBLIC_NOTE_ACTIONS
from workorders.deadlines import setting
from workorders.models import Assignment, Callback, Channel, Extension, Kind, Photo, Satisfaction, WorkOrder
from workorders.services import Unit
from workorders.states import DISPATCH_QUEUE, FINAL_STATES, HANDLING_STATES, Action, State

PAGE_SIZE = 50
BULK_MAX = 100
RESIDENT_SEARCH_MAX = 20
GRID_CHOICES_MAX = 300
KEY_RE = re.compile(r"^[A-Za-z0-9_.:-]{1,64}$")
# What a resident chooses from on the first step; service orders start from the catalogue.
SUBMIT_KINDS = (Kind.HELP, Kind.COMPLAINT, Kind.REPORT, Kind.CONSULT, Kind.SUGGESTION)
# Channels staff name when they enter an order for someone (代办, hotline, window, patrol, relay).
STAFF_CHANNELS = (Channel.PROXY, Channel.HOTLINE, Channel.WINDOW, Channel.PATROL, Channel.PARTY)

COLOUR_LABELS = {
    "green": gettext_lazy("in time"),
    "amber": gettext_lazy("due soon"),
    "red": gettext_lazy("overdue"),
    "grey": gettext_lazy("no clock running"),
}
EVENT_LABELS: dict[str, Any] = {
    **{a.value: a.label for a in Action},
    "submit": gettext_lazy("submitted"),
    "note": gettext_lazy("note"),
    "urge": gettext_lazy("urged (催办)"),
    "supervise": gettext_lazy("placed under supervision (督办)"),
    "spot_check": gettext_lazy("spot check"),
    "extension_request": gettext_lazy("asked for more time"),
    "extension_approved": gettext_lazy("more time approved"),
    "extension_refused": gettext_lazy("more time refused"),
    "warn": gettext_lazy("time limit near"),
    "overdue": gettext_lazy("overdue"),
    "respond_overdue": gettext_lazy("not signed for in time"),
}


# --- small helpers ------------------------------------------------------------------------------


def _partial(request: HttpRequest) -> bool:
    """An htmx request swaps a fragment; a history restore (or no htmx) needs the whole page."""
    htmx = getattr(request, "htmx", None)
    return bool(htmx) and not htmx.history_restore_request


def _vary(response: HttpResponse) -> HttpResponse:
    patch_vary_headers(response, ["HX-Request"])
    return response


def _text(data: QueryDict, name: str, *, max_len: int) -> str:
    value = data.get(name, "")
    if "\x00" in value:
        raise ValidationFailed(fields={name: [_("The text contains a NUL character.")]})
    value = value.strip()
    if len(value) > max_len:
        raise ValidationFailed(fields={name: [_("At most %(n)d characters, please.") % {"n": max_len}]})
    return value


def _pos_int(value: str | None) -> int | None:
    if value and value.isascii() and value.isdigit() and len(value) < 10:
        return int(value) or None
    return None


def _yes_no(data: QueryDict, name: str, *, required: bool, message: str) -> bool | None:
    value = data.get(name, "")
    if value in ("1", "0"):
        return value == "1"
    if required or value:
        raise ValidationFailed(fields={name: [message]})
    return None


def _error_lines(exc: ApiError, labels: dict[str, str] | None = None) -> list[str]:
    """The message, then each field's messages (named when the field has a label of its own)."""
    lines = [str(exc.message)]
    for key, msgs in exc.fields.items():
        for m in msgs if isinstance(msgs, list | tuple) else [msgs]:
            text = str(m)
            if labels and key in labels:
                text = _("%(field)s: %(message)s") % {"field": labels[key], "message": text}
            if text not in lines:
                lines.append(text)
    if exc.status == 409:
        lines.append(_("The page now shows the order as it is."))
    return lines


def _safe_next(request: HttpRequest, default: str) -> str:
    nxt = request.POST.get("next", "")
    if nxt.startswith("/workorders/") and url_has_allowed_host_and_scheme(nxt, allowed_hosts={request.get_host()}):
        return nxt
    return default


def _unit(value: str, *, field: str = "to") -> Unit:
    """A handling unit from a form value: "d:<department id>" or "n:<town/village/grid id>"."""
    if not value:
        raise ValidationFailed(fields={field: [_("Please choose a handling unit.")]})
    kind, _sep, ident = value.partition(":")
    pk = _pos_int(ident)
    if kind == "d" and pk:
        dept = Department.objects.filter(pk=pk, is_active=True).first()
        if dept is not None:
            return Unit(department=dept)
    elif kind == "n" and pk:
        node = Node.objects.filter(pk=pk).first()
        if node is not None:
            return Unit(node=node)
    raise ValidationFailed(fields={field: [_("Unknown handling unit.")]}, code="workorder.unknown_unit")


def _unit_value(department_id: int | None, node_id: int | None) -> str:
    if department_id:
        return f"d:{department_id}"
    if node_id:
        return f"n:{node_id}"
    return ""


def _deadline(t: dt.datetime | None, fmt: str = "Y-m-d") -> str:
    """A deadline as people read it: working-day limits end at 24:00, not at 00:00 of the next day."""
    if t is None:
        return ""
    local = timezone.localtime(t)
    if local.hour == 0 and local.minute == 0:
        return f"{date_format(local - dt.timedelta(days=1), fmt)} 24:00"
    return f"{date_format(local, fmt)} {local:%H:%M}"


def _colour(order: WorkOrder) -> dict[str, str]:
    c = selectors.time_colour(order)
    return {"name": c, "label": str(COLOUR_LABELS[c])}


# --- keyset pages: never a count of the whole table -----------------------------------------------


@dataclass
class Rows:
    rows: list[dict[str, Any]]
    older_url: str
    newer_url: str
    first_url: str


def _keyset(request: HttpRequest, qs: Any, errors: list[str], size: int | None = None) -> Rows:
    """One page of a list ordered newest first, cut by id: `older=<id>` pages back, `newer=<id>` forward.

    Fetching size+1 rows tells whether another page exists, without counting a million rows.
    """
    size = size or PAGE_SIZE
    older = request.GET.get("older", "")
    newer = request.GET.get("newer", "")
    if (older and _pos_int(older) is None) or (newer and _pos_int(newer) is None):
        errors.append(_("The page is not valid; here is the first one."))
        older = newer = ""
    has_older = has_newer = False
    if newer:
        found = list(qs.filter(pk__gt=int(newer)).order_by("id")[: size + 1])
        has_newer = len(found) > size
        found = found[:size]
        found.reverse()
        has_older = True
    else:
        if older:
            qs = qs.filter(pk__lt=int(older))
            has_newer = True
        found = list(qs[: size + 1])
        has_older = len(found) > size
        found = found[:size]
    params = request.GET.copy()
    for k in ("older", "newer"):
        params.pop(k, None)
    base = params.urlencode()

    def url(extra: str) -> str:
        return "?" + "&".join(p for p in (base, extra) if p)

    return Rows(
        rows=[{"order": o, "colour": _colour(o), "due": _deadline(o.due_at, "m-d")} for o in found],
        older_url=url(f"older={found[-1].pk}") if has_older and found else "",
        newer_url=url(f"newer={found[0].pk}") if has_newer and found else "",
        first_url=url("") if (older or newer) else "",
    )


# --- submit -----------------------------------------------------------------------------------------


def _prepared_photo(request: HttpRequest) -> ContentFile | None:
    """The uploaded photo, checked and re-encoded before anything is written (photo_add stores it after).

    Checking first keeps the rule "bad input changes nothing" without holding a write transaction open
    while a large image is decoded."""
    upload = request.FILES.get("photo")
    if upload is None:
        return None
    photos.check_size(upload.size)
    data = upload.read(setting("PHOTO_MAX_BYTES") + 1)
    photos.check_size(len(data))
    jpeg, _width, _height = photos.photo_prepare(data)
    return ContentFile(jpeg, name="photo.jpg")


def _can_proxy(user: Any) -> bool:
    ws = work_scope(user)
    return bool(ws.proxy_paths or ws.scope.linked_household_ids)


def _latlng(data: QueryDict) -> tuple[Decimal | None, Decimal | None]:
    lat_s, lng_s = data.get("lat", "").strip(), data.get("lng", "").strip()
    if not lat_s and not lng_s:
        return None, None
    try:
        lat = Decimal(lat_s).quantize(Decimal("0.000001"))
        lng = Decimal(lng_s).quantize(Decimal("0.000001"))
    except (InvalidOperation, ValueError):
        lat = lng = None
    if lat is None or lng is None or not (-90 <= lat <= 90 and -180 <= lng <= 180):
        raise ValidationFailed(fields={"lat": [_("The location from your phone could not be read.")]})
    return lat, lng


def _form_data(item: ServiceItem | None, data: QueryDict) -> dict[str, Any]:
    """The item's extra fields as typed values; catalog.services.clean_form_data checks them."""
    if item is None:
        return {}
    out: dict[str, Any] = {}
    for f in item.form_fields:
        name = f["name"]
        raw = _text(data, f"f_{name}", max_len=1000)
        if raw == "":
            continue
        if f["type"] == FieldType.BOOL:
            out[name] = raw == "1" if raw in ("1", "0") else raw
        elif f["type"] == FieldType.NUMBER:
            try:
                out[name] = int(raw)
            except ValueError:
                try:
                    number = float(raw)
                    out[name] = number if number == number and abs(number) != float("inf") else raw
                except ValueError:
                    out[name] = raw  # refused by clean_form_data with the field's name
        else:
            out[name] = raw
    return out


def _proxy_grids(user: Any) -> list[Node] | None:
    """Grids a staff member may file a place-only report in (巡查); None when too many to list."""
    ws = work_scope(user)
    if not ws.proxy_paths:
        return []
    grids = list(
        Node.objects.filter(paths_q(ws.proxy_paths, "path"), level=Level.GRID)
        .only("id", "name", "path")
        .order_by("path")[: GRID_CHOICES_MAX + 1]
    )
    return None if len(grids) > GRID_CHOICES_MAX else grids


def _create(
    request: HttpRequest, *, kind: str, category: Category | None, item: ServiceItem | None, key: str
) -> WorkOrder:
    user = request.user
    p = request.POST
    text = _text(p, "text", max_len=2000)
    address = _text(p, "address", max_len=200)
    sub = p.get("sub", "")
    if sub and category is not None:
        category = Category.objects.filter(code=sub[:20], parent=category, is_active=True).first()
        if category is None:
            raise ValidationFailed(fields={"category": [_("Unknown category.")]}, code="catalog.unknown_category")
    lat, lng = _latlng(p)
    channel = Channel.WEB
    owner = None
    grid = None
    if _can_proxy(user):
        channel = p.get("channel") or Channel.PROXY
        if channel not in (*STAFF_CHANNELS, Channel.WEB):
            raise ValidationFailed(fields={"channel": [_("Unknown channel.")]})
        if p.get("owner") == "me":
            channel = Channel.WEB  # their own appeal: the service makes them the owner
        elif p.get("owner"):
            owner_id = _pos_int(p.get("owner"))
            owner = (
                residents_for(user).select_related("household__grid").filter(pk=owner_id).first() if owner_id else None
            )
            if owner is None:
                raise ValidationFailed(fields={"owner": [_("No such resident in your area.")]})
        if p.get("grid"):
            grid_id = _pos_int(p.get("grid"))
            ws = work_scope(user)
            grid = (
                Node.objects.filter(paths_q(ws.proxy_paths, "path"), pk=grid_id, level=Level.GRID).first()
                if grid_id
                else None
            )
            if grid is None:
                raise ValidationFailed(fields={"grid": [_("Please choose a grid in your area.")]})
    # The photo is checked (and re-encoded) before the order is made: a bad photo makes nothing.
    photo = _prepared_photo(request)
    result = services.workorder_submit(
        by=user,
        kind=kind,
        category=None if item is not None else category,
        item=item,
        text=text,
        channel=channel,
        owner=owner,
        grid=grid,
        lat=lat,
        lng=lng,
        address=address,
        anonymous=p.get("anonymous") == "1",
        form_data=_form_data(item, p),
        idempotency_key=key,
    )
    # A repeated submission (same key) found the first order: its photo is already there.
    if photo is not None and result.created:
        photos.photo_add(order=result.order, by=user, upload=photo)
    return result.order


@login_required
@require_http_methods(["GET", "POST"])
def submit_page(request: HttpRequest) -> HttpResponse:
    """Three taps: a category tile, a second-level tile, then describe and send (step 3 is the receipt)."""
    data = request.POST if request.method == "POST" else request.GET
    errors: list[str] = []
    status = 200
    item = None
    item_code = data.get("item", "").strip()[:20]
    if item_code:
        item = ServiceItem.objects.select_related("category", "department").filter(code=item_code).first()
        if item is None or not item.is_published:
            errors.append(_("This service is not offered (any more). Please choose it again from the catalogue."))
            item = None
    kind = data.get("kind", "") or Kind.HELP
    if item is not None:
        kind = Kind.SERVICE
    elif kind not in SUBMIT_KINDS:
        errors.append(_("Unknown type."))
        kind = Kind.HELP
    category = None
    cat_code = data.get("cat", "").strip()[:20]
    if cat_code and item is None:
        category = Category.objects.filter(code=cat_code, is_active=True).select_related("parent").first()
        if category is None:
            errors.append(_("Unknown category."))
    key = data.get("key", "")
    if not KEY_RE.match(key):
        key = uuid.uuid4().hex

    if request.method == "POST":
        if errors:
            status = 422
        elif "find" not in request.POST:
            if item is None and category is None:
                errors.append(_("Please choose a category."))
                status = 422
            else:
                labels = {
                    f"form_data.{f['name']}": f.get("label", f["name"]) for f in (item.form_fields if item else [])
                }
                try:
                    order = _create(request, kind=kind, category=category, item=item, key=key)
                except ApiError as exc:
                    errors.extend(_error_lines(exc, labels))
                    status = exc.status if exc.status != 404 else 422
                    if request.FILES.get("photo"):
                        errors.append(_("Please choose the photo again."))
                else:
                    return redirect("workorders:submitted", order.pk)

    children: list[Category] = []
    if category is not None:
        children = list(category.children.filter(is_active=True).order_by("sort", "code"))
    ctx: dict[str, Any] = {
        "errors": errors,
        "kind": kind,
        "kind_label": Kind(kind).label,
        "kinds": [(k.value, k.label) for k in SUBMIT_KINDS],
    }
    if item is None and (category is None or (category.level == 1 and children)):
        # Step 1: the type and the top-level tiles, or the second-level tiles of the chosen one.
        ctx.update(
            step=1,
            category=category,
            tiles=children if category is not None else list(catalog_selectors.active_categories().filter(level=1)),
        )
        return render(request, "workorders/submit.html", ctx, status=status)

    user = request.user
    ws = work_scope(user)
    can_proxy = _can_proxy(user)
    rq = data.get("rq", "").replace("\x00", "").strip()[:30]
    found: list[Resident] = []
    if can_proxy and rq:
        found = list(org_selectors.resident_list(user, q=rq)[:RESIDENT_SEARCH_MAX])
    owner = None
    owner_id = _pos_int(data.get("owner", ""))
    if can_proxy and owner_id:
        owner = residents_for(user).select_related("household__grid").filter(pk=owner_id).first()
    me_option = ws.scope.own_resident_id is not None
    choice = data.get("owner", "me" if me_option and request.method == "GET" else "")
    home_grid = None
    if ws.scope.own_resident_id is not None:
        me = Resident.objects.select_related("household__grid").filter(pk=ws.scope.own_resident_id).first()
        home_grid = me.household.grid if me else None
    values = {k: data.get(k, "") for k in ("text", "address", "sub", "lat", "lng", "anonymous", "channel", "grid")}
    grids = _proxy_grids(user) if can_proxy else []
    if request.method == "GET" and grids and len(grids) == 1 and home_grid is None:
        values["grid"] = str(grids[0].pk)  # a grid worker's patrol report: their own grid
    fields = []
    for f in item.form_fields if item else []:
        fields.append({**f, "value": data.get(f"f_{f['name']}", ""), "input": f"f_{f['name']}"})
    ctx.update(
        step=2,
        item=item,
        category=item.category if item else category,
        subcategories=children,
        key=key,
        values=values,
        fields=fields,
        can_proxy=can_proxy,
        channels=[(c.value, c.label) for c in STAFF_CHANNELS] + [(Channel.WEB.value, Channel.WEB.label)],
        rq=rq,
        found=found,
        owner=owner,
        me_option=me_option,
        choice=choice,
        home_grid=home_grid,
        grids=grids,
        max_mb=setting("PHOTO_MAX_BYTES") // (1024 * 1024),
    )
    return render(request, "workorders/submit.html", ctx, status=status)


@login_required
def resident_search(request: HttpRequest) -> HttpResponse:
    """The 代办 resident picker's results (an htmx fragment; without JS the submit page lists them)."""
    if not _can_proxy(request.user):
        raise PageForbidden
    rq = request.GET.get("rq", "").strip()[:30]
    found = list(org_selectors.resident_list(request.user, q=rq)[:RESIDENT_SEARCH_MAX]) if rq else []
    me_option = work_scope(request.user).scope.own_resident_id is not None
    ctx = {"found": found, "rq": rq, "owner": None, "me_option": me_option, "choice": "me" if me_option else ""}
    return render(request, "workorders/_resident_options.html", ctx)


@login_required
def submitted_page(request: HttpRequest, order_id: int) -> HttpResponse:
    order = _gate(access_order, request.user, order_id)
    staff = work_scope(request.user).is_staff
    similar = [
        {
            "order": s if visible else None,
            "category": s.category.name,
            "distance": d,
            "state": State(s.state).label,
        }
        for s, d, visible in selectors.similar_for(user=request.user, order=order)
    ]
    return render(request, "workorders/submitted.html", {"order": order, "similar": similar, "staff": staff})


# --- my appeals -----------------------------------------------------------------------------------


@login_required
def mine_page(request: HttpRequest) -> HttpResponse:
    errors: list[str] = []
    qs = selectors.order_list(user=request.user, f=selectors.QueueFilter(mine=True))
    page = _keyset(request, qs, errors, size=20)
    ws = work_scope(request.user)
    for row in page.rows:
        row["rate"] = row["order"].state == State.RESOLVED and ws.is_owner(row["order"])
    template = "workorders/_mine_list.html" if _partial(request) else "workorders/mine.html"
    return _vary(render(request, template, {"page": page, "errors": errors}))


# --- the order page ------------------------------------------------------------------------------


def _events(order: WorkOrder, *, staff: bool, owner: bool) -> list[dict[str, Any]]:
    out = []
    for e in selectors.timeline(order, public=not staff):
        show_note = staff or (e.action in (OWNER_NOTE_ACTIONS if owner else PUBLIC_NOTE_ACTIONS))
        out.append(
            {
                "label": EVENT_LABELS.get(e.action, e.action),
                "action": e.action,
                "actor": e.actor_label if staff else selectors.public_actor(e, order),
                "at": e.at,
                "note": e.note if show_note else "",
                "to": _to_label(e.action, e.from_state, e.to_state),
                "public": e.public,
                "data": e.data if staff else {},
            }
        )
    return out


def _to_label(action: str, from_state: str, to_state: str) -> str:
    """The state an event led to, when it says more than the event's own name."""
    if not to_state or to_state == from_state or action == "submit":
        return ""
    label = State(to_state).label
    return "" if str(label) == str(EVENT_LABELS.get(action, "")) else str(label)


def _detail_context(request: HttpRequest, order: WorkOrder) -> dict[str, Any]:
    user = request.user
    ws = work_scope(user)
    staff = ws.is_staff
    owner = ws.is_owner(order) or order.submitted_by_id == user.pk
    pending = selectors.pending_extension(order) if staff else None
    actions = selectors.page_actions(user, order, pending=pending)
    phone = selectors.reporter_phone(order, viewer=user)
    if phone and phone == order.contact_phone and order.owner_id and not ws.is_owner(order):
        resident = Resident.objects.only("id", "user_id").get(pk=order.owner_id)
        log_personal_read(user=user, resident=resident, field="phone", channel="page", path=request.path)
    labels = {f["name"]: f.get("label", f["name"]) for f in (order.item.form_fields if order.item_id else [])}
    ctx: dict[str, Any] = {
        "order": order,
        "state_label": State(order.state).label,
        "colour": _colour(order),
        "due": _deadline(order.due_at),
        "respond_by": _deadline(order.respond_by),
        "rate_by": _deadline(order.rate_by),
        "staff": staff,
        "is_owner": owner,
        "actions": actions,
        "reporter": selectors.reporter_name(order, viewer=user),
        "phone": phone,
        "form_answers": [(labels.get(k, k), v) for k, v in order.form_data.items()],
        "photos": list(order.photos.all()),
        "events": _events(order, staff=staff, owner=owner),
        "pending": pending,
        "satisfaction_choices": Satisfaction.choices,
        "primary": order.primary if order.primary_id else None,
    }
    if staff:
        ctx["assist"] = list(
            order.assignments.filter(active=True, role=Assignment.Role.ASSIST).select_related("department", "node")
        )
        ctx["callbacks"] = list(order.callbacks.select_related("by").order_by("id"))
    ctx["ratings"] = list(order.ratings.order_by("round")) if staff or owner else []
    if actions & {"dispatch", "reassign", "transfer", "return"}:
        ctx["suggested"] = order.suggested_department or order.suggested_node  # shown beside the dispatch form
        departments = list(Department.objects.filter(is_active=True).order_by("level", "name"))
        ctx["dept_options"] = [(f"d:{d.pk}", d.name) for d in departments]
        ctx["assist_options"] = [(f"d:{d.pk}", d.name) for d in departments if d.pk != order.department_id]
        ids = path_ids(order.grid.path)
        ctx["local_options"] = [
            (f"n:{n.pk}", f"{n.name} · {n.get_level_display()}")
            for n in Node.objects.filter(pk__in=ids, level__gte=Level.TOWN).order_by("level")
        ]
        ctx["suggested_value"] = _unit_value(order.suggested_department_id, order.suggested_node_id)
    if "mark_duplicate" in actions:
        # Only orders the dispatcher may open can be picked as the primary.
        ctx["similar"] = [
            {"order": s, "distance": d}
            for s, d, visible in selectors.similar_for(user=request.user, order=order)
            if visible
        ]
    return ctx


def _render_order(
    request: HttpRequest,
    order: WorkOrder,
    *,
    status: int = 200,
    errors: list[str] | None = None,
    failed: str = "",
) -> HttpResponse:
    ctx = _detail_context(request, order)
    ctx.update(errors=errors or [], failed=failed, keep=request.POST if errors else {})
    template = "workorders/_order.html" if _partial(request) else "workorders/detail.html"
    return _vary(render(request, template, ctx, status=status))


@login_required
def order_page(request: HttpRequest, order_id: int) -> HttpResponse:
    return _render_order(request, _gate(access_order, request.user, order_id))


@login_required
def order_photo(request: HttpRequest, order_id: int, photo_id: int) -> HttpResponse:
    """Photos are served only to those who may see the order (they can show people and homes)."""
    order = _gate(access_order, request.user, order_id)
    photo = Photo.objects.filter(order=order, pk=photo_id).first()
    if photo is None:
        raise Http404
    try:
        handle = photo.image.open("rb")
    except FileNotFoundError as exc:
        raise Http404 from exc
    response = FileResponse(handle, content_type="image/jpeg")
    response["Cache-Control"] = "private, max-age=3600"
    return response


# --- the steps: one POST view, one small function per step ------------------------------------------


def _step_dispatch(request: HttpRequest, order: WorkOrder) -> None:
    p = request.POST
    assist = [_unit(v, field="assist") for v in p.getlist("assist")[:5] if v]
    services.workorder_dispatch(
        order=order, to=_unit(p.get("to", "")), assist=assist, note=_text(p, "note", max_len=2000), by=request.user
    )


def _step_reassign(request: HttpRequest, order: WorkOrder) -> None:
    p = request.POST
    services.workorder_reassign(
        order=order, to=_unit(p.get("to", "")), note=_text(p, "note", max_len=2000), by=request.user
    )


def _step_transfer(request: HttpRequest, order: WorkOrder) -> None:
    p = request.POST
    services.workorder_transfer(
        order=order, to=_unit(p.get("to", "")), note=_text(p, "note", max_len=2000), by=request.user
    )


def _step_accept(request: HttpRequest, order: WorkOrder) -> None:
    services.workorder_accept(order=order, by=request.user)


def _step_return(request: HttpRequest, order: WorkOrder) -> None:
    p = request.POST
    suggest = _unit(p["suggest"], field="suggest") if p.get("suggest") else None
    services.workorder_return(order=order, by=request.user, reason=_text(p, "reason", max_len=2000), suggest=suggest)


def _step_start(request: HttpRequest, order: WorkOrder) -> None:
    services.workorder_start(order=order, by=request.user, note=_text(request.POST, "note", max_len=2000))


def _step_suspend(request: HttpRequest, order: WorkOrder) -> None:
    services.workorder_suspend(order=order, by=request.user, reason=_text(request.POST, "reason", max_len=2000))


def _step_resume(request: HttpRequest, order: WorkOrder) -> None:
    services.workorder_resume(order=order, by=request.user, note=_text(request.POST, "note", max_len=2000))


def _step_resolve(request: HttpRequest, order: WorkOrder) -> None:
    services.workorder_resolve(order=order, by=request.user, reply=_text(request.POST, "reply", max_len=2000))


def _step_answer(request: HttpRequest, order: WorkOrder) -> None:
    services.workorder_answer(order=order, by=request.user, reply=_text(request.POST, "reply", max_len=2000))


def _step_rate(request: HttpRequest, order: WorkOrder) -> None:
    p = request.POST
    solved = _yes_no(p, "solved", required=True, message=_("Please say whether the problem was solved."))
    satisfaction = _pos_int(p.get("satisfaction", ""))
    if satisfaction not in Satisfaction.values:
        raise ValidationFailed(fields={"satisfaction": [_("Choose one of the five levels.")]})
    services.workorder_rate(
        order=order,
        by=request.user,
        solved=bool(solved),
        satisfaction=satisfaction,
        comment=_text(p, "comment", max_len=500),
    )


def _step_callback(request: HttpRequest, order: WorkOrder) -> None:
    p = request.POST
    kind = p.get("kind", Callback.Kind.CALLBACK)
    if kind not in Callback.Kind.values:
        raise ValidationFailed(fields={"kind": [_("Choose a callback or a spot check.")]})
    reached = _yes_no(p, "reached", required=True, message=_("Please say whether you reached the resident."))
    solved = _yes_no(p, "solved", required=False, message=_("Please say whether the problem was solved."))
    satisfaction = None
    if p.get("satisfaction"):
        satisfaction = _pos_int(p.get("satisfaction"))
        if satisfaction not in Satisfaction.values:
            raise ValidationFailed(fields={"satisfaction": [_("Choose one of the five levels.")]})
    services.workorder_callback(
        order=order,
        by=request.user,
        kind=kind,
        reached=bool(reached),
        solved=solved,
        satisfaction=satisfaction,
        note=_text(p, "note", max_len=500),
    )


def _step_reopen(request: HttpRequest, order: WorkOrder) -> None:
    services.workorder_reopen(order=order, by=request.user, reason=_text(request.POST, "reason", max_len=2000))


def _step_rule_unreasonable(request: HttpRequest, order: WorkOrder) -> None:
    services.workorder_rule_unreasonable(
        order=order, by=request.user, reason=_text(request.POST, "reason", max_len=2000)
    )


def _step_close(request: HttpRequest, order: WorkOrder) -> None:
    services.workorder_close(order=order, by=request.user, note=_text(request.POST, "note", max_len=2000))


def _step_mark_duplicate(request: HttpRequest, order: WorkOrder) -> None:
    ref = _text(request.POST, "primary", max_len=16)
    mine = orders_for(request.user)
    primary = mine.filter(tracking_code=ref.upper()).first() if ref else None
    if primary is None and _pos_int(ref):
        primary = mine.filter(pk=int(ref)).first()
    if primary is None:
        raise ValidationFailed(
            fields={"primary": [_("No order with this tracking code or number in your area.")]},
            code="workorder.unknown_primary",
        )
    services.workorder_mark_duplicate(order=order, primary=primary, by=request.user)


def _step_cancel(request: HttpRequest, order: WorkOrder) -> None:
    services.workorder_cancel(order=order, by=request.user, reason=_text(request.POST, "reason", max_len=500))


def _step_extension_request(request: HttpRequest, order: WorkOrder) -> None:
    p = request.POST
    days = _pos_int(p.get("days", ""))
    if days is None or not 1 <= days <= 30:
        raise ValidationFailed(fields={"days": [_("Between 1 and 30 working days.")]})
    services.extension_request(order=order, by=request.user, days=days, reason=_text(p, "reason", max_len=500))


def _step_extension_decide(request: HttpRequest, order: WorkOrder) -> None:
    p = request.POST
    ext_id = _pos_int(p.get("extension", ""))
    ext = Extension.objects.filter(pk=ext_id, order=order).first() if ext_id else None
    if ext is None:
        raise ValidationFailed(fields={"extension": [_("No such extension request.")]})
    approve = _yes_no(p, "approve", required=True, message=_("Approve or refuse."))
    services.extension_decide(extension=ext, by=request.user, approve=bool(approve), note=_text(p, "note", max_len=500))


def _step_supervise(request: HttpRequest, order: WorkOrder) -> None:
    p = request.POST
    services.workorder_supervise(
        order=order, by=request.user, level=p.get("level", ""), note=_text(p, "note", max_len=2000)
    )


def _step_note(request: HttpRequest, order: WorkOrder) -> None:
    p = request.POST
    services.workorder_note(
        order=order, by=request.user, note=_text(p, "note", max_len=2000), public=p.get("public") == "1"
    )


def _step_photo(request: HttpRequest, order: WorkOrder) -> None:
    """Checks only: order_step stores the photo (a resident's photo of the problem, on their own order)."""
    # Who may add one is order_step's access check ("withdraw": the owner or whoever filed it).
    if order.state in FINAL_STATES:
        raise PermissionDenied()
    if "photo" not in request.FILES:
        raise ValidationFailed(fields={"photo": [_("Please choose a photo.")]})


@dataclass(frozen=True)
class Step:
    need: str  # access_order's need: view · dispatch · handle · supervise · rate · note
    run: Callable[[HttpRequest, WorkOrder], None]
    done: Any  # the success message
    photo: str = ""  # the stage an uploaded photo is stored as, for steps that take one


STEPS: dict[str, Step] = {
    "dispatch": Step("dispatch", _step_dispatch, gettext_lazy("The order was dispatched.")),
    "reassign": Step("dispatch", _step_reassign, gettext_lazy("The order was reassigned.")),
    "transfer": Step("handle", _step_transfer, gettext_lazy("The order was transferred.")),
    "accept": Step("handle", _step_accept, gettext_lazy("You signed for the order.")),
    "return": Step("handle", _step_return, gettext_lazy("The order was returned to the dispatcher.")),
    "start": Step("handle", _step_start, gettext_lazy("Work has started.")),
    "suspend": Step("handle", _step_suspend, gettext_lazy("The order is suspended; its clock has stopped.")),
    "resume": Step("handle", _step_resume, gettext_lazy("Work has resumed.")),
    "resolve": Step(
        "handle",
        _step_resolve,
        gettext_lazy("The order is resolved; the resident will be asked to rate it."),
        photo=Photo.Stage.RESULT,
    ),
    "answer": Step("dispatch", _step_answer, gettext_lazy("The answer was sent.")),
    "rate": Step("rate", _step_rate, gettext_lazy("Thank you for your rating.")),
    "callback": Step("supervise", _step_callback, gettext_lazy("The callback was recorded.")),
    "reopen": Step("dispatch", _step_reopen, gettext_lazy("The order was reopened.")),
    "rule_unreasonable": Step(
        "dispatch", _step_rule_unreasonable, gettext_lazy("The ruling was recorded; the order is closed.")
    ),
    "close": Step("dispatch", _step_close, gettext_lazy("The order is closed.")),
    "mark_duplicate": Step("dispatch", _step_mark_duplicate, gettext_lazy("The order was linked as a duplicate.")),
    "cancel": Step("withdraw", _step_cancel, gettext_lazy("Your appeal was withdrawn.")),
    "extension_request": Step("handle", _step_extension_request, gettext_lazy("More time was asked for.")),
    "extension_decide": Step("dispatch", _step_extension_decide, gettext_lazy("The extension request was decided.")),
    "supervise": Step("supervise", _step_supervise, gettext_lazy("The handling unit was told.")),
    "note": Step("note", _step_note, gettext_lazy("The note was added.")),
    "photo": Step("withdraw", _step_photo, gettext_lazy("The photo was added."), photo=Photo.Stage.REPORT),
}


@login_required
@require_POST
def order_step(request: HttpRequest, order_id: int, step: str) -> HttpResponse:
    """POST one step: the service decides; success redirects back (htmx: the refreshed order fragment),
    an error re-renders the order with the message and the input kept."""
    spec = STEPS.get(step)
    if spec is None:
        raise Http404
    if spec.photo:
        _gate(access_order, request.user, order_id)  # outsiders get their 404 before any image is decoded
    try:
        photo = _prepared_photo(request) if spec.photo else None
        with transaction.atomic():
            order = _gate(access_order, request.user, order_id, need=spec.need)
            spec.run(request, order)
        if photo is not None:
            photos.photo_add(order=order, by=request.user, upload=photo, stage=spec.photo)
    except ApiError as exc:
        current = _gate(access_order, request.user, order_id)
        return _render_order(request, current, status=exc.status, errors=_error_lines(exc), failed=step)
    messages.success(request, str(spec.done))
    if _partial(request):
        return _render_order(request, _gate(access_order, request.user, order_id))
    return redirect("workorders:detail", order_id)


# --- lists: the console, the handler queue, callbacks ------------------------------------------------

CONSOLE_TABS = (
    ("dispatch", gettext_lazy("To dispatch")),
    ("inhand", gettext_lazy("In hand")),
    ("callback", gettext_lazy("Callbacks")),
    ("all", gettext_lazy("All")),
)


def _console_filter(request: HttpRequest, departments: list[Department], errors: list[str]) -> tuple[Any, dict]:
    g = request.GET
    f = selectors.QueueFilter()
    tab = g.get("queue", "dispatch")
    if tab not in dict(CONSOLE_TABS):
        errors.append(_("Unknown list."))
        tab = "dispatch"
    if tab == "dispatch":
        f.queue = "dispatch"
    elif tab == "inhand":
        f.states = HANDLING_STATES | {State.SUSPENDED}
    elif tab == "callback":
        f.queue = "callback"
    values: dict[str, Any] = {"queue": tab}
    state = g.get("state", "")
    if state and state not in State.values:
        errors.append(_("Unknown state."))
    elif state:
        f.state = values["state"] = state
    code = g.get("category", "")
    if code:
        f.category = Category.objects.filter(code=code[:20]).first()
        if f.category is None:
            errors.append(_("Unknown category."))
        else:
            values["category"] = code
    dept = g.get("department", "")
    if dept:
        dept_id = _pos_int(dept)
        if dept_id not in {d.pk for d in departments}:
            errors.append(_("Unknown department."))
        else:
            f.department_id = values["department"] = dept_id
    overdue = g.get("overdue", "")
    if overdue in ("1", "0"):
        f.overdue = overdue == "1"
        values["overdue"] = overdue
    elif overdue:
        errors.append(_("Unknown time filter."))
    channel = g.get("channel", "")
    if channel and channel not in Channel.values:
        errors.append(_("Unknown channel."))
    elif channel:
        f.channel = values["channel"] = channel
    kind = g.get("kind", "")
    if kind and kind not in Kind.values:
        errors.append(_("Unknown type."))
    elif kind:
        f.kind = values["kind"] = kind
    q = g.get("q", "").strip()
    if "\x00" in q or len(q) > 30:
        errors.append(_("Search text can be at most 30 characters."))
    elif q:
        f.q = values["q"] = q
    return f, values


def _list_qs(qs: Any) -> Any:
    # The console shows each row's suggested unit: joined here, not read once per row.
    return qs.select_related("suggested_department", "suggested_node")


@login_required
def console_page(request: HttpRequest) -> HttpResponse:
    ws = work_scope(request.user)
    if not (ws.dispatch_paths or ws.supervise_paths):
        raise PageForbidden
    errors: list[str] = []
    departments = list(Department.objects.filter(is_active=True).order_by("level", "name"))
    f, values = _console_filter(request, departments, errors)
    page = _keyset(request, _list_qs(selectors.order_list(user=request.user, f=f)), errors)
    can_bulk = bool(ws.dispatch_paths)
    for row in page.rows:
        row["pick"] = can_bulk and row["order"].state in DISPATCH_QUEUE
    ctx = {
        "page": page,
        "errors": errors,
        "values": values,
        "tabs": CONSOLE_TABS,
        "states": State.choices,
        "categories": list(Category.objects.filter(level__lte=2).order_by("code").only("code", "name", "level")),
        "departments": departments,
        "channels": Channel.choices,
        "kinds": Kind.choices,
        "can_bulk": can_bulk,
        "here": request.get_full_path(),
        "bulk_max": BULK_MAX,
    }
    template = "workorders/_console_body.html" if _partial(request) else "workorders/console.html"
    return _vary(render(request, template, ctx))


@login_required
@require_POST
def dispatch_bulk(request: HttpRequest) -> HttpResponse:
    """Dispatch the ticked orders, each to its suggested unit or all to one chosen unit — all or none."""
    ws = work_scope(request.user)
    if not ws.dispatch_paths:
        raise PageForbidden
    back = _safe_next(request, reverse("workorders:console"))
    raw = request.POST.getlist("ids")
    ids = [_pos_int(v) for v in raw]
    if not ids:
        messages.error(request, _("Tick the orders to dispatch first."))
        return redirect(back)
    if None in ids or len(ids) > BULK_MAX:
        messages.error(request, _("Choose between 1 and %(n)d orders.") % {"n": BULK_MAX})
        return redirect(back)
    try:
        with transaction.atomic():
            orders = _gate(access_orders, request.user, ids, need="dispatch")
            to = _unit(request.POST.get("to", "")) if request.POST.get("mode") == "chosen" else None
            done = services.workorder_dispatch_bulk(orders=orders, by=request.user, to=to)
    except ApiError as exc:
        messages.error(request, " ".join(_error_lines(exc)))
        return redirect(back)
    messages.success(
        request, ngettext("%(n)d order was dispatched.", "%(n)d orders were dispatched.", len(done)) % {"n": len(done)}
    )
    return redirect(back)


QUEUE_TABS = (
    ("handle", gettext_lazy("My unit's work in hand")),
    ("area", gettext_lazy("Open work in my area")),
)


@login_required
def queue_page(request: HttpRequest) -> HttpResponse:
    """A handler's queue (签收, 办结 … from each order's page) and a grid worker's open work in their grid."""
    ws = work_scope(request.user)
    tabs = []
    if ws.department_ids or ws.handler_paths:
        tabs.append(QUEUE_TABS[0])
    if ws.handler_paths:
        tabs.append(QUEUE_TABS[1])
    if not tabs:
        raise PageForbidden
    errors: list[str] = []
    tab = request.GET.get("tab", tabs[0][0])
    if tab not in dict(tabs):
        errors.append(_("Unknown list."))
        tab = tabs[0][0]
    if tab == "handle":
        qs = selectors.order_list(user=request.user, f=selectors.QueueFilter(queue="handle"))
    else:
        qs = selectors.local_open_orders(user=request.user, f=selectors.QueueFilter())
    page = _keyset(request, _list_qs(qs), errors)
    ctx = {
        "page": page,
        "errors": errors,
        "tabs": tabs,
        "tab": tab,
        "title": _("My work orders"),
        "url_name": "workorders:queue",
    }
    template = "workorders/_worklist_body.html" if _partial(request) else "workorders/worklist.html"
    return _vary(render(request, template, ctx))


@login_required
def callbacks_page(request: HttpRequest) -> HttpResponse:
    ws = work_scope(request.user)
    if not ws.supervise_paths:
        raise PageForbidden
    errors: list[str] = []
    qs = selectors.order_list(user=request.user, f=selectors.QueueFilter(queue="callback"))
    page = _keyset(request, _list_qs(qs), errors)
    ctx = {
        "page": page,
        "errors": errors,
        "tabs": [],
        "tab": "",
        "title": _("Callbacks"),
        "url_name": "workorders:callbacks",
        "hint": _("Resolved orders waiting for a callback (回访): call the resident, then record it on the order."),
    }
    template = "workorders/_worklist_body.html" if _partial(request) else "workorders/worklist.html"
    return _vary(render(request, template, ctx))


# --- public tracking --------------------------------------------------------------------------------


def track_page(request: HttpRequest) -> HttpResponse:
    # Read out over the phone, codes arrive with spaces and dashes: "ZS95 42E2-PS".
    code = re.sub(r"[\s-]", "", request.GET.get("code", "")).upper()
    if code:
        if selectors.looks_like_code(code):
            return redirect("track:order", code)
        return render(
            request,
            "workorders/track.html",
            {"error": _("A tracking code has 10 letters and digits, without 0, 1, I or O.")},
        )
    return render(request, "workorders/track.html", {})


def track_order_page(request: HttpRequest, code: str) -> HttpResponse:
    """Progress by tracking code, for anyone: the public steps and the reply, nobody's name or number."""
    code = code.strip().upper()[:16]
    o = WorkOrder.objects.select_related("category", "primary").filter(tracking_code=code).first()
    if o is None:
        return render(
            request,
            "workorders/track.html",
            {"error": _("No appeal has this tracking code."), "code": code},
            status=404,
        )
    shown = o.primary if o.primary_id else o  # a duplicate's reporter follows the primary, as in the API
    events = _events(shown, staff=False, owner=False)
    response = render(
        request,
        "workorders/track_order.html",
        {"o": o, "shown": shown, "state_label": State(o.state).label, "events": events, "due": _deadline(shown.due_at)},
    )
    response["X-Robots-Tag"] = "noindex"
    return response
