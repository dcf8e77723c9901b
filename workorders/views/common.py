"""What the work-order pages share: constants, the small parsers of form values, deadlines and colours,
keyset pages, the photo and voice checks, who may file for others."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from django.core.files.base import ContentFile
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from django.utils.cache import patch_vary_headers
from django.utils.formats import date_format
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from catalog.models import FieldType, ServiceItem
from core.errors import ApiError, ValidationFailed
from core.formerrors import FormErrors
from org.access import paths_q
from org.models import Department, Level, Node
from workorders import photos, selectors, voice
from workorders.access import work_scope
from workorders.deadlines import setting
from workorders.models import Channel, Kind, WorkOrder
from workorders.services import Unit
from workorders.states import Action

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
    return htmx is not None and bool(htmx) and not htmx.history_restore_request


def _vary(response: HttpResponse) -> HttpResponse:
    patch_vary_headers(response, ["HX-Request"])
    return response


def _shown(data: Any) -> dict[str, str]:
    """What a form posted, to draw the page again: each field's last value, without NUL bytes (the form
    has refused them already; they must not reach the page either)."""
    return {k: data.get(k, "").replace("\x00", "") for k in data}


def _pos_int(value: str | None) -> int | None:
    if value and value.isascii() and value.isdigit() and len(value) < 10:
        return int(value) or None
    return None


def _error_lines(exc: ApiError, labels: dict[str, str] | None = None, ids: dict[str, str] | None = None) -> FormErrors:
    """The message, then each field's messages (named when the field has a label of its own). A page
    that ties messages to its fields names them in `ids` (the name the server knows → its control's id):
    those fields' messages go next to them, and the summary links to them instead of repeating them."""
    errors = FormErrors([str(exc.message)])
    for key, msgs in exc.fields.items():
        for m in msgs if isinstance(msgs, list | tuple) else [msgs]:
            text = str(m)
            label = labels.get(key, "") if labels else ""
            if ids and key in ids:
                errors.add(ids[key], text, label=label)
            elif label:
                errors.line(_("%(field)s: %(message)s") % {"field": label, "message": text})
            else:
                errors.line(text)
    if exc.status == 409:
        errors.line(_("The page now shows the order as it is."))
    return errors


# The order page's forms whose fields say their own messages: step → the name the server knows → control id.
STEP_FIELD_IDS: dict[str, dict[str, str]] = {
    "rate": {"solved": "rate-solved", "satisfaction": "rate-satisfaction", "comment": "rate-comment"},
}


def _safe_next(request: HttpRequest, nxt: str, default: str) -> str:
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
    if upload.size is not None:  # the size the client declared: refuse early; the bytes read decide
        photos.check_size(upload.size)
    data = upload.read(setting("PHOTO_MAX_BYTES") + 1)
    photos.check_size(len(data))
    jpeg, _width, _height = photos.photo_prepare(data)
    return ContentFile(jpeg, name="photo.jpg")


def _prepared_voice(request: HttpRequest, declared: str = "") -> voice.PreparedVoice | None:
    """The uploaded voice message (语音留言), checked before anything is written, as the photo is; voice_add
    stores it once the order is made. `declared`: the length in seconds the recording page reports."""
    upload = request.FILES.get("voice")
    if upload is None:
        return None
    return voice.voice_prepare(upload, declared=declared)


def _can_proxy(user: Any) -> bool:
    ws = work_scope(user)
    return bool(ws.proxy_paths or ws.scope.linked_household_ids)


def _latlng(lat_s: str, lng_s: str) -> tuple[Decimal | None, Decimal | None]:
    if not lat_s and not lng_s:
        return None, None
    lat: Decimal | None
    lng: Decimal | None
    try:
        lat = Decimal(lat_s).quantize(Decimal("0.000001"))
        lng = Decimal(lng_s).quantize(Decimal("0.000001"))
    except (InvalidOperation, ValueError):
        lat = lng = None
    if lat is None or lng is None or not (-90 <= lat <= 90 and -180 <= lng <= 180):
        raise ValidationFailed(fields={"lat": [_("The location from your phone could not be read.")]})
    return lat, lng


def _form_data(item: ServiceItem | None, d: dict[str, Any]) -> dict[str, Any]:
    """The item's extra fields as typed values; catalog.services.clean_form_data checks them."""
    if item is None:
        return {}
    out: dict[str, Any] = {}
    for f in item.form_fields:
        name = f["name"]
        raw = d.get(f"f_{name}", "")
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
