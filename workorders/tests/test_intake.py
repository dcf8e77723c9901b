"""Filing an appeal or a service order: who may file what, from which channel, for whom, where; what a
retry does; what the public and other residents learn; and the photos that come with it."""

from __future__ import annotations

import datetime as dt
import io
import json
import os
from decimal import Decimal

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import IntegrityError, transaction
from django.urls import reverse
from PIL import Image

from notify.models import Message
from workorders.models import Channel, Event, Kind, Photo, WorkOrder
from workorders.services import TRACKING_ALPHABET, TRACKING_LENGTH
from workorders.states import State
from workorders.tests.helpers import error_code, intake_body, post, submit

pytestmark = pytest.mark.django_db

URL = "/api/v1/workorders"


body = intake_body


@pytest.fixture
def zhang(world, client_as):
    return client_as(world.c.u_zhang)


# --- channels, kinds, service items -------------------------------------------------------------


@pytest.mark.parametrize("channel", ["web", "mobile", "api"])
def test_a_resident_files_for_herself_from_the_resident_channels(world, zhang, channel):
    r = post(zhang, URL, body(channel=channel))
    assert r.status_code == 201, r.content
    o = WorkOrder.objects.get(pk=r.json()["order"]["id"])
    c = world.c
    assert (o.channel, o.owner_id, o.owner_user_id, o.submitted_by_id) == (
        channel,
        c.zhang.pk,
        c.u_zhang.pk,
        c.u_zhang.pk,
    )
    assert (o.grid_id, o.path, o.state) == (c.a1.pk, c.a1.path, State.SUBMITTED)  # her own grid
    assert (o.contact_name, o.contact_phone) == ("张阿姨", "13800001234")
    assert o.suggested_department_id == world.housing.pk
    assert list(Event.objects.filter(order=o).values_list("action", "to_state", "public", "actor_id")) == [
        ("submit", State.SUBMITTED, True, c.u_zhang.pk)
    ]
    assert len(o.tracking_code) == TRACKING_LENGTH and set(o.tracking_code) <= set(TRACKING_ALPHABET)


@pytest.mark.parametrize("channel", ["hotline", "window", "patrol", "party", "proxy"])
def test_a_resident_cannot_use_the_staff_channels(world, zhang, channel):
    r = post(zhang, URL, body(channel=channel))
    assert r.status_code == 403, r.content
    assert WorkOrder.objects.count() == 0


def test_the_hotline_operator_files_for_a_caller(world, client_as):
    c = world.c
    r = post(client_as(c.u_zhao), URL, body(channel="hotline", owner_id=c.zhang.pk, text="来电反映路灯坏了"))
    assert r.status_code == 201, r.content
    o = WorkOrder.objects.get(pk=r.json()["order"]["id"])
    assert (o.channel, o.owner_id, o.owner_user_id, o.submitted_by_id) == (
        "hotline",
        c.zhang.pk,
        c.u_zhang.pk,
        c.u_zhao.pk,
    )
    # A caller who is not in the register: name and place given by the operator.
    r = post(
        client_as(c.u_zhao),
        URL,
        body(channel="hotline", grid_id=c.b1.pk, contact_name="过路人", contact_phone="13012345678"),
    )
    assert r.status_code == 201, r.content
    o = WorkOrder.objects.get(pk=r.json()["order"]["id"])
    assert (o.owner_id, o.contact_name, o.grid_id) == (None, "过路人", c.b1.pk)


def test_a_grid_worker_on_patrol_files_in_their_own_name(world, client_as):
    c = world.c
    r = post(client_as(c.u_li), URL, body(channel="patrol", kind="report", grid_id=c.a1.pk))
    assert r.status_code == 201, r.content
    o = WorkOrder.objects.get(pk=r.json()["order"]["id"])
    assert (o.channel, o.owner_id, o.owner_user_id, o.contact_name) == ("patrol", None, c.u_li.pk, "李网格")


@pytest.mark.parametrize("kind", [k for k in Kind.values if k != Kind.SERVICE])
def test_every_kind_of_appeal(world, zhang, kind):
    r = post(zhang, URL, body(kind=kind))
    assert r.status_code == 201, r.content
    assert r.json()["order"]["kind"] == kind


def test_a_service_order_with_its_form(world, zhang):
    r = post(zhang, URL, body(kind="service", category=None, item="S001", form_data={"disability_kind": "肢体"}))
    assert r.status_code == 201, r.content
    order = r.json()["order"]
    o = WorkOrder.objects.get(pk=order["id"])
    assert (o.item.code, o.category.code, o.title, o.form_data) == (
        "S001",
        "030301",
        "残疾证代办",
        {"disability_kind": "肢体"},
    )
    assert order["item_code"] == "S001"
    # A date field is normalised.
    r = post(zhang, URL, body(kind="service", category=None, item="S006", form_data={"date": "2026-12-01"}))
    assert r.status_code == 201, r.content


@pytest.mark.parametrize(
    ("item", "form", "field"),
    [
        ("S001", {}, "form_data.disability_kind"),  # required and missing
        ("S001", {"disability_kind": "心脏"}, "form_data.disability_kind"),  # not one of the choices
        ("S001", {"disability_kind": "肢体", "extra": 1}, "form_data.extra"),  # no such field
        ("S003", {"members": "三"}, "form_data.members"),  # a number field
        ("S003", {"members": True}, "form_data.members"),  # a boolean is not a number
        ("S006", {"date": "12/01/2026"}, "form_data.date"),
        ("S005", {"medicine": "药" * 501}, "form_data.medicine"),
    ],
)
def test_a_service_order_with_a_bad_form_is_refused_naming_the_field(world, zhang, item, form, field):
    r = post(zhang, URL, body(kind="service", category=None, item=item, form_data=form))
    assert r.status_code == 422, r.content
    assert field in r.json()["error"]["fields"]
    assert WorkOrder.objects.count() == 0


@pytest.mark.parametrize(
    ("number", "status", "code"),
    [
        # Not JSON at all (RFC 8259): the API's parser refuses them for every endpoint.
        ("NaN", 400, "malformed_request"),
        ("Infinity", 400, "malformed_request"),
        ("-Infinity", 400, "malformed_request"),
        # Valid JSON that overflows to infinity: the form-field check refuses it.
        ("1e400", 422, "validation_error"),
    ],
)
def test_a_number_json_cannot_store_is_refused_not_500(world, zhang, number, status, code):
    """Python's JSON parser reads NaN and Infinity; neither database would store them in a JSON column."""
    raw = json.dumps(body(kind="service", category=None, item="S003", form_data={"members": 0}))
    r = zhang.post(URL, data=raw.replace('"members": 0', f'"members": {number}'), content_type="application/json")
    assert r.status_code == status, r.content
    assert r.json()["error"]["code"] == code
    if status == 422:
        assert "form_data.members" in r.json()["error"]["fields"]
    assert WorkOrder.objects.count() == 0


@pytest.mark.parametrize(
    ("extra", "field"),
    [
        ({"kind": "service", "category": None}, "item"),  # a service order needs an item
        ({"item": "S002"}, "item"),  # only service orders name one
        ({"kind": "service", "category": None, "item": "S999"}, "item"),  # unknown item
        ({"form_data": {"x": 1}}, "form_data"),  # form answers without an item
        ({"category": "999999"}, "category"),  # unknown category
        ({"text": ""}, "text"),
        ({"text": "   "}, "text"),
        ({"text": "灯"}, "text"),  # one character says nothing
        ({"text": "坏" * 10_001}, "text"),  # (no category is free text: test_routing)
        ({"title": "题" * 81}, "title"),
        ({"color": "red"}, "color"),  # unknown fields are refused, not ignored
        ({"kind": "praise"}, "kind"),
        ({"channel": "fax"}, "channel"),
        ({"urgency": "whenever"}, "urgency"),
        ({"contact_phone": "call me"}, "contact_phone"),
        ({"lat": "31.18"}, "lat"),  # latitude without longitude
        ({"lat": "95", "lng": "115"}, "lat"),
        ({"idempotency_key": "a key with spaces"}, "idempotency_key"),
    ],
)
def test_malformed_submissions_are_422(world, zhang, extra, field):
    r = post(zhang, URL, body(**extra))
    assert r.status_code == 422, r.content
    assert field in r.json()["error"]["fields"], r.json()
    assert WorkOrder.objects.count() == 0


def test_a_missing_grid_is_404_like_one_outside_the_area(world, zhang):
    r = post(zhang, URL, body(grid_id=999999))
    assert r.status_code == 404
    assert r.json()["error"]["code"] == "node.not_found"
    assert WorkOrder.objects.count() == 0


def test_a_grid_that_is_not_a_grid(world, zhang):
    r = post(zhang, URL, body(grid_id=world.c.v1.pk))
    assert r.status_code == 422
    assert "grid" in r.json()["error"]["fields"]


def test_not_logged_in_is_401(world, client_as):
    r = post(client_as(None), URL, body())
    assert r.status_code == 401
    assert WorkOrder.objects.count() == 0


# --- idempotency -----------------------------------------------------------------------------------


def test_the_same_key_twice_makes_one_order(world, zhang):
    first = post(zhang, URL, body(idempotency_key="phone-42:1"))
    again = post(zhang, URL, body(idempotency_key="phone-42:1"))
    assert (first.status_code, again.status_code) == (201, 200)
    assert first.json()["order"]["id"] == again.json()["order"]["id"]
    assert (first.json()["created"], again.json()["created"]) == (True, False)
    assert WorkOrder.objects.count() == 1
    assert Event.objects.filter(action="submit").count() == 1
    # The key with another submission is not a retry: answering with the first order would say it was filed.
    other = post(zhang, URL, body(idempotency_key="phone-42:1", text="重发的内容不同就不是重发"))
    assert (other.status_code, error_code(other)) == (409, "workorder.key_reused")
    assert WorkOrder.objects.count() == 1


def test_the_idempotency_key_header_works_too(world, zhang):
    first = post(zhang, URL, body(), HTTP_IDEMPOTENCY_KEY="retry-7")
    again = post(zhang, URL, body(), HTTP_IDEMPOTENCY_KEY="retry-7")
    assert (first.status_code, again.status_code) == (201, 200)
    assert first.json()["order"]["id"] == again.json()["order"]["id"]
    # The body's key and the header's are the same key.
    third = post(zhang, URL, body(idempotency_key="retry-7"))
    assert (third.status_code, third.json()["order"]["id"]) == (200, first.json()["order"]["id"])
    assert WorkOrder.objects.get().idempotency_key == "retry-7"


def test_keys_belong_to_their_submitter(world, zhang, client_as):
    a = post(zhang, URL, body(idempotency_key="k1"))
    b = post(client_as(world.c.u_li), URL, body(idempotency_key="k1", channel="patrol", grid_id=world.c.a1.pk))
    assert (a.status_code, b.status_code) == (201, 201)
    assert a.json()["order"]["id"] != b.json()["order"]["id"]
    # Without a key every submission is new.
    post(zhang, URL, body())
    post(zhang, URL, body())
    assert WorkOrder.objects.count() == 4


def test_a_refused_submission_does_not_use_up_its_key(world, zhang):
    assert post(zhang, URL, body(text="", idempotency_key="k2")).status_code == 422
    assert post(zhang, URL, body(idempotency_key="k2")).status_code == 201


# --- filing for someone else (代办) ------------------------------------------------------------


def test_a_grid_worker_files_for_zhang(world, client_as):
    c = world.c
    r = post(client_as(c.u_li), URL, body(owner_id=c.zhang.pk, text="张阿姨家门口路灯坏了", channel="mobile"))
    assert r.status_code == 201, r.content
    o = WorkOrder.objects.get(pk=r.json()["order"]["id"])
    assert (o.owner_id, o.owner_user_id, o.submitted_by_id, o.channel) == (
        c.zhang.pk,
        c.u_zhang.pk,
        c.u_li.pk,
        Channel.PROXY,
    )
    assert (o.contact_name, o.contact_phone, o.grid_id) == ("张阿姨", "13800001234", c.a1.pk)
    assert Event.objects.get(order=o, action="submit").data == {"channel": "proxy", "proxy": True}
    told = Message.objects.get(user=c.u_zhang, kind="workorder.proxy")
    assert o.tracking_code in told.text and "李网格" in told.text
    assert (told.channel, told.phone) == (Message.Channel.SMS, "13800001234")
    # It is hers: she sees it among her own, rates it, and may withdraw it.
    mine = client_as(c.u_zhang).get(f"{URL}?mine=true").json()
    assert [x["id"] for x in mine["items"]] == [o.pk]
    assert "cancel" in client_as(c.u_zhang).get(f"{URL}/{o.pk}").json()["actions"]


def test_a_party_member_relays_for_a_linked_household(world, client_as):
    c = world.c
    r = post(client_as(c.u_liu), URL, body(owner_id=c.chen.pk, channel="party", text="陈大爷反映路灯坏了"))
    assert r.status_code == 201, r.content
    o = WorkOrder.objects.get(pk=r.json()["order"]["id"])
    assert (o.owner_id, o.channel, o.submitted_by_id, o.grid_id) == (c.chen.pk, "party", c.u_liu.pk, c.a2.pk)
    # Not for a household he is not linked to.
    r = post(client_as(c.u_liu), URL, body(owner_id=c.huang.pk, channel="party"))
    assert r.status_code == 404


def test_a_resident_cannot_file_for_someone_else(world, zhang):
    r = post(zhang, URL, body(owner_id=world.c.chen.pk))
    assert r.status_code == 403, r.content
    assert WorkOrder.objects.count() == 0
    assert not Message.objects.exists()


def test_a_grid_worker_cannot_file_for_a_resident_outside_their_grid(world, client_as):
    c = world.c
    li = client_as(c.u_li)
    outside = post(li, URL, body(owner_id=c.sun_resident.pk))
    missing = post(li, URL, body(owner_id=987654))
    assert outside.status_code == 404, outside.content
    # Outside the scope looks exactly like no such resident.
    assert outside.json() == missing.json()
    assert WorkOrder.objects.count() == 0
    assert not Message.objects.exists()


# --- where ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("lat", "lng", "grid"),
    [
        ("31.180100", "115.020200", "a1"),
        ("31.180500", "115.034000", "a2"),  # ~200 m from A2's centre, 1.3 km from A1's
        ("31.226000", "115.021000", "b1"),
        ("31.300000", "115.020000", "c1"),
    ],
)
def test_a_point_is_placed_in_the_nearest_grid(world, zhang, lat, lng, grid):
    r = post(zhang, URL, body(lat=lat, lng=lng))
    assert r.status_code == 201, r.content
    o = WorkOrder.objects.get(pk=r.json()["order"]["id"])
    g = getattr(world.c, grid)
    assert (o.grid_id, o.path, o.lat, o.lng) == (g.pk, g.path, Decimal(lat), Decimal(lng))


@pytest.mark.parametrize(("lat", "lng"), [("39.904200", "116.407400"), ("31.180000", "115.200000"), ("0", "0")])
def test_a_point_outside_the_county_is_refused(world, zhang, lat, lng):
    r = post(zhang, URL, body(lat=lat, lng=lng))
    assert r.status_code == 422, r.content
    assert error_code(r) == "workorder.location_outside"
    assert "lat" in r.json()["error"]["fields"]
    assert WorkOrder.objects.count() == 0


# --- who sees the reporter -----------------------------------------------------------------------------


def test_anonymity(world, client_as):
    c = world.c
    r = post(client_as(c.u_zhang), URL, body(anonymous=True))
    o = WorkOrder.objects.get(pk=r.json()["order"]["id"])
    public = client_as(None).get(f"/api/v1/track/{o.tracking_code}")
    assert public.status_code == 200
    for text in ("张阿姨", "张", "13800001234", "1234"):
        assert text not in public.content.decode()
    # Another resident cannot open it at all, and a refusal says nothing about it.
    other = client_as(c.u_liu)
    assert other.get(f"{URL}/{o.pk}").status_code == 404
    assert "张阿姨" not in other.get(URL).content.decode()
    # She and the staff who handle it see who she is.
    assert client_as(c.u_zhang).get(f"{URL}/{o.pk}").json()["contact_name"] == "张阿姨"
    for staff in (c.u_zhao, c.u_li):
        assert client_as(staff).get(f"{URL}/{o.pk}").json()["contact_name"] == "张阿姨"


def test_the_public_tracking_page_never_names_the_reporter(world, client_as):
    o = submit(world)
    public = client_as(None).get(f"/api/v1/track/{o.tracking_code}")
    assert public.status_code == 200
    assert "张阿姨" not in public.content.decode() and "1234" not in public.content.decode()
    assert client_as(None).get("/api/v1/track/NOSUCHCODE").status_code == 404
    # Case and spaces do not matter to a code read out over the phone.
    assert client_as(None).get(f"/api/v1/track/{o.tracking_code.lower()}%20").status_code == 200


def test_the_tracking_code_is_unique_in_the_database(world):
    a = submit(world)
    b = submit(world, text="另一处路灯坏了")
    with pytest.raises(IntegrityError), transaction.atomic():
        WorkOrder.objects.filter(pk=b.pk).update(tracking_code=a.tracking_code)
    # A second row made with every column of the first: the code alone clashes.
    row = {f.attname: getattr(a, f.attname) for f in WorkOrder._meta.concrete_fields if f.attname != "id"}
    with pytest.raises(IntegrityError), transaction.atomic():
        WorkOrder.objects.create(**row)
    row["tracking_code"] = "ZZZZZZZZZZ"
    WorkOrder.objects.create(**row)


# --- similar open orders ---------------------------------------------------------------------------


def test_similar_orders_nearby_are_suggested(world, client_as, clock):
    c = world.c
    clock.set("2026-11-02T09:00")
    first = submit(world, lat=Decimal("31.180100"), lng=Decimal("115.020200"), title="村口路灯不亮")
    submit(  # another matter at the same spot
        world, category=world.outage, text="整个湾组停电了，冰箱里的药要冷藏", lat=Decimal("31.180100"),
        lng=Decimal("115.020200"),
    )  # fmt: skip
    submit(world, lat=Decimal("31.180000"), lng=Decimal("115.036000"))  # A2, 1.5 km away
    old = submit(world, lat=Decimal("31.180200"), lng=Decimal("115.020200"), at=clock.t - dt.timedelta(days=20))
    done = submit(world, lat=Decimal("31.180150"), lng=Decimal("115.020200"))
    WorkOrder.objects.filter(pk=done.pk).update(state=State.CLOSED)
    clock.set("2026-11-03T09:00")

    # A resident learns that it is being handled, not whose appeal or which.
    r = post(client_as(c.u_liu), URL, body(lat="31.180300", lng="115.020300", text="路灯坏了好几天"))
    assert r.status_code == 201, r.content
    similar = r.json()["similar"]
    assert len(similar) == 1
    s = similar[0]
    assert (s["id"], s["tracking_code"], s["title"], s["state"]) == (None, None, "路灯损坏", State.SUBMITTED)
    assert 0 < s["distance_m"] < 300
    assert "村口路灯不亮" not in r.content.decode() and first.tracking_code not in r.content.decode()
    assert old.tracking_code not in r.content.decode()

    # Staff see which orders they are, to link duplicates.
    new_id = r.json()["order"]["id"]
    staff = client_as(c.u_zhao).get(f"{URL}/{new_id}/similar").json()
    assert [(x["id"], x["tracking_code"], x["title"]) for x in staff] == [
        (first.pk, first.tracking_code, "村口路灯不亮")
    ]
    # A resident may not ask for them.
    assert client_as(c.u_liu).get(f"{URL}/{new_id}/similar").status_code == 403


def test_similar_means_the_same_problem_in_other_words_not_the_same_category(world, client_as):
    """One burst pipe by the school, filed under two categories, links; a street light next door, filed
    under the new appeal's own category, does not."""
    c = world.c
    at = {"lat": Decimal("31.180100"), "lng": Decimal("115.020200")}
    pipe = submit(world, category=world.outage, text="小学门口的自来水管爆了，水冲到马路上，路面全是水", **at)
    light = submit(world, text="篮球场旁边那盏灯晚上不亮，黑漆漆的", **at)
    r = post(
        client_as(c.u_zhao),
        URL,
        body(channel="hotline", owner_id=c.zhang.pk, lat="31.180200", lng="115.020300",
             text="市民来电反映，学校门口水管爆裂，马路上都是水"),
    )  # fmt: skip
    assert r.status_code == 201, r.content
    found = [s["id"] for s in r.json()["similar"]]
    assert pipe.pk in found and light.pk not in found


def test_staff_learn_only_what_they_may_see_of_similar_orders(world, client_as):
    """Two orders 110 m apart on either side of the line between 东村's A2 and 西村's B1: 东村's village
    staff are told of 西村's order, but not whose it is or what it says."""
    c = world.c
    theirs = submit(world, lat=Decimal("31.203000"), lng=Decimal("115.028000"), title="西村黄婶家门前路灯坏了")
    assert theirs.grid_id == c.b1.pk
    zhou = client_as(c.u_zhou)
    r = post(zhou, URL, body(channel="patrol", lat="31.202000", lng="115.028200", text="巡查发现路灯不亮"))
    assert r.status_code == 201, r.content
    assert r.json()["order"]["grid_name"] == "A2湾组"
    assert zhou.get(f"{URL}/{theirs.pk}").status_code == 404
    [s] = r.json()["similar"]
    assert (s["id"], s["tracking_code"], s["title"]) == (None, None, "路灯损坏")
    assert "黄婶" not in r.content.decode() and theirs.tracking_code not in r.content.decode()
    [s] = zhou.get(f"{URL}/{r.json()['order']['id']}/similar").json()
    assert (s["id"], s["tracking_code"]) == (None, None)
    # The county's dispatcher sees both: to him it is a candidate duplicate.
    [s] = client_as(c.u_zhao).get(f"{URL}/{r.json()['order']['id']}/similar").json()
    assert (s["id"], s["tracking_code"], s["title"]) == (theirs.pk, theirs.tracking_code, "西村黄婶家门前路灯坏了")


# --- photos ------------------------------------------------------------------------------------------


def jpeg_with_gps(size=(640, 480)) -> bytes:
    img = Image.new("RGB", size, (200, 120, 40))
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"  # Make
    exif[0x0110] = "PhoneModel X"  # Model
    gps = exif.get_ifd(0x8825)
    gps[1], gps[2], gps[3], gps[4] = "N", (31.0, 10.0, 48.36), "E", (115.0, 1.0, 12.72)
    buf = io.BytesIO()
    img.save(buf, "JPEG", exif=exif)
    data = buf.getvalue()
    assert Image.open(io.BytesIO(data)).getexif().get_ifd(0x8825)  # the fixture really carries GPS
    return data


def stored_files() -> list[str]:
    out = []
    for root, _dirs, files in os.walk(settings.MEDIA_ROOT):
        out += [os.path.join(root, f) for f in files]
    return out


def upload(client, order_id, data, name="photo.jpg", content_type="image/jpeg", stage="report"):
    return client.post(
        f"{URL}/{order_id}/photos", {"photo": SimpleUploadedFile(name, data, content_type), "stage": stage}
    )


def test_a_photo_is_stored_re_encoded_without_exif(world, zhang):
    o = submit(world)
    r = upload(zhang, o.pk, jpeg_with_gps())
    assert r.status_code == 201, r.content
    p = Photo.objects.get(order=o)
    assert (p.width, p.height, p.stage, p.by_id) == (640, 480, "report", world.c.u_zhang.pk)
    # Served by an API operation that checks who asks, never straight from the media folder.
    assert r.json()["url"] == reverse("api:workorder_photo", args=[o.pk, p.pk])
    assert zhang.get(r.json()["url"]).status_code == 200
    with p.image.open("rb") as f:
        stored = f.read()
    assert p.size == len(stored)
    assert b"Exif" not in stored and b"PhoneModel" not in stored
    img = Image.open(io.BytesIO(stored))
    assert img.format == "JPEG"
    assert dict(img.getexif()) == {}
    # The order's detail lists it.
    assert [x["id"] for x in zhang.get(f"{URL}/{o.pk}").json()["photos"]] == [p.pk]


def test_a_png_is_accepted_and_a_huge_one_is_shrunk(world, zhang):
    o = submit(world)
    buf = io.BytesIO()
    Image.new("RGB", (4000, 1000), "blue").save(buf, "PNG")
    r = upload(zhang, o.pk, buf.getvalue(), name="a.png", content_type="image/png")
    assert r.status_code == 201, r.content
    assert (r.json()["width"], r.json()["height"]) == (2560, 640)


def test_a_20_mb_upload_is_413_and_nothing_is_stored(world, zhang):
    o = submit(world)
    big = jpeg_with_gps() + b"\0" * (20 * 1024 * 1024)
    r = upload(zhang, o.pk, big)
    assert r.status_code == 413, r.content[:200]
    assert error_code(r) == "workorder.photo_too_large"
    assert not Photo.objects.exists()
    assert stored_files() == []


@pytest.mark.parametrize(
    ("data", "name", "content_type"),
    [
        ("这不是照片，是一段文字".encode(), "photo.jpg", "image/jpeg"),
        (b"%PDF-1.4 not an image", "scan.pdf", "application/pdf"),
        (b"\xff\xd8\xff\xe0" + b"\0" * 100, "broken.jpg", "image/jpeg"),  # a JPEG header and nothing
    ],
)
def test_a_file_that_is_not_an_image_is_422(world, zhang, data, name, content_type):
    o = submit(world)
    r = upload(zhang, o.pk, data, name=name, content_type=content_type)
    assert r.status_code == 422, r.content
    assert error_code(r) == "workorder.photo_not_image"
    assert not Photo.objects.exists()
    assert stored_files() == []


def test_photos_of_someone_elses_order(world, client_as):
    c = world.c
    o = submit(world)
    for outsider in (c.u_liu, c.u_sun):
        r = upload(client_as(outsider), o.pk, jpeg_with_gps())
        assert r.status_code == 404
        assert r.json() == upload(client_as(outsider), 987654, jpeg_with_gps()).json()
    # Staff who see it do not add photos of the problem in her name; the handler adds the result.
    assert upload(client_as(c.u_zhao), o.pk, jpeg_with_gps()).status_code == 403
    assert not Photo.objects.exists()
    assert stored_files() == []
    from workorders import services
    from workorders.tests.helpers import fresh, housing

    services.workorder_dispatch(order=fresh(o), to=housing(world), by=c.u_zhao)
    r = upload(client_as(world.u_feng), o.pk, jpeg_with_gps(), stage="result")
    assert r.status_code == 201, r.content
    assert upload(client_as(c.u_zhang), o.pk, jpeg_with_gps(), stage="result").status_code == 403
    assert upload(client_as(c.u_zhang), o.pk, jpeg_with_gps(), stage="before").status_code == 422


def test_a_photo_limit_per_order(world, zhang, settings):
    settings.GONGZHI = {**settings.GONGZHI, "WORKORDERS": {**settings.GONGZHI["WORKORDERS"], "PHOTO_MAX_COUNT": 2}}
    o = submit(world)
    small = jpeg_with_gps((32, 32))
    assert [upload(zhang, o.pk, small).status_code for _ in range(3)] == [201, 201, 409]
    assert Photo.objects.filter(order=o).count() == 2


def test_no_photos_once_it_is_closed(world, zhang):
    from workorders.tests.helpers import order_in

    o = order_in(world, State.CLOSED)
    assert upload(zhang, o.pk, jpeg_with_gps()).status_code == 403


def test_submission_body_is_json_only(world, zhang):
    r = zhang.post(URL, data="kind=complaint", content_type="application/x-www-form-urlencoded")
    assert r.status_code in (400, 422)
    r = zhang.post(URL, data="{not json", content_type="application/json")
    assert r.status_code == 400
    assert json.loads(r.content)["error"]["code"] == "malformed_request"


def test_similar_order_visibility_agrees_with_the_access_gate_for_every_persona(world):
    """selectors.visible_among decides from the rows in hand what access.orders_for decides in SQL."""
    from workorders import access, selectors, services
    from workorders.services import Unit

    c = world.c
    own = submit(world)  # 张阿姨's, located in A1, handled by 住建局 below
    services.workorder_dispatch(order=own, to=Unit(department=world.housing), by=c.u_zhao)
    services.workorder_submit(  # in the other town, filed on patrol by 孙网格
        by=c.u_sun, kind="report", category=world.streetlight, text="南村路灯不亮", channel="patrol", grid=c.c1
    )
    village_unit = services.workorder_submit(
        by=c.u_zhao, kind="help", category=world.dispute, text="邻里纠纷需要调解", channel="hotline", grid=c.b1,
        contact_name="黄婶",
    ).order  # fmt: skip
    services.workorder_dispatch(order=village_unit, to=Unit(node=c.v2), by=c.u_zhao)
    civil = services.workorder_submit(
        by=c.u_li, kind="help", category=world.elderly, text="代办高龄津贴", channel="proxy", owner=c.zhang
    ).order
    services.workorder_dispatch(order=civil, to=Unit(department=c.civil_affairs), by=c.u_zhao)
    orders = WorkOrder.objects.all()
    rows = [
        selectors.SimilarOrder(
            o.pk, o.tracking_code, o.title, o.state, o.created_at, o.category, o.path, o.unit_path,
            o.owner_user_id, o.submitted_by_id,
        )
        for o in orders
    ]  # fmt: skip
    users = {**c.all_users(), "feng": world.u_feng, "ma": world.u_ma}
    for name, user in users.items():
        user = type(user).objects.get(pk=user.pk)  # a fresh object: no cached scope
        expected = set(access.orders_for(user).values_list("pk", flat=True))
        assert selectors.visible_among(user, rows) == expected, name
    # And the cases are not all alike: someone sees all, someone some, someone none of them.
    sizes = {name: len(selectors.visible_among(type(u).objects.get(pk=u.pk), rows)) for name, u in users.items()}
    assert max(sizes.values()) == len(rows) and min(sizes.values()) == 0 and len(set(sizes.values())) >= 3
