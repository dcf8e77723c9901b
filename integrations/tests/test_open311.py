"""Open311 GeoReport v2 conformance, written from the specification's own text
(http://wiki.open311.org/GeoReport_v2 and http://wiki.open311.org/Service_Discovery), and from what
integrations/open311.py's docstring says our catalogue and work orders map to.

Every resource is read in both formats the specification defines (the `.json`/`.xml` suffix). An XML answer is
parsed with xml.etree and its element names and nesting are checked exactly as the specification shows them
(`<services><service>`, `<service_definition><attributes><attribute><values><value>`, `<service_requests>
<request>`, `<errors><error>`, `<discovery><endpoints><endpoint><formats><format>`); both formats are then read
into one shape (JSON scalars as the text XML carries: true/false, numbers as digits, null and "" as nothing),
so that each test states its expectations once.

A test marked xfail(strict=True, reason="BUG: …") is a place where the code disagrees with the specification
or with its own docstring; the reason quotes the specification.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode, urlsplit

import pytest
from django.test import Client
from django.utils import translation

from accounts.models import User
from accounts.services import token_authenticate, token_create, token_revoke, user_create
from catalog import services as catalog
from catalog.models import Category, ServiceItem
from core.clock import SHANGHAI
from gongzhi.test import WorkWorld, db_fingerprint
from workorders import services as workorders
from workorders.models import Channel, Kind, WorkOrder
from workorders.services import Unit
from workorders.states import State
from workorders.tests.helpers import Clock, at

SPEC = "http://wiki.open311.org/GeoReport_v2"
BASE = "/open311/v2/"
FORMATS = ("json", "xml")
# "The HTTP content-type headers should look like this for each format" (Format Support).
CONTENT_TYPES = {"json": "application/json; charset=utf-8", "xml": "text/xml; charset=utf-8"}
FORM = "application/x-www-form-urlencoded; charset=utf-8"  # "POST Service Request: Content-Type: …"
# "the root element must be preceded with the XML declaration including the encoding="UTF-8" attribute"
XML_DECLARATION = re.compile(rb'^<\?xml version="1\.0" encoding="(?i:utf-8)"\?>')
# The list elements of the specification's XML and the name of each of their entries.
LISTS = {
    "services": "service",
    "attributes": "attribute",
    "values": "value",
    "service_requests": "request",
    "errors": "error",
    "endpoints": "endpoint",
    "formats": "format",
}
SERVICE_FIELDS = {"service_code", "service_name", "description", "metadata", "type", "keywords", "group"}
ATTRIBUTE_FIELDS = {"variable", "code", "datatype", "required", "datatype_description", "order", "description"}
DATATYPES = {"string", "number", "datetime", "text", "singlevaluelist", "multivaluelist"}
LIST_DATATYPES = {"singlevaluelist", "multivaluelist"}
POST_FIELDS = {"service_request_id", "token", "service_notice", "account_id"}
REQUEST_FIELDS = {
    "service_request_id", "status", "status_notes", "service_name", "service_code", "description",
    "agency_responsible", "service_notice", "requested_datetime", "updated_datetime", "expected_datetime",
    "address", "address_id", "zipcode", "lat", "long", "media_url",
}  # fmt: skip
# "All date/time fields must be formatted in a common subset of ISO 8601 as per the w3 note. Timezone
# information (either Z meaning UTC, or an HH:MM offset from UTC) must be included."
W3C = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d(:\d\d(\.\d+)?)?(Z|[+-]\d\d:\d\d)$")

T0 = "2026-12-10T10:00"  # a Thursday, Asia/Shanghai
A1 = ("31.180100", "115.020200")  # beside grid A1湾组's centre
JURISDICTION = "ceshi.gongzhi.example.cn"


# --- reading answers ------------------------------------------------------------------------------------


def _scalar(value: Any) -> str | None:
    """A JSON value as XML carries it."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None or value == "":
        return None
    return str(value)


def _from_json(value: Any) -> Any:
    if isinstance(value, list):
        return [_from_json(v) for v in value]
    if isinstance(value, dict):
        return {k: _from_json(v) for k, v in value.items()}
    return _scalar(value)


def _from_xml(el: ET.Element) -> Any:
    if el.tag in LISTS:
        names = [child.tag for child in el]
        assert names == [LISTS[el.tag]] * len(names), f"<{el.tag}> holds {names}"
        assert not (el.text or "").strip(), f"<{el.tag}> has text besides its entries"
        return [_from_xml(child) for child in el]
    if len(el):
        names = [child.tag for child in el]
        assert len(names) == len(set(names)), f"<{el.tag}> repeats an element: {names}"
        assert not (el.text or "").strip(), f"<{el.tag}> has text besides its elements"
        return {child.tag: _from_xml(child) for child in el}
    return el.text or None


def read(r: Any, fmt: str, root: str, status: int | tuple[int, ...] = 200) -> Any:
    """The answer in one shape, after checking its status, its Content-Type and (XML) its declaration and
    every element's name and place."""
    statuses = status if isinstance(status, tuple) else (status,)
    assert r.status_code in statuses, (r.status_code, r.content[:600])
    assert r["Content-Type"].lower().replace(" ", "") == CONTENT_TYPES[fmt].replace(" ", ""), r["Content-Type"]
    if fmt == "json":
        data = json.loads(r.content.decode("utf-8"))
        assert isinstance(data, list if root in LISTS else dict), data
        return _from_json(data)
    assert XML_DECLARATION.match(r.content), r.content[:80]
    el = ET.fromstring(r.content)  # noqa: S314 - our own server's answer
    assert el.tag == root, el.tag
    if root in LISTS:
        return _from_xml(el)
    assert len(el), f"<{root}> is empty"
    return _from_xml(el)


def raw_json(r: Any) -> Any:
    return json.loads(r.content.decode("utf-8"))


def refused(r: Any, fmt: str, status: int | tuple[int, ...]) -> str:
    """An error in the specification's format ("Errors"): a list of {code, description}, `<errors><error>` in
    XML, the HTTP status as the code. Returns the descriptions."""
    errors = read(r, fmt, "errors", status)
    assert errors, "an error answer lists at least one error"
    for e in errors:
        assert set(e) == {"code", "description"}, e
        assert e["code"] == str(r.status_code), (e, r.status_code)
        assert e["description"], e
    if fmt == "json":
        assert all(type(e["code"]) is int for e in raw_json(r)), raw_json(r)
    return " ".join(e["description"] for e in errors)


def get(client: Client, path: str, fmt: str, **params: Any) -> Any:
    return client.get(f"{BASE}{path}.{fmt}", params)


def post(client: Client, fmt: str, data: dict[str, Any], **headers: str) -> Any:
    """POST requests.[format], form-encoded as the specification says ("Format sent")."""
    return client.post(f"{BASE}requests.{fmt}", urlencode(data, doseq=True), content_type=FORM, headers=headers)


def ids(rows: list[dict[str, Any]]) -> list[str]:
    return [row["service_request_id"] for row in rows]


def label(r: Any, state: str) -> str:
    """A state's name in the language the answer was written in."""
    with translation.override(r.wsgi_request.LANGUAGE_CODE):
        return str(State(state).label)


def iso(t: dt.datetime) -> str:
    return t.astimezone(SHANGHAI).isoformat(timespec="seconds")


def when(value: str) -> dt.datetime:
    return dt.datetime.fromisoformat(value.replace("Z", "+00:00"))


# --- fixtures -------------------------------------------------------------------------------------------


@pytest.fixture
def clock() -> Iterator[Clock]:
    """core.clock.now() is T0 until a test moves it."""
    c = Clock()
    c.set(T0)
    yield c
    c.reset()


@pytest.fixture
def app(world: WorkWorld, clock: Clock) -> User:
    """A civic app's account (a plain account: files as the resident who uses the app)."""
    return user_create(username="civic_app", password=None, display_name="随手拍")


@pytest.fixture
def key(app: User) -> str:
    """The app's api_key: an API token. Its first use records when it was used (a write): done here, before any
    test counts what a request changed."""
    _token, raw = token_create(user=app, name="Open311")
    assert token_authenticate(raw) is not None
    return raw


@pytest.fixture
def jurisdiction(settings: Any) -> str:
    settings.GONGZHI = {
        **settings.GONGZHI,
        "OPEN311": {**settings.GONGZHI["OPEN311"], "JURISDICTION_ID": JURISDICTION},
    }
    return JURISDICTION


def report(key: str, **extra: Any) -> dict[str, Any]:
    """A street light out at A1, as a civic app posts it."""
    data = {"api_key": key, "service_code": "010101", "lat": A1[0], "long": A1[1], "description": "村口路灯不亮了"}
    return data | extra


def file(client: Client, data: dict[str, Any], fmt: str = "json", **headers: str) -> str:
    """POST a request; its service_request_id."""
    rows = read(post(client, fmt, data, **headers), fmt, "service_requests", (200, 201))
    assert len(rows) == 1, rows
    assert rows[0]["service_request_id"], rows
    return rows[0]["service_request_id"]


def submit(world: WorkWorld, by: User, *, t: dt.datetime | None = None, code: str = "010101", **kw: Any) -> WorkOrder:
    """An order filed through the intake service (another channel, or the past: `t`)."""
    item = ServiceItem.objects.filter(code=code).first()
    category = None if item else Category.objects.get(code=code)
    return workorders.workorder_submit(
        by=by,
        kind=Kind.SERVICE if item else Kind.REPORT,
        category=category,
        item=item,
        text=kw.pop("text", "门口的路灯坏了"),
        channel=kw.pop("channel", Channel.OPEN311),
        grid=world.c.a1,
        at=t,
        **kw,
    ).order


def fresh(o: WorkOrder) -> WorkOrder:
    return WorkOrder.objects.get(pk=o.pk)


def resolve(world: WorkWorld, o: WorkOrder) -> WorkOrder:
    """Dispatched to 住建局, signed for and resolved by the people who would do it."""
    workorders.workorder_dispatch(order=fresh(o), to=Unit(department=world.housing), by=world.c.u_zhao)
    workorders.workorder_accept(order=fresh(o), by=world.u_feng)
    workorders.workorder_resolve(order=fresh(o), by=world.u_feng, reply="已更换灯泡")
    return fresh(o)


# --- Service Discovery ----------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", FORMATS)
def test_discovery_names_the_endpoint_its_specification_and_formats(fmt, client, settings, db):
    settings.GONGZHI = {
        **settings.GONGZHI,
        "OPEN311": {**settings.GONGZHI["OPEN311"], "CONTACT": "0713-12345", "KEY_SERVICE": "向县政务办申请"},
    }
    d = read(get(client, "discovery", fmt), fmt, "discovery")

    assert {"changeset", "contact", "key_service", "endpoints"} <= set(d), d
    assert W3C.match(d["changeset"]), d["changeset"]
    assert d["contact"] == "0713-12345"
    assert d["key_service"] == "向县政务办申请"
    assert d["endpoints"], d
    for e in d["endpoints"]:
        assert {"specification", "url", "changeset", "type", "formats"} <= set(e), e
        assert e["type"] in ("production", "test"), e
        assert W3C.match(e["changeset"]), e
    (ours,) = [e for e in d["endpoints"] if e["specification"] == SPEC]
    assert ours["type"] == "production"
    # "XML is a required format, but JSON can be provided … indicated through the Service Discovery formats".
    assert {"text/xml", "application/json"} <= set(ours["formats"]), ours["formats"]
    url = urlsplit(ours["url"])
    assert url.scheme in ("http", "https") and url.netloc, ours["url"]
    # The endpoint's url is where the methods are: /services.[format] below it answers.
    path = url.path if url.path.endswith("/") else url.path + "/"
    assert path == BASE
    read(client.get(f"{path}services.{fmt}"), fmt, "services")


@pytest.mark.parametrize("fmt", FORMATS)
def test_discovery_url_follows_the_specifications_url_template(fmt, client, db):
    d = read(get(client, "discovery", fmt), fmt, "discovery")
    (ours,) = [e for e in d["endpoints"] if e["specification"] == SPEC]
    read(client.get(f"{urlsplit(ours['url']).path}/services.{fmt}"), fmt, "services")


@pytest.mark.xfail(
    strict=True,
    reason="BUG: discovery's changeset is a constant (open311.CHANGESET) and does not move when the catalogue "
    "does; Service Discovery: 'In the case of the Open311 GeoReport v2 specification, an updated changeset "
    "indicates that there has been an update to the Service Discovery list or to the Service Definitions. This "
    "is basically a flag to indicated whether clients should refresh frequently cached data.'",
)
@pytest.mark.parametrize("fmt", FORMATS)
def test_discovery_changeset_moves_when_a_service_definition_changes(fmt, world, client, clock):
    def changesets() -> list[dt.datetime]:
        d = read(get(client, "discovery", fmt), fmt, "discovery")
        (ours,) = [e for e in d["endpoints"] if e["specification"] == SPEC]
        return [when(d["changeset"]), when(ours["changeset"])]

    before = changesets()
    clock.advance(days=1)
    # S008 now asks a required question: a client that cached its definition must fetch it again.
    item = ServiceItem.objects.get(code="S008")
    item.form_fields = [{"name": "crop", "label": "作物", "type": "text", "required": True}]
    item.save()
    assert read(get(client, "services/S008", fmt), fmt, "service_definition")["attributes"], "the definition changed"
    after = changesets()
    assert max(after) > max(before), (before, after)


# --- GET Service List -----------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", FORMATS)
def test_service_list_fields_types_and_metadata(fmt, world, client):
    r = get(client, "services", fmt)
    services = read(r, fmt, "services")
    by_code = {s["service_code"]: s for s in services}
    assert len(by_code) == len(services), "service codes are unique"

    for s in services:
        assert set(s) == SERVICE_FIELDS, s
        assert s["service_code"] and s["service_name"], s
        assert s["metadata"] in ("true", "false"), s
        # Our orders are made at once: the id comes back immediately ("realtime").
        assert s["type"] == "realtime", s
    if fmt == "json":
        assert all(isinstance(s["metadata"], bool) for s in raw_json(r))

    # A service is an active leaf category (an appeal) or a published service item.
    assert by_code["010101"]["service_name"] == "路灯损坏"
    assert by_code["010101"]["group"] == "城乡建设"
    assert "市政设施" in by_code["010101"]["keywords"].split(",")
    assert "01" not in by_code and "0101" not in by_code, "a category with children only groups services"
    leaves = Category.objects.filter(is_active=True).exclude(children__is_active=True)
    items = ServiceItem.objects.filter(is_published=True, category__is_active=True)
    assert set(by_code) == {c.code for c in leaves} | {i.code for i in items}

    # metadata is true exactly where an item has extra form fields or materials.
    for i in items:
        assert by_code[i.code]["metadata"] == ("true" if i.form_fields or i.materials else "false"), i.code
        assert by_code[i.code]["service_name"] == i.name
    assert by_code["S003"]["metadata"] == "true"
    assert by_code["S008"]["metadata"] == "false"  # neither fields nor materials
    for c in leaves:
        assert by_code[c.code]["metadata"] == "false", c.code


@pytest.mark.parametrize("fmt", FORMATS)
def test_service_list_follows_the_catalogue(fmt, world, client, key):
    ServiceItem.objects.filter(code="S008").update(is_published=False)
    Category.objects.filter(code="010103").update(is_active=False)

    codes = {s["service_code"] for s in read(get(client, "services", fmt), fmt, "services")}
    assert "S008" not in codes and "010103" not in codes
    assert "S007" in codes and "010102" in codes
    refused(get(client, "services/S008", fmt), fmt, 404)
    before = db_fingerprint()
    refused(post(client, fmt, report(key, service_code="010103")), fmt, (400, 404))
    assert db_fingerprint() == before


@pytest.mark.parametrize("fmt", FORMATS)
def test_an_item_whose_code_a_category_also_has_is_item_code(fmt, world, client, key):
    catalog.category_create(code="S008", name="农技咨询", parent=Category.objects.get(code="9901"))

    by_code = {s["service_code"]: s for s in read(get(client, "services", fmt), fmt, "services")}
    assert by_code["S008"]["service_name"] == "农技咨询"
    assert by_code["item-S008"]["service_name"] == "农技指导预约"
    assert read(get(client, "services/item-S008", fmt), fmt, "service_definition")["service_code"] == "item-S008"

    rid = file(client, report(key, service_code="item-S008", description="想请技术员来看看稻瘟病"), fmt)
    o = WorkOrder.objects.get(tracking_code=rid)
    assert o.item is not None and o.item.code == "S008" and o.kind == Kind.SERVICE
    (row,) = read(get(client, f"requests/{rid}", fmt), fmt, "service_requests")
    assert row["service_code"] == "item-S008" and row["service_name"] == "农技指导预约"


# --- GET Service Definition -----------------------------------------------------------------------------


def _check_attributes(attributes: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    orders = []
    for a in attributes:
        keys = ATTRIBUTE_FIELDS | ({"values"} if a["datatype"] in LIST_DATATYPES else set())
        assert set(a) - {"datatype_description"} == keys - {"datatype_description"}, a
        assert a["variable"] in ("true", "false") and a["required"] in ("true", "false"), a
        assert a["datatype"] in DATATYPES, a
        assert a["code"] and a["description"], a
        orders.append(int(a["order"]))
        if a["datatype"] in LIST_DATATYPES:
            assert a["values"], a
            for v in a["values"]:
                assert set(v) == {"key", "name"} and v["key"] and v["name"], v
    # "Any positive integer not used for other attributes in the same service_code"
    assert all(n >= 1 for n in orders) and len(set(orders)) == len(orders), orders
    codes = [a["code"] for a in attributes]
    assert len(set(codes)) == len(codes), "an attribute's code is a unique identifier"
    return {a["code"]: a for a in attributes}


@pytest.mark.parametrize("fmt", FORMATS)
def test_service_definition_of_items(fmt, world, client):
    r = get(client, "services/S003", fmt)
    d = read(r, fmt, "service_definition")
    assert set(d) == {"service_code", "attributes"}
    assert d["service_code"] == "S003"
    attrs = _check_attributes(d["attributes"])
    members = attrs["members"]
    assert members["variable"] == "true" and members["required"] == "true"
    assert members["datatype"] == "number"
    assert members["description"] == "家庭人口"
    # Its required materials: an attribute to read, not to fill in.
    (materials,) = [a for a in attrs.values() if a["variable"] == "false"]
    assert materials["required"] == "false"
    assert "身份证" in materials["description"] and "收入证明" in materials["description"]
    assert int(members["order"]) < int(materials["order"])
    if fmt == "json":
        (m,) = [a for a in raw_json(r)["attributes"] if a["code"] == "members"]
        assert m["variable"] is True and m["required"] is True and type(m["order"]) is int

    d = read(get(client, "services/S001", fmt), fmt, "service_definition")
    kind = _check_attributes(d["attributes"])["disability_kind"]
    assert kind["datatype"] == "singlevaluelist" and kind["required"] == "true"
    assert [v["key"] for v in kind["values"]] == ["视力", "听力", "言语", "肢体", "智力", "精神"]


@pytest.mark.parametrize("fmt", FORMATS)
def test_service_definition_maps_every_field_type_and_takes_its_values(fmt, world, client, key):
    fields = [
        {"name": "note", "label": "补充说明", "type": "text", "required": False},
        {"name": "n", "label": "户数", "type": "number", "required": True},
        {"name": "day", "label": "上门日期", "type": "date", "required": True},
        {"name": "kind", "label": "类别", "type": "choice", "required": True, "choices": ["甲", "乙"]},
        {"name": "ok", "label": "是否在家", "type": "bool", "required": True},
    ]
    catalog.service_item_create(
        code="S901", name="上门服务", category=Category.objects.get(code="030202"), form_fields=fields
    )
    d = read(get(client, "services/S901", fmt), fmt, "service_definition")
    attrs = _check_attributes(d["attributes"])
    assert [a["code"] for a in sorted(attrs.values(), key=lambda a: int(a["order"]))] == [f["name"] for f in fields]
    assert attrs["note"]["datatype"] in ("string", "text") and attrs["note"]["required"] == "false"
    assert attrs["n"]["datatype"] == "number"
    assert attrs["day"]["datatype"] == "datetime"
    assert attrs["kind"]["datatype"] == "singlevaluelist"
    assert attrs["ok"]["datatype"] == "singlevaluelist"
    assert {v["key"] for v in attrs["ok"]["values"]} == {"true", "false"}

    # Each answered with attribute[code]=value, as text, and kept as what the field holds.
    answers = {"note": "请下午来", "n": "2", "day": "2026-12-20", "kind": "乙", "ok": "true"}
    rid = file(client, report(key, service_code="S901", **{f"attribute[{k}]": v for k, v in answers.items()}), fmt)
    o = WorkOrder.objects.get(tracking_code=rid)
    assert o.form_data == {"note": "请下午来", "n": 2, "day": "2026-12-20", "kind": "乙", "ok": True}


@pytest.mark.parametrize("fmt", FORMATS)
def test_service_definition_of_a_category_has_no_attributes(fmt, world, client):
    d = read(get(client, "services/010101", fmt), fmt, "service_definition")
    assert d["service_code"] == "010101"
    assert d["attributes"] == []


@pytest.mark.parametrize("fmt", FORMATS)
def test_service_definition_of_an_unknown_code_is_404(fmt, world, client):
    # "404 - service_code or jurisdiction_id provided were not found (specify in error response)"
    assert "NOPE42" in refused(get(client, "services/NOPE42", fmt), fmt, 404)
    refused(get(client, "services/01", fmt), fmt, 404)  # a group, not a service
    refused(get(client, "services/" + "9" * 40, fmt), fmt, 404)


# --- POST Service Request -------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", FORMATS)
def test_post_with_lat_long_files_an_open311_order(fmt, world, client, key, app):
    r = post(client, fmt, report(key, first_name="小明", last_name="王", phone="138 1234 5678"))
    rows = read(r, fmt, "service_requests", (200, 201))
    assert len(rows) == 1
    (row,) = rows
    assert set(row) <= POST_FIELDS, row
    rid = row["service_request_id"]
    assert rid
    # The docstring: `token` is the same code (orders are made at once).
    assert row.get("token") in (None, rid)

    (o,) = WorkOrder.objects.all()
    assert o.tracking_code == rid
    assert o.channel == Channel.OPEN311 == "open311"
    assert o.kind == Kind.REPORT and o.category.code == "010101" and o.item is None
    assert o.submitted_by == app
    assert o.grid_id == world.c.a1.pk
    assert (o.lat, o.lng) == (Decimal(A1[0]), Decimal(A1[1]))
    assert o.text == "村口路灯不亮了"
    # Chinese names are written family name first.
    assert o.contact_name == "王小明" and o.contact_phone == "13812345678"
    assert o.created_at == at(T0)


@pytest.mark.parametrize("fmt", FORMATS)
def test_post_answer_returns_the_id_or_a_token_not_both(fmt, world, client, key):
    (row,) = read(post(client, fmt, report(key)), fmt, "service_requests", (200, 201))
    assert ("service_request_id" in row) != ("token" in row), row


@pytest.mark.parametrize("fmt", FORMATS)
def test_post_with_address_string_only(fmt, world, client, key):
    rid = file(client, report(key, lat="", long="", address_string="东镇东村A1湾组5号门口"), fmt)
    o = WorkOrder.objects.get(tracking_code=rid)
    assert o.grid_id == world.c.a1.pk
    assert o.lat is None and o.lng is None
    assert o.address == "东镇东村A1湾组5号门口"
    # "This should be written from most specific to most general geographic unit"
    rid = file(client, report(key, lat="", long="", address_string="5号，A1湾组，东村，东镇，测试市"), fmt)
    assert WorkOrder.objects.get(tracking_code=rid).grid_id == world.c.a1.pk


@pytest.mark.parametrize("fmt", FORMATS)
def test_post_a_service_item_with_its_attribute(fmt, world, client, key):
    data = report(key, service_code="S003", description="", **{"attribute[members]": "3"})
    rid = file(client, data, fmt)
    o = WorkOrder.objects.get(tracking_code=rid)
    assert o.kind == Kind.SERVICE and o.item.code == "S003"
    assert o.form_data == {"members": 3}
    assert o.channel == Channel.OPEN311


@pytest.mark.parametrize("fmt", FORMATS)
def test_post_empty_optional_arguments_count_as_not_sent(fmt, world, client, key):
    # "'Optional' means that the response should be the same whether a parameter is passed and is empty or is
    # not passed at all."
    empty = ("email", "device_id", "account_id", "first_name", "last_name", "phone", "media_url", "address_string",
             "address_id", "jurisdiction_id")  # fmt: skip
    rid = file(client, report(key, **dict.fromkeys(empty, "")), fmt)
    assert WorkOrder.objects.get(tracking_code=rid).grid_id == world.c.a1.pk


@pytest.mark.parametrize("fmt", FORMATS)
def test_post_needs_no_csrf_token(fmt, world, key):
    # A civic app has an api_key, never a session cookie or a CSRF token.
    client = Client(enforce_csrf_checks=True)
    file(client, report(key), fmt)
    assert WorkOrder.objects.count() == 1


def _refusals(key: str, world: WorkWorld) -> list[tuple[str, dict[str, Any], dict[str, str], int | tuple, str]]:
    """(what, the request's fields, headers, status, a word the description names)."""
    base = report(key, jurisdiction_id=JURISDICTION)
    s003 = base | {"service_code": "S003", "attribute[members]": "3"}
    s001 = base | {"service_code": "S001", "attribute[disability_kind]": "视力"}
    return [
        # "403 - Missing or Invalid API Key (specify in error message)"
        ("no api_key", {k: v for k, v in base.items() if k != "api_key"}, {}, 403, "api_key"),
        ("empty api_key", base | {"api_key": ""}, {}, 403, "api_key"),
        ("invalid api_key", base | {"api_key": key[:-4] + "AAAA"}, {}, 403, "api_key"),
        ("not a token", base | {"api_key": "xyz"}, {}, 403, "api_key"),
        # "404 - … jurisdiction_id was not found (specified in error response)"
        ("another jurisdiction", base | {"jurisdiction_id": "sfgov.org"}, {}, 404, "jurisdiction_id"),
        # "400 - service_code or jurisdiction_id was not provided (specified in error response)"
        ("no service_code", {k: v for k, v in base.items() if k != "service_code"}, {}, 400, "service_code"),
        ("empty service_code", base | {"service_code": ""}, {}, 400, "service_code"),
        # The specification: 404 (see the xfail below); the brief: 400.
        ("unknown service_code", base | {"service_code": "999999"}, {}, (400, 404), "999999"),
        ("a group, not a service", base | {"service_code": "0101"}, {}, (400, 404), "0101"),
        # "A full location parameter must be submitted."
        ("no location", {k: v for k, v in base.items() if k not in ("lat", "long")}, {}, 400, ""),
        ("empty location", base | {"lat": "", "long": "", "address_string": ""}, {}, 400, ""),
        # "lat & long both need to be sent"
        ("lat without long", base | {"long": ""}, {}, 400, "long"),
        ("long without lat", base | {"lat": ""}, {}, 400, "lat"),
        ("lat in words", base | {"lat": "north"}, {}, 400, "lat"),
        ("long in words", base | {"long": "东经115度"}, {}, 400, "long"),
        ("lat NaN", base | {"lat": "NaN"}, {}, 400, "lat"),
        ("lat Infinity", base | {"lat": "Infinity"}, {}, 400, "lat"),
        ("lat over 90", base | {"lat": "90.5"}, {}, 400, "lat"),
        ("lat under -90", base | {"lat": "-91"}, {}, 400, "lat"),
        ("long over 180", base | {"long": "180.000001"}, {}, 400, "long"),
        ("lat 1e400", base | {"lat": "1e400"}, {}, 400, "lat"),
        ("outside the county (Beijing)", base | {"lat": "39.9042", "long": "116.4074"}, {}, 400, "lat"),
        ("outside the county (0, 0)", base | {"lat": "0", "long": "0"}, {}, 400, "lat"),
        ("an address naming no place", base | {"lat": "", "long": "", "address_string": "火星基地"}, {}, 400, ""),
        ("address_id alone", base | {"lat": "", "long": "", "address_id": "545483"}, {}, 400, "address_id"),
        ("description over 4,000", base | {"description": "灯" * 4001}, {}, 400, "description"),
        ("NUL in description", base | {"description": "路灯\x00不亮"}, {}, 400, "description"),
        ("NUL in first_name", base | {"first_name": "小\x00明"}, {}, 400, "first_name"),
        ("NUL in address_string", base | {"address_string": "A1\x00湾组"}, {}, 400, "address_string"),
        ("NUL in an attribute", s003 | {"attribute[members]": "3\x00"}, {}, 400, "members"),
        ("NUL in a parameter we ignore", base | {"foo": "\x00"}, {}, 400, "foo"),
        # "This is only required if the service_code requires a service definition with required fields."
        ("required attribute missing", {k: v for k, v in s003.items() if k != "attribute[members]"}, {}, 400,
         "attribute[members]"),
        ("required attribute empty", s003 | {"attribute[members]": ""}, {}, 400, "attribute[members]"),
        ("number attribute in words", s003 | {"attribute[members]": "three"}, {}, 400, "attribute[members]"),
        ("number attribute NaN", s003 | {"attribute[members]": "NaN"}, {}, 400, "attribute[members]"),
        ("unknown attribute", s003 | {"attribute[pets]": "2"}, {}, 400, "attribute[pets]"),
        ("materials is not an input", s003 | {"attribute[materials]": "身份证"}, {}, 400, "attribute[materials]"),
        ("value not among the values", s001 | {"attribute[disability_kind]": "千里眼"}, {}, 400,
         "attribute[disability_kind]"),
        ("two values for a singlevaluelist", {k: v for k, v in s001.items() if k != "attribute[disability_kind]"}
         | {"attribute[disability_kind][]": ["视力", "听力"]}, {}, 400, "disability_kind"),
        ("an attribute for a service without", base | {"attribute[members]": "3"}, {}, 400, ""),
        ("attribute not written attribute[code]", s003 | {"attribute": "members=3"}, {}, 400, "attribute"),
        ("media_url not a URL", base | {"media_url": "javascript:alert(1)"}, {}, 400, "media_url"),
        ("phone not a phone number", base | {"phone": "call me"}, {}, 400, "phone"),
        ("description of one character", base | {"description": "灯"}, {}, 400, "description"),
        ("a malformed Idempotency-Key", base, {"Idempotency-Key": "two words"}, 400, "Idempotency-Key"),
        ("an Idempotency-Key too long", base, {"Idempotency-Key": "k" * 65}, 400, "Idempotency-Key"),
    ]  # fmt: skip


@pytest.mark.parametrize("fmt", FORMATS)
def test_post_refusals_are_in_the_spec_format_and_change_nothing(fmt, world, client, key, jurisdiction):
    """Each refused request: the specification's error format, its HTTP status as the code, the offending
    parameter named ("specify in error response"), and the database as it was."""
    before = db_fingerprint()
    wrong = []
    for what, data, headers, status, word in _refusals(key, world):
        r = post(client, fmt, data, **headers)
        try:
            description = refused(r, fmt, status)
            assert word in description, f"the description does not name {word!r}: {description}"
            assert db_fingerprint() == before, "the database changed"
        except AssertionError as exc:
            wrong.append(f"{what}: {exc}")
    assert not wrong, "\n".join(wrong)
    assert WorkOrder.objects.count() == 0


@pytest.mark.parametrize("fmt", FORMATS)
def test_post_with_a_revoked_or_expired_key_is_403(fmt, world, client, app, clock):
    token, raw = token_create(user=app, name="old", expires_at=at(T0) + dt.timedelta(days=1))
    assert token_authenticate(raw) is not None
    token_revoke(token=token)
    before = db_fingerprint()
    refused(post(client, fmt, report(raw)), fmt, 403)
    assert db_fingerprint() == before

    _token, raw = token_create(user=app, name="short", expires_at=at(T0) + dt.timedelta(hours=1))
    assert token_authenticate(raw) is not None
    clock.advance(hours=2)
    before = db_fingerprint()
    refused(post(client, fmt, report(raw)), fmt, 403)
    assert db_fingerprint() == before


@pytest.mark.parametrize("fmt", FORMATS)
def test_post_an_unknown_service_code_is_404(fmt, world, client, key):
    refused(post(client, fmt, report(key, service_code="999999")), fmt, 404)


@pytest.mark.parametrize("fmt", FORMATS)
def test_post_a_huge_number_attribute_is_400(fmt, world, client, key):
    before = db_fingerprint()
    refused(post(client, fmt, report(key, service_code="S003", **{"attribute[members]": "1e5000"})), fmt, 400)
    assert db_fingerprint() == before


@pytest.mark.parametrize("fmt", FORMATS)
def test_post_a_datetime_attribute_that_is_no_date_is_400(fmt, world, client, key):
    before = db_fingerprint()
    for value in ("2026-12-20garbage", "2026-12-20 下午三点以后", "2026-12-20T99:99"):
        data = report(key, service_code="S006", **{"attribute[date]": value})
        assert "attribute[date]" in refused(post(client, fmt, data), fmt, 400), value
    assert db_fingerprint() == before


@pytest.mark.parametrize("fmt", FORMATS)
def test_post_a_listed_key_is_accepted_whatever_the_choices_are(fmt, world, client, key):
    catalog.service_item_create(
        code="S902",
        name="送水上门",
        category=Category.objects.get(code="030202"),
        form_fields=[{"name": "buckets", "label": "桶数", "type": "choice", "required": True, "choices": [1, 2, 3]}],
    )
    (attribute,) = read(get(client, "services/S902", fmt), fmt, "service_definition")["attributes"]
    key_listed = attribute["values"][1]["key"]
    rid = file(client, report(key, service_code="S902", **{"attribute[buckets]": key_listed}), fmt)
    assert WorkOrder.objects.get(tracking_code=rid).form_data == {"buckets": 2}


@pytest.mark.parametrize("fmt", FORMATS)
def test_an_unreadable_body_is_refused_in_the_spec_format(fmt, world, client, key):
    before = db_fingerprint()
    refused(post(client, fmt, report(key) | {f"x{n}": "1" for n in range(1001)}), fmt, (400, 413))
    refused(post(client, fmt, report(key, media_url="https://img.example.com/" + "a" * 1_100_000)), fmt, (400, 413))
    assert db_fingerprint() == before


@pytest.mark.parametrize("fmt", FORMATS)
def test_post_idempotency_key_retry_returns_the_first_order(fmt, world, client, key):
    data = report(key)
    first = post(client, fmt, data, **{"Idempotency-Key": "app-7f3a:42"})
    (row,) = read(first, fmt, "service_requests", (200, 201))
    again = post(client, fmt, data, **{"Idempotency-Key": "app-7f3a:42"})
    (row2,) = read(again, fmt, "service_requests", (200, 201))
    assert row2["service_request_id"] == row["service_request_id"]
    assert WorkOrder.objects.count() == 1

    # The same key for a different request is refused: answering with the first order would say this one was
    # filed. Refused in the specification's format, and nothing filed.
    before = db_fingerprint()
    other = post(client, fmt, report(key, description="另一件事：井盖没了"), **{"Idempotency-Key": "app-7f3a:42"})
    refused(other, fmt, (400, 409))
    assert db_fingerprint() == before

    # Without the key, a second post is a second order.
    file(client, data, fmt)
    assert WorkOrder.objects.count() == 2


@pytest.mark.ratelimit
@pytest.mark.parametrize("fmt", FORMATS)
def test_post_past_the_accounts_rate_limit(fmt, world, client, key, settings):
    """The api_key's account files with its own rate limits (the docstring): past them, an error in the
    specification's format and nothing filed; a retry of a request that was filed still gets its id."""
    count, _seconds = settings.GONGZHI["RATE_LIMITS"]["intake"]["user"]
    count = max(1, int(count * settings.GONGZHI["RATE_LIMIT_FACTOR"]))
    filed = [
        file(client, report(key, description=f"第{n}根路灯不亮"), fmt, **{"Idempotency-Key": f"k{n}"})
        for n in range(count)
    ]
    before = db_fingerprint()
    r = post(client, fmt, report(key, description="又一根路灯不亮"), **{"Idempotency-Key": "k-next"})
    refused(r, fmt, (400, 429))
    assert int(r["Retry-After"]) > 0
    assert db_fingerprint() == before
    last = count - 1
    again = file(client, report(key, description=f"第{last}根路灯不亮"), fmt, **{"Idempotency-Key": f"k{last}"})
    assert again == filed[-1]
    assert WorkOrder.objects.count() == count


@pytest.mark.parametrize("fmt", FORMATS)
def test_jurisdiction_id(fmt, world, client, key, jurisdiction):
    """A server of one jurisdiction: its own id, an empty one or none are the same; another is 404
    ("404 - jurisdiction_id provided was not found")."""
    o = submit(world, User.objects.get(username="civic_app"))
    resources = ["discovery", "services", "services/S003", "requests", f"requests/{o.tracking_code}",
                 f"tokens/{o.tracking_code}"]  # fmt: skip
    for path in resources:
        assert get(client, path, fmt, jurisdiction_id=JURISDICTION).status_code == 200, path
        assert get(client, path, fmt, jurisdiction_id="").status_code == 200, path
        assert get(client, path, fmt).status_code == 200, path
        assert "jurisdiction_id" in refused(get(client, path, fmt, jurisdiction_id="sfgov.org"), fmt, 404), path
    file(client, report(key, jurisdiction_id=JURISDICTION), fmt)
    file(client, report(key, jurisdiction_id=""), fmt)


# --- GET Service Requests -------------------------------------------------------------------------------


@pytest.fixture
def spread(world, client, key, app, clock) -> dict[str, WorkOrder]:
    """Orders of now (through Open311), 30 days ago, and 100 days ago (outside the default window)."""
    now = WorkOrder.objects.get(tracking_code=file(client, report(key)))
    t = at(T0)
    mid = submit(world, app, t=t - dt.timedelta(days=30), code="S003", form_data={"members": 2})
    old = submit(world, app, t=t - dt.timedelta(days=100))
    return {"now": now, "mid": mid, "old": old}


@pytest.mark.parametrize("fmt", FORMATS)
def test_requests_default_to_the_last_90_days(fmt, spread, client):
    rows = read(get(client, "requests", fmt), fmt, "service_requests")
    assert set(ids(rows)) == {spread["now"].tracking_code, spread["mid"].tracking_code}
    for row in rows:
        # No element the specification does not define ("do not include foreign tags").
        assert set(row) <= REQUEST_FIELDS, set(row) - REQUEST_FIELDS
        assert {"service_request_id", "status", "service_name", "service_code", "requested_datetime"} <= set(row)
        assert row["status"] in ("open", "closed")
        for name in ("requested_datetime", "updated_datetime", "expected_datetime"):
            assert row.get(name) is None or W3C.match(row[name]), (name, row.get(name))
    by_id = {row["service_request_id"]: row for row in rows}
    now = by_id[spread["now"].tracking_code]
    assert now["requested_datetime"] == "2026-12-10T10:00:00+08:00"
    assert now["updated_datetime"] == "2026-12-10T10:00:00+08:00"
    assert now["service_code"] == "010101" and now["service_name"] == "路灯损坏"
    mid = by_id[spread["mid"].tracking_code]
    assert mid["requested_datetime"] == "2026-11-10T10:00:00+08:00"
    assert mid["service_code"] == "S003" and mid["service_name"] == "低保申请代办"


@pytest.mark.parametrize("fmt", FORMATS)
def test_requests_start_and_end_date(fmt, spread, client):
    now, mid, old = (spread[k].tracking_code for k in ("now", "mid", "old"))

    def listed(**params: str) -> set[str]:
        return set(ids(read(get(client, "requests", fmt, **params), fmt, "service_requests")))

    # W3C datetimes, with an offset or Z.
    assert listed(start_date="2026-08-01T00:00:00+08:00", end_date="2026-10-01T00:00:00+08:00") == {old}
    assert listed(start_date="2026-07-31T16:00:00Z", end_date="2026-09-30T16:00:00Z") == {old}
    assert listed(start_date="2026-11-01T00:00:00-05:00", end_date="2026-12-31T00:00:00-05:00") == {now, mid}
    # The offset is honoured: 02:00Z is T0 (10:00+08:00) to the second.
    assert now in listed(start_date="2026-12-10T02:00:00Z", end_date="2026-12-11T00:00:00Z")
    assert now not in listed(start_date="2026-12-10T02:00:01Z", end_date="2026-12-11T00:00:00Z")
    assert now in listed(start_date="2026-12-01T00:00:00Z", end_date="2026-12-10T02:00:00Z")
    assert now not in listed(start_date="2026-12-01T00:00:00Z", end_date="2026-12-10T01:59:59Z")
    # One of the two: a window of (at most) 90 days from it.
    assert listed(end_date="2026-09-10T00:00:00+08:00") == {old}
    assert listed(start_date="2026-08-31T00:00:00+08:00") == {old, mid}
    # Exactly 90 days is allowed.
    assert listed(start_date="2026-08-01T00:00:00+08:00", end_date="2026-10-30T00:00:00+08:00") == {old}


@pytest.mark.parametrize("fmt", FORMATS)
def test_requests_bad_dates_are_400(fmt, spread, client):
    before = db_fingerprint()
    cases = {
        # "may not span more than 90 days"
        "91 days": {"start_date": "2026-08-01T00:00:00+08:00", "end_date": "2026-10-31T00:00:00+08:00"},
        "90 days and a second": {"start_date": "2026-08-01T00:00:00Z", "end_date": "2026-10-30T00:00:01Z"},
        "a year": {"start_date": "2025-12-10T00:00:00Z", "end_date": "2026-12-10T00:00:00Z"},
        "end before start": {"start_date": "2026-12-01T00:00:00Z", "end_date": "2026-11-01T00:00:00Z"},
        # "Must use w3 format"
        "words": {"start_date": "last week"},
        "no such month": {"start_date": "2026-13-01T00:00:00+08:00"},
        "no such day": {"end_date": "2026-02-30T00:00:00+08:00"},
        "no such hour": {"end_date": "2026-12-10T25:00:00+08:00"},
        "US style": {"start_date": "12/10/2026"},
        "a number": {"end_date": "1765340000"},
        "too long": {"start_date": "2026-12-10T00:00:00+08:00" + "0" * 40},
    }
    wrong = []
    for what, params in cases.items():
        try:
            refused(get(client, "requests", fmt, **params), fmt, 400)
        except AssertionError as exc:
            wrong.append(f"{what}: {exc}")
    assert not wrong, "\n".join(wrong)
    assert db_fingerprint() == before


@pytest.mark.parametrize("fmt", FORMATS)
def test_requests_status_open_and_closed(fmt, world, spread, client, app):
    resolved = resolve(world, spread["mid"])
    withdrawn = submit(world, app, text="路灯又好了")
    workorders.workorder_cancel(order=withdrawn, by=app, reason="已经好了")
    now, mid = spread["now"].tracking_code, resolved.tracking_code

    def listed(**params: str) -> dict[str, str]:
        rows = read(get(client, "requests", fmt, **params), fmt, "service_requests")
        return {row["service_request_id"]: row["status"] for row in rows}

    # "closed: it has been resolved" — resolved (办结), or finished (rated, closed, withdrawn).
    assert listed() == {now: "open", mid: "closed", withdrawn.tracking_code: "closed"}
    assert listed(status="open") == {now: "open"}
    assert listed(status="closed") == {mid: "closed", withdrawn.tracking_code: "closed"}
    # "can be declared multiple times, comma delimited"
    assert listed(status="open,closed") == listed()
    refused(get(client, "requests", fmt, status="pending"), fmt, 400)


@pytest.mark.parametrize("fmt", FORMATS)
def test_requests_service_code_filter(fmt, world, spread, client, app):
    category = submit(world, app, code="030101", text="想问问低保怎么申请")  # the category S003 lies in
    now, mid = spread["now"].tracking_code, spread["mid"].tracking_code

    def listed(**params: str) -> set[str]:
        return set(ids(read(get(client, "requests", fmt, **params), fmt, "service_requests")))

    assert listed(service_code="010101") == {now}
    assert listed(service_code="S003") == {mid}
    assert listed(service_code="030101") == {category.tracking_code}  # the category's appeals, not its item's orders
    assert listed(service_code="010101,S003") == {now, mid}
    assert listed(service_code="010102") == set()
    refused(get(client, "requests", fmt, service_code="999999"), fmt, (400, 404))


@pytest.mark.parametrize("fmt", FORMATS)
def test_requests_service_request_id_overrides_the_other_arguments(fmt, spread, client):
    now, mid, old = (spread[k].tracking_code for k in ("now", "mid", "old"))
    rows = read(
        get(
            client,
            "requests",
            fmt,
            service_request_id=f"{old}, {now},ZZZZZZZZZZ",
            status="closed",
            service_code="S003",
            start_date="2026-12-01T00:00:00Z",
            end_date="2026-12-02T00:00:00Z",
        ),
        fmt,
        "service_requests",
    )
    assert set(ids(rows)) == {old, now}  # an unknown id is simply not there
    assert set(ids(read(get(client, "requests", fmt, service_request_id=mid), fmt, "service_requests"))) == {mid}


@pytest.mark.parametrize("fmt", FORMATS)
def test_requests_empty_arguments_are_not_sent(fmt, spread, client):
    # "'Optional' means that the response should be the same whether a parameter is passed and is empty or is
    # not passed at all."
    plain = get(client, "requests", fmt)
    empty = get(
        client, "requests", fmt, service_request_id="", service_code="", start_date="", end_date="", status="",
        jurisdiction_id="",
    )  # fmt: skip
    assert read(empty, fmt, "service_requests") == read(plain, fmt, "service_requests")


@pytest.mark.parametrize("fmt", FORMATS)
def test_requests_public_view_carries_no_personal_data(fmt, world, client, key):
    secrets = {
        "description": "王小明家门口第三根电线杆的路灯不亮",
        "first_name": "小明",
        "last_name": "王",
        "phone": "13812345678",
        "email": "xiaoming@example.com",
        "address_string": "东镇东村A1湾组5号",
        "lat": "31.180123",
        "long": "115.020456",
        "device_id": "DEVICE-7788",
        "account_id": "ACCOUNT-9911",
        "media_url": "https://img.example.com/p/8888.jpg",
    }
    rid = file(client, report(key, **secrets), fmt)
    by_address = file(
        client, report(key, lat="", long="", address_string="东镇东村A1湾组7号", phone="13900001111"), fmt
    )
    shown = [
        get(client, "requests", fmt),
        get(client, "requests", fmt, service_request_id=f"{rid},{by_address}"),
        get(client, f"requests/{rid}", fmt),
        get(client, f"requests/{by_address}", fmt),
        get(client, f"tokens/{rid}", fmt),
    ]
    words = [*secrets.values(), "王小明", "13900001111", "东镇东村A1湾组7号", "A1湾组", "31.18", "115.02"]
    for r in shown:
        assert r.status_code == 200
        body = r.content.decode("utf-8")
        for word in words:
            assert word not in body, (word, r.wsgi_request.get_full_path())
    for r in shown[:4]:
        for row in read(r, fmt, "service_requests"):
            for name in ("description", "address", "address_id", "zipcode", "lat", "long", "media_url"):
                assert row.get(name) is None, (name, row)


def test_requests_at_most_1000(world, client, app, clock):
    """ "Default query limit is a span of 90 days or first 1000 requests returned, whichever is smallest." """
    first = submit(world, app, t=at(T0) - dt.timedelta(days=1))
    fields = [f for f in WorkOrder._meta.concrete_fields if not f.primary_key]
    clones = []
    for n in range(1000):
        clone = WorkOrder(**{f.attname: getattr(first, f.attname) for f in fields})
        clone.tracking_code = f"ZZ{n:08d}"
        clone.created_at = clone.updated_at = at(T0) - dt.timedelta(minutes=n)
        clones.append(clone)
    WorkOrder.objects.bulk_create(clones)
    for fmt in FORMATS:
        rows = read(get(client, "requests", fmt), fmt, "service_requests")
        assert len(rows) == 1000, fmt
        assert first.tracking_code not in ids(rows), "the 1000 newest"


@pytest.mark.parametrize("fmt", FORMATS)
def test_an_order_keeps_its_service_code_when_the_item_is_unpublished(fmt, world, client, key):
    rid = file(client, report(key, service_code="S003", **{"attribute[members]": "3"}), fmt)
    ServiceItem.objects.filter(code="S003").update(is_published=False)
    (row,) = read(get(client, f"requests/{rid}", fmt), fmt, "service_requests")
    assert row["service_name"] == "低保申请代办"
    listed = ids(read(get(client, "requests", fmt, service_code=row["service_code"]), fmt, "service_requests"))
    assert row["service_code"] == "S003" or rid in listed, row


# --- GET Service Request --------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", FORMATS)
def test_request_unknown_is_404(fmt, world, client):
    refused(get(client, "requests/ZZZZZZZZZZ", fmt), fmt, 404)
    refused(get(client, "requests/no-such-request", fmt), fmt, 404)


@pytest.mark.parametrize("fmt", FORMATS)
def test_request_follows_the_order_from_open_to_closed(fmt, world, client, key, app, clock):
    rid = file(client, report(key), fmt)
    o = WorkOrder.objects.get(tracking_code=rid)

    def shown() -> tuple[Any, dict[str, Any]]:
        r = get(client, f"requests/{rid}", fmt)
        (row,) = read(r, fmt, "service_requests")
        assert row["service_request_id"] == rid
        assert row["service_code"] == "010101" and row["service_name"] == "路灯损坏"
        assert row["requested_datetime"] == iso(at(T0))
        for name in ("requested_datetime", "updated_datetime", "expected_datetime"):
            assert row.get(name) is None or W3C.match(row[name]), (name, row.get(name))
        return r, row

    r, row = shown()
    assert row["status"] == "open"
    assert row["status_notes"] == label(r, State.SUBMITTED)
    assert row.get("agency_responsible") is None  # nobody handles it yet

    t = clock.advance(hours=1)
    workorders.workorder_dispatch(order=fresh(o), to=Unit(department=world.housing), by=world.c.u_zhao)
    r, row = shown()
    assert (row["status"], row["status_notes"]) == ("open", label(r, State.DISPATCHED))
    assert row["agency_responsible"] == "住建局"
    assert row["updated_datetime"] == iso(t)

    clock.advance(hours=1)
    workorders.workorder_accept(order=fresh(o), by=world.u_feng)
    workorders.workorder_start(order=fresh(o), by=world.u_feng)
    r, row = shown()
    assert (row["status"], row["status_notes"]) == ("open", label(r, State.IN_PROGRESS))
    assert row["agency_responsible"] == "住建局"

    t = clock.advance(hours=20)
    workorders.workorder_resolve(order=fresh(o), by=world.u_feng, reply="已更换灯泡")
    r, row = shown()
    assert (row["status"], row["status_notes"]) == ("closed", label(r, State.RESOLVED))
    assert row["agency_responsible"] == "住建局"
    # "For requests with status=closed, this will be the date the request was closed."
    assert when(row["updated_datetime"]) == t
    assert rid in ids(read(get(client, "requests", fmt, status="closed"), fmt, "service_requests"))
    assert rid not in ids(read(get(client, "requests", fmt, status="open"), fmt, "service_requests"))

    clock.advance(hours=2)
    workorders.workorder_rate(order=fresh(o), by=app, solved=True, satisfaction=5)
    r, row = shown()
    assert (row["status"], row["status_notes"]) == ("closed", label(r, State.RATED))

    clock.advance(hours=1)
    workorders.workorder_close(order=fresh(o), by=world.c.u_zhao)
    r, row = shown()
    assert (row["status"], row["status_notes"]) == ("closed", label(r, State.CLOSED))
    assert row["agency_responsible"] == "住建局"


# --- GET service_request_id from a token ----------------------------------------------------------------


@pytest.mark.parametrize("fmt", FORMATS)
def test_token_gives_the_service_request_id(fmt, world, client, key):
    (row,) = read(post(client, fmt, report(key)), fmt, "service_requests", (200, 201))
    token = row.get("token") or row["service_request_id"]
    rows = read(get(client, f"tokens/{token}", fmt), fmt, "service_requests")
    assert rows == [{"service_request_id": row["service_request_id"], "token": token}]
    # "404 - jurisdiction_id or token not found (specified in error response)"
    refused(get(client, "tokens/ZZZZZZZZZZ", fmt), fmt, 404)


# --- methods and malformed requests ---------------------------------------------------------------------


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_wrong_method_is_405_in_the_spec_format(fmt, world, client, key):
    rid = file(client, report(key), fmt)
    before = db_fingerprint()
    calls = [
        ("post", "discovery", "GET"),
        ("post", "services", "GET"),
        ("post", "services/S003", "GET"),
        ("put", "requests", "GET, POST"),
        ("delete", "requests", "GET, POST"),
        ("patch", "requests", "GET, POST"),
        ("post", f"requests/{rid}", "GET"),
        ("delete", f"requests/{rid}", "GET"),
        ("post", f"tokens/{rid}", "GET"),
    ]
    for method, path, allowed in calls:
        r = getattr(client, method)(f"{BASE}{path}.{fmt}", urlencode({"api_key": key}), content_type=FORM)
        refused(r, fmt, 405)
        assert {m.strip() for m in r["Allow"].split(",")} == {m.strip() for m in allowed.split(",")}, (path, r["Allow"])
    assert db_fingerprint() == before


def test_errors_stay_well_formed_xml_whatever_the_client_sent(world, client, key):
    refused(client.get(f"{BASE}tokens/%01.xml"), "xml", 404)
    refused(client.get(f"{BASE}requests.xml", {"service_code": "\x1b"}), "xml", (400, 404))
    refused(post(client, "xml", report(key, service_code="\x01x")), "xml", (400, 404))


@pytest.mark.xfail(
    strict=True,
    reason="BUG: a NUL in the query string or the path is answered by core.middleware.RejectNulMiddleware with "
    "a text/plain 400, not the specification's error format (open311's docstring: 'errors in the "
    "specification's own format (a list of {code, description}, <errors> in XML)')",
)
@pytest.mark.parametrize("fmt", FORMATS)
def test_a_nul_in_the_url_is_400_in_the_spec_format(fmt, world, client):
    refused(client.get(f"{BASE}requests.{fmt}", {"service_code": "\x00"}), fmt, 400)
    refused(client.get(f"{BASE}services/%00.{fmt}"), fmt, (400, 404))
