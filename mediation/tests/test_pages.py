"""The mediation pages as the persona county uses them: a user's list of cases (red flags first), the report form
(李网格 on patrol, a resident for their own dispute), a case's page with its forms only for who mediates it, each step
posted and its message, refusals that change nothing, the printable agreement (调解协议书), the register of mediators,
the command centre's 小事不出村 table with its Excel file, and the live board's count of red-flag disputes.

The clock starts on Wednesday 2026-11-18 10:00, Asia/Shanghai."""

from __future__ import annotations

import datetime as dt
import html
import io
import re
from typing import Any

import pytest
from django.contrib.messages import get_messages

from gongzhi.test import accepted, assert_refuses_bad_input, db_fingerprint
from mediation import forms, services
from mediation.models import Case, Event, FollowUp, Mediator, Party
from mediation.services import PartyIn
from mediation.tests.helpers import OUTSIDER, OUTSIDER_PHONE, reported
from notify.models import Message

TODAY = dt.date(2026, 11, 18)


# --- helpers ------------------------------------------------------------------------------------------------------


def said(r: Any) -> list[tuple[str, str]]:
    """The messages a post left for the next page: (level, text). Read here, they are still stored for the next
    page: post with `posted` where several posts follow one another."""
    return [(m.level_tag, str(m)) for m in get_messages(r.wsgi_request)]


def posted(client: Any, url: str, data: dict[str, Any]) -> tuple[Any, list[tuple[str, str]]]:
    """Post a form, then follow its redirect as a browser does (the page shows the messages, and they are gone):
    the post's response and its messages."""
    r = client.post(url, data)
    msgs = said(r)
    if r.status_code == 302:
        client.get(r["Location"])
    return r, msgs


def page(r: Any) -> str:
    return html.unescape(r.content.decode())


def fresh(case: Case) -> Case:
    return Case.objects.get(pk=case.pk)


def mediating(c: Any, desk: Any, **kw: Any) -> Case:
    case = reported(c, **kw)
    services.case_accept(case=case, by=c.u_zhou, mediator=desk.zhou)
    return fresh(case)


def agreed(c: Any, desk: Any) -> Case:
    case = mediating(c, desk)
    services.agreement_make(
        case=case, by=c.u_zhou, facts="排水沟堵塞，两家争吵", terms="两家共同出资疏通水沟", signed_on=TODAY
    )
    return fresh(case)


def referred(c: Any, desk: Any) -> Case:
    case = mediating(c, desk)
    services.case_refer(case=case, by=c.u_zhou, unit="justice", done="村调委会调解两次未果")
    return fresh(case)


def step_url(case: Case, step: str) -> str:
    return f"/mediation/cases/{case.pk}/{step}/"


def report_form(c: Any, **kw: Any) -> dict[str, Any]:
    """The report form as 李网格 fills it in: 张阿姨 (picked on the register) against an outsider."""
    out = {
        "node": str(c.a1.pk),
        "kind": "neighbour",
        "title": "邻里排水纠纷",
        "account": "两家因排水沟堵塞争吵多次",
        "source": "patrol",
        "risk": "low",
        "p1_side": "applicant",
        "p1_resident": str(c.zhang.pk),
        "p2_side": "respondent",
        "p2_name": OUTSIDER,
        "p2_phone": OUTSIDER_PHONE,
        "key": "report-form-1",
    }
    out.update(kw)
    return out


# --- my cases -----------------------------------------------------------------------------------------------------


def test_my_cases_lists_only_what_i_see_red_flags_first(county, desk, clock, client_as):
    c = county
    old = reported(c, title="A1老纠纷")
    clock.advance(hours=1)
    new = reported(c, title="A1新纠纷")
    clock.advance(hours=1)
    b1 = reported(c, by=c.u_wu, node=c.b1, title="西村劳务纠纷", parties=[PartyIn(side="applicant", name="黄婶")])
    services.case_flag(case=old, by=c.u_zhou, reason="扬言动手")

    def listed(user: Any) -> list[int]:
        r = client_as(user, lang="en").get("/mediation/")
        assert r.status_code == 200
        return [int(x) for x in re.findall(r'<li class="card[^"]*" data-case="(\d+)"', r.content.decode())]

    assert listed(c.u_li) == [old.pk, new.pk]  # the red flag first, then the newest
    assert listed(c.u_zhou) == [old.pk, new.pk]
    assert listed(c.u_wu) == [old.pk, b1.pk, new.pk]
    assert listed(desk.sun.user) == [b1.pk]
    assert listed(c.u_zhang) == [old.pk, new.pk]  # a party to both
    assert listed(c.u_wang) == [] and listed(c.u_liu) == []
    li = page(client_as(c.u_li, lang="en").get("/mediation/"))
    assert "西村劳务纠纷" not in li and 'data-action="report"' in li
    # By state.
    services.case_accept(case=new, by=c.u_zhou, mediator=desk.zhou)
    r = client_as(c.u_li, lang="en").get("/mediation/?state=mediating")
    assert re.findall(r'data-case="(\d+)"', r.content.decode()) == [str(new.pk)]


# --- reporting ----------------------------------------------------------------------------------------------------


def test_a_grid_worker_reports_a_dispute_and_lands_on_its_page(county, desk, clock, client_as):
    c = county
    li = client_as(c.u_li, lang="en")
    form = page(li.get("/mediation/report/"))
    assert f'<option value="{c.a1.pk}">' in form and f'<option value="{c.zhang.pk}">' in form
    assert f'<option value="{c.a2.pk}">' not in form  # only where he reports
    r = li.post("/mediation/report/", report_form(c))
    case = Case.objects.get()
    assert r.status_code == 302 and r["Location"] == f"/mediation/cases/{case.pk}/"
    assert said(r) == [("success", f"Reported as case {case.code}.")]
    assert (case.title, case.kind, case.source, case.path, case.reported_by_id, case.state) == (
        "邻里排水纠纷", "neighbour", "patrol", c.a1.path, c.u_li.pk, "reported",
    )  # fmt: skip
    assert list(Party.objects.filter(case=case).values_list("side", "resident_id", "name", "phone")) == [
        ("applicant", c.zhang.pk, "张阿姨", ""),
        ("respondent", None, OUTSIDER, OUTSIDER_PHONE),
    ]
    # The form posted twice (a double tap) makes one case.
    r = li.post("/mediation/report/", report_form(c))
    assert r.status_code == 302 and Case.objects.count() == 1
    # His page of it: the parties masked, no phones, no forms.
    shown = page(li.get(f"/mediation/cases/{case.pk}/"))
    assert "张**" in shown and "外****" in shown and "张阿姨" not in shown and OUTSIDER_PHONE not in shown
    assert "data-mediator-actions" not in shown


def test_a_red_flag_on_the_form_tells_the_town(county, desk, clock, client_as):
    c = county
    li = client_as(c.u_li, lang="en")
    r = li.post("/mediation/report/", report_form(c, risk="medium", red_reason="一方扬言要动刀"))
    assert r.status_code == 302, said(r)
    case = Case.objects.get()
    assert (case.red_flag, case.red_reason, case.risk) == (True, "一方扬言要动刀", "high")
    alerts = Message.objects.filter(kind="mediation.red_flag", user=c.u_wu)
    assert alerts.count() == 1
    assert alerts.get().link == f"/mediation/cases/{case.pk}/"
    assert "张阿姨" not in alerts.get().text and OUTSIDER not in alerts.get().text


def test_a_resident_reports_their_own_dispute_on_the_page(county, desk, clock, client_as):
    c = county
    zhang = client_as(c.u_zhang, lang="en")
    form = page(zhang.get("/mediation/report/"))
    assert 'name="source"' not in form and 'name="on_the_spot"' not in form  # staff only
    r = zhang.post(
        "/mediation/report/",
        {"kind": "neighbour", "title": "邻居占用我家门前空地", "account": "邻居在我家门前堆放杂物",
         "p1_side": "respondent", "p1_name": OUTSIDER, "key": "zhang-1"},
    )  # fmt: skip
    assert r.status_code == 302, said(r)
    case = Case.objects.get()
    assert (case.source, case.path) == ("resident", c.a1.path)
    assert list(case.parties.values_list("side", "resident_id", "name")) == [
        ("applicant", c.zhang.pk, "张阿姨"),
        ("respondent", None, OUTSIDER),
    ]


def test_bad_text_on_the_report_form_shows_the_message_and_changes_nothing(county, desk, clock, client_as):
    c = county
    li = client_as(c.u_li, lang="en")
    posts = assert_refuses_bad_input(li, "/mediation/report/", report_form(c, key=""), forms.ReportForm)
    assert posts >= 20
    assert Case.objects.count() == 0


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"title": "长" * 81}, "At most 80 characters (this has 81)."),
        ({"title": "邻里\x00纠纷"}, "NUL characters are not allowed."),
        ({"p1_resident": "", "p2_name": ""}, "Name at least one party to the dispute."),
        ({"source": ""}, "Choose how the dispute came to light."),
        ({"p2_phone": "call me"}, "Enter a phone number of digits, like 13800001111."),
        ({"on_the_spot": "当场劝和", "red_reason": "扬言动手"}, "never one with a red flag"),
    ],
)
def test_a_bad_report_shows_a_message_and_creates_nothing(county, desk, clock, client_as, change, message):
    c = county
    li = client_as(c.u_li, lang="en")
    before = db_fingerprint()
    r = li.post("/mediation/report/", report_form(c, **change), follow=True)
    assert r.status_code == 200
    shown = page(r)
    assert 'class="msg error"' in shown and message in shown, shown[:3000]
    assert Case.objects.count() == 0 and Message.objects.filter(kind__startswith="mediation.").count() == 0
    assert db_fingerprint() == before


def test_a_place_not_offered_on_the_report_form_is_not_found(county, desk, clock, client_as):
    c = county
    li = client_as(c.u_li, lang="en")
    before = db_fingerprint()
    for node in ("999999", str(c.b1.pk), str(c.c1.pk)):
        r = li.post("/mediation/report/", report_form(c, node=node))
        assert r.status_code == 404, node
    assert Case.objects.count() == 0
    assert db_fingerprint() == before


def test_department_staff_have_no_mediation_pages(county, desk, clock, client_as):
    c = county
    case = reported(c)
    wang = client_as(c.u_wang, lang="en")
    assert wang.get("/mediation/report/").status_code == 404
    assert wang.post("/mediation/report/", report_form(c)).status_code == 404
    assert wang.get(f"/mediation/cases/{case.pk}/").status_code == 404
    assert wang.get(f"/mediation/cases/{case.pk}/agreement/").status_code == 404
    assert wang.post(step_url(case, "decline"), {"reason": "x"}).status_code == 404
    assert wang.get("/mediation/mediators/").status_code == 404
    assert wang.get("/dashboard/mediation/").status_code == 404
    assert "邻里排水纠纷" not in page(wang.get("/mediation/"))
    assert Case.objects.get(pk=case.pk).state == "reported"


# --- a case's page and its steps ----------------------------------------------------------------------------------


def test_the_forms_are_shown_only_to_who_mediates_the_case(county, desk, clock, client_as):
    c = county
    case = reported(c)
    for user in (c.u_zhou, c.u_wu):
        shown = page(client_as(user, lang="en").get(f"/mediation/cases/{case.pk}/"))
        assert "data-mediator-actions" in shown, user.username
        assert 'data-action="accept"' in shown
        assert "张阿姨" in shown and "138****1111" in shown and OUTSIDER_PHONE not in shown
    for user in (c.u_li, c.u_zhang):
        r = client_as(user, lang="en").get(f"/mediation/cases/{case.pk}/")
        assert r.status_code == 200
        shown = page(r)
        assert "data-mediator-actions" not in shown and "<form" not in shown.split("<main", 1)[-1], user.username
        assert "data-phone" not in shown
    for user in (desk.sun.user, c.u_wang, c.u_zheng, c.u_liu):
        assert client_as(user, lang="en").get(f"/mediation/cases/{case.pk}/").status_code == 404, user.username


def test_the_phones_are_revealed_only_on_asking_and_the_reading_is_logged(county, desk, clock, client_as):
    from core.models import PersonalDataAccess

    c = county
    case = reported(c)
    zhou = client_as(c.u_zhou, lang="en")
    shown = page(zhou.get(f"/mediation/cases/{case.pk}/?reveal=1"))
    assert OUTSIDER_PHONE in shown and "13800001234" in shown
    assert PersonalDataAccess.objects.filter(user=c.u_zhou, channel="page").count() == 2
    shown = page(client_as(c.u_li, lang="en").get(f"/mediation/cases/{case.pk}/?reveal=1"))
    assert OUTSIDER_PHONE not in shown
    assert PersonalDataAccess.objects.count() == 2


def _form_of(shown: str, case: Case, step: str) -> bool:
    return f'action="{step_url(case, step)}"' in shown


def test_the_buttons_shown_are_the_moves_the_services_accept(county, desk, clock, client_as):
    """Each of a case's forms is on its page exactly when its service would take the move."""
    c = county
    z = c.u_zhou
    zhou = client_as(z, lang="en")
    cases = {
        "reported": reported(c),
        "mediating": mediating(c, desk),
        "agreed": agreed(c, desk),
        "referred": referred(c, desk),
    }
    for state, case in cases.items():
        assert case.state == state
        shown = page(zhou.get(f"/mediation/cases/{case.pk}/"))
        fu = FollowUp.objects.filter(case=case).order_by("due_at").first()
        checks = {
            "accept": lambda k=case: services.case_accept(case=k, by=z, mediator=desk.zhou),
            "decline": lambda k=case: services.case_decline(case=k, by=z, reason="x"),
            "session": lambda k=case: services.session_add(
                case=k, by=z, held_on=TODAY, place="村委会", attendees="双方", notes="x"
            ),
            "agree": lambda k=case: services.agreement_make(case=k, by=z, facts="f", terms="t", signed_on=TODAY),
            "extend": lambda k=case: services.case_extend(case=k, by=z, days=5, reason="x"),
            "settle": lambda k=case: services.case_settle(case=k, by=z, note="x"),
            "end": lambda k=case: services.case_end(case=k, by=z, reason="x"),
            "refer": lambda k=case: services.case_refer(case=k, by=z, unit="court", done="x"),
            "result": lambda k=case: services.referral_result(case=k, by=z, settled=True, result="x"),
            "flag": lambda k=case: services.case_flag(case=k, by=z, reason="x"),
            "follow_up": lambda k=case, f=fu: services.follow_up_record(case=k, follow_up=f, by=z, kept=True, notes=""),
        }
        for step, call in checks.items():
            takes = accepted(call) if fu is not None or step != "follow_up" else False
            assert _form_of(shown, case, step) == takes, (state, step)
        assert fresh(case).state == state


@pytest.mark.parametrize(
    ("start", "step", "data", "state", "message"),
    [
        ("reported", "accept", {"mediator": "@zhou"}, "mediating", "The case is with 周村干."),
        ("reported", "decline", {"reason": "已起诉至法院"}, "declined", "Done."),
        (
            "mediating",
            "session",
            {"held_on": "2026-11-18", "place": "村委会", "attendees": "双方", "notes": "第一次调解"},
            "mediating",
            "Session recorded.",
        ),
        (
            "mediating",
            "agree",
            {"facts": "排水沟堵塞", "terms": "共同出资疏通", "signed_on": "2026-11-18"},
            "agreed",
            "Agreement recorded.",
        ),
        ("mediating", "settle", {"note": "双方口头和解", "level": ""}, "settled", "The case is settled."),
        ("mediating", "end", {"reason": "一方拒绝调解"}, "ended", "Done."),
        ("mediating", "assign", {"mediator": "@wu"}, "mediating", "The case is with 吴镇干."),
        ("mediating", "extend", {"days": "10", "reason": "当事人外出务工"}, "mediating", "Time limit extended."),
        ("mediating", "flag", {"reason": "扬言报复"}, "mediating", "Red flag raised: the town has been told."),
        ("mediating", "refer", {"unit": "court", "done": "调解未果，转诉前调解"}, "referred", "Referred."),
        (
            "agreed",
            "follow_up",
            {"follow_up": "@first", "kept": "yes", "notes": "履行良好"},
            "agreed",
            "Visit recorded.",
        ),
        (
            "agreed",
            "follow_up",
            {"follow_up": "@first", "kept": "no", "notes": "未履行"},
            "mediating",
            "The agreement is broken",
        ),
        ("referred", "result", {"settled": "on", "result": "司法所调解成功"}, "settled", "Result recorded."),
        ("referred", "result", {"result": "司法所调解未果"}, "mediating", "Result recorded."),
    ],
)
def test_each_step_moves_the_case_and_says_so(county, desk, clock, client_as, start, step, data, state, message):
    c = county
    case = {"reported": reported, "mediating": mediating, "agreed": agreed, "referred": referred}[start](
        *((c,) if start == "reported" else (c, desk))
    )
    values = {k: v for k, v in data.items()}
    mediators = {"@zhou": desk.zhou, "@wu": desk.wu}
    if values.get("mediator") in mediators:
        values["mediator"] = str(mediators[values["mediator"]].pk)
    if values.get("follow_up") == "@first":
        values["follow_up"] = str(FollowUp.objects.filter(case=case).order_by("due_at").first().pk)
    zhou = client_as(c.u_zhou, lang="en")
    events = Event.objects.filter(case=case).count()
    r = zhou.post(step_url(case, step), values)
    assert r.status_code == 302 and r["Location"] == f"/mediation/cases/{case.pk}/"
    msgs = said(r)
    assert len(msgs) == 1 and msgs[0][0] == "success" and msgs[0][1].startswith(message), msgs
    assert fresh(case).state == state
    assert Event.objects.filter(case=case).count() > events
    # The page after it shows the new state.
    assert f'data-state="{state}"' in zhou.get(f"/mediation/cases/{case.pk}/").content.decode()


def test_flag_then_unflag_on_the_page(county, desk, clock, client_as):
    c = county
    case = mediating(c, desk)
    zhou = client_as(c.u_zhou, lang="en")
    _r, msgs = posted(zhou, step_url(case, "flag"), {"reason": "扬言报复"})
    assert msgs == [("success", "Red flag raised: the town has been told.")]
    assert fresh(case).red_flag
    shown = page(zhou.get(f"/mediation/cases/{case.pk}/"))
    assert _form_of(shown, case, "unflag") and not _form_of(shown, case, "flag")
    assert "data-red-flag" in shown and "扬言报复" in shown
    _r, msgs = posted(zhou, step_url(case, "unflag"), {"reason": "双方已冷静"})
    assert msgs == [("success", "Done.")]
    assert (fresh(case).red_flag, fresh(case).red_reason) == (False, "")
    # Lowered twice: refused, nothing changed.
    before = db_fingerprint()
    r = zhou.post(step_url(case, "unflag"), {"reason": "again"})
    assert said(r) == [("error", "This case has no red flag.")]
    assert db_fingerprint() == before


@pytest.mark.parametrize(
    ("start", "step", "data"),
    [
        ("reported", "settle", {"note": "当场和解"}),
        ("reported", "end", {"reason": "拒绝调解"}),
        ("reported", "extend", {"days": "5", "reason": "x"}),
        ("reported", "session", {"held_on": "2026-11-18", "place": "村委会", "attendees": "双方", "notes": "x"}),
        ("reported", "refer", {"unit": "police", "done": "涉嫌治安案件"}),
        ("mediating", "accept", {"mediator": "@zhou"}),
        ("mediating", "decline", {"reason": "不受理"}),
        ("mediating", "result", {"settled": "on", "result": "x"}),
        ("agreed", "agree", {"facts": "f", "terms": "t", "signed_on": "2026-11-18"}),
        ("agreed", "refer", {"unit": "court", "done": "x"}),
        ("settled", "flag", {"reason": "x"}),
    ],
)
def test_a_step_not_allowed_now_shows_the_refusal_and_changes_nothing(
    county, desk, clock, client_as, start, step, data
):
    c = county
    if start == "settled":
        case = mediating(c, desk)
        services.case_settle(case=case, by=c.u_zhou, note="和解")
        case = fresh(case)
    else:
        case = {"reported": reported, "mediating": mediating, "agreed": agreed}[start](
            *((c,) if start == "reported" else (c, desk))
        )
    values = {k: (str(desk.zhou.pk) if v == "@zhou" else v) for k, v in data.items()}
    zhou = client_as(c.u_zhou, lang="en")
    before = db_fingerprint()
    r = zhou.post(step_url(case, step), values, follow=True)
    assert r.status_code == 200
    shown = page(r)
    assert 'class="msg error"' in shown and "This case cannot be changed so now that it is" in shown, shown[:2000]
    assert fresh(case).state == start
    assert db_fingerprint() == before


def test_a_step_by_someone_who_does_not_mediate_the_case_is_refused(county, desk, clock, client_as):
    c = county
    case = reported(c)
    li, zhang, xi = (client_as(u, lang="en") for u in (c.u_li, c.u_zhang, desk.sun.user))
    before = db_fingerprint()
    # The reporter and a party see the case: the step is refused with a message.
    refused = [("error", "Only the case's mediator or the mediation staff of its place can do this.")]
    for client in (li, zhang):
        r, msgs = posted(client, step_url(case, "accept"), {"mediator": str(desk.zhou.pk)})
        assert r.status_code == 302 and msgs == refused
        r, msgs = posted(client, step_url(case, "decline"), {"reason": "不受理"})
        assert r.status_code == 302 and msgs == refused
    # The 乡贤 of 西村 does not see it at all.
    assert xi.post(step_url(case, "decline"), {"reason": "不受理"}).status_code == 404
    assert fresh(case).state == "reported"
    assert db_fingerprint() == before


def test_bad_input_to_a_step_shows_the_message_and_changes_nothing(county, desk, clock, client_as):
    c = county
    case = mediating(c, desk)
    zhou = client_as(c.u_zhou, lang="en")
    before = db_fingerprint()
    for step, data, message in [
        ("session", {"held_on": "2026-11-17", "place": "村委会", "attendees": "双方", "notes": "x"}, "before the case"),
        ("session", {"held_on": "2026-11-19", "place": "村委会", "attendees": "双方", "notes": "x"}, "in the future"),
        ("session", {"held_on": "18/11/2026", "place": "村委会", "attendees": "双方", "notes": "x"}, ""),
        ("extend", {"days": "0", "reason": "x"}, "Extend by 1 to 30 days."),
        ("extend", {"days": "三十", "reason": "x"}, "Extend by 1 to 30 days."),
        ("end", {"reason": "长" * 301}, "At most 300 characters (this has 301)."),
        ("end", {"reason": "a\x00b"}, "NUL characters are not allowed."),
        ("refer", {"unit": "mayor", "done": "x"}, ""),
        ("accept", {"mediator": str(desk.sun.pk)}, ""),  # not in the case's state (and not for its place)
        ("assign", {"mediator": str(desk.sun.pk)}, "Choose a mediator registered for this place or above it."),
    ]:
        r, msgs = posted(zhou, step_url(case, step), data)
        assert r.status_code == 302, (step, data)
        assert [m[0] for m in msgs] == ["error"], (step, data, msgs)
        assert message in msgs[0][1], (step, data, msgs)
    assert zhou.post(step_url(case, "frobnicate"), {}).status_code == 404
    assert fresh(case).state == "mediating"
    assert db_fingerprint() == before


# --- the agreement to print ---------------------------------------------------------------------------------------


def test_the_printable_agreement_names_the_parties_and_the_terms(county, desk, clock, client_as):
    c = county
    case = mediating(c, desk)
    zhou = client_as(c.u_zhou, lang="en")
    assert zhou.get(f"/mediation/cases/{case.pk}/agreement/").status_code == 404  # none yet
    services.agreement_make(
        case=case, by=c.u_zhou, facts="两家因排水沟堵塞争吵", terms="甲方赔偿乙方500元", signed_on=TODAY
    )
    r = zhou.get(f"/mediation/cases/{case.pk}/agreement/")
    assert r.status_code == 200
    doc = page(r)
    assert "张阿姨" in doc and OUTSIDER in doc
    assert "甲方赔偿乙方500元" in doc and "两家因排水沟堵塞争吵" in doc
    assert case.code in doc and "周村干" in doc and "2026-11-18" in doc and "Mediation committee of 东村 (seal)" in doc
    assert OUTSIDER_PHONE not in doc  # no phone on the paper
    # The reporter reads it with the names masked.
    doc = page(client_as(c.u_li, lang="en").get(f"/mediation/cases/{case.pk}/agreement/"))
    assert "甲方赔偿乙方500元" in doc and "张阿姨" not in doc and "张**" in doc
    assert client_as(desk.sun.user).get(f"/mediation/cases/{case.pk}/agreement/").status_code == 404


# --- the register of mediators ------------------------------------------------------------------------------------


def test_the_town_lists_and_registers_mediators(county, desk, clock, client_as):
    c = county
    wu = client_as(c.u_wu, lang="en")
    r = wu.get("/mediation/mediators/")
    assert r.status_code == 200
    shown = page(r)
    for m in (desk.zhou, desk.wu, desk.sun):
        assert f'data-mediator="{m.pk}"' in shown
    assert f'<option value="{c.v1.pk}">' in shown and f'<option value="{c.a1.pk}">' not in shown
    assert f'<option value="{c.v3.pk}">' not in shown  # another town
    r = wu.post(
        "/mediation/mediators/", {"username": "zheng", "node": str(c.v1.pk), "kind": "peoples", "name": "郑调解"}
    )
    assert r.status_code == 302 and said(r) == [("success", "Registered.")]
    m = Mediator.objects.get(user=c.u_zheng)
    assert (m.node_id, m.kind, m.name, m.active) == (c.v1.pk, "peoples", "郑调解", True)
    assert f'data-mediator="{m.pk}"' in wu.get("/mediation/mediators/").content.decode()
    # Twice, an unknown login, a place not offered: a message, nothing more.
    before = db_fingerprint()
    for data, message in [
        ({"username": "zheng", "node": str(c.v1.pk), "kind": "peoples", "name": "郑调解"}, "already a mediator here"),
        ({"username": "nobody", "node": str(c.v1.pk), "kind": "peoples", "name": "某"}, "No such login."),
        (
            {"username": "zheng", "node": str(c.v3.pk), "kind": "peoples", "name": "某"},
            "Choose a village, town or county",
        ),
        ({"username": "zheng", "node": str(c.v2.pk), "kind": "judge", "name": "某"}, ""),
        (
            {"username": "zheng", "node": str(c.v2.pk), "kind": "peoples", "name": "长" * 41},
            "At most 40 characters (this has 41).",
        ),
    ]:
        r = wu.post("/mediation/mediators/", data, follow=True)
        assert r.status_code == 200
        assert 'class="msg error"' in page(r) and message in page(r), data
    assert db_fingerprint() == before
    # Stood down.
    r = wu.post(f"/mediation/mediators/{m.pk}/", {})
    assert r.status_code == 302 and not Mediator.objects.get(pk=m.pk).active


def test_the_register_is_not_for_others(county, desk, clock, client_as):
    c = county
    for user in (c.u_li, c.u_zhou, c.u_zhang, desk.sun.user):
        client = client_as(user, lang="en")
        assert client.get("/mediation/mediators/").status_code == 404, user.username
        r = client.post(
            "/mediation/mediators/", {"username": "zheng", "node": str(c.v1.pk), "kind": "peoples", "name": "郑"}
        )
        assert r.status_code == 404
        assert client.post(f"/mediation/mediators/{desk.zhou.pk}/", {}).status_code == 404
    assert not Mediator.objects.filter(user=c.u_zheng).exists()
    assert Mediator.objects.get(pk=desk.zhou.pk).active


# --- the command centre -------------------------------------------------------------------------------------------


def _cell(shown: str, table: str, key: Any, col: str) -> str:
    body = shown.split(f'data-table="{table}"', 1)[1].split("</table>", 1)[0]
    row = body.split(f'<tr data-key="{key}"', 1)[1].split("</tr>", 1)[0]
    return re.search(rf'data-col="{col}"[^>]*>([^<]*)<', row).group(1).strip()


def _this_months_cases(c: Any, desk: Any) -> dict[str, Case]:
    """东村: one settled in the village, one agreed (kept in the village), one settled in the town by referral,
    one open with a red flag, one not accepted; 西村: one open; 南村 (another town): one settled."""
    out = {}
    s = mediating(c, desk)
    services.case_settle(case=s, by=c.u_zhou, note="和解")
    out["settled"] = s
    out["agreed"] = agreed(c, desk)
    r = referred(c, desk)
    services.referral_result(case=r, by=c.u_wu, settled=True, result="司法所调解成功")
    out["town"] = r
    out["red"] = reported(
        c, by=c.u_zhou, node=c.a2, red_reason="扬言动手", parties=[PartyIn(side="applicant", resident_id=c.chen.pk)]
    )
    d = reported(c)
    services.case_decline(case=d, by=c.u_zhou, reason="不属于民间纠纷")
    out["declined"] = d
    out["west"] = reported(c, by=c.u_wu, node=c.b1, parties=[PartyIn(side="applicant", name="黄婶")])
    out["south"] = reported(
        c, by=c.u_sun, node=c.c1, parties=[PartyIn(side="applicant", name="孙大伯")], on_the_spot="当场劝和"
    )
    return out


def test_the_command_centre_shows_where_disputes_were_settled(county, desk, clock, client_as):
    c = county
    _this_months_cases(c, desk)
    wu = client_as(c.u_wu, lang="en")
    r = wu.get("/dashboard/mediation/")
    assert r.status_code == 200
    shown = page(r)
    # 东村: 4 reported (the one not accepted left out), 3 settled, 2 in the village, 3 in the town, 1 red.
    # (An agreement being kept counts as settled, not as still open: settled + open never exceed reported.)
    want = {"reported": "4", "settled": "3", "in_village": "2", "in_town": "3", "open": "1", "red_flags": "1"}
    assert {k: _cell(shown, "mediation-units", c.v1.pk, k) for k in want} == want
    assert _cell(shown, "mediation-units", c.v2.pk, "reported") == "1"
    assert _cell(shown, "mediation-units", c.v2.pk, "open") == "1"
    assert "南村" not in shown.split('data-table="mediation-units"', 1)[1].split("</table>", 1)[0]
    assert "50" in _cell(shown, "mediation-units", c.v1.pk, "village_rate")  # 2 of 4
    # Drill down to 东村's grids.
    shown = page(wu.get(f"/dashboard/mediation/?node={c.v1.pk}"))
    assert _cell(shown, "mediation-units", c.a2.pk, "red_flags") == "1"
    assert _cell(shown, "mediation-units", c.a1.pk, "reported") == "3"
    # Out of scope: the 404 page.
    assert wu.get(f"/dashboard/mediation/?node={c.v3.pk}").status_code == 404
    assert client_as(c.u_li).get("/dashboard/mediation/").status_code == 404


def test_the_command_centres_excel_has_the_same_numbers(county, desk, clock, client_as):
    from openpyxl import load_workbook

    c = county
    _this_months_cases(c, desk)
    r = client_as(c.u_wu, lang="en").get("/dashboard/mediation/xlsx/")
    assert r.status_code == 200
    assert r["Content-Type"].startswith("application/vnd.openxmlformats-officedocument.spreadsheetml")
    assert "attachment" in r["Content-Disposition"]
    wb = load_workbook(io.BytesIO(r.content))
    ws = wb.worksheets[0]
    rows = [[cell.value for cell in row] for row in ws.iter_rows()]
    header = rows[1]
    reported_at = header.index("Reported")
    in_village_at = header.index("Settled in the village")
    east = next(row for row in rows if row[0] == "东村")
    assert (east[reported_at], east[in_village_at]) == (4, 2)
    total = next(row for row in rows if row[0] == "Total")
    assert total[reported_at] == 5
    assert len(wb.worksheets) == 3  # units, by month, the definitions
    assert client_as(c.u_wang).get("/dashboard/mediation/xlsx/").status_code == 404


def test_the_live_board_counts_open_red_flag_disputes(county, desk, clock, client_as):
    c = county
    reported(c, red_reason="扬言动手")
    reported(c, by=c.u_wu, node=c.b1, red_reason="持械对峙", parties=[PartyIn(side="applicant", name="黄婶")])
    closed = mediating(c, desk, red_reason="曾扬言报复")
    services.case_settle(case=closed, by=c.u_zhou, note="和解")  # settled: no longer counted
    reported(c, by=c.u_sun, node=c.c1, red_reason="打架", parties=[PartyIn(side="applicant", name="孙大伯")])  # 南镇
    reported(c)  # no flag

    def count(user: Any, query: str = "") -> int:
        r = client_as(user, lang="en").get(f"/dashboard/{query}")
        assert r.status_code == 200
        m = re.search(r'data-live="disputes_red"[^>]*>.*?<dd>(\d+)</dd>', r.content.decode(), re.S)
        assert m, "the board shows the red-flag disputes"
        return int(m.group(1))

    assert count(c.u_wu) == 2  # 东镇
    assert count(c.u_qian) == 3  # the county
    assert count(c.u_zhou) == 1  # 东村
    assert count(c.u_wu, "?part=live") == 2  # the part the board refreshes by itself
    r = client_as(c.u_wu).get(f"/dashboard/?part=live&node={c.v2.pk}")
    assert re.search(r'data-live="disputes_red"[^>]*>.*?<dd>1</dd>', r.content.decode(), re.S)


# --- a work order turned into a case on its page ------------------------------------------------------------------


def test_a_work_order_is_turned_into_a_case_from_its_page(world, desk, clock, client_as):
    from workorders import services as orders

    c = world.c
    order = orders.workorder_submit(
        by=c.u_zhang, kind="complaint", category=world.dispute, text="邻居家的狗天天半夜叫，沟通无果", channel="mobile"
    ).order
    li = client_as(c.u_li, lang="en")
    shown = page(li.get(f"/workorders/{order.pk}/"))
    assert 'data-action="to-case"' in shown and "data-dispute" in shown
    assert "data-dispute" not in page(
        client_as(c.u_zhang, lang="en").get(f"/workorders/{order.pk}/")
    )  # not for its owner
    r, msgs = posted(li, f"/mediation/from-order/{order.pk}/", {"kind": "neighbour"})
    case = Case.objects.get(work_order=order)
    assert r.status_code == 302 and r["Location"] == f"/mediation/cases/{case.pk}/"
    assert msgs == [("success", f"Now dispute case {case.code}.")]
    assert (case.source, case.path, case.kind) == ("order", order.grid.path, "neighbour")
    # The order's page links the case; the case's page links the order.
    shown = page(li.get(f"/workorders/{order.pk}/"))
    assert case.code in shown and "data-case-link" in shown and 'data-action="to-case"' not in shown
    assert f'href="/workorders/{order.pk}/"' in page(li.get(f"/mediation/cases/{case.pk}/"))
    # Again: refused with a message, back on the order's page, nothing more.
    before = db_fingerprint()
    r, msgs = posted(li, f"/mediation/from-order/{order.pk}/", {"kind": "neighbour"})
    assert r.status_code == 302 and r["Location"] == f"/workorders/{order.pk}/"
    assert msgs == [("error", "This work order is already a dispute case.")]
    assert db_fingerprint() == before
