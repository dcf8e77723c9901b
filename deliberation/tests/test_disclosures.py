"""三公开 and 村规民约 over the API: postings of party affairs, village affairs and finance per period, never
changed (a correction is a new posting), the finance posting with the money spent on the village's matters;
residents' questions answered publicly once; postings overdue flagged to the town; the village rules recorded,
redrafted and adopted (or not) by a vote; each village's setting; the figures per village."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from accounts import services as accounts
from core.errors import Conflict, ValidationFailed
from deliberation import selectors, services
from deliberation.models import Disclosure, Matter, Question, RulesVersion, VillageSetting, Vote, Voter
from org.models import Resident
from workorders.tests.helpers import at

API = "/api/v1/deliberation"
BODY = "A1湾组到村部的路坑洼不平，雨天难走。"
RULES_V1 = "第一条 爱护公共设施。\n第二条 不在河道倾倒垃圾。"


def post(client, url, body=None):
    return client.post(url, body if body is not None else {}, content_type="application/json")


def put(client, url, body=None):
    return client.put(url, body if body is not None else {}, content_type="application/json")


def code(r) -> str:
    return r.json()["error"]["code"]


def _huang(c):
    u = accounts.user_create(username="huang", password="x-Password-123", display_name="黄婶")
    Resident.objects.filter(pk=c.huang.pk).update(user=u)
    return u


def _posting(c, kind="affairs", period="2026-10", *, village=None, by=None, **kw) -> Disclosure:
    kw.setdefault("title", f"东村{period}{kind}公开")
    kw.setdefault("body", "本期事项：修路、装路灯。")
    return services.disclosure_publish(by=by or c.u_zhou, village=village or c.v1, kind=kind, period=period, **kw)


def _vote_on(c, clock, *, matter=None, rules=None, staff=None, quorum="none", **kw) -> Vote:
    v = services.vote_create(
        by=staff or c.u_zhou,
        matter=matter,
        rules=rules,
        question="是否同意？",
        closes_at=clock.t + dt.timedelta(hours=1),
        quorum=quorum,
        **kw,
    )
    services.vote_open(vote=v, by=staff or c.u_zhou)
    return v


def _cast(v: Vote, user, label: str) -> None:
    services.vote_cast(vote=v, by=user, option_id=v.options.get(label=label).pk)


def _count(clock, staff, *votes: Vote) -> None:
    clock.advance(hours=1)
    for v in votes:
        services.vote_count(vote=v, by=staff)


def _doing(c, clock, *, by=None, staff=None, title="修通组公路") -> Matter:
    """A matter passed (its proposer's ballot; no quorum asked) and being carried out."""
    by, staff = by or c.u_zhang, staff or c.u_zhou
    m = services.matter_propose(by=by, title=title, body=BODY)
    services.matter_agenda(matter=m, by=staff)
    v = _vote_on(c, clock, matter=m, staff=staff)
    _cast(v, by, "同意")
    _count(clock, staff, v)
    m = Matter.objects.get(pk=m.pk)
    services.matter_start(matter=m, by=staff)
    return m


# --- 三公开 -------------------------------------------------------------------------------------------------------


def test_postings_of_each_kind_for_a_month_or_a_quarter(county, clock, client_as):
    c = county
    zhou = client_as(c.u_zhou)
    made = []
    for kind, period in (("party", "2026-Q4"), ("affairs", "2026-11"), ("finance", "2026-10"), ("party", "2025-Q1")):
        r = post(
            zhou,
            f"{API}/disclosures",
            {"village_id": c.v1.pk, "kind": kind, "period": period, "title": f"{period}公开", "body": "本期公开内容。"},
        )
        assert r.status_code == 201, (kind, period, r.content)
        out = r.json()
        assert (out["village_id"], out["kind"], out["period"], out["corrects_id"], out["open_questions"]) == (
            c.v1.pk,
            kind,
            period,
            None,
            0,
        )
        assert out["kind_label"] and out["actions"] == ["answer", "correct"]
        made.append(out["id"])
    d = Disclosure.objects.get(pk=made[0])
    assert (d.path, d.published_by_id, d.published_at) == (c.v1.path, c.u_zhou.pk, clock.t)
    # Residents of the village read them, newest first, by kind too.
    zhang = client_as(c.u_zhang)
    listed = zhang.get(f"{API}/disclosures").json()
    assert [x["id"] for x in listed["items"]] == made[::-1]
    assert [x["id"] for x in zhang.get(f"{API}/disclosures?kind=finance").json()["items"]] == [made[2]]
    assert zhang.get(f"{API}/disclosures/{made[1]}").json()["actions"] == ["ask"]
    assert zhang.get(f"{API}/disclosures?kind=budget").status_code == 422


@pytest.mark.parametrize(
    ("period", "status", "err"),
    [
        ("2026-13", 422, "disclosure.bad_period"),
        ("2026-00", 422, "disclosure.bad_period"),
        ("2026-Q5", 422, "disclosure.bad_period"),
        ("2026-Q0", 422, "disclosure.bad_period"),
        ("2026/11", 422, "disclosure.bad_period"),
        ("2026-1a", 422, "disclosure.bad_period"),
        ("11-2026", 422, "disclosure.bad_period"),
        ("2026-11-1", 422, "validation_error"),
        ("26-11", 422, "validation_error"),
        ("", 422, "validation_error"),
        # Not begun yet (today is 2026-11-18).
        ("2026-12", 422, "disclosure.bad_period"),
        ("2027-Q1", 422, "disclosure.bad_period"),
        ("2027-01", 422, "disclosure.bad_period"),
    ],
)
def test_a_bad_or_future_period_is_refused(county, clock, client_as, period, status, err):
    c = county
    r = post(
        client_as(c.u_zhou),
        f"{API}/disclosures",
        {"village_id": c.v1.pk, "kind": "affairs", "period": period, "title": "公开", "body": "本期公开内容。"},
    )
    assert r.status_code == status and code(r) == err, r.content
    assert Disclosure.objects.count() == 0


@pytest.mark.parametrize("period", ["2026-+1", "2026- 1", "+026-11", "2026-Q+4"])
def test_a_period_is_written_only_one_way(county, clock, client_as, period):
    """A month is four digits, a dash and two digits: "2026-+1" is not "2026-01", and the overdue check (which
    looks for "2026-01") would never find it."""
    c = county
    r = post(
        client_as(c.u_zhou),
        f"{API}/disclosures",
        {"village_id": c.v1.pk, "kind": "affairs", "period": period, "title": "公开", "body": "本期公开内容。"},
    )
    assert r.status_code == 422, (period, r.status_code, r.content)
    assert Disclosure.objects.count() == 0


def test_who_may_post_and_bad_postings_change_nothing(county, clock, client_as):
    c = county
    ok = {"village_id": c.v1.pk, "kind": "affairs", "period": "2026-10", "title": "十月村务公开", "body": "修路。"}
    zhou = client_as(c.u_zhou)
    cases = [
        (client_as(c.u_zhang), ok, 404),  # a resident
        (client_as(c.u_wu), ok, 404),  # the town watches, the village posts
        (client_as(c.u_li), ok, 404),  # a grid worker
        (zhou, {**ok, "village_id": c.v2.pk}, 404),  # another village
        (zhou, {**ok, "village_id": c.a1.pk}, 404),  # a grid is not a village
        (zhou, {**ok, "village_id": 999999}, 404),
        (zhou, {**ok, "kind": "budget"}, 422),
        (zhou, {**ok, "title": "长" * 81}, 422),
        (zhou, {**ok, "title": "公"}, 422),
        (zhou, {**ok, "body": "长" * 10001}, 422),
        (zhou, {**ok, "title": "十月\x00公开"}, 400),
        (zhou, {**ok, "body": "修\x00路"}, 400),
        (zhou, {k: v for k, v in ok.items() if k != "body"}, 422),
        (zhou, {k: v for k, v in ok.items() if k != "kind"}, 422),
        (zhou, {**ok, "corrects_id": 999999}, 404),
        (zhou, {**ok, "extra": 1}, 422),
    ]
    for client, body, status in cases:
        r = post(client, f"{API}/disclosures", body)
        assert r.status_code == status, (body, r.content)
    assert Disclosure.objects.count() == 0


def test_a_posting_is_never_changed_a_correction_names_it(county, clock, client_as):
    c = county
    first = _posting(c, "finance", "2026-10", body="十月支出 1000 元。")
    zhou = client_as(c.u_zhou)
    # No way to change or delete a posting.
    for method in ("put", "patch", "delete"):
        r = getattr(zhou, method)(f"{API}/disclosures/{first.pk}", {"body": "改了"}, content_type="application/json")
        assert r.status_code == 405, (method, r.status_code)
    clock.advance(days=1)
    r = post(
        zhou,
        f"{API}/disclosures",
        {
            "village_id": c.v1.pk,
            "kind": "finance",
            "period": "2026-10",
            "title": "更正：十月财务公开",
            "body": "十月支出应为 1200 元。",
            "corrects_id": first.pk,
        },
    )
    assert r.status_code == 201 and r.json()["corrects_id"] == first.pk
    fixed = r.json()["id"]
    seen = client_as(c.u_zhang).get(f"{API}/disclosures/{first.pk}").json()
    assert (seen["body"], seen["corrected_by"]) == ("十月支出 1000 元。", [fixed])
    # A correction is of the same village and kind.
    r = post(
        zhou,
        f"{API}/disclosures",
        {
            "village_id": c.v1.pk,
            "kind": "affairs",
            "period": "2026-10",
            "title": "更正",
            "body": "更正内容。",
            "corrects_id": first.pk,
        },
    )
    assert r.status_code == 422 and code(r) == "disclosure.bad_correction"
    west = _posting(c, "finance", "2026-10", village=c.v2, by=c.u_admin, title="西村十月财务")
    r = post(
        zhou,
        f"{API}/disclosures",
        {
            "village_id": c.v1.pk,
            "kind": "finance",
            "period": "2026-10",
            "title": "更正",
            "body": "更正内容。",
            "corrects_id": west.pk,
        },
    )
    assert r.status_code == 404  # 周村干 does not even find 西村's posting
    assert Disclosure.objects.count() == 3
    first.refresh_from_db()
    assert (first.body, first.published_at) == ("十月支出 1000 元。", at("2026-11-18 10:00"))


def test_a_finance_posting_lists_the_money_spent_on_the_villages_matters_in_its_period(county, clock, client_as):
    c = county
    road = _doing(c, clock)
    line = services.budget_add(matter=road, by=c.u_zhou, item="水泥砂石", amount="5000")
    for day, amount, payee in (
        ("2026-09-30", "100", "九月店"),
        ("2026-10-20", "300", "建材店"),
        ("2026-11-15", "200", "运输队"),
    ):
        services.spending_add(
            matter=road, by=c.u_zhou, line=line, amount=amount, spent_on=dt.date.fromisoformat(day), payee=payee
        )
    # 西村 spends too (its staff: the administrator here): never in 东村's posting.
    u_huang = _huang(c)
    canal = _doing(c, clock, by=u_huang, staff=c.u_admin, title="西村修渠")
    canal_line = services.budget_add(matter=canal, by=c.u_admin, item="管子", amount="900")
    services.spending_add(
        matter=canal, by=c.u_admin, line=canal_line, amount="800", spent_on=dt.date(2026, 11, 16), payee="西村管材"
    )
    zhang = client_as(c.u_zhang)

    def listed(d: Disclosure):
        return [
            (s["spent_on"], Decimal(s["amount"]), s["payee"], s["matter"], s["item"], s["matter_id"])
            for s in zhang.get(f"{API}/disclosures/{d.pk}").json()["spendings"]
        ]

    nov, oct_, q4 = (
        _posting(c, "finance", "2026-11"),
        _posting(c, "finance", "2026-10"),
        _posting(c, "finance", "2026-Q4"),
    )
    assert listed(nov) == [("2026-11-15", Decimal("200"), "运输队", "修通组公路", "水泥砂石", road.pk)]
    assert listed(oct_) == [("2026-10-20", Decimal("300"), "建材店", "修通组公路", "水泥砂石", road.pk)]
    assert [x[2] for x in listed(q4)] == ["建材店", "运输队"]
    # Another kind of posting lists no money.
    assert listed(_posting(c, "affairs", "2026-11")) == []
    west = _posting(c, "finance", "2026-11", village=c.v2, by=c.u_admin, title="西村十一月财务")
    assert [s["payee"] for s in client_as(u_huang).get(f"{API}/disclosures/{west.pk}").json()["spendings"]] == [
        "西村管材"
    ]


def test_questions_about_a_posting_are_answered_publicly_once(county, clock, client_as):
    c = county
    d = _posting(c, "finance", "2026-10")
    zhang, liu, zhou = client_as(c.u_zhang), client_as(c.u_liu), client_as(c.u_zhou)
    r = post(zhang, f"{API}/disclosures/{d.pk}/questions", {"text": "修路的钱花在哪里了？"})
    assert r.status_code == 201, r.content
    assert r.json()["open_questions"] == 1 and r.json()["questions"][0]["who"] == "张**"
    assert post(liu, f"{API}/disclosures/{d.pk}/questions", {"text": "运输费为什么这么高？"}).status_code == 201
    q1, q2 = Question.objects.order_by("id")
    assert (q1.asker_id, q1.asked_at, q1.state) == (c.zhang.pk, clock.t, "asked")
    assert zhang.get(f"{API}/disclosures").json()["items"][0]["open_questions"] == 2
    # Another village's resident neither reads nor asks; staff are not residents; residents do not answer.
    u_huang = _huang(c)
    assert client_as(u_huang).get(f"{API}/disclosures/{d.pk}").status_code == 404
    assert post(client_as(u_huang), f"{API}/disclosures/{d.pk}/questions", {"text": "我也想问问"}).status_code == 404
    assert client_as(u_huang).get(f"{API}/disclosures").json()["count"] == 0
    assert client_as(c.u_sun).get(f"{API}/disclosures/{d.pk}").status_code == 404
    r = post(zhou, f"{API}/disclosures/{d.pk}/questions", {"text": "我替村民问一下"})
    assert r.status_code == 403
    assert post(zhang, f"{API}/questions/{q1.pk}/answer", {"answer": "我自己回答"}).status_code == 404
    assert post(client_as(c.u_wu), f"{API}/questions/{q1.pk}/answer", {"answer": "镇里回答"}).status_code == 404
    # The committee answers, publicly.
    clock.advance(hours=2)
    r = post(zhou, f"{API}/questions/{q1.pk}/answer", {"answer": "水泥 300 元，运输 200 元，票据在村部可查。"})
    assert r.status_code == 200, r.content
    assert r.json()["open_questions"] == 1 and r.json()["questions"][0]["who"] == "张阿姨"  # the committee reads names
    seen = client_as(c.u_liu).get(f"{API}/disclosures/{d.pk}").json()["questions"][0]
    assert (seen["state"], seen["answer"], seen["who"]) == (
        "answered",
        "水泥 300 元，运输 200 元，票据在村部可查。",
        "张**",
    )
    q1.refresh_from_db()
    assert (q1.answered_by_id, q1.answered_at) == (c.u_zhou.pk, clock.t)
    twice = post(zhou, f"{API}/questions/{q1.pk}/answer", {"answer": "再答一次"})
    assert twice.status_code == 409 and code(twice) == "question.answered"
    assert Question.objects.get(pk=q1.pk).answer == "水泥 300 元，运输 200 元，票据在村部可查。"
    # Bad input changes nothing.
    before = list(Question.objects.order_by("id").values_list("text", "state", "answer"))
    for url, body, status in [
        (f"disclosures/{d.pk}/questions", {"text": ""}, 422),
        (f"disclosures/{d.pk}/questions", {"text": "长" * 501}, 422),
        (f"disclosures/{d.pk}/questions", {"text": "为何"}, 422),
        (f"disclosures/{d.pk}/questions", {"text": "钱\x00去哪了"}, 400),
        (f"disclosures/{d.pk}/questions", {}, 422),
        ("disclosures/999999/questions", {"text": "钱去哪里了？"}, 404),
    ]:
        assert post(zhang, f"{API}/{url}", body).status_code == status, (url, body)
    for body, status in [
        ({"answer": ""}, 422),
        ({"answer": "长" * 2001}, 422),
        ({"answer": "已\x00答"}, 400),
        ({}, 422),
    ]:
        assert post(zhou, f"{API}/questions/{q2.pk}/answer", body).status_code == status, body
    r = post(zhou, f"{API}/questions/999999/answer", {"answer": "好的"})
    assert r.status_code == 404 and code(r) == "question.not_found"
    assert list(Question.objects.order_by("id").values_list("text", "state", "answer")) == before


# --- overdue postings ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("day", "every", "due_day", "period", "deadline"),
    [
        ("2026-11-10", "month", 10, "2026-09", "2026-10-10"),  # on the due day October is not late yet
        ("2026-11-11", "month", 10, "2026-10", "2026-11-10"),
        ("2026-11-18", "month", 10, "2026-10", "2026-11-10"),
        ("2026-11-30", "month", 10, "2026-10", "2026-11-10"),
        ("2026-12-01", "month", 10, "2026-10", "2026-11-10"),
        ("2027-01-10", "month", 10, "2026-11", "2026-12-10"),
        ("2027-01-11", "month", 10, "2026-12", "2027-01-10"),
        ("2026-11-01", "month", 1, "2026-09", "2026-10-01"),
        ("2026-11-02", "month", 1, "2026-10", "2026-11-01"),
        ("2026-03-28", "month", 28, "2026-01", "2026-02-28"),
        ("2026-03-29", "month", 28, "2026-02", "2026-03-28"),
        ("2026-10-10", "quarter", 10, "2026-Q2", "2026-07-10"),
        ("2026-10-11", "quarter", 10, "2026-Q3", "2026-10-10"),
        ("2026-11-18", "quarter", 10, "2026-Q3", "2026-10-10"),
        ("2026-12-31", "quarter", 10, "2026-Q3", "2026-10-10"),
        ("2027-01-05", "quarter", 5, "2026-Q3", "2026-10-05"),
        ("2027-01-06", "quarter", 5, "2026-Q4", "2027-01-05"),
        ("2026-04-20", "quarter", 20, "2025-Q4", "2026-01-20"),
        ("2026-04-21", "quarter", 20, "2026-Q1", "2026-04-20"),
    ],
)
def test_the_last_period_due_at_and_after_the_due_day(day, every, due_day, period, deadline):
    assert selectors.last_due(dt.date.fromisoformat(day), every, due_day) == (period, dt.date.fromisoformat(deadline))


def _overdue(paths, **kw):
    return sorted((o.village.name, o.kind, o.period, str(o.deadline)) for o in selectors.overdue(paths, **kw))


def test_postings_overdue_are_flagged_to_the_town(county, clock, client_as):
    c = county
    # 西村 posts its village affairs quarterly, everything by the 20th.
    VillageSetting.objects.create(village=c.v2, affairs_every="quarter", due_day=20)
    town = (c.t1.path,)
    # 2026-11-18: 东村 (defaults: party quarterly, the others monthly, by the 10th) owes Q3 and October;
    # 西村 owes Q3 (due 10-20), and September's finance (October's is due by 11-20).
    assert _overdue(town) == [
        ("东村", "affairs", "2026-10", "2026-11-10"),
        ("东村", "finance", "2026-10", "2026-11-10"),
        ("东村", "party", "2026-Q3", "2026-10-10"),
        ("西村", "affairs", "2026-Q3", "2026-10-20"),
        ("西村", "finance", "2026-09", "2026-10-20"),
        ("西村", "party", "2026-Q3", "2026-10-20"),
    ]
    _posting(c, "party", "2026-Q3")
    _posting(c, "affairs", "2026-10")
    _posting(c, "finance", "2026-09", village=c.v2, by=c.u_admin)
    assert _overdue(town) == [
        ("东村", "finance", "2026-10", "2026-11-10"),
        ("西村", "affairs", "2026-Q3", "2026-10-20"),
        ("西村", "party", "2026-Q3", "2026-10-20"),
    ]
    # On 西村's due day October's finance is not late yet; the day after, it is.
    clock.set("2026-11-20 23:59")
    assert ("西村", "finance", "2026-10", "2026-11-20") not in _overdue(town)
    clock.set("2026-11-21 00:01")
    assert ("西村", "finance", "2026-10", "2026-11-20") in _overdue(town)
    # 东村 on 12-10 still owes October's finance; from 12-11 November's postings too.
    clock.set("2026-12-10 12:00")
    assert [x for x in _overdue(town) if x[0] == "东村"] == [("东村", "finance", "2026-10", "2026-11-10")]
    clock.set("2026-12-11 08:00")
    assert [x for x in _overdue(town) if x[0] == "东村"] == [
        ("东村", "affairs", "2026-11", "2026-12-10"),
        ("东村", "finance", "2026-11", "2026-12-10"),
    ]
    # Over the API: the town sees both villages, the village its own, a resident and another town nothing.
    r = client_as(c.u_wu).get(f"{API}/overdue")
    assert r.status_code == 200
    rows = sorted((x["village"], x["kind"], x["period"], x["deadline"]) for x in r.json())
    assert rows == _overdue(town) and all(x["kind_label"] for x in r.json())
    assert {x["village_id"] for x in client_as(c.u_zhou).get(f"{API}/overdue").json()} == {c.v1.pk}
    assert client_as(c.u_zhang).get(f"{API}/overdue").json() == []
    assert client_as(c.u_sun).get(f"{API}/overdue").json() == []
    assert {x["village"] for x in client_as(c.u_qian).get(f"{API}/overdue").json()} == {"东村", "西村", "南村"}


# --- 村规民约 -------------------------------------------------------------------------------------------------------


def test_village_rules_are_recorded_once_then_a_new_version_is_adopted_by_a_vote(county, clock, client_as):
    c = county
    zhou = client_as(c.u_zhou)
    rec = {"village_id": c.v1.pk, "text": RULES_V1, "adopted_on": "2020-05-01"}
    assert post(client_as(c.u_zhang), f"{API}/rules/record", rec).status_code == 404
    r = post(zhou, f"{API}/rules/record", {**rec, "adopted_on": "2026-11-19"})
    assert r.status_code == 422 and RulesVersion.objects.count() == 0
    r = post(zhou, f"{API}/rules/record", rec)
    assert r.status_code == 201, r.content
    assert (r.json()["number"], r.json()["state"], r.json()["adopted_at"][:10]) == (1, "adopted", "2020-05-01")
    again = post(zhou, f"{API}/rules/record", rec)
    assert again.status_code == 409 and code(again) == "rules.exists"
    # A new version: one draft at a time.
    draft = {"village_id": c.v1.pk, "text": RULES_V1 + "\n第三条 红白喜事从简。", "summary": "加一条：红白喜事从简"}
    assert post(client_as(c.u_zhang), f"{API}/rules", draft).status_code == 404
    for body, status in [
        ({**draft, "text": "太短了"}, 422),
        ({**draft, "summary": "加\x00一条"}, 400),
        ({**draft, "summary": "长" * 301}, 422),
        ({"village_id": c.v1.pk, "text": RULES_V1}, 422),
        ({**draft, "village_id": c.v2.pk}, 404),
    ]:
        assert post(zhou, f"{API}/rules", body).status_code == status, body
    r = post(zhou, f"{API}/rules", draft)
    assert r.status_code == 201 and (r.json()["number"], r.json()["state"]) == (2, "draft")
    v2 = RulesVersion.objects.get(number=2)
    pending = post(zhou, f"{API}/rules", {**draft, "summary": "另一个版本"})
    assert pending.status_code == 409 and code(pending) == "rules.pending"
    # Put to the village's vote: 张阿姨's and 刘党员's households agree (2 of 3: two thirds take part).
    v = services.vote_create(
        by=c.u_zhou, rules=v2, question="是否同意第2版村规民约？", closes_at=at("2026-11-25 18:00")
    )
    assert (v.node_id, v.village_id) == (c.v1.pk, c.v1.pk)
    services.vote_open(vote=v, by=c.u_zhou)
    assert RulesVersion.objects.get(pk=v2.pk).state == "voting"
    assert post(zhou, f"{API}/rules", {**draft, "summary": "另一个版本"}).status_code == 409  # still pending
    _cast(v, c.u_zhang, "同意")
    _cast(v, c.u_liu, "同意")
    clock.set("2026-11-25 18:00")
    services.vote_count(vote=v, by=c.u_zhou)
    rules = client_as(c.u_zhang).get(f"{API}/rules?village_id={c.v1.pk}")
    assert rules.status_code == 200
    assert [(x["number"], x["state"]) for x in rules.json()] == [(2, "adopted"), (1, "superseded")]
    assert rules.json()[0]["votes"] == [v.pk] and rules.json()[0]["adopted_at"] is not None
    assert RulesVersion.objects.get(pk=v2.pk).adopted_at == at("2026-11-25 18:00")
    # Version 3 does not pass: rejected, version 2 stays in force.
    r = post(zhou, f"{API}/rules", {**draft, "text": draft["text"] + "\n第四条 禁止燃放烟花。", "summary": "加一条"})
    v3 = RulesVersion.objects.get(pk=r.json()["id"])
    assert v3.number == 3
    vote3 = services.vote_create(by=c.u_zhou, rules=v3, question="是否同意第3版？", closes_at=at("2026-11-30 18:00"))
    services.vote_open(vote=vote3, by=c.u_zhou)
    _cast(vote3, c.u_zhang, "不同意")
    _cast(vote3, c.u_liu, "同意")
    clock.set("2026-11-30 18:00")
    assert services.vote_count(vote=vote3, by=c.u_zhou).outcome == "failed"
    states = client_as(c.u_zhang).get(f"{API}/rules?village_id={c.v1.pk}").json()
    assert [(x["number"], x["state"]) for x in states] == [(3, "rejected"), (2, "adopted"), (1, "superseded")]
    assert RulesVersion.objects.get(village=c.v1, state="adopted").number == 2
    # After a rejection a new draft may be written.
    assert post(zhou, f"{API}/rules", {**draft, "summary": "再改一次"}).json()["number"] == 4
    # Another village's resident reads none; the list needs its village.
    assert client_as(_huang(c)).get(f"{API}/rules?village_id={c.v1.pk}").json() == []
    assert client_as(c.u_zhang).get(f"{API}/rules").status_code == 422
    assert client_as(c.u_zhang).get(f"{API}/rules?village_id=abc").status_code == 422
    assert client_as(c.u_zhang).get(f"{API}/rules?village_id=1%00").status_code == 400
    count = RulesVersion.objects.count()
    assert post(zhou, f"{API}/rules", {**draft, "village_id": 999999}).status_code == 404
    assert post(zhou, f"{API}/rules/record", {**rec, "village_id": 999999}).status_code == 404
    assert post(zhou, f"{API}/rules/record", {**rec, "adopted_on": "2020-02-30"}).status_code == 422
    assert RulesVersion.objects.count() == count


def test_a_draft_of_the_rules_is_not_voted_on_twice_and_a_cancelled_vote_returns_it(county, clock):
    c = county
    services.rules_record(by=c.u_zhou, village=c.v1, text=RULES_V1, adopted_on=dt.date(2020, 5, 1))
    draft = services.rules_draft(by=c.u_zhou, village=c.v1, text=RULES_V1 + "\n第三条 从简。", summary="加一条")
    v = _vote_on(c, clock, rules=draft)
    with pytest.raises(Conflict):
        services.vote_create(by=c.u_zhou, rules=draft, question="再投一次？", closes_at=clock.t + dt.timedelta(hours=2))
    services.vote_cancel(vote=v, by=c.u_zhou, reason="问题写错了")
    assert RulesVersion.objects.get(pk=draft.pk).state == "draft"
    assert RulesVersion.objects.get(village=c.v1, state="adopted").number == 1


def test_village_rules_are_adopted_by_the_whole_village_not_one_grid(county, clock):
    """村规民约 bind the whole village: a vote of one grid (villager group) cannot adopt them."""
    c = county
    services.rules_record(by=c.u_zhou, village=c.v1, text=RULES_V1, adopted_on=dt.date(2020, 5, 1))
    draft = services.rules_draft(by=c.u_zhou, village=c.v1, text=RULES_V1 + "\n第三条 从简。", summary="加一条")
    with pytest.raises(ValidationFailed):
        services.vote_create(
            by=c.u_zhou, rules=draft, node=c.a1, question="是否同意第2版？", closes_at=clock.t + dt.timedelta(hours=2)
        )
    assert Vote.objects.count() == 0


# --- setting, figures -------------------------------------------------------------------------------------------


def test_a_villages_setting_is_read_by_its_people_and_changed_by_its_committee(county, clock, client_as):
    c = county
    url = f"{API}/villages/{c.v1.pk}/setting"
    defaults = {
        "village_id": c.v1.pk,
        "cosign_threshold": 10,
        "party_every": "quarter",
        "affairs_every": "month",
        "finance_every": "month",
        "due_day": 10,
    }
    for user in (c.u_zhang, c.u_li, c.u_zhou, c.u_wu):
        r = client_as(user).get(url)
        assert r.status_code == 200 and r.json() == defaults, user
    for user in (c.u_sun, c.u_zhao, _huang(c)):
        assert client_as(user).get(url).status_code == 404, user
    assert client_as(c.u_zhou).get(f"{API}/villages/{c.v2.pk}/setting").status_code == 404
    zhou = client_as(c.u_zhou)
    r = put(zhou, url, {"cosign_threshold": 3, "finance_every": "quarter", "due_day": 15})
    assert r.status_code == 200, r.content
    want = {**defaults, "cosign_threshold": 3, "finance_every": "quarter", "due_day": 15}
    assert r.json() == want and client_as(c.u_zhang).get(url).json() == want
    # Bad values, or the wrong person: refused, the setting as it was.
    for client, body, status in [
        (zhou, {"cosign_threshold": 0}, 422),
        (zhou, {"cosign_threshold": 501}, 422),
        (zhou, {"cosign_threshold": "x"}, 422),
        (zhou, {"due_day": 0}, 422),
        (zhou, {"due_day": 29}, 422),
        (zhou, {"party_every": "week"}, 422),
        (zhou, {"affairs_every": "mon\x00th"}, 400),
        (zhou, {"colour": "red"}, 422),
        (client_as(c.u_zhang), {"cosign_threshold": 1}, 404),
        (client_as(c.u_wu), {"cosign_threshold": 1}, 404),
        (client_as(c.u_li), {"cosign_threshold": 1}, 404),
        (client_as(c.u_sun), {"cosign_threshold": 1}, 404),
    ]:
        assert put(client, url, body).status_code == status, body
    assert put(zhou, f"{API}/villages/{c.v2.pk}/setting", {"cosign_threshold": 1}).status_code == 404
    assert client_as(c.u_zhang).get(url).json() == want
    assert VillageSetting.objects.count() == 1
    with pytest.raises(ValidationFailed):
        services.setting_update(by=c.u_zhou, village=c.v1, cosign_threshold=0)
    assert VillageSetting.objects.get().cosign_threshold == 3


def test_the_figures_per_village(county, clock, client_as):
    c = county
    zhang, liu, zhou = c.u_zhang, c.u_liu, c.u_zhou

    def propose(by, title):
        return services.matter_propose(by=by, title=title, body=BODY)

    lamp = propose(zhang, "村口装路灯")  # proposed
    dup = propose(liu, "村口太黑")  # merged into the lamp
    services.matter_merge(matter=dup, into=lamp, by=zhou)
    pool = propose(zhang, "建游泳池")  # declined
    services.matter_decline(matter=pool, by=zhou, reason="超出村集体经济承受能力")
    road = services.matter_agenda(matter=propose(zhang, "修通组公路"), by=zhou)  # passed, carried out, rated
    hall = services.matter_agenda(matter=propose(liu, "扩建文化广场"), by=zhou)  # not passed
    well = services.matter_agenda(matter=propose(zhang, "修水井"), by=zhou)  # being voted on
    # Two votes counted: 2 of 3 households took part, then all 3 (陈大爷 on paper).
    v_road = _vote_on(c, clock, matter=road, quorum="two_thirds")
    v_hall = _vote_on(c, clock, matter=hall, quorum="two_thirds")
    v_well = services.vote_create(by=zhou, matter=well, question="是否同意？", closes_at=at("2026-12-01 18:00"))
    services.vote_open(vote=v_well, by=zhou)
    _cast(v_road, zhang, "同意")
    _cast(v_road, liu, "同意")
    _cast(v_hall, zhang, "不同意")
    _cast(v_hall, liu, "同意")
    chen = Voter.objects.get(vote=v_hall, household=c.h_chen)
    services.vote_paper(
        vote=v_hall, by=zhou, sheet=services.SheetIn({v_hall.options.get(label="不同意").pk: 1}, 0, [chen.pk])
    )
    _count(clock, zhou, v_road, v_hall)
    road = Matter.objects.get(pk=road.pk)
    services.matter_start(matter=road, by=zhou)
    services.matter_finish(matter=road, by=zhou)
    services.rating_add(matter=road, by=zhang, stars=5)
    services.rating_add(matter=road, by=liu, stars=4)
    assert Matter.objects.get(pk=hall.pk).state == "failed"
    # 西村: one proposal; 南村: nothing.
    propose(_huang(c), "西村修渠")
    _posting(c, "affairs", "2026-10")  # 东村 still owes its Q3 party affairs and October's finance
    east = {
        "village": "东村",
        "proposed": 6,
        "open": 1,
        "passed": 1,
        "done": 1,
        "declined": 2,
        "votes": 2,
        "turnout": 83.3,
        "rated": 2,
        "rating": 4.5,
        "overdue": 2,
    }
    west = {
        "village": "西村",
        "proposed": 1,
        "open": 0,
        "passed": 0,
        "done": 0,
        "declined": 0,
        "votes": 0,
        "turnout": None,
        "rated": 0,
        "rating": None,
        "overdue": 3,
    }
    south = {**west, "village": "南村", "proposed": 0}

    def rows(user, query=""):
        r = client_as(user).get(f"{API}/report{query}")
        assert r.status_code == 200, r.content
        return [{k: v for k, v in x.items() if k != "village_id"} for x in r.json()]

    assert rows(c.u_wu) == [east, west]
    assert rows(c.u_qian) == [east, west, south]
    assert rows(c.u_zhou) == [east]
    assert rows(c.u_wu, f"?node_id={c.v1.pk}") == [east]
    assert client_as(c.u_wu).get(f"{API}/report?node_id={c.v3.pk}").status_code == 404
    assert client_as(c.u_zhou).get(f"{API}/report?node_id={c.t1.pk}").status_code == 404
    assert rows(c.u_zhang) == [] and rows(c.u_sun) == []
    for query, status in (("?node_id=0", 422), ("?node_id=abc", 422), ("?node_id=999999", 404), ("?node_id=%00", 400)):
        assert client_as(c.u_wu).get(f"{API}/report{query}").status_code == status, query
    # The selector agrees row by row.
    by_name = {r.village.name: r for r in selectors.report((c.t1.path,))}
    assert (by_name["东村"].turnout, by_name["东村"].rating, by_name["东村"].overdue) == (83.3, 4.5, 2)
