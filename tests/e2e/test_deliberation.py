"""民事民提 → 民事民决 in a real browser: a resident proposes a matter on a phone, a neighbour signs it (the
village's threshold puts it on the agenda), the village sets up and opens a vote, two households vote online
on their phones, the village enters the paper tally of the household without a phone and, once online voting
has closed, counts: the result is published with its turnout."""

from __future__ import annotations

import datetime as dt

import pytest

from tests.e2e.conftest import login, shot

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_matter_goes_from_a_phone_to_a_published_result(live_server, browser, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    from deliberation.models import Matter, Turnout, VillageSetting, Vote, Voter
    from gongzhi.test import build_county

    c = build_county()
    for u in (c.u_zhang, c.u_liu, c.u_zhou):
        u.set_password("gongzhi-demo")
        u.save()
    VillageSetting.objects.create(village=c.v1, cosign_threshold=1)
    base = live_server.url

    ctx, page = login(browser, base, "zhang", phone=True)
    page.goto(f"{base}/deliberation/")
    page.click("[data-action='propose']")
    page.fill("#p-title", "修通A1湾组到村部的路")
    page.fill("#p-body", "路坑洼不平，下雨天老人孩子出行不便，建议硬化。")
    page.fill("#p-cost", "180000")
    shot(page, "deliberation-propose")
    page.click("[data-action='submit-proposal']")
    page.wait_for_url("**/deliberation/matters/*/")
    m = Matter.objects.get(title="修通A1湾组到村部的路")
    assert m.state == "proposed" and m.proposer_id == c.zhang.pk
    zhang = (ctx, page)

    ctx, page = login(browser, base, "liu", phone=True)
    page.goto(f"{base}/deliberation/matters/{m.pk}/")
    page.click("[data-action='sign']")
    page.wait_for_load_state()
    assert page.locator("[data-state='agenda']").count() == 1
    liu = (ctx, page)

    ctx, page = login(browser, base, "zhou")
    page.goto(f"{base}/deliberation/matters/{m.pk}/")
    closes = (dt.datetime.now(dt.UTC) + dt.timedelta(hours=8, days=2)).strftime("%Y-%m-%dT%H:%M")
    page.fill("#v-close", closes)
    page.click("[data-action='vote-new']")
    page.wait_for_url("**/deliberation/votes/*/")
    v = Vote.objects.get(matter=m)
    page.click("[data-action='open']")
    page.wait_for_load_state()
    assert Vote.objects.get(pk=v.pk).state == "open" and Vote.objects.get(pk=v.pk).eligible == 3
    zhou = (ctx, page)

    for _ctx, p in (zhang, liu):
        p.goto(f"{base}/deliberation/votes/{v.pk}/")
        p.click("[data-option='同意']")
        p.wait_for_load_state()
        assert p.locator("[data-voted]").count() == 1
    shot(zhang[1], "deliberation-voted")
    assert Turnout.objects.filter(vote=v, channel="online").count() == 2

    ctx, page = zhou
    page.goto(f"{base}/deliberation/votes/{v.pk}/")
    chen = Voter.objects.get(vote=v, household=c.h_chen)
    yes = v.options.get(label="同意")
    page.fill(f"#o-{yes.pk}", "1")
    page.check(f"[data-voter='{chen.pk}']")
    shot(page, "deliberation-paper-sheet")
    page.click("[data-action='paper']")
    page.wait_for_load_state()
    assert Turnout.objects.filter(vote=v, channel="paper").count() == 1
    Vote.objects.filter(pk=v.pk).update(closes_at=dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1))  # closed
    page.goto(f"{base}/deliberation/votes/{v.pk}/")
    page.click("[data-action='count']")
    page.wait_for_load_state()
    assert page.locator("[data-outcome='passed']").count() == 1

    ctx, page = zhang
    page.goto(f"{base}/deliberation/votes/{v.pk}/")
    result = page.locator("[data-result]").inner_text()
    assert "3" in result and page.locator("li[data-option='同意'] [data-count]").inner_text() == "3"
    shot(page, "deliberation-result")
    assert Matter.objects.get(pk=m.pk).state == "passed"
    for x in (zhang[0], liu[0], zhou[0]):
        x.close()
