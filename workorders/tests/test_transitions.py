"""Every move of the state table through the API, every refused move, and who may make which.

The transition table in workorders/states.py is the specification: each (action, from, to) it lists is
walked here by the persona whose job it is, and each (action, state) it does not list is refused with
409 and leaves the order, its timeline and the outbox exactly as they were.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from core import workcal
from notify.models import Message
from workorders import deadlines, services
from workorders.models import Assignment, Callback, CloseReason, Event, Extension, Rating, WorkOrder
from workorders.states import TRANSITIONS, Action, State
from workorders.tests.helpers import at, error_code, fresh, order_in, post, submit

pytestmark = pytest.mark.django_db


# --- the API call for each action, as the persona whose job it is ---------------------------------

DISPATCHER = "u_zhao"
HANDLER = "u_feng"
OWNER = "u_zhang"


def persona(world: Any, name: str) -> Any:
    return getattr(world, name, None) or getattr(world.c, name)


def call(world: Any, client_as: Any, action: str, order: WorkOrder, *, outcome: str = "") -> Any:
    """Make `action` on `order` through the API; `outcome` picks among several targets (rate, callback)."""
    c = world.c
    url = f"/api/v1/workorders/{order.pk}"
    housing = {"department_id": world.housing.pk}
    other = {"department_id": c.civil_affairs.pk}
    steps: dict[str, tuple[str, str, Any]] = {
        Action.DISPATCH: (DISPATCHER, "dispatch", {"to": housing, "note": "请及时处理"}),
        Action.REASSIGN: (DISPATCHER, "reassign", {"to": other, "note": "改派民政局"}),
        Action.TRANSFER: (HANDLER, "transfer", {"to": other, "note": "属于民政局职责"}),
        Action.ACCEPT: (HANDLER, "accept", None),
        Action.RETURN: (HANDLER, "return", {"reason": "不属于本单位职责"}),
        Action.START: (HANDLER, "start", {}),
        Action.SUSPEND: (HANDLER, "suspend", {"reason": "等待居民补充照片"}),
        Action.RESUME: (HANDLER, "resume", {}),
        Action.RESOLVE: (HANDLER, "resolve", {"reply": "已更换灯泡，恢复照明"}),
        Action.ANSWER: (DISPATCHER, "answer", {"reply": "此事可拨打供电所电话咨询"}),
        Action.RATE: (
            OWNER,
            "rate",
            {"solved": True, "satisfaction": 5}
            if outcome != State.REOPENED
            else {"solved": False, "satisfaction": 1, "comment": "还是不亮"},
        ),
        Action.CALLBACK: (
            DISPATCHER,
            "callback",
            {
                State.CLOSED: {"reached": True, "solved": True, "satisfaction": 5, "note": "居民确认已解决"},
                State.REOPENED: {"reached": True, "solved": False, "satisfaction": 2, "note": "居民说仍未解决"},
            }.get(outcome, {"reached": False, "note": "电话无人接听"}),
        ),
        Action.REOPEN: (DISPATCHER, "reopen", {"reason": "核实后仍未解决"}),
        Action.RULE_UNREASONABLE: (DISPATCHER, "rule-unreasonable", {"reason": "诉求超出政策范围"}),
        Action.CLOSE: (DISPATCHER, "close", {}),
        Action.MARK_DUPLICATE: (DISPATCHER, "duplicate", None),
        Action.CANCEL: (OWNER, "cancel", {"note": "已自行解决"}),
    }
    who, path, body = steps[action]
    if action == Action.MARK_DUPLICATE:
        body = {"primary_id": submit(world, text="村口路灯不亮了").pk}
    return post(client_as(persona(world, who)), f"{url}/{path}", body)


# Every (action, from, to) the table allows; a test below proves the list is complete.
CASES = [(action, frm, to) for action, table in TRANSITIONS.items() for frm, targets in table.items() for to in targets]


def test_the_cases_cover_the_whole_table():
    assert len(CASES) == sum(len(t) for table in TRANSITIONS.values() for t in table.values())
    assert {a for a, _, _ in CASES} == set(Action.values)


@pytest.mark.parametrize(("action", "frm", "to"), CASES, ids=[f"{a}:{f}->{t}" for a, f, t in CASES])
def test_every_transition_through_the_api(world, client_as, action, frm, to):
    order = order_in(world, frm)
    before = Event.objects.filter(order=order).count()
    r = call(world, client_as, action, order, outcome=to)
    assert r.status_code == 200, r.content
    order = fresh(order)
    assert order.state == to
    assert r.json()["state"] == to

    last = Event.objects.filter(order=order).order_by("-id").first()
    assert Event.objects.filter(order=order).count() == before + 1
    who = {
        Action.TRANSFER: HANDLER,
        Action.ACCEPT: HANDLER,
        Action.RETURN: HANDLER,
        Action.START: HANDLER,
        Action.SUSPEND: HANDLER,
        Action.RESUME: HANDLER,
        Action.RESOLVE: HANDLER,
        Action.RATE: OWNER,
        Action.CANCEL: OWNER,
    }.get(action, DISPATCHER)
    assert last.actor_id == persona(world, who).pk
    if action == Action.CALLBACK and frm == to:
        # A callback that did not reach the resident is a record, not a move.
        assert (last.action, last.from_state, last.to_state) == ("callback", "", "")
    else:
        assert (last.action, last.from_state, last.to_state) == (action, frm, to)
        # Returning is between the unit and the dispatch centre; every other move is on the public record.
        assert last.public is (action != Action.RETURN)

    # The resident's timeline and the public tracking page show public events only.
    mine = client_as(world.c.u_zhang).get(f"/api/v1/workorders/{order.pk}").json()
    public_ids = list(Event.objects.filter(order=order, public=True).order_by("id").values_list("id", flat=True))
    assert [e["id"] for e in mine["events"]] == public_ids
    assert all(e["public"] for e in mine["events"])
    tracked = client_as(None).get(f"/api/v1/track/{order.tracking_code}").json()
    shown = order.primary if order.primary_id else order  # a duplicate's reporter follows the primary
    assert len(tracked["events"]) == Event.objects.filter(order=shown, public=True).count()
    # Staff see everything, clerks' names included.
    staff = client_as(world.c.u_zhao).get(f"/api/v1/workorders/{order.pk}").json()
    assert len(staff["events"]) == Event.objects.filter(order=order).count()


# --- refused moves --------------------------------------------------------------------------------

# Actions whose only persona is the order's current main handler: with no handler (never dispatched,
# returned, linked as a duplicate, withdrawn) nobody may make them, and the gate answers first.
HANDLER_ACTIONS = frozenset(
    {Action.TRANSFER, Action.ACCEPT, Action.RETURN, Action.START, Action.SUSPEND, Action.RESUME, Action.RESOLVE}
)
NO_HANDLER_STATES = frozenset({State.SUBMITTED, State.RETURNED, State.DUPLICATE, State.CANCELLED})
# The documented specific codes of the services that check the state before the table does.
SPECIFIC_CODES = {
    Action.RATE: {"workorder.not_resolved", "workorder.already_rated"},
    Action.CALLBACK: {"workorder.not_resolved"},
}


def snapshot(order: WorkOrder) -> tuple:
    o = WorkOrder.objects.get(pk=order.pk)
    return (
        o.state,
        o.round,
        o.department_id,
        o.due_at,
        o.updated_at,
        Event.objects.filter(order=o).count(),
        Assignment.objects.filter(order=o).count(),
        Rating.objects.filter(order=o).count(),
        Callback.objects.filter(order=o).count(),
        Message.objects.count(),
    )


def refused_cells() -> list[tuple[str, str]]:
    """(action, state) for every state an action's table does not list."""
    return [
        (action, state)
        for action in TRANSITIONS
        for state in State.values
        if state not in TRANSITIONS[action]
        # A callback on a closed order is recorded without a move: see the test below.
        and not (action == Action.CALLBACK and state == State.CLOSED)
    ]


def test_every_refused_transition(world, client_as):
    """One order per state, every action the table refuses in it, by the persona whose job the action
    is. A refused call changes nothing, so the same orders serve every action (and a wrong success
    shows up as a changed snapshot)."""
    cells = refused_cells()
    assert len(cells) == 172
    orders = {state: order_in(world, state) for state in State.values}
    wrong = []
    for action, state in cells:
        order = orders[state]
        before = snapshot(order)
        r = call(world, client_as, action, order, outcome=State.CLOSED)
        if action in HANDLER_ACTIONS and state in NO_HANDLER_STATES:
            ok = r.status_code in (403, 404)
        else:
            codes = {"workorder.transition_not_allowed"} | SPECIFIC_CODES.get(action, set())
            ok = r.status_code == 409 and error_code(r) in codes
        if not ok or snapshot(order) != before:
            wrong.append((action, state, r.status_code, r.content[:120]))
    assert wrong == []


def test_every_refused_transition_in_the_services(world):
    """Below the API gate too: a service asked for a move the table does not allow raises 409 and
    writes nothing, whoever asks."""
    from core.errors import ApiError

    c = world.c
    u = services.Unit(department=c.civil_affairs)
    fns = {
        Action.DISPATCH: lambda o: services.workorder_dispatch(order=o, to=u, by=c.u_zhao),
        Action.REASSIGN: lambda o: services.workorder_reassign(order=o, to=u, by=c.u_zhao),
        Action.TRANSFER: lambda o: services.workorder_transfer(order=o, to=u, by=world.u_feng, note="x"),
        Action.ACCEPT: lambda o: services.workorder_accept(order=o, by=world.u_feng),
        Action.RETURN: lambda o: services.workorder_return(order=o, by=world.u_feng, reason="x"),
        Action.START: lambda o: services.workorder_start(order=o, by=world.u_feng),
        Action.SUSPEND: lambda o: services.workorder_suspend(order=o, by=world.u_feng, reason="x"),
        Action.RESUME: lambda o: services.workorder_resume(order=o, by=world.u_feng),
        Action.RESOLVE: lambda o: services.workorder_resolve(order=o, by=world.u_feng, reply="好了"),
        Action.ANSWER: lambda o: services.workorder_answer(order=o, by=c.u_zhao, reply="答复"),
        Action.RATE: lambda o: services.workorder_rate(order=o, by=c.u_zhang, solved=True, satisfaction=5),
        Action.CALLBACK: lambda o: services.workorder_callback(order=o, by=c.u_zhao, reached=True, solved=True),
        Action.REOPEN: lambda o: services.workorder_reopen(order=o, by=c.u_zhao, reason="x"),
        Action.RULE_UNREASONABLE: lambda o: services.workorder_rule_unreasonable(order=o, by=c.u_zhao, reason="x"),
        Action.CLOSE: lambda o: services.workorder_close(order=o, by=c.u_zhao),
        Action.MARK_DUPLICATE: lambda o: services.workorder_mark_duplicate(
            order=o, primary=submit(world, text="同一个问题"), by=c.u_zhao
        ),
        Action.CANCEL: lambda o: services.workorder_cancel(order=o, by=c.u_zhang),
    }
    assert set(fns) == set(TRANSITIONS)
    orders = {state: order_in(world, state) for state in State.values}
    wrong = []
    for action, state in refused_cells():
        order = orders[state]
        before = snapshot(order)
        try:
            fns[action](fresh(order))
        except ApiError as exc:
            codes = {"workorder.transition_not_allowed"} | SPECIFIC_CODES.get(action, set())
            if exc.status != 409 or exc.code not in codes:
                wrong.append((action, state, exc.status, exc.code))
        else:
            wrong.append((action, state, "no error"))
        if snapshot(order) != before:
            wrong.append((action, state, "changed"))
    assert wrong == []


def test_callback_on_a_closed_order_is_recorded_without_a_move(world, client_as):
    order = order_in(world, State.CLOSED)
    r = post(
        client_as(world.c.u_zhao),
        f"/api/v1/workorders/{order.pk}/callback",
        {"reached": True, "solved": False, "note": "回访：居民说又坏了"},
    )
    assert r.status_code == 200, r.content
    assert fresh(order).state == State.CLOSED
    last = Event.objects.filter(order=order).last()
    assert (last.action, last.from_state, last.to_state, last.public) == ("callback", "", "", False)
    assert Callback.objects.get(order=order).solved is False


# --- who may ----------------------------------------------------------------------------------------


def every_step(world: Any, order_id: int) -> list[tuple[str, Any]]:
    """(path, body) of every endpoint that acts on one order, with bodies that pass validation."""
    c = world.c
    u = {"department_id": c.civil_affairs.pk}
    return [
        ("dispatch", {"to": u}),
        ("reassign", {"to": u, "note": "改派"}),
        ("transfer", {"to": u, "note": "转办"}),
        ("accept", None),
        ("return", {"reason": "退回"}),
        ("start", {}),
        ("suspend", {"reason": "等待"}),
        ("resume", {}),
        ("resolve", {"reply": "已处理"}),
        ("answer", {"reply": "答复"}),
        ("rate", {"solved": True, "satisfaction": 5}),
        ("callback", {"reached": True, "solved": True}),
        ("reopen", {"reason": "重办"}),
        ("rule-unreasonable", {"reason": "甄别"}),
        ("close", {}),
        ("duplicate", {"primary_id": order_id}),
        ("cancel", {}),
        ("extensions", {"days": 2, "reason": "需要采购配件"}),
        ("extensions/1/decide", {"approve": True}),
        ("supervise", {"level": "urge"}),
        ("notes", {"note": "备注"}),
    ]


@pytest.mark.parametrize("state", [State.SUBMITTED, State.DISPATCHED, State.IN_PROGRESS, State.RESOLVED])
def test_an_outsider_learns_nothing(world, client_as, state):
    """孙网格 works in another town: every door of an order in 东村 answers exactly like a missing id."""
    order = order_in(world, state)
    before = snapshot(order)
    sun = client_as(world.c.u_sun)
    missing = 987654
    r = sun.get(f"/api/v1/workorders/{order.pk}")
    assert r.status_code == 404
    assert r.json() == sun.get(f"/api/v1/workorders/{missing}").json()
    for path, body in every_step(world, order.pk):
        mine = post(sun, f"/api/v1/workorders/{order.pk}/{path}", body)
        absent = post(sun, f"/api/v1/workorders/{missing}/{path}", body)
        assert mine.status_code == 404, (path, mine.content)
        assert mine.json() == absent.json(), path
    for getter in ("similar",):
        assert (
            sun.get(f"/api/v1/workorders/{order.pk}/{getter}").json()
            == sun.get(f"/api/v1/workorders/{missing}/{getter}").json()
        )
    # Nor does the list give it away.
    listed = sun.get("/api/v1/workorders").json()
    assert order.pk not in [o["id"] for o in listed["items"]]
    assert snapshot(order) == before


WRONG_ROLE = [
    # (persona, state, step): in scope, sees the order, but it is not their job.
    ("u_wang", State.DISPATCHED, "reassign"),  # 民政局 co-handles, does not dispatch
    ("u_wang", State.DISPATCHED, "accept"),  # co-handling is not the main handler's signature
    ("u_wang", State.RETURNED, "dispatch"),
    ("u_zhang", State.DISPATCHED, "accept"),  # a resident cannot sign for her own appeal
    ("u_zhang", State.SUBMITTED, "dispatch"),
    ("u_zhang", State.SUBMITTED, "answer"),
    ("u_zhang", State.IN_PROGRESS, "supervise"),
    ("u_zhang", State.RESOLVED, "callback"),
    ("u_zhang", State.RESOLVED, "close"),
    ("u_li", State.SUBMITTED, "dispatch"),  # the grid worker sees A1's orders, dispatching is not theirs
    ("u_li", State.DISPATCHED, "accept"),  # the order is with 住建局, not with the grid
    ("u_li", State.RESOLVED, "rate"),  # only the owner rates
    ("u_qian", State.SUBMITTED, "dispatch"),  # the leader supervises, does not dispatch
    ("u_qian", State.REOPENED, "rule-unreasonable"),
    ("u_feng", State.RESOLVED, "rate"),
    ("u_feng", State.RESOLVED, "close"),
    ("u_feng", State.DISPATCHED, "supervise"),
    ("u_ma", State.IN_PROGRESS, "extensions/1/decide"),  # a clerk cannot approve their own extension
    ("u_zhou", State.SUBMITTED, "cancel"),  # only the owner withdraws
]


@pytest.mark.parametrize(("who", "state", "path"), WRONG_ROLE, ids=[f"{w}-{s}-{p}" for w, s, p in WRONG_ROLE])
def test_in_scope_but_not_their_job_is_403(world, client_as, who, state, path):
    order = order_in(world, state)
    if who == "u_wang":
        # 民政局 helps with this one (协办): it sees it, and that is all.
        Assignment.objects.create(
            order=order, role=Assignment.Role.ASSIST, department=world.c.civil_affairs, assigned_at=order.created_at
        )
    if path.startswith("extensions/"):
        ext = services.extension_request(order=fresh(order), by=world.u_feng, days=2, reason="需要采购配件")
        path = f"extensions/{ext.pk}/decide"
    before = snapshot(order)
    client = client_as(persona(world, who))
    assert client.get(f"/api/v1/workorders/{order.pk}").status_code == 200  # in scope
    body = dict(every_step(world, order.pk))[path if not path.startswith("extensions/") else "extensions/1/decide"]
    r = post(client, f"/api/v1/workorders/{order.pk}/{path}", body)
    assert r.status_code == 403, r.content
    assert error_code(r) == "permission_denied"
    assert snapshot(order) == before


def test_actions_list_what_each_persona_may_do(world, client_as):
    order = order_in(world, State.DISPATCHED)
    seen = {
        who: client_as(persona(world, who)).get(f"/api/v1/workorders/{order.pk}").json()["actions"]
        for who in ("u_zhao", "u_feng", "u_zhang", "u_qian", "u_li")
    }
    assert seen["u_zhao"] == ["mark_duplicate", "reassign"]
    assert seen["u_feng"] == ["accept", "return", "transfer"]
    assert seen["u_zhang"] == []
    assert seen["u_qian"] == []
    assert seen["u_li"] == []


# --- the side roads -----------------------------------------------------------------------------


def test_co_handling_departments_see_the_order_but_do_not_lead(world, client_as):
    order = order_in(world, State.SUBMITTED)
    wang = client_as(world.c.u_wang)
    assert wang.get(f"/api/v1/workorders/{order.pk}").status_code == 404  # not 民政局's business yet
    r = post(
        client_as(world.c.u_zhao),
        f"/api/v1/workorders/{order.pk}/dispatch",
        {"to": {"department_id": world.housing.pk}, "assist": [{"department_id": world.c.civil_affairs.pk}]},
    )
    assert r.status_code == 200, r.content
    assert Assignment.objects.filter(order=order, role="assist", department=world.c.civil_affairs).exists()
    detail = wang.get(f"/api/v1/workorders/{order.pk}")
    assert detail.status_code == 200
    assert detail.json()["actions"] == []
    assert order.pk in [o["id"] for o in wang.get("/api/v1/workorders").json()["items"]]
    assert post(wang, f"/api/v1/workorders/{order.pk}/accept").status_code == 403
    assert post(client_as(world.u_ma), f"/api/v1/workorders/{order.pk}/accept").status_code == 200
    # The dispatch event names both units.
    ev = Event.objects.get(order=order, action="dispatch")
    assert ev.data["to"] == "住建局" and ev.data["assist"] == ["民政局"]


def test_return_with_reason_and_suggested_unit(world, client_as):
    order = order_in(world, State.DISPATCHED)
    r = post(
        client_as(world.u_feng),
        f"/api/v1/workorders/{order.pk}/return",
        {"reason": "这是民政事项", "suggest": {"department_id": world.c.civil_affairs.pk}},
    )
    assert r.status_code == 200, r.content
    o = fresh(order)
    assert (o.state, o.department_id, o.due_at, o.respond_by, o.next_check_at) == (
        State.RETURNED,
        None,
        None,
        None,
        None,
    )
    ev = Event.objects.filter(order=o).last()
    assert (ev.action, ev.note, ev.data["from"], ev.data["suggest"], ev.public) == (
        "return",
        "这是民政事项",
        "住建局",
        "民政局",
        False,
    )
    assert not Assignment.objects.filter(order=o, active=True).exists()
    assert Message.objects.filter(user=world.c.u_zhao, kind="workorder.returned").exists()
    # A reason is required.
    o2 = order_in(world, State.DISPATCHED)
    r = post(client_as(world.u_feng), f"/api/v1/workorders/{o2.pk}/return", {"reason": ""})
    assert r.status_code == 422
    assert fresh(o2).state == State.DISPATCHED
    # The dispatcher sends it where it was suggested; 民政局 can now sign.
    post(
        client_as(world.c.u_zhao),
        f"/api/v1/workorders/{o.pk}/dispatch",
        {"to": {"department_id": world.c.civil_affairs.pk}},
    )
    assert post(client_as(world.c.u_wang), f"/api/v1/workorders/{o.pk}/accept").json()["state"] == State.ACCEPTED


def test_transfer_hands_the_order_to_the_right_unit(world, client_as):
    order = order_in(world, State.DISPATCHED)
    r = post(
        client_as(world.u_feng),
        f"/api/v1/workorders/{order.pk}/transfer",
        {"to": {"department_id": world.c.civil_affairs.pk}, "note": "老人补贴归民政"},
    )
    assert r.status_code == 200, r.content
    o = fresh(order)
    assert (o.state, o.department_id) == (State.DISPATCHED, world.c.civil_affairs.pk)
    assert Assignment.objects.filter(order=o, active=True, role="main").get().department_id == o.department_id
    ev = Event.objects.filter(order=o).last()
    assert (ev.action, ev.data["from"], ev.data["to"]) == ("transfer", "住建局", "民政局")
    # 住建局 still sees its history but may no longer act; 民政局 was told and signs.
    assert client_as(world.u_feng).get(f"/api/v1/workorders/{o.pk}").status_code == 200
    assert post(client_as(world.u_feng), f"/api/v1/workorders/{o.pk}/accept").status_code == 403
    assert Message.objects.filter(user=world.c.u_wang, kind="workorder.dispatched").exists()
    assert post(client_as(world.c.u_wang), f"/api/v1/workorders/{o.pk}/accept").status_code == 200
    # Transferring to the unit that has it already is refused.
    o2 = order_in(world, State.DISPATCHED)
    r = post(
        client_as(world.u_feng),
        f"/api/v1/workorders/{o2.pk}/transfer",
        {"to": {"department_id": world.housing.pk}, "note": "x"},
    )
    assert r.status_code == 422


def test_reassign_keeps_the_completion_clock_and_gives_a_new_sign_for_time(world, client_as, clock):
    clock.set("2026-11-02T09:00")
    order = order_in(world, State.IN_PROGRESS)
    due = order.due_at
    clock.set("2026-11-04T10:00")
    r = post(
        client_as(world.c.u_zhao),
        f"/api/v1/workorders/{order.pk}/reassign",
        {"to": {"node_id": world.c.v1.pk}, "note": "村里更方便"},
    )
    assert r.status_code == 200, r.content
    o = fresh(order)
    assert (o.state, o.department_id, o.unit_node_id, o.unit_path) == (
        State.DISPATCHED,
        None,
        world.c.v1.pk,
        world.c.v1.path,
    )
    assert o.due_at == due
    assert o.respond_by == workcal.add_working_hours(clock.t, 4)
    assert o.accepted_at is None
    # The village's staff (and the town's above it) may sign now; 住建局 may not.
    assert post(client_as(world.u_feng), f"/api/v1/workorders/{o.pk}/accept").status_code == 403
    assert post(client_as(world.c.u_zhou), f"/api/v1/workorders/{o.pk}/accept").status_code == 200


def test_suspend_and_resume_push_the_deadline_by_the_working_time_waited(world, client_as, clock):
    clock.set("2026-11-02T09:00")  # Monday
    order = order_in(world, State.IN_PROGRESS)
    assert order.due_at == at("2026-11-12T00:00")  # 7 working days: Nov 3–11
    feng = client_as(world.u_feng)
    clock.set("2026-11-03T10:00")
    r = post(feng, f"/api/v1/workorders/{order.pk}/suspend", {"reason": "等待居民提供现场照片"})
    assert r.json()["state"] == State.SUSPENDED
    o = fresh(order)
    assert o.suspended_at == clock.t and o.next_check_at is None  # the clock stops
    assert Message.objects.filter(user=world.c.u_zhang, kind="workorder.suspended").exists()
    clock.set("2026-11-04T10:00")  # one working day (6.5 working hours) later
    r = post(feng, f"/api/v1/workorders/{order.pk}/resume", {})
    assert r.json()["state"] == State.IN_PROGRESS
    o = fresh(order)
    assert o.suspended_at is None
    assert workcal.working_hours_between(order.due_at, o.due_at) == pytest.approx(6.5)
    assert workcal.working_hours_between(order.warn_at, o.warn_at) == pytest.approx(6.5)
    assert o.next_check_at == o.warn_at


def test_a_pause_with_no_working_time_in_it_leaves_the_deadline_alone(world, client_as, clock):
    """Suspended on Friday evening, resumed on Sunday: not a minute of working time was waited, so the
    deadline (the end of a working day) must not move — neither later nor earlier."""
    clock.set("2026-11-02T09:00")
    order = order_in(world, State.IN_PROGRESS)
    feng = client_as(world.u_feng)
    clock.set("2026-11-06T18:00")  # Friday after hours
    post(feng, f"/api/v1/workorders/{order.pk}/suspend", {"reason": "等待居民回电"})
    clock.set("2026-11-08T10:00")  # Sunday
    post(feng, f"/api/v1/workorders/{order.pk}/resume", {})
    o = fresh(order)
    assert (o.due_at, o.warn_at) == (order.due_at, order.warn_at)


def test_a_round_the_clock_limit_is_paused_in_clock_time(world, client_as, clock):
    """A power cut has 24 hours around the clock: three hours waited at night add three hours."""
    clock.set("2026-11-02T16:00")
    order = order_in(world, State.IN_PROGRESS, category=world.outage)
    assert order.due_at == at("2026-11-03T16:00")
    feng = client_as(world.u_feng)
    clock.set("2026-11-02T20:00")
    post(feng, f"/api/v1/workorders/{order.pk}/suspend", {"reason": "等待居民开门"})
    clock.set("2026-11-02T23:00")
    post(feng, f"/api/v1/workorders/{order.pk}/resume", {})
    o = fresh(order)
    assert o.due_at == at("2026-11-03T19:00")
    assert o.warn_at == order.warn_at + (clock.t - at("2026-11-02T20:00"))


def test_extension_approved_moves_the_deadline_and_tells_the_resident(world, client_as, clock):
    clock.set("2026-11-02T09:00")
    order = order_in(world, State.ACCEPTED)
    old_due = order.due_at
    feng, zhao = client_as(world.u_feng), client_as(world.c.u_zhao)
    clock.set("2026-11-05T10:00")
    r = post(feng, f"/api/v1/workorders/{order.pk}/extensions", {"days": 3, "reason": "需要采购灯具配件"})
    assert r.status_code == 201, r.content
    ext_id = r.json()["id"]
    assert r.json()["status"] == "pending"
    assert Message.objects.filter(user=world.c.u_zhao, kind="workorder.extension").exists()
    # A second request while one waits.
    r2 = post(feng, f"/api/v1/workorders/{order.pk}/extensions", {"days": 1, "reason": "再延一天"})
    assert (r2.status_code, error_code(r2)) == (409, "workorder.extension_pending")
    # The handler cannot decide; the dispatcher approves.
    assert post(feng, f"/api/v1/workorders/{order.pk}/extensions/{ext_id}/decide", {"approve": True}).status_code == 403
    r = post(zhao, f"/api/v1/workorders/{order.pk}/extensions/{ext_id}/decide", {"approve": True, "note": "同意"})
    assert r.status_code == 200, r.content
    o = fresh(order)
    # Due at the end of Nov 11; three more working days (Nov 12, 13, 16) end with Nov 16.
    assert old_due == at("2026-11-12T00:00")
    assert o.due_at == at("2026-11-17T00:00")
    assert o.warned is False and o.next_check_at == o.warn_at
    assert clock.t < o.warn_at < o.due_at
    assert Extension.objects.get(pk=ext_id).status == Extension.Status.APPROVED
    told = Message.objects.get(user=world.c.u_zhang, kind="workorder.extended")
    assert "2026-11-17" in told.text
    assert Message.objects.filter(user=world.u_feng, kind="workorder.extension_decided").exists()
    ev = Event.objects.filter(order=o, action="extension_approved").get()
    assert ev.public and ev.data["days"] == 3
    # Deciding twice is refused.
    r = post(zhao, f"/api/v1/workorders/{order.pk}/extensions/{ext_id}/decide", {"approve": False})
    assert (r.status_code, error_code(r)) == (409, "workorder.extension_decided")


def test_extension_refused_leaves_the_deadline(world, client_as, clock):
    clock.set("2026-11-02T09:00")
    order = order_in(world, State.IN_PROGRESS)
    r = post(client_as(world.u_feng), f"/api/v1/workorders/{order.pk}/extensions", {"days": 2, "reason": "人手不足"})
    ext_id = r.json()["id"]
    r = post(
        client_as(world.c.u_zhao),
        f"/api/v1/workorders/{order.pk}/extensions/{ext_id}/decide",
        {"approve": False, "note": "理由不充分"},
    )
    assert r.status_code == 200
    o = fresh(order)
    assert o.due_at == order.due_at
    assert Extension.objects.get(pk=ext_id).status == Extension.Status.REFUSED
    assert not Message.objects.filter(user=world.c.u_zhang, kind="workorder.extended").exists()
    assert Event.objects.filter(order=o, action="extension_refused", public=False).exists()
    # Once decided, another may be asked for.
    r = post(client_as(world.u_feng), f"/api/v1/workorders/{order.pk}/extensions", {"days": 1, "reason": "配件到货晚"})
    assert r.status_code == 201


def test_extension_while_suspended_counts_the_time_left_when_the_clock_stopped(world, client_as, clock):
    clock.set("2026-11-02T09:00")
    order = order_in(world, State.IN_PROGRESS)
    feng = client_as(world.u_feng)
    assert post(feng, f"/api/v1/workorders/{order.pk}/suspend", {"reason": "等群众补交材料"}).status_code == 200
    # The wait runs past the original deadline; the clock stood still, so time is still left.
    clock.set(fresh(order).due_at + dt.timedelta(days=3))
    r = post(feng, f"/api/v1/workorders/{order.pk}/extensions", {"days": 2, "reason": "材料复杂"})
    assert r.status_code == 201, r.content


def test_extension_after_the_deadline_is_too_late(world, client_as, clock):
    clock.set("2026-11-02T09:00")
    order = order_in(world, State.IN_PROGRESS)
    clock.set(order.due_at)
    r = post(client_as(world.u_feng), f"/api/v1/workorders/{order.pk}/extensions", {"days": 2, "reason": "来不及"})
    assert (r.status_code, error_code(r)) == (409, "workorder.extension_too_late")
    assert not Extension.objects.filter(order=order).exists()
    # Before signing for it there is nothing to extend yet.
    o2 = order_in(world, State.DISPATCHED)
    r = post(client_as(world.u_feng), f"/api/v1/workorders/{o2.pk}/extensions", {"days": 2, "reason": "x"})
    assert r.status_code == 409


def test_an_extension_asked_in_time_but_decided_after_the_deadline_clears_overdue(world, client_as, clock):
    """The dispatcher was slow, the worker flagged the order overdue meanwhile: the unit asked in time,
    so the approved extension counts and the order is no longer overdue."""
    clock.set("2026-11-02T09:00")
    order = order_in(world, State.IN_PROGRESS)
    clock.set("2026-11-11T16:00")
    ext = services.extension_request(order=fresh(order), by=world.u_feng, days=2, reason="配件未到")
    clock.set("2026-11-12T09:00")
    while deadlines.handle_one():
        pass
    assert fresh(order).overdue
    r = post(client_as(world.c.u_zhao), f"/api/v1/workorders/{order.pk}/extensions/{ext.pk}/decide", {"approve": True})
    assert r.status_code == 200
    o = fresh(order)
    assert o.due_at == at("2026-11-14T00:00")
    assert not o.overdue
    assert o.next_check_at is not None  # the worker watches the new deadline


@pytest.mark.parametrize("level", ["urge", "supervise"])
def test_urge_and_supervise_tell_the_handlers(world, client_as, level):
    order = order_in(world, State.ACCEPTED)
    r = post(client_as(world.c.u_qian), f"/api/v1/workorders/{order.pk}/supervise", {"level": level, "note": "抓紧"})
    assert r.status_code == 200, r.content
    for u in (world.u_feng, world.u_ma):
        assert Message.objects.filter(user=u, kind=f"workorder.{level}").count() == 1
    assert not Message.objects.filter(user=world.c.u_wang, kind=f"workorder.{level}").exists()
    ev = Event.objects.filter(order=order).last()
    assert (ev.action, ev.actor_id, ev.data["unit"], ev.from_state, ev.to_state) == (
        level,
        world.c.u_qian.pk,
        "住建局",
        "",
        "",
    )
    assert fresh(order).state == State.ACCEPTED
    # Nothing to urge once it is resolved.
    done = order_in(world, State.RESOLVED)
    r = post(client_as(world.c.u_zhao), f"/api/v1/workorders/{done.pk}/supervise", {"level": level})
    assert (r.status_code, error_code(r)) == (409, "workorder.transition_not_allowed")


def test_duplicates_follow_their_primary(world, client_as):
    c = world.c
    primary = order_in(world, State.SUBMITTED)
    dup = submit(world, by=c.u_liu, text="村口那盏路灯也是坏的")
    zhao = client_as(c.u_zhao)
    r = post(zhao, f"/api/v1/workorders/{dup.pk}/duplicate", {"primary_id": primary.pk})
    assert r.status_code == 200, r.content
    d = fresh(dup)
    assert (d.state, d.primary_id) == (State.DUPLICATE, primary.pk)
    told = Message.objects.get(user=c.u_liu, kind="workorder.duplicate")
    assert primary.tracking_code in told.text
    # The duplicate's reporter follows the primary's progress by their own tracking code.
    anon = client_as(None)
    t = anon.get(f"/api/v1/track/{dup.tracking_code}").json()
    assert (t["state"], t["primary_code"]) == (State.DUPLICATE, primary.tracking_code)
    assert [e["action"] for e in t["events"]] == ["submit"]
    # Linking to a duplicate links to its primary; an order cannot duplicate itself.
    third = submit(world, by=c.u_liu, text="路灯不亮第三次反映")
    post(zhao, f"/api/v1/workorders/{third.pk}/duplicate", {"primary_id": dup.pk})
    assert fresh(third).primary_id == primary.pk
    r = post(zhao, f"/api/v1/workorders/{primary.pk}/duplicate", {"primary_id": primary.pk})
    assert r.status_code == 422
    # An order that others follow cannot itself become a duplicate.
    other = submit(world, text="另一处路灯")
    r = post(zhao, f"/api/v1/workorders/{primary.pk}/duplicate", {"primary_id": other.pk})
    assert (r.status_code, error_code(r)) == (409, "workorder.has_duplicates")

    # The primary is handled; its duplicates' reporters hear of it and see it on their tracking page.
    services.workorder_dispatch(order=fresh(primary), to=services.Unit(department=world.housing), by=c.u_zhao)
    services.workorder_accept(order=fresh(primary), by=world.u_feng)
    t = anon.get(f"/api/v1/track/{dup.tracking_code}").json()
    assert [e["action"] for e in t["events"]] == ["submit", "dispatch", "accept"]
    services.workorder_resolve(order=fresh(primary), by=world.u_feng, reply="已修复村口路灯")
    # 刘党员 has two appeals linked to it: each is told, with a link to its own tracking page.
    told = Message.objects.filter(user=c.u_liu, kind="workorder.resolved")
    assert sorted(m.link for m in told) == sorted(f"/track/{o.tracking_code}" for o in (dup, third))
    # The reply is for the reporters (logged in), not for the public (test_edges_track).
    assert anon.get(f"/api/v1/track/{dup.tracking_code}").json()["reply"] == ""
    assert client_as(c.u_liu).get(f"/api/v1/track/{dup.tracking_code}").json()["reply"] == "已修复村口路灯"
    services.workorder_rate(order=fresh(primary), by=c.u_zhang, solved=True, satisfaction=5)
    services.workorder_close(order=fresh(primary), by=c.u_zhao)
    for o in (dup, third):
        o = fresh(o)
        assert (o.state, o.close_reason) == (State.CLOSED, CloseReason.DUPLICATE)
        ev = Event.objects.filter(order=o).last()
        assert (ev.action, ev.from_state, ev.to_state, ev.data["primary"]) == (
            "close",
            State.DUPLICATE,
            State.CLOSED,
            primary.tracking_code,
        )
    # After closing, the duplicate's own record and tracking page keep the answer.
    assert fresh(dup).reply == "已修复村口路灯"
    t = client_as(c.u_liu).get(f"/api/v1/track/{dup.tracking_code}").json()
    assert (t["state"], t["reply"]) == (State.CLOSED, "已修复村口路灯")
    mine = client_as(c.u_liu).get(f"/api/v1/workorders/{dup.pk}").json()
    assert mine["reply"] == "已修复村口路灯"
    # A finished order cannot be a primary.
    late = submit(world, by=c.u_liu, text="路灯又坏了")
    r = post(zhao, f"/api/v1/workorders/{late.pk}/duplicate", {"primary_id": primary.pk})
    assert (r.status_code, error_code(r)) == (409, "workorder.primary_finished")


@pytest.mark.parametrize("how", ["close", "callback", "rule_unreasonable"])
def test_every_way_of_closing_a_primary_closes_its_duplicates(world, how):
    c = world.c
    primary = order_in(world, State.REOPENED if how == "rule_unreasonable" else State.RESOLVED)
    dup = submit(world, by=c.u_liu, text="同一盏路灯")
    services.workorder_mark_duplicate(order=dup, primary=primary, by=c.u_zhao)
    if how == "close":
        services.workorder_close(order=fresh(primary), by=c.u_zhao)
    elif how == "callback":
        services.workorder_callback(order=fresh(primary), by=c.u_zhao, reached=True, solved=True)
    else:
        services.workorder_rule_unreasonable(order=fresh(primary), by=c.u_zhao, reason="重复无理诉求")
    assert fresh(primary).state == State.CLOSED
    assert (fresh(dup).state, fresh(dup).close_reason) == (State.CLOSED, CloseReason.DUPLICATE)


def test_a_duplicate_is_not_linked_to_a_primary_that_closed_meanwhile(world):
    """The dispatcher read the primary while it was open; it closed before the link was written. Linked
    anyway, the duplicate would wait for a close that already happened."""
    from core.errors import Conflict

    c = world.c
    primary = order_in(world, State.RESOLVED)
    read_earlier = fresh(primary)
    services.workorder_close(order=fresh(primary), by=c.u_zhao)
    dup = submit(world, by=c.u_liu, text="村口路灯坏了")
    with pytest.raises(Conflict) as exc:
        services.workorder_mark_duplicate(order=dup, primary=read_earlier, by=c.u_zhao)
    assert exc.value.code == "workorder.primary_finished"
    assert (fresh(dup).state, fresh(dup).primary_id) == (State.SUBMITTED, None)


def test_a_primary_with_duplicates_is_not_withdrawn_under_them(world, client_as):
    """张阿姨 withdraws her appeal, but 刘党员's was linked to it: his must not be stranded as a duplicate
    of a cancelled order, waiting for a close that never comes."""
    c = world.c
    primary = order_in(world, State.SUBMITTED)
    dup = submit(world, by=c.u_liu, text="村口路灯坏了")
    services.workorder_mark_duplicate(order=dup, primary=primary, by=c.u_zhao)
    r = post(client_as(c.u_zhang), f"/api/v1/workorders/{primary.pk}/cancel", {"note": "不用了"})
    assert (r.status_code, error_code(r)) == (409, "workorder.has_duplicates")
    assert fresh(primary).state == State.SUBMITTED
    assert fresh(dup).state == State.DUPLICATE


def test_reopen_after_a_bad_rating_then_callback(world, client_as, clock):
    c = world.c
    clock.set("2026-11-02T09:00")
    order = order_in(world, State.RESOLVED)
    zhang, zhao, feng = client_as(c.u_zhang), client_as(c.u_zhao), client_as(world.u_feng)
    r = post(zhang, f"/api/v1/workorders/{order.pk}/rate", {"solved": False, "satisfaction": 2, "comment": "没修好"})
    assert r.status_code == 200, r.content
    o = fresh(order)
    assert (o.state, o.round, o.callback_required, o.rate_by) == (State.REOPENED, 2, True, None)
    assert Message.objects.filter(user=c.u_zhao, kind="workorder.bad_rating").exists()
    # Rating twice in one round is refused, whatever the state.
    # Nothing to rate until it is handled again.
    r = post(zhang, f"/api/v1/workorders/{order.pk}/rate", {"solved": True, "satisfaction": 5})
    assert (r.status_code, error_code(r)) == (409, "workorder.not_resolved")
    # 重办: dispatched again with the rectification period.
    clock.set("2026-11-03T09:00")
    r = post(zhao, f"/api/v1/workorders/{order.pk}/dispatch", {"to": {"department_id": world.housing.pk}})
    assert r.status_code == 200
    o = fresh(order)
    assert o.due_at == workcal.add_working_days(clock.t, 5) == at("2026-11-11T00:00")
    post(feng, f"/api/v1/workorders/{order.pk}/accept")
    post(feng, f"/api/v1/workorders/{order.pk}/resolve", {"reply": "已重新更换线路"})
    # A rating in the new round is allowed.
    r = post(zhang, f"/api/v1/workorders/{order.pk}/rate", {"solved": True, "satisfaction": 4})
    assert r.status_code == 200 and r.json()["state"] == State.RATED
    assert list(Rating.objects.filter(order=order).order_by("round").values_list("round", "satisfaction")) == [
        (1, 2),
        (2, 4),
    ]
    # A reopened order closes only after a callback confirms it; the worker leaves it alone too.
    r = post(zhao, f"/api/v1/workorders/{order.pk}/close", {})
    assert (r.status_code, error_code(r)) == (409, "workorder.callback_required")
    assert fresh(order).state == State.RATED
    assert fresh(order).next_check_at is None
    r = post(zhao, f"/api/v1/workorders/{order.pk}/callback", {"reached": True, "solved": True, "satisfaction": 4})
    assert r.status_code == 200
    o = fresh(order)
    assert (o.state, o.close_reason, o.callback_required) == (State.CLOSED, CloseReason.CALLBACK, False)
    assert Callback.objects.get(order=o).round == 2


def test_callback_finding_it_unsolved_reopens(world, client_as):
    order = order_in(world, State.RATED)
    r = post(
        client_as(world.c.u_zhao),
        f"/api/v1/workorders/{order.pk}/callback",
        {"reached": True, "solved": False, "satisfaction": 2, "note": "仍不亮"},
    )
    assert r.status_code == 200
    o = fresh(order)
    assert (o.state, o.round, o.callback_required) == (State.REOPENED, 2, True)
    ev = Event.objects.filter(order=o).last()
    assert (ev.action, ev.from_state, ev.to_state) == ("callback", State.RATED, State.REOPENED)
    # A reached callback must say whether it was solved.
    o2 = order_in(world, State.RATED)
    r = post(client_as(world.c.u_zhao), f"/api/v1/workorders/{o2.pk}/callback", {"reached": True})
    assert r.status_code == 422
    assert not Callback.objects.filter(order=o2).exists()


def test_spot_check_is_recorded_only(world, client_as):
    order = order_in(world, State.RATED)
    r = post(
        client_as(world.c.u_qian),
        f"/api/v1/workorders/{order.pk}/callback",
        {"kind": "spot_check", "reached": True, "solved": False, "satisfaction": 2, "note": "抽查"},
    )
    assert r.status_code == 200, r.content
    o = fresh(order)
    assert (o.state, o.round) == (State.RATED, 1)
    cb = Callback.objects.get(order=o)
    assert (cb.kind, cb.solved, cb.satisfaction) == ("spot_check", False, 2)
    ev = Event.objects.filter(order=o).last()
    assert (ev.action, ev.from_state, ev.to_state, ev.public) == ("spot_check", "", "", False)


def test_rule_unreasonable_closes_and_is_excluded_from_assessment(world, client_as):
    order = order_in(world, State.REOPENED)
    r = post(
        client_as(world.c.u_zhao),
        f"/api/v1/workorders/{order.pk}/rule-unreasonable",
        {"reason": "诉求人要求超出政策范围"},
    )
    assert r.status_code == 200, r.content
    o = fresh(order)
    assert (o.state, o.close_reason, o.callback_required) == (State.CLOSED, CloseReason.UNREASONABLE, False)
    ev = Event.objects.filter(order=o).last()
    assert (ev.action, ev.data, ev.note) == ("rule_unreasonable", {"excluded": True}, "诉求人要求超出政策范围")
    # A reason is required.
    o2 = order_in(world, State.REOPENED)
    r = post(client_as(world.c.u_zhao), f"/api/v1/workorders/{o2.pk}/rule-unreasonable", {"reason": " "})
    assert r.status_code == 422
    assert fresh(o2).state == State.REOPENED


def test_a_reopened_duplicate_is_handled_and_tracked_on_its_own(world, client_as):
    """刘党员's duplicate closed with its primary, but his problem is still there: reopened, it is his
    own order again, and his tracking page must show its progress, not the finished primary's."""
    c = world.c
    primary = order_in(world, State.RESOLVED)
    dup = submit(world, by=c.u_liu, text="我家门口那盏路灯")
    services.workorder_mark_duplicate(order=dup, primary=primary, by=c.u_zhao)
    services.workorder_close(order=fresh(primary), by=c.u_zhao)
    assert fresh(dup).state == State.CLOSED
    zhao = client_as(c.u_zhao)
    r = post(zhao, f"/api/v1/workorders/{dup.pk}/reopen", {"reason": "刘党员来电：仍未修好"})
    assert r.status_code == 200, r.content
    d = fresh(dup)
    assert (d.state, d.primary_id, r.json()["primary_code"]) == (State.REOPENED, None, None)
    post(zhao, f"/api/v1/workorders/{dup.pk}/dispatch", {"to": {"department_id": world.housing.pk}})
    post(client_as(world.u_feng), f"/api/v1/workorders/{dup.pk}/accept")
    post(client_as(world.u_feng), f"/api/v1/workorders/{dup.pk}/resolve", {"reply": "已修好刘家门口路灯"})
    t = client_as(c.u_liu).get(f"/api/v1/track/{dup.tracking_code}").json()
    assert (t["state"], t["reply"], t["primary_code"]) == (State.RESOLVED, "已修好刘家门口路灯", None)
    assert t["events"][-1]["action"] == "resolve"
    # Closing the old primary again later does not drag it along.
    assert not WorkOrder.objects.filter(primary=primary).exclude(pk=dup.pk).exists()


def test_a_closed_order_can_be_reopened_by_the_dispatcher(world, client_as):
    order = order_in(world, State.CLOSED)
    r = post(client_as(world.c.u_zhao), f"/api/v1/workorders/{order.pk}/reopen", {"reason": "居民再次来电"})
    assert r.status_code == 200
    o = fresh(order)
    assert (o.state, o.round, o.closed_at, o.close_reason, o.callback_required) == (
        State.REOPENED,
        2,
        None,
        "",
        True,
    )


def test_the_public_timeline_never_names_clerks(world, client_as):
    order = order_in(world, State.CLOSED)
    public = client_as(None).get(f"/api/v1/track/{order.tracking_code}").content.decode()
    mine = client_as(world.c.u_zhang).get(f"/api/v1/workorders/{order.pk}").content.decode()
    for text in (public, mine):
        for name in ("冯科员", "赵调度"):
            assert name not in text
