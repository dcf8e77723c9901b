"""Notices reach exactly their audience — residents living in the area, staff whose role lies in it, party
members whose branch lies in it — while published and not expired; only those who publish over the area
write, publish and withdraw them, and see how many of the audience have read each; bad input changes
nothing."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from core.errors import Conflict, NotFound, ValidationFailed
from notices import selectors, services
from notices.models import Notice, Read
from workorders.tests.helpers import at

API = "/api/v1/notices"
PERSONAS = ("u_zhang", "u_liu", "u_li", "u_zhou", "u_wu", "u_zhao", "u_qian", "u_wang", "u_sun", "u_zheng")


def _readers(c, notice) -> set[str]:
    return {p for p in PERSONAS if selectors.notices_for(getattr(c, p)).filter(pk=notice.pk).exists()}


@pytest.mark.parametrize(
    ("node", "audience", "expected"),
    [
        ("v1", {"to_residents": True}, {"u_zhang", "u_liu"}),
        ("v1", {"to_residents": False, "to_staff": True}, {"u_li", "u_zhou"}),
        ("v1", {"to_residents": False, "to_party": True}, {"u_liu"}),
        ("a1", {"to_residents": True}, {"u_zhang", "u_liu"}),
        ("a2", {"to_residents": True, "to_staff": True}, set()),
        ("t1", {"to_residents": False, "to_staff": True}, {"u_li", "u_zhou", "u_wu"}),
        ("county", {"to_residents": False, "to_staff": True},
         {"u_li", "u_zhou", "u_wu", "u_zhao", "u_qian", "u_wang", "u_sun"}),
        ("county", {"to_residents": True, "to_staff": False}, {"u_zhang", "u_liu"}),
    ],
)  # fmt: skip
def test_a_notice_reaches_exactly_its_audience(world, node, audience, expected):
    c = world.c
    n = services.notice_create(by=c.u_admin, node=getattr(c, node), title="停水通知", body="明天停水", **audience)
    assert _readers(c, n) == expected
    # Beyond the personas: the administrator and 住建局's two clerks are county staff too.
    others = {c.u_admin, world.u_feng, world.u_ma} if audience.get("to_staff") and node == "county" else set()
    assert all(selectors.notices_for(u).filter(pk=n.pk).exists() for u in others)
    assert selectors.reach(n).audience == len({getattr(c, p).pk for p in expected} | {u.pk for u in others})


def test_drafts_withdrawn_and_expired_notices_reach_nobody(world):
    from workorders.tests.helpers import Clock

    c = world.c
    clock = Clock()
    clock.set("2026-11-18 10:00")
    try:
        draft = services.notice_create(by=c.u_zhou, node=c.v1, title="草稿", body="未发布", publish=False)
        short = services.notice_create(by=c.u_zhou, node=c.v1, title="限时", body="今天有效",
                                       expires_at=at("2026-11-18 18:00"))  # fmt: skip
        gone = services.notice_create(by=c.u_zhou, node=c.v1, title="撤回", body="发错了")
        services.notice_withdraw(notice=gone, by=c.u_zhou, reason="内容有误")
        assert list(selectors.notices_for(c.u_zhang)) == [short]
        clock.set("2026-11-18 18:00")
        assert list(selectors.notices_for(c.u_zhang)) == []
        services.notice_publish(notice=draft, by=c.u_zhou)
        assert list(selectors.notices_for(c.u_zhang)) == [draft]
        with pytest.raises(Conflict):
            services.notice_publish(notice=Notice.objects.get(pk=draft.pk), by=c.u_zhou)
        with pytest.raises(NotFound):  # not theirs to open any more
            selectors.access_notice(c.u_zhang, gone.pk)
        assert selectors.access_notice(c.u_zhou, gone.pk) == gone  # the publisher still sees it
    finally:
        clock.reset()


def test_pinned_notices_come_first(world):
    c = world.c
    first = services.notice_create(by=c.u_zhou, node=c.v1, title="一", body="一")
    pinned = services.notice_create(by=c.u_zhou, node=c.v1, title="置顶", body="置顶", pinned=True)
    last = services.notice_create(by=c.u_zhou, node=c.v1, title="三", body="三")
    assert list(selectors.notices_for(c.u_zhang)) == [pinned, last, first]


@pytest.mark.parametrize(
    ("kw", "code"),
    [
        ({"title": ""}, "validation.required"),
        ({"title": "x" * 81}, "validation.too_long"),
        ({"body": "x" * 5001}, "validation.too_long"),
        ({"body": "a\x00b"}, "validation.nul"),
        ({"to_residents": False}, "notice.no_audience"),
        ({"expires_at": dt.datetime(2020, 1, 1, tzinfo=dt.UTC)}, "notice.bad_expiry"),
        ({"attachments": [SimpleUploadedFile("x.exe", b"MZ")]}, "notice.bad_file"),
    ],
)
def test_bad_notices_are_refused_and_change_nothing(world, kw, code):
    c = world.c
    args = {"title": "通知", "body": "内容", **kw}
    with pytest.raises(ValidationFailed) as e:
        services.notice_create(by=c.u_zhou, node=c.v1, **args)
    assert e.value.code == code
    assert not Notice.objects.exists()


def test_only_those_who_publish_over_an_area_write_there(world):
    c = world.c
    for user, node in ((c.u_zhou, c.v2), (c.u_li, c.a1), (c.u_zhang, c.v1), (c.u_wang, c.county)):
        with pytest.raises(NotFound):
            services.notice_create(by=user, node=node, title="通知", body="内容")
    n = services.notice_create(by=c.u_wu, node=c.v2, title="镇里通知", body="内容")  # town staff: its villages
    with pytest.raises(NotFound):
        services.notice_withdraw(notice=n, by=c.u_zhou, reason="不是我的")
    assert not Notice.objects.filter(state="withdrawn").exists()


def test_the_api_reads_counts_and_refuses(world, client_as):
    c = world.c
    zhou, zhang = client_as(c.u_zhou), client_as(c.u_zhang)
    r = zhou.post(API, {"node_id": c.v1.pk, "title": "疫苗接种通知", "body": "周三上午在村卫生室"},
                  content_type="application/json")  # fmt: skip
    assert r.status_code == 201, r.content
    nid = r.json()["id"]
    assert zhang.get(f"{API}/unread-count").json() == {"unread": 1}
    one = zhang.get(f"{API}/{nid}")
    assert one.status_code == 200 and one.json()["read"] is True and one.json()["actions"] == []
    zhang.get(f"{API}/{nid}")
    assert Read.objects.count() == 1 and zhang.get(f"{API}/unread-count").json() == {"unread": 0}
    managed = zhou.get(f"{API}/managed").json()["items"]
    assert [(m["id"], m["audience"], m["read_by"], m["actions"]) for m in managed] == [(nid, 2, 1, ["withdraw"])]
    assert client_as(c.u_sun).get(f"{API}/{nid}").status_code == 404
    assert client_as(c.u_sun).get(f"{API}/managed").json()["count"] == 0
    before = Notice.objects.count()
    for body, status in (
        ({"node_id": c.v1.pk, "title": "", "body": "x"}, 422),
        ({"node_id": c.v1.pk, "title": "t", "body": "a\u0000b"}, 400),
        ({"node_id": c.v1.pk, "title": "t", "body": "x" * 5001}, 422),
        ({"node_id": c.v1.pk, "title": "t", "body": "x", "to_residents": False}, 422),
        ({"node_id": c.v2.pk, "title": "t", "body": "x"}, 404),
        ({"node_id": c.v1.pk, "title": "t", "body": "x", "pinned": "yes"}, 422),
    ):
        got = zhou.post(API, body, content_type="application/json")
        assert got.status_code == status, (body, got.content)
        assert got.json()["error"]["code"]
    assert Notice.objects.count() == before
    w = zhou.post(f"{API}/{nid}/withdraw", {"reason": "时间改了"}, content_type="application/json")
    assert w.status_code == 200 and w.json()["state"] == "withdrawn"
    assert zhou.post(f"{API}/{nid}/withdraw", {"reason": "再撤"}, content_type="application/json").status_code == 409
    assert zhang.get(f"{API}/{nid}").status_code == 404


def test_pages_the_resident_home_box_attachments_and_the_manage_page(world, client_as, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    c = world.c
    zhou = client_as(c.u_zhou)
    r = zhou.post("/notices/manage/", {
        "node": str(c.v1.pk), "title": "防汛通知", "body": "请勿靠近河道", "to_residents": "on", "pinned": "on",
        "attachments": [SimpleUploadedFile("防汛.pdf", b"%PDF-1.4 test")],
    }, follow=True)  # fmt: skip
    assert r.status_code == 200
    n = Notice.objects.get()
    assert n.pinned and n.attachments.count() == 1
    home = client_as(c.u_zhang).get("/").content.decode()
    assert 'data-box="notices"' in home and "防汛通知" in home
    page = client_as(c.u_zhang).get(f"/notices/{n.pk}/")
    assert page.status_code == 200 and "请勿靠近河道" in page.content.decode()
    a = n.attachments.get()
    f = client_as(c.u_zhang).get(f"/notices/{n.pk}/files/{a.pk}/")
    assert f.status_code == 200 and b"".join(f.streaming_content) == b"%PDF-1.4 test"
    assert client_as(c.u_sun).get(f"/notices/{n.pk}/files/{a.pk}/").status_code == 404
    manage = zhou.get("/notices/manage/").content.decode()
    assert f'data-notice="{n.pk}"' in manage and "1 / 2" in manage
    bad = zhou.post("/notices/manage/", {"node": str(c.v1.pk), "title": "", "body": "x", "to_residents": "on"},
                    follow=True)  # fmt: skip
    assert list(bad.context["messages"]) and Notice.objects.count() == 1
    assert client_as(c.u_li).get("/notices/manage/").status_code == 404
    assert zhou.post("/notices/manage/", {"node": str(c.v2.pk), "title": "t", "body": "x"}).status_code == 404
