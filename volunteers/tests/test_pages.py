"""Volunteer pages as people use them: joining, the week's activities, sign-up with a waiting list,
check-in with the code at the place, the organiser's participant list with check-in/out and rating,
publishing and teams; refusals that change nothing; 404 for everyone outside."""

from __future__ import annotations

import datetime as dt
import re

import pytest

from core.clock import SHANGHAI, now
from points.models import Account
from volunteers import services
from volunteers.models import Activity, Participation, Team, Volunteer

pytestmark = pytest.mark.django_db


def state(activity, volunteer) -> str | None:
    return Participation.objects.filter(activity=activity, volunteer=volunteer).values_list("state", flat=True).first()


def snapshot() -> tuple:
    return (
        list(Participation.objects.order_by("id").values_list("id", "state", "checkin_at", "hours")),
        list(Activity.objects.order_by("id").values_list("id", "state")),
        Volunteer.objects.count(),
        Team.objects.count(),
    )


def test_a_resident_registers_as_a_volunteer_and_sees_the_week(world, client_as):
    c = world.c
    zhang = client_as(c.u_zhang, lang="en")
    page = zhang.get("/volunteers/")
    assert page.status_code == 200
    assert "Register as a volunteer" in page.content.decode()
    zhang.post("/volunteers/join/", {"skills": "做饭，理发", "availability": "周末"})
    v = Volunteer.objects.get(resident=c.zhang)
    assert v.skills == ["做饭", "理发"] and v.availability == "周末"
    html = zhang.get("/volunteers/").content.decode()
    assert "Register as a volunteer" not in html
    assert re.search(r"data-hours>0<", html)


def test_sign_up_fills_the_places_then_the_waiting_list_and_a_withdrawal_moves_it_up(vw, client_as):
    c = vw.c
    zhang, liu = client_as(c.u_zhang, lang="en"), client_as(c.u_liu, lang="en")
    week = zhang.get("/volunteers/").content.decode()
    assert "村口义务清扫" in week and "1 place left" in week and f"/volunteers/activities/{vw.later.pk}/signup/" in week
    zhang.post(f"/volunteers/activities/{vw.later.pk}/signup/", {"next": "/volunteers/"})
    assert state(vw.later, vw.zhang) == "signed_up"
    r = liu.post(f"/volunteers/activities/{vw.later.pk}/signup/", follow=True)
    assert "you are on the waiting list" in r.content.decode()
    assert state(vw.later, vw.liu) == "waitlisted"
    assert "number 1 on the waiting list" in r.content.decode()
    before = snapshot()
    again = liu.post(f"/volunteers/activities/{vw.later.pk}/signup/", follow=True)
    assert "Already signed up" in again.content.decode() and snapshot() == before
    mine = Participation.objects.get(activity=vw.later, volunteer=vw.zhang)
    zhang.post(f"/volunteers/participations/{mine.pk}/withdraw/", {"next": "/volunteers/"})
    assert state(vw.later, vw.zhang) == "withdrawn" and state(vw.later, vw.liu) == "signed_up"


def test_check_in_with_the_code_at_the_place(vw, client_as):
    c = vw.c
    services.signup(activity=vw.running, by=c.u_zhang)
    zhang = client_as(c.u_zhang, lang="en")
    before = snapshot()
    for wrong in ("WRONG123", "签到码", ""):
        r = zhang.post("/volunteers/checkin/", {"code": wrong}, follow=True)
        assert r.status_code == 200
        assert "The check-in code is not right." in r.content.decode()
    r = zhang.post(f"/volunteers/activities/{vw.running.pk}/checkin/", {"code": "签到"}, follow=True)
    assert r.status_code == 200 and "The check-in code is not right." in r.content.decode()
    assert snapshot() == before
    r = zhang.post("/volunteers/checkin/", {"code": vw.running.checkin_code.lower()}, follow=True)
    assert "You are checked in" in r.content.decode()
    assert state(vw.running, vw.zhang) == "checked_in"
    r = zhang.post("/volunteers/checkin/", {"code": vw.running.checkin_code}, follow=True)
    assert "Already checked in." in r.content.decode()
    # Liu has not signed up: the code alone does not check him in
    r = client_as(c.u_liu, lang="en").post("/volunteers/checkin/", {"code": vw.running.checkin_code}, follow=True)
    assert "The check-in code is not right." in r.content.decode()
    assert state(vw.running, vw.liu) is None


def test_the_organiser_sees_the_code_checks_people_in_and_out_and_rates_them(vw, client_as):
    c = vw.c
    services.signup(activity=vw.running, by=c.u_zhang)
    p = Participation.objects.get(activity=vw.running, volunteer=vw.zhang)
    zhou = client_as(c.u_zhou, lang="en")
    page = zhou.get(f"/volunteers/activities/{vw.running.pk}/")
    html = page.content.decode()
    assert page.status_code == 200
    assert vw.running.checkin_code in html and "张阿姨" in html
    resident_view = client_as(c.u_zhang).get(f"/volunteers/activities/{vw.running.pk}/").content.decode()
    assert vw.running.checkin_code not in resident_view  # the code is at the place, not on her phone

    before = snapshot()
    r = zhou.post(f"/volunteers/participations/{p.pk}/rate/", {"rating": "5", "hours": ""}, follow=True)
    assert "Only a volunteer who checked in can be rated." in r.content.decode() and snapshot() == before
    zhou.post(f"/volunteers/activities/{vw.running.pk}/checkin/", {"participation": p.pk})
    assert state(vw.running, vw.zhang) == "checked_in"
    zhou.post(f"/volunteers/participations/{p.pk}/checkout/")
    assert state(vw.running, vw.zhang) == "checked_out"
    r = zhou.post(f"/volunteers/participations/{p.pk}/rate/", {"rating": "9", "hours": "2"}, follow=True)
    assert "The rating is from 0" in r.content.decode() and state(vw.running, vw.zhang) == "checked_out"
    zhou.post(f"/volunteers/participations/{p.pk}/rate/", {"rating": "5", "hours": "2"})
    p.refresh_from_db()
    assert (p.state, p.hours, p.rating) == ("done", 2, 5)
    assert Account.objects.get(resident=c.zhang).balance == 20  # VS01: 10 points an hour, decided at once
    home = client_as(c.u_zhang, lang="en").get("/volunteers/").content.decode()
    assert re.search(r"data-hours>2<", home) and "+20 points" in home


def test_cancelling_needs_a_reason_and_tells_nothing_changed_otherwise(vw, client_as):
    zhou = client_as(vw.c.u_zhou, lang="en")
    before = snapshot()
    r = zhou.post(f"/volunteers/activities/{vw.later.pk}/cancel/", {"reason": ""}, follow=True)
    assert "This field is required." in r.content.decode() and snapshot() == before
    zhou.post(f"/volunteers/activities/{vw.later.pk}/cancel/", {"reason": "下雨"})
    assert Activity.objects.get(pk=vw.later.pk).state == "cancelled"
    r = zhou.post(f"/volunteers/activities/{vw.later.pk}/finish/", follow=True)
    assert "Only an open activity can be finished." in r.content.decode()
    zhou.post(f"/volunteers/activities/{vw.running.pk}/finish/")
    assert Activity.objects.get(pk=vw.running.pk).state == "finished"


def test_staff_publish_an_activity_in_beijing_time_and_set_up_a_team(vw, client_as):
    c = vw.c
    zhou = client_as(c.u_zhou, lang="en")
    page = zhou.get("/volunteers/manage/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "村口义务清扫" in html and "关爱独居老人" in html
    day = (now() + dt.timedelta(days=3)).astimezone(SHANGHAI).date()
    body = {
        "node": c.v1.pk,
        "title": "送医下乡",
        "place": "村卫生室",
        "starts_at": f"{day}T09:00",
        "ends_at": f"{day}T11:30",
        "capacity": "8",
    }
    r = zhou.post("/volunteers/manage/", body)
    a = Activity.objects.get(title="送医下乡")
    assert r.status_code == 302 and r["Location"] == f"/volunteers/activities/{a.pk}/"
    assert a.starts_at == dt.datetime(day.year, day.month, day.day, 9, 0, tzinfo=SHANGHAI)
    assert (a.capacity, a.node_id, a.created_by_id) == (8, c.v1.pk, c.u_zhou.pk)
    before = snapshot()
    r = zhou.post("/volunteers/manage/", {**body, "title": "倒着走", "ends_at": f"{day}T08:00"})
    assert r.status_code == 422 and "An activity ends after it starts" in r.content.decode()
    assert 'value="倒着走"' in r.content.decode()  # what was typed stays in the form
    r = zhou.post("/volunteers/manage/", {**body, "title": "没时间", "starts_at": "明天"})
    assert r.status_code == 422 and "Enter the date and time." in r.content.decode()
    assert snapshot() == before
    assert client_as(c.u_zhou).post("/volunteers/manage/", {**body, "node": c.v3.pk}).status_code == 404

    zhou.post("/volunteers/teams/", {"node": c.v1.pk, "name": "东村巾帼志愿队", "leader": vw.zhang.pk})
    team = Team.objects.get(name="东村巾帼志愿队")
    html = zhou.get("/volunteers/manage/").content.decode()
    assert "东村巾帼志愿队" in html and "张阿姨" in html
    assert team.members.get().volunteer_id == vw.zhang.pk
    # the team's leader may now organise: her manage page lists the team to publish for
    assert client_as(c.u_zhang).get("/volunteers/manage/").status_code == 200


def test_outsiders_get_404_and_residents_cannot_open_the_organisers_pages(vw, client_as):
    c = vw.c
    services.signup(activity=vw.running, by=c.u_zhang)
    p = Participation.objects.get(activity=vw.running, volunteer=vw.zhang)
    sun, zhang = client_as(c.u_sun), client_as(c.u_zhang)
    before = snapshot()
    assert zhang.get("/volunteers/manage/").status_code == 404
    assert zhang.post("/volunteers/teams/", {"node": c.v1.pk, "name": "x"}).status_code == 404
    assert zhang.post(f"/volunteers/participations/{p.pk}/rate/", {"rating": "5"}).status_code == 404
    assert zhang.post(f"/volunteers/activities/{vw.running.pk}/cancel/", {"reason": "x"}).status_code == 404
    assert sun.get(f"/volunteers/activities/{vw.running.pk}/").status_code == 404
    assert sun.get("/volunteers/manage/").status_code == 404
    assert sun.post(f"/volunteers/activities/{vw.running.pk}/cancel/", {"reason": "x"}).status_code == 404
    assert sun.post(f"/volunteers/participations/{p.pk}/withdraw/").status_code == 404
    assert client_as(c.u_liu).post(f"/volunteers/participations/{p.pk}/checkout/").status_code == 404
    assert snapshot() == before
    assert client_as(None).get("/volunteers/").status_code == 302


def test_staff_without_a_resident_record_land_on_the_organisers_page(vw, client_as):
    assert client_as(vw.c.u_zhou).get("/volunteers/")["Location"] == "/volunteers/manage/"
    page = client_as(vw.c.u_wang, lang="en").get("/volunteers/")
    assert page.status_code == 200 and "not linked to a resident" in page.content.decode()


def test_the_organisers_lists_take_the_same_number_of_queries_however_long_they_are(vw, client_as):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from org import services as org

    c = vw.c
    zhou = client_as(c.u_zhou)

    def counted(url: str) -> int:
        zhou.get(url)
        with CaptureQueriesContext(connection) as ctx:
            assert zhou.get(url).status_code == 200
        return len(ctx.captured_queries)

    def more(n: int) -> None:
        for i in range(n):
            r = org.resident_create(household=c.h_liu, name=f"志愿者{i}{Participation.objects.count()}", gender="F")
            v = services.volunteer_join(resident=r, by=c.u_zhou)
            services.signup(activity=vw.running, by=c.u_zhou, volunteer=v)
            p = services.check_in(activity=vw.running, by=c.u_zhou, volunteer=v)
            services.rate(participation=p, rating=5, hours="1", by=c.u_zhou)
            start = now() + dt.timedelta(days=1, hours=i)
            services.activity_publish(
                node=c.v1, title=f"活动{i}", place="村委会", starts_at=start, ends_at=start + dt.timedelta(hours=1),
                capacity=3, by=c.u_zhou,
            )  # fmt: skip

    more(1)
    few = (counted(f"/volunteers/activities/{vw.running.pk}/"), counted("/volunteers/manage/"))
    more(4)
    many = (counted(f"/volunteers/activities/{vw.running.pk}/"), counted("/volunteers/manage/"))
    assert few == many
