"""The order page with the form of every step this user may take, and the one POST view of the steps."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db import transaction
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from accounts.http import AuthedRequest
from catalog import selectors as catalog_selectors
from catalog.models import UNCLASSIFIED, Category
from core.errors import ApiError, PermissionDenied, ValidationFailed
from core.forms import ActionForm
from core.masking import mask_phone
from core.pages import gate as _gate
from org.models import Department, Level, Node, path_ids
from workorders import photos, selectors, services, voice
from workorders.access import access_order, orders_for, work_scope
from workorders.api import OWNER_NOTE_ACTIONS, PUBLIC_NOTE_ACTIONS
from workorders.forms import STEP_FORMS
from workorders.models import Assignment, Callback, Extension, Photo, Satisfaction, WorkOrder
from workorders.services import routing
from workorders.states import FINAL_STATES, State
from workorders.views.common import (
    EVENT_LABELS,
    STEP_FIELD_IDS,
    _colour,
    _deadline,
    _error_lines,
    _partial,
    _pos_int,
    _prepared_photo,
    _shown,
    _unit,
    _unit_value,
    _vary,
)


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
    phone = selectors.reporter_phone(order, viewer=user, channel="page", path=request.path)
    # The resident's own number shows masked until she taps to see it (长辈版); staff see it as their role allows.
    own_number = owner and not staff and bool(phone)
    shown = request.GET.get("show") == "numbers"
    if own_number and not shown:
        phone = mask_phone(phone)
    labels = {f["name"]: f.get("label", f["name"]) for f in (order.item.form_fields if order.item is not None else [])}
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
        "own_number": own_number,
        "numbers_shown": shown,
        "form_answers": [(labels.get(k, k), v) for k, v in order.form_data.items()],
        "photos": list(order.photos.all()),
        "voices": list(order.voices.all()),
        "speak": voice.speak_text(order),
        "speak_lang": voice.speech_lang(),
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
    if staff and order.model_version is not None:
        ctx["guess_percent"] = round((order.category_confidence or 0) * 100)
        ctx["unit_percent"] = round((order.unit_confidence or 0) * 100)
        ctx["unit_from_model"] = (order.unit_confidence or 0) >= routing.setting("SUGGEST_UNIT_AT")
    # A dispatcher corrects the category of an order not yet finished (service orders keep their item's).
    ctx["can_reclassify"] = bool(
        actions & {"dispatch", "reassign", "close"} and order.item_id is None and order.state not in FINAL_STATES
    )
    if actions & {"dispatch", "reassign", "transfer", "return"} or ctx["can_reclassify"]:
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
        ctx["category_options"] = catalog_selectors.category_choices()
        ctx["category_value"] = (
            order.suggested_category.code
            if order.category.code == UNCLASSIFIED and order.suggested_category is not None
            else order.category.code
        )
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
    ctx.update(errors=errors or [], failed=failed, keep=_shown(request.POST) if errors else {})
    # An htmx step's fragment carries the read-aloud text too (swapped out of band): it tells the new state.
    template = "workorders/_order_swap.html" if _partial(request) else "workorders/detail.html"
    response = _vary(render(request, template, ctx, status=status))
    if ctx["own_number"] and ctx["numbers_shown"]:
        response["Cache-Control"] = "no-store"  # her whole number: not for a shared browser's cache
    return response


@login_required
def order_page(request: AuthedRequest, order_id: int) -> HttpResponse:
    return _render_order(request, _gate(access_order, request.user, order_id))


@login_required
def order_photo(request: AuthedRequest, order_id: int, photo_id: int) -> FileResponse:
    """Photos are served only to those who may see the order (they can show people and homes)."""
    return photos.photo_response(_gate(access_order, request.user, order_id), photo_id)


@login_required
def order_voice(request: AuthedRequest, order_id: int, voice_id: int) -> HttpResponseBase:
    """Voice messages, like photos, only for those who may see the order (a voice tells who speaks)."""
    return voice.voice_response(request, _gate(access_order, request.user, order_id), voice_id)


# --- the steps: one POST view, one small function per step ------------------------------------------


def _step_dispatch(request: AuthedRequest, order: WorkOrder, d: dict[str, Any]) -> None:
    assist = [_unit(v, field="assist") for v in d["assist"]]
    category = _category(d["category"]) if d["category"] else None
    services.workorder_dispatch(
        order=order, to=_unit(d["to"]), assist=assist, note=d["note"], by=request.user, category=category
    )


def _category(code: str) -> Category:
    found = catalog_selectors.category_by_code(code)
    if found is None or not found.is_active or found.code == UNCLASSIFIED:
        raise ValidationFailed(fields={"category": [_("Unknown category.")]}, code="catalog.unknown_category")
    return found


def _step_reclassify(request: AuthedRequest, order: WorkOrder, d: dict[str, Any]) -> None:
    services.workorder_reclassify(order=order, category=_category(d["category"]), by=request.user, note=d["note"])


def _step_reassign(request: AuthedRequest, order: WorkOrder, d: dict[str, Any]) -> None:
    services.workorder_reassign(order=order, to=_unit(d["to"]), note=d["note"], by=request.user)


def _step_transfer(request: AuthedRequest, order: WorkOrder, d: dict[str, Any]) -> None:
    services.workorder_transfer(order=order, to=_unit(d["to"]), note=d["note"], by=request.user)


def _step_accept(request: AuthedRequest, order: WorkOrder, d: dict[str, Any]) -> None:
    services.workorder_accept(order=order, by=request.user)


def _step_return(request: AuthedRequest, order: WorkOrder, d: dict[str, Any]) -> None:
    suggest = _unit(d["suggest"], field="suggest") if d["suggest"] else None
    services.workorder_return(order=order, by=request.user, reason=d["reason"], suggest=suggest)


def _step_start(request: AuthedRequest, order: WorkOrder, d: dict[str, Any]) -> None:
    services.workorder_start(order=order, by=request.user, note=d["note"])


def _step_suspend(request: AuthedRequest, order: WorkOrder, d: dict[str, Any]) -> None:
    services.workorder_suspend(order=order, by=request.user, reason=d["reason"])


def _step_resume(request: AuthedRequest, order: WorkOrder, d: dict[str, Any]) -> None:
    services.workorder_resume(order=order, by=request.user, note=d["note"])


def _step_resolve(request: AuthedRequest, order: WorkOrder, d: dict[str, Any]) -> None:
    services.workorder_resolve(order=order, by=request.user, reply=d["reply"])


def _step_answer(request: AuthedRequest, order: WorkOrder, d: dict[str, Any]) -> None:
    services.workorder_answer(order=order, by=request.user, reply=d["reply"])


def _step_rate(request: AuthedRequest, order: WorkOrder, d: dict[str, Any]) -> None:
    services.workorder_rate(
        order=order,
        by=request.user,
        solved=d["solved"] == "1",
        satisfaction=int(d["satisfaction"]),
        comment=d["comment"],
    )


def _step_callback(request: AuthedRequest, order: WorkOrder, d: dict[str, Any]) -> None:
    services.workorder_callback(
        order=order,
        by=request.user,
        kind=d["kind"] or Callback.Kind.CALLBACK,
        reached=d["reached"] == "1",
        solved=(d["solved"] == "1") if d["solved"] else None,
        satisfaction=int(d["satisfaction"]) if d["satisfaction"] else None,
        note=d["note"],
    )


def _step_reopen(request: AuthedRequest, order: WorkOrder, d: dict[str, Any]) -> None:
    services.workorder_reopen(order=order, by=request.user, reason=d["reason"])


def _step_rule_unreasonable(request: AuthedRequest, order: WorkOrder, d: dict[str, Any]) -> None:
    services.workorder_rule_unreasonable(order=order, by=request.user, reason=d["reason"])


def _step_close(request: AuthedRequest, order: WorkOrder, d: dict[str, Any]) -> None:
    services.workorder_close(order=order, by=request.user, note=d["note"])


def _step_mark_duplicate(request: AuthedRequest, order: WorkOrder, d: dict[str, Any]) -> None:
    ref = d["primary"]
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


def _step_cancel(request: AuthedRequest, order: WorkOrder, d: dict[str, Any]) -> None:
    services.workorder_cancel(order=order, by=request.user, reason=d["reason"])


def _step_extension_request(request: AuthedRequest, order: WorkOrder, d: dict[str, Any]) -> None:
    services.extension_request(order=order, by=request.user, days=d["days"], reason=d["reason"])


def _step_extension_decide(request: AuthedRequest, order: WorkOrder, d: dict[str, Any]) -> None:
    ext = Extension.objects.filter(pk=d["extension"], order=order).first()
    if ext is None:
        raise ValidationFailed(fields={"extension": [_("No such extension request.")]})
    services.extension_decide(extension=ext, by=request.user, approve=d["approve"] == "1", note=d["note"])


def _step_supervise(request: AuthedRequest, order: WorkOrder, d: dict[str, Any]) -> None:
    services.workorder_supervise(order=order, by=request.user, level=d["level"], note=d["note"])


def _step_note(request: AuthedRequest, order: WorkOrder, d: dict[str, Any]) -> None:
    services.workorder_note(order=order, by=request.user, note=d["note"], public=d["public"])


def _step_photo(request: AuthedRequest, order: WorkOrder, d: dict[str, Any]) -> None:
    """Checks only: order_step stores the photo (a resident's photo of the problem, on their own order)."""
    # Who may add one is order_step's access check ("withdraw": the owner or whoever filed it).
    if order.state in FINAL_STATES:
        raise PermissionDenied()
    if "photo" not in request.FILES:
        raise ValidationFailed(fields={"photo": [_("Please choose a photo.")]})


def _cleaned(form: ActionForm) -> dict[str, Any]:
    """The step's form, validated, or the order page again with its messages (a 422; nothing changed)."""
    if not form.is_valid():
        raise ValidationFailed(fields={k: [str(m) for m in v] for k, v in form.errors.items()})
    return form.cleaned_data


@dataclass(frozen=True)
class Step:
    need: str  # access_order's need: view · dispatch · handle · supervise · rate · note
    run: Callable[[AuthedRequest, WorkOrder, dict[str, Any]], None]
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
    "reclassify": Step("dispatch", _step_reclassify, gettext_lazy("The order's category was changed.")),
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
def order_step(request: AuthedRequest, order_id: int, step: str) -> HttpResponse:
    """POST one step: the service decides; success redirects back (htmx: the refreshed order fragment),
    an error re-renders the order with the message and the input kept."""
    spec = STEPS.get(step)
    if spec is None:
        raise Http404
    if spec.photo:
        _gate(access_order, request.user, order_id)  # outsiders get their 404 before any image is decoded
    try:
        photo = _prepared_photo(request) if spec.photo else None
        data = _cleaned(STEP_FORMS[step](request.POST))
        with transaction.atomic():
            order = _gate(access_order, request.user, order_id, need=spec.need)
            spec.run(request, order, data)
        if photo is not None:
            photos.photo_add(order=order, by=request.user, upload=photo, stage=spec.photo)
    except ApiError as exc:
        current = _gate(access_order, request.user, order_id)
        errors = _error_lines(exc, ids=STEP_FIELD_IDS.get(step))  # the rating's fields say their own messages
        return _render_order(request, current, status=exc.status, errors=errors, failed=step)
    messages.success(request, str(spec.done))
    if _partial(request):
        return _render_order(request, _gate(access_order, request.user, order_id))
    return redirect("workorders:detail", order_id)


# --- lists: the console, the handler queue, callbacks ------------------------------------------------
