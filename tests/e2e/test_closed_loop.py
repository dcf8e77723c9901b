"""The closed loop in a real browser: 群众点单 → 后台派单 → 部门接单 → 群众评单, and a bad rating reopens it.

The resident submits in three taps, the dispatcher dispatches to the suggested department, the
department clerk signs for and resolves it, the resident rates it 不满意, and the order is reopened
(重办) with every step on its timeline.
"""

from __future__ import annotations

import pytest
from django.core.management import call_command

from tests.e2e.conftest import login, shot

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_submit_dispatch_sign_resolve_rate_badly_reopens(live_server, browser, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    call_command("seed_demo", scale="small", seed=1, orders=0, verbosity=0)
    from workorders.models import Event, WorkOrder

    # 1. The resident, on a phone: type and topic, then topic detail, then describe and send.
    resident_ctx, page = login(browser, live_server.url, "resident", phone=True)
    page.goto(f"{live_server.url}/workorders/new/")
    page.check('input[name="kind"][value="help"]')
    page.click('button.tile[data-category="03"]')  # 民政
    page.click('button.tile[data-category="0302"]')  # 养老服务
    page.fill("#text", "我今年八十岁了，想申请高龄津贴，不知道怎么办理")
    page.click("form.submit-form button[type=submit]")
    code = page.locator("[data-tracking-code]").inner_text().strip()
    assert len(code) == 10
    shot(page, "workorder-submitted")
    order = WorkOrder.objects.get(tracking_code=code)
    assert order.state == "submitted" and order.channel in ("web", "mobile")
    assert order.suggested_department.name.endswith("民政局")

    # 2. The dispatcher dispatches it to the suggested department from the console's order page.
    dispatcher_ctx, page = login(browser, live_server.url, "dispatcher")
    page.goto(f"{live_server.url}/workorders/console/")
    page.wait_for_selector(f"text={code}")
    shot(page, "workorder-console")
    page.goto(f"{live_server.url}/workorders/{order.pk}/")
    page.click('form[data-form="dispatch"] button[type=submit]')
    page.wait_for_selector('[data-state="dispatched"]')
    dispatcher_ctx.close()

    # 3. The department clerk (民政局) signs for it and resolves it with a reply.
    dept_ctx, page = login(browser, live_server.url, "dept")
    page.goto(f"{live_server.url}/workorders/queue/")
    page.wait_for_selector(f"text={code}")
    page.goto(f"{live_server.url}/workorders/{order.pk}/")
    page.click('form[data-form="accept"] button[type=submit]')
    page.wait_for_selector('[data-state="accepted"]')
    page.fill("#resolve-reply", "已上门指导办理高龄津贴申领，材料已收齐。")
    page.click('form[data-form="resolve"] button[type=submit]')
    page.wait_for_selector('[data-state="resolved"]')
    shot(page, "workorder-detail-staff")
    dept_ctx.close()

    # 4. The resident rates it: not solved, 不满意. The order reopens.
    page = resident_ctx.new_page()
    page.goto(f"{live_server.url}/workorders/{order.pk}/")
    page.check('form[data-form="rate"] input[name="solved"][value="0"]')
    page.check('form[data-form="rate"] input[name="satisfaction"][value="2"]')
    page.fill("#rate-comment", "还没有拿到津贴")
    page.click('form[data-form="rate"] button[type=submit]')
    page.wait_for_selector('[data-state="reopened"]')
    shot(page, "workorder-reopened-resident")

    order.refresh_from_db()
    assert order.state == "reopened" and order.round == 2 and order.callback_required
    steps = list(Event.objects.filter(order=order).values_list("action", "to_state"))
    assert steps == [
        ("submit", "submitted"),
        ("dispatch", "dispatched"),
        ("accept", "accepted"),
        ("resolve", "resolved"),
        ("rate", "reopened"),
    ]
    # The resident's timeline shows all five steps, and the reply written for them.
    timeline = page.locator("ol.timeline li")
    assert timeline.count() == 5
    assert "已上门指导办理高龄津贴申领" in page.locator("ol.timeline").inner_text()
    resident_ctx.close()

    # 5. The department clerk hears of it in the inbox: the header counts it, a click opens the order.
    dept_ctx, page = login(browser, live_server.url, "dept")
    page.goto(f"{live_server.url}/workorders/queue/")
    assert int(page.locator(".inbox-bell [data-unread]").inner_text()) >= 1
    page.click(".inbox-bell")
    item = page.locator(f"li.unread[data-message]:has-text('{code}')").first
    shot(page, "notify-inbox")
    item.locator("a").first.click()
    page.wait_for_url(f"**/workorders/{order.pk}/")
    dept_ctx.close()
