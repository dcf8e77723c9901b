from __future__ import annotations

import datetime as dt

from mediation import selectors, services
from mediation.tests.helpers import reported
from notify.models import Message


def test_smoke(county, desk, clock):
    c = reported(county, red_reason="扬言动手")
    assert c.code.startswith("TJ2026")
    assert c.red_flag
    assert Message.objects.filter(kind="mediation.red_flag", user=county.u_wu).exists()
    services.case_accept(case=c, by=county.u_zhou, mediator=desk.zhou)
    c.refresh_from_db()
    assert c.state == "mediating"
    print(c.due_at, c.warn_at, c.next_check_at)
    services.session_add(
        case=c, by=county.u_zhou, held_on=dt.date(2026, 11, 18), place="村委会", attendees="双方", notes="x"
    )
    a = services.agreement_make(case=c, by=county.u_zhou, facts="f", terms="t", signed_on=dt.date(2026, 11, 18))
    c.refresh_from_db()
    assert c.state == "agreed" and c.level == "village"
    print(list(a.follow_ups.values_list("due_at", flat=True)))
    clock.set("2026-12-19 09:00")
    assert services.handle_one()
    f = selectors.due_follow_up(c)
    assert f.state == "due"
    services.follow_up_record(case=c, follow_up=f, by=county.u_zhou, kept=True, notes="")
    f2 = selectors.due_follow_up(c)
    services.follow_up_record(case=c, follow_up=f2, by=county.u_zhou, kept=False, notes="又吵")
    c.refresh_from_db()
    assert c.state == "mediating" and c.round == 2 and c.level == ""
    assert selectors.cases_for(county.u_li).filter(pk=c.pk).exists()
    assert not selectors.cases_for(county.u_wang).filter(pk=c.pk).exists()


def test_pages_smoke(county, desk, clock, client_as):
    c = reported(county)
    li = client_as(county.u_li)
    assert li.get("/mediation/").status_code == 200
    assert li.get("/mediation/report/").status_code == 200
    r = li.get(f"/mediation/cases/{c.pk}/")
    assert r.status_code == 200, r.content
    zhou = client_as(county.u_zhou)
    r = zhou.get(f"/mediation/cases/{c.pk}/")
    assert r.status_code == 200
    r = zhou.post(f"/mediation/cases/{c.pk}/accept/", {"mediator": desk.zhou.pk})
    assert r.status_code == 302
    terms = {"facts": "f", "terms": "甲方赔偿乙方500元", "signed_on": "2026-11-18"}
    r = zhou.post(f"/mediation/cases/{c.pk}/agree/", terms)
    r = zhou.get(f"/mediation/cases/{c.pk}/")
    assert 'data-state="agreed"' in r.content.decode()
    r = zhou.get(f"/mediation/cases/{c.pk}/agreement/")
    assert "甲方赔偿乙方500元" in r.content.decode()
    assert zhou.get(f"/api/v1/mediation/cases/{c.pk}").status_code == 200
    wu = client_as(county.u_wu)
    assert wu.get("/dashboard/mediation/").status_code == 200
    assert wu.get("/dashboard/mediation/xlsx/").status_code == 200
    assert wu.get("/dashboard/").status_code == 200
    assert client_as(county.u_wang).get(f"/mediation/cases/{c.pk}/").status_code == 404
