"""Every form of the volunteer pages refuses a NUL byte and an over-long field with the form's message and
changes nothing (compared row by row), on SQLite and PostgreSQL alike; and the buttons of a sign-up and an
activity are exactly the moves the services would accept from the user who sees them."""

from __future__ import annotations

import datetime as dt

import pytest

from core.clock import SHANGHAI, now
from gongzhi.test import accepted, assert_refuses_bad_input, db_fingerprint
from volunteers import forms, selectors, services
from volunteers.models import Activity, Participation
from volunteers.states import ACTIVITY, PARTICIPATION

pytestmark = pytest.mark.django_db


def test_every_volunteer_form_refuses_nul_and_over_long_fields(vw, client_as):
    c = vw.c
    zhang, liu, zhou = client_as(c.u_zhang), client_as(c.u_liu), client_as(c.u_zhou)
    mine = services.signup(activity=vw.running, by=c.u_zhang)
    later = services.signup(activity=vw.later, by=c.u_zhang)
    done = services.check_in(activity=vw.running, by=c.u_zhou, volunteer=vw.liu)
    day = (now() + dt.timedelta(days=3)).astimezone(SHANGHAI).date()
    running = f"/volunteers/activities/{vw.running.pk}/"
    posts = 0
    posts += assert_refuses_bad_input(
        zhang, "/volunteers/join/", {"skills": "做饭，理发", "availability": "周末"}, forms.JoinForm
    )
    posts += assert_refuses_bad_input(
        zhang, "/volunteers/checkin/", {"code": vw.running.checkin_code}, forms.CodeCheckinForm
    )
    posts += assert_refuses_bad_input(
        liu, f"/volunteers/activities/{vw.later.pk}/signup/", {"next": "/volunteers/"}, forms.SignupForm
    )
    posts += assert_refuses_bad_input(
        zhou, f"{running}checkin/", {"participation": mine.pk, "next": running}, forms.CheckinForm
    )
    posts += assert_refuses_bad_input(
        zhang, f"/volunteers/participations/{later.pk}/withdraw/", {"next": "/volunteers/"}, forms.WithdrawForm
    )
    posts += assert_refuses_bad_input(
        zhou, f"/volunteers/participations/{done.pk}/checkout/", {"code": "", "next": running}, forms.CheckoutForm
    )
    posts += assert_refuses_bad_input(
        zhou, f"/volunteers/participations/{done.pk}/rate/", {"rating": "5", "hours": "1.5"}, forms.RateForm
    )
    posts += assert_refuses_bad_input(
        zhou, f"/volunteers/activities/{vw.later.pk}/cancel/", {"reason": "下雨"}, forms.ActivityCancelForm
    )
    posts += assert_refuses_bad_input(
        zhou, "/volunteers/manage/",
        {"node": c.v1.pk, "team": "", "title": "送医下乡", "place": "村卫生室", "description": "量血压",
         "starts_at": f"{day}T09:00", "ends_at": f"{day}T11:30", "capacity": "8"},
        forms.PublishForm,
    )  # fmt: skip
    posts += assert_refuses_bad_input(
        zhou, "/volunteers/teams/",
        {"node": c.v1.pk, "name": "东村巾帼志愿队", "description": "", "leader": vw.zhang.pk},
        forms.TeamForm,
    )  # fmt: skip
    assert posts >= 50  # every text field of every form, twice


def test_a_form_without_fields_still_refuses_a_nul_byte_smuggled_in(vw, client_as):
    zhou = client_as(vw.c.u_zhou)
    before = db_fingerprint()
    r = zhou.post(f"/volunteers/activities/{vw.later.pk}/finish/", {"x": "\x00"}, follow=True)
    assert r.status_code == 200 and [str(m) for m in r.context["messages"]]
    assert db_fingerprint() == before and Activity.objects.get(pk=vw.later.pk).state == "published"


def test_what_was_typed_stays_in_the_publish_form_after_a_refusal(vw, client_as):
    day = (now() + dt.timedelta(days=3)).astimezone(SHANGHAI).date()
    body = {"node": vw.c.v1.pk, "title": " 倒着走 ", "place": "村口", "starts_at": f"{day}T09:00",
            "ends_at": f"{day}T08:00", "capacity": "8"}  # fmt: skip
    r = client_as(vw.c.u_zhou, lang="en").post("/volunteers/manage/", body)
    assert r.status_code == 422 and r.context["values"]["title"] == "倒着走"
    assert r.context["values"]["node"] == str(vw.c.v1.pk) and r.context["values"]["capacity"] == "8"


# --- the buttons follow the allowed actions ---------------------------------------------------------------------


def test_the_buttons_of_a_sign_up_follow_who_may_do_what_and_when(vw, client_as):
    c = vw.c
    running = services.signup(activity=vw.running, by=c.u_zhang)
    later = services.signup(activity=vw.later, by=c.u_zhang)
    waiting = services.signup(activity=vw.later, by=c.u_liu)  # one place: liu waits
    assert waiting.state == "waitlisted"
    zhang, zhou = client_as(c.u_zhang), client_as(c.u_zhou)

    # Before the start she may still say she cannot come, not check in; once it has begun, only check in.
    page = zhang.get(f"/volunteers/activities/{vw.later.pk}/")
    assert page.context["mine"].actions == ["withdraw"]
    html = page.content.decode()
    assert f"/volunteers/participations/{later.pk}/withdraw/" in html and 'name="code"' not in html
    page = zhang.get(f"/volunteers/activities/{vw.running.pk}/")
    assert page.context["mine"].actions == ["check_in"]
    html = page.content.decode()
    assert f"/volunteers/activities/{vw.running.pk}/checkin/" in html and "/withdraw/" not in html
    assert page.context["actions"] == [] and f"/volunteers/activities/{vw.running.pk}/finish/" not in html
    week = zhang.get("/volunteers/").content.decode()
    assert f"/volunteers/participations/{later.pk}/withdraw/" in week
    assert f"/volunteers/participations/{running.pk}/withdraw/" not in week

    # The organiser: check in or rate a sign-up once the activity has begun; nothing to rate before it.
    page = zhou.get(f"/volunteers/activities/{vw.running.pk}/")
    assert {p.pk: p.actions for p in page.context["participants"]} == {running.pk: ["withdraw", "check_in", "rate"]}
    assert page.context["actions"] == ["cancel", "finish"]
    html = page.content.decode()
    assert f"/volunteers/participations/{running.pk}/rate/" in html and "/checkout/" not in html
    page = zhou.get(f"/volunteers/activities/{vw.later.pk}/")
    assert {p.pk: p.actions for p in page.context["participants"]} == {later.pk: ["withdraw"], waiting.pk: ["withdraw"]}
    assert "/rate/" not in page.content.decode()

    services.check_in(activity=vw.running, by=c.u_zhou, volunteer=vw.zhang)
    page = zhou.get(f"/volunteers/activities/{vw.running.pk}/")
    assert page.context["participants"][0].actions == ["check_out", "rate"]
    assert zhang.get(f"/volunteers/activities/{vw.running.pk}/").context["mine"].actions == ["check_out"]

    services.activity_finish(activity=vw.running, by=c.u_zhou)
    page = zhou.get(f"/volunteers/activities/{vw.running.pk}/")
    assert page.context["actions"] == []
    assert f"/volunteers/activities/{vw.running.pk}/cancel/" not in page.content.decode()


def test_a_volunteer_who_withdrew_may_sign_up_again_from_the_activity(vw, client_as):
    p = services.signup(activity=vw.later, by=vw.c.u_zhang)
    services.withdraw(participation=p, by=vw.c.u_zhang)
    zhang = client_as(vw.c.u_zhang)
    page = zhang.get(f"/volunteers/activities/{vw.later.pk}/")
    assert page.context["mine"].actions == ["signup_again"]
    assert f"/volunteers/activities/{vw.later.pk}/signup/" in page.content.decode()
    zhang.post(f"/volunteers/activities/{vw.later.pk}/signup/")
    assert Participation.objects.get(pk=p.pk).state == "signed_up"


# --- a button is shown exactly when the service would accept it --------------------------------------------------


def _fresh(pk: int) -> Participation:
    return Participation.objects.select_related("activity__rule", "volunteer__resident").get(pk=pk)


def _moves(user, pk: int) -> dict:
    """Each move of the participation table as the pages make it: the volunteer's own check-in and
    check-out with the code, the organiser's with the volunteer."""

    def check_in() -> None:
        p = _fresh(pk)
        own = p.volunteer.resident.user_id == user.pk
        if own and not selectors.organises(user, p.activity):
            services.check_in(activity=p.activity, by=user, code=p.activity.checkin_code)
        else:
            services.check_in(activity=p.activity, by=user, volunteer=p.volunteer)

    def rate() -> None:
        p = _fresh(pk)
        services.rate(participation=p, rating=5 if p.checkin_at else 0, by=user)

    return {
        "signup_again": lambda: services.signup(activity=_fresh(pk).activity, by=user, volunteer=_fresh(pk).volunteer),
        "withdraw": lambda: services.withdraw(participation=_fresh(pk), by=user),
        "move_up": None,  # no one's button: the waiting list moves by itself
        "check_in": check_in,
        "check_out": lambda: services.check_out(
            participation=_fresh(pk), by=user, code=_fresh(pk).activity.checkin_code
        ),
        "rate": rate,
    }


def _activity_moves(user, pk: int) -> dict:
    return {
        "cancel": lambda: services.activity_cancel(activity=Activity.objects.get(pk=pk), by=user, reason="下雨"),
        "finish": lambda: services.activity_finish(activity=Activity.objects.get(pk=pk), by=user),
    }


def test_the_allowed_actions_are_the_moves_the_services_accept(vw):
    c = vw.c
    signed = services.signup(activity=vw.running, by=c.u_zhang)
    checked_in = services.check_in(activity=vw.running, by=c.u_zhou, volunteer=vw.liu)
    later = services.signup(activity=vw.later, by=c.u_zhang)
    waiting = services.signup(activity=vw.later, by=c.u_liu)
    start = now() + dt.timedelta(days=1)
    gone_act = services.activity_publish(
        node=c.v1, title="修路", place="村口", starts_at=start, ends_at=start + dt.timedelta(hours=1), capacity=3,
        by=c.u_zhou,
    )  # fmt: skip
    gone = services.withdraw(participation=services.signup(activity=gone_act, by=c.u_zhang), by=c.u_zhang)
    # zhang and liu volunteers, zhou who published them, wu the town's staff, li a grid worker, sun outside
    people = [c.u_zhang, c.u_liu, c.u_zhou, c.u_wu, c.u_li, c.u_sun]
    rows = [signed.pk, checked_in.pk, later.pk, waiting.pk, gone.pk]
    checked = allowed = 0
    for user in people:
        for pk in rows:
            shown = selectors.participation_actions(user, _fresh(pk))
            moves = _moves(user, pk)
            assert set(moves) == set(PARTICIPATION.actions)
            for action, move in moves.items():
                if move is None:
                    assert action not in shown
                    continue
                assert accepted(move) == (action in shown), (user.username, _fresh(pk).state, action, shown)
                checked, allowed = checked + 1, allowed + (action in shown)
        for a in (vw.running, vw.later):
            shown = selectors.activity_actions(user, Activity.objects.get(pk=a.pk))
            moves = _activity_moves(user, a.pk)
            assert set(moves) == set(ACTIVITY.actions)
            for action, move in moves.items():
                assert accepted(move) == (action in shown), (user.username, a.title, action, shown)
                checked, allowed = checked + 1, allowed + (action in shown)
    assert checked == len(people) * (len(rows) * 5 + 2 * 2)
    assert 10 <= allowed < checked  # both answers were asked for: some moves shown, others not
