"""Dispute cases through the services, as the people of the persona county meet them: every move of a case's
lifecycle and every refusal (a coded 409 that changes nothing), the red flag, the worker's time limits and
follow-up visits, a work order turned into a case, who sees a case and how much of it, bad input, and retries.

The county: 李网格 (grid worker of A1) finds the disputes; 周村干 (东村's committee) and 吴镇干 (东镇's justice
office) mediate them; 孙调解 (a 乡贤 of 西村) is a mediator of another village. The clock starts on Wednesday
2026-11-18 10:00, Asia/Shanghai."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.db import transaction

from accounts.models import User
from core import workcal
from core.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from core.models import PersonalDataAccess
from gongzhi.test import accepted, db_fingerprint
from mediation import selectors, services
from mediation.models import Agreement, Case, Event, Extension, FollowUp, Party, Referral, Session
from mediation.services import PartyIn
from mediation.states import REFERRAL
from mediation.tests.helpers import OUTSIDER, OUTSIDER_PHONE
from mediation.tests.helpers import reported as report
from notify.models import Message
from workorders.tests.helpers import at

TODAY = dt.date(2026, 11, 18)


# --- helpers ------------------------------------------------------------------------------------------------------


def fresh(case: Case) -> Case:
    return Case.objects.get(pk=case.pk)


def accept(c: Any, desk: Any, case: Case | None = None, mediator: Any = None) -> Case:
    case = case or report(c)
    services.case_accept(case=case, by=c.u_zhou, mediator=mediator or desk.zhou)
    return fresh(case)


def agree(c: Any, case: Case, by: Any = None) -> Agreement:
    return services.agreement_make(
        case=case, by=by or c.u_zhou, facts="排水沟堵塞，两家争吵", terms="两家共同出资疏通水沟", signed_on=TODAY
    )


def follow_ups(case: Case) -> list[FollowUp]:
    return list(FollowUp.objects.filter(case=case).order_by("due_at", "id"))


def actions(case: Case) -> list[tuple[str, str, str]]:
    return list(Event.objects.filter(case=case).order_by("id").values_list("action", "from_state", "to_state"))


def told(kind: str, case: Case | None = None) -> list[int]:
    """The user ids a message of `kind` went to (one entry per message)."""
    qs = Message.objects.filter(kind=kind)
    if case is not None:
        qs = qs.filter(link=services.LINK % {"pk": case.pk})
    return sorted(qs.values_list("user_id", flat=True))


def ids(*users: Any) -> list[int]:
    return sorted(u.pk for u in users)


def shanghai(s: str) -> dt.datetime:
    return at(s)


def refused(call: Any, code: str, status: int = 409, error: type = Conflict) -> Any:
    """`call()` is refused with `code` and changes nothing: no row anywhere, no event, no message."""
    before = db_fingerprint()
    events = Event.objects.count()
    with pytest.raises(error) as e:
        call()
    assert (e.value.status, e.value.code) == (status, code)
    assert Event.objects.count() == events
    assert db_fingerprint() == before
    return e.value


def moves(c: Any, desk: Any) -> dict[str, Any]:
    """Every move a mediator (周村干) can ask of a case, with valid input."""
    z = c.u_zhou

    def follow_up(k: Case) -> Any:
        return services.follow_up_record(case=k, follow_up=follow_ups(k)[0], by=z, kept=True, notes="")

    return {
        "accept": lambda k: services.case_accept(case=k, by=z, mediator=desk.zhou),
        "decline": lambda k: services.case_decline(case=k, by=z, reason="已起诉至法院"),
        "session": lambda k: services.session_add(
            case=k, by=z, held_on=TODAY, place="村委会", attendees="双方当事人", notes="第一次调解"
        ),
        "extend": lambda k: services.case_extend(case=k, by=z, days=10, reason="当事人外出务工"),
        "agree": lambda k: agree(c, k),
        "refer": lambda k: services.case_refer(case=k, by=z, unit="justice", done="村里调解两次未果"),
        "result": lambda k: services.referral_result(case=k, by=z, settled=True, result="司法所调解成功"),
        "settle": lambda k: services.case_settle(case=k, by=z, note="当场赔偿，双方满意"),
        "end": lambda k: services.case_end(case=k, by=z, reason="一方拒绝调解"),
        "flag": lambda k: services.case_flag(case=k, by=z, reason="一方扬言动手"),
        "follow_up": follow_up,
    }


def case_in(c: Any, desk: Any, state: str) -> Case:
    """A case brought to `state` by the people who would do it."""
    case = report(c)
    if state == "reported":
        return case
    if state == "declined":
        services.case_decline(case=case, by=c.u_zhou, reason="已起诉至法院")
        return fresh(case)
    accept(c, desk, case)
    if state == "mediating":
        return fresh(case)
    if state == "ended":
        services.case_end(case=case, by=c.u_zhou, reason="一方拒绝调解")
        return fresh(case)
    if state == "referred":
        services.case_refer(case=case, by=c.u_zhou, unit="justice", done="村里调解两次未果")
        return fresh(case)
    agree(c, case)
    if state == "agreed":
        return fresh(case)
    for f in follow_ups(case):
        services.follow_up_record(case=case, follow_up=f, by=c.u_zhou, kept=True, notes="已履行")
    assert state == "settled"
    return fresh(case)


# What a mediator may do to a case in each state (the services' answer; "scan" needs a photo, tested elsewhere).
ALLOWED = {
    "reported": {"accept", "decline", "flag"},
    "mediating": {"session", "extend", "agree", "refer", "settle", "end", "flag"},
    "agreed": {"follow_up", "flag"},
    "referred": {"result", "flag"},
    "settled": set(),
    "ended": set(),
    "declined": set(),
}


# --- 1. the lifecycle ---------------------------------------------------------------------------------------------


def test_a_reported_case_is_accepted_with_its_mediator_and_a_30_day_limit(county, desk, clock):
    c = county
    case = report(c)
    assert case.state == "reported" and case.code == f"TJ2026{case.pk:06d}"
    assert [(p.side, p.resident_id, p.name) for p in case.parties.order_by("id")] == [
        ("applicant", c.zhang.pk, "张阿姨"),
        ("respondent", None, OUTSIDER),
    ]
    assert told("mediation.new", case) == ids(c.u_zhou, c.u_wu)  # the mediators over 东村: 周村干, 吴镇干

    case = accept(c, desk, case)
    assert case.state == "mediating" and case.mediator == desk.zhou
    assert case.accepted_at == shanghai("2026-11-18 10:00")
    # 30 calendar days counted from the day after acceptance: the limit ends at 24:00 of Friday 2026-12-18.
    assert case.due_at == shanghai("2026-12-19 00:00")
    assert selectors.due_date(case) == dt.date(2026, 12, 18)
    assert case.warn_at == shanghai("2026-12-14 00:00") == case.next_check_at
    assert (case.warned, case.overdue) == (False, False)
    assert told("mediation.assigned", case) == ids(c.u_zhou)
    assert actions(case) == [("report", "", ""), ("accept", "reported", "mediating")]


def test_a_limit_whose_last_day_is_a_day_off_runs_to_the_next_working_day(county, desk, clock):
    # 07:00 in Shanghai on Thursday 2026-11-19 is still 2026-11-18 in UTC: the day counts in Shanghai.
    clock.set("2026-11-19 07:00")
    case = accept(county, desk)
    last = dt.date(2026, 11, 19) + dt.timedelta(days=30)
    assert last == dt.date(2026, 12, 19) and not workcal.is_workday(last)  # a Saturday
    assert not workcal.is_workday(dt.date(2026, 12, 20)) and workcal.is_workday(dt.date(2026, 12, 21))
    assert case.due_at == shanghai("2026-12-22 00:00")  # the end of Monday 2026-12-21
    assert selectors.due_date(case) == dt.date(2026, 12, 21)
    assert case.warn_at == shanghai("2026-12-17 00:00")


def test_a_dispute_settled_on_the_spot_is_reported_settled_in_the_grid(county, desk, clock):
    c = county
    case = fresh(report(c, on_the_spot="当场劝和，双方握手言和"))
    assert (case.state, case.level, case.settled_at, case.closed_at) == (
        "settled", "grid", shanghai("2026-11-18 10:00"), shanghai("2026-11-18 10:00")
    )  # fmt: skip
    assert [a for a, _f, _t in actions(case)] == ["report", "spot"]
    assert told("mediation.new", case) == []  # nothing left for the mediators to do
    refused(  # never with a red flag
        lambda: report(c, on_the_spot="当场劝和", red_reason="扬言动手"),
        "case.spot_not_allowed",
        status=422,
        error=ValidationFailed,
    )


def test_a_case_not_accepted_is_closed_with_the_reason(county, desk, clock):
    case = report(county)
    services.case_decline(case=case, by=county.u_zhou, reason="已起诉至法院")
    case = fresh(case)
    assert (case.state, case.reason, case.closed_at, case.mediator) == (
        "declined", "已起诉至法院", shanghai("2026-11-18 10:00"), None
    )  # fmt: skip
    assert actions(case)[-1] == ("decline", "reported", "declined")


def test_a_session_is_recorded_while_the_case_is_mediated(county, desk, clock):
    case = accept(county, desk)
    s = services.session_add(
        case=case, by=county.u_zhou, held_on=TODAY, place="村委会", attendees="双方当事人", notes="双方各退一步"
    )
    assert (s.case_id, s.held_on, s.by) == (case.pk, TODAY, county.u_zhou)
    assert fresh(case).state == "mediating"
    assert actions(case)[-1] == ("session", "", "")


def test_an_extension_adds_calendar_days_to_the_last_day_and_ends_on_a_working_day(county, desk, clock):
    c = county
    case = accept(c, desk)
    for days in (0, 31, None):
        refused(
            lambda d=days: services.case_extend(case=case, by=c.u_zhou, days=d, reason="当事人外出"),
            "extension.days",
            status=422,
            error=ValidationFailed,
        )
    services.case_extend(case=case, by=c.u_zhou, days=8, reason="当事人外出务工")
    case = fresh(case)
    # The last day was Friday 2026-12-18; 8 more days is Saturday 2026-12-26: the limit runs to Monday's end.
    assert not workcal.is_workday(dt.date(2026, 12, 26)) and workcal.is_workday(dt.date(2026, 12, 28))
    assert case.due_at == shanghai("2026-12-29 00:00") and case.extended_days == 8
    assert case.warn_at == shanghai("2026-12-24 00:00") == case.next_check_at
    x = Extension.objects.get(case=case)
    assert (x.days, x.due_before, x.due_after) == (8, shanghai("2026-12-19 00:00"), shanghai("2026-12-29 00:00"))
    services.case_extend(case=case, by=c.u_zhou, days=30, reason="再次延期")  # the most at a time
    assert fresh(case).due_at == shanghai("2027-01-28 00:00") and fresh(case).extended_days == 38  # a Wednesday


def test_an_agreement_by_the_village_mediator_is_settled_in_the_village_and_followed_up(county, desk, clock):
    c = county
    case = accept(c, desk)
    a = agree(c, case)
    case = fresh(case)
    assert (case.state, case.level, case.settled_at, case.next_check_at) == (
        "agreed", "village", shanghai("2026-11-18 10:00"), None
    )  # fmt: skip
    assert (a.round, a.broken) == (1, False)
    # 08:00 of the 30th and the 90th day after signing (Friday 2026-12-18, Tuesday 2027-02-16).
    assert [(f.after_days, f.due_at, f.state) for f in follow_ups(case)] == [
        (30, shanghai("2026-12-18 08:00"), "planned"),
        (90, shanghai("2027-02-16 08:00"), "planned"),
    ]
    assert actions(case)[-1] == ("agree", "mediating", "agreed")


def test_an_agreement_by_the_town_justice_office_is_settled_in_the_town(county, desk, clock):
    case = accept(county, desk, mediator=desk.wu)
    agree(county, case, by=county.u_wu)
    assert fresh(case).level == "town"


def test_the_last_kept_follow_up_settles_the_case(county, desk, clock):
    c = county
    case = accept(c, desk)
    agree(c, case)
    first, second = follow_ups(case)
    services.follow_up_record(case=case, follow_up=first, by=c.u_zhou, kept=True, notes="已疏通")
    assert fresh(case).state == "agreed"
    clock.set("2027-02-16 09:00")
    services.follow_up_record(case=case, follow_up=second, by=c.u_zhou, kept=True, notes="")
    case = fresh(case)
    assert (case.state, case.level, case.closed_at) == ("settled", "village", shanghai("2027-02-16 09:00"))
    assert [f.state for f in follow_ups(case)] == ["kept", "kept"]
    assert actions(case)[-3:] == [("kept", "", ""), ("kept", "", ""), ("settle", "agreed", "settled")]


def test_a_broken_agreement_takes_the_case_back_to_mediation_in_round_two(county, desk, clock):
    c = county
    case = accept(c, desk)
    agree(c, case)
    first = follow_ups(case)[0]
    clock.set("2026-11-20 10:00")
    refused(  # a broken agreement needs a note of what happened
        lambda: services.follow_up_record(case=case, follow_up=first, by=c.u_zhou, kept=False, notes=" "),
        "validation.required",
        status=422,
        error=ValidationFailed,
    )
    services.follow_up_record(case=case, follow_up=first, by=c.u_zhou, kept=False, notes="对方拒不出钱")
    case = fresh(case)
    assert (case.state, case.round, case.level, case.settled_at) == ("mediating", 2, "", None)
    # A new limit from the break: 2026-12-20 is a Sunday, so it runs to the end of Monday 2026-12-21.
    assert case.due_at == shanghai("2026-12-22 00:00") and case.next_check_at == shanghai("2026-12-17 00:00")
    assert [f.state for f in follow_ups(case)] == ["broken", "cancelled"]
    assert Agreement.objects.get(case=case, round=1).broken
    assert told("mediation.broken", case) == ids(c.u_zhou)
    assert actions(case)[-1] == ("break", "agreed", "mediating")
    # The second round's agreement is its own.
    assert agree(c, case).round == 2 and fresh(case).state == "agreed"


@pytest.mark.parametrize(("unit", "level"), [("justice", "town"), ("court", "outside")])
def test_a_referral_settled_there_settles_the_case_at_the_units_level(county, desk, clock, unit, level):
    c = county
    case = accept(c, desk)
    r = services.case_refer(case=case, by=c.u_zhou, unit=unit, done="村里调解两次未果")
    assert fresh(case).state == "referred" and fresh(case).next_check_at is None
    assert told("mediation.referred", case) == ids(c.u_wu)  # the town's justice office
    clock.set("2026-11-25 10:00")
    services.referral_result(case=case, by=c.u_wu, settled=True, result="达成和解")
    case, r = fresh(case), Referral.objects.get(pk=r.pk)
    assert (case.state, case.level, case.closed_at) == ("settled", level, shanghai("2026-11-25 10:00"))
    assert (r.state, r.result, r.result_by) == ("settled", "达成和解", c.u_wu)
    assert actions(case)[-2:] == [("refer", "mediating", "referred"), ("settle", "referred", "settled")]


def test_a_referral_not_settled_there_comes_back_with_a_new_limit(county, desk, clock):
    c = county
    case = accept(c, desk)
    r = services.case_refer(case=case, by=c.u_zhou, unit="court", done="村里调解两次未果")
    clock.set("2026-11-25 10:00")
    services.referral_result(case=case, by=c.u_wu, settled=False, result="当事人不同意诉前调解")
    case = fresh(case)
    assert (case.state, case.level, case.mediator) == ("mediating", "", desk.zhou)
    assert case.due_at == shanghai("2026-12-26 00:00")  # 30 days after Wednesday 2026-11-25: Friday 12-25
    assert (case.warned, case.overdue, case.next_check_at) == (False, False, shanghai("2026-12-21 00:00"))
    assert Referral.objects.get(pk=r.pk).state == "unsettled"
    assert told("mediation.resumed", case) == ids(c.u_zhou)
    assert actions(case)[-1] == ("resume", "referred", "mediating")


def test_settled_without_a_written_agreement_at_the_mediators_level_or_the_one_named(county, desk, clock):
    c = county
    oral = accept(c, desk)
    services.case_settle(case=oral, by=c.u_zhou, note="当场赔偿，双方满意")
    oral = fresh(oral)
    assert (oral.state, oral.level, oral.reason, oral.next_check_at) == (
        "settled",
        "village",
        "当场赔偿，双方满意",
        None,
    )
    named = accept(c, desk)
    services.case_settle(case=named, by=c.u_zhou, note="网格员现场调解", level="grid")
    assert fresh(named).level == "grid"


def test_mediation_ended_unsettled(county, desk, clock):
    case = accept(county, desk)
    services.case_end(case=case, by=county.u_zhou, reason="一方拒绝调解")
    case = fresh(case)
    assert (case.state, case.level, case.reason, case.next_check_at) == ("ended", "", "一方拒绝调解", None)
    assert actions(case)[-1] == ("end", "mediating", "ended")


@pytest.mark.parametrize("state", list(ALLOWED))
def test_every_state_refuses_what_it_does_not_allow_and_changes_nothing(county, desk, clock, state):
    case = case_in(county, desk, state)
    assert case.state == state
    for name, call in moves(county, desk).items():
        if name == "follow_up" and not follow_ups(case):
            continue  # no visit to record
        if name in ALLOWED[state]:
            assert accepted(lambda call=call: call(case)), (state, name)
        else:
            refused(lambda call=call: call(case), "case.transition_not_allowed")
        assert fresh(case).state == state


def test_the_moves_offered_are_the_moves_the_services_accept(county, desk, clock):
    """selectors.actions draws a case's buttons: each one the service takes, none it refuses."""
    for state in ("mediating", "agreed", "referred", "settled", "ended", "declined"):
        case = case_in(county, desk, state)
        assert set(selectors.actions(county.u_zhou, case)) - {"scan"} == ALLOWED[state], state
        assert selectors.actions(county.u_li, case) == []  # the reporter does not mediate


def test_a_reported_case_offers_only_the_moves_the_service_accepts(county, desk, clock):
    case = case_in(county, desk, "reported")
    assert set(selectors.actions(county.u_zhou, case)) == ALLOWED["reported"]


def test_a_follow_up_visit_recorded_twice_is_refused(county, desk, clock):
    c = county
    case = accept(c, desk)
    agree(c, case)
    first = follow_ups(case)[0]
    services.follow_up_record(case=case, follow_up=first, by=c.u_zhou, kept=True, notes="")
    for kept in (True, False):
        refused(
            lambda k=kept: services.follow_up_record(case=case, follow_up=first, by=c.u_zhou, kept=k, notes="又吵"),
            "followup.transition_not_allowed",
        )
    assert fresh(case).state == "agreed"
    other = accept(c, desk)
    refused(  # a visit of another case
        lambda: services.follow_up_record(case=other, follow_up=follow_ups(case)[1], by=c.u_zhou, kept=True, notes=""),
        "followup.not_found",
        status=404,
        error=NotFound,
    )


def test_a_referrals_result_recorded_twice_is_refused(county, desk, clock):
    c = county
    case = accept(c, desk)
    r = services.case_refer(case=case, by=c.u_zhou, unit="justice", done="村里调解两次未果")
    stale = Referral.objects.get(pk=r.pk)
    services.referral_result(case=case, by=c.u_wu, settled=True, result="达成和解")
    # Asked again through the service: the case is settled now.
    refused(
        lambda: services.referral_result(case=case, by=c.u_wu, settled=False, result="未达成"),
        "case.transition_not_allowed",
    )

    # A copy read before the result was recorded (a second recorder): the referral's own machine refuses.
    def again() -> None:
        with transaction.atomic():
            REFERRAL.move(stale, "result", "unsettled", fields={"result": "未达成"})

    refused(again, "referral.decided")
    assert Referral.objects.get(pk=r.pk).result == "达成和解"


def test_only_the_mediators_over_the_place_act_and_assign_their_own(county, desk, clock):
    c = county
    case = report(c)
    for who in (c.u_li, desk.sun.user, c.u_qian):
        refused(
            lambda w=who: services.case_accept(case=case, by=w, mediator=desk.zhou),
            "case.not_mediator",
            status=403,
            error=PermissionDenied,
        )
    refused(  # 孙调解 is 西村's: not a mediator for 东村's dispute
        lambda: services.case_accept(case=case, by=c.u_zhou, mediator=desk.sun),
        "mediator.invalid",
        status=422,
        error=ValidationFailed,
    )


# --- 2. the red flag ----------------------------------------------------------------------------------------------


def test_a_red_flagged_report_tells_the_town_at_once_without_a_name(county, desk, clock):
    """An important kind (notify.services.IMPORTANT_KINDS): in the inbox, and by SMS to those with a work phone."""
    c = county
    User.objects.filter(pk=c.u_wu.pk).update(work_phone="13322223333")
    case = report(c, red_reason="一方扬言要动刀")
    case = fresh(case)
    assert (case.red_flag, case.risk, case.red_reason) == (True, "high", "一方扬言要动刀")
    # Who watches disputes over A1 (吴镇干 for 东镇; 钱领导, 赵调度 and the admin for the county; 周村干 for 东村)
    # and the mediators over it (周村干, 吴镇干): each once; not the grid worker who raised it.
    assert told("mediation.red_flag") == ids(c.u_wu, c.u_qian, c.u_zhou, c.u_zhao, c.u_admin)
    assert told("mediation.red_flag", case) == ids(c.u_wu, c.u_zhou)  # the rest: a link to the board
    for m in Message.objects.filter(kind="mediation.red_flag"):
        assert case.code in m.text
        assert "张" not in m.text and OUTSIDER not in m.text and "一方扬言要动刀" not in m.text
        if m.user_id == c.u_wu.pk:  # a text now, sent by the outbox
            assert (m.channel, m.phone, m.send_after, m.sent_at) == ("sms", "13322223333", clock.t, None)
        else:  # no work phone: the inbox only
            assert (m.channel, m.phone) == ("site", "")
    assert ("report", "", "") in actions(case)


def test_everyone_told_of_a_red_flag_can_open_the_page_it_links_to(county, desk, clock, client_as):
    client_for = client_as
    c = county
    case = report(c, red_reason="一方扬言要动刀")
    # The mediators over the place get the case; the watchers, who do not see cases, the board that counts it.
    for m in Message.objects.filter(kind="mediation.red_flag").select_related("user"):
        if m.user_id in (c.u_zhou.pk, c.u_wu.pk):
            assert m.link == f"/mediation/cases/{case.pk}/"
            assert selectors.access_case(m.user, case.pk) == case, m.user
        else:
            assert m.link == f"/dashboard/?node={c.a1.pk}", m.user
            assert client_for(m.user).get(m.link).status_code == 200, m.user


def test_a_flag_raised_on_an_open_case_tells_the_town_and_twice_is_refused(county, desk, clock):
    c = county
    User.objects.filter(pk=c.u_wu.pk).update(work_phone="13322223333")
    case = accept(c, desk)
    services.case_flag(case=case, by=c.u_zhou, reason="双方在村口推搡")
    case = fresh(case)
    assert (case.red_flag, case.risk, case.red_reason) == (True, "high", "双方在村口推搡")
    assert told("mediation.red_flag") == ids(c.u_wu, c.u_qian, c.u_zhao, c.u_admin)  # not 周村干 himself
    assert Message.objects.get(kind="mediation.red_flag", user=c.u_wu).channel == "sms"
    assert actions(case)[-1] == ("flag", "", "")
    refused(lambda: services.case_flag(case=case, by=c.u_wu, reason="再次推搡"), "case.flagged")


# --- 3. the worker ------------------------------------------------------------------------------------------------


def run_worker() -> int:
    """Steps until the worker has nothing to do; how many."""
    n = 0
    while services.handle_one():
        n += 1
        assert n < 50, "the worker does not stop"
    return n


def test_the_worker_warns_then_marks_the_case_overdue_once_each(county, desk, clock):
    c = county
    case = accept(c, desk)
    clock.set("2026-12-13 23:59")
    assert run_worker() == 0
    assert not Message.objects.filter(kind__in=("mediation.warn", "mediation.overdue")).exists()

    clock.set("2026-12-14 00:00")  # warn_at
    assert run_worker() == 1
    case = fresh(case)
    assert (case.warned, case.overdue, case.next_check_at) == (True, False, case.due_at)
    assert told("mediation.warn", case) == ids(c.u_zhou)
    clock.set("2026-12-18 23:59")
    assert run_worker() == 0

    clock.set("2026-12-19 00:00")  # due_at
    assert run_worker() == 1
    case = fresh(case)
    assert (case.overdue, case.next_check_at) == (True, None)
    assert told("mediation.overdue", case) == ids(c.u_zhou, c.u_wu)
    clock.set("2026-12-25 10:00")
    assert run_worker() == 0  # a restarted worker: the state is in the rows
    assert told("mediation.warn", case) == ids(c.u_zhou) and told("mediation.overdue", case) == ids(c.u_zhou, c.u_wu)
    assert [a for a, _f, _t in actions(case)] == ["report", "accept", "warn", "overdue"]


def test_an_extension_of_an_overdue_case_rearms_the_worker(county, desk, clock):
    c = county
    case = accept(c, desk)
    clock.set("2026-12-19 00:00")
    run_worker()
    services.case_extend(case=case, by=c.u_zhou, days=10, reason="当事人住院")
    case = fresh(case)  # the last day 2026-12-28 (a Monday)
    assert (case.due_at, case.overdue, case.warned) == (shanghai("2026-12-29 00:00"), False, False)
    assert case.next_check_at == shanghai("2026-12-24 00:00")
    clock.set("2026-12-24 00:00")
    assert run_worker() == 1 and told("mediation.warn", case) == ids(c.u_zhou)


def test_a_follow_up_visit_fires_once_at_its_time_also_after_a_restart(county, desk, clock):
    c = county
    case = accept(c, desk)
    agree(c, case)
    clock.set("2026-12-18 07:59")
    assert run_worker() == 0
    clock.set("2026-12-18 08:00")
    assert run_worker() == 1
    first, second = follow_ups(case)
    assert (first.state, first.fired_at, second.state) == ("due", shanghai("2026-12-18 08:00"), "planned")
    assert told("mediation.follow_up", case) == ids(c.u_zhou)
    clock.set("2026-12-20 10:00")
    assert run_worker() == 0  # a new loop, as after a restart
    assert told("mediation.follow_up", case) == ids(c.u_zhou)

    clock.set("2027-02-16 08:00")
    assert run_worker() == 1 and run_worker() == 0
    assert [f.state for f in follow_ups(case)] == ["due", "due"]
    assert told("mediation.follow_up", case) == ids(c.u_zhou, c.u_zhou)
    assert [a for a, _f, _t in actions(case)].count("follow_up_due") == 2


def test_two_workers_taking_the_same_follow_up_send_one_reminder(county, desk, clock, monkeypatch):
    """Both read the visit as planned; the other worker fires it first; this one's move is refused."""
    c = county
    case = accept(c, desk)
    agree(c, case)
    real = services.FOLLOW_UP

    class Racing:
        raced = False

        def move(self, obj: Any, action: str, *a: Any, **kw: Any) -> Any:
            if action == "fire" and not self.raced:
                self.raced = True
                assert services.handle_one()  # the other worker, faster
            return real.move(obj, action, *a, **kw)

    racing = Racing()
    monkeypatch.setattr(services, "FOLLOW_UP", racing)
    clock.set("2026-12-18 08:00")
    assert services.handle_one()
    assert racing.raced
    monkeypatch.setattr(services, "FOLLOW_UP", real)
    assert run_worker() == 0
    assert told("mediation.follow_up", case) == ids(c.u_zhou)
    assert [a for a, _f, _t in actions(case)].count("follow_up_due") == 1
    assert [f.state for f in follow_ups(case)] == ["due", "planned"]


# --- 4. a work order turned into a case ---------------------------------------------------------------------------


def test_a_work_order_becomes_a_linked_case_once(world, desk, clock):
    from workorders import services as wo
    from workorders.models import Event as OrderEvent
    from workorders.models import WorkOrder

    c = world.c
    order = wo.workorder_submit(
        by=c.u_zhang, kind="help", category=world.dispute, text="邻居家排水沟堵了，水流到我家院子，吵了好几次",
        channel="mobile",
    ).order  # fmt: skip
    case = services.order_to_case(order=order, by=c.u_li, kind="neighbour")
    case = fresh(case)
    assert (case.work_order_id, case.source, case.node, case.state) == (order.pk, "order", order.grid, "reported")
    assert [(p.side, p.resident_id) for p in case.parties.all()] == [("applicant", c.zhang.pk)]
    assert WorkOrder.objects.get(pk=order.pk).dispute_case == case
    assert OrderEvent.objects.filter(order=order, action="dispute_case").count() == 1

    counts = (Case.objects.count(), Party.objects.count(), OrderEvent.objects.count())
    refused(lambda: services.order_to_case(order=order, by=c.u_li, kind="neighbour"), "case.order_taken")
    assert (Case.objects.count(), Party.objects.count(), OrderEvent.objects.count()) == counts
    refused(  # 孙网格 reports in 南村 only
        lambda: services.order_to_case(order=order, by=c.u_sun, kind="neighbour"),
        "case.not_reporter",
        status=403,
        error=PermissionDenied,
    )


# --- 5. who sees a case, and how much -----------------------------------------------------------------------------


def test_who_sees_a_case(county, desk, clock):
    c = county
    case = report(c)
    seeing = {"reporter": c.u_li, "village mediator": c.u_zhou, "justice office": c.u_wu, "party": c.u_zhang}
    for who, user in seeing.items():
        assert selectors.access_case(user, case.pk).pk == case.pk, who
        assert selectors.cases_for(user).filter(pk=case.pk).exists(), who
    blind = {
        "another village's mediator": desk.sun.user,
        "department staff": c.u_wang,
        "volunteer": c.u_zheng,
        "a neighbour not a party": c.u_liu,
        "another town's grid worker": c.u_sun,
    }
    for who, user in blind.items():
        with pytest.raises(NotFound) as e:
            selectors.access_case(user, case.pk)
        assert e.value.code == "case.not_found", who
        assert not selectors.cases_for(user).filter(pk=case.pk).exists(), who
    with pytest.raises(NotFound):  # a case that does not exist: the same answer
        selectors.access_case(c.u_zhou, case.pk + 1000)


def test_a_party_and_the_reporter_see_the_other_parties_masked_and_no_phone(county, desk, clock):
    c = county
    case = report(c)
    rows = selectors.party_rows(c.u_zhang, case, reveal=True, channel="api")
    assert [(r["name"], r["phone"], r["you"], r["resident_id"]) for r in rows] == [
        ("张阿姨", "", True, None),
        ("外" + "*" * (len(OUTSIDER) - 1), "", False, None),
    ]
    rows = selectors.party_rows(c.u_li, case, reveal=True, channel="api")
    assert [(r["name"], r["phone"], r["you"]) for r in rows] == [("张**", "", False), ("外****", "", False)]
    assert not PersonalDataAccess.objects.exists()


def test_a_mediator_sees_phones_whole_only_when_revealed_each_read_logged(county, desk, clock):
    c = county
    case = report(c)
    rows = selectors.party_rows(c.u_zhou, case, reveal=False, channel="page")
    assert [(r["name"], r["phone"], r["resident_id"]) for r in rows] == [
        ("张阿姨", "138****1234", c.zhang.pk),
        (OUTSIDER, "138****1111", None),
    ]
    assert not PersonalDataAccess.objects.exists()

    rows = selectors.party_rows(c.u_zhou, case, reveal=True, channel="page", path="/mediation/cases/1/")
    assert [r["phone"] for r in rows] == ["13800001234", OUTSIDER_PHONE]
    logged = list(PersonalDataAccess.objects.order_by("id").values_list("user_id", "resident_id", "field", "channel"))
    assert logged == [(c.u_zhou.pk, c.zhang.pk, "phone", "page"), (c.u_zhou.pk, None, "phone", "page")]
    assert case.code in PersonalDataAccess.objects.get(resident=None).subject


# --- 6. bad input changes nothing ---------------------------------------------------------------------------------


def _one(**p: Any) -> list[PartyIn]:
    return [PartyIn(**p)]


# What is wrong → (the report's arguments, given the county), the code, the status.
BAD_REPORTS: dict[str, tuple[Any, str, int]] = {
    "no such resident": (lambda c: {"parties": _one(side="applicant", resident_id=999_999)}, "party.not_found", 404),
    "a resident of another town": (
        lambda c: {"parties": _one(side="applicant", resident_id=c.sun_resident.pk)},
        "party.not_found",
        404,
    ),
    "the same resident twice": (
        lambda c: {"parties": [PartyIn(side="applicant", resident_id=c.zhang.pk)] * 2},
        "party.twice",
        422,
    ),
    "no parties": (lambda c: {"parties": []}, "parties.required", 422),
    "21 parties": (
        lambda c: {"parties": [PartyIn(side="other", name=f"当事人{i}") for i in range(21)]},
        "parties.too_many",
        422,
    ),
    "a title of 81 characters": (lambda c: {"title": "长" * 81}, "validation.too_long", 422),
    "a NUL byte in the account": (lambda c: {"account": "两家争吵\x00"}, "validation.nul", 422),
    "a bad phone": (
        lambda c: {"parties": _one(side="applicant", name="王某", phone="1380000abcd")},
        "phone.invalid",
        422,
    ),
    "an unknown kind": (lambda c: {"kind": "murder"}, "kind.invalid", 422),
    "an unknown side": (lambda c: {"parties": _one(side="judge", name="王某")}, "parties[0].side.invalid", 422),
    "a town, not a village or grid": (lambda c: {"node": c.t1}, "node.level", 422),
    "a grid outside the reporter's area": (lambda c: {"by": c.u_sun}, "node.not_found", 404),
}


@pytest.mark.parametrize("bad", list(BAD_REPORTS))
def test_a_bad_report_is_refused_and_changes_nothing(county, desk, clock, bad):
    c = county
    kw, code, status = BAD_REPORTS[bad]
    counts = (Case.objects.count(), Party.objects.count(), Message.objects.count())
    refused(lambda: report(c, **kw(c)), code, status=status, error=NotFound if status == 404 else ValidationFailed)
    assert (Case.objects.count(), Party.objects.count(), Message.objects.count()) == counts


def test_a_resident_reporting_cannot_exceed_the_most_parties(county, desk, clock):
    c = county
    others = [PartyIn(side="respondent", name=f"邻居{i}") for i in range(services.MAX_PARTIES)]
    with pytest.raises(ValidationFailed):
        services.case_report(
            by=c.u_zhang, node=c.a1, kind="neighbour", title="邻里纠纷", account="吵架", parties=others
        )
    assert all(k.parties.count() <= services.MAX_PARTIES for k in Case.objects.all())


def test_an_idempotency_key_over_its_length_is_refused(county, desk, clock):
    with pytest.raises(ValidationFailed):
        report(county, key="k" * 65)


def test_a_session_dated_before_the_case_or_in_the_future_is_refused(county, desk, clock):
    c = county
    case = accept(c, desk)
    clock.set("2026-11-20 10:00")

    def session(day: dt.date, notes: str = "调解") -> Any:
        return services.session_add(case=case, by=c.u_zhou, held_on=day, place="村委会", attendees="双方", notes=notes)

    for day, code in (
        (dt.date(2026, 11, 17), "date.before_case"),
        (dt.date(2026, 11, 21), "date.future"),
        (None, "date.invalid"),
    ):
        refused(lambda d=day: session(d), code, status=422, error=ValidationFailed)
    refused(lambda: session(TODAY, "长" * 3001), "validation.too_long", status=422, error=ValidationFailed)
    assert Session.objects.count() == 0
    session(dt.date(2026, 11, 18))  # the day the case was reported
    session(dt.date(2026, 11, 20))  # today
    assert Session.objects.filter(case=case).count() == 2


# --- 7. retries and residents -------------------------------------------------------------------------------------


def test_the_same_key_twice_returns_the_same_case(county, desk, clock):
    c = county
    first = report(c, key="patrol-7f3a")
    counts = (Case.objects.count(), Party.objects.count(), Event.objects.count(), Message.objects.count())
    again = report(c, key="patrol-7f3a", title="重复提交")
    assert again.pk == first.pk and fresh(again).title == "邻里排水纠纷"
    assert (Case.objects.count(), Party.objects.count(), Event.objects.count(), Message.objects.count()) == counts
    other = report(c, by=c.u_zhou, key="patrol-7f3a")  # the key is the reporter's own
    assert other.pk != first.pk


def test_a_resident_reporting_their_own_dispute_is_its_applicant(county, desk, clock):
    c = county
    case = services.case_report(
        by=c.u_zhang, node=c.a1, kind="neighbour", title="邻居占用我家菜地", account="邻居在我家菜地上堆放杂物",
        parties=[PartyIn(side="respondent", name="邻居王某")], source="patrol",
    )  # fmt: skip
    case = fresh(case)
    assert (case.source, case.state, case.reported_by) == ("resident", "reported", c.u_zhang)
    assert [(p.side, p.resident_id, p.name) for p in case.parties.order_by("id")] == [
        ("applicant", c.zhang.pk, "张阿姨"),
        ("respondent", None, "邻居王某"),
    ]
    assert selectors.access_case(c.u_zhang, case.pk) == case
    assert selectors.access_case(c.u_zhou, case.pk) == case


def test_a_resident_reports_only_in_their_own_place_and_names_no_neighbour(county, desk, clock):
    c = county
    ok = {"kind": "neighbour", "title": "邻里纠纷", "account": "吵架", "source": ""}
    refused(
        lambda: services.case_report(by=c.u_zhang, node=c.v2, parties=[PartyIn(side="respondent", name="黄某")], **ok),
        "node.not_found",
        status=404,
        error=NotFound,
    )
    refused(  # 刘党员 lives in A1 too, but a resident names only themself by id
        lambda: services.case_report(
            by=c.u_zhang, node=c.a1, parties=[PartyIn(side="respondent", resident_id=c.liu.pk)], **ok
        ),
        "party.not_found",
        status=404,
        error=NotFound,
    )
    assert not Case.objects.exists()
