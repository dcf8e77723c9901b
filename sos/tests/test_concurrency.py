"""Real concurrent writers on one call: two responders acknowledging at once, two escalation workers."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection, transaction

from core.errors import Conflict
from sos import services
from sos.models import Call, CallEvent
from sos.states import State
from workorders.tests.helpers import Clock
from workorders.tests.test_concurrency import run_threads

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)


def test_two_responders_acknowledge_at_once_one_owns_it_the_other_is_told(world):
    c = world.c
    profile = services.care_register(resident=c.zhang, by=c.u_li)
    for _ in range(5):
        call = services.call_raise(profile=profile, kind="emergency", channel="button", by=c.u_zhang).call
        who = [c.u_li, c.u_liu]

        def ack(i, go, call=call, who=who):
            stale = Call.objects.select_related("profile__resident").get(pk=call.pk)
            go()
            try:
                with transaction.atomic():
                    services.call_acknowledge(call=stale, by=who[i])
            except Conflict as exc:
                return exc.code
            return "ok"

        results = run_threads(2, ack)
        assert sorted(results) == ["ok", "sos.already_acknowledged"], results
        assert CallEvent.objects.filter(call=call, action="acknowledge").count() == 1
        assert Call.objects.get(pk=call.pk).state == State.ACKNOWLEDGED


def test_two_escalation_workers_fire_each_rung_exactly_once(world):
    c = world.c
    profile = services.care_register(resident=c.zhang, by=c.u_li)
    clock = Clock()
    t0 = clock.set(dt.datetime(2026, 11, 23, 2, 0, tzinfo=dt.UTC))
    calls = [
        services.call_raise(profile=profile, kind="emergency", channel="staff", by=c.u_zhou).call for _ in range(6)
    ]
    clock.reset()

    def work(i, go):
        go()
        n = 0
        steps = Clock()
        try:
            for k in range(1, 12):  # time passes in steps longer than any rung: the ladder climbs to the top
                steps.set(t0 + dt.timedelta(seconds=200 * k))
                while services.escalate_one():
                    n += 1
        finally:
            steps.reset()
            connection.close()
        return n

    run_threads(2, work)
    for call in calls:
        levels = list(CallEvent.objects.filter(call=call, action="alert").values_list("level", flat=True))
        assert levels == [0, 1, 2, 3, 4, 5], levels  # four rungs, the village, the centre: each once
        assert Call.objects.get(pk=call.pk).stage == "centre"
