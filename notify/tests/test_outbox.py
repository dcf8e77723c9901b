"""The outbox: messages written with the change they tell about, SMS handed to the gateway afterwards,
once, with retries and backoff when the gateway fails."""

from __future__ import annotations

import datetime as dt
import io

import pytest
from django.core.management import call_command
from django.db import transaction

from core import clock
from core.clock import SHANGHAI
from notify import selectors, services
from notify.gateways import FakeGateway, LoggingGateway, get_gateway
from notify.models import Message

pytestmark = pytest.mark.django_db

T0 = dt.datetime(2026, 11, 2, 9, 0, tzinfo=SHANGHAI)


@pytest.fixture
def gateway(settings):
    settings.NOTIFY_GATEWAY = "notify.gateways.FakeGateway"
    FakeGateway.sent = []
    FakeGateway.fail = False
    yield FakeGateway
    FakeGateway.sent = []
    FakeGateway.fail = False


@pytest.fixture
def at():
    """at(t): `core.clock.now()` is t until the test ends (or the next call)."""
    tokens = []

    def set_(t: dt.datetime) -> dt.datetime:
        tokens.append(clock._frozen.set(t))
        return t

    yield set_
    if tokens:
        clock._frozen.reset(tokens[0])


def test_site_messages_are_delivered_when_written(county, gateway, at):
    at(T0)
    m = services.message_queue(user=county.u_zhang, kind="test", text="您的诉求已受理")
    assert (m.channel, m.sent_at, m.send_after, m.phone) == (Message.Channel.SITE, T0, None, "")
    assert services.send_one() is False
    assert gateway.sent == []
    # An SMS asked for without a phone number stays in the inbox.
    m = services.message_queue(user=county.u_zhang, kind="test", text="x", sms=True)
    assert m.channel == Message.Channel.SITE
    # Nobody to tell: nothing written.
    assert services.message_queue(kind="test", text="x") is None
    assert Message.objects.count() == 2


def test_an_sms_is_sent_once(county, gateway, at):
    at(T0)
    m = services.message_queue(user=county.u_zhang, phone="13800001234", kind="t", text="已办结，请评价", sms=True)
    assert (m.channel, m.sent_at, m.send_after) == (Message.Channel.SMS, None, T0)
    assert services.send_one() is True
    assert services.send_one() is False
    assert gateway.sent == [("13800001234", "已办结，请评价")]
    m.refresh_from_db()
    assert (m.sent_at, m.attempts, m.last_error) == (T0, 1, "")
    # A message with no account (a caller known only by phone) is sent too.
    services.message_queue(phone="13012345678", kind="t", text="回执", sms=True)
    assert services.send_one() is True
    assert gateway.sent[-1] == ("13012345678", "回执")


def test_a_failed_send_is_retried_with_backoff(county, gateway, at):
    at(T0)
    m = services.message_queue(user=county.u_zhang, phone="13800001234", kind="t", text="提醒", sms=True)
    gateway.fail = True
    assert services.send_one() is True
    m.refresh_from_db()
    assert (m.sent_at, m.attempts, m.last_error) == (None, 1, "gateway down")
    assert m.send_after == T0 + dt.timedelta(seconds=15)
    assert services.send_one() is False  # not before the backoff
    at(T0 + dt.timedelta(seconds=15))
    assert services.send_one() is True
    m.refresh_from_db()
    assert m.attempts == 2 and m.send_after == T0 + dt.timedelta(seconds=15 + 30)  # doubled
    gateway.fail = False
    at(T0 + dt.timedelta(seconds=45))
    assert services.send_one() is True
    m.refresh_from_db()
    assert (m.sent_at, m.attempts, m.last_error) == (T0 + dt.timedelta(seconds=45), 3, "")
    assert gateway.sent == [("13800001234", "提醒")]
    assert services.send_one() is False


def test_a_message_that_never_goes_through_is_given_up(county, gateway, at):
    t = at(T0)
    m = services.message_queue(user=county.u_zhang, phone="13800001234", kind="t", text="x", sms=True)
    gateway.fail = True
    for _ in range(services.MAX_ATTEMPTS):
        assert services.send_one() is True
        m.refresh_from_db()
        t = at(m.send_after)
    assert services.send_one() is False
    m.refresh_from_db()
    assert (m.attempts, m.sent_at) == (services.MAX_ATTEMPTS, None)
    # The backoff is capped at an hour.
    assert services._backoff(20) == dt.timedelta(hours=1)
    assert t <= T0 + dt.timedelta(hours=services.MAX_ATTEMPTS)


def test_a_claimed_message_is_not_sent_twice(county, gateway, at):
    """Two senders read the same row; the second's compare-and-set finds it taken."""
    at(T0)
    m = services.message_queue(user=county.u_zhang, phone="13800001234", kind="t", text="x", sms=True)
    # Another sender claimed it a moment ago (pushed send_after forward) and is still sending.
    Message.objects.filter(pk=m.pk).update(send_after=T0 + dt.timedelta(seconds=15), attempts=1)
    assert services.send_one() is False
    assert gateway.sent == []


def test_nothing_is_sent_for_a_change_that_rolled_back(county, gateway, at):
    at(T0)

    @transaction.atomic
    def failing_change():
        services.message_queue(user=county.u_zhang, phone="13800001234", kind="t", text="x", sms=True)
        raise RuntimeError("the change failed")

    with pytest.raises(RuntimeError):
        failing_change()
    assert not Message.objects.exists()
    assert services.send_one() is False


def test_messages_are_sent_oldest_first(county, gateway, at):
    at(T0)
    services.message_queue(phone="13000000001", kind="t", text="first", sms=True)
    at(T0 + dt.timedelta(seconds=1))
    services.message_queue(phone="13000000002", kind="t", text="second", sms=True)
    while services.send_one():
        pass
    assert [t for _, t in gateway.sent] == ["first", "second"]


def test_inbox(county, at):
    at(T0)
    for i in range(3):
        services.message_queue(user=county.u_zhang, kind="t", text=f"m{i}")
    services.message_queue(user=county.u_li, kind="t", text="other")
    assert selectors.inbox_unread(county.u_zhang) == 3
    first = Message.objects.filter(user=county.u_zhang).order_by("id").first()
    assert services.inbox_mark_read(user=county.u_zhang, ids=[first.pk]) == 1
    assert selectors.inbox_unread(county.u_zhang) == 2
    # Someone else's message ids are not theirs to mark.
    other = Message.objects.get(user=county.u_li)
    assert services.inbox_mark_read(user=county.u_zhang, ids=[other.pk]) == 0
    assert services.inbox_mark_read(user=county.u_zhang) == 2
    assert selectors.inbox_unread(county.u_zhang) == 0
    assert selectors.inbox_unread(county.u_li) == 1


def test_long_texts_are_cut_to_fit(county):
    m = services.message_queue(user=county.u_zhang, kind="t", text="长" * 600, link="/x" * 200)
    assert (len(m.text), len(m.link)) == (500, 200)


def test_the_default_gateway_logs_with_the_number_masked(settings, caplog):
    settings.NOTIFY_GATEWAY = "notify.gateways.LoggingGateway"
    gw = get_gateway()
    assert isinstance(gw, LoggingGateway)
    with caplog.at_level("INFO", logger="gongzhi.notify"):
        gw.send(phone="13800001234", text="您好")
    assert "138****1234" in caplog.text and "13800001234" not in caplog.text


# The sender closes stale connections between steps, which a test transaction does not survive.
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_run_outbox_once_drains(county, gateway, at):
    at(T0)
    for i in range(3):
        services.message_queue(user=county.u_zhang, phone=f"1380000000{i}", kind="t", text=f"m{i}", sms=True)
    services.message_queue(user=county.u_zhang, kind="t", text="site only")
    out = io.StringIO()
    call_command("run_outbox", "--once", stdout=out)
    assert out.getvalue().strip() == "sent 3"
    assert len(gateway.sent) == 3
    assert not Message.objects.filter(sent_at__isnull=True).exists()
    call_command("run_outbox", "--once", stdout=out)
    assert out.getvalue().strip().endswith("sent 0")
    assert len(gateway.sent) == 3
