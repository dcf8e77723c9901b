"""A party member's household visit in a real browser, on a phone: the member opens their households
(overdue first), logs a visit, turns a need found there into a work order in the same step, and the
dispatcher finds it in the console among the orders relayed by party members (党员代转)."""

from __future__ import annotations

import pytest
from django.core.management import call_command

from tests.e2e.conftest import login, shot

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_member_logs_a_visit_on_a_phone_and_the_dispatcher_sees_the_relayed_order(
    live_server, browser, settings, tmp_path
):
    settings.MEDIA_ROOT = tmp_path
    call_command("seed_demo", scale="small", seed=1, orders=0, calls=0, points=0, verbosity=0)
    from partylink.models import Need

    ctx, page = login(browser, live_server.url, "party", phone=True)
    page.goto(f"{live_server.url}/party/")
    cards = page.locator("ul.households li[data-household]")
    assert cards.count() >= 1
    states = cards.evaluate_all("els => els.map(e => e.dataset.standing)")
    order_of = {"overdue": 0, "due": 1, "done": 2}
    assert states == sorted(states, key=order_of.get)  # overdue first
    shot(page, "party-households")
    household = int(cards.first.get_attribute("data-household"))
    cards.first.locator("[data-action='visit']").click()
    page.wait_for_url(f"**/party/households/{household}/visit/")
    page.fill("#met", "户主本人")
    page.fill("#notes", "老人独居，身体尚可")
    page.fill("#need_0_text", "老人八十岁了，想办高龄津贴")
    page.select_option("#need_0_then", "order")
    page.fill("#need_1_text", "问今年医保什么时候缴")
    page.select_option("#need_1_then", "settle")
    page.fill("#need_1_outcome", "当场告知本月底前缴费")
    shot(page, "party-visit-form")
    page.click("[data-action='log-visit']")
    page.wait_for_url("**/party/visits/*/")
    assert "走访已登记" in page.inner_text("body")
    need = Need.objects.get(text="老人八十岁了，想办高龄津贴")
    assert need.state == "relayed" and need.household_id == household
    order = need.order
    assert order.channel == "party" and order.owner.household_id == household
    assert page.locator(f"a:has-text('{order.tracking_code}')").count() == 1
    assert Need.objects.get(text="问今年医保什么时候缴").state == "settled"
    ctx.close()

    ctx, page = login(browser, live_server.url, "dispatcher")
    page.goto(f"{live_server.url}/workorders/console/?channel=party")
    row = page.locator(f"tr[data-order='{order.pk}']")
    assert row.count() == 1
    assert "党员代转" in row.inner_text()
    ctx.close()
