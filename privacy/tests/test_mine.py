"""A resident sees and downloads what the county holds about them, and nobody else's."""

from __future__ import annotations

import json

import pytest

from core.models import PersonalDataAccess
from points.services import award_manual
from privacy.models import DataRequest, OwnDataAccess
from sos import services as sos
from workorders.tests.helpers import submit

pytestmark = pytest.mark.django_db


def _data(world):
    c = world.c
    mine = submit(world, text="村口路灯坏了三天")
    other = submit(world, by=c.u_liu, text="刘家门口的水管漏水")
    profile = sos.care_register(resident=c.zhang, by=c.u_li, reasons=["elderly_alone"])
    sos.call_raise(profile=profile, kind="service", channel="staff", by=c.u_zhou, note="需要买药")
    award_manual(resident=c.zhang, amount=20, reason="打扫卫生", by=c.u_zhou, key="t1")
    return mine, other


def test_a_resident_sees_their_own_data_and_nobody_elses(world, client_as):
    c = world.c
    mine, other = _data(world)
    PersonalDataAccess.objects.all().delete()
    r = client_as(c.u_zhang).get("/privacy/mine/?show=numbers")
    assert r.status_code == 200 and r["Cache-Control"] == "no-store"
    page = r.content.decode()
    assert "张阿姨" in page and "13800001234" in page  # her own number, whole: she tapped to see it
    assert c.zhang.id_number in page
    assert mine.tracking_code in page and other.tracking_code not in page
    assert "刘家门口的水管漏水" not in page and "13900002222" not in page  # a neighbour's order, his phone
    assert "东村A1湾组1号" in page
    assert 'href="/privacy/mine.json"' in page
    # Her look is recorded; core's log of reads of someone else's numbers is not touched (her own).
    assert list(OwnDataAccess.objects.values_list("user_id", "resident_id", "channel")) == [
        (c.u_zhang.pk, c.zhang.pk, "page")
    ]
    assert PersonalDataAccess.objects.count() == 0


def test_the_download_is_json_in_chinese_with_everything(world, client_as):
    c = world.c
    mine, other = _data(world)
    r = client_as(c.u_zhang).get("/privacy/mine.json")
    assert r.status_code == 200
    assert r["Content-Disposition"].startswith("attachment; filename=")
    assert r["Content-Type"].startswith("application/json")
    raw = r.content.decode("utf-8")
    assert "张阿姨" in raw  # ensure_ascii=False: the characters, not \\u escapes
    body = json.loads(raw)
    assert body["resident"]["name"] == "张阿姨" and body["resident"]["phone"] == "13800001234"
    assert body["household"]["address"] == "东村A1湾组1号"
    assert [o["tracking_code"] for o in body["workorders"]] == [mine.tracking_code]
    assert body["workorders"][0]["text"] == "村口路灯坏了三天"
    assert [x["note"] for x in body["calls"]["calls"]] == ["需要买药"]
    assert body["calls"]["care_profile"]["reasons"] == ["elderly_alone"]
    assert body["points"]["balance"] == 20 and [e["points"] for e in body["points"]["entries"]] == [20]
    assert other.tracking_code not in raw and "刘家门口" not in raw
    assert OwnDataAccess.objects.filter(user=c.u_zhang, channel="download").count() == 1
    # Another resident downloads only his own.
    theirs = json.loads(client_as(c.u_liu).get("/privacy/mine.json").content)
    assert [o["tracking_code"] for o in theirs["workorders"]] == [other.tracking_code]
    assert theirs["resident"]["name"] == "刘党员" and theirs["points"]["entries"] == []


def test_anonymous_is_sent_to_log_in(world, client_as):
    for url in ("/privacy/mine/", "/privacy/mine.json", "/privacy/requests/", "/privacy/access-log.csv"):
        r = client_as(None).get(url)
        assert r.status_code == 302 and "login" in r["Location"], url
    assert OwnDataAccess.objects.count() == 0


def test_a_login_with_no_resident_record_is_told_so(world, client_as):
    c = world.c
    r = client_as(c.u_zhao).get("/privacy/mine/")
    assert r.status_code == 200 and "data-not-linked" in r.content.decode()
    assert client_as(c.u_zhao).get("/privacy/mine.json").status_code == 404
    assert client_as(c.u_zhao).post("/privacy/mine/", {"kind": "correction", "text": "x"}).status_code == 200
    assert DataRequest.objects.count() == 0 and OwnDataAccess.objects.count() == 0


def test_a_resident_files_a_request_and_staff_above_are_told(world, client_as):
    from notify.models import Message

    c = world.c
    client = client_as(c.u_zhang)
    r = client.post(
        "/privacy/mine/", {"kind": "correction", "text": "我的电话号码换了，新号码是13800009999"}, follow=True
    )
    assert r.status_code == 200
    req = DataRequest.objects.get()
    assert (req.resident_id, req.user_id, req.kind, req.state) == (c.zhang.pk, c.u_zhang.pk, "correction", "open")
    assert req.path == c.zhang.path and req.handled_by is None
    assert f'data-request="{req.pk}"' in r.content.decode()
    told = set(Message.objects.filter(kind="privacy").values_list("user_id", flat=True))
    assert told == {c.u_zhou.pk, c.u_wu.pk, c.u_admin.pk}  # who keeps her village's, her town's, the county's register


@pytest.mark.parametrize(
    "body",
    [
        {"kind": "correction", "text": ""},
        {"kind": "correction", "text": "   "},
        {"kind": "correction", "text": "字" * 1001},
        {"kind": "rename", "text": "请改名"},
        {"text": "没有种类"},
        {"kind": "deletion", "text": "删除\x00"},
    ],
)
def test_bad_input_is_a_message_and_changes_nothing(world, client_as, body):
    r = client_as(world.c.u_zhang).post("/privacy/mine/", body, follow=True)
    assert r.status_code == 200
    msgs = [str(m) for m in r.context["messages"]]
    assert len(msgs) == 1 and "error" in r.content.decode()
    assert DataRequest.objects.count() == 0


def test_a_resident_cannot_pile_up_open_requests(world, client_as):
    from privacy.services import MAX_OPEN

    client = client_as(world.c.u_zhang)
    for i in range(MAX_OPEN + 1):
        client.post("/privacy/mine/", {"kind": "deletion", "text": f"请删除第{i}条"})
    assert DataRequest.objects.count() == MAX_OPEN


def test_her_household_members_numbers_stay_out(world, client_as):
    """Her son lives with her: his name and relation are hers to see, his phone and ID number are his."""
    from org.models import Resident

    c = world.c
    Resident.objects.create(
        household=c.zhang.household, name="张小明", gender="M", relation="child", phone="13911112222",
        id_number="42999919900101123X",
    )  # fmt: skip
    page = client_as(c.u_zhang).get("/privacy/mine/").content.decode()
    raw = client_as(c.u_zhang).get("/privacy/mine.json").content.decode()
    for text in (page, raw):
        assert "张小明" in text
        assert "13911112222" not in text and "42999919900101123X" not in text and "1123X" not in text


def test_her_numbers_are_masked_until_she_taps_to_see_them(world, client_as):
    """长辈版 point 6: on her own pages the ID and phone numbers show masked (4211**********2946) until she
    asks; then whole, and hidden again with one more tap."""
    from core.masking import mask_id_number, mask_phone

    c = world.c
    me = client_as(c.u_zhang)
    for url in ("/privacy/mine/", "/"):
        page = me.get(url).content.decode()
        assert c.zhang.id_number not in page and "13800001234" not in page, url
        assert mask_id_number(c.zhang.id_number) in page and mask_phone("13800001234") in page, url
        assert "?show=numbers#" in page, url  # the tap
        shown = me.get(url + "?show=numbers")
        assert shown["Cache-Control"] == "no-store", url
        page = shown.content.decode()
        assert c.zhang.id_number in page and "13800001234" in page, url
        assert f'href="{url}#' in page, url  # and back to masked
