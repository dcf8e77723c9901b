"""The webhook pages: the administrator lists, adds, changes, turns on and off, rotates the secret, sends an event
again and removes a subscription; everyone else is refused (403), the anonymous sent to log in, a subscription
outside one's area is the 404 page; bad input shows the form's message and changes nothing."""

from __future__ import annotations

import datetime as dt
import re

import pytest

from accounts import services as accounts
from accounts.models import Role
from core.clock import SHANGHAI
from gongzhi.test import PASSWORD, assert_refuses_bad_input, db_fingerprint
from notify import webhooks
from notify.models import Delivery, Subscription
from notify.tests.test_webhooks_receiver import Receiver
from notify.views import WebhookForm

pytestmark = pytest.mark.django_db

T0 = dt.datetime(2026, 11, 2, 9, 0, tzinfo=SHANGHAI)
BASE = "/inbox/webhooks/"
GOOD = {"name": "12345热线", "url": "https://hotline.example.gov.cn/hook", "events": ["workorder.resolved"]}


@pytest.fixture
def sub(county) -> Subscription:
    return webhooks.subscription_create(by=county.u_admin, **GOOD)


def test_the_list_shows_each_webhook_with_its_state_and_failures(county, client_as, sub):
    off = webhooks.subscription_create(
        by=county.u_admin, name="数据平台", url="https://data.example/", events=["sos.raised"]
    )
    webhooks.subscription_disable(subscription=off, by=county.u_admin, reason="对方系统升级")
    Subscription.objects.filter(pk=off.pk).update(consecutive_failures=7)
    r = client_as(county.u_admin).get(BASE)
    assert r.status_code == 200
    html = r.content.decode()
    assert re.findall(r'data-webhook="(\d+)"', html) == [str(sub.pk), str(off.pk)]
    assert "12345热线" in html and "数据平台" in html and "对方系统升级" in html
    row = re.search(rf'<tr data-webhook="{off.pk}">.*?</tr>', html, re.S).group(0)
    assert "data-disabled" in row and "<td>7</td>" in row
    assert sub.secret not in html  # the secret is on the webhook's own page


def test_adding_a_webhook_with_ticked_events(county, client_as):
    admin = client_as(county.u_admin)
    r = admin.get(BASE + "new/")
    assert r.status_code == 200
    html = r.content.decode()
    assert all(f'data-event="{e}"' in html for e in webhooks.EVENT_TYPES)
    assert f'<option value="{county.county.pk}">' in html and f'<option value="{county.t1.pk}">' in html
    r = admin.post(
        BASE + "new/",
        {
            "name": "镇平台",
            "url": "https://town.example/hook",
            "events": ["sos.raised", "sos.closed"],
            "node": county.t1.pk,
        },
    )
    sub = Subscription.objects.get()
    assert r.status_code == 302 and r["Location"] == f"{BASE}{sub.pk}/"
    assert (sub.name, sub.url, sub.events, sub.node_id) == (
        "镇平台", "https://town.example/hook", ["sos.raised", "sos.closed"], county.t1.pk,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"url": "ftp://files.example/"}, "http://"),
        ({"events": []}, ""),
        ({"events": ["workorder.deleted"]}, ""),
    ],
)
def test_a_refused_webhook_shows_why_and_keeps_what_was_typed(county, client_as, change, message):
    admin = client_as(county.u_admin)
    before = db_fingerprint()
    r = admin.post(BASE + "new/", {**GOOD, **change})
    assert r.status_code == 200
    html = r.content.decode()
    assert 'class="msg error"' in html and message in html
    assert 'value="12345热线"' in html
    assert db_fingerprint() == before


def test_bad_input_in_the_form_changes_nothing(county, client_as, sub):
    admin = client_as(county.u_admin)
    valid = {**GOOD, "node": str(county.county.pk)}
    assert assert_refuses_bad_input(admin, BASE + "new/", valid, WebhookForm) >= 4
    assert assert_refuses_bad_input(admin, f"{BASE}{sub.pk}/edit/", valid, WebhookForm) >= 4


def test_the_webhooks_page_shows_its_secret_and_delivery_log(county, client_as, at):
    at(T0)
    with Receiver(fail_each=1) as receiver:
        sub = webhooks.subscription_create(by=county.u_admin, **{**GOOD, "url": receiver.url})
        webhooks.publish("workorder.resolved", {"标题": "路灯"})
        webhooks.publish("workorder.resolved", {"标题": "井盖"})
        while webhooks.deliver_one():
            pass
        at(T0 + dt.timedelta(minutes=1))
        webhooks.deliver_one()
    admin = client_as(county.u_admin)
    r = admin.get(f"{BASE}{sub.pk}/")
    assert r.status_code == 200
    html = r.content.decode()
    assert f"<code data-secret>{sub.secret}</code>" in html
    delivered, waiting = Delivery.objects.order_by("id")
    assert re.findall(r'data-delivery="(\d+)"', html) == [str(waiting.pk), str(delivered.pk)]
    row = re.search(rf'<tr data-delivery="{delivered.pk}".*?</tr>', html, re.S).group(0)
    assert 'data-state="delivered"' in row and delivered.event_id in row and "<td>200</td>" in row
    assert "500" in row and "HTTP 500: busy" not in row.split("</ul>")[-1]  # the attempt is in the log
    row = re.search(rf'<tr data-delivery="{waiting.pk}".*?</tr>', html, re.S).group(0)
    assert 'data-state="pending"' in row and "HTTP 500: busy" in row
    assert f'action="{BASE}deliveries/{delivered.pk}/redeliver/"' in html


def test_the_buttons(county, client_as, sub, at):
    at(T0)
    admin = client_as(county.u_admin)
    webhooks.publish("workorder.resolved", {})
    d = Delivery.objects.get()
    page = f"{BASE}{sub.pk}/"
    assert admin.get(page + "disable/").status_code == 405
    r = admin.post(page + "disable/", {"reason": "对方系统升级"})
    assert r.status_code == 302 and r["Location"] == page
    sub.refresh_from_db()
    assert (sub.is_active, sub.disabled_reason) == (False, "对方系统升级")
    assert "data-disabled" in admin.get(page).content.decode()
    admin.post(page + "enable/")
    sub.refresh_from_db()
    assert sub.is_active
    old = sub.secret
    admin.post(page + "rotate/")
    sub.refresh_from_db()
    assert sub.secret != old and sub.previous_secret == old
    html = admin.get(page).content.decode()
    assert f"<code data-secret>{sub.secret}</code>" in html and old not in html
    assert "2026-11-03 09:00" in html  # until when the previous secret signs too
    r = admin.post(f"{BASE}deliveries/{d.pk}/redeliver/")
    assert r.status_code == 302 and r["Location"] == page
    assert Delivery.objects.filter(event_id=d.event_id).count() == 2
    r = admin.post(page + "edit/", {"name": "改名", "url": GOOD["url"], "events": ["sos.closed"]})
    assert r.status_code == 302
    sub.refresh_from_db()
    assert (sub.name, sub.events) == ("改名", ["sos.closed"])
    r = admin.post(page + "delete/")
    assert r.status_code == 302 and r["Location"] == BASE
    assert admin.get(page).status_code == 404


@pytest.mark.parametrize("who", ["u_zhao", "u_qian", "u_li", "u_zhang"])
def test_everyone_else_is_refused(county, client_as, sub, who):
    webhooks.publish("workorder.resolved", {})
    d = Delivery.objects.get()
    client = client_as(getattr(county, who))
    before = db_fingerprint()
    for url in (BASE, BASE + "new/", f"{BASE}{sub.pk}/", f"{BASE}{sub.pk}/edit/"):
        r = client.get(url)
        assert r.status_code == 403, (who, url)
        assert sub.secret not in r.content.decode()
    for url in (
        BASE + "new/",
        f"{BASE}{sub.pk}/edit/",
        f"{BASE}{sub.pk}/disable/",
        f"{BASE}{sub.pk}/rotate/",
        f"{BASE}{sub.pk}/delete/",
        f"{BASE}deliveries/{d.pk}/redeliver/",
    ):
        assert client.post(url, GOOD).status_code == 403, (who, url)
    assert db_fingerprint() == before


def test_the_anonymous_are_sent_to_log_in(county, client_as, sub):
    anon = client_as(None)
    for url in (BASE, f"{BASE}{sub.pk}/"):
        r = anon.get(url)
        assert r.status_code == 302 and "/accounts/login" in r["Location"]
    r = anon.post(f"{BASE}{sub.pk}/disable/")
    assert r.status_code == 302
    sub.refresh_from_db()
    assert sub.is_active


def test_a_webhook_outside_ones_area_is_the_404_page(county, client_as, sub):
    town_admin = accounts.user_create(username="t2admin", password=PASSWORD, display_name="南镇管理员")
    accounts.role_assign(user=town_admin, role=Role.ADMIN, node=county.t2)
    client = client_as(town_admin)
    assert client.get(BASE).status_code == 200 and "12345热线" not in client.get(BASE).content.decode()
    assert client.get(f"{BASE}{sub.pk}/").status_code == 404
    assert client.post(f"{BASE}{sub.pk}/disable/").status_code == 404
    sub.refresh_from_db()
    assert sub.is_active
    # The new-webhook form offers their town only.
    html = client.get(BASE + "new/").content.decode()
    assert f'<option value="{county.t2.pk}">' in html and f'<option value="{county.county.pk}">' not in html
