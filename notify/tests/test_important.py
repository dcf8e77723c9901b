"""The important staff notices — extension requests, 督办, returns, reopens — go by SMS too (to the work
phone) and through the outbox; the rest stay in the inbox. Decided here by the message's kind, so the apps
that write the messages need not know."""

from __future__ import annotations

import datetime as dt
import io

import pytest
from django.core.management import call_command

from accounts.models import User
from core.clock import SHANGHAI
from notify import selectors, services
from notify.models import Message

pytestmark = pytest.mark.django_db

T0 = dt.datetime(2026, 11, 2, 9, 0, tzinfo=SHANGHAI)


@pytest.mark.parametrize(
    "kind",
    ["workorder.extension", "workorder.supervise", "workorder.returned", "workorder.bad_rating", "workorder.reopened"],
)
def test_an_important_notice_goes_by_sms_to_the_work_phone(county, gateway, at, kind):
    at(T0)
    # 李网格 has a work phone; by the user or by the id alone.
    m = services.message_queue(user=county.u_li, kind=kind, text="请处理", link="/workorders/1/")
    assert (m.channel, m.phone, m.send_after, m.sent_at) == (Message.Channel.SMS, "13312345678", T0, None)
    m2 = services.message_queue(user_id=county.u_li.pk, kind=kind, text="请处理")
    assert (m2.channel, m2.phone) == (Message.Channel.SMS, "13312345678")
    assert services.send_one() and services.send_one() and not services.send_one()
    assert gateway.sent == [("13312345678", "请处理")] * 2
    # Both are in the inbox too, unread.
    assert selectors.inbox_unread(county.u_li) == 2


def test_an_important_notice_to_someone_without_a_phone_stays_in_the_inbox(county, gateway, at):
    at(T0)
    assert county.u_zhao.work_phone == ""
    m = services.message_queue(user=county.u_zhao, kind="workorder.extension", text="x")
    assert (m.channel, m.phone, m.sent_at) == (Message.Channel.SITE, "", T0)
    assert services.send_one() is False


@pytest.mark.parametrize("kind", ["workorder.dispatched", "workorder.urge", "workorder.warn", "points", "t"])
def test_other_notices_stay_in_the_inbox(county, gateway, at, kind):
    at(T0)
    m = services.message_queue(user=county.u_li, kind=kind, text="x")
    assert (m.channel, m.phone, m.sent_at) == (Message.Channel.SITE, "", T0)
    assert services.send_one() is False and gateway.sent == []


def test_a_number_given_by_the_caller_is_kept(county, gateway, at):
    at(T0)
    m = services.message_queue(user=county.u_li, phone="13900009999", kind="workorder.returned", text="x")
    assert (m.channel, m.phone) == (Message.Channel.SMS, "13900009999")


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_run_outbox_sends_the_important_and_not_the_rest(county, gateway, at):
    at(T0)
    services.message_queue(user=county.u_li, kind="workorder.supervise", text="督办：请报告进展")
    services.message_queue(user=county.u_li, kind="workorder.dispatched", text="新工单")
    out = io.StringIO()
    call_command("run_outbox", "--once", stdout=out)
    assert out.getvalue().strip() == "sent 1"
    assert gateway.sent == [("13312345678", "督办：请报告进展")]


def test_the_work_order_notices_that_matter_are_texted(world, gateway):
    """Through the real work-order services: the kinds they write are the ones treated as important."""
    from workorders import services as wo
    from workorders.states import State
    from workorders.tests.helpers import fresh, order_in

    c = world.c
    User.objects.filter(pk__in=[c.u_zhao.pk, world.u_feng.pk]).update(work_phone="13700000001")

    def texted(kind: str) -> set[int]:
        return set(Message.objects.filter(kind=kind, channel=Message.Channel.SMS).values_list("user_id", flat=True))

    order = order_in(world, State.IN_PROGRESS)
    wo.extension_request(order=fresh(order), by=world.u_feng, days=2, reason="需要采购配件")
    assert c.u_zhao.pk in texted("workorder.extension")
    wo.workorder_supervise(order=fresh(order), by=c.u_zhao, level="supervise")
    assert world.u_feng.pk in texted("workorder.supervise")
    wo.workorder_supervise(order=fresh(order), by=c.u_zhao, level="urge")
    assert texted("workorder.urge") == set() and Message.objects.filter(kind="workorder.urge").exists()

    returned = order_in(world, State.DISPATCHED)
    wo.workorder_return(order=fresh(returned), by=world.u_feng, reason="不属于本单位")
    assert c.u_zhao.pk in texted("workorder.returned")

    order_in(world, State.REOPENED)
    assert c.u_zhao.pk in texted("workorder.bad_rating")
    # The dispatch itself is not: it is in the inbox only.
    assert texted("workorder.dispatched") == set()
    assert Message.objects.filter(kind="workorder.dispatched", user=world.u_feng).exists()
