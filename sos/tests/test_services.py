"""One-key call through its services: the register and its default chain, raising (and pressing twice),
the escalation ladder on a controlled clock, acknowledging (and two at once), handling, cancelling."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import transaction

from core.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from notify.models import Message
from sos import services
from sos.models import Call, CallEvent, Responder
from sos.selectors import calls_for
from sos.states import State
from workorders.tests.helpers import Clock

pytestmark = pytest.mark.django_db

T0 = dt.datetime(2026, 11, 23, 20, 0, tzinfo=dt.UTC)


@pytest.fixture
def clock():
    c = Clock()
    c.set(T0)
    yield c
    c.reset()


def alerts(call):
    return list(
        CallEvent.objects.filter(call=call, action="alert")
        .order_by("id")
        .values_list("level", "to_users", "data__stage")
    )


def test_the_default_chain_follows_the_tree_and_the_links(world, care):
    c = world.c
    chain = list(care.chain.order_by("position").values_list("kind", "user_id"))
    assert chain == [
        (Responder.Kind.GRID_WORKER, c.u_li.pk),
        (Responder.Kind.PARTY_MEMBER, c.u_liu.pk),  # 刘党员 is linked to her household
        (Responder.Kind.VOLUNTEER, c.u_zheng.pk),
        (Responder.Kind.VILLAGE_DUTY, c.u_zhou.pk),
    ]


def test_escalation_climbs_the_ladder_on_time_and_in_order(world, care, clock):
    c = world.c
    call = services.call_raise(profile=care, kind="emergency", channel="button", by=c.u_zhang).call
    assert (call.state, call.stage, call.level) == (State.RAISED, "chain", 0)
    assert call.escalate_at == T0 + dt.timedelta(seconds=60)
    assert alerts(call) == [(0, [c.u_li.pk], "chain")]
    assert Message.objects.filter(kind="sos.family", phone="13900001111").count() == 1  # her son is told

    clock.advance(seconds=59)
    assert services.escalate_one() is False  # not yet
    expected = [
        [c.u_li.pk], [c.u_liu.pk], [c.u_zheng.pk], [c.u_zhou.pk],  # the chain
        [c.u_zhou.pk],  # the village
        [c.u_zhao.pk],  # the command centre (the county's dispatcher)
    ]  # fmt: skip
    for step in range(1, 6):
        clock.advance(seconds=1 if step == 1 else 0)
        due = Call.objects.get(pk=call.pk).escalate_at
        clock.set(due)
        assert services.escalate_one() is True
        assert [u for _lvl, u, _s in alerts(call)] == expected[: step + 1]
    call.refresh_from_db()
    assert (call.stage, call.level, call.escalate_at) == ("centre", 5, None)
    stages = [s for _l, _u, s in alerts(call)]
    assert stages == ["chain", "chain", "chain", "chain", "village", "centre"]
    clock.advance(hours=1)
    assert services.escalate_one() is False  # the top: it stays on the board, no more alerts


def test_village_waits_longer_than_a_rung(world, care, clock, settings):
    c = world.c
    call = services.call_raise(profile=care, kind="emergency", channel="button", by=c.u_zhang).call
    for _ in range(4):
        clock.set(Call.objects.get(pk=call.pk).escalate_at)
        services.escalate_one()
    call.refresh_from_db()
    assert call.stage == "village"
    assert call.escalate_at == clock.t + dt.timedelta(seconds=settings.GONGZHI["SOS"]["VILLAGE_SECONDS"]["emergency"])


def test_acknowledging_stops_the_escalation_and_tells_the_others(world, care, clock):
    c = world.c
    call = services.call_raise(profile=care, kind="emergency", channel="button", by=c.u_zhang).call
    clock.set(call.escalate_at)
    services.escalate_one()  # 刘党员 alerted too
    clock.advance(seconds=10)
    services.call_acknowledge(call=Call.objects.get(pk=call.pk), by=c.u_liu)
    call.refresh_from_db()
    assert (call.state, call.responder_id, call.escalate_at) == (State.ACKNOWLEDGED, c.u_liu.pk, None)
    assert call.acknowledged_at == clock.t
    clock.advance(hours=2)
    assert services.escalate_one() is False
    assert Message.objects.filter(kind="sos.taken", user=c.u_li).count() == 1
    assert Message.objects.filter(kind="sos.coming", user=c.u_zhang).count() == 1


def test_a_second_acknowledgement_is_told_who_has_it(world, care, clock):
    c = world.c
    call = services.call_raise(profile=care, kind="emergency", channel="button", by=c.u_zhang).call
    stale = Call.objects.get(pk=call.pk)
    services.call_acknowledge(call=Call.objects.get(pk=call.pk), by=c.u_li)
    with pytest.raises(Conflict) as exc, transaction.atomic():
        services.call_acknowledge(call=stale, by=c.u_liu)
    assert exc.value.code == "sos.already_acknowledged"
    assert "李网格" in str(exc.value.message)
    assert Call.objects.get(pk=call.pk).responder_id == c.u_li.pk
    assert CallEvent.objects.filter(call=call, action="acknowledge").count() == 1


def test_a_retried_press_makes_one_call(world, care):
    c = world.c
    a = services.call_raise(profile=care, kind="emergency", channel="button", by=c.u_zhang, idempotency_key="p1")
    b = services.call_raise(profile=care, kind="emergency", channel="button", by=c.u_zhang, idempotency_key="p1")
    assert (a.created, b.created, a.call.pk) == (True, False, b.call.pk)
    d1 = services.call_raise(
        profile=care, kind="emergency", channel="device", by=c.u_li, idempotency_key="x", device_id="box-1"
    )
    d2 = services.call_raise(
        profile=care, kind="emergency", channel="device", by=c.u_zhou, idempotency_key="x", device_id="box-1"
    )
    assert (d1.created, d2.created, d1.call.pk) == (True, False, d2.call.pk)
    assert Call.objects.count() == 2
    assert CallEvent.objects.filter(action="alert").count() == 2


def test_only_her_and_staff_over_her_grid_may_raise_her_call(world, care):
    c = world.c
    for outsider in (c.u_wang, c.u_sun, c.u_zheng):  # department clerk, another village's grid worker, volunteer
        with pytest.raises(NotFound):
            services.call_raise(profile=care, kind="emergency", channel="staff", by=outsider)
    assert services.call_raise(profile=care, kind="service", channel="hotline", by=c.u_zhao).created
    assert Call.objects.count() == 1


def test_a_resident_sees_only_her_own_calls(world, care):
    c = world.c
    services.call_raise(profile=care, kind="emergency", channel="button", by=c.u_zhang)
    chen = services.care_register(resident=c.chen, by=c.u_zhou)  # 陈大爷, grid A2 of the same village
    services.call_raise(profile=chen, kind="service", channel="staff", by=c.u_zhou)
    assert calls_for(c.u_zhang).count() == 1
    assert calls_for(c.u_li).count() == 1  # her grid worker; 陈大爷 is not in his grid nor his chain
    assert calls_for(c.u_liu).count() == 2  # the party member linked to both households
    assert calls_for(c.u_zhou).count() == 2  # the village
    assert calls_for(c.u_sun).count() == 0  # another village's grid worker
    assert calls_for(c.u_wang).count() == 0  # a department clerk


def test_only_responders_and_staff_may_acknowledge(world, care):
    c = world.c
    call = services.call_raise(profile=care, kind="emergency", channel="button", by=c.u_zhang).call
    for outsider in (c.u_zhang, c.u_sun, c.u_wang):
        with pytest.raises(PermissionDenied), transaction.atomic():
            services.call_acknowledge(call=call, by=outsider)
    assert Call.objects.get(pk=call.pk).state == State.RAISED


def test_handling_to_the_end_and_the_next_days_visit(world, care, clock):
    c = world.c
    call = services.call_raise(profile=care, kind="emergency", channel="button", by=c.u_zhang).call
    services.call_acknowledge(call=call, by=c.u_li)
    with pytest.raises(PermissionDenied), transaction.atomic():
        services.call_depart(call=call, by=c.u_liu)  # not the one who took it
    clock.advance(minutes=2)
    services.call_depart(call=call, by=c.u_li)
    clock.advance(minutes=8)
    services.call_arrive(call=call, by=c.u_li)
    with pytest.raises(ValidationFailed):
        services.call_resolve(call=call, by=c.u_li, outcome="")
    services.call_resolve(call=call, by=c.u_li, outcome="量了血压，送到卫生院", minutes_spent=45)
    call.refresh_from_db()
    assert call.state == State.RESOLVED
    # 20:00 UTC is 04:00 the next morning in Shanghai: the visit is due at 09:00 the day after that.
    assert call.followup_at == dt.datetime(2026, 11, 25, 1, 0, tzinfo=dt.UTC)
    assert list(CallEvent.objects.filter(call=call).exclude(action="alert").values_list("action", flat=True)) == [
        "raise", "acknowledge", "depart", "arrive", "resolve",
    ]  # fmt: skip
    clock.set(call.followup_at)
    assert services.followup_one() is True
    assert services.followup_one() is False
    assert Message.objects.filter(kind="sos.followup", user=c.u_li).count() == 1
    services.call_follow_up(call=call, by=c.u_li, note="血压稳定")
    with pytest.raises(Conflict):
        services.call_follow_up(call=call, by=c.u_li, note="again")


def test_refused_steps_are_409_and_change_nothing(world, care):
    c = world.c
    call = services.call_raise(profile=care, kind="service", channel="button", by=c.u_zhang).call
    for step in (services.call_depart, services.call_arrive):
        with pytest.raises(Conflict) as exc, transaction.atomic():
            step(call=Call.objects.get(pk=call.pk), by=c.u_li)
        assert exc.value.code == "sos.transition_not_allowed"
    with pytest.raises(Conflict), transaction.atomic():
        services.call_resolve(call=Call.objects.get(pk=call.pk), by=c.u_li, outcome="做完了")
    assert Call.objects.get(pk=call.pk).state == State.RAISED


def test_a_pocket_press_can_be_taken_back_only_at_once(world, care, clock):
    c = world.c
    call = services.call_raise(profile=care, kind="emergency", channel="button", by=c.u_zhang).call
    clock.advance(seconds=5)
    services.call_cancel(call=call, by=c.u_zhang)
    assert Call.objects.get(pk=call.pk).state == State.CANCELLED
    late = services.call_raise(profile=care, kind="emergency", channel="button", by=c.u_zhang).call
    clock.advance(seconds=30)
    with pytest.raises(Conflict) as exc, transaction.atomic():
        services.call_cancel(call=late, by=c.u_zhang)
    assert exc.value.code == "sos.cancel_too_late"
    with pytest.raises(ValidationFailed):
        services.call_cancel(call=late, by=c.u_li)  # staff must say why
    services.call_cancel(call=late, by=c.u_li, note="电话回访，误按")
    clock.advance(hours=1)
    assert services.escalate_one() is False


def test_a_service_need_becomes_a_work_order(world, care):
    c = world.c
    call = services.call_raise(profile=care, kind="service", channel="button", by=c.u_zhang).call
    services.call_acknowledge(call=call, by=c.u_li)
    services.call_to_workorder(call=call, by=c.u_li, text="家里水管漏水，需要维修", category=world.streetlight)
    call.refresh_from_db()
    order = call.workorder
    assert (order.owner_id, order.submitted_by_id, order.channel) == (c.zhang.pk, c.u_li.pk, "proxy")
    with pytest.raises(Conflict):
        services.call_to_workorder(call=call, by=c.u_li, text="again", category=world.streetlight)


def test_register_refusals(world, care):
    c = world.c
    with pytest.raises(Conflict):
        services.care_register(resident=c.zhang, by=c.u_li)
    with pytest.raises(NotFound):
        services.care_register(resident=c.chen, by=c.u_sun)  # not his village
    with pytest.raises(ValidationFailed):
        services.care_register(resident=c.chen, by=c.u_zhou, reasons=["rich"])
    with pytest.raises(ValidationFailed):
        services.chain_set(profile=care, rungs=[], by=c.u_li)


def test_each_escalation_records_how_late_it_fired(world, care, clock):
    c = world.c
    call = services.call_raise(profile=care, kind="emergency", channel="button", by=c.u_zhang).call
    clock.set(call.escalate_at + dt.timedelta(seconds=3))
    services.escalate_one()
    first, second = CallEvent.objects.filter(call=call, action="alert").order_by("id")
    assert "late_ms" not in first.data  # raised, not escalated
    assert second.data == {"stage": "chain", "phones": 0, "late_ms": 3000}


@pytest.mark.parametrize("who", ["u_sun", "u_wang", "u_zhang", "nobody", "inactive"])
def test_a_chain_takes_only_people_who_serve_the_residents_place(world, care, who):
    """Another town's grid worker, a department clerk, the resident herself, a login with no role, a
    village cadre switched off: none may answer her calls (they would see them), and nothing changes."""
    from accounts import services as accounts

    c = world.c
    if who == "nobody":
        user = accounts.user_create(username="x", password=None, display_name="无角色")
    elif who == "inactive":
        user = c.u_zhou
        user.is_active = False
        user.save()
    else:
        user = getattr(c, who)
    before = list(care.chain.values_list("position", "user_id", "name"))
    with pytest.raises(ValidationFailed) as refused:
        services.chain_set(
            profile=care, by=c.u_li,
            rungs=[{"user": c.u_li, "kind": "grid_worker"}, {"user": user, "kind": "other"}],
        )  # fmt: skip
    assert list(refused.value.fields) == ["chain"]
    assert list(care.chain.values_list("position", "user_id", "name")) == before


def test_the_candidates_are_the_places_staff_party_members_and_volunteers(world, care):
    c = world.c
    assert set(services.chain_candidates(profile=care)) == {
        c.u_li, c.u_zhou, c.u_liu, c.u_zheng, c.u_wu, c.u_zhao, c.u_qian, c.u_admin,
    }  # fmt: skip
