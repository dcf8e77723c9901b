"""Keyset (cursor) pagination and capped counts in core.schemas.paginate, end to end on the work-order list
and as a function on querysets: a walk by cursor gives the rows of the numbered pages, each once, whatever
is added meanwhile; a bad cursor is a 422 on `cursor` and nothing else happens; a cursor never widens a
user's scope."""

from __future__ import annotations

import base64
import datetime as dt
import json
from typing import Any

import pytest
from django.db.models import Count, F
from django.utils import translation

from core.errors import ValidationFailed
from core.schemas import (
    CURSOR_INVALID,
    CURSOR_MAX,
    CURSOR_ONLY_BY_NUMBER,
    CURSOR_OTHER_LIST,
    CURSOR_WITH_PAGE,
    PageParams,
    keyset_of,
    paginate,
)
from notify import services as notify_services
from notify.models import Message
from workorders import services
from workorders.models import WorkOrder
from workorders.tests.helpers import at, submit

pytestmark = pytest.mark.django_db

API = "/api/v1/workorders"
T0 = at("2026-03-02 09:00")


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _payload(cursor: str) -> dict[str, Any]:
    return json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))


def _cursor(payload: Any) -> str:
    return _b64(json.dumps(payload).encode())


def _walk(
    client, page_size: int = 2, cursor: str | None = None, **params: Any
) -> tuple[list[int], list[dict[str, Any]]]:
    """Every page of the list by cursor (from `cursor`, else the first page): the ids in the order met, and the
    pages' bodies."""
    ids: list[int] = []
    bodies: list[dict[str, Any]] = []
    query: dict[str, Any] = {"page_size": page_size, **params}
    if cursor is not None:
        query["cursor"] = cursor
    for _ in range(100):
        r = client.get(API, query)
        assert r.status_code == 200, r.content
        body = r.json()
        bodies.append(body)
        ids += [x["id"] for x in body["items"]]
        if body["next_cursor"] is None:
            return ids, bodies
        query = {"page_size": page_size, "cursor": body["next_cursor"], **params}
    raise AssertionError("the walk did not end")


def _by_number(client, page_size: int = 2, **params: Any) -> list[int]:
    first = client.get(API, {"page_size": page_size, **params}).json()
    ids = [x["id"] for x in first["items"]]
    for n in range(2, first["pages"] + 1):
        ids += [x["id"] for x in client.get(API, {"page_size": page_size, "page": n, **params}).json()["items"]]
    return ids


@pytest.fixture
def orders(world) -> list[WorkOrder]:
    """Nine orders: six of 张阿姨's in grid A1 (three pairs filed in the same second) and three in grid B1 filed
    by the dispatcher for a caller."""
    c = world.c
    made = [submit(world, text=f"村口第{i}盏路灯坏了三天", at=T0 + dt.timedelta(minutes=i // 2)) for i in range(6)]
    made += [
        services.workorder_submit(
            by=c.u_zhao, kind="help", category=world.dispute, text=f"邻里纠纷需要调解{i}", channel="hotline", grid=c.b1
        ).order
        for i in range(3)
    ]
    return made


def _error(r) -> tuple[int, dict[str, list[str]]]:
    body = r.json()
    return r.status_code, body["error"]["fields"]


# --- walking by cursor ---------------------------------------------------------------------------------


def test_walking_by_cursor_gives_the_numbered_pages_rows_each_once(world, orders, client_as):
    zhao = client_as(world.c.u_zhao)
    ids, bodies = _walk(zhao, page_size=2)
    assert sorted(ids) == sorted(o.pk for o in orders) and len(ids) == len(set(ids)) == 9
    assert ids == _by_number(zhao, page_size=2)  # the same rows in the same order as the numbered pages
    assert ids == sorted(ids, reverse=True)  # the list's order: newest first
    assert [len(b["items"]) for b in bodies] == [2, 2, 2, 2, 1]
    assert bodies[-1]["next_cursor"] is None
    assert all(b["next_cursor"] for b in bodies[:-1])
    # The count is of the whole list on every page, the page number 1 under a cursor.
    assert {(b["count"], b["count_exact"], b["pages"], b["page"]) for b in bodies} == {(9, True, 5, 1)}
    # A numbered page of a keyset list carries a cursor too: from page 2 on by cursor gives the same rows.
    second = zhao.get(API, {"page_size": 2, "page": 2}).json()
    after = zhao.get(API, {"page_size": 2, "cursor": second["next_cursor"]}).json()
    assert [x["id"] for x in after["items"]] == ids[4:6]
    # A full last page: no cursor pointing at an empty page.
    last = zhao.get(API, {"page_size": 3, "page": 3}).json()
    assert len(last["items"]) == 3 and last["next_cursor"] is None
    # An empty cursor is no cursor (a client passing back what it got from the last page's null).
    assert zhao.get(API, {"page_size": 2, "cursor": ""}).json()["items"] == bodies[0]["items"]


def test_filters_apply_under_a_cursor(world, orders, client_as):
    zhao = client_as(world.c.u_zhao)
    ids, _ = _walk(zhao, page_size=2, kind="help")
    assert ids == [o.pk for o in reversed(orders[6:])]


def test_a_row_added_while_walking_comes_at_most_once_and_none_is_skipped(world, orders, client_as):
    zhao = client_as(world.c.u_zhao)
    first = zhao.get(API, {"page_size": 2}).json()
    second = zhao.get(API, {"page_size": 2, "cursor": first["next_cursor"]}).json()
    seen = [x["id"] for x in first["items"] + second["items"]]
    newcomer = submit(world, text="又一盏路灯坏了")
    rest, _ = _walk(zhao, page_size=2, cursor=second["next_cursor"])
    ids = seen + rest
    assert len(ids) == len(set(ids))
    assert set(ids) - {newcomer.pk} == {o.pk for o in orders}
    assert ids.count(newcomer.pk) <= 1
    # By number, the same moment repeats a row: the newcomer pushed one from page 2 onto page 3.
    third = [x["id"] for x in zhao.get(API, {"page_size": 2, "page": 3}).json()["items"]]
    assert third[0] == seen[-1]


def test_a_cursor_does_not_widen_what_a_grid_worker_sees(world, orders, client_as):
    c = world.c
    li = client_as(c.u_li)  # 李网格, grid A1: 张阿姨's six, not B1's three
    ids, _ = _walk(li, page_size=2)
    assert ids == [o.pk for o in reversed(orders[:6])]
    # The dispatcher's cursor from the middle of the county's list, given to the grid worker: still only A1.
    zhao = client_as(c.u_zhao)
    cursor = zhao.get(API, {"page_size": 1}).json()["next_cursor"]  # after B1's newest order
    ids, _ = _walk(li, page_size=2, cursor=cursor)
    assert set(ids) <= {o.pk for o in orders[:6]} and ids
    # An edited cursor pointing past every id: nothing from outside.
    top = _payload(cursor)
    top["v"] = [10**9]
    r = li.get(API, {"page_size": 50, "cursor": _cursor(top)})
    assert r.status_code == 200
    assert {x["id"] for x in r.json()["items"]} == {o.pk for o in orders[:6]}
    # And a resident walking by cursor sees their own orders only.
    ids, _ = _walk(client_as(c.u_zhang), page_size=4)
    assert sorted(ids) == sorted(o.pk for o in orders[:6])


# --- bad cursors -----------------------------------------------------------------------------------------


@pytest.fixture
def good_cursor(world, orders, client_as) -> str:
    cursor = client_as(world.c.u_zhao).get(API, {"page_size": 2}).json()["next_cursor"]
    assert cursor
    return cursor


def _bad(good: str) -> dict[str, str]:
    tag = _payload(good)["o"]
    return {
        "garbage": "!!not a cursor!!",
        "bad base64": "abc",
        "not json": _b64(b"not json at all"),
        "not utf-8": _b64(b"\xff\xfe{}"),
        "a list": _cursor([tag, [1]]),
        "extra keys": _cursor({"o": tag, "v": [1], "x": 1}),
        "no values": _cursor({"o": tag, "v": []}),
        "two values": _cursor({"o": tag, "v": [5, 6]}),
        "text for a number": _cursor({"o": tag, "v": ["12"]}),
        "a boolean for a number": _cursor({"o": tag, "v": [True]}),
        "a float for a number": _cursor({"o": tag, "v": [1.5]}),
        "null": _cursor({"o": tag, "v": [None]}),
        "out of range": _cursor({"o": tag, "v": [2**70]}),
        "NaN": _b64(json.dumps({"o": tag, "v": [float("nan")]}).encode()),
        "unknown list": _cursor({"o": "0" * 12, "v": [1]}),
    }


def test_bad_cursors_are_422_on_the_cursor_field(world, good_cursor, client_as):
    zhao = client_as(world.c.u_zhao, lang="en")
    with translation.override("en"):
        invalid, other = str(CURSOR_INVALID), str(CURSOR_OTHER_LIST)
    assert invalid == "This cursor is not valid: pass back the next_cursor of a page of this list."
    for name, cursor in _bad(good_cursor).items():
        r = zhao.get(API, {"page_size": 2, "cursor": cursor})
        status, fields = _error(r)
        assert status == 422, name
        assert r.json()["error"]["code"] == "validation_error", name
        assert fields == {"cursor": [other if name == "unknown list" else invalid]}, name
    # Too long to be one: refused as any over-long field.
    status, fields = _error(zhao.get(API, {"cursor": "A" * (CURSOR_MAX + 1)}))
    assert status == 422 and list(fields) == ["cursor"]


def test_a_cursor_of_another_list_is_refused(world, good_cursor, client_as):
    c = world.c
    for i in range(3):
        notify_services.message_queue(user=c.u_zhao, kind="t", text=f"消息{i}", link="/x/")
    zhao = client_as(c.u_zhao, lang="en")
    inbox = zhao.get("/api/v1/inbox", {"page_size": 1}).json()
    assert inbox["next_cursor"]  # the inbox walks by cursor too (by -id, like the orders)…
    r = zhao.get(API, {"page_size": 2, "cursor": inbox["next_cursor"]})  # …but its cursor is not for orders
    assert _error(r) == (422, {"cursor": ["This cursor belongs to another list or another order of it."]})
    r = zhao.get("/api/v1/inbox", {"page_size": 2, "cursor": good_cursor})
    assert _error(r) == (422, {"cursor": ["This cursor belongs to another list or another order of it."]})


def test_cursor_and_a_page_number_together_are_refused(world, good_cursor, client_as):
    zhao = client_as(world.c.u_zhao, lang="en")
    r = zhao.get(API, {"page_size": 2, "page": 2, "cursor": good_cursor})
    assert _error(r) == (422, {"cursor": ["Use page or cursor, not both."]})
    with translation.override("en"):
        assert str(CURSOR_WITH_PAGE) == "Use page or cursor, not both."
    assert zhao.get(API, {"page_size": 2, "page": 1, "cursor": good_cursor}).status_code == 200


def test_a_list_paged_by_number_only_refuses_a_cursor(world, orders, client_as):
    c = world.c
    # My volunteer sign-ups are ordered by the activity's time (a related model's column); the notices by
    # their publishing time, which may be empty (nullable): both are paged by number only.
    zhang = client_as(c.u_zhang, lang="en")
    for url in ("/api/v1/volunteers/me/participations", "/api/v1/notices"):
        r = zhang.get(url, {"page_size": 2})
        assert r.status_code == 200 and r.json()["next_cursor"] is None, url
        r = zhang.get(url, {"page_size": 2, "cursor": "abc"})
        assert _error(r) == (422, {"cursor": ["This list is paged by number, not by cursor."]}), url
    with translation.override("en"):
        assert str(CURSOR_ONLY_BY_NUMBER) == "This list is paged by number, not by cursor."
    # As a function: ordered by an annotation, offset pages and no cursor.
    qs = WorkOrder.objects.annotate(n=F("id") * 2).order_by("-n")
    page = paginate(qs, PageParams(page_size=2))
    assert page["next_cursor"] is None and len(page["items"]) == 2
    with pytest.raises(ValidationFailed) as e:
        paginate(qs, PageParams(page_size=2, cursor="abc"))
    assert e.value.status == 422 and list(e.value.fields) == ["cursor"]


# --- counts -----------------------------------------------------------------------------------------------


def test_the_count_stops_at_the_cap(world, orders, client_as, settings, monkeypatch):
    zhao = client_as(world.c.u_zhao)
    # The work-order list passes its own cap (workorders.api.COUNT_CAP).
    monkeypatch.setattr("workorders.api.COUNT_CAP", 4)
    body = zhao.get(API, {"page_size": 2}).json()
    assert (body["count"], body["count_exact"], body["pages"]) == (4, False, 2)
    ids, bodies = _walk(zhao, page_size=2)  # the cursor walks on past the counted pages
    assert len(ids) == 9 and {(b["count"], b["count_exact"]) for b in bodies} == {(4, False)}
    # Lists without a cap of their own take settings.GONGZHI["API_COUNT_CAP"].
    settings.GONGZHI = {**settings.GONGZHI, "API_COUNT_CAP": 5}
    body = paginate(WorkOrder.objects.all(), PageParams(page_size=2))
    assert (body["count"], body["count_exact"]) == (5, False)
    body = paginate(WorkOrder.objects.filter(kind="help"), PageParams(page_size=2))
    assert (body["count"], body["count_exact"]) == (3, True)
    body = paginate(WorkOrder.objects.all(), PageParams(page_size=2), count_cap=20)  # an explicit cap wins
    assert (body["count"], body["count_exact"]) == (9, True)


# --- the function on querysets ----------------------------------------------------------------------------


def _walk_qs(qs, page_size: int) -> list[Any]:
    rows: list[Any] = []
    params = PageParams(page_size=page_size)
    for _ in range(100):
        page = paginate(qs, params)
        rows += page["items"]
        if page["next_cursor"] is None:
            return rows
        params = PageParams(page_size=page_size, cursor=page["next_cursor"])
    raise AssertionError("the walk did not end")


def _numbered(qs, page_size: int) -> list[Any]:
    first = paginate(qs, PageParams(page_size=page_size))
    rows = list(first["items"])
    for n in range(2, first["pages"] + 1):
        rows += paginate(qs, PageParams(page_size=page_size, page=n))["items"]
    return rows


@pytest.mark.parametrize(
    "ordering",
    [
        ("-created_at",),  # the pk tiebreak added, descending
        ("created_at",),  # … ascending
        ("kind", "-created_at"),  # mixed: ascending text, then descending time
        ("-kind", "created_at", "-id"),  # mixed, the pk given
        ("-round", "channel", "pk"),
    ],
)
def test_paginate_walks_mixed_orderings_like_the_numbered_pages(orders, ordering):
    qs = WorkOrder.objects.order_by(*ordering)
    expected = [o.pk for o in _numbered(qs, 2)]
    for size in (1, 2, 3, 4):
        walked = [o.pk for o in _walk_qs(qs, size)]
        assert walked == expected, size
    assert sorted(expected) == sorted(o.pk for o in orders)
    # The pages are in the queryset's own order, with the pk last where it was not there.
    ordered, _ = keyset_of(qs)
    assert expected == [o.pk for o in ordered]
    assert ordered.query.order_by[: len(ordering)] == ordering


def test_equal_times_are_broken_by_the_pk_in_the_last_columns_direction(orders):
    newest_first = [o.pk for o in _walk_qs(WorkOrder.objects.order_by("-created_at"), 2)]
    # Pairs filed in the same second (the fixture): within a pair, the higher id first.
    times = {o.pk: o.created_at for o in WorkOrder.objects.all()}
    assert newest_first == sorted(times, key=lambda pk: (times[pk], pk), reverse=True)
    oldest_first = [o.pk for o in _walk_qs(WorkOrder.objects.order_by("created_at"), 2)]
    assert oldest_first == sorted(times, key=lambda pk: (times[pk], pk))
    # The offset pages get the same tiebreak: stable across pages.
    assert [o.pk for o in _numbered(WorkOrder.objects.order_by("-created_at"), 2)] == newest_first


def test_a_row_inserted_mid_walk_on_a_time_order(world, orders):
    """On an order by time, a row may land ahead of the cursor (it comes once) or behind it (it does not):
    never twice, and nothing already due is skipped."""
    qs = WorkOrder.objects.order_by("created_at")
    first = paginate(qs, PageParams(page_size=3))
    seen = [o.pk for o in first["items"]]
    ahead = submit(world, text="将来的一盏路灯", at=T0 + dt.timedelta(hours=1))
    behind = submit(world, text="过去的一盏路灯", at=T0 - dt.timedelta(hours=1))
    rest = [o.pk for o in _walk_qs_from(qs, first["next_cursor"], 3)]
    ids = seen + rest
    assert len(ids) == len(set(ids))
    assert set(ids) == {o.pk for o in orders} | {ahead.pk}
    assert behind.pk not in ids


def _walk_qs_from(qs, cursor: str, page_size: int) -> list[Any]:
    rows: list[Any] = []
    params = PageParams(page_size=page_size, cursor=cursor)
    while True:
        page = paginate(qs, params)
        rows += page["items"]
        if page["next_cursor"] is None:
            return rows
        params = PageParams(page_size=page_size, cursor=page["next_cursor"])


def test_values_rows_and_convert(orders):
    qs = WorkOrder.objects.order_by("-created_at").values("id", "created_at", "title")
    page = paginate(qs, PageParams(page_size=4), convert=lambda r: r["id"])
    assert page["items"] == [o.pk for o in _numbered(WorkOrder.objects.order_by("-created_at"), 4)][:4]
    nxt = paginate(qs, PageParams(page_size=4, cursor=page["next_cursor"]), convert=lambda r: r["id"])
    assert len(nxt["items"]) == 4 and not set(nxt["items"]) & set(page["items"])
    # Rows that lack an ordering column cannot make a cursor: by number only.
    assert keyset_of(WorkOrder.objects.order_by("-created_at").values("title"))[1] is None


def test_which_orderings_make_a_keyset(orders):
    def spec(qs) -> list[str] | None:
        _qs, keyset = keyset_of(qs)
        return None if keyset is None else [("-" if k.desc else "") + k.lookup for k in keyset.keys]

    assert spec(WorkOrder.objects.all()) == ["-pk"]  # Meta.ordering = ["-id"]
    assert spec(WorkOrder.objects.order_by()) == ["pk"]  # no order at all: by pk
    assert spec(WorkOrder.objects.order_by("-created_at")) == ["-created_at", "-pk"]
    assert spec(WorkOrder.objects.order_by("grid_id", "-id")) == ["grid_id", "-pk"]  # a foreign key's column
    assert spec(WorkOrder.objects.order_by("grid")) is None  # …by name: the grid model's own ordering
    assert spec(WorkOrder.objects.order_by("grid__name")) is None  # a related model's column
    assert spec(WorkOrder.objects.order_by("due_at")) is None  # nullable
    assert spec(WorkOrder.objects.order_by(F("created_at").desc())) is None  # an expression
    assert spec(WorkOrder.objects.annotate(n=Count("events")).order_by("-n")) is None  # an annotation
    assert spec(WorkOrder.objects.order_by("?")) is None
    assert spec(WorkOrder.objects.values_list("id", flat=True)) is None  # tuples, not rows
    assert keyset_of([1, 2, 3])[1] is None  # a list
    # The offset path gets the pk tiebreak too, where the order allows it or not.
    qs, _ = keyset_of(WorkOrder.objects.annotate(n=Count("events")).order_by("-n"))
    assert qs.query.order_by == ("-n", "-pk")
    # The same order of another model is another list.
    assert keyset_of(Message.objects.order_by("-id"))[1].tag != keyset_of(WorkOrder.objects.order_by("-id"))[1].tag


def test_a_cursor_with_a_page_and_on_a_list_are_refused_before_any_query(django_assert_num_queries):
    with django_assert_num_queries(0), pytest.raises(ValidationFailed):
        paginate(WorkOrder.objects.all(), PageParams(page=2, cursor="abc"))
    with django_assert_num_queries(0), pytest.raises(ValidationFailed):
        paginate(WorkOrder.objects.all(), PageParams(cursor="abc"))
    with pytest.raises(ValidationFailed):
        paginate([1, 2, 3], PageParams(cursor="abc"))
    assert paginate([1, 2, 3], PageParams(page_size=2))["next_cursor"] is None


@pytest.mark.parametrize("when", ["0001-01-01T00:00:00+05:00", "9999-12-31T23:59:59-05:00"])
def test_a_time_with_no_utc_equivalent_is_refused_not_a_500(orders, when):
    """Such a cursor parses, but SQLite's adapter turns it into UTC at query time and overflowed (a 500)."""
    from core.errors import ValidationFailed

    qs = WorkOrder.objects.order_by("-created_at")
    _ordered, keyset = keyset_of(qs)
    token = _cursor({"o": keyset.tag, "v": [when, 1]})
    with pytest.raises(ValidationFailed):
        paginate(qs, PageParams(page_size=2, cursor=token))
