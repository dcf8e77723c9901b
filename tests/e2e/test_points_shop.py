"""The points shop in real browsers: a resident with points reserves goods on a phone, sees the balance
drop, and the village clerk hands them over at the counter; the volunteer's week of activities."""

from __future__ import annotations

import re

import pytest

from tests.e2e.conftest import login, shot

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def demo(live_server, browser):  # the browser first: no data is seeded where the test will skip
    from django.core.management import call_command

    from accounts.models import User
    from points import services

    call_command("seed_demo", "--scale", "small", "--seed", "1", "--orders", "0", "--calls", "0", verbosity=0)
    resident = User.objects.get(username="resident").resident
    services.award_manual(resident=resident, amount=500, reason="好人好事", by=User.objects.get(username="village"))
    return live_server.url


def balance(page) -> int:
    return int(re.sub(r"\D", "", page.inner_text("[data-balance]")))


def test_a_resident_reserves_and_the_clerk_hands_it_over(demo, browser):
    url = demo
    ctx, resident = login(browser, url, "resident", phone=True)
    resident.goto(f"{url}/points/")
    before = balance(resident)
    assert before > 0  # the demo year gave them points
    shot(resident, "points-resident")
    resident.click("a.button.primary.big")  # the first shop serving their village
    resident.wait_for_selector("form[action$='/reserve/']")
    shot(resident, "points-shop")
    card = resident.locator("li.card:has(form[action$='/reserve/'] button:not([disabled]))").first
    price = int(re.sub(r"\D", "", card.locator("strong.points-mid").inner_text()))
    card.locator("button[type=submit]").click()
    resident.wait_for_load_state()
    assert resident.url.endswith("/points/redemptions/"), resident.inner_text("main")[:300]
    assert "已预约" in resident.inner_text("main")  # the message, and the reservation in the list
    resident.goto(f"{url}/points/")
    assert balance(resident) == before - price

    staff_ctx, clerk = login(browser, url, "village")
    clerk.goto(f"{url}/points/manage/")
    clerk.click("nav.tabs a[href*='/points/counter/']")
    clerk.wait_for_selector("form[action*='/collect/']")
    shot(clerk, "points-counter")
    waiting = clerk.locator("form[action*='/collect/']").count()
    clerk.locator("form[action*='/collect/'] button").first.click()
    clerk.wait_for_load_state()
    assert clerk.locator("form[action*='/collect/']").count() == waiting - 1
    for c in (ctx, staff_ctx):
        c.close()


def test_the_volunteer_sees_the_week_and_their_hours(demo, browser):
    url = demo
    ctx, page = login(browser, url, "volunteer", phone=True)
    page.goto(f"{url}/volunteers/")
    text = page.inner_text("main")
    assert "小时" in text
    shot(page, "volunteers-week")
    ctx.close()
