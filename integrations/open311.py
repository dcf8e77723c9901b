"""Open311 GeoReport v2 (http://wiki.open311.org/GeoReport_v2), so that civic apps made for it file
appeals into the one pool and follow them. Every resource answers in JSON and XML (the `.json`/`.xml`
suffix), errors in the specification's own format (a list of {code, description}, `<errors>` in XML) with
the HTTP status as the code.

What maps to what:
- a service is an active leaf category of the appeal catalogue (an appeal of type "report") or a published
  service item (a service order); an item's extra form fields are its attributes (`metadata` true), its
  required materials an attribute to read (`variable` false). A service code is the category's or item's
  own code; an item whose code a category also has is `item-<code>`;
- `POST requests` files a work order of channel "open311" through the same intake as every other channel:
  the api_key is an API token (its account is the filer, with that account's scope and rate limits), an
  `Idempotency-Key` header makes a retry return the first order, lat/long find the grid, an address
  without coordinates is placed by the tree's names (org.places);
- a request's id is the order's tracking code, answered at once (the spec's `token` is for servers that file
  later: `tokens/{token}` answers a tracking code with itself);
- a request's public view is what the public tracking page shows (workorders.views.track): the category,
  state, times and handling unit, never the resident's words, names, phone, address or location;
- status "closed" is an order resolved (办结) or finished (rated, closed, withdrawn); any other is "open".
"""

from __future__ import annotations

import datetime as dt
import json
import re
import xml.etree.ElementTree as ET
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from functools import wraps
from typing import Any

from django.conf import settings
from django.core.exceptions import BadRequest, RequestDataTooBig, TooManyFieldsSent
from django.db.models import Q
from django.http import HttpRequest, HttpResponse
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt

from accounts.services import token_authenticate
from catalog.models import Category, FieldType, ServiceItem
from core import ratelimit
from core.clock import SHANGHAI, now
from core.errors import ApiError, Conflict, NotFound, PermissionDenied, ValidationFailed
from core.memo import memo
from core.pages import local_datetime
from org.places import place_from_address
from workorders import services as workorders
from workorders.api import unit_name
from workorders.models import Channel, Kind, WorkOrder
from workorders.states import State

SPEC = "http://wiki.open311.org/GeoReport_v2"
FORMATS = {"json": "application/json; charset=utf-8", "xml": "text/xml; charset=utf-8"}
CLOSED = frozenset({State.RESOLVED, State.RATED, State.CLOSED, State.CANCELLED})
MAX_ROWS = 1000  # the specification's suggested limit per answer
DEFAULT_DAYS = 90  # ...and its default (and widest) window
MAX_IDS = 200
MAX_DESCRIPTION = 4000  # the specification's limit (our own intake takes up to workorders.models.TEXT_MAX)
MAX_NUMBER = Decimal(10) ** 15  # a number attribute larger than this is no answer to a form
KEY_PATTERN = re.compile(r"^[A-Za-z0-9_.:-]{0,64}$")
# When this API last changed in a way a client would notice (discovery's changeset).
CHANGESET = "2026-12-07T00:00:00+08:00"


class Open311Error(Exception):
    def __init__(self, status: int, description: str) -> None:
        super().__init__(description)
        self.status = status
        self.description = description


def setting(name: str) -> Any:
    return settings.GONGZHI["OPEN311"][name]


# --- rendering ------------------------------------------------------------------------------------------


# Characters XML 1.0 cannot carry (an error message may repeat what a client sent).
XML_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def _xml_value(parent: ET.Element, name: str, value: Any, item_names: dict[str, str]) -> None:
    el = ET.SubElement(parent, name)
    if isinstance(value, list):
        child = item_names.get(name, name.rstrip("s"))
        for v in value:
            _xml_value(el, child, v, item_names)
    elif isinstance(value, dict):
        for k, v in value.items():
            _xml_value(el, k, v, item_names)
    elif isinstance(value, bool):
        el.text = "true" if value else "false"
    elif value is not None:
        el.text = XML_ILLEGAL.sub("\ufffd", str(value))


# The element name of one entry of each list, where the specification's XML names it.
ITEM_NAMES = {
    "services": "service",
    "service_requests": "request",
    "attributes": "attribute",
    "values": "value",
    "endpoints": "endpoint",
    "formats": "format",
    "errors": "error",
}


def render(fmt: str, root: str, data: Any, status: int = 200) -> HttpResponse:
    if fmt == "xml":
        el = ET.Element(root)
        if isinstance(data, list):
            for entry in data:
                _xml_value(el, ITEM_NAMES[root], entry, ITEM_NAMES)
        else:
            for k, v in data.items():
                _xml_value(el, k, v, ITEM_NAMES)
        body = b'<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(
            el, encoding="utf-8", short_empty_elements=True
        )
        return HttpResponse(body, status=status, content_type=FORMATS["xml"])
    return HttpResponse(
        json.dumps(data, ensure_ascii=False, separators=(",", ":")), status=status, content_type=FORMATS["json"]
    )


def error(fmt: str, status: int, description: str) -> HttpResponse:
    return render(fmt, "errors", [{"code": status, "description": description}], status=status)


def resource(
    methods: tuple[str, ...] = ("GET",),
) -> Callable[[Callable[..., HttpResponse]], Callable[..., HttpResponse]]:
    """An Open311 view: the format from the URL, the jurisdiction checked, every failure in the spec's format."""

    def wrap(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
        @csrf_exempt  # authenticated by api_key, never by a cookie
        @wraps(view)
        def inner(request: HttpRequest, fmt: str, **kw: Any) -> HttpResponse:
            if request.method not in methods:
                response = error(fmt, 405, _("Method not allowed: use %(methods)s.") % {"methods": ", ".join(methods)})
                response["Allow"] = ", ".join(methods)
                return response
            try:
                params = request.POST if request.method == "POST" else request.GET
            except RequestDataTooBig:
                return error(fmt, 413, _("The request is too large."))
            except (TooManyFieldsSent, BadRequest):
                return error(fmt, 400, _("The request body cannot be read."))
            try:
                _check_jurisdiction(params.get("jurisdiction_id"))
                return view(request, fmt, **kw)
            except Open311Error as exc:
                return error(fmt, exc.status, exc.description)
            except ratelimit.RateLimited as exc:
                response = error(fmt, 429, str(exc.message))
                response["Retry-After"] = str(exc.retry_after)
                return response
            except ApiError as exc:
                return error(fmt, _status(exc), _describe(exc))

        return inner

    return wrap


def _status(exc: ApiError) -> int:
    if isinstance(exc, ValidationFailed):
        return 400  # the specification's code for a missing or invalid parameter
    if isinstance(exc, PermissionDenied):
        return 403
    if isinstance(exc, NotFound):
        return 400 if exc.code == "node.not_found" else 404
    if isinstance(exc, Conflict):
        return 409
    return exc.status


# Our field names → the parameter a client sent.
PARAMS = {"text": "description", "lat": "lat", "lng": "long", "grid": "address_string", "contact_phone": "phone",
          "contact_name": "first_name", "category": "service_code", "item": "service_code"}  # fmt: skip


def _param(field: str) -> str:
    if field.startswith("form_data."):
        return f"attribute[{field.removeprefix('form_data.')}]"
    return PARAMS.get(field, field)


def _describe(exc: ApiError) -> str:
    if exc.fields:
        return "; ".join(f"{_param(f)}: {' '.join(str(m) for m in msgs)}" for f, msgs in exc.fields.items())
    return str(exc.message)


def _check_jurisdiction(value: str | None) -> None:
    ours = setting("JURISDICTION_ID")
    if value and ours and value != ours:
        raise Open311Error(404, _("jurisdiction_id not found: this server serves %(ours)s.") % {"ours": ours})


def _iso(t: dt.datetime | None) -> str | None:
    return t.astimezone(SHANGHAI).isoformat(timespec="seconds") if t is not None else None


# --- services -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Service:
    code: str
    name: str
    description: str
    group: str
    keywords: str
    category: Category | None
    item: ServiceItem | None

    @property
    def metadata(self) -> bool:
        return self.item is not None and bool(self.item.form_fields or self.item.materials)


def services() -> list[Service]:
    """Every service, kept in memory with the catalogue (core.memo "catalog": a change to a category or an item
    is seen within a second): a civic app's every POST looks its service up."""
    return memo("catalog").get("open311-services", _services)


def _services() -> list[Service]:
    cats = list(Category.objects.filter(is_active=True).select_related("parent__parent"))
    parents = {c.parent_id for c in cats if c.parent_id}
    out: list[Service] = []
    codes: set[str] = set()

    def top(c: Category) -> Category:
        while c.parent is not None:
            c = c.parent
        return c

    for c in cats:
        if c.pk in parents:
            continue  # a leaf is what a resident reports; its parents group them
        path = []
        p = c.parent
        while p is not None:
            path.append(p.name)
            p = p.parent
        out.append(Service(c.code, c.name, "", top(c).name, ",".join(reversed(path)), c, None))
        codes.add(c.code)
    items = ServiceItem.objects.filter(is_published=True, category__is_active=True).select_related(
        "category__parent__parent"
    )
    for i in items:
        code = i.code if i.code not in codes else f"item-{i.code}"
        out.append(Service(code, i.name, i.description, top(i.category).name, i.category.name, None, i))
    return out


def find_service(code: str) -> Service | None:
    code = (code or "").strip()
    if not code or len(code) > 30:
        return None
    return next((s for s in services() if s.code == code), None)


def _service_out(s: Service) -> dict[str, Any]:
    return {
        "service_code": s.code,
        "service_name": s.name,
        "description": s.description,
        "metadata": s.metadata,
        "type": "realtime",
        "keywords": s.keywords,
        "group": s.group,
    }


# Our form field types → the specification's datatypes.
DATATYPES = {
    FieldType.TEXT: "string",
    FieldType.NUMBER: "number",
    FieldType.DATE: "datetime",
    FieldType.CHOICE: "singlevaluelist",
    FieldType.BOOL: "singlevaluelist",
}


def _attributes(s: Service) -> list[dict[str, Any]]:
    if s.item is None:
        return []
    out: list[dict[str, Any]] = []
    for n, f in enumerate(s.item.form_fields, start=1):
        kind = f.get("type", FieldType.TEXT)
        attr: dict[str, Any] = {
            "variable": True,
            "code": f["name"],
            "datatype": DATATYPES.get(kind, "string"),
            "required": bool(f.get("required")),
            "datatype_description": _("A date, YYYY-MM-DD") if kind == FieldType.DATE else "",
            "order": n,
            "description": f.get("label") or f["name"],
        }
        if kind == FieldType.CHOICE:
            attr["values"] = [{"key": str(v), "name": str(v)} for v in f.get("choices", [])]
        elif kind == FieldType.BOOL:
            attr["values"] = [{"key": "true", "name": _("yes")}, {"key": "false", "name": _("no")}]
        out.append(attr)
    if s.item.materials:
        out.append(
            {
                "variable": False,
                "code": "materials",
                "datatype": "text",
                "required": False,
                "datatype_description": "",
                "order": len(out) + 1,
                "description": _("Please bring: %(materials)s") % {"materials": "、".join(s.item.materials)},
            }
        )
    return out


@resource()
def discovery_view(request: HttpRequest, fmt: str) -> HttpResponse:
    base = request.build_absolute_uri("/open311/v2")  # the spec's [endpoint]/services.[format]
    return render(
        fmt,
        "discovery",
        {
            "changeset": CHANGESET,
            "contact": setting("CONTACT"),
            "key_service": setting("KEY_SERVICE"),
            "endpoints": [
                {
                    "specification": SPEC,
                    "url": base,
                    "changeset": CHANGESET,
                    "type": "production",
                    "formats": ["application/json", "text/xml"],
                }
            ],
        },
    )


@resource()
def services_view(request: HttpRequest, fmt: str) -> HttpResponse:
    return render(fmt, "services", [_service_out(s) for s in services()])


@resource()
def service_definition_view(request: HttpRequest, fmt: str, code: str) -> HttpResponse:
    s = find_service(code)
    if s is None:
        raise Open311Error(404, _("service_code not found: %(code)s") % {"code": code[:30]})
    return render(fmt, "service_definition", {"service_code": s.code, "attributes": _attributes(s)})


# --- requests -------------------------------------------------------------------------------------------


def _request_out(o: WorkOrder, codes: dict[tuple[str, int], str]) -> dict[str, Any]:
    shown = o.primary or o
    if o.item_id:
        code = codes.get(("item", o.item_id)) or (o.item.code if o.item is not None else None)
    else:
        code = codes.get(("category", o.category_id))
    return {
        "service_request_id": o.tracking_code,
        "status": "closed" if o.state in CLOSED else "open",
        "status_notes": str(State(o.state).label),
        "service_name": o.item.name if o.item is not None else o.category.name,
        "service_code": code or o.category.code,
        # The public never reads the resident's words, nor where they live (see the module's docstring).
        "description": None,
        "agency_responsible": unit_name(shown),
        "service_notice": None,
        "requested_datetime": _iso(o.created_at),
        "updated_datetime": _iso(o.updated_at),
        "expected_datetime": _iso(shown.due_at),
        "address": None,
        "address_id": None,
        "zipcode": None,
        "lat": None,
        "long": None,
        "media_url": None,
    }


def _service_codes() -> dict[tuple[str, int], str]:
    out: dict[tuple[str, int], str] = {}
    for s in services():
        if s.item is not None:
            out[("item", s.item.pk)] = s.code
        elif s.category is not None:
            out[("category", s.category.pk)] = s.code
    return out


def _when(value: str, name: str) -> dt.datetime:
    t = local_datetime(value) if len(value) <= 40 else None
    if t is None:
        raise Open311Error(
            400, _("%(name)s is not a W3C date and time (e.g. 2026-11-18T10:00:00+08:00).") % {"name": name}
        )
    return t


def _orders() -> Any:
    return WorkOrder.objects.select_related(
        "category", "item", "department", "unit_node", "primary__department", "primary__unit_node"
    )


@resource(methods=("GET", "POST"))
def requests_view(request: HttpRequest, fmt: str) -> HttpResponse:
    if request.method == "POST":
        return _post_request(request, fmt)
    p = request.GET
    qs = _orders()
    if p.get("service_request_id", "").strip():
        ids = [i.strip().upper() for i in p["service_request_id"].split(",") if i.strip()]
        if len(ids) > MAX_IDS:
            raise Open311Error(400, _("At most %(n)s service_request_id at once.") % {"n": MAX_IDS})
        rows = list(qs.filter(tracking_code__in=ids))
        order = {c: n for n, c in enumerate(ids)}
        rows.sort(key=lambda o: order[o.tracking_code])
        codes = _service_codes()
        return render(fmt, "service_requests", [_request_out(o, codes) for o in rows])
    end = _when(p["end_date"], "end_date") if p.get("end_date", "").strip() else None
    start = _when(p["start_date"], "start_date") if p.get("start_date", "").strip() else None
    if end is None:
        end = start + dt.timedelta(days=DEFAULT_DAYS) if start is not None else now()
    if start is None:
        start = end - dt.timedelta(days=DEFAULT_DAYS)
    if start > end:
        raise Open311Error(400, _("start_date is after end_date."))
    if end - start > dt.timedelta(days=DEFAULT_DAYS):
        raise Open311Error(
            400, _("start_date and end_date may not span more than %(days)s days.") % {"days": DEFAULT_DAYS}
        )
    q = Q(created_at__gte=start, created_at__lte=end)
    if p.get("status", "").strip():
        wanted = {s.strip().lower() for s in p["status"].split(",") if s.strip()}
        if not wanted <= {"open", "closed"}:
            raise Open311Error(400, _("status is open or closed."))
        if wanted == {"open"}:
            q &= ~Q(state__in=CLOSED)
        elif wanted == {"closed"}:
            q &= Q(state__in=CLOSED)
    if p.get("service_code", "").strip():
        wanted_codes = [c.strip() for c in p["service_code"].split(",") if c.strip()][:50]
        by_code = {s.code: s for s in services()}
        sq = Q(pk__in=[])
        for c in wanted_codes:
            s = by_code.get(c)
            if s is None:
                raise Open311Error(404, _("service_code not found: %(code)s") % {"code": c[:30]})
            sq |= Q(item=s.item) if s.item is not None else Q(category=s.category, item__isnull=True)
        q &= sq
    rows = list(qs.filter(q).order_by("-created_at", "-id")[:MAX_ROWS])
    codes = _service_codes()
    return render(fmt, "service_requests", [_request_out(o, codes) for o in rows])


@resource()
def request_view(request: HttpRequest, fmt: str, request_id: str) -> HttpResponse:
    code = request_id.strip().upper()[:16]
    o = _orders().filter(tracking_code=code).first()
    if o is None:
        raise Open311Error(404, _("service_request_id not found: %(id)s") % {"id": code})
    return render(fmt, "service_requests", [_request_out(o, _service_codes())])


@resource()
def token_view(request: HttpRequest, fmt: str, token: str) -> HttpResponse:
    code = token.strip().upper()[:16]
    o = WorkOrder.objects.filter(tracking_code=code).only("tracking_code").first()
    if o is None:
        raise Open311Error(404, _("token not found: %(token)s") % {"token": code})
    return render(fmt, "service_requests", [{"service_request_id": o.tracking_code, "token": o.tracking_code}])


# --- filing a request -----------------------------------------------------------------------------------


def _coordinate(value: str, name: str, limit: int) -> Decimal:
    try:
        d = Decimal(value.strip())
    except (InvalidOperation, ValueError):
        raise Open311Error(400, _("%(name)s is not a number.") % {"name": name}) from None
    if not d.is_finite() or abs(d) > limit:
        raise Open311Error(
            400, _("%(name)s must lie between -%(limit)s and %(limit)s.") % {"name": name, "limit": limit}
        )
    return d.quantize(Decimal("0.000001"))


ATTRIBUTE = re.compile(r"^attribute\[([^\[\]]{1,40})\](\[\])?$")


def _attribute_values(post: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key in post:
        m = ATTRIBUTE.match(key)
        if m is None:
            if key.startswith("attribute"):
                raise Open311Error(
                    400, _("%(key)s is not an attribute: write attribute[code]=value.") % {"key": key[:60]}
                )
            continue
        values = post.getlist(key)
        out[m.group(1)] = values if m.group(2) else values[-1]
    return out


def _typed(item: ServiceItem, raw: dict[str, Any]) -> dict[str, Any]:
    """Form-encoded attribute values are text: turn each into what the item's field holds."""
    fields = {f["name"]: f for f in item.form_fields}
    out: dict[str, Any] = {}
    for code, value in raw.items():
        f = fields.get(code)
        if f is None:
            raise Open311Error(400, _("attribute[%(code)s]: this service has no such attribute.") % {"code": code})
        if isinstance(value, list):
            if len(value) != 1:
                raise Open311Error(400, _("attribute[%(code)s]: give one value.") % {"code": code})
            value = value[0]
        value = value.strip()
        kind = f.get("type")
        if value == "":
            out[code] = ""
        elif kind == FieldType.NUMBER:
            try:
                d = Decimal(value)
                if not d.is_finite() or abs(d) > MAX_NUMBER or len(value) > 30:
                    raise InvalidOperation
                out[code] = int(d) if d == d.to_integral_value() else float(d)
            except (InvalidOperation, ValueError):
                raise Open311Error(400, _("attribute[%(code)s]: a number, please.") % {"code": code}) from None
        elif kind == FieldType.BOOL:
            if value.lower() not in ("true", "false", "1", "0"):
                raise Open311Error(400, _("attribute[%(code)s]: true or false.") % {"code": code})
            out[code] = value.lower() in ("true", "1")
        elif kind == FieldType.DATE:
            stamp = local_datetime(value) if len(value) <= 40 else None
            if stamp is None:
                raise Open311Error(400, _("attribute[%(code)s]: a date, YYYY-MM-DD.") % {"code": code})
            out[code] = stamp.date().isoformat()
        elif kind == FieldType.CHOICE:
            # A choice is offered by its text (the key): give back the choice itself, a number if it is one.
            out[code] = next((c for c in f.get("choices", []) if str(c) == value), value)
        else:
            out[code] = value
    return out


def _one(post: Any, name: str, limit: int) -> str:
    value = post.get(name, "")
    if "\x00" in value:
        raise Open311Error(400, _("%(name)s contains a NUL character.") % {"name": name})
    if len(value) > limit:
        raise Open311Error(400, _("%(name)s is longer than %(n)s characters.") % {"name": name, "n": limit})
    return value.strip()


def _post_request(request: HttpRequest, fmt: str) -> HttpResponse:
    post = request.POST
    user = token_authenticate(post.get("api_key", "").strip()) if post.get("api_key") else None
    if user is None:
        raise Open311Error(403, _("api_key is missing or not valid."))
    ratelimit.hit("intake", "address", ratelimit.client_ip(request))
    for name in post:
        if any("\x00" in v for v in post.getlist(name)):
            raise Open311Error(400, _("%(name)s contains a NUL character.") % {"name": name[:40]})
    s = find_service(post.get("service_code", ""))
    if s is None:
        if not post.get("service_code", "").strip():
            raise Open311Error(400, _("service_code is required."))
        raise Open311Error(404, _("service_code not found: %(code)s") % {"code": post["service_code"][:30]})
    key = request.headers.get("Idempotency-Key", "")
    if not KEY_PATTERN.match(key):
        raise Open311Error(400, _("Idempotency-Key: at most 64 letters, digits and _ . : -"))
    lat_s, long_s = _one(post, "lat", 30), _one(post, "long", 30)
    address = _one(post, "address_string", 200)
    address_id = _one(post, "address_id", 60)
    lat = lng = None
    grid = None
    if lat_s or long_s:
        if not (lat_s and long_s):
            raise Open311Error(400, _("Give both lat and long."))
        lat, lng = _coordinate(lat_s, "lat", 90), _coordinate(long_s, "long", 180)
    elif address:
        grid = place_from_address(address)
        if grid is None:
            raise Open311Error(400, _("address_string names no place we serve, or more than one: send lat and long."))
    elif address_id:
        raise Open311Error(400, _("address_id is not known here: send lat and long, or address_string."))
    else:
        raise Open311Error(400, _("A location is required: lat and long, or address_string."))
    description = _one(post, "description", 4000)
    if len(description) > MAX_DESCRIPTION:
        raise Open311Error(400, _("description is longer than %(n)s characters.") % {"n": MAX_DESCRIPTION})
    media_url = _one(post, "media_url", 500)
    if media_url and not re.match(r"^https?://\S+$", media_url):
        raise Open311Error(400, _("media_url is not an http(s) address."))
    first, last = _one(post, "first_name", 20), _one(post, "last_name", 20)
    phone = _one(post, "phone", 20)
    if phone and not re.match(r"^\+?[0-9 ()-]{3,20}$", phone):
        raise Open311Error(400, _("phone is not a phone number."))
    for name in ("email", "device_id", "account_id"):
        _one(post, name, 200)
    attributes = _attribute_values(post)
    if s.item is None and attributes:
        raise Open311Error(400, _("This service takes no attributes."))
    form = _typed(s.item, attributes) if s.item is not None else {}
    text = description or s.name
    if media_url:
        text = f"{text}\n{_('Photo')}: {media_url}"
    # Chinese names are written family name first.
    contact = (
        (last + first)
        if any("\u4e00" <= ch <= "\u9fff" for ch in last + first)
        else " ".join(x for x in (first, last) if x)
    )
    result = workorders.workorder_submit(
        by=user,
        kind=Kind.SERVICE if s.item is not None else Kind.REPORT,
        category=s.category if s.item is None else None,
        item=s.item,
        text=text,
        channel=Channel.OPEN311,
        lat=lat,
        lng=lng,
        grid=grid,
        address=address,
        contact_name=contact,
        contact_phone=phone.replace(" ", ""),
        form_data={k: v for k, v in form.items() if v != ""},
        idempotency_key=key,
    )
    o = result.order
    return render(
        fmt,
        "service_requests",
        [{"service_request_id": o.tracking_code, "service_notice": "", "account_id": None}],
        status=201 if result.created else 200,
    )
