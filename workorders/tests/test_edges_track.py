"""What the public sees of an order by its tracking code (/track/<code>/ and GET /api/v1/track/<code>, no
login): the state, the timeline of its public steps with their dates, the handling unit's name, the
deadline. Never free text written by staff (the reply, notes), nor a clerk's name, a phone number or the
address. The reply and the notes written for the resident are shown to the appeal's owner (or whoever
filed it for them) once logged in — on the tracking page too."""

from __future__ import annotations

import json
import re

import pytest

from accounts.services import token_create
from workorders import services
from workorders.tests.helpers import fresh, housing, submit

pytestmark = pytest.mark.django_db

REPLY = "已联系张阿姨（13800001234），村口老槐树下3号的路灯已由冯科员更换"
NOTE = "冯科员明天上午到老槐树下3号查看，请保持电话0713-2000003畅通"
ADDRESS = "村口老槐树下3号"
SECRETS = (REPLY, NOTE, "张阿姨", "13800001234", "1234", "冯科员", "赵调度", "0713-2000003", ADDRESS, "老槐树")


def resolved_order(world):
    c = world.c
    o = submit(world, address=ADDRESS, text="我是张阿姨，电话13800001234，老槐树下的路灯坏了")
    services.workorder_dispatch(order=fresh(o), to=housing(world), by=c.u_zhao, note="赵调度：请住建局尽快处理")
    services.workorder_accept(order=fresh(o), by=world.u_feng)
    services.workorder_note(order=fresh(o), by=world.u_feng, note=NOTE, public=True)
    services.workorder_resolve(order=fresh(o), by=world.u_feng, reply=REPLY)
    return fresh(o)


def bearer(user) -> dict[str, str]:
    _token, secret = token_create(user=user, name="phone")
    return {"HTTP_AUTHORIZATION": f"Bearer {secret}"}


def test_the_public_page_shows_progress_and_no_free_text(world, client_as):
    o = resolved_order(world)
    for who in (None, world.c.u_liu, world.u_ma):  # nobody; another resident; a clerk of another order
        r = client_as(who).get(f"/track/{o.tracking_code}/")
        assert r.status_code == 200
        page = r.content.decode()
        assert o.tracking_code in page and 'data-state="resolved"' in page
        assert "路灯损坏" in page  # the category
        assert "住建局" in page  # the handling unit, by name
        assert page.count('class="ev"') == 5  # submit, dispatch, accept, note, resolve: each with its date
        assert page.count("<time") == 5
        # The times are the page's own (their microseconds once held "1234", the phone's tail): looked at apart.
        words = re.sub(r"<time[^>]*>[^<]*</time>", "", page)
        for secret in SECRETS:
            assert secret not in words, secret
        assert "data-reply" not in page


def test_the_owner_sees_the_reply_on_the_tracking_page(world, client_as):
    o = resolved_order(world)
    page = client_as(world.c.u_zhang).get(f"/track/{o.tracking_code}/").content.decode()
    assert "data-reply" in page and "村口老槐树下3号的路灯已由冯科员更换" in page
    assert "明天上午到老槐树下3号查看" in page  # the note staff marked for the resident
    assert "赵调度：请住建局尽快处理" not in page  # the dispatcher's word to the unit stays with staff
    assert f'href="/workorders/{o.pk}/"' in page  # and the way to her order's page


def test_the_public_api_shows_no_free_text(world, client_as):
    o = resolved_order(world)
    url = f"/api/v1/track/{o.tracking_code}"
    for client, extra in (
        (client_as(None), {}),
        (client_as(world.c.u_liu), {}),
        (client_as(None), bearer(world.c.u_liu)),
    ):
        r = client.get(url, **extra)
        assert r.status_code == 200
        body = r.json()
        assert (body["state"], body["reply"]) == ("resolved", "")
        assert [e["action"] for e in body["events"]] == ["submit", "dispatch", "accept", "note", "resolve"]
        assert all(e["note"] == "" for e in body["events"])
        assert "住建局" in {e["actor"] for e in body["events"]}
        text = json.dumps(body, ensure_ascii=False)
        for secret in SECRETS:
            assert secret not in text, secret
    # The owner, by session or by token, reads the reply there too.
    for client, extra in ((client_as(world.c.u_zhang), {}), (client_as(None), bearer(world.c.u_zhang))):
        body = client.get(url, **extra).json()
        assert body["reply"] == REPLY
        assert [e["note"] for e in body["events"] if e["action"] == "note"] == [NOTE]
        assert [e["note"] for e in body["events"] if e["action"] == "dispatch"] == [""]


def test_a_duplicates_reporter_follows_the_primary_without_its_reply_unless_logged_in(world, client_as):
    c = world.c
    primary = submit(world)
    dup = submit(world, by=c.u_liu, text="村口那盏路灯也是坏的")
    services.workorder_mark_duplicate(order=fresh(dup), primary=fresh(primary), by=c.u_zhao)
    services.workorder_dispatch(order=fresh(primary), to=housing(world), by=c.u_zhao)
    services.workorder_accept(order=fresh(primary), by=world.u_feng)
    services.workorder_resolve(order=fresh(primary), by=world.u_feng, reply="已修复村口路灯")
    anon = client_as(None)
    assert "已修复村口路灯" not in anon.get(f"/track/{dup.tracking_code}/").content.decode()
    assert anon.get(f"/api/v1/track/{dup.tracking_code}").json()["reply"] == ""
    # 刘党员, logged in, is told what was done about his report.
    assert "已修复村口路灯" in client_as(c.u_liu).get(f"/track/{dup.tracking_code}/").content.decode()
    assert client_as(c.u_liu).get(f"/api/v1/track/{dup.tracking_code}").json()["reply"] == "已修复村口路灯"
    # 张阿姨 owns the primary, not 刘党员's duplicate: on his code she is the public.
    assert "已修复村口路灯" not in client_as(c.u_zhang).get(f"/track/{dup.tracking_code}/").content.decode()
