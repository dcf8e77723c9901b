"""Webhooks: events published in other apps' transactions, one delivery per subscription that wants them, POSTed
by the worker signed, retried with backoff, logged attempt by attempt, given up, and subscriptions that keep
failing turned off with their managers told. Every receiver is a fake on 127.0.0.1 (test_webhooks_receiver)."""

from __future__ import annotations

import datetime as dt
import io
import json
import threading
import time

import pytest
from django.core.management import call_command
from django.db import connection, transaction

from core import signing
from core.clock import SHANGHAI
from core.errors import NotFound, PermissionDenied, ValidationFailed
from core.worker import claim_due
from notify import webhooks
from notify.models import Delivery, DeliveryAttempt, Message, Subscription
from notify.tests.test_webhooks_receiver import Answer, Receiver, free_port

pytestmark = pytest.mark.django_db

T0 = dt.datetime(2026, 11, 2, 9, 0, tzinfo=SHANGHAI)
RESOLVED = "workorder.resolved"


@pytest.fixture
def receiver():
    with Receiver() as r:
        yield r


@pytest.fixture
def conf(settings):
    """conf(KEY=value, …): the webhooks' settings for this test."""

    def set_(**kw):
        settings.GONGZHI = {**settings.GONGZHI, "WEBHOOKS": {**settings.GONGZHI["WEBHOOKS"], **kw}}

    return set_


def subscribe(county, url: str, events=(RESOLVED,), **kw) -> Subscription:
    return webhooks.subscription_create(by=county.u_admin, name="12345热线", url=url, events=list(events), **kw)


def listen(receiver: Receiver, sub: Subscription) -> Receiver:
    receiver.secret = sub.secret
    return receiver


def deliveries(**kw) -> list[Delivery]:
    return list(Delivery.objects.filter(**kw).order_by("id"))


def log_of(d: Delivery) -> list[tuple]:
    return list(d.attempt_log.order_by("id").values_list("status_code", "error"))


# --- publishing ---------------------------------------------------------------------------------------------


def test_without_subscriptions_publish_writes_nothing_and_runs_no_query(county, steady_memo, django_assert_num_queries):
    webhooks.publish(RESOLVED, {"code": "A1"})  # the first look reads the database (and keeps what it read)
    with django_assert_num_queries(0):
        assert webhooks.publish(RESOLVED, {"code": "A1"}) == 0
        assert webhooks.publish("sos.raised", {"id": 1}, path=county.a1.path) == 0
    assert not Delivery.objects.exists()


def test_an_event_nobody_wants_runs_no_query_even_with_subscriptions(county, steady_memo, django_assert_num_queries):
    subscribe(county, "https://hotline.example.gov.cn/hook", events=["sos.raised"])
    webhooks.publish(RESOLVED, {})
    with django_assert_num_queries(0):
        assert webhooks.publish(RESOLVED, {"code": "A1"}) == 0
    # The one that is wanted: one INSERT for all its deliveries.
    with django_assert_num_queries(1):
        assert webhooks.publish("sos.raised", {"id": 7}) == 1


def test_wanted_says_whether_to_build_a_payload_without_a_query(county, steady_memo, django_assert_num_queries):
    webhooks.wanted(RESOLVED)
    with django_assert_num_queries(0):
        assert webhooks.wanted(RESOLVED) is False
    subscribe(county, "https://town.example/hook", node=county.t1)
    webhooks.wanted(RESOLVED)
    with django_assert_num_queries(0):
        assert webhooks.wanted(RESOLVED) is True
        assert webhooks.wanted(RESOLVED, path=county.a1.path) is True
        assert webhooks.wanted(RESOLVED, path=county.c1.path) is False
        assert webhooks.wanted("sos.raised") is False
    with pytest.raises(ValueError, match="unknown"):
        webhooks.wanted("workorder.deleted")


def test_an_unknown_event_type_is_refused(county):
    with pytest.raises(ValueError, match=r"workorder\.resolve"):
        webhooks.publish("workorder.resolve", {})
    with pytest.raises(TypeError):
        webhooks.publish(RESOLVED, ["not", "a", "dict"])  # type: ignore[arg-type]
    assert not Delivery.objects.exists()


def test_one_delivery_per_subscription_that_wants_the_event_with_one_event_id(county, at):
    at(T0)
    a = subscribe(county, "https://a.example/hook", events=[RESOLVED])
    b = subscribe(county, "https://b.example/hook", events=["workorder.submitted", RESOLVED])
    subscribe(county, "https://c.example/hook", events=["workorder.submitted"])
    off = subscribe(county, "https://d.example/hook", events=[RESOLVED])
    webhooks.subscription_disable(subscription=off, by=county.u_admin)
    at(T0 + dt.timedelta(minutes=1))
    assert webhooks.publish(RESOLVED, {"code": "2026A", "标题": "路灯不亮", "at": T0}, at=T0) == 2
    ds = deliveries()
    assert [d.subscription_id for d in ds] == [a.pk, b.pk]
    assert len({d.event_id for d in ds}) == 1 and len(ds[0].event_id) == 32
    d = ds[0]
    assert (d.event_type, d.state, d.attempts, d.event_at, d.created_at) == (
        RESOLVED, "pending", 0, T0, T0 + dt.timedelta(minutes=1),
    )  # fmt: skip
    assert d.next_attempt_at == T0 + dt.timedelta(minutes=1)
    d.refresh_from_db()
    assert d.payload == {"code": "2026A", "标题": "路灯不亮", "at": "2026-11-02T09:00:00+08:00"}
    # Another event: another id.
    webhooks.publish(RESOLVED, {})
    assert len(set(Delivery.objects.values_list("event_id", flat=True))) == 2


def test_a_subscription_hears_of_the_events_of_its_area(county):
    town = subscribe(county, "https://town.example/hook", node=county.t1)
    everywhere = subscribe(county, "https://county.example/hook")
    assert webhooks.publish(RESOLVED, {}, path=county.a1.path) == 2  # a grid of 东镇
    assert webhooks.publish(RESOLVED, {}, path=county.c1.path) == 1  # 南镇: not the town's
    # An event without a place goes only to the subscriptions over a whole tree.
    assert webhooks.publish(RESOLVED, {}) == 1
    assert Delivery.objects.filter(subscription=town).count() == 1
    assert Delivery.objects.filter(subscription=everywhere).count() == 3


def test_nothing_is_queued_for_a_change_that_rolled_back(county, receiver):
    subscribe(county, receiver.url)

    @transaction.atomic
    def failing_change():
        webhooks.publish(RESOLVED, {"code": "X"})
        raise RuntimeError("the change failed")

    with pytest.raises(RuntimeError):
        failing_change()
    assert not Delivery.objects.exists()
    assert webhooks.deliver_one() is False and receiver.requests == []


# --- sending --------------------------------------------------------------------------------------------------


def test_a_delivery_is_posted_signed_and_acknowledged(county, receiver, at):
    at(T0)
    sub = subscribe(county, receiver.url)
    listen(receiver, sub)
    webhooks.publish(RESOLVED, {"code": "2026A", "标题": "路灯不亮"}, at=T0 - dt.timedelta(seconds=5))
    (d,) = deliveries()
    assert webhooks.deliver_one() is True
    assert webhooks.deliver_one() is False
    (req,) = receiver.requests
    assert req.signature_ok is True and req.path == "/hook"
    assert req.headers[signing.TIMESTAMP_HEADER] == str(int(T0.timestamp()))
    assert req.headers["X-Gongzhi-Event"] == RESOLVED
    assert req.headers["X-Gongzhi-Delivery"] == str(d.pk)
    assert req.headers["Content-Type"] == "application/json"
    assert req.headers["User-Agent"] == "Gongzhi-Webhooks/1"
    assert req.json == {
        "id": d.event_id,
        "type": RESOLVED,
        "created_at": "2026-11-02T08:59:55+08:00",
        "data": {"code": "2026A", "标题": "路灯不亮"},
    }
    # UTF-8 as it is, compact.
    assert "标题".encode() in req.body and b", " not in req.body and b": " not in req.body
    d.refresh_from_db()
    assert (d.state, d.attempts, d.delivered_at, d.next_attempt_at, d.last_status_code, d.last_error) == (
        "delivered", 1, T0, None, 200, "",
    )  # fmt: skip
    (attempt,) = d.attempt_log.all()
    assert (attempt.at, attempt.status_code, attempt.error) == (T0, 200, "")
    assert receiver.acks == {d.event_id: 1}


def test_a_failing_receiver_is_retried_with_backoff_until_it_acknowledges_once(county, receiver, at):
    t = at(T0)
    sub = subscribe(county, receiver.url)
    listen(receiver, sub).fail_each = 3
    webhooks.publish(RESOLVED, {"code": "A"})
    (d,) = deliveries()
    waits = []
    for _ in range(3):
        assert webhooks.deliver_one() is True
        d.refresh_from_db()
        waits.append(d.next_attempt_at - t)
        assert webhooks.deliver_one() is False  # not before its time
        t = at(d.next_attempt_at)
    assert waits == [dt.timedelta(seconds=30), dt.timedelta(seconds=60), dt.timedelta(seconds=120)]
    sub.refresh_from_db()
    assert sub.consecutive_failures == 3
    assert webhooks.deliver_one() is True
    d.refresh_from_db()
    assert (d.state, d.attempts, d.last_status_code, d.last_error, d.delivered_at) == ("delivered", 4, 200, "", t)
    assert log_of(d) == [(500, "HTTP 500: busy")] * 3 + [(200, "")]
    assert receiver.acks == {d.event_id: 1} and len(receiver.requests) == 4
    # Each attempt was signed afresh, with the same event id and body.
    assert {r.json["id"] for r in receiver.requests} == {d.event_id}
    assert len({r.body for r in receiver.requests}) == 1
    assert all(r.signature_ok for r in receiver.requests)
    sub.refresh_from_db()
    assert sub.consecutive_failures == 0  # a success forgets the failures
    assert webhooks.deliver_one() is False


def test_a_delivery_that_never_goes_through_is_given_up(county, receiver, at, conf):
    conf(MAX_ATTEMPTS=3)
    at(T0)
    listen(receiver, subscribe(county, receiver.url)).fail_each = 99
    webhooks.publish(RESOLVED, {})
    (d,) = deliveries()
    for _ in range(3):
        assert webhooks.deliver_one() is True
        d.refresh_from_db()
        if d.next_attempt_at:
            at(d.next_attempt_at)
    d.refresh_from_db()
    assert (d.state, d.attempts, d.next_attempt_at, d.last_status_code) == ("failed", 3, None, 500)
    at(T0 + dt.timedelta(days=1))
    assert webhooks.deliver_one() is False
    assert len(receiver.requests) == 3 and d.attempt_log.count() == 3


def test_the_backoff_doubles_up_to_its_cap():
    assert [webhooks.backoff(n).total_seconds() for n in (1, 2, 3, 4)] == [30, 60, 120, 240]
    assert webhooks.backoff(10) == dt.timedelta(hours=4, minutes=16)
    assert webhooks.backoff(11) == webhooks.backoff(500) == dt.timedelta(hours=6)


@pytest.mark.parametrize(
    ("answer", "code", "error"),
    [
        (Answer(404, body=b"no such hook"), 404, "HTTP 404: no such hook"),
        (Answer(201), 201, ""),
        (Answer(204, body=b""), 204, ""),
        (Answer(410, body=b""), 410, "HTTP 410"),
        (Answer(302, location="/elsewhere"), 302, "HTTP 302: redirect to /elsewhere not followed"),
        (
            Answer(301, location="https://evil.example/"),
            301,
            "HTTP 301: redirect to https://evil.example/ not followed",
        ),
    ],
)
def test_what_the_receiver_answered_is_logged(county, receiver, at, answer, code, error):
    at(T0)
    listen(receiver, subscribe(county, receiver.url)).script = [answer]
    webhooks.publish(RESOLVED, {})
    assert webhooks.deliver_one() is True
    (d,) = deliveries()
    assert log_of(d) == [(code, error)]
    assert (d.last_status_code, d.last_error) == (code, error)
    assert d.state == ("delivered" if 200 <= code < 300 else "pending")
    # A redirect is not followed: the receiver saw one request, at its own address.
    assert [r.path for r in receiver.requests] == ["/hook"]


def test_a_slow_receiver_times_out_and_a_dead_one_is_refused(county, receiver, at, conf):
    conf(TIMEOUT=0.3)
    at(T0)
    receiver.script = [Answer(200, delay=1.5)]
    subscribe(county, receiver.url)
    subscribe(county, f"http://127.0.0.1:{free_port()}/hook")
    webhooks.publish(RESOLVED, {})
    started = time.monotonic()
    assert webhooks.deliver_one() and webhooks.deliver_one()
    assert time.monotonic() - started < 1.4  # the worker did not wait for the slow one
    slow, dead = deliveries()
    assert log_of(slow) == [(None, "timed out")]
    ((status, error),) = log_of(dead)
    assert status is None and "refused" in error.lower()
    (a,) = slow.attempt_log.all()
    assert 250 <= a.duration_ms < 1400
    assert slow.state == dead.state == "pending" and slow.attempts == dead.attempts == 1


# --- turning a subscription off ---------------------------------------------------------------------------------


def test_a_subscription_that_keeps_failing_is_turned_off_and_its_managers_told(county, receiver, at, conf):
    conf(DISABLE_AFTER=3)
    at(T0)
    sub = subscribe(county, receiver.url)
    listen(receiver, sub).fail_each = 1
    for i in range(3):
        webhooks.publish(RESOLVED, {"n": i})
    assert webhooks.deliver_one() and webhooks.deliver_one()
    sub.refresh_from_db()
    assert (sub.is_active, sub.consecutive_failures) == (True, 2)
    assert webhooks.deliver_one()  # the third failure in a row
    sub.refresh_from_db()
    assert (sub.is_active, sub.consecutive_failures, sub.disabled_at) == (False, 3, T0)
    assert "3" in sub.disabled_reason and "HTTP 500" in sub.disabled_reason
    # The administrator (who manages webhooks over the county) is told, with a link to the page; no one else.
    (m,) = Message.objects.filter(kind="webhook.disabled")
    assert m.user_id == county.u_admin.pk and m.link == f"/inbox/webhooks/{sub.pk}/"
    assert "12345热线" in m.text
    # Its deliveries wait, however long; new events are not queued for it.
    at(T0 + dt.timedelta(days=2))
    assert webhooks.deliver_one() is False
    assert webhooks.publish(RESOLVED, {"n": 3}) == 0
    assert [d.state for d in deliveries()] == ["pending"] * 3
    assert all(d.next_attempt_at is None for d in deliveries())
    assert len(receiver.requests) == 3
    # Turned on again: they go now, and the failures are forgotten.
    webhooks.subscription_enable(subscription=sub, by=county.u_admin)
    sub.refresh_from_db()
    assert (sub.is_active, sub.consecutive_failures, sub.disabled_at, sub.disabled_reason) == (True, 0, None, "")
    while webhooks.deliver_one():
        pass
    assert [d.state for d in deliveries()] == ["delivered"] * 3
    assert sorted(receiver.acks.values()) == [1, 1, 1]
    assert Message.objects.filter(kind="webhook.disabled").count() == 1


def test_an_important_notice_the_managers_get_by_sms_too(county, receiver, at, conf):
    from accounts.models import User

    User.objects.filter(pk=county.u_admin.pk).update(work_phone="13700000009")
    conf(DISABLE_AFTER=1)
    at(T0)
    listen(receiver, subscribe(county, receiver.url)).fail_each = 1
    webhooks.publish(RESOLVED, {})
    webhooks.deliver_one()
    (m,) = Message.objects.filter(kind="webhook.disabled")
    assert (m.channel, m.phone) == (Message.Channel.SMS, "13700000009")


def test_a_disabled_subscription_is_not_sent_to(county, receiver, at):
    at(T0)
    sub = subscribe(county, receiver.url)
    webhooks.publish(RESOLVED, {})
    webhooks.subscription_disable(subscription=sub, by=county.u_admin, reason="对方系统升级")
    sub.refresh_from_db()
    assert (sub.is_active, sub.disabled_reason) == (False, "对方系统升级")
    at(T0 + dt.timedelta(hours=1))
    assert webhooks.deliver_one() is False
    # A delivery queued from another process's copy made before it was turned off is parked, not sent.
    Delivery.objects.create(
        subscription=sub, event_type=RESOLVED, event_id="e" * 32, event_at=T0, payload={}, created_at=T0,
        next_attempt_at=T0,
    )  # fmt: skip
    assert webhooks.deliver_one() is True
    assert webhooks.deliver_one() is False
    assert receiver.requests == []
    assert Delivery.objects.filter(state="pending", next_attempt_at__isnull=True).count() == 2


def test_a_delivery_claimed_by_a_worker_that_died_is_sent_after_the_lease(county, receiver, at):
    at(T0)
    subscribe(county, receiver.url)
    webhooks.publish(RESOLVED, {})
    assert claim_due(Delivery, webhooks.lease(), field="next_attempt_at")  # a worker claims it and is killed
    assert webhooks.deliver_one() is False
    at(T0 + webhooks.lease())
    assert webhooks.deliver_one() is True
    (d,) = deliveries()
    assert d.state == "delivered" and d.attempts == 1 and len(receiver.requests) == 1


# --- redelivery and secrets -------------------------------------------------------------------------------------


def test_a_redelivery_sends_the_same_event_again_with_its_id(county, receiver, at):
    at(T0)
    sub = subscribe(county, receiver.url)
    listen(receiver, sub)
    webhooks.publish(RESOLVED, {"code": "A"}, at=T0)
    webhooks.deliver_one()
    (first,) = deliveries()
    at(T0 + dt.timedelta(hours=1))
    again = webhooks.delivery_redeliver(delivery=first, by=county.u_admin)
    assert again.pk != first.pk
    assert (again.event_id, again.event_type, again.payload, again.event_at) == (
        first.event_id, RESOLVED, {"code": "A"}, T0,
    )  # fmt: skip
    assert (again.state, again.attempts, again.next_attempt_at) == ("pending", 0, T0 + dt.timedelta(hours=1))
    assert webhooks.deliver_one() is True
    one, two = receiver.requests
    assert one.body == two.body and one.json["id"] == first.event_id
    assert (one.headers["X-Gongzhi-Delivery"], two.headers["X-Gongzhi-Delivery"]) == (str(first.pk), str(again.pk))
    # Only its managers may: the dispatcher does not manage webhooks.
    with pytest.raises(PermissionDenied):
        webhooks.delivery_redeliver(delivery=first, by=county.u_zhao)
    assert Delivery.objects.count() == 2


def test_a_redelivery_for_a_disabled_subscription_waits(county, receiver, at):
    at(T0)
    sub = subscribe(county, receiver.url)
    webhooks.publish(RESOLVED, {})
    webhooks.deliver_one()
    webhooks.subscription_disable(subscription=sub, by=county.u_admin)
    again = webhooks.delivery_redeliver(delivery=deliveries()[0], by=county.u_admin)
    assert (again.state, again.next_attempt_at) == ("pending", None)
    assert webhooks.deliver_one() is False
    webhooks.subscription_enable(subscription=sub, by=county.u_admin)
    assert webhooks.deliver_one() is True and len(receiver.requests) == 2


def test_a_rotated_secret_signs_beside_the_old_one_for_a_while(county, receiver, at):
    at(T0)
    sub = subscribe(county, receiver.url)
    old = sub.secret
    assert old.startswith("whsec_") and len(old) > 40
    sub = webhooks.subscription_rotate_secret(subscription=sub, by=county.u_admin)
    assert sub.secret != old and sub.previous_secret == old
    assert sub.previous_until == T0 + dt.timedelta(hours=24)
    for secret in (old, sub.secret):  # a receiver that still has the old key, one that has the new
        receiver.secret = secret
        webhooks.publish(RESOLVED, {})
        webhooks.deliver_one()
        assert receiver.requests[-1].signature_ok is True
    assert receiver.requests[-1].headers[signing.SIGNATURE_HEADER].count("sha256=") == 2
    at(T0 + dt.timedelta(hours=25))
    receiver.secret = old
    webhooks.publish(RESOLVED, {})
    webhooks.deliver_one()
    assert receiver.requests[-1].signature_ok is False
    assert receiver.requests[-1].headers[signing.SIGNATURE_HEADER].count("sha256=") == 1


# --- managing subscriptions ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "bad"),
    [
        ({"url": "ftp://files.example/x"}, "url"),
        ({"url": "javascript:alert(1)"}, "url"),
        ({"url": "http://"}, "url"),
        ({"url": "https://user:pw@hotline.example/hook"}, "url"),
        ({"url": "https://hotline.example/a b"}, "url"),
        ({"url": "https://hotline.example:99999/"}, "url"),
        ({"url": "https://hotline.example/" + "x" * 480}, "url"),
        ({"url": ""}, "url"),
        ({"url": "https://热线.example/hook"}, "url"),
        ({"events": ["workorder.resolved", "workorder.deleted"]}, "events"),
        ({"events": []}, "events"),
        ({"events": "workorder.resolved"}, "events"),
        ({"name": "长" * 81}, "name"),
        ({"name": "  "}, "name"),
        ({"name": "a\x00b"}, "name"),
    ],
)
def test_bad_input_is_refused_with_the_field_and_nothing_is_made(county, fields, bad):
    good = {"name": "12345热线", "url": "https://hotline.example.gov.cn/hook", "events": [RESOLVED]}
    with pytest.raises(ValidationFailed) as e:
        webhooks.subscription_create(by=county.u_admin, **{**good, **fields})
    assert list(e.value.fields) == [bad] and e.value.status == 422
    assert not Subscription.objects.exists()


def test_every_bad_field_is_named_at_once(county):
    with pytest.raises(ValidationFailed) as e:
        webhooks.subscription_create(by=county.u_admin, name="", url="ftp://x", events=[])
    assert set(e.value.fields) == {"name", "url", "events"}


def test_a_subscription_is_kept_tidy(county):
    sub = webhooks.subscription_create(
        by=county.u_admin, name=" 12345\t热线 ", url=" https://hotline.example/hook?k=1 ",
        events=["sos.raised", RESOLVED, "sos.raised"],
    )  # fmt: skip
    assert (sub.name, sub.url) == ("12345 热线", "https://hotline.example/hook?k=1")
    assert sub.events == [RESOLVED, "sos.raised"]
    assert (sub.node_id, sub.path, sub.created_by_id, sub.is_active) == (
        county.county.pk, county.county.path, county.u_admin.pk, True,
    )  # fmt: skip
    sub = webhooks.subscription_update(subscription=sub, by=county.u_admin, events=["sos.closed"])
    sub.refresh_from_db()
    assert (sub.name, sub.events) == ("12345 热线", ["sos.closed"])
    with pytest.raises(ValidationFailed):
        webhooks.subscription_update(subscription=sub, by=county.u_admin, url="mailto:x@example")
    sub.refresh_from_db()
    assert sub.url == "https://hotline.example/hook?k=1"


def test_only_those_who_manage_integrations_manage_webhooks(county):
    for user in (county.u_zhao, county.u_qian, county.u_li, county.u_zhang):
        with pytest.raises(PermissionDenied):
            webhooks.subscription_create(by=user, name="x", url="https://x.example/", events=[RESOLVED])
    sub = subscribe(county, "https://x.example/")
    for service in (webhooks.subscription_enable, webhooks.subscription_disable, webhooks.subscription_rotate_secret):
        with pytest.raises(PermissionDenied):
            service(subscription=sub, by=county.u_zhao)
    with pytest.raises(PermissionDenied):
        webhooks.subscription_delete(subscription=sub, by=county.u_zhao)
    sub.refresh_from_db()
    assert sub.is_active and sub.removed_at is None


def test_an_administrator_of_a_town_manages_only_the_town(county):
    from accounts import services as accounts
    from accounts.models import Role
    from gongzhi.test import PASSWORD

    town_admin = accounts.user_create(username="t2admin", password=PASSWORD, display_name="南镇管理员")
    accounts.role_assign(user=town_admin, role=Role.ADMIN, node=county.t2)
    county_wide = subscribe(county, "https://x.example/")
    with pytest.raises(NotFound):
        webhooks.subscription_disable(subscription=county_wide, by=town_admin)
    with pytest.raises(NotFound):
        webhooks.subscription_create(
            by=town_admin, name="x", url="https://y.example/", events=[RESOLVED], node=county.t1
        )
    mine = webhooks.subscription_create(by=town_admin, name="镇平台", url="https://y.example/", events=[RESOLVED])
    assert mine.node_id == county.t2.pk
    assert list(webhooks.subscriptions_for(town_admin)) == [mine]
    assert set(webhooks.subscriptions_for(county.u_admin)) == {county_wide, mine}


def test_a_removed_subscription_is_gone_from_the_lists_and_sends_nothing(county, receiver):
    sub = subscribe(county, receiver.url)
    webhooks.publish(RESOLVED, {})
    webhooks.subscription_delete(subscription=sub, by=county.u_admin)
    assert list(webhooks.subscriptions_for(county.u_admin)) == []
    with pytest.raises(NotFound):
        webhooks.access_subscription(county.u_admin, sub.pk)
    assert webhooks.publish(RESOLVED, {}) == 0
    assert webhooks.deliver_one() is False and receiver.requests == []
    (d,) = deliveries()
    assert d.state == "failed"


# --- workers side by side -----------------------------------------------------------------------------------------


def _in_thread(fn, results: list, barrier: threading.Barrier | None = None):
    def run():
        try:
            if barrier is not None:
                barrier.wait(5)
            results.append(fn())
        except Exception as exc:  # reported to the test
            results.append(exc)
        finally:
            connection.close()

    return threading.Thread(target=run)


@pytest.mark.django_db(transaction=True)
def test_two_workers_racing_for_one_delivery_send_it_once(county, receiver):
    receiver.default = Answer(200, delay=0.3)
    subscribe(county, receiver.url)
    webhooks.publish(RESOLVED, {"code": "A"})
    results: list = []
    barrier = threading.Barrier(2)
    threads = [_in_thread(webhooks.deliver_one, results, barrier) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    # The loser found it claimed (True: there may be more) or no longer due (False).
    assert True in results and all(isinstance(r, bool) for r in results), results
    assert len(receiver.requests) == 1 and DeliveryAttempt.objects.count() == 1
    assert Delivery.objects.get().state == "delivered"


def _drain() -> int:
    """A worker: sends what is due until nothing is for a while (what run_webhooks does)."""
    n = 0
    idle = 0
    while idle < 20:
        if webhooks.deliver_one():
            n += 1
            idle = 0
        else:
            idle += 1
            time.sleep(0.02)
    return n


@pytest.mark.django_db(transaction=True)
def test_two_workers_share_the_deliveries_and_send_each_once(county, receiver, conf):
    conf(BACKOFF_SECONDS=0)  # the retries fall due at once
    receiver.fail_each = 1
    subscribe(county, receiver.url)
    for i in range(12):
        webhooks.publish(RESOLVED, {"n": i})
    results: list = []
    threads = [_in_thread(_drain, results) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert all(isinstance(r, int) for r in results), results
    assert Delivery.objects.filter(state="delivered").count() == 12
    assert sorted(receiver.acks.values()) == [1] * 12
    assert len(receiver.requests) == 24  # each failed once, then was acknowledged once
    assert DeliveryAttempt.objects.count() == 24
    assert sum(results) >= 24  # both worked (a step that found a delivery taken counts too)


@pytest.mark.django_db(transaction=True)
def test_a_slow_receiver_holds_no_lock_that_intake_needs(county, receiver):
    """While the worker waits for a receiver that hangs, another process's transaction publishes, changes the
    subscription and commits at once: the POST is outside any transaction and lock."""
    sub = subscribe(county, receiver.url)
    webhooks.publish(RESOLVED, {})
    receiver.hold = threading.Event()
    results: list = []
    worker = _in_thread(webhooks.deliver_one, results)
    worker.start()
    assert receiver.wait_for(1, 10)
    started = time.monotonic()
    with transaction.atomic():
        assert webhooks.publish(RESOLVED, {"n": 2}) == 1
        webhooks.subscription_update(subscription=sub, by=county.u_admin, name="12345热线（新）")
    assert time.monotonic() - started < 2
    receiver.hold.set()
    worker.join(15)
    assert results == [True]
    assert Delivery.objects.filter(state="delivered").count() == 1


@pytest.mark.django_db(transaction=True)
def test_run_webhooks_once_drains(county, receiver):
    subscribe(county, receiver.url)
    for i in range(3):
        webhooks.publish(RESOLVED, {"n": i})
    out = io.StringIO()
    call_command("run_webhooks", "--once", stdout=out)
    assert out.getvalue().strip() == "handled 3"
    assert sorted(json.loads(r.body)["data"]["n"] for r in receiver.requests) == [0, 1, 2]
    call_command("run_webhooks", "--once", stdout=out)
    assert out.getvalue().strip().endswith("handled 0")
