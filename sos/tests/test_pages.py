"""One-key call pages: the two-tap button, the responder's list and steps, the board."""

from __future__ import annotations

import pytest

from sos import services
from sos.models import Call

pytestmark = pytest.mark.django_db


def test_one_tap_asks_the_second_tap_calls_and_a_repeated_post_calls_once(world, care, client_as):
    zhang = client_as(world.c.u_zhang)
    page = zhang.get("/sos/")
    assert page.status_code == 200
    assert "sos/raise/?kind=emergency" in page.content.decode()
    confirm = zhang.get("/sos/raise/?kind=emergency")
    assert Call.objects.count() == 0  # the first tap calls nobody
    key = confirm.context["key"]
    for _ in range(2):  # a double tap on a slow phone
        r = zhang.post("/sos/raise/", {"kind": "emergency", "key": key})
        assert r.status_code == 302
    assert Call.objects.count() == 1
    status = zhang.get("/sos/").content.decode()
    assert "等待响应" in status and "取回" in status  # waiting, and the take-back button


def test_the_take_back_button_works_and_the_keys_return(world, care, client_as):
    zhang = client_as(world.c.u_zhang)
    zhang.post("/sos/raise/", {"kind": "service", "key": "k1"})
    call = Call.objects.get()
    r = zhang.post(f"/sos/calls/{call.pk}/cancel/", {"next": "home"})
    assert r.status_code == 302 and r["Location"] == "/sos/"
    assert Call.objects.get().state == "cancelled"
    assert "sos/raise/?kind=service" in zhang.get("/sos/").content.decode()


def test_a_responder_sees_the_call_and_takes_it(world, care, client_as):
    c = world.c
    call = services.call_raise(profile=care, kind="emergency", channel="button", by=c.u_zhang).call
    li = client_as(c.u_li)
    listing = li.get("/sos/calls/").content.decode()
    assert "张阿姨" in listing and f"/sos/calls/{call.pk}/" in listing
    li.post(f"/sos/calls/{call.pk}/acknowledge/")
    assert Call.objects.get().state == "acknowledged"
    late = client_as(c.u_liu).post(f"/sos/calls/{call.pk}/acknowledge/", follow=True).content.decode()
    assert "李网格" in late  # the other is told who has it
    li.post(f"/sos/calls/{call.pk}/resolve/", {"outcome": "", "minutes_spent": "5"})
    assert Call.objects.get().state == "acknowledged"  # no outcome: refused with a message
    li.post(f"/sos/calls/{call.pk}/resolve/", {"outcome": "已送医", "minutes_spent": "40"})
    assert (Call.objects.get().state, Call.objects.get().minutes_spent) == ("resolved", 40)


def test_outsiders_get_404_and_residents_cannot_reach_the_staff_pages(world, care, client_as):
    c = world.c
    call = services.call_raise(profile=care, kind="emergency", channel="button", by=c.u_zhang).call
    assert client_as(c.u_sun).get(f"/sos/calls/{call.pk}/").status_code == 404
    assert client_as(c.u_sun).post(f"/sos/calls/{call.pk}/acknowledge/").status_code == 404
    assert client_as(c.u_zhang).get("/sos/board/").status_code == 404
    assert client_as(c.u_wang).get("/sos/calls/").status_code == 404
    assert client_as(c.u_li).post(f"/sos/calls/{call.pk}/explode/").status_code == 404
    assert Call.objects.get().state == "raised"


def test_the_board_lists_open_calls_with_their_escalation_and_the_figures(world, care, client_as):
    c = world.c
    services.call_raise(profile=care, kind="emergency", channel="button", by=c.u_zhang)
    page = client_as(c.u_zhao).get("/sos/board/")
    html = page.content.decode()
    assert page.status_code == 200
    assert "张阿姨" in html and "响应人链" in html
    assert page.context["stats"]["total"] == 1
    assert page.context["stats"]["per_village"] == [("东村", 1)]
    part = client_as(c.u_zhao).get("/sos/board/?part=list").content.decode()
    assert "<html" not in part and "张阿姨" in part


def test_someone_not_registered_is_told_how_to_be(world, client_as):
    page = client_as(world.c.u_zheng).get("/sos/")  # a volunteer in no chain yet
    assert page.status_code == 200
    assert "网格员" in page.content.decode()


def test_staff_find_register_and_arrange_a_chain(world, client_as):
    c = world.c
    li = client_as(c.u_li)
    found = li.get("/sos/profiles/?q=张阿姨")
    assert found.context["found"] == [c.zhang]
    r = li.post(
        "/sos/profiles/register/", {"resident": c.zhang.pk, "reasons": ["elderly_alone", "bogus"], "needs": "高血压"}
    )
    profile = c.zhang.care
    assert r.status_code == 302 and r["Location"] == f"/sos/profiles/{profile.pk}/"
    assert profile.reasons == ["elderly_alone"]
    assert li.get("/sos/profiles/?q=张阿姨").context["found"] == []  # registered: no longer offered
    page = li.get(f"/sos/profiles/{profile.pk}/")
    assert c.u_zhou in page.context["candidates"] and c.u_wang not in page.context["candidates"]
    rows = {"kind_0": "village_duty", "user_0": c.u_zhou.pk, "kind_1": "other", "name_1": "邻居王婶"}
    li.post(f"/sos/profiles/{profile.pk}/", {**rows, "phone_1": "13911112222"})
    assert list(profile.chain.values_list("user_id", "name")) == [(c.u_zhou.pk, "周村干"), (None, "邻居王婶")]
    li.post(f"/sos/profiles/{profile.pk}/", {"kind_0": "other", "name_0": "无号码"})
    assert profile.chain.count() == 2  # refused: a responder needs a login or a phone
    assert client_as(c.u_sun).get(f"/sos/profiles/{profile.pk}/").status_code == 404
    assert client_as(c.u_sun).post("/sos/profiles/register/", {"resident": c.chen.pk}).status_code == 404
    assert client_as(c.u_zhang).get("/sos/profiles/").status_code == 404


def test_staff_raise_for_a_resident_and_turn_a_need_into_a_work_order(world, care, client_as):
    c = world.c
    li = client_as(c.u_li)
    r = li.post(
        f"/sos/profiles/{care.pk}/raise/", {"kind": "service", "channel": "hotline", "note": "要买药", "key": "h1"}
    )
    call = Call.objects.get()
    assert r["Location"] == f"/sos/calls/{call.pk}/"
    assert (call.channel, call.kind, call.raised_by_id) == ("hotline", "service", c.u_li.pk)
    li.post(f"/sos/calls/{call.pk}/acknowledge/")
    li.post(f"/sos/calls/{call.pk}/workorder/", {"text": "家里水管漏水要修", "category": "nope"})
    assert Call.objects.get().workorder_id is None
    li.post(f"/sos/calls/{call.pk}/workorder/", {"text": "家里水管漏水要修", "category": "010101"})
    call.refresh_from_db()
    assert call.workorder.owner_id == c.zhang.pk
    assert call.workorder.tracking_code in li.get(f"/sos/calls/{call.pk}/").content.decode()


def test_the_register_shows_reasons_in_words(world, care, client_as):
    care.reasons = ["elderly_alone", "disabled"]
    care.save()
    html = client_as(world.c.u_li).get("/sos/profiles/").content.decode()
    assert "独居老人、残疾" in html and "elderly_alone" not in html


def test_the_board_map_places_open_calls_on_their_grid(world, care, client_as):
    c = world.c
    call = services.call_raise(profile=care, kind="emergency", channel="button", by=c.u_zhang).call
    page = client_as(c.u_zhao).get("/sos/board/")
    m = page.context["map"]
    assert len(m["grids"]) == 4 and [p["call"].pk for p in m["points"]] == [call.pk]
    assert all(20 <= x <= m["w"] - 20 and 20 <= y <= m["h"] - 20 for x, y in m["grids"])
    assert f'data-call="{call.pk}"' in page.content.decode()


def test_family_contacts_edited_by_staff_who_may_see_numbers_and_masked_for_others(world, care, client_as):
    c = world.c
    li = client_as(c.u_li)
    url = f"/sos/profiles/{care.pk}/"
    li.post(url, {"form": "contacts", "cname_0": "张小红", "crel_0": "女儿", "cphone_0": "13900003333"})
    assert list(care.contacts.values_list("name", "phone")) == [("张小红", "13900003333")]
    li.post(url, {"form": "contacts", "cname_0": "张小红", "cphone_0": "12345"})
    li.post(url, {"form": "contacts", "cname_0": "", "cphone_0": "13900002222"})
    assert list(care.contacts.values_list("phone", flat=True)) == ["13900003333"]  # both refused
    assert "13900003333" in li.get(url).content.decode()
    html = client_as(c.u_qian).get(url).content.decode()  # a leader: no phone numbers
    assert "13900003333" not in html and 'name="cphone_0"' not in html


def test_the_timeline_speaks_words_not_codes(world, care, client_as):
    c = world.c
    call = services.call_raise(profile=care, kind="emergency", channel="button", by=c.u_zhang).call
    services.call_acknowledge(call=call, by=c.u_li)
    html = client_as(c.u_li).get(f"/sos/calls/{call.pk}/").content.decode()
    timeline = html[html.index('class="timeline"') :]
    assert "响应" in timeline and "acknowledge" not in timeline and "alert" not in timeline


def test_the_chain_form_refuses_someone_not_offered_with_a_message(world, care, client_as):
    """A login id the page did not offer (another town's grid worker, typed into the form) is refused
    with a message, not dropped in silence, and the chain stays as it was."""
    c = world.c
    url = f"/sos/profiles/{care.pk}/"
    before = list(care.chain.values_list("position", "user_id", "name"))
    r = client_as(c.u_li).post(
        url, {"kind_0": "grid_worker", "user_0": c.u_li.pk, "kind_1": "other", "user_1": c.u_sun.pk}, follow=True
    )
    assert [str(m) for m in r.context["messages"]]
    assert list(care.chain.values_list("position", "user_id", "name")) == before


def test_the_responders_call_page_shows_her_address_and_phone_and_logs_the_read(world, care, client_as):
    from core.models import PersonalDataAccess

    c = world.c
    call = services.call_raise(profile=care, kind="emergency", channel="button", by=c.u_zhang).call
    services.call_acknowledge(call=call, by=c.u_li)
    PersonalDataAccess.objects.all().delete()
    url = f"/sos/calls/{call.pk}/"
    html = client_as(c.u_li).get(url).content.decode()
    assert "东村A1湾组1号" in html and 'href="tel:13800001234"' in html
    assert list(PersonalDataAccess.objects.values_list("user_id", "resident_id", "field", "channel", "path")) == [
        (c.u_li.pk, c.zhang.pk, "phone", "page", url)
    ]
    other = client_as(c.u_zhou).get(url).content.decode()  # village staff, not the call's responder
    assert "138****1234" in other and "13800001234" not in other
    assert PersonalDataAccess.objects.count() == 1
