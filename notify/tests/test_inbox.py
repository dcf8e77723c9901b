"""The in-site inbox: the page, the API and the header's unread count. Each user sees and marks only their
own messages; someone else's message is missing (404) and stays as it was."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.template.loader import render_to_string
from django.test import RequestFactory

from core.clock import SHANGHAI
from notify import services
from notify.models import Message

pytestmark = pytest.mark.django_db

T0 = dt.datetime(2026, 11, 2, 9, 0, tzinfo=SHANGHAI)
API = "/api/v1/inbox"


def _msgs(user, n: int, *, link: str = "/workorders/1/", kind: str = "workorder.dispatched") -> list[Message]:
    return [services.message_queue(user=user, kind=kind, text=f"消息{i}", link=link) for i in range(n)]


def _unread(user) -> int:
    return Message.objects.filter(user=user, read_at__isnull=True).count()


# --- the page -------------------------------------------------------------------------------------------


def test_the_inbox_lists_my_messages_newest_first_unread_in_bold(county, client_as, at, django_assert_max_num_queries):
    at(T0)
    mine = _msgs(county.u_zhang, 25)
    other = services.message_queue(user=county.u_li, kind="t", text="别人的消息", link="/x/")
    services.inbox_mark_read(user=county.u_zhang, ids=[mine[24].pk])
    zhang = client_as(county.u_zhang)
    with django_assert_max_num_queries(8):
        r = zhang.get("/inbox/")
    assert r.status_code == 200
    html = r.content.decode()
    shown = [int(x) for x in re.findall(r'data-message="(\d+)"', html)]
    assert shown == [m.pk for m in reversed(mine)][:20]
    assert "别人的消息" not in html and other.pk not in shown
    # The newest was read: not bold; the next one is unread: bold.
    newest = re.search(rf'<li[^>]*data-message="{mine[24].pk}"[^>]*>.*?</li>', html, re.S).group(0)
    second = re.search(rf'<li[^>]*data-message="{mine[23].pk}"[^>]*>.*?</li>', html, re.S).group(0)
    assert "<strong" not in newest and "<strong" in second
    assert f'href="/inbox/{mine[23].pk}/"' in second
    # The next page: the five oldest.
    older = re.search(r'href="(\?older=\d+)"', html).group(1)
    r2 = zhang.get("/inbox/" + older)
    shown2 = [int(x) for x in re.findall(r'data-message="(\d+)"', r2.content.decode())]
    assert shown2 == [m.pk for m in reversed(mine[:5])]
    # Looking at the list marks nothing read.
    assert _unread(county.u_zhang) == 24


def test_an_empty_inbox_and_the_anonymous(county, client_as):
    r = client_as(county.u_zhang).get("/inbox/")
    assert r.status_code == 200 and "data-message" not in r.content.decode()
    r = client_as(None).get("/inbox/")
    assert r.status_code == 302 and "/accounts/login" in r["Location"]


def test_opening_a_message_marks_it_read_and_goes_to_its_order(county, client_as, at):
    at(T0)
    (m,) = _msgs(county.u_zhao, 1, link="/workorders/42/")
    r = client_as(county.u_zhao).get(f"/inbox/{m.pk}/")
    assert r.status_code == 302 and r["Location"] == "/workorders/42/"
    m.refresh_from_db()
    assert m.read_at == T0
    # Opened again: still goes there, the first reading time stays.
    at(T0 + dt.timedelta(hours=1))
    r = client_as(county.u_zhao).get(f"/inbox/{m.pk}/")
    assert r["Location"] == "/workorders/42/"
    m.refresh_from_db()
    assert m.read_at == T0


def test_someone_elses_message_is_missing_and_untouched(county, client_as):
    (m,) = _msgs(county.u_li, 1)
    zhang = client_as(county.u_zhang)
    assert zhang.get(f"/inbox/{m.pk}/").status_code == 404
    assert zhang.get("/inbox/999999/").status_code == 404
    m.refresh_from_db()
    assert m.read_at is None


@pytest.mark.parametrize(
    "link",
    ["", "//evil.example/x", "https://evil.example/", "/\\evil.example", "javascript:alert(1)", "http:/x", " /x"],
)
def test_a_link_that_is_not_one_of_ours_goes_back_to_the_inbox(county, client_as, link):
    m = services.message_queue(user=county.u_zhang, kind="t", text="x", link=link)
    r = client_as(county.u_zhang).get(f"/inbox/{m.pk}/")
    assert r.status_code == 302 and r["Location"] == "/inbox/"
    m.refresh_from_db()
    assert m.read_at is not None


def test_mark_all_read(county, client_as):
    _msgs(county.u_zhang, 3)
    _msgs(county.u_li, 2)
    zhang = client_as(county.u_zhang)
    assert zhang.get("/inbox/read-all/").status_code == 405
    assert _unread(county.u_zhang) == 3
    r = zhang.post("/inbox/read-all/")
    assert r.status_code == 302 and r["Location"] == "/inbox/"
    assert _unread(county.u_zhang) == 0
    assert _unread(county.u_li) == 2
    assert client_as(None).post("/inbox/read-all/").status_code == 302
    assert _unread(county.u_li) == 2


# --- the header's count ---------------------------------------------------------------------------------


def _bell(user) -> str:
    request = RequestFactory().get("/")
    request.user = user
    return render_to_string("notify/_bell.html", request=request)


def test_the_bell_shows_the_unread_count_with_one_query(county, django_assert_num_queries):
    _msgs(county.u_zhang, 3)
    _msgs(county.u_li, 1)
    request = RequestFactory().get("/")
    request.user = county.u_zhang
    with django_assert_num_queries(1):
        html = render_to_string("notify/_bell.html", request=request)
        # A second template of the same request asks again: answered from the first.
        render_to_string("notify/_bell.html", request=request)
    assert 'href="/inbox/"' in html and "data-unread" in html
    assert re.search(r"data-unread[^>]*>\s*3\s*<", html)
    services.inbox_mark_read(user=county.u_zhang)
    html = _bell(county.u_zhang)
    assert 'href="/inbox/"' in html and "data-unread" not in html


def test_the_bell_costs_nothing_for_the_anonymous(county, django_assert_num_queries):
    from django.contrib.auth.models import AnonymousUser

    with django_assert_num_queries(0):
        assert _bell(AnonymousUser()).strip() == ""


def test_the_unread_count_is_counted_on_its_own_index(county):
    from django.db import connection

    with connection.cursor() as cur:
        sql, params = (
            Message.objects.filter(user=county.u_zhang, read_at__isnull=True).values("id").query.sql_with_params()
        )
        if connection.vendor == "sqlite":
            cur.execute("EXPLAIN QUERY PLAN " + sql, params)
            plan = " ".join(str(row) for row in cur.fetchall())
            assert "message_unread" in plan, plan


# --- the API --------------------------------------------------------------------------------------------


def test_api_lists_only_my_messages_newest_first(county, client_as, at):
    at(T0)
    mine = _msgs(county.u_zhang, 3)
    _msgs(county.u_li, 2)
    r = client_as(county.u_zhang).get(f"{API}?page_size=2")
    assert r.status_code == 200
    body = r.json()
    assert (body["count"], body["pages"], body["page"]) == (3, 2, 1)
    assert [x["id"] for x in body["items"]] == [mine[2].pk, mine[1].pk]
    item = body["items"][0]
    assert item["text"] == "消息2" and item["link"] == "/workorders/1/" and item["read_at"] is None
    assert item["kind"] == "workorder.dispatched" and item["channel"] == "site"
    assert "phone" not in item
    r = client_as(county.u_zhang).get(f"{API}?page=2&page_size=2")
    assert [x["id"] for x in r.json()["items"]] == [mine[0].pk]
    assert client_as(county.u_zhang).get(f"{API}?page_size=0").status_code == 422


def test_api_unread_count_read_one_and_read_all(county, client_as, at):
    at(T0)
    mine = _msgs(county.u_zhang, 3)
    (other,) = _msgs(county.u_li, 1)
    zhang = client_as(county.u_zhang)
    assert zhang.get(f"{API}/unread-count").json() == {"unread": 3}
    r = zhang.post(f"{API}/{mine[0].pk}/read", content_type="application/json")
    assert r.status_code == 200 and r.json()["id"] == mine[0].pk and r.json()["read_at"] is not None
    assert zhang.get(f"{API}/unread-count").json() == {"unread": 2}
    # Read again: the same answer, nothing more changes.
    r = zhang.post(f"{API}/{mine[0].pk}/read", content_type="application/json")
    assert r.status_code == 200
    assert zhang.get(f"{API}/unread-count").json() == {"unread": 2}
    # Someone else's, or none at all: missing, and unchanged.
    for mid in (other.pk, 999999):
        r = zhang.post(f"{API}/{mid}/read", content_type="application/json")
        assert r.status_code == 404 and r.json()["error"]["code"] == "not_found"
    other.refresh_from_db()
    assert other.read_at is None
    r = zhang.post(f"{API}/read-all", content_type="application/json")
    assert r.status_code == 200 and r.json() == {"marked": 2}
    assert zhang.get(f"{API}/unread-count").json() == {"unread": 0}
    assert client_as(county.u_li).get(f"{API}/unread-count").json() == {"unread": 1}


def test_api_needs_a_login(county, client_as):
    (m,) = _msgs(county.u_zhang, 1)
    anon = client_as(None)
    for r in (
        anon.get(API),
        anon.get(f"{API}/unread-count"),
        anon.post(f"{API}/{m.pk}/read", content_type="application/json"),
        anon.post(f"{API}/read-all", content_type="application/json"),
    ):
        assert r.status_code == 401 and r.json()["error"]["code"] == "auth.required"
    m.refresh_from_db()
    assert m.read_at is None
