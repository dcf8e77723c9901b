"""The dispatcher console with bulk dispatch, the handler queue, callbacks."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied as PageForbidden
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext
from django.views.decorators.http import require_POST

from accounts.http import AuthedRequest
from catalog.models import Category
from core.errors import ApiError, ValidationFailed
from core.pages import gate as _gate
from org.models import Department
from workorders import selectors, services
from workorders.access import access_orders, work_scope
from workorders.forms import BulkDispatchForm
from workorders.models import Channel, Kind
from workorders.states import DISPATCH_QUEUE, HANDLING_STATES, State
from workorders.views.common import BULK_MAX, _error_lines, _keyset, _partial, _pos_int, _safe_next, _unit, _vary

CONSOLE_TABS = (
    ("dispatch", gettext_lazy("To dispatch")),
    ("inhand", gettext_lazy("In hand")),
    ("callback", gettext_lazy("Callbacks")),
    ("extension", gettext_lazy("Pending extension requests")),
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
    elif tab in ("callback", "extension"):
        f.queue = tab
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
    return qs.select_related("suggested_department", "suggested_node", "suggested_category")


@login_required
def console_page(request: AuthedRequest) -> HttpResponse:
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
        # The one tab that counts: requests for more time wait on the dispatcher, and are few.
        "counts": {"extension": selectors.pending_extension_count(user=request.user)},
        "states": State.choices,
        "categories": list(Category.objects.filter(level__lte=2).order_by("code").only("code", "name", "level")),
        "departments": departments,
        "channels": Channel.choices,
        "kinds": Kind.choices,
        "can_bulk": can_bulk,
        "here": request.get_full_path(),
        "bulk_max": BULK_MAX,
        "hot": selectors.hot_topics_for(request.user, rising_only=True).count(),
    }
    template = "workorders/_console_body.html" if _partial(request) else "workorders/console.html"
    return _vary(render(request, template, ctx))


@login_required
@require_POST
def dispatch_bulk(request: AuthedRequest) -> HttpResponse:
    """Dispatch the ticked orders, each to its suggested unit or all to one chosen unit — all or none."""
    ws = work_scope(request.user)
    if not ws.dispatch_paths:
        raise PageForbidden
    form = BulkDispatchForm(request.POST)
    if not form.is_valid():
        messages.error(request, form.error_text())
        return redirect(reverse("workorders:console"))
    d = form.cleaned_data
    back = _safe_next(request, d["next"], reverse("workorders:console"))
    ids = [_pos_int(v) for v in form.ids()]
    if not ids:
        messages.error(request, _("Tick the orders to dispatch first."))
        return redirect(back)
    if None in ids or len(ids) > BULK_MAX:
        messages.error(request, _("Choose between 1 and %(n)d orders.") % {"n": BULK_MAX})
        return redirect(back)
    try:
        with transaction.atomic():
            orders = _gate(access_orders, request.user, ids, need="dispatch")
            if d["mode"] not in ("suggested", "chosen"):
                # Enter on a tick box (the form's hidden first button, _console_body.html): no way was chosen.
                raise ValidationFailed(
                    _("Choose how to dispatch them: to their suggested units, or to one department.")
                )
            to = _unit(d["to"]) if d["mode"] == "chosen" else None
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
def queue_page(request: AuthedRequest) -> HttpResponse:
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
def callbacks_page(request: AuthedRequest) -> HttpResponse:
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
