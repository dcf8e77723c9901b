"""Every lifecycle moves through core.fsm: its table covers only states the model knows, and two people
moving the same row at the same moment (real threads, real connections, both holding the copy they read
before either moved) give one success, one 409, and one event — never two.

The races that older modules already run are named here too (work orders, one-key calls, claims): the
test below fails when a lifecycle is declared without a race of its own."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest

from core.errors import ApiError
from core.fsm import MACHINES, Machine, table
from dashboards import services as dash
from dashboards.models import Exemption
from points import services as pts
from points.models import Entry, Nomination, Redemption
from points.tests.conftest import pw  # noqa: F401 - fixture
from volunteers import services as vol
from volunteers.models import Activity, Participation
from volunteers.tests.conftest import vw  # noqa: F401 - fixture
from workorders import services as wo
from workorders.models import Event, Extension, WorkOrder
from workorders.states import State
from workorders.tests.helpers import fresh, order_in
from workorders.tests.test_concurrency import run_threads

# Where each lifecycle's race is tested: here, or in the module named.
RACES = {
    "workorder": "workorders/tests/test_concurrency.py::test_two_clerks_holding_the_same_stale_order_sign_at_once",
    "sos": "sos/tests/test_concurrency.py::test_two_responders_acknowledge_at_once_one_owns_it_the_other_is_told",
    "claim": "points/tests/test_concurrency.py::test_two_staff_approve_one_claim_at_once_one_award",
    "extension": "test_two_dispatchers_decide_one_extension",
    "exemption": "test_two_leaders_decide_one_appeal",
    "redemption": "test_the_counter_hands_over_while_the_resident_cancels",
    "nomination": "test_two_staff_decide_one_nomination",
    "participation": "test_an_organiser_rates_twice_at_once",
    "activity": "test_an_activity_cancelled_and_finished_at_once",
    "need": "test_a_need_settled_and_relayed_at_once_makes_at_most_one_order",
    "notice": "test_a_notice_withdrawn_twice_at_once",
    "event": "test_an_event_cancelled_twice_at_once_tells_each_person_once",
    "attendance": "test_a_resident_withdraws_twice_at_once_gives_one_place_back",
    "project": "test_a_project_approved_and_turned_down_at_once",
    "matter": "test_a_matter_declined_twice_at_once_keeps_one_reason",
    "vote": "test_a_vote_counted_and_cancelled_at_once",
    "rules": "test_a_rules_vote_counted_twice_at_once_adopts_once",
    "comment": "test_a_comment_hidden_twice_at_once",
    "question": "test_a_question_answered_twice_at_once",
    "case": "test_a_dispute_accepted_and_declined_at_once",
    "referral": "test_a_referral_result_recorded_twice_at_once",
    "followup": "test_a_follow_up_visit_recorded_twice_at_once",
    "datarequest": "privacy/tests/test_requests.py::test_two_staff_answer_one_request_at_once",
}


def test_every_lifecycle_has_a_race_test():
    import dashboards.states  # noqa: F401
    import deliberation.states  # noqa: F401
    import mediation.states  # noqa: F401
    import notices.states  # noqa: F401
    import partylink.states  # noqa: F401
    import points.states  # noqa: F401
    import privacy.states  # noqa: F401
    import sos.states  # noqa: F401
    import volunteers.states  # noqa: F401
    import workorders.states  # noqa: F401 - each app declares its machines in states.py

    assert set(MACHINES) == set(RACES)
    here = {name for name in globals() if name.startswith("test_")}
    for name, where in RACES.items():
        assert "::" in where or where in here, (name, where)


@pytest.mark.django_db
@pytest.mark.parametrize("name", sorted(RACES))
def test_a_table_names_only_states_its_model_knows(name):
    import dashboards.states  # noqa: F401
    import deliberation.states  # noqa: F401
    import mediation.states  # noqa: F401
    import notices.states  # noqa: F401
    import partylink.states  # noqa: F401
    import points.states  # noqa: F401
    import privacy.states  # noqa: F401
    import sos.states  # noqa: F401
    import volunteers.states  # noqa: F401
    import workorders.states  # noqa: F401

    machine = MACHINES[name]
    choices = {value for value, _label in machine.model_class._meta.get_field(machine.field).choices}
    assert machine.states <= choices, machine.states - choices
    for action in machine.actions:
        assert machine.actions_from("no such state") == []
        assert any(machine.targets(action, s) for s in machine.states)


def test_the_table_helper_and_the_questions_it_answers():
    t = table(("go", ("a", "b"), "c"), ("judge", "c", ("good", "bad")))
    m: Machine = Machine(name="t", model="workorders.WorkOrder", transitions=t)
    assert m.states == {"a", "b", "c", "good", "bad"}
    assert m.target("go", "a") == "c" and m.target("go", "c") is None
    assert m.targets("judge", "c") == {"good", "bad"}
    with pytest.raises(ValueError, match="several outcomes"):
        m.target("judge", "c")
    assert m.can("judge", "c", "bad") and not m.can("judge", "c", "c")
    assert m.allowed(WorkOrder(state="c"), lambda a: True) == ["judge"]
    assert m.allowed(WorkOrder(state="c"), lambda a: a != "judge") == []


@pytest.mark.django_db
def test_a_move_outside_a_transaction_is_a_bug_not_a_lost_event(world):
    order = order_in(world, State.DISPATCHED)
    # pytest-django wraps each test in a transaction; leave it, as a worker's bare code would be.
    from django.db import transaction

    from workorders.states import MACHINE

    conn = transaction.get_connection()
    was = conn.in_atomic_block
    conn.in_atomic_block = False
    try:
        with pytest.raises(RuntimeError, match="outside a transaction"):
            MACHINE.move(order, "accept")
    finally:
        conn.in_atomic_block = was
    assert fresh(order).state == State.DISPATCHED


def race(n: int, move: Callable[[int], Any]) -> tuple[list[Any], list[ApiError]]:
    """n threads call move(i) at once; returns what succeeded and the errors they answered with."""

    def one(i: int, go: Callable[[], Any]) -> tuple[str, Any]:
        go()
        try:
            return "ok", move(i)
        except ApiError as exc:
            return "error", exc

    results = run_threads(n, one)
    return [r for k, r in results if k == "ok"], [r for k, r in results if k == "error"]


def one_winner(n: int, move: Callable[[int], Any]) -> ApiError:
    won, lost = race(n, move)
    assert len(won) == 1 and len(lost) == n - 1, (won, lost)
    assert {e.status for e in lost} == {409}, [(e.code, e.message) for e in lost]
    return lost[0]


RACE = pytest.mark.django_db(transaction=True, serialized_rollback=True)


@RACE
def test_two_dispatchers_decide_one_extension(world):
    c = world.c
    order = order_in(world, State.ACCEPTED)
    ext = wo.extension_request(order=order, by=world.u_feng, days=3, reason="需要采购灯具")
    stale = [Extension.objects.get(pk=ext.pk) for _ in range(2)]  # each read before either decides

    lost = one_winner(2, lambda i: wo.extension_decide(extension=stale[i], by=c.u_zhao, approve=i == 0))
    assert lost.code == "workorder.extension_decided"
    decided = Extension.objects.get(pk=ext.pk)
    assert decided.status in ("approved", "refused")
    assert Event.objects.filter(order=order, action__in=["extension_approved", "extension_refused"]).count() == 1


@RACE
def test_two_leaders_decide_one_appeal(world):
    c = world.c
    order = order_in(world, State.RESOLVED)
    ex = dash.exemption_request(order=order, by=world.u_feng, reason="居民反映的问题不属实")
    stale = [Exemption.objects.get(pk=ex.pk) for _ in range(2)]
    deciders = [c.u_qian, c.u_admin]

    lost = one_winner(2, lambda i: dash.exemption_decide(exemption=stale[i], by=deciders[i], approve=True))
    assert lost.code == "dashboard.appeal_decided"
    assert Exemption.objects.get(pk=ex.pk).status == "approved"
    assert WorkOrder.objects.get(pk=order.pk).excluded is True
    assert Event.objects.filter(order=order, action="excluded").count() == 1


@RACE
def test_the_counter_hands_over_while_the_resident_cancels(pw):  # noqa: F811 - the fixture
    c = pw.c
    pts.award_manual(resident=c.zhang, amount=100, reason="打扫卫生", by=c.u_zhou)
    reservation, _created = pts.redeem(goods=pw.soap, resident=c.zhang, quantity=1, by=c.u_zhang)
    assert reservation.state == "reserved"
    stale = [Redemption.objects.select_related("resident", "shop").get(pk=reservation.pk) for _ in range(2)]

    def move(i: int) -> Redemption:
        if i == 0:
            return pts.redemption_collect(redemption=stale[0], by=c.u_zhou)
        return pts.redemption_cancel(redemption=stale[1], by=c.u_zhang)

    lost = one_winner(2, move)
    now_in = Redemption.objects.get(pk=reservation.pk).state
    # Whoever lost is told what happened: handed over already, or cancelled already.
    assert (now_in, lost.code) in {("collected", "points.not_reserved"), ("cancelled", "points.already_cancelled")}
    refunds = Entry.objects.filter(kind="refund").count()
    assert refunds == (1 if now_in == "cancelled" else 0)


@RACE
def test_two_staff_decide_one_nomination(pw):  # noqa: F811 - the fixture
    c = pw.c
    month = dt.date.today().replace(day=1)
    nomination = pts.nominate(resident=c.zhang, month=month, reason="照顾邻居老人", by=c.u_li)
    stale = [Nomination.objects.select_related("resident").get(pk=nomination.pk) for _ in range(2)]
    deciders = [c.u_zhou, c.u_wu]

    lost = one_winner(2, lambda i: pts.nomination_decide(nomination=stale[i], select=True, by=deciders[i]))
    assert lost.code == "points.nomination_decided"
    assert Nomination.objects.get(pk=nomination.pk).state == "selected"
    assert Entry.objects.filter(kind="award", resident=c.zhang).count() <= 1


@RACE
def test_an_organiser_rates_twice_at_once(vw):  # noqa: F811 - the fixture
    c = vw.c
    p = vol.check_in(activity=vw.running, by=c.u_zhou, volunteer=vw.liu)
    stale = [Participation.objects.select_related("activity", "volunteer__resident").get(pk=p.pk) for _ in range(2)]

    lost = one_winner(2, lambda i: vol.rate(participation=stale[i], rating=5 - i, by=c.u_zhou))
    assert lost.code == "volunteers.already_rated"
    rated = Participation.objects.get(pk=p.pk)
    assert rated.state == "done" and rated.rating in (4, 5)


@RACE
def test_an_activity_cancelled_and_finished_at_once(vw):  # noqa: F811 - the fixture
    c = vw.c
    stale = [Activity.objects.get(pk=vw.running.pk) for _ in range(2)]

    def move(i: int) -> Activity:
        if i == 0:
            return vol.activity_cancel(activity=stale[0], by=c.u_zhou, reason="暴雨")
        return vol.activity_finish(activity=stale[1], by=c.u_zhou)

    lost = one_winner(2, move)
    assert lost.code == "volunteers.not_open"
    assert Activity.objects.get(pk=vw.running.pk).state in ("cancelled", "finished")


@RACE
def test_a_need_settled_and_relayed_at_once_makes_at_most_one_order(world):
    from partylink import services as party
    from partylink.models import Need

    c = world.c
    visit = party.visit_log(by=c.u_liu, household_id=c.h_zhang.pk, needs=[party.NeedIn(text="想办高龄津贴")])
    need_id = visit.needs.get().pk
    stale = [Need.objects.select_related("household__grid").get(pk=need_id) for _ in range(2)]

    def move(i: int) -> Any:
        if i == 0:
            return party.need_settle(need=stale[0], by=c.u_liu, outcome="当场讲清了材料")
        return party.need_relay(need=stale[1], by=c.u_liu)

    lost = one_winner(2, move)
    assert lost.code == "need.closed"
    need = Need.objects.get(pk=need_id)
    assert WorkOrder.objects.count() == (1 if need.state == "relayed" else 0)
    assert (need.order_id is not None) == (need.state == "relayed")


@RACE
def test_a_notice_withdrawn_twice_at_once(world):
    from notices import services as notices
    from notices.models import Notice

    c = world.c
    n = notices.notice_create(by=c.u_zhou, node=c.v1, title="停水通知", body="明天停水")
    stale = [Notice.objects.get(pk=n.pk) for _ in range(2)]
    lost = one_winner(2, lambda i: notices.notice_withdraw(notice=stale[i], by=c.u_zhou, reason=f"撤回{i}"))
    assert lost.code == "notice.transition_not_allowed"
    assert Notice.objects.get(pk=n.pk).withdrawn_reason in ("撤回0", "撤回1")


def _event(c: Any) -> Any:
    from core.clock import now
    from notices import services as notices

    start = now() + dt.timedelta(days=2)
    return notices.event_publish(
        by=c.u_zhou, node=c.v1, title="义诊", place="卫生室", starts_at=start, ends_at=start + dt.timedelta(hours=2),
        capacity=5,
    )  # fmt: skip


@RACE
def test_an_event_cancelled_twice_at_once_tells_each_person_once(world):
    from notices import services as notices
    from notices.models import Event as Ev
    from notify.models import Message

    c = world.c
    e = _event(c)
    notices.event_attend(event=e, by=c.u_zhang)
    stale = [Ev.objects.get(pk=e.pk) for _ in range(2)]
    lost = one_winner(2, lambda i: notices.event_cancel(event=stale[i], by=c.u_zhou, reason="下雨"))
    assert lost.code == "event.cancelled"
    assert Message.objects.filter(user=c.u_zhang, kind="events").count() == 1


@RACE
def test_a_resident_withdraws_twice_at_once_gives_one_place_back(world):
    from notices import services as notices
    from notices.models import Event as Ev

    c = world.c
    e = _event(c)
    notices.event_attend(event=e, by=c.u_zhang)
    notices.event_attend(event=e, by=c.u_liu)
    lost = one_winner(2, lambda i: notices.event_withdraw(event=Ev.objects.get(pk=e.pk), by=c.u_zhang))
    assert lost.code in ("event.not_signed_up", "attendance.state_changed")
    assert Ev.objects.get(pk=e.pk).taken == 1


@RACE
def test_a_project_approved_and_turned_down_at_once(world):
    from partylink import services as party
    from partylink.models import Project

    c = world.c
    p = party.project_propose(by=c.u_liu, village=c.v1, title="修缮便民桥", goals="加装护栏")
    stale = [Project.objects.get(pk=p.pk) for _ in range(2)]
    deciders = [c.u_zhou, c.u_wu]
    lost = one_winner(
        2, lambda i: party.project_decide(project=stale[i], by=deciders[i], approve=i == 0, note="村两委研究")
    )
    assert lost.code == "project.transition_not_allowed"
    assert Project.objects.get(pk=p.pk).state in ("approved", "rejected")


# --- village deliberation ---------------------------------------------------------------------------------------


def _delib_matter(c: Any, *, agenda: bool = False) -> Any:
    from deliberation import services as delib

    m = delib.matter_propose(by=c.u_zhang, title="修通组公路", body="A1湾组到村部的路坑洼不平")
    return delib.matter_agenda(matter=m, by=c.u_zhou) if agenda else m


@RACE
def test_a_matter_declined_twice_at_once_keeps_one_reason(world):
    from deliberation import services as delib
    from deliberation.models import Matter

    c = world.c
    m = _delib_matter(c)
    stale = [Matter.objects.get(pk=m.pk) for _ in range(2)]
    by = [c.u_zhou, c.u_admin]
    lost = one_winner(2, lambda i: delib.matter_decline(matter=stale[i], by=by[i], reason=f"村里已有安排{i}"))
    assert lost.code == "matter.transition_not_allowed"
    m.refresh_from_db()
    assert (m.state, m.reason in ("村里已有安排0", "村里已有安排1")) == ("declined", True)


def _delib_vote_closed(c: Any, *, rules: Any = None) -> Any:
    from core.clock import now
    from deliberation import services as delib

    matter = None if rules is not None else _delib_matter(c, agenda=True)
    v = delib.vote_create(by=c.u_zhou, matter=matter, rules=rules, question="是否同意？",
                          closes_at=now() + dt.timedelta(hours=1))  # fmt: skip
    delib.vote_open(vote=v, by=c.u_zhou)
    delib.vote_cast(vote=v, by=c.u_zhang, option_id=v.options.get(sort=0).pk)
    delib.vote_cast(vote=v, by=c.u_liu, option_id=v.options.get(sort=0).pk)
    return v


@RACE
def test_a_vote_counted_and_cancelled_at_once(world):
    from core.clock import frozen, now
    from deliberation import services as delib
    from deliberation.models import Matter, Vote

    c = world.c
    v = _delib_vote_closed(c)
    later = now() + dt.timedelta(hours=2)

    def move(i: int) -> Any:
        with frozen(later):
            if i == 0:
                return delib.vote_count(vote=Vote.objects.get(pk=v.pk), by=c.u_zhou)
            return delib.vote_cancel(vote=Vote.objects.get(pk=v.pk), by=c.u_admin, reason="设错了")

    one_winner(2, move)
    v.refresh_from_db()
    matter = Matter.objects.get(pk=v.matter_id)
    assert (v.state, matter.state) in (("counted", "passed"), ("cancelled", "agenda"))


@RACE
def test_a_rules_vote_counted_twice_at_once_adopts_once(world):
    from core.clock import frozen, now, today
    from deliberation import services as delib
    from deliberation.models import RulesVersion, Vote

    c = world.c
    first = delib.rules_record(by=c.u_zhou, village=c.v1, text="第一条 爱护公共设施，不乱堆乱放。", adopted_on=today())
    draft = delib.rules_draft(by=c.u_zhou, village=c.v1, text="第一条 爱护公共设施。第二条 红白事简办。",
                              summary="增加红白事简办")  # fmt: skip
    v = _delib_vote_closed(c, rules=draft)
    later = now() + dt.timedelta(hours=2)

    def move(i: int) -> Any:
        with frozen(later):
            return delib.vote_count(vote=Vote.objects.get(pk=v.pk), by=c.u_zhou if i else c.u_admin)

    lost = one_winner(2, move)
    assert lost.code == "vote.transition_not_allowed"
    states = dict(RulesVersion.objects.values_list("number", "state"))
    assert states == {first.number: "superseded", draft.number: "adopted"}


@RACE
def test_a_comment_hidden_twice_at_once(world):
    from deliberation import services as delib
    from deliberation.models import Comment

    c = world.c
    m = _delib_matter(c)
    cm = delib.comment_add(matter=m, by=c.u_liu, text="支持修路，但要公开账目")
    stale = [Comment.objects.get(pk=cm.pk) for _ in range(2)]
    lost = one_winner(2, lambda i: delib.comment_hide(comment=stale[i], by=c.u_zhou, reason=f"理由{i}"))
    assert lost.code == "comment.hidden"
    assert Comment.objects.get(pk=cm.pk).hidden_reason in ("理由0", "理由1")


@RACE
def test_a_question_answered_twice_at_once(world):
    from core.clock import today
    from deliberation import services as delib
    from deliberation.models import Question

    c = world.c
    d = delib.disclosure_publish(by=c.u_zhou, village=c.v1, kind="finance", period=f"{today():%Y-%m}",
                                 title="本月财务公开", body="收入 1000 元，支出 800 元。")  # fmt: skip
    q = delib.question_ask(disclosure=d, by=c.u_zhang, text="800 元花在哪里？")
    stale = [Question.objects.get(pk=q.pk) for _ in range(2)]
    lost = one_winner(2, lambda i: delib.question_answer(question=stale[i], by=c.u_zhou, answer=f"答复{i}"))
    assert lost.code == "question.answered"
    assert Question.objects.get(pk=q.pk).answer in ("答复0", "答复1")


def _dispute(world: Any) -> tuple[Any, Any]:
    from mediation import services as med
    from mediation.models import Mediator

    c = world.c
    m = Mediator.objects.create(user=c.u_zhou, node=c.v1, path=c.v1.path, kind="committee", name="周村干")
    case = med.case_report(
        by=c.u_li, node=c.a1, kind="neighbour", title="排水沟纠纷", account="两家争吵", source="patrol",
        parties=[med.PartyIn(side="applicant", name="王某"), med.PartyIn(side="respondent", name="李某")],
    )  # fmt: skip
    return case, m


@RACE
def test_a_dispute_accepted_and_declined_at_once(world):
    from mediation import services as med
    from mediation.models import Case
    from mediation.models import Event as CaseEvent

    c = world.c
    case, m = _dispute(world)
    stale = [Case.objects.get(pk=case.pk) for _ in range(2)]
    lost = one_winner(
        2,
        lambda i: (
            med.case_accept(case=stale[i], by=c.u_zhou, mediator=m)
            if i == 0
            else med.case_decline(case=stale[i], by=c.u_zhou, reason="不属于民间纠纷")
        ),
    )
    assert lost.code == "case.transition_not_allowed"
    assert Case.objects.get(pk=case.pk).state in ("mediating", "declined")
    assert CaseEvent.objects.filter(case=case, action__in=["accept", "decline"]).count() == 1


@RACE
def test_a_referral_result_recorded_twice_at_once(world):
    from mediation import services as med
    from mediation.models import Case, Referral
    from mediation.models import Event as CaseEvent

    c = world.c
    case, m = _dispute(world)
    med.case_accept(case=case, by=c.u_zhou, mediator=m)
    med.case_refer(case=Case.objects.get(pk=case.pk), by=c.u_zhou, unit="court", done="两次调解未果")
    stale = [Case.objects.get(pk=case.pk) for _ in range(2)]
    lost = one_winner(2, lambda i: med.referral_result(case=stale[i], by=c.u_zhou, settled=i == 0, result=f"结果{i}"))
    assert lost.status == 409
    assert Referral.objects.get(case=case).state in ("settled", "unsettled")
    assert CaseEvent.objects.filter(case=case, action__in=["settle", "resume"]).count() == 1


@RACE
def test_a_follow_up_visit_recorded_twice_at_once(world):
    from core.clock import today
    from mediation import services as med
    from mediation.models import Case, FollowUp
    from mediation.models import Event as CaseEvent

    c = world.c
    case, m = _dispute(world)
    med.case_accept(case=case, by=c.u_zhou, mediator=m)
    med.agreement_make(case=Case.objects.get(pk=case.pk), by=c.u_zhou, facts="事实", terms="条款", signed_on=today())
    f = FollowUp.objects.filter(case=case).order_by("due_at").first()
    stale = [(Case.objects.get(pk=case.pk), FollowUp.objects.get(pk=f.pk)) for _ in range(2)]
    lost = one_winner(
        2,
        lambda i: med.follow_up_record(
            case=stale[i][0], follow_up=stale[i][1], by=c.u_zhou, kept=i == 0, notes="" if i == 0 else "未履行"
        ),
    )
    assert lost.status == 409
    assert FollowUp.objects.get(pk=f.pk).state in ("kept", "broken")
    assert CaseEvent.objects.filter(case=case, action__in=["kept", "break"]).count() == 1
