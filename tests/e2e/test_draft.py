"""长辈版 point 7: no time limit on a resident's steps. An appeal half written when her login runs out is
kept in the browser and offered again after she logs in; once sent, it is gone."""

from __future__ import annotations

import pytest
from django.core.management import call_command

from tests.e2e.conftest import login

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

WORDS = "楼道里的灯坏了三天，晚上下楼看不见台阶，老人怕摔"


def test_a_half_written_appeal_survives_an_expired_login(live_server, browser, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    call_command("seed_demo", scale="small", seed=1, orders=0, verbosity=0)
    from django.contrib.sessions.models import Session

    from workorders.models import WorkOrder

    ctx, page = login(browser, live_server.url, "resident", phone=True)
    page.goto(f"{live_server.url}/workorders/new/")
    assert page.locator("[data-draft-resume]").is_hidden()  # nothing started yet
    page.check('input[name="kind"][value="report"]')
    page.click('button.tile[data-category="01"]')
    page.click('button.tile[data-category="0101"]')
    step_url = page.url
    page.fill("#text", WORDS)
    page.fill("#address", "东村A1湾组1号楼道")

    Session.objects.all().delete()  # her login runs out while she is typing
    page.click("form.submit-form button[type=submit]")
    assert "/accounts/login/" in page.url
    assert not WorkOrder.objects.filter(text=WORDS).exists()

    page.fill("#id_username", "resident")
    page.fill("#id_password", "gongzhi-demo")
    page.click("section.login button[type=submit]")
    page.wait_for_load_state()
    page.goto(f"{live_server.url}/workorders/new/")
    resume = page.locator("[data-draft-resume] a")
    assert resume.is_visible()
    resume.click()
    page.wait_for_load_state()
    assert page.url == step_url  # the same kind and category
    assert page.input_value("#text") == WORDS and page.input_value("#address") == "东村A1湾组1号楼道"
    page.click("form.submit-form button[type=submit]")
    code = page.locator("[data-tracking-code]").inner_text().strip()
    order = WorkOrder.objects.get(tracking_code=code)
    assert order.text == WORDS and order.category.code.startswith("0101")

    page.goto(f"{live_server.url}/workorders/new/")
    assert page.locator("[data-draft-resume]").is_hidden()  # sent: the draft is gone

    ctx.close()


def test_a_draft_belongs_to_the_user_who_wrote_it(live_server, browser, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    call_command("seed_demo", scale="small", seed=1, orders=0, verbosity=0)
    ctx, page = login(browser, live_server.url, "resident", phone=True)
    page.goto(f"{live_server.url}/workorders/new/?kind=report&cat=01")
    page.click('button.tile[data-category="0101"]')
    page.fill("#text", WORDS)
    page.goto(f"{live_server.url}/workorders/new/")
    assert page.locator("[data-draft-resume]").is_visible()  # hers, while she is logged in
    # She leaves without sending; someone else logs in in the same browser.
    ctx.clear_cookies()
    page.goto(f"{live_server.url}/accounts/login/")
    page.fill("#id_username", "volunteer")
    page.fill("#id_password", "gongzhi-demo")
    page.click("section.login button[type=submit]")
    page.wait_for_load_state()
    page.goto(f"{live_server.url}/workorders/new/")
    assert page.locator("[data-draft-resume]").is_hidden()
    ctx.close()
