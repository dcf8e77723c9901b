"""A dispute from a patrol to a kept agreement in a real browser: a grid worker reports it on a phone (a resident
from the register and an outsider as parties); the village's mediator accepts it, records a session and the
agreement and prints the 调解协议书; when the first follow-up visit falls due the worker reminds the mediator and
the case page shows it due."""

from __future__ import annotations

import datetime as dt

import pytest

from tests.e2e.conftest import login, shot

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_dispute_goes_from_a_patrol_to_a_follow_up(live_server, browser, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    from gongzhi.test import build_county
    from mediation import services
    from mediation.models import Case, FollowUp, Mediator
    from notify.models import Message

    c = build_county()
    for u in (c.u_li, c.u_zhou):
        u.set_password("gongzhi-demo")
        u.save()
    committee = Mediator.objects.create(user=c.u_zhou, node=c.v1, path=c.v1.path, kind="committee", name="周村干")
    base = live_server.url

    ctx, page = login(browser, base, "li", phone=True)
    page.goto(f"{base}/mediation/")
    page.click("[data-action='report']")
    page.select_option("#r-node", str(c.a1.pk))
    page.select_option("#r-kind", "neighbour")
    page.fill("#r-title", "排水沟堵塞引发邻里纠纷")
    page.fill("#r-account", "张家与外来租户因排水沟被填平争吵，雨天积水倒灌。")
    page.select_option("#r-source", "patrol")
    page.select_option("[name='p1_resident']", str(c.zhang.pk))
    page.fill("[name='p2_name']", "王某")
    page.fill("[name='p2_phone']", "13800009999")
    shot(page, "mediation-report")
    page.click("[data-action='report-submit']")
    page.wait_for_url("**/mediation/cases/*/")
    case = Case.objects.get(title="排水沟堵塞引发邻里纠纷")
    assert case.state == "reported" and case.source == "patrol" and case.parties.count() == 2
    assert Message.objects.filter(user=c.u_zhou, kind="mediation.new").exists()
    ctx.close()

    ctx, page = login(browser, base, "zhou")
    page.goto(f"{base}/mediation/cases/{case.pk}/")
    page.select_option("#c-mediator", str(committee.pk))
    page.click("[data-action='accept']")
    page.wait_for_load_state()
    assert page.locator("[data-state='mediating']").count() == 1
    page.fill("#s-place", "村委会调解室")
    page.fill("#s-who", "张阿姨、王某、李网格")
    page.fill("#s-notes", "双方同意疏通排水沟，费用各半。")
    page.click("[data-action='session']")
    page.wait_for_load_state()
    assert case.sessions.count() == 1
    page.fill("#a-terms", "一、王某于三日内疏通排水沟；二、费用双方各承担一半。")
    shot(page, "mediation-case")
    page.click("[data-action='agreement']")
    page.wait_for_load_state()
    assert page.locator("[data-state='agreed']").count() == 1
    page.goto(f"{base}/mediation/cases/{case.pk}/agreement/")
    doc = page.locator("[data-agreement-doc]")
    assert "王某于三日内疏通排水沟" in doc.inner_text() and "王某" in doc.locator("[data-doc-parties]").inner_text()
    shot(page, "mediation-agreement")

    # Thirty days on: the worker finds the first follow-up visit due and reminds the mediator.
    first = FollowUp.objects.filter(case=case).order_by("due_at").first()
    FollowUp.objects.filter(pk=first.pk).update(due_at=dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1))
    while services.handle_one():
        pass
    assert Message.objects.filter(user=c.u_zhou, kind="mediation.follow_up").count() == 1
    page.goto(f"{base}/mediation/cases/{case.pk}/")
    assert page.locator(f"[data-follow-up='{first.pk}'][data-state='due']").count() == 1
    page.click("[data-action='follow-up']")
    page.wait_for_load_state()
    assert FollowUp.objects.get(pk=first.pk).state == "kept"
    ctx.close()
