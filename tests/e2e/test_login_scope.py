"""A village clerk logs in, sees their part of the county, and switches the interface to English."""

from __future__ import annotations

import pytest
from django.core.management import call_command

from org.models import Household, Node
from tests.e2e.conftest import shot

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_village_login_scope_and_english(live_server, page):
    call_command("seed_demo", scale="small", seed=1, orders=0, verbosity=0)
    from accounts.models import User
    from org import access

    village_user = User.objects.get(username="village")
    village = Node.objects.get(path__in=access.get_scope(village_user).node_paths)
    households = Household.objects.filter(village.subtree_q()).count()

    page.goto(f"{live_server.url}/accounts/login/")
    assert page.locator("html").get_attribute("lang") == "zh-hans"
    page.fill("#id_username", "village")
    page.fill("#id_password", "gongzhi-demo")
    page.click("section.login button[type=submit]")

    page.wait_for_selector("section.scope")
    assert page.locator("h1").inner_text() == "我的辖区"
    scope = page.locator("section.scope")
    assert village.name in scope.locator("h2").inner_text()
    assert page.locator('[data-stat="households"]').inner_text() == f"{households:,}"
    crumbs = scope.locator(".breadcrumb .crumb").all_inner_texts()
    assert crumbs[-1] == village.name and len(crumbs) == 3  # county › town › village
    shot(page, "staff-home-zh")

    page.click('button[data-lang="en"]')
    page.wait_for_selector('html[lang="en"]')
    assert page.locator("h1").inner_text() == "My area"
    assert "Households" in page.locator("section.scope").inner_text()
    shot(page, "staff-home-en")


def test_resident_home_on_a_phone(live_server, browser):
    call_command("seed_demo", scale="small", seed=1, orders=0, verbosity=0)
    context = browser.new_context(viewport={"width": 390, "height": 844}, locale="zh-CN", is_mobile=True)
    page = context.new_page()
    page.goto(f"{live_server.url}/accounts/login/")
    page.fill("#id_username", "resident")
    page.fill("#id_password", "gongzhi-demo")
    page.click("section.login button[type=submit]")
    # The demo resident is on the one-key-call care register, so she starts in 长辈版 (four big actions, the
    # one-key call first: tests/e2e/test_elder.py measures it); her whole home page is in 标准版.
    page.wait_for_selector(".elder-actions")
    assert page.locator(".elder-actions .elder-action").first.get_attribute("data-action") == "sos"
    page.click("[data-mode=standard]")
    page.wait_for_selector("section.contacts")
    contacts = page.locator("section.contacts")
    assert "我的网格员" in contacts.inner_text()
    assert contacts.locator("a.call").count() == 2  # grid worker and linked party member
    assert page.locator("body.resident").count() == 1  # large-type layout
    shot(page, "resident-home")
    context.close()
