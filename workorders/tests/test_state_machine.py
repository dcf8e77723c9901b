"""Random sequences of API calls on a few orders, by the persona whose job each call is.

Whatever the sequence: an order is always in a known state; the table in states.py allowed every move
that happened (and no other); each successful move wrote exactly one timeline event, chained to the one
before (from = the previous to); a closed primary closed its duplicates; and every refused call
answered 403/409 and changed nothing at all.
"""

from __future__ import annotations

from typing import Any

import pytest
from django.db.models import Count
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule, run_state_machine_as_test

from notify.models import Message
from workorders.models import Event, WorkOrder
from workorders.states import TRANSITIONS, Action, State
from workorders.tests.helpers import post, submit

pytestmark = pytest.mark.django_db

settings.register_profile(
    "workorders-state-machine",
    max_examples=30,
    stateful_step_count=20,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

ORDERS = 3
# The calls the machine makes, named after the action they attempt.
CALLS = [
    "dispatch",
    "reassign",
    "transfer",
    "accept",
    "return",
    "start",
    "suspend",
    "resume",
    "resolve",
    "answer",
    "rate_good",
    "rate_bad",
    "callback_solved",
    "callback_unsolved",
    "reopen",
    "rule_unreasonable",
    "close",
    "duplicate",
    "cancel",
]
ACTION_OF = {
    "rate_good": Action.RATE,
    "rate_bad": Action.RATE,
    "callback_solved": Action.CALLBACK,
    "callback_unsolved": Action.CALLBACK,
    "duplicate": Action.MARK_DUPLICATE,
}
HANDLER_CALLS = frozenset({"transfer", "accept", "return", "start", "suspend", "resume", "resolve"})
OWNER_CALLS = frozenset({"rate_good", "rate_bad", "cancel"})


@pytest.mark.slow
def test_random_sequences_keep_the_invariants(world, client_as):
    c = world.c
    clients = {u.pk: client_as(u) for u in (c.u_zhao, c.u_zhang, world.u_feng, c.u_wang)}
    depts = {world.housing.pk: world.u_feng, c.civil_affairs.pk: c.u_wang}
    other_dept = {world.housing.pk: c.civil_affairs.pk, c.civil_affairs.pk: world.housing.pk}

    class Orders(RuleBasedStateMachine):
        @initialize()
        def fresh_orders(self) -> None:
            # The database is not rolled back between examples: each example gets orders of its own.
            self.ids = [submit(world, text=f"路灯坏了，第{n}处").pk for n in range(ORDERS)]
            self.expected = dict.fromkeys(self.ids, 0)  # successful moves per order
            self.calls = 0

        def snapshot(self) -> dict[int, tuple]:
            rows = (
                WorkOrder.objects.filter(pk__in=self.ids)
                .annotate(n_events=Count("events"))
                .values_list(
                    "pk",
                    "state",
                    "round",
                    "department_id",
                    "primary_id",
                    "close_reason",
                    "updated_at",
                    "due_at",
                    "n_events",
                )
            )
            out: dict[Any, tuple] = {r[0]: r[1:] for r in rows}
            out["messages"] = (Message.objects.count(),)
            return out

        @rule(i=st.integers(0, ORDERS - 1), j=st.integers(0, ORDERS - 1), call=st.sampled_from(CALLS))
        def step(self, i: int, j: int, call: str) -> None:
            oid = self.ids[i]
            before = self.snapshot()
            order = WorkOrder.objects.get(pk=oid)
            state = order.state
            action = ACTION_OF.get(call, call)
            if call in HANDLER_CALLS:
                user = depts.get(order.department_id, world.u_feng)
            elif call in OWNER_CALLS:
                user = c.u_zhang
            else:
                user = c.u_zhao
            current = order.department_id or world.housing.pk
            bodies: dict[str, Any] = {
                "dispatch": {"to": {"department_id": world.housing.pk}},
                "reassign": {"to": {"department_id": other_dept[current]}, "note": "改派"},
                "transfer": {"to": {"department_id": other_dept[current]}, "note": "转办"},
                "accept": None,
                "return": {"reason": "不属于本单位"},
                "start": {},
                "suspend": {"reason": "等待居民"},
                "resume": {},
                "resolve": {"reply": "已处理"},
                "answer": {"reply": "已答复"},
                "rate_good": {"solved": True, "satisfaction": 5},
                "rate_bad": {"solved": False, "satisfaction": 1},
                "callback_solved": {"reached": True, "solved": True},
                "callback_unsolved": {"reached": True, "solved": False},
                "reopen": {"reason": "重办"},
                "rule_unreasonable": {"reason": "甄别"},
                "close": {},
                "duplicate": {"primary_id": self.ids[j]},
                "cancel": {},
            }
            path = {"rule_unreasonable": "rule-unreasonable"}.get(call, call.split("_")[0])
            r = post(clients[user.pk], f"/api/v1/workorders/{oid}/{path}", bodies[call])
            after = self.snapshot()
            allowed = state in TRANSITIONS[action]
            if r.status_code == 200:
                new_state = after[oid][0]
                if action == Action.CALLBACK and state == State.CLOSED:
                    # A callback on a closed order is a record, not a move.
                    assert new_state == State.CLOSED
                else:
                    assert allowed, (call, state)
                    assert new_state in TRANSITIONS[action][state], (call, state, new_state)
                    self.expected[oid] += 1
                # Only its duplicates may have moved with it (closed with their primary).
                for other in self.ids:
                    if other == oid or before[other] == after[other]:
                        continue
                    assert (before[other][0], after[other][0]) == (State.DUPLICATE, State.CLOSED), call
                    assert before[other][3] == oid
                    self.expected[other] += 1
            else:
                ok = {403, 409}
                if call in HANDLER_CALLS and order.department_id is None:
                    ok.add(404)  # nobody handles it: the would-be handler does not even see it
                if call == "duplicate":
                    ok.add(422)  # linking an order to itself (directly or through its duplicate)
                assert r.status_code in ok, (call, state, r.status_code, r.content)
                assert after == before, (call, state)

        @invariant()
        def orders_are_consistent(self) -> None:
            if not hasattr(self, "ids"):
                return
            orders = WorkOrder.objects.select_related("primary").in_bulk(self.ids)
            all_moves: dict[int, list[tuple[str, str, str]]] = {oid: [] for oid in self.ids}
            for oid, *move in (
                Event.objects.filter(order_id__in=self.ids)
                .exclude(from_state="")
                .order_by("id")
                .values_list("order_id", "action", "from_state", "to_state")
            ):
                all_moves[oid].append(tuple(move))
            for oid in self.ids:
                o = orders[oid]
                assert o.state in State.values
                moves = all_moves[oid]
                assert len(moves) == self.expected[oid], (oid, moves)
                # A chain: each move starts where the one before ended, and the last ends where the order is.
                prev = State.SUBMITTED
                for action, frm, to in moves:
                    assert frm == prev, moves
                    assert to in TRANSITIONS[action][frm], (action, frm, to)
                    prev = to
                assert prev == o.state
                if o.state == State.DUPLICATE:
                    # Never stranded: its primary is still going (it closes them when it closes).
                    assert o.primary_id is not None and o.primary.state not in (State.CLOSED, State.CANCELLED)

    run_state_machine_as_test(Orders, settings=settings.get_profile("workorders-state-machine"))
