"""The appeal loop's pages, as the people who use them: a resident submits and rates, a grid worker files for
a resident, the dispatcher works the console, a department clerk signs for and resolves, and the public
follows progress by tracking code. The copy may still be English until it is translated, so these tests
look at data, links and data-* markers rather than at words."""

from __future__ import annotations

import datetime as dt
import io
import re
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from PIL import Image

from core.models import PersonalDataAccess
from workorders import services
from workorders.models import Event, Photo, Rating, WorkOrder
from workorders.services import Unit

NEW = "/workorders/new/"


def html(response) -> str:
    return response.content.decode()


def png(size: tuple[int, int] = (40, 30)) -> SimpleUploadedFile:
    buf = io.BytesIO()
    Image.new("RGB", size, (200, 30, 30)).save(buf, "PNG")
    return SimpleUploadedFile("problem.png", buf.getvalue(), content_type="image/png")


def key_of(page: str) -> str:
    m = re.search(r'name="key" value="([^"]+)"', page)
    assert m, "the submit form carries an idempotency key"
    return m.group(1)


def order(world, *, by=None, category=None, text="村口路灯坏了三天", channel="web", **kw) -> WorkOrder:
    return services.workorder_submit(
        by=by or world.c.u_zhang,
        kind=kw.pop("kind", "complaint"),
        category=category or world.streetlight,
        text=text,
        channel=channel,
        **kw,
    ).order


def dispatched(world, o: WorkOrder, dept=None) -> WorkOrder:
    return services.workorder_dispatch(order=o, to=Unit(department=dept or world.housing), by=world.c.u_zhao)


def resolved(world, o: WorkOrder, reply: str = "已更换灯泡，恢复照明") -> WorkOrder:
    o = dispatched(world, o)
    o = services.workorder_accept(order=o, by=world.u_feng)
    return services.workorder_resolve(order=o, by=world.u_feng, reply=reply)


def state(o: WorkOrder) -> str:
    o.refresh_from_db()
    return o.state


# --- resident: submit -------------------------------------------------------------------------------


def test_resident_submits_in_three_steps_and_a_resubmit_makes_one_order(world, client_as):
    client = client_as(world.c.u_zhang)
    step1 = html(client.get(NEW))
    assert 'data-category="01"' in step1 and "城乡建设" in step1
    step1b = html(client.get(NEW, {"kind": "complaint", "cat": "01"}))
    assert 'data-category="0101"' in step1b and "市政设施" in step1b
    step2 = client.get(NEW, {"kind": "complaint", "cat": "0101"})
    assert step2.status_code == 200
    page = html(step2)
    assert 'name="text"' in page and "路灯损坏" in page  # the optional third level
    assert "A1湾组" in page  # without a location, her home's grid
    key = key_of(page)

    form = {"kind": "complaint", "cat": "0101", "sub": "010101", "text": "村口路灯坏了三天", "key": key}
    r = client.post(NEW, form)
    assert r.status_code == 302
    o = WorkOrder.objects.get()
    assert r["Location"] == f"/workorders/{o.pk}/submitted/"
    assert (o.category.code, o.owner_id, o.channel, o.grid.name) == ("010101", world.c.zhang.pk, "web", "A1湾组")

    receipt = html(client.get(r["Location"]))
    assert f"data-tracking-code>{o.tracking_code}<" in receipt

    # A double click or a resent form: the same key finds the same order.
    again = client.post(NEW, form)
    assert again.status_code == 302 and again["Location"] == r["Location"]
    assert WorkOrder.objects.count() == 1
    # A fresh form has a fresh key.
    assert key_of(html(client.get(NEW, {"kind": "complaint", "cat": "0101"}))) != key


def test_submit_with_a_photo_and_the_photo_is_only_for_those_who_see_the_order(world, client_as):
    client = client_as(world.c.u_zhang)
    form = {"kind": "help", "cat": "0101", "text": "路面塌陷", "key": "k-photo-1", "photo": png()}
    r = client.post(NEW, form)
    assert r.status_code == 302, html(r)
    o = WorkOrder.objects.get()
    p = Photo.objects.get(order=o)
    page = html(client.get(f"/workorders/{o.pk}/"))
    url = f"/workorders/{o.pk}/photos/{p.pk}/"
    assert url in page
    assert client.get(url)["Content-Type"] == "image/jpeg"
    assert client_as(world.c.u_sun).get(url).status_code == 404
    assert client_as(None).get(url).status_code == 302  # to the login page


@pytest.mark.parametrize(
    ("change", "status"),
    [
        ({"text": "  "}, 422),
        ({"cat": "nosuch"}, 422),
        ({"sub": "020101"}, 422),  # not under the chosen category
        ({"lat": "north", "lng": "115.02"}, 422),
        ({"lat": "45.000000", "lng": "80.000000"}, 422),  # outside the county
        ({"photo": SimpleUploadedFile("notes.txt", b"not an image at all", content_type="image/jpeg")}, 422),
        ({"photo": SimpleUploadedFile("big.jpg", b"\xff" * (9 * 1024 * 1024), content_type="image/jpeg")}, 413),
        ({"kind": "lottery"}, 422),
    ],
)
def test_bad_input_is_a_message_on_the_page_and_nothing_is_created(world, client_as, change, status):
    form = {"kind": "complaint", "cat": "0101", "text": "村口路灯坏了", "key": "k-bad-1"}
    form.update(change)
    r = client_as(world.c.u_zhang).post(NEW, form)
    assert r.status_code == status
    page = html(r)
    assert 'role="alert"' in page
    if not {"text", "cat", "kind"} & change.keys():
        assert "村口路灯坏了" in page  # what she typed is kept
    assert WorkOrder.objects.count() == 0
    assert Photo.objects.count() == 0


def test_similar_open_orders_nearby_show_category_and_distance_only(world, client_as):
    near = {"lat": "31.180100", "lng": "115.020200"}
    first = order(world, by=world.c.u_liu, text="刘家门口路灯不亮，电话13900002222", lat=Decimal(near["lat"]),
                  lng=Decimal(near["lng"]))  # fmt: skip
    client = client_as(world.c.u_zhang)
    r = client.post(NEW, {"kind": "complaint", "cat": "0101", "sub": "010101", "text": "路灯坏了", "key": "k2", **near})
    assert r.status_code == 302
    receipt = html(client.get(r["Location"]))
    assert "data-similar" in receipt and "路灯损坏" in receipt and " m" in receipt
    assert first.tracking_code not in receipt and "刘家" not in receipt and "13900002222" not in receipt
    # Staff see which order it is.
    mine = WorkOrder.objects.exclude(pk=first.pk).get()
    staff = html(client_as(world.c.u_zhao).get(f"/workorders/{mine.pk}/submitted/"))
    assert first.tracking_code in staff


def test_grid_worker_files_for_a_resident_found_by_name(world, client_as):
    li = client_as(world.c.u_li)
    page = html(li.get(NEW, {"kind": "help", "cat": "0302"}))
    assert 'name="channel"' in page and 'name="rq"' in page
    key = key_of(page)
    base = {"kind": "help", "cat": "0302", "text": "张阿姨行动不便，需要上门服务", "key": key, "channel": "patrol"}
    # Without JS the search button re-renders the form with the matches and keeps the text.
    found = li.post(NEW, {**base, "rq": "张阿", "find": "1"})
    assert found.status_code == 200 and WorkOrder.objects.count() == 0
    page = html(found)
    assert f'value="{world.c.zhang.pk}"' in page and "张阿姨行动不便" in page
    assert "孙大伯" not in page
    # The htmx picker answers a fragment.
    frag = html(li.get("/workorders/new/residents/", {"rq": "张"}, HTTP_HX_REQUEST="true"))
    assert "张阿姨" in frag and "<html" not in frag
    assert "孙大伯" not in html(li.get("/workorders/new/residents/", {"rq": "孙"}))

    r = li.post(NEW, {**base, "owner": world.c.zhang.pk})
    assert r.status_code == 302
    o = WorkOrder.objects.get()
    assert (o.owner_id, o.submitted_by_id, o.channel, o.grid_id) == (
        world.c.zhang.pk,
        world.c.u_li.pk,
        "patrol",
        world.c.a1.pk,
    )
    # She sees it among her appeals; someone outside the grid worker's area cannot be chosen.
    assert o.tracking_code in html(client_as(world.c.u_zhang).get("/workorders/mine/"))
    r = li.post(NEW, {**base, "key": "other", "owner": world.c.sun_resident.pk})
    assert r.status_code == 422 and WorkOrder.objects.count() == 1
    # A resident gets no picker.
    assert 'name="rq"' not in html(client_as(world.c.u_zhang).get(NEW, {"kind": "help", "cat": "0302"}))


def test_party_member_files_for_himself_or_for_a_linked_household(world, client_as):
    liu = client_as(world.c.u_liu)
    page = html(liu.get(NEW, {"kind": "help", "cat": "0302"}))
    assert re.search(r'name="owner" value="me" checked', page)  # himself by default
    base = {"kind": "help", "cat": "0302", "channel": "party"}
    r = liu.post(NEW, {**base, "owner": "me", "text": "我家门口积水", "key": "liu-1"})
    assert r.status_code == 302
    own = WorkOrder.objects.get()
    assert (own.owner_id, own.channel) == (world.c.liu.pk, "web")
    r = liu.post(NEW, {**base, "owner": str(world.c.chen.pk), "text": "陈大爷需要代购药品", "key": "liu-2"})
    assert r.status_code == 302
    relayed = WorkOrder.objects.exclude(pk=own.pk).get()
    assert (relayed.owner_id, relayed.channel, relayed.grid_id) == (world.c.chen.pk, "party", world.c.a2.pk)
    # 黄婶 lives in another village, not linked to him.
    r = liu.post(NEW, {**base, "owner": str(world.c.huang.pk), "text": "代办", "key": "liu-3"})
    assert r.status_code == 422 and WorkOrder.objects.count() == 2


def test_service_order_from_the_catalogue_asks_the_item_fields(world, client_as):
    client = client_as(world.c.u_zhang)
    page = html(client.get(NEW, {"item": "S001"}))
    assert 'name="f_disability_kind"' in page and "肢体" in page and 'name="item" value="S001"' in page
    key = key_of(page)
    missing = client.post(NEW, {"item": "S001", "text": "请帮我代办残疾证", "key": key})
    assert missing.status_code == 422 and "残疾类别" in html(missing)
    assert WorkOrder.objects.count() == 0
    r = client.post(NEW, {"item": "S001", "text": "请帮我代办残疾证", "key": key, "f_disability_kind": "肢体"})
    assert r.status_code == 302
    o = WorkOrder.objects.get()
    assert (o.kind, o.item.code, o.form_data) == ("service", "S001", {"disability_kind": "肢体"})
    assert "肢体" in html(client.get(f"/workorders/{o.pk}/"))
    assert client.get(NEW, {"item": "NOPE"}).status_code == 200  # a message and the first step


# --- resident: my appeals, rating, withdrawing ----------------------------------------------------------


def test_rate_form_only_when_resolved_and_a_bad_rating_reopens(world, client_as):
    o = order(world)
    client = client_as(world.c.u_zhang)
    url = f"/workorders/{o.pk}/"
    assert 'data-form="rate"' not in html(client.get(url))
    resolved(world, o)
    page = html(client.get(url))
    assert 'data-form="rate"' in page and "已更换灯泡" in page
    assert "冯科员" not in page  # residents see units, not clerks
    assert "data-rate" not in page
    mine = html(client.get("/workorders/mine/"))
    assert f"{url}#rate" in mine  # "please rate" next to it

    # A rating without a level is a message; nothing is recorded.
    r = client.post(f"{url}rate/", {"solved": "0"})
    assert r.status_code == 422 and Rating.objects.count() == 0 and state(o) == "resolved"
    r = client.post(f"{url}rate/", {"solved": "0", "satisfaction": "1", "comment": "灯还是不亮"})
    assert r.status_code == 302
    assert state(o) == "reopened" and Rating.objects.get().satisfaction == 1
    assert 'data-form="rate"' not in html(client.get(url))
    # Only the owner rates: the dispatcher's POST is refused in place.
    o2 = order(world, text="另一盏路灯")
    resolved(world, o2)
    r = client_as(world.c.u_zhao).post(f"/workorders/{o2.pk}/rate/", {"solved": "1", "satisfaction": "5"})
    assert r.status_code == 403 and state(o2) == "resolved"


def test_resident_withdraws_while_submitted_only(world, client_as):
    o = order(world)
    client = client_as(world.c.u_zhang)
    assert 'data-form="cancel"' in html(client.get(f"/workorders/{o.pk}/"))
    assert client.post(f"/workorders/{o.pk}/cancel/", {"reason": "已自行解决"}).status_code == 302
    assert state(o) == "cancelled"
    r = client.post(f"/workorders/{o.pk}/cancel/", {})
    assert r.status_code == 409 and 'role="alert"' in html(r)


# --- public tracking ------------------------------------------------------------------------------------


def test_public_tracking_shows_progress_without_personal_data(world, client_as):
    o = order(world, text="我是张阿姨，电话13800001234，路灯坏了")
    resolved(world, o)
    anon = client_as(None)
    assert anon.get("/track/").status_code == 200
    r = anon.get("/track/", {"code": o.tracking_code.lower()})
    assert r.status_code == 302 and r["Location"] == f"/track/{o.tracking_code}/"
    page = html(anon.get(r["Location"]))
    assert o.tracking_code in page and "路灯损坏" in page
    # The reply is the resident's own: shown to her, logged in, not to the public (test_edges_track).
    assert "已更换灯泡，恢复照明" not in page
    assert "已更换灯泡，恢复照明" in html(client_as(world.c.u_zhang).get(r["Location"]))
    assert 'data-state="resolved"' in page
    for secret in ("张阿姨", "13800001234", "1234", "冯科员", "赵调度", "村口"):
        assert secret not in page
    missing = anon.get("/track/NOSUCHCODE/")
    assert missing.status_code == 404 and 'role="alert"' in html(missing)


# --- the dispatcher console --------------------------------------------------------------------------------


@pytest.fixture
def queue(world):
    """Four orders: two streetlights (one by hotline), a neighbour dispute, and one dispatched and overdue."""
    a = order(world, text="路灯一")
    b = order(world, text="路灯二", channel="hotline", by=world.c.u_zhao, owner=world.c.zhang)
    c = order(world, category=world.dispute, text="邻里纠纷")
    d = dispatched(world, order(world, text="路灯三"))
    WorkOrder.objects.filter(pk=d.pk).update(overdue=True)
    return {"a": a, "b": b, "c": c, "d": d}


def rows(page: str) -> set[int]:
    return {int(x) for x in re.findall(r'<tr data-order="(\d+)"', page)}


def test_console_lists_with_time_colours_and_filters(world, client_as, queue):
    zhao = client_as(world.c.u_zhao)
    page = html(zhao.get("/workorders/console/"))  # the "to dispatch" tab by default
    assert rows(page) == {queue["a"].pk, queue["b"].pk, queue["c"].pk}
    assert 'class="tc tc-grey"' in page
    every = html(zhao.get("/workorders/console/", {"queue": "all"}))
    assert rows(every) == {o.pk for o in queue.values()}
    assert 'data-colour="red"' in every and "tc-red" in every
    assert "住建局" in every  # the suggested unit
    by = lambda **q: rows(html(zhao.get("/workorders/console/", {"queue": "all", **q})))  # noqa: E731
    assert by(state="dispatched") == {queue["d"].pk}
    assert by(category="0501") == {queue["c"].pk}
    assert by(category="01") == {queue["a"].pk, queue["b"].pk, queue["d"].pk}
    assert by(overdue="1") == {queue["d"].pk}
    assert by(channel="hotline") == {queue["b"].pk}
    assert by(department=str(world.housing.pk)) == {queue["d"].pk}
    assert by(q=queue["c"].tracking_code) == {queue["c"].pk}
    assert rows(html(zhao.get("/workorders/console/", {"queue": "inhand"}))) == {queue["d"].pk}
    # Bad filters are messages, not errors.
    for bad in ({"state": "x"}, {"category": "zz"}, {"department": "abc"}, {"overdue": "maybe"}, {"older": "x"}):
        r = zhao.get("/workorders/console/", bad)
        assert r.status_code == 200 and 'role="alert"' in html(r)


@pytest.mark.parametrize("walk", [False, True], ids=["through the category index", "walking the ids"])
def test_category_filter_lists_the_same_orders_whichever_way_it_reads(world, client_as, queue, monkeypatch, walk):
    """A common category is read by walking the ids newest first on SQLite (selectors._category_filter);
    the page, its order and its count are those of the plain filter."""
    from workorders import selectors

    # Walk whenever one order matches (cap 1), or never (a cap no table reaches).
    monkeypatch.setattr(selectors, "WALK_MIN", 1 if walk else 10**9)
    monkeypatch.setattr(selectors, "WALK_SHARE", 10**9)
    zhao = client_as(world.c.u_zhao)
    with CaptureQueriesContext(connection) as seen:
        api = zhao.get("/api/v1/workorders", {"category": "01"}).json()
    assert [o["id"] for o in api["items"]] == [queue[k].pk for k in ("d", "b", "a")]
    assert api["count"] == 3
    walked = any('"category_id" + 0)' in q["sql"] for q in seen.captured_queries)
    assert walked == (walk and connection.vendor == "sqlite")
    page = html(zhao.get("/workorders/console/", {"queue": "all", "category": "01"}))
    assert re.findall(r'<tr data-order="(\d+)"', page) == [str(queue[k].pk) for k in ("d", "b", "a")]
    assert rows(html(zhao.get("/workorders/console/", {"queue": "all", "category": "0501"}))) == {queue["c"].pk}
    # The walk changes how the orders are read, not whose: someone outside the area still sees none.
    outsider = client_as(world.c.u_liu).get("/api/v1/workorders", {"category": "01"}).json()
    assert (outsider["count"], outsider["items"]) == (0, [])


def test_console_pages_by_id_without_counting(world, client_as, queue, monkeypatch):
    from workorders.views import common

    monkeypatch.setattr(common, "PAGE_SIZE", 2)
    zhao = client_as(world.c.u_zhao)
    first = html(zhao.get("/workorders/console/", {"queue": "all"}))
    assert rows(first) == {queue["d"].pk, queue["c"].pk}
    older = re.search(r'href="(\?[^"]*older=\d+)"', first).group(1).replace("&amp;", "&")
    second = html(zhao.get("/workorders/console/" + older))
    assert rows(second) == {queue["b"].pk, queue["a"].pk}
    assert 'rel="next"' not in second and 'rel="prev"' in second
    newer = re.search(r'href="(\?[^"]*newer=\d+)"', second).group(1).replace("&amp;", "&")
    assert rows(html(zhao.get("/workorders/console/" + newer))) == {queue["d"].pk, queue["c"].pk}


def test_console_htmx_request_gets_the_fragment_only(world, client_as, queue):
    r = client_as(world.c.u_zhao).get("/workorders/console/", {"channel": "hotline"}, HTTP_HX_REQUEST="true")
    page = html(r)
    assert "<html" not in page and "<table" in page
    assert rows(page) == {queue["b"].pk}
    assert "HX-Request" in r["Vary"]
    full = html(client_as(world.c.u_zhao).get("/workorders/console/"))
    assert "<html" in full and 'hx-get="/workorders/console/"' in full


def test_console_query_count_does_not_grow_with_the_rows(world, client_as, django_assert_max_num_queries):
    zhao = client_as(world.c.u_zhao)
    for i in range(3):
        dispatched(world, order(world, text=f"路灯{i}"))
    zhao.get("/workorders/console/", {"queue": "all"})
    with CaptureQueriesContext(connection) as few:
        zhao.get("/workorders/console/", {"queue": "all"})
    # session, user, scope (roles, own resident, roots), departments, the page of orders, categories, nav roles
    assert len(few) <= 10
    for i in range(12):
        o = order(world, category=world.dispute if i % 2 else world.outage, text=f"更多{i}")
        if i % 3 == 0:
            dispatched(world, o)
    with django_assert_max_num_queries(len(few)):
        page = html(zhao.get("/workorders/console/", {"queue": "all"}))
    assert len(rows(page)) == 15


def test_bulk_dispatch_to_suggested_units_and_to_a_chosen_department(world, client_as, queue):
    zhao = client_as(world.c.u_zhao)
    r = zhao.post(
        "/workorders/console/dispatch/",
        {"ids": [queue["a"].pk, queue["c"].pk], "mode": "suggested", "next": "/workorders/console/?queue=all"},
    )
    assert r.status_code == 302 and r["Location"] == "/workorders/console/?queue=all"
    queue["a"].refresh_from_db()
    queue["c"].refresh_from_db()
    assert (queue["a"].state, queue["a"].department_id) == ("dispatched", world.housing.pk)
    assert (queue["c"].state, queue["c"].unit_node_id) == ("dispatched", world.c.v1.pk)  # 矛盾纠纷→村
    r = zhao.post(
        "/workorders/console/dispatch/",
        {"ids": [queue["b"].pk], "mode": "chosen", "to": f"d:{world.c.civil_affairs.pk}"},
        HTTP_HX_REQUEST="true",
        follow=True,
    )
    queue["b"].refresh_from_db()
    assert (queue["b"].state, queue["b"].department_id) == ("dispatched", world.c.civil_affairs.pk)
    assert "<html" not in html(r)  # the htmx request got the refreshed fragment with the message
    assert 'class="msg success"' in html(r)
    # All or nothing: one order already dispatched spoils the batch, with a message.
    fresh = order(world, text="路灯四")
    r = zhao.post("/workorders/console/dispatch/", {"ids": [fresh.pk, queue["d"].pk], "mode": "suggested"}, follow=True)
    assert 'class="msg error"' in html(r) and state(fresh) == "submitted"
    # Someone else's order or none at all: 404, nothing moves.
    assert zhao.post("/workorders/console/dispatch/", {"ids": [fresh.pk, 999999]}).status_code == 404
    assert state(fresh) == "submitted"
    assert client_as(world.c.u_sun).post("/workorders/console/dispatch/", {"ids": [fresh.pk]}).status_code == 403
    assert client_as(world.c.u_qian).post("/workorders/console/dispatch/", {"ids": [fresh.pk]}).status_code == 403
    assert state(fresh) == "submitted"


def test_residents_and_handlers_do_not_get_the_console(world, client_as):
    zhang = client_as(world.c.u_zhang)
    for url in ("/workorders/console/", "/workorders/queue/", "/workorders/callbacks/"):
        assert zhang.get(url).status_code == 403
    assert client_as(world.u_feng).get("/workorders/console/").status_code == 403
    assert client_as(world.c.u_qian).get("/workorders/console/").status_code == 200  # leaders watch
    nav = html(zhang.get("/"))
    assert 'href="/workorders/new/"' in nav and 'href="/workorders/mine/"' in nav
    assert 'href="/workorders/console/"' not in nav and 'href="/workorders/queue/"' not in nav
    staff = html(client_as(world.c.u_zhao).get("/"))
    assert staff.count('href="/workorders/console/"') == 2  # the top bar and the home page's work links
    assert 'href="/workorders/callbacks/"' in staff
    assert 'href="/workorders/queue/"' in html(client_as(world.u_feng).get("/"))


# --- handlers -------------------------------------------------------------------------------------------


def test_department_clerk_signs_for_and_resolves_through_the_pages(world, client_as, queue):
    d = queue["d"]
    feng = client_as(world.u_feng)
    listing = html(feng.get("/workorders/queue/"))
    assert rows(listing) == {d.pk}
    url = f"/workorders/{d.pk}/"
    page = html(feng.get(url))
    assert 'data-form="accept"' in page and 'data-form="resolve"' not in page
    assert "138****1234" in page and "13800001234" not in page  # departments see masked numbers
    due = timezone.localtime(d.due_at)
    if (due.hour, due.minute) == (0, 0):  # a working-day limit ends at 24:00 of its last day
        assert f"{due - dt.timedelta(days=1):%Y-%m-%d} 24:00" in page

    r = feng.post(f"{url}accept/")
    assert r.status_code == 302 and r["Location"] == url
    assert state(d) == "accepted"
    assert 'class="msg success"' in html(feng.get(url))
    # An empty reply is a message; the order stays as it was.
    r = feng.post(f"{url}resolve/", {"reply": " "})
    assert r.status_code == 422 and 'role="alert"' in html(r) and state(d) == "accepted"
    r = feng.post(f"{url}resolve/", {"reply": "已更换灯泡", "photo": png()})
    assert r.status_code == 302 and state(d) == "resolved"
    assert Photo.objects.get(order=d).stage == "result"
    assert d.pk not in rows(html(feng.get("/workorders/queue/")))


def test_second_clerk_is_told_someone_changed_the_order(world, client_as, queue):
    d = queue["d"]
    assert client_as(world.u_feng).post(f"/workorders/{d.pk}/accept/").status_code == 302
    r = client_as(world.u_ma).post(f"/workorders/{d.pk}/accept/")
    assert r.status_code == 409
    assert 'role="alert"' in html(r) and 'data-state="accepted"' in html(r)


def test_step_by_htmx_returns_the_order_fragment(world, client_as, queue):
    d = queue["d"]
    r = client_as(world.u_feng).post(f"/workorders/{d.pk}/accept/", HTTP_HX_REQUEST="true")
    assert r.status_code == 200
    page = html(r)
    assert "<html" not in page and 'data-state="accepted"' in page and 'class="msg success"' in page
    r = client_as(world.u_feng).post(f"/workorders/{d.pk}/resolve/", {"reply": ""}, HTTP_HX_REQUEST="true")
    assert r.status_code == 422 and "<html" not in html(r) and 'role="alert"' in html(r)


def test_grid_worker_sees_open_work_in_the_grid(world, client_as, queue):
    li = client_as(world.c.u_li)
    page = html(li.get("/workorders/queue/", {"tab": "area"}))
    assert rows(page) == {o.pk for o in queue.values()}  # all located in A1
    assert rows(html(li.get("/workorders/queue/"))) == set()  # nothing handed to the grid itself
    assert rows(html(client_as(world.c.u_sun).get("/workorders/queue/", {"tab": "area"}))) == set()


def test_dispatcher_dispatches_and_handles_extension_through_the_order_page(world, client_as, queue):
    zhao = client_as(world.c.u_zhao)
    a = queue["a"]
    url = f"/workorders/{a.pk}/"
    page = html(zhao.get(url))
    assert 'data-form="dispatch"' in page and f'value="d:{world.housing.pk}" selected' in page
    assert "13800001234" in page  # the dispatcher calls residents back: whole, and logged
    assert PersonalDataAccess.objects.filter(user=world.c.u_zhao, field="phone", channel="page").exists()
    r = zhao.post(f"{url}dispatch/", {"to": "d:999999"})
    assert r.status_code == 422 and state(a) == "submitted"
    r = zhao.post(f"{url}dispatch/", {"to": f"d:{world.housing.pk}", "assist": [f"d:{world.c.civil_affairs.pk}"]})
    assert r.status_code == 302 and state(a) == "dispatched"

    feng = client_as(world.u_feng)
    feng.post(f"{url}accept/")
    r = feng.post(f"{url}extension_request/", {"days": "3", "reason": "需要采购配件"})
    assert r.status_code == 302
    a.refresh_from_db()
    due = a.due_at
    page = html(zhao.get(url))
    assert 'data-form="extension_decide"' in page and "需要采购配件" in page
    ext = a.extensions.get()
    assert zhao.post(f"{url}extension_decide/", {"extension": ext.pk, "approve": "1"}).status_code == 302
    a.refresh_from_db()
    assert a.due_at > due
    assert zhao.post(f"{url}supervise/", {"level": "urge", "note": "请加快"}).status_code == 302
    assert Event.objects.filter(order=a, action="urge").exists()


def test_duplicate_callback_and_note_through_the_order_page(world, client_as, queue):
    zhao = client_as(world.c.u_zhao)
    a, b = queue["a"], queue["b"]
    r = zhao.post(f"/workorders/{b.pk}/mark_duplicate/", {"primary": "NOSUCH"})
    assert r.status_code == 422 and state(b) == "submitted"
    assert zhao.post(f"/workorders/{b.pk}/mark_duplicate/", {"primary": a.tracking_code.lower()}).status_code == 302
    assert state(b) == "duplicate"

    resolved(world, a)
    client_as(world.c.u_zhang).post(f"/workorders/{a.pk}/rate/", {"solved": "0", "satisfaction": "2"})
    assert state(a) == "reopened"
    resolved(world, a, reply="重新修好")
    assert a.pk in rows(html(zhao.get("/workorders/callbacks/")))
    assert 'data-form="callback"' in html(zhao.get(f"/workorders/{a.pk}/"))
    r = zhao.post(f"/workorders/{a.pk}/callback/", {"kind": "callback", "reached": "1"})
    assert r.status_code == 422 and state(a) == "resolved"  # whether it is solved must be said
    r = zhao.post(f"/workorders/{a.pk}/callback/", {"kind": "callback", "reached": "1", "solved": "1"})
    assert r.status_code == 302 and state(a) == "closed" and state(b) == "closed"
    assert a.pk not in rows(html(zhao.get("/workorders/callbacks/")))
    assert zhao.post(f"/workorders/{a.pk}/note/", {"note": "已电话确认", "public": "1"}).status_code == 302
    assert "已电话确认" in html(client_as(world.c.u_zhang).get(f"/workorders/{a.pk}/"))


# --- outsiders ------------------------------------------------------------------------------------------


STEP_NAMES = [
    "dispatch", "reassign", "transfer", "accept", "return", "start", "suspend", "resume", "resolve", "answer",
    "rate", "callback", "reopen", "rule_unreasonable", "close", "mark_duplicate", "cancel", "extension_request",
    "extension_decide", "supervise", "note", "photo",
]  # fmt: skip


def test_outsider_gets_404_on_the_order_and_every_step_and_nothing_changes(world, client_as, queue):
    sun = client_as(world.c.u_sun)
    for o in queue.values():
        assert sun.get(f"/workorders/{o.pk}/").status_code == 404
        assert sun.get(f"/workorders/{o.pk}/submitted/").status_code == 404
    before = [(o.pk, state(o)) for o in queue.values()]
    events = Event.objects.count()
    form = {"to": f"d:{world.housing.pk}", "reason": "x", "reply": "xx", "note": "x", "solved": "1",
            "satisfaction": "5", "reached": "1", "level": "urge", "days": "2", "primary": "x"}  # fmt: skip
    for name in STEP_NAMES:
        for o in queue.values():
            r = sun.post(f"/workorders/{o.pk}/{name}/", form)
            assert r.status_code == 404, (name, r.status_code)
    assert [(o.pk, state(o)) for o in queue.values()] == before
    assert Event.objects.count() == events
    assert client_as(world.c.u_zhao).post(f"/workorders/{queue['a'].pk}/nosuchstep/").status_code == 404
    assert client_as(world.c.u_zhao).get(f"/workorders/{queue['a'].pk}/accept/").status_code == 405


def test_in_scope_but_not_allowed_is_a_message(world, client_as, queue):
    # The leader sees the order but does not dispatch: 403 on the page, nothing moves.
    r = client_as(world.c.u_qian).post(f"/workorders/{queue['a'].pk}/dispatch/", {"to": f"d:{world.housing.pk}"})
    assert r.status_code == 403 and 'role="alert"' in html(r)
    assert state(queue["a"]) == "submitted"
    page = html(client_as(world.c.u_qian).get(f"/workorders/{queue['a'].pk}/"))
    assert "138****1234" in page and 'data-form="dispatch"' not in page


def test_her_own_number_on_her_appeal_is_masked_until_she_taps(world, client_as):
    """长辈版 point 6: the resident's own phone on her appeal's page shows masked until she asks; the
    dispatcher still reads it whole (his role needs it to call back), and only his read is logged."""
    from core.masking import mask_phone
    from workorders.tests.helpers import submit

    order = submit(world)
    phone = order.contact_phone
    assert phone
    me = client_as(world.c.u_zhang)
    page = me.get(f"/workorders/{order.pk}/").content.decode()
    assert phone not in page and mask_phone(phone) in page
    assert "?show=numbers#reporter" in page
    shown = me.get(f"/workorders/{order.pk}/?show=numbers")
    assert phone in shown.content.decode() and shown["Cache-Control"] == "no-store"
    assert PersonalDataAccess.objects.count() == 0  # her own number
    staff = client_as(world.c.u_zhao).get(f"/workorders/{order.pk}/").content.decode()
    assert phone in staff and "?show=numbers" not in staff


def test_the_numbers_toggle_on_a_re_rendered_appeal_links_to_the_appeal(world, client_as):
    """A rejected step re-renders the appeal at its step's URL (POST only): the toggle still links to the appeal."""
    from workorders.tests.helpers import submit

    o = submit(world)
    r = client_as(world.c.u_zhang).post(f"/workorders/{o.pk}/rate/", {"solved": "1", "satisfaction": "5"})  # not yet
    assert r.status_code in (409, 422)
    page = r.content.decode()
    assert f'href="/workorders/{o.pk}/?show=numbers#reporter"' in page
    assert "/rate/?show=numbers" not in page


def test_a_draft_is_kept_for_a_resident_under_the_steps_own_address_not_for_staff(world, client_as):
    """The draft's address names the kind and category (after a rejected send it would otherwise be the bare
    submit page, and never restored); staff filing for callers keep none (one caller's words in another's form)."""
    url = "/workorders/new/?kind=complaint&cat=010101"
    page = client_as(world.c.u_zhang).get(url).content.decode()
    assert f'data-draft="{world.c.u_zhang.pk}"' in page
    assert 'data-draft-url="/workorders/new/?kind=complaint&amp;cat=010101"' in page
    rejected = client_as(world.c.u_zhang).post(
        "/workorders/new/", {"kind": "complaint", "cat": "010101", "key": "k-draft-1", "text": ""}
    )
    assert 'data-draft-url="/workorders/new/?kind=complaint&amp;cat=010101"' in rejected.content.decode()
    staff = client_as(world.c.u_li).get(url).content.decode()
    assert "data-draft=" not in staff
