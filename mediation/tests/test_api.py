"""Dispute cases over the API (/api/v1/mediation/…), as the people of the persona county meet them: 李网格 reports a
dispute found on patrol, a resident reports their own, 周村干 (东村's committee) accepts, records sessions and the
agreement, the follow-up visits settle it; a case is referred and the unit's result recorded; a move not allowed
now is a coded 409 that changes nothing; who sees a case and how much of it (404 for everyone else, masked names
and no phones for the reporter, whole phones only on ?reveal=true for a mediator, each read logged); the register
of mediators; the settlement figures recounted by hand; a work order turned into a case.

The clock starts on Wednesday 2026-11-18 10:00, Asia/Shanghai."""

from __future__ import annotations

import datetime as dt
import json
import random
from collections import Counter
from typing import Any

import pytest

from core.clock import SHANGHAI
from core.models import PersonalDataAccess
from gongzhi.test import db_fingerprint
from mediation import services
from mediation.models import Case, Event, Mediator, Party, Referral
from mediation.services import PartyIn
from mediation.tests.helpers import OUTSIDER, OUTSIDER_PHONE, reported
from notify.models import Message

API = "/api/v1/mediation"
ZHANG_PHONE = "13800001234"  # 张阿姨's phone on the register


# --- helpers ------------------------------------------------------------------------------------------------------


def post(client: Any, url: str, body: Any = None) -> Any:
    return client.post(url, json.dumps(body if body is not None else {}), content_type="application/json")


def code(r: Any) -> str:
    return r.json()["error"]["code"]


def body(c: Any, **kw: Any) -> dict[str, Any]:
    """李网格's report of a dispute in A1: 张阿姨 (on the register) against an outsider."""
    out = {
        "node_id": c.a1.pk,
        "kind": "neighbour",
        "title": "邻里排水纠纷",
        "account": "两家因排水沟堵塞争吵多次",
        "source": "patrol",
        "parties": [
            {"side": "applicant", "resident_id": c.zhang.pk},
            {"side": "respondent", "name": OUTSIDER, "phone": OUTSIDER_PHONE},
        ],
    }
    out.update(kw)
    return out


def mediating(c: Any, desk: Any, **kw: Any) -> Case:
    case = reported(c, **kw)
    services.case_accept(case=case, by=c.u_zhou, mediator=desk.zhou)
    return Case.objects.get(pk=case.pk)


def history(case_id: int) -> list[tuple[str, str, str]]:
    return list(Event.objects.filter(case_id=case_id).order_by("id").values_list("action", "from_state", "to_state"))


def at(s: str) -> dt.datetime:
    return dt.datetime.fromisoformat(s).replace(tzinfo=SHANGHAI)


# --- reporting ----------------------------------------------------------------------------------------------------


def test_a_grid_worker_reports_a_dispute_found_on_patrol(county, desk, clock, client_as):
    c = county
    r = post(client_as(c.u_li), f"{API}/cases", body(c))
    assert r.status_code == 201, r.content
    out = r.json()
    assert (out["state"], out["place_id"], out["place"], out["source"], out["kind"]) == (
        "reported", c.a1.pk, "A1湾组", "patrol", "neighbour",
    )  # fmt: skip
    assert out["code"] == f"TJ2026{out['id']:06d}"
    assert (out["level"], out["mediator"], out["due_at"], out["work_order_id"]) == ("", "", None, None)
    # The reporter does not mediate: the parties' names masked, no phones, nothing to do.
    assert out["handles"] is False and out["actions"] == []
    assert [(p["side"], p["name"], p["phone"], p["resident_id"]) for p in out["parties"]] == [
        ("applicant", "张**", "", None),
        ("respondent", "外****", "", None),
    ]
    case = Case.objects.get(pk=out["id"])
    assert (case.reported_by_id, case.path, case.created_at, case.risk, case.red_flag) == (
        c.u_li.pk, c.a1.path, clock.t, "low", False,
    )  # fmt: skip
    assert list(Party.objects.filter(case=case).values_list("side", "resident_id", "name", "phone")) == [
        ("applicant", c.zhang.pk, "张阿姨", ""),
        ("respondent", None, OUTSIDER, OUTSIDER_PHONE),
    ]
    assert history(case.pk) == [("report", "", "")]
    # The mediators over A1 (东村's committee, 东镇's justice office) are told; the 乡贤 of 西村 is not.
    told = set(Message.objects.filter(kind="mediation.new").values_list("user_id", flat=True))
    assert told == {c.u_zhou.pk, c.u_wu.pk}
    # 周村干 reads the whole case, with what he may do now.
    seen = client_as(c.u_zhou).get(f"{API}/cases/{case.pk}").json()
    assert seen["handles"] is True
    assert [(p["name"], p["resident_id"]) for p in seen["parties"]] == [("张阿姨", c.zhang.pk), (OUTSIDER, None)]
    assert {"accept", "decline", "flag"} <= set(seen["actions"])
    assert not {"agree", "settle", "follow_up", "result", "end", "session"} & set(seen["actions"])


def test_a_red_flagged_report_tells_the_town_at_once(county, desk, clock, client_as):
    c = county
    r = post(client_as(c.u_li), f"{API}/cases", body(c, red_reason="一方扬言要动刀"))
    assert r.status_code == 201, r.content
    out = r.json()
    assert (out["red_flag"], out["risk"]) == (True, "high")
    assert out["red_reason"] == ""  # the reporter does not mediate
    assert client_as(c.u_zhou).get(f"{API}/cases/{out['id']}").json()["red_reason"] == "一方扬言要动刀"
    msgs = Message.objects.filter(kind="mediation.red_flag")
    assert c.u_wu.pk in set(msgs.values_list("user_id", flat=True))
    assert not any("张阿姨" in m.text or OUTSIDER in m.text for m in msgs)  # no party is named in a message


def test_a_resident_reports_their_own_dispute_and_is_its_applicant(county, desk, clock, client_as):
    c = county
    zhang = client_as(c.u_zhang)
    mine = {
        "node_id": c.a1.pk,
        "kind": "neighbour",
        "title": "邻居占用我家门前空地",
        "account": "邻居在我家门前堆放杂物",
        "parties": [{"side": "respondent", "name": OUTSIDER, "phone": OUTSIDER_PHONE}],
    }
    r = post(zhang, f"{API}/cases", mine)
    assert r.status_code == 201, r.content
    out = r.json()
    assert (out["source"], out["state"], out["handles"], out["actions"]) == ("resident", "reported", False, [])
    assert [(p["side"], p["name"], p["you"], p["phone"]) for p in out["parties"]] == [
        ("applicant", "张阿姨", True, ""),
        ("respondent", "外****", False, ""),
    ]
    # At most twenty parties, herself included.
    crowd = [{"side": "respondent", "name": f"邻居{i}"} for i in range(20)]
    r = post(zhang, f"{API}/cases", {**mine, "parties": crowd})
    assert r.status_code == 422 and code(r) == "parties.too_many", r.content
    # Not at a place she does not live in.
    before = Case.objects.count()
    r = post(zhang, f"{API}/cases", {**mine, "node_id": c.a2.pk})
    assert r.status_code == 404 and code(r) == "node.not_found"
    assert Case.objects.count() == before


def test_the_same_idempotency_key_twice_gives_the_same_case(county, desk, clock, client_as):
    c = county
    li = client_as(c.u_li)
    first = post(li, f"{API}/cases", body(c, idempotency_key="patrol-2026-11-18-1"))
    again = post(li, f"{API}/cases", body(c, idempotency_key="patrol-2026-11-18-1"))
    assert (first.status_code, again.status_code) == (201, 201), again.content
    assert first.json()["id"] == again.json()["id"]
    assert Case.objects.count() == 1 and Party.objects.count() == 2
    assert Message.objects.filter(kind="mediation.new").count() == 2  # told once, not twice
    # Another key is another case.
    other = post(li, f"{API}/cases", body(c, idempotency_key="patrol-2026-11-18-2"))
    assert other.status_code == 201 and other.json()["id"] != first.json()["id"]


V = "validation_error"


@pytest.mark.parametrize(
    ("change", "status", "error"),
    [
        ({"colour": "red"}, 422, V),  # a field the API does not know
        ({"parties": [{"side": "applicant", "name": OUTSIDER, "age": 40}]}, 422, V),  # nor in a party
        ({"title": "长" * 81}, 422, V),
        ({"account": "长" * 2001}, 422, V),
        ({"title": ""}, 422, V),
        ({"title": "   "}, 422, V),
        ({"kind": "murder"}, 422, V),
        ({"parties": []}, 422, V),
        ({"parties": [{"side": "applicant", "name": OUTSIDER, "phone": "not a phone"}]}, 422, "phone.invalid"),
        ({"parties": [{"side": "applicant"}]}, 422, "validation.required"),  # neither a resident nor a name
        ({"source": ""}, 422, V),
        ({"source": None}, 422, "source.required"),  # staff say how it came to light
        ({"red_reason": "长" * 301}, 422, V),
        ({"node_id": "A1湾组"}, 422, V),
        ({"node_id": 0}, 422, V),
        ({"idempotency_key": "bad key!"}, 422, V),
        ({"on_the_spot": "当场劝和", "red_reason": "扬言动手"}, 422, "case.spot_not_allowed"),
        ({"node_id": "@t1"}, 422, "node.level"),  # a town: disputes are reported at a village or a grid
        ({"node_id": 999999}, 404, "node.not_found"),
        ({"title": "邻里\x00纠纷"}, 400, "malformed_request"),  # a NUL byte, as everywhere in the API
        ({"parties": [{"side": "applicant", "name": "外来\x00户"}]}, 400, "malformed_request"),
    ],
)
def test_a_bad_report_is_refused_and_stores_nothing(county, desk, clock, client_as, change, status, error):
    c = county
    if change.get("node_id") == "@t1":
        change = {"node_id": c.t1.pk}
    li = client_as(c.u_li)  # a login writes its time: before the fingerprint
    before = db_fingerprint()
    r = post(li, f"{API}/cases", body(c, **change))
    assert (r.status_code, code(r)) == (status, error), r.content
    assert r.json()["error"]["message"]
    assert Case.objects.count() == 0
    assert db_fingerprint() == before


def test_an_oversized_title_names_the_field(county, desk, clock, client_as):
    r = post(client_as(county.u_li), f"{API}/cases", body(county, title="长" * 81))
    assert r.status_code == 422 and code(r) == "validation_error"
    assert "title" in r.json()["error"]["fields"]


def test_a_party_resident_who_does_not_exist_is_404_and_no_case_is_stored(county, desk, clock, client_as):
    c = county
    li = client_as(c.u_li)
    before = db_fingerprint()
    parties = [{"side": "applicant", "resident_id": 999999}, {"side": "respondent", "name": OUTSIDER}]
    r = post(li, f"{API}/cases", body(c, parties=parties))
    assert r.status_code == 404 and code(r) == "party.not_found", r.content
    # Nor a resident of another town, whom 李网格 does not see on his register.
    parties = [{"side": "applicant", "resident_id": c.sun_resident.pk}]
    r = post(li, f"{API}/cases", body(c, parties=parties))
    assert r.status_code == 404 and code(r) == "party.not_found", r.content
    assert Case.objects.count() == 0 and Party.objects.count() == 0
    assert db_fingerprint() == before


# --- the whole path -----------------------------------------------------------------------------------------------


def test_from_report_to_settled_through_agreement_and_follow_ups(county, desk, clock, client_as):
    c = county
    li, zhou = client_as(c.u_li), client_as(c.u_zhou)
    case_id = post(li, f"{API}/cases", body(c)).json()["id"]
    url = f"{API}/cases/{case_id}"

    # Who may mediate it: those registered over A1, not the 乡贤 of 西村.
    offered = {m["id"] for m in zhou.get(f"{url}/mediators").json()}
    assert offered == {desk.zhou.pk, desk.wu.pk}
    assert li.get(f"{url}/mediators").json() == []
    r = post(zhou, f"{url}/accept", {"mediator_id": desk.sun.pk})
    assert r.status_code == 422 and code(r) == "mediator.invalid"

    # Accepted: the time limit runs.
    clock.advance(hours=1)
    r = post(zhou, f"{url}/accept", {"mediator_id": desk.zhou.pk})
    assert r.status_code == 200, r.content
    out = r.json()
    assert (out["state"], out["mediator"], out["level"], out["overdue"]) == ("mediating", "周村干", "", False)
    assert dt.datetime.fromisoformat(out["due_at"]) > clock.t + dt.timedelta(days=29)
    assert {"agree", "settle", "session", "extend", "refer", "end", "flag"} <= set(out["actions"])
    assert "accept" not in out["actions"]
    assert Message.objects.filter(kind="mediation.assigned", user=c.u_zhou).count() == 1

    # A session dated before the case was reported is refused; one on the day is recorded.
    session = {"held_on": "2026-11-17", "place": "村委会", "attendees": "双方当事人", "notes": "第一次调解"}
    r = post(zhou, f"{url}/sessions", session)
    assert r.status_code == 422 and code(r) == "date.before_case", r.content
    assert "held_on" in r.json()["error"]["fields"]
    r = post(zhou, f"{url}/sessions", {**session, "held_on": "2026-11-19"})
    assert r.status_code == 422 and code(r) == "date.future"
    r = post(zhou, f"{url}/sessions", {**session, "held_on": "2026-11-18"})
    assert r.status_code == 201, r.content
    assert [(s["held_on"], s["place"]) for s in r.json()["sessions"]] == [("2026-11-18", "村委会")]

    # The agreement: settled in the village while the follow-up visits check it is kept.
    agreement = {"facts": "排水沟堵塞，两家争吵", "terms": "两家共同出资疏通水沟", "signed_on": "2026-11-18"}
    r = post(zhou, f"{url}/agreement", agreement)
    assert r.status_code == 201, r.content
    out = r.json()
    assert (out["state"], out["level"]) == ("agreed", "village")
    assert [(a["round"], a["terms"], a["broken"]) for a in out["agreements"]] == [(1, "两家共同出资疏通水沟", False)]
    visits = out["follow_ups"]
    assert [(f["after_days"], f["state"]) for f in visits] == [(30, "planned"), (90, "planned")]
    assert "follow_up" in out["actions"] and not {"agree", "accept", "session"} & set(out["actions"])
    # The reporter sees where it stands, not the notes.
    mine = li.get(url).json()
    assert (mine["state"], mine["level"], mine["sessions"], mine["actions"]) == ("agreed", "village", [], [])

    # The first visit falls due (the worker's reminder), and the agreement is kept.
    clock.set(dt.datetime.fromisoformat(visits[0]["due_at"]) + dt.timedelta(hours=1))
    assert services.handle_one()
    assert zhou.get(url).json()["follow_ups"][0]["state"] == "due"
    assert Message.objects.filter(kind="mediation.follow_up", user=c.u_zhou).count() == 1
    r = post(zhou, f"{url}/follow-ups/{visits[0]['id']}", {"kept": True, "notes": "双方履行良好"})
    assert r.status_code == 200, r.content
    assert (r.json()["state"], [f["state"] for f in r.json()["follow_ups"]]) == ("agreed", ["kept", "planned"])
    # The same visit again is refused.
    r = post(zhou, f"{url}/follow-ups/{visits[0]['id']}", {"kept": True})
    assert r.status_code == 409, r.content

    # The last visit settles the case, in the village.
    clock.set(dt.datetime.fromisoformat(visits[1]["due_at"]) + dt.timedelta(days=1))
    r = post(zhou, f"{url}/follow-ups/{visits[1]['id']}", {"kept": True, "notes": ""})
    assert r.status_code == 200, r.content
    out = r.json()
    assert (out["state"], out["level"], out["actions"]) == ("settled", "village", [])
    case = Case.objects.get(pk=case_id)
    assert case.closed_at == clock.t and case.next_check_at is None
    assert history(case_id) == [
        ("report", "", ""),
        ("accept", "reported", "mediating"),
        ("session", "", ""),
        ("agree", "mediating", "agreed"),
        ("follow_up_due", "", ""),
        ("kept", "", ""),
        ("kept", "", ""),
        ("settle", "agreed", "settled"),
    ]
    assert [e["action"] for e in out["events"]] == [a for a, _f, _t in history(case_id)]


def test_a_broken_agreement_brings_the_case_back_in_round_two(county, desk, clock, client_as):
    c = county
    zhou = client_as(c.u_zhou)
    case = mediating(c, desk)
    url = f"{API}/cases/{case.pk}"
    post(zhou, f"{url}/agreement", {"facts": "事实", "terms": "赔偿500元", "signed_on": "2026-11-18"})
    first = zhou.get(url).json()["follow_ups"][0]
    clock.advance(days=31)
    r = post(zhou, f"{url}/follow-ups/{first['id']}", {"kept": False, "notes": ""})
    assert r.status_code == 422, r.content  # a broken agreement needs the notes
    r = post(zhou, f"{url}/follow-ups/{first['id']}", {"kept": False, "notes": "对方未付款"})
    assert r.status_code == 200, r.content
    out = r.json()
    assert (out["state"], out["level"], out["round"]) == ("mediating", "", 2)
    assert [a["broken"] for a in out["agreements"]] == [True]
    assert [f["state"] for f in out["follow_ups"]] == ["broken", "cancelled"]
    assert "agree" in out["actions"]


def test_a_referred_case_comes_back_then_is_settled_by_the_unit(county, desk, clock, client_as):
    c = county
    zhou, wu = client_as(c.u_zhou), client_as(c.u_wu)
    case = mediating(c, desk)
    url = f"{API}/cases/{case.pk}"
    r = post(zhou, f"{url}/referral-result", {"settled": True, "result": "已化解"})
    assert r.status_code == 409 and code(r) == "case.transition_not_allowed"  # nothing referred yet
    r = post(zhou, f"{url}/refer", {"unit": "justice", "done": "村调委会调解两次未果"})
    assert r.status_code == 200, r.content
    out = r.json()
    assert (out["state"], out["actions"]) == ("referred", ["result", "flag"])
    assert [(x["unit"], x["state"]) for x in out["referrals"]] == [("justice", "sent")]
    assert Message.objects.filter(kind="mediation.referred", user=c.u_wu).count() == 1
    # Not settled there: back to mediation with a new time limit.
    clock.advance(days=3)
    r = post(wu, f"{url}/referral-result", {"settled": False, "result": "司法所调解未果"})
    assert r.status_code == 200, r.content
    out = r.json()
    assert (out["state"], out["level"]) == ("mediating", "")
    assert dt.datetime.fromisoformat(out["due_at"]) > clock.t + dt.timedelta(days=29)
    # Referred again, and settled by the town's justice office: settled in the town.
    assert post(zhou, f"{url}/refer", {"unit": "justice", "done": "再次移交"}).status_code == 200
    r = post(wu, f"{url}/referral-result", {"settled": True, "result": "司法所调解成功"})
    assert r.status_code == 200, r.content
    out = r.json()
    assert (out["state"], out["level"], out["actions"]) == ("settled", "town", [])
    assert [x["state"] for x in out["referrals"]] == ["unsettled", "settled"]
    assert Referral.objects.filter(case=case).count() == 2
    # Recorded twice: refused.
    r = post(wu, f"{url}/referral-result", {"settled": True, "result": "again"})
    assert r.status_code == 409


def test_a_move_not_allowed_now_is_409_and_changes_nothing(county, desk, clock, client_as):
    c = county
    zhou = client_as(c.u_zhou)
    case = mediating(c, desk)
    url = f"{API}/cases/{case.pk}"
    for step, payload in [
        ("accept", {"mediator_id": desk.zhou.pk}),
        ("decline", {"reason": "不属于民间纠纷"}),
    ]:
        before = db_fingerprint()
        r = post(zhou, f"{url}/{step}", payload)
        assert r.status_code == 409, (step, r.content)
        assert code(r) == "case.transition_not_allowed"
        assert db_fingerprint() == before
    # A settled case refuses everything.
    assert post(zhou, f"{url}/settle", {"note": "当场和解"}).status_code == 200
    for step, payload in [
        ("settle", {"note": "再次"}),
        ("end", {"reason": "当事人拒绝"}),
        ("refer", {"unit": "court", "done": "移交法院"}),
        ("sessions", {"held_on": "2026-11-18", "place": "村委会", "attendees": "双方", "notes": "x"}),
        ("agreement", {"facts": "f", "terms": "t", "signed_on": "2026-11-18"}),
        ("extend", {"days": 5, "reason": "需要时间"}),
        ("flag", {"reason": "扬言报复"}),
    ]:
        before = db_fingerprint()
        r = post(zhou, f"{url}/{step}", payload)
        assert r.status_code == 409 and code(r) == "case.transition_not_allowed", (step, r.content)
        assert db_fingerprint() == before
    assert Case.objects.get(pk=case.pk).state == "settled"


def test_only_the_mediation_staff_move_a_case(county, desk, clock, client_as):
    c = county
    case = reported(c)
    url = f"{API}/cases/{case.pk}"
    li, zhang, xi = client_as(c.u_li), client_as(c.u_zhang), client_as(desk.sun.user)
    before = db_fingerprint()
    # The reporter sees the case but does not mediate it: 403.
    r = post(li, f"{url}/accept", {"mediator_id": desk.zhou.pk})
    assert r.status_code == 403 and code(r) == "case.not_mediator", r.content
    # A party neither.
    r = post(zhang, f"{url}/decline", {"reason": "不想调解"})
    assert r.status_code == 403 and code(r) == "case.not_mediator", r.content
    # The 乡贤 of 西村 does not even see it.
    r = post(xi, f"{url}/accept", {"mediator_id": desk.sun.pk})
    assert r.status_code == 404 and code(r) == "case.not_found"
    assert db_fingerprint() == before


def test_the_actions_of_a_reported_case_are_the_moves_the_api_accepts(county, desk, clock, client_as):
    c = county
    zhou = client_as(c.u_zhou)
    case = reported(c)
    url = f"{API}/cases/{case.pk}"
    assert set(zhou.get(url).json()["actions"]) == {"accept", "decline", "flag"}
    before = db_fingerprint()
    for step, payload in [
        ("sessions", {"held_on": "2026-11-18", "place": "村委会", "attendees": "双方", "notes": "x"}),
        ("refer", {"unit": "justice", "done": "移交司法所"}),
        ("settle", {"note": "和解"}),
        ("end", {"reason": "拒绝"}),
        ("extend", {"days": 5, "reason": "x"}),
        ("agreement", {"facts": "f", "terms": "t", "signed_on": "2026-11-18"}),
    ]:
        r = post(zhou, f"{url}/{step}", payload)
        assert r.status_code == 409 and code(r) == "case.transition_not_allowed", (step, r.content)
    assert db_fingerprint() == before
    r = post(zhou, f"{url}/flag", {"reason": "扬言报复"})
    assert r.status_code == 200 and r.json()["red_flag"] is True
    r = post(zhou, f"{url}/decline", {"reason": "不属于民间纠纷"})
    assert r.status_code == 200 and (r.json()["state"], r.json()["reason"]) == ("declined", "不属于民间纠纷")


# --- who sees a case, and how much --------------------------------------------------------------------------------


def test_nobody_else_sees_a_case_the_same_404_as_none(county, desk, clock, client_as):
    c = county
    case = reported(c)
    missing = client_as(c.u_zhou).get(f"{API}/cases/999999")
    assert missing.status_code == 404
    for user in (desk.sun.user, c.u_wang, c.u_zheng, c.u_liu, c.u_sun):
        r = client_as(user).get(f"{API}/cases/{case.pk}")
        assert r.status_code == 404, user.username
        assert r.json() == missing.json(), user.username
        assert client_as(user).get(f"{API}/cases").json()["count"] == 0, user.username
    assert client_as(None).get(f"{API}/cases/{case.pk}").status_code == 401


def test_the_reporter_and_a_party_see_masked_names_and_no_phones(county, desk, clock, client_as):
    c = county
    case = mediating(c, desk)
    services.session_add(
        case=case, by=c.u_zhou, held_on=dt.date(2026, 11, 18), place="村委会", attendees="双方", notes="私下的话"
    )
    for user, names, you in (
        (c.u_li, ["张**", "外****"], [False, False]),
        (c.u_zhang, ["张阿姨", "外****"], [True, False]),
    ):
        for reveal in ("", "?reveal=true"):
            out = client_as(user).get(f"{API}/cases/{case.pk}{reveal}").json()
            assert [p["name"] for p in out["parties"]] == names, user.username
            assert [p["you"] for p in out["parties"]] == you
            assert [p["phone"] for p in out["parties"]] == ["", ""]
            assert [p["resident_id"] for p in out["parties"]] == [None, None]
            assert (out["handles"], out["sessions"], out["actions"]) == (False, [], [])
            assert all(e["note"] == "" for e in out["events"])
    assert PersonalDataAccess.objects.count() == 0


def test_whole_phones_only_to_a_mediator_who_asks_each_read_logged(county, desk, clock, client_as):
    c = county
    case = reported(c)
    zhou = client_as(c.u_zhou)
    masked = zhou.get(f"{API}/cases/{case.pk}").json()
    assert [p["phone"] for p in masked["parties"]] == ["138****1234", "138****1111"]
    assert PersonalDataAccess.objects.count() == 0
    whole = zhou.get(f"{API}/cases/{case.pk}?reveal=true").json()
    assert [p["phone"] for p in whole["parties"]] == [ZHANG_PHONE, OUTSIDER_PHONE]
    logged = list(PersonalDataAccess.objects.order_by("id").values_list("user_id", "resident_id", "field", "channel"))
    assert logged == [(c.u_zhou.pk, c.zhang.pk, "phone", "api"), (c.u_zhou.pk, None, "phone", "api")]
    outsider = PersonalDataAccess.objects.get(resident=None)
    assert case.code in outsider.subject and outsider.path == f"{API}/cases/{case.pk}"
    # The town's justice office too; the reporter never.
    client_as(c.u_wu).get(f"{API}/cases/{case.pk}?reveal=true")
    client_as(c.u_li).get(f"{API}/cases/{case.pk}?reveal=true")
    assert sorted(PersonalDataAccess.objects.values_list("user_id", flat=True)) == sorted(
        [c.u_zhou.pk, c.u_zhou.pk, c.u_wu.pk, c.u_wu.pk]
    )


def test_the_list_shows_each_user_what_they_see_red_flags_first(county, desk, clock, client_as):
    c = county
    a1 = reported(c, title="A1排水纠纷")
    clock.advance(hours=1)
    a2 = reported(
        c,
        by=c.u_zhou,
        node=c.a2,
        title="A2宅基地纠纷",
        kind="land",
        parties=[PartyIn(side="applicant", resident_id=c.chen.pk)],
    )
    clock.advance(hours=1)
    b1 = reported(
        c, by=c.u_wu, node=c.b1, title="B1劳务纠纷", kind="labour", parties=[PartyIn(side="applicant", name="黄婶")]
    )
    clock.advance(hours=1)
    v1 = reported(
        c, by=c.u_zhou, node=c.v1, title="东村土地纠纷", kind="land", parties=[PartyIn(side="applicant", name="某甲")]
    )
    clock.advance(hours=1)
    c1 = reported(c, by=c.u_sun, node=c.c1, title="南村邻里纠纷", parties=[PartyIn(side="applicant", name="某乙")])
    # The oldest gets a red flag: it comes first.
    services.case_flag(case=a1, by=c.u_zhou, reason="扬言动手")

    def listed(user: Any, query: str = "") -> list[int]:
        r = client_as(user).get(f"{API}/cases{query}")
        assert r.status_code == 200, r.content
        return [x["id"] for x in r.json()["items"]]

    assert listed(c.u_zhou) == [a1.pk, v1.pk, a2.pk]  # his village's; red first, then the newest
    assert listed(c.u_wu) == [a1.pk, v1.pk, b1.pk, a2.pk]  # the town's justice office: the whole town
    assert listed(desk.sun.user) == [b1.pk]
    assert listed(c.u_li) == [a1.pk]  # what he reported
    assert listed(c.u_zhang) == [a1.pk]  # a party to it
    assert listed(c.u_sun) == [c1.pk]
    for user in (c.u_wang, c.u_zheng, c.u_liu, c.u_qian):
        assert listed(user) == [], user.username
    # Filters.
    assert listed(c.u_wu, "?red_flag=true") == [a1.pk]
    assert listed(c.u_wu, "?state=reported&red_flag=false") == [v1.pk, b1.pk, a2.pk]
    assert listed(c.u_wu, f"?q={b1.code}") == [b1.pk]
    assert listed(c.u_wu, "?q=宅基地") == [a2.pk]
    assert listed(c.u_wu, "?state=settled") == []
    assert client_as(c.u_wu).get(f"{API}/cases?state=nonsense").status_code == 422


def test_a_case_number_is_found_however_it_is_typed(county, desk, clock, client_as):
    c = county
    case = reported(c)
    r = client_as(c.u_zhou).get(f"{API}/cases?q={case.code.lower()}")
    assert [x["id"] for x in r.json()["items"]] == [case.pk]


# --- mediators ----------------------------------------------------------------------------------------------------


def test_the_town_registers_a_mediator(county, desk, clock, client_as):
    c = county
    wu = client_as(c.u_wu)
    new = {"username": "zheng", "node_id": c.v1.pk, "kind": "peoples", "name": "郑调解"}
    r = post(wu, f"{API}/mediators", new)
    assert r.status_code == 201, r.content
    out = r.json()
    assert (out["name"], out["kind"], out["place_id"], out["place"], out["active"]) == (
        "郑调解", "peoples", c.v1.pk, "东村", True,
    )  # fmt: skip
    m = Mediator.objects.get(pk=out["id"])
    assert (m.user_id, m.path) == (c.u_zheng.pk, c.v1.path)
    # Now 郑志愿 sees 东村's cases.
    case = reported(c)
    assert client_as(c.u_zheng).get(f"{API}/cases/{case.pk}").status_code == 200
    # Twice: refused.
    r = post(wu, f"{API}/mediators", new)
    assert r.status_code == 409 and code(r) == "mediator.exists"
    # The register lists the town's mediators.
    listed = wu.get(f"{API}/mediators").json()
    assert {x["name"] for x in listed["items"]} == {"周村干", "吴镇干", "孙调解", "郑调解"}
    # Stood down: the cases are out of sight again.
    r = post(wu, f"{API}/mediators/{m.pk}", {"active": False})
    assert r.status_code == 200 and r.json()["active"] is False
    assert client_as(c.u_zheng).get(f"{API}/cases/{case.pk}").status_code == 404


def test_a_mediator_is_registered_only_by_the_town_over_a_village_or_town(county, desk, clock, client_as):
    c = county
    clients = {u.username: client_as(u) for u in (c.u_li, c.u_zhou, c.u_wang, c.u_zhang)}
    wu = client_as(c.u_wu)
    before = db_fingerprint()
    new = {"username": "zheng", "node_id": c.v1.pk, "kind": "peoples", "name": "郑调解"}
    for name, client in clients.items():
        r = post(client, f"{API}/mediators", new)
        assert r.status_code in (403, 404), (name, r.content)
        assert client.get(f"{API}/mediators").json()["items"] == [], name
    r = post(wu, f"{API}/mediators", {**new, "node_id": c.v3.pk})  # the other town
    assert r.status_code == 404, r.content
    r = post(wu, f"{API}/mediators", {**new, "node_id": c.a1.pk})  # a grid
    assert r.status_code == 422 and code(r) == "node.level", r.content
    r = post(wu, f"{API}/mediators", {**new, "username": "nobody"})
    assert r.status_code == 404 and code(r) == "user.not_found"
    r = post(wu, f"{API}/mediators", {**new, "kind": "judge"})
    assert r.status_code == 422
    r = post(wu, f"{API}/mediators", {**new, "name": "长" * 41})
    assert r.status_code == 422
    assert db_fingerprint() == before


# --- the figures --------------------------------------------------------------------------------------------------

STATES = ["reported", "mediating", "agreed", "referred", "settled", "ended", "declined"]
LEVELS = ["grid", "village", "town", "county", "outside"]


def _random_cases(c: Any, rng: random.Random, n: int) -> list[Case]:
    """`n` cases across A1, A2, 东村 itself and B1, in random states and levels, reported this year (and a few
    the year before, which the default range leaves out)."""
    places = [c.a1, c.a2, c.v1, c.b1]
    start = at("2025-12-20 00:00")
    span = int((at("2026-11-18 10:00") - start).total_seconds())
    out = []
    for i in range(n):
        state = rng.choice(STATES)
        level = rng.choice(LEVELS) if state in ("agreed", "settled") else ""
        red = rng.random() < 0.2
        node = rng.choice(places)
        case = Case.objects.create(
            code=f"TJR{i:06d}",
            kind=rng.choice(["neighbour", "land", "family"]),
            title=f"随机纠纷{i}",
            account="随机",
            node=node,
            path=node.path,
            source="patrol",
            state=state,
            level=level,
            red_flag=red,
            red_reason="风险" if red else "",
            reported_by=c.u_li,
            created_at=start + dt.timedelta(seconds=rng.randrange(span)),
        )
        out.append(case)
    # The edges of the year, Asia/Shanghai.
    for i, t in enumerate(("2025-12-31 23:59", "2026-01-01 00:00")):
        out.append(
            Case.objects.create(
                code=f"TJE{i:06d}",
                kind="other",
                title="年界",
                account="x",
                node=c.a1,
                path=c.a1.path,
                source="patrol",
                state="settled",
                level="grid",
                reported_by=c.u_li,
                created_at=at(t),
            )
        )
    return out


def _recount(cases: list[Case], under: str, since: dt.datetime, until: dt.datetime | None = None) -> dict[str, int]:
    n: Counter[str] = Counter()
    for k in cases:
        late = until is not None and k.created_at >= until
        if not k.path.startswith(under) or k.created_at < since or late or k.state == "declined":
            continue
        n["reported"] += 1
        n["settled"] += bool(k.level)
        n["in_village"] += k.level in ("grid", "village")  # 小事不出村
        n["in_town"] += k.level in ("grid", "village", "town")  # 大事不出镇
        n["open"] += k.state in ("reported", "mediating", "referred")  # an agreement being kept is settled
        n["red_flags"] += k.red_flag
    return n


COUNTS = ("reported", "settled", "in_village", "in_town", "open", "red_flags")


def _check(row: dict[str, Any], want: dict[str, int]) -> None:
    assert {k: row[k] for k in COUNTS} == {k: want.get(k, 0) for k in COUNTS}, row["name"]
    r = want.get("reported", 0)
    for rate, key in (("settle_rate", "settled"), ("village_rate", "in_village"), ("town_rate", "in_town")):
        assert row[rate] == (pytest.approx(want.get(key, 0) / r) if r else None), (row["name"], rate)


def test_the_figures_equal_a_recount_of_the_cases(county, desk, clock, client_as):
    c = county
    cases = _random_cases(c, random.Random(20261118), 60)
    assert {k.state for k in cases} >= {"declined", "settled", "agreed", "reported"}
    assert {k.path for k in cases} == {c.a1.path, c.a2.path, c.v1.path, c.b1.path}
    since = at("2026-01-01 00:00")
    wu = client_as(c.u_wu)
    # 东镇 (the top of where 吴镇干 watches): its villages and the total.
    r = wu.get(f"{API}/figures")
    assert r.status_code == 200, r.content
    rows = r.json()
    assert [x["node_id"] for x in rows] == [c.v1.pk, c.v2.pk, None]
    _check(rows[0], _recount(cases, c.v1.path, since))
    _check(rows[1], _recount(cases, c.v2.path, since))
    _check(rows[2], _recount(cases, c.t1.path, since))
    assert rows[2]["reported"] < len(cases)  # the declined and last year's left out
    # 东村: its grids, and the cases reported at the village itself.
    rows = wu.get(f"{API}/figures?node_id={c.v1.pk}").json()
    by_id = {x["node_id"]: x for x in rows}
    _check(by_id[c.a1.pk], _recount(cases, c.a1.path, since))
    _check(by_id[c.a2.pk], _recount(cases, c.a2.path, since))
    own = [k for k in cases if k.path == c.v1.path]
    _check(by_id[c.v1.pk], _recount(own, c.v1.path, since))
    _check(by_id[None], _recount(cases, c.v1.path, since))
    # A range: the one day of the year's first second.
    rows = wu.get(f"{API}/figures?node_id={c.a1.pk}&start=2026-01-01&end=2026-01-01").json()
    day = _recount(cases, c.a1.path, since, at("2026-01-02 00:00"))
    assert day["reported"] >= 1  # the case of 00:00 on New Year's day
    _check(rows[-1], day)
    r = wu.get(f"{API}/figures?start=2026-11-18&end=2026-01-01")
    assert r.status_code == 422 and code(r) == "range.invalid"


def test_the_figures_are_not_for_those_who_do_not_watch_disputes(county, desk, clock, client_as):
    c = county
    for user in (c.u_wang, c.u_li, c.u_zheng, c.u_zhang, desk.sun.user):
        r = client_as(user).get(f"{API}/figures")
        assert r.status_code == 404 and code(r) == "node.not_found", user.username
    # Nor another town's figures to 东镇's staff.
    r = client_as(c.u_wu).get(f"{API}/figures?node_id={c.t2.pk}")
    assert r.status_code == 404


# --- a work order turned into a case ------------------------------------------------------------------------------


def _order(world: Any) -> Any:
    from workorders import services as orders

    return orders.workorder_submit(
        by=world.c.u_zhang,
        kind="complaint",
        category=world.dispute,
        text="邻居家的狗天天半夜叫，沟通无果",
        channel="mobile",
    ).order


def test_a_work_order_becomes_a_case_once(world, desk, clock, client_as):
    c = world.c
    order = _order(world)
    li = client_as(c.u_li)
    r = post(li, f"{API}/from-order/{order.pk}", {"kind": "neighbour"})
    assert r.status_code == 201, r.content
    out = r.json()
    assert (out["work_order_id"], out["source"], out["state"], out["place_id"]) == (
        order.pk,
        "order",
        "reported",
        order.grid_id,
    )
    assert out["account"] == order.text
    case = Case.objects.get(pk=out["id"])
    assert list(case.parties.values_list("side", "resident_id")) == [("applicant", c.zhang.pk)]
    # A second time: refused, nothing more.
    before = db_fingerprint()
    r = post(li, f"{API}/from-order/{order.pk}", {"kind": "neighbour"})
    assert r.status_code == 409 and code(r) == "case.order_taken", r.content
    assert db_fingerprint() == before
    # The order's page shows the case number (a link for one who sees the case).
    page = li.get(f"/workorders/{order.pk}/").content.decode()
    assert case.code in page and "data-case-link" in page
    # 周村干 sees it too, and can mediate it.
    seen = client_as(c.u_zhou).get(f"{API}/cases/{case.pk}").json()
    assert seen["work_order_id"] == order.pk and "accept" in seen["actions"]


def test_a_work_order_is_turned_into_a_case_only_by_those_who_report_there(world, desk, clock, client_as):
    c = world.c
    order = _order(world)
    zhang, sun, li = client_as(c.u_zhang), client_as(c.u_sun), client_as(c.u_li)
    before = db_fingerprint()
    r = post(zhang, f"{API}/from-order/{order.pk}", {"kind": "neighbour"})  # its owner
    assert r.status_code == 403 and code(r) == "case.not_reporter", r.content
    r = post(sun, f"{API}/from-order/{order.pk}", {"kind": "neighbour"})  # another town's grid worker
    assert r.status_code == 404, r.content
    r = post(li, f"{API}/from-order/999999", {"kind": "neighbour"})
    assert r.status_code == 404
    r = post(li, f"{API}/from-order/{order.pk}", {"kind": "neighbour", "extra": 1})
    assert r.status_code == 422
    assert db_fingerprint() == before
