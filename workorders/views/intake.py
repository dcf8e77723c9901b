"""Submitting: a resident, or staff for a resident (代办, hotline, window, patrol); the receipt; my appeals."""

from __future__ import annotations

import uuid
from typing import Any

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied as PageForbidden
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from accounts.http import AuthedRequest
from catalog import selectors as catalog_selectors
from catalog.models import UNCLASSIFIED, Category, ServiceItem
from core.errors import ApiError, ValidationFailed
from core.formerrors import FormErrors
from core.pages import gate as _gate
from org import selectors as org_selectors
from org.access import paths_q, residents_for
from org.models import Level, Node, Resident
from workorders import photos, selectors, services, voice
from workorders.access import access_order, work_scope
from workorders.deadlines import setting
from workorders.forms import SubmitForm
from workorders.models import Channel, Kind, WorkOrder
from workorders.states import State
from workorders.views.common import (
    KEY_RE,
    RESIDENT_SEARCH_MAX,
    STAFF_CHANNELS,
    SUBMIT_KINDS,
    _can_proxy,
    _error_lines,
    _form_data,
    _keyset,
    _latlng,
    _partial,
    _pos_int,
    _prepared_photo,
    _prepared_voice,
    _proxy_grids,
    _shown,
    _vary,
)


def _create(
    request: AuthedRequest,
    d: dict[str, Any],
    *,
    kind: str,
    category: Category | None,
    item: ServiceItem | None,
    key: str,
) -> WorkOrder:
    user = request.user
    sub = d["sub"]
    if sub and category is not None:
        category = Category.objects.filter(code=sub, parent=category, is_active=True).first()
        if category is None:
            raise ValidationFailed(fields={"category": [_("Unknown category.")]}, code="catalog.unknown_category")
    lat, lng = (None, None) if d["clear_location"] else _latlng(d["lat"], d["lng"])
    channel = Channel.WEB
    owner = None
    grid = None
    if _can_proxy(user):
        channel = d["channel"] or Channel.PROXY
        if channel not in (*STAFF_CHANNELS, Channel.WEB):
            raise ValidationFailed(fields={"channel": [_("Unknown channel.")]})
        if d["owner"] == "me":
            channel = Channel.WEB  # their own appeal: the service makes them the owner
        elif d["owner"]:
            owner_id = _pos_int(d["owner"])
            owner = (
                residents_for(user).select_related("household__grid").filter(pk=owner_id).first() if owner_id else None
            )
            if owner is None:
                raise ValidationFailed(fields={"owner": [_("No such resident in your area.")]})
        if d["grid"]:
            grid_id = _pos_int(d["grid"])
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
    # So is a voice message (语音留言). With one, the words may be left out: the order's text (its title, the
    # lists, the search, the text model) then says that there is a message to listen to.
    recording = _prepared_voice(request, d["voice_duration"])
    text = d["text"]
    if recording is not None and len(text.strip()) < 2:
        placeholder = _("(Voice message)")
        text = f"{placeholder} {text.strip()}".strip()
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
        address=d["address"],
        anonymous=d["anonymous"],
        form_data=_form_data(item, d),
        idempotency_key=key,
    )
    # A repeated submission (same key) found the first order: its photo is already there.
    if photo is not None and result.created:
        photos.photo_add(order=result.order, by=user, upload=photo)
    if recording is not None and result.created:
        voice.voice_add(order=result.order, by=user, voice=recording)
    return result.order


# Where the submit page says what is wrong: the name the server knows → the id of its control there.
SUBMIT_FIELD_IDS = {
    "text": "text",
    "address": "address",
    "photo": "photo",
    "sub": "sub",
    "category": "sub",
    "grid": "grid",
    "channel": "channel",
    "owner": "rq",
    "rq": "rq",
    # A location from the phone that is refused: the box that drops it is the way on.
    "lat": "clear_location",
    "lng": "clear_location",
}


def _submit_field_ids(form: SubmitForm) -> dict[str, str]:
    """SUBMIT_FIELD_IDS, and the service item's own fields (`f_<name>`, the service calls them form_data.<name>)."""
    ids = dict(SUBMIT_FIELD_IDS)
    for name in form.fields:
        if name.startswith("f_"):
            ids[name] = ids[f"form_data.{name[2:]}"] = name
    return ids


def _labels(form: SubmitForm) -> dict[str, str]:
    """The fields' names for the summary, where a message alone does not say which field it is about."""
    return {name: str(f.label) for name, f in form.fields.items() if f.label}


@login_required
@require_http_methods(["GET", "POST"])
def submit_page(request: AuthedRequest) -> HttpResponse:
    """Three taps: a category tile, a second-level tile, then describe and send (step 3 is the receipt)."""
    # The summary's lines, and each field's messages by its control's id (placed after the page is known).
    errors = FormErrors()
    status = 200
    data: Any = request.GET
    if request.method == "POST":
        # Read through the form first: the item, type and category decide the page; bad input goes no further.
        head = SubmitForm(request.POST)
        data = _shown(head.data)
        if not head.is_valid():
            head_exc = ValidationFailed(fields={k: [str(m) for m in v] for k, v in head.errors.items()})
            errors.merge(_error_lines(head_exc, _labels(head), _submit_field_ids(head)))
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
        elif "find" not in data:
            if item is None and category is None:
                errors.append(_("Please choose a category."))
                status = 422
            else:
                form = SubmitForm(request.POST, item_fields=item.form_fields if item else [])
                labels = {
                    f"form_data.{f['name']}": f.get("label", f["name"]) for f in (item.form_fields if item else [])
                }
                labels.update(_labels(form))
                try:
                    if not form.is_valid():
                        raise ValidationFailed(fields={k: [str(m) for m in v] for k, v in form.errors.items()})
                    order = _create(request, form.cleaned_data, kind=kind, category=category, item=item, key=key)
                except ApiError as exc:
                    errors.merge(_error_lines(exc, labels, _submit_field_ids(form)))
                    status = exc.status if exc.status != 404 else 422
                    if request.FILES.get("photo"):
                        errors.append(_("Please choose the photo again."))
                    if request.FILES.get("voice"):
                        errors.append(_("Please record or choose the voice message again."))
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
        tiles = children if category is not None else list(catalog_selectors.active_categories().filter(level=1))
        # "Not sure": free text alone, classified later by the text model or a dispatcher (last tile).
        tiles.sort(key=lambda c: c.code == UNCLASSIFIED)
        ctx.update(step=1, category=category, tiles=tiles, unclassified=UNCLASSIFIED)
        errors.only(())  # no field of step 2 is on this page: its messages are the summary's lines
        return render(request, "workorders/submit.html", ctx, status=status)

    user = request.user
    ws = work_scope(user)
    can_proxy = _can_proxy(user)
    rq = data.get("rq", "").strip()[:30]
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
    if data.get("clear_location") == "1":
        values["lat"] = values["lng"] = ""  # dropped, as the user asked: the page comes back without it
    grids = _proxy_grids(user) if can_proxy else []
    if request.method == "GET" and grids and len(grids) == 1 and home_grid is None:
        values["grid"] = str(grids[0].pk)  # a grid worker's patrol report: their own grid
    fields = []
    for f in item.form_fields if item else []:
        fields.append({**f, "value": data.get(f"f_{f['name']}", ""), "input": f"f_{f['name']}"})
    # The fields this page shows say their own messages; the others' go to the summary.
    shown = ["text", "address", "photo", *(f["input"] for f in fields)]
    shown += ["sub"] if children else []
    shown += ["grid"] if grids else []
    shown += ["channel", "rq"] if can_proxy else []
    shown += ["clear_location"] if values["lat"] or values["lng"] else []
    errors.only(shown)
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
        voice_seconds=voice.max_seconds(),
        voice_mb=voice.size_label(),
    )
    return render(request, "workorders/submit.html", ctx, status=status)


@login_required
def resident_search(request: AuthedRequest) -> HttpResponse:
    """The 代办 resident picker's results (an htmx fragment; without JS the submit page lists them)."""
    if not _can_proxy(request.user):
        raise PageForbidden
    rq = request.GET.get("rq", "").strip()[:30]
    found = list(org_selectors.resident_list(request.user, q=rq)[:RESIDENT_SEARCH_MAX]) if rq else []
    me_option = work_scope(request.user).scope.own_resident_id is not None
    ctx = {"found": found, "rq": rq, "owner": None, "me_option": me_option, "choice": "me" if me_option else ""}
    return render(request, "workorders/_resident_options.html", ctx)


@login_required
def submitted_page(request: AuthedRequest, order_id: int) -> HttpResponse:
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
    ctx = {"order": order, "similar": similar, "staff": staff}
    ctx.update(speak=voice.speak_text(order), speak_lang=voice.speech_lang())
    return render(request, "workorders/submitted.html", ctx)


# --- my appeals -----------------------------------------------------------------------------------


@login_required
def mine_page(request: AuthedRequest) -> HttpResponse:
    errors: list[str] = []
    qs = selectors.order_list(user=request.user, f=selectors.QueueFilter(mine=True))
    page = _keyset(request, qs, errors, size=20)
    ws = work_scope(request.user)
    for row in page.rows:
        row["rate"] = row["order"].state == State.RESOLVED and ws.is_owner(row["order"])
    template = "workorders/_mine_list.html" if _partial(request) else "workorders/mine.html"
    return _vary(render(request, template, {"page": page, "errors": errors}))


# --- the order page ------------------------------------------------------------------------------
