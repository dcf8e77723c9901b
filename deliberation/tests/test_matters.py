"""民事民提 to 民事民评 over the API: a resident proposes (a grid worker for one without a phone), neighbours
co-sign up to the village's threshold, the committee puts it on the agenda, declines it with a public reason or
merges a duplicate; the discussion is moderated, never deleted; a matter passed is carried out with tasks,
budget, spending and progress, then rated once. Another village's residents and staff find nothing (404), and
bad input changes nothing."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from accounts import services as accounts
from core.errors import ValidationFailed
from deliberation import services
from deliberation.models import (
    BudgetLine,
    Comment,
    Cosign,
    Matter,
    Rating,
    Spending,
    Task,
    Update,
    VillageSetting,
)
from deliberation.tests.conftest import add_households
from org.models import Resident

API = "/api/v1/deliberation"
BODY = "A1湾组到村部的路坑洼不平，雨天难走。"


def post(client, url, body=None):
    return client.post(url, body if body is not None else {}, content_type="application/json")


def code(r) -> str:
    return r.json()["error"]["code"]


def _propose(c, by=None, title="修通组公路", **kw) -> Matter:
    return services.matter_propose(by=by or c.u_zhang, title=title, body=BODY, **kw)


def _threshold(c, n: int) -> None:
    services.setting_update(by=c.u_zhou, village=c.v1, cosign_threshold=n)


def _huang(c):
    """黄婶 of 西村 with a login."""
    u = accounts.user_create(username="huang", password="x-Password-123", display_name="黄婶")
    Resident.objects.filter(pk=c.huang.pk).update(user=u)
    return u


def _passed(c, clock, m: Matter | None = None) -> Matter:
    """A matter of 东村 passed by a vote (no quorum asked; 张阿姨 agrees); the clock moves an hour on."""
    m = m or _propose(c)
    services.matter_agenda(matter=m, by=c.u_zhou)
    v = services.vote_create(
        by=c.u_zhou, matter=m, question="是否同意修路？", closes_at=clock.t + dt.timedelta(hours=1), quorum="none"
    )
    services.vote_open(vote=v, by=c.u_zhou)
    services.vote_cast(vote=v, by=c.u_zhang, option_id=v.options.get(label="同意").pk)
    clock.advance(hours=1)
    services.vote_count(vote=v, by=c.u_zhou)
    m = Matter.objects.get(pk=m.pk)
    assert m.state == "passed"
    return m


def _done(c, clock, m: Matter | None = None) -> Matter:
    m = _passed(c, clock, m)
    services.matter_start(matter=m, by=c.u_zhou)
    services.matter_finish(matter=m, by=c.u_zhou)
    return Matter.objects.get(pk=m.pk)


def _counts() -> tuple[int, ...]:
    return tuple(
        model.objects.count() for model in (Matter, Cosign, Comment, Task, BudgetLine, Spending, Update, Rating)
    )


# --- 民事民提 ---------------------------------------------------------------------------------------------------


def test_a_resident_proposes_to_their_village_or_their_grid(county, clock, client_as):
    c = county
    zhang = client_as(c.u_zhang)
    r = post(zhang, f"{API}/matters", {"title": "修通组公路", "body": BODY, "cost": "1200.50"})
    assert r.status_code == 201, r.content
    out = r.json()
    assert (out["state"], out["village_id"], out["node_id"], out["place"]) == ("proposed", c.v1.pk, c.v1.pk, "东村")
    assert (out["proposer"], out["cosigns"], out["threshold"], out["signed"]) == ("张阿姨", 0, 10, False)
    assert Decimal(out["cost"]) == Decimal("1200.50")
    assert "sign" not in out["actions"] and "comment" in out["actions"]  # not her own
    m = Matter.objects.get(pk=out["id"])
    assert (m.proposer_id, m.entered_by_id, m.path, m.created_at) == (c.zhang.pk, c.u_zhang.pk, c.v1.path, clock.t)
    # A neighbour reads it with the proposer's name masked, and may sign it.
    seen = client_as(c.u_liu).get(f"{API}/matters/{m.pk}").json()
    assert seen["proposer"] == "张**" and seen["actions"][:2] == ["sign", "comment"]
    # To her own grid only.
    grid = post(
        zhang,
        f"{API}/matters",
        {"title": "A1湾组装路灯", "body": "湾组路口太黑，想装两盏太阳能灯。", "node_id": c.a1.pk},
    )
    assert grid.status_code == 201 and (grid.json()["node_id"], grid.json()["place"]) == (c.a1.pk, "A1湾组")
    assert Matter.objects.get(pk=grid.json()["id"]).path == c.a1.path
    before = Matter.objects.count()
    for node, status in ((c.a2, 422), (c.v2, 422), (c.t1, 422)):
        r = post(zhang, f"{API}/matters", {"title": "装路灯", "body": BODY, "node_id": node.pk})
        assert r.status_code == status and code(r) == "matter.bad_node", (node.name, r.content)
    r = post(zhang, f"{API}/matters", {"title": "装路灯", "body": BODY, "node_id": 999999})
    assert r.status_code == 404
    # Staff without a resident record propose nothing for themselves.
    r = post(client_as(c.u_zhou), f"{API}/matters", {"title": "装路灯", "body": BODY})
    assert r.status_code == 403 and code(r) == "deliberation.not_resident"
    assert Matter.objects.count() == before


def test_the_same_idempotency_key_returns_the_same_matter(county, clock, client_as):
    c = county
    zhang = client_as(c.u_zhang)
    body = {"title": "修通组公路", "body": BODY, "idempotency_key": "phone-42:1"}
    first = post(zhang, f"{API}/matters", body)
    again = post(zhang, f"{API}/matters", body)
    assert first.status_code == again.status_code == 201
    assert first.json()["id"] == again.json()["id"] and Matter.objects.count() == 1
    # Another person's key is theirs: the same text from 刘党员 is another matter.
    other = post(client_as(c.u_liu), f"{API}/matters", body)
    assert other.status_code == 201 and other.json()["id"] != first.json()["id"]
    assert Matter.objects.count() == 2


def test_a_grid_worker_proposes_for_a_resident_without_a_phone(county, clock, client_as):
    c = county
    add_households(c.a1, 1, login=False)
    nophone = Resident.objects.get(name="村民100")
    li = client_as(c.u_li)
    r = post(
        li,
        f"{API}/matters",
        {"title": "湾组修水井", "body": "井台裂了，老人打水不方便。", "for_resident_id": nophone.pk},
    )
    assert r.status_code == 201, r.content
    m = Matter.objects.get(pk=r.json()["id"])
    assert (m.proposer_id, m.entered_by_id, m.village_id) == (nophone.pk, c.u_li.pk, c.v1.pk)
    # Not for a resident of another grid (陈大爷 lives in A2), nor for himself, nor from another village.
    before = Matter.objects.count()
    r = post(li, f"{API}/matters", {"title": "修水井", "body": BODY, "for_resident_id": c.chen.pk})
    assert r.status_code == 404 and code(r) == "resident.not_found"
    r = post(li, f"{API}/matters", {"title": "修水井", "body": BODY})
    assert r.status_code == 403
    r = post(client_as(c.u_sun), f"{API}/matters", {"title": "修水井", "body": BODY, "for_resident_id": nophone.pk})
    assert r.status_code == 404
    # The village staff propose for any resident of the village (陈大爷 of A2).
    r = post(client_as(c.u_zhou), f"{API}/matters", {"title": "A2修水井", "body": BODY, "for_resident_id": c.chen.pk})
    assert r.status_code == 201 and Matter.objects.get(pk=r.json()["id"]).proposer_id == c.chen.pk
    assert Matter.objects.count() == before + 1


def test_co_signatures_put_a_matter_on_the_agenda_at_the_village_threshold(county, clock, client_as):
    c = county
    _threshold(c, 3)
    assert VillageSetting.objects.get(village=c.v1).cosign_threshold == 3
    m = _propose(c)
    url = f"{API}/matters/{m.pk}/sign"
    own = post(client_as(c.u_zhang), url)
    assert own.status_code == 409 and code(own) == "matter.own_proposal"
    liu = client_as(c.u_liu)
    r = post(liu, url)
    assert r.status_code == 200, r.content
    assert (r.json()["cosigns"], r.json()["signed"], r.json()["state"], r.json()["threshold"]) == (
        1,
        True,
        "proposed",
        3,
    )
    assert "sign" not in r.json()["actions"]
    again = post(liu, url)
    assert again.status_code == 409 and code(again) == "matter.already_signed"
    # 李网格 signs for 刘妻 (no login) of his grid; 周村干 for 陈大爷 of A2: the third puts it on the agenda.
    wife = Resident.objects.get(name="刘妻")
    assert post(client_as(c.u_li), url, {"for_resident_id": wife.pk}).json()["cosigns"] == 2
    assert post(client_as(c.u_li), url, {"for_resident_id": c.chen.pk}).status_code == 404  # not his grid
    clock.advance(minutes=5)
    r = post(client_as(c.u_zhou), url, {"for_resident_id": c.chen.pk})
    assert r.status_code == 200, r.content
    assert (r.json()["state"], r.json()["cosigns"]) == ("agenda", 3)
    m.refresh_from_db()
    assert (m.state, m.cosigns, m.agenda_at) == ("agenda", 3, clock.t)
    assert sorted(Cosign.objects.filter(matter=m).values_list("resident__name", flat=True)) == sorted(
        ["刘党员", "刘妻", "陈大爷"]
    )
    # On the agenda it takes no more signatures.
    late = post(client_as(c.u_zhou), url, {"for_resident_id": Resident.objects.get(name="刘小宝").pk})
    assert late.status_code == 409 and code(late) == "matter.not_signing"
    assert Cosign.objects.filter(matter=m).count() == 3 == Matter.objects.get(pk=m.pk).cosigns


def test_a_grid_matter_is_signed_by_the_grid_only(county, clock, client_as):
    c = county
    (a2_user,) = add_households(c.a2, 1, prefix="a2-")
    m = _propose(c, title="A1湾组装路灯", node=c.a1)
    r = post(client_as(a2_user), f"{API}/matters/{m.pk}/sign")
    assert r.status_code == 403 and code(r) == "matter.not_eligible"
    # They read it (it is their village's), but neither sign nor comment.
    seen = client_as(a2_user).get(f"{API}/matters/{m.pk}")
    assert seen.status_code == 200 and seen.json()["actions"] == []
    r = post(client_as(a2_user), f"{API}/matters/{m.pk}/comments", {"text": "我们A2也想装"})
    assert r.status_code == 403 and code(r) == "matter.not_eligible"
    assert Cosign.objects.count() == 0 and Comment.objects.count() == 0


# --- the committee: agenda, decline, merge ---------------------------------------------------------------------


def test_the_committee_puts_on_the_agenda_and_declines_with_a_public_reason(county, clock, client_as):
    c = county
    m = _propose(c)
    zhou, zhang = client_as(c.u_zhou), client_as(c.u_zhang)
    assert post(zhang, f"{API}/matters/{m.pk}/agenda").status_code == 404  # residents do not run the agenda
    assert post(client_as(c.u_li), f"{API}/matters/{m.pk}/agenda").status_code == 404  # nor grid workers
    r = post(zhou, f"{API}/matters/{m.pk}/agenda")
    assert r.status_code == 200 and r.json()["state"] == "agenda" and "vote" in r.json()["actions"]
    r = post(zhou, f"{API}/matters/{m.pk}/agenda")
    assert r.status_code == 409 and code(r) == "matter.transition_not_allowed"
    # Declined with a reason every resident reads.
    d = _propose(c, title="村里建个游泳池")
    for body, status in [
        ({"reason": ""}, 422),
        ({"reason": "太贵"}, 422),
        ({"reason": "长" * 301}, 422),
        ({"reason": "超\x00出"}, 400),
        ({}, 422),
    ]:
        r = post(zhou, f"{API}/matters/{d.pk}/decline", body)
        assert r.status_code == status, (body, r.content)
    assert Matter.objects.get(pk=d.pk).state == "proposed"
    assert post(zhang, f"{API}/matters/{d.pk}/decline", {"reason": "超出村集体经济承受能力"}).status_code == 404
    r = post(zhou, f"{API}/matters/{d.pk}/decline", {"reason": "超出村集体经济承受能力"})
    assert r.status_code == 200 and r.json()["state"] == "declined"
    seen = client_as(c.u_liu).get(f"{API}/matters/{d.pk}").json()
    assert (seen["state"], seen["reason"], seen["actions"]) == ("declined", "超出村集体经济承受能力", [])
    assert Matter.objects.get(pk=d.pk).decided_at == clock.t
    # Closed: no comments, no signatures, no agenda.
    r = post(zhang, f"{API}/matters/{d.pk}/comments", {"text": "可惜了"})
    assert r.status_code == 409 and code(r) == "matter.closed"
    r = post(client_as(c.u_liu), f"{API}/matters/{d.pk}/sign")
    assert r.status_code == 409 and code(r) == "matter.not_signing"
    assert post(zhou, f"{API}/matters/{d.pk}/agenda").status_code == 409


def test_a_duplicate_is_merged_and_its_signatures_count_once_each(county, clock, client_as):
    c = county
    zhou = client_as(c.u_zhou)
    lamp = _propose(c, title="村口装路灯")  # 张阿姨's
    services.matter_cosign(matter=lamp, by=c.u_liu)
    dup = _propose(c, by=c.u_liu, title="村口太黑装灯")  # 刘党员's
    services.matter_cosign(matter=dup, by=c.u_zhang)
    services.matter_cosign(matter=dup, by=c.u_zhou, for_resident=c.chen)
    r = post(zhou, f"{API}/matters/{dup.pk}/merge", {"into_id": lamp.pk})
    assert r.status_code == 200, r.content
    out = r.json()
    assert (out["state"], out["merged_into_id"]) == ("merged", lamp.pk) and "村口装路灯" in out["reason"]
    # 张阿姨 proposed the one it joined and 刘党员 signed it already: only 陈大爷's signature is new.
    assert sorted(Cosign.objects.filter(matter=lamp).values_list("resident__name", flat=True)) == ["刘党员", "陈大爷"]
    assert Matter.objects.get(pk=lamp.pk).cosigns == 2
    assert Cosign.objects.filter(matter=dup).count() == 2  # the duplicate keeps its own record
    # The merged one is closed; merging it again, into itself, or into a closed one is refused.
    again = post(zhou, f"{API}/matters/{dup.pk}/merge", {"into_id": lamp.pk})
    assert again.status_code == 409
    other = _propose(c, title="村口装灯")
    r = post(zhou, f"{API}/matters/{other.pk}/merge", {"into_id": other.pk})
    assert r.status_code == 422 and code(r) == "matter.bad_merge"
    r = post(zhou, f"{API}/matters/{other.pk}/merge", {"into_id": dup.pk})
    assert r.status_code == 409 and code(r) == "matter.bad_merge"
    assert post(zhou, f"{API}/matters/{other.pk}/merge", {"into_id": 999999}).status_code == 404
    # Not into a matter of 西村, which 周村干 does not even find.
    west = _propose(c, by=_huang(c), title="西村修渠")
    assert post(zhou, f"{API}/matters/{other.pk}/merge", {"into_id": west.pk}).status_code == 404
    assert post(client_as(c.u_zhang), f"{API}/matters/{other.pk}/merge", {"into_id": lamp.pk}).status_code == 404
    assert Matter.objects.get(pk=other.pk).state == "proposed"
    assert Matter.objects.get(pk=lamp.pk).cosigns == 2


def test_signatures_merged_in_up_to_the_threshold_put_the_matter_on_the_agenda(county, clock):
    """The signatures of a duplicate count where it joins: reaching the threshold that way is reaching it."""
    c = county
    _threshold(c, 2)
    lamp = _propose(c, title="村口装路灯")
    services.matter_cosign(matter=lamp, by=c.u_liu)
    dup = _propose(c, by=c.u_liu, title="村口太黑装灯")
    services.matter_cosign(matter=dup, by=c.u_zhou, for_resident=c.chen)
    services.matter_merge(matter=dup, into=lamp, by=c.u_zhou)
    lamp.refresh_from_db()
    assert lamp.cosigns == 2
    assert lamp.state == "agenda", "2 of 2 signatures, yet the matter still collects signatures"


# --- 民事民议: comments --------------------------------------------------------------------------------------------


def test_comments_are_hidden_with_a_public_reason_and_never_deleted(county, clock, client_as):
    c = county
    m = _propose(c)
    liu, zhou, zhang = client_as(c.u_liu), client_as(c.u_zhou), client_as(c.u_zhang)
    r = post(liu, f"{API}/matters/{m.pk}/comments", {"text": "同意，这条路我每天走，早该修了。"})
    assert r.status_code == 201, r.content
    r = post(zhou, f"{API}/matters/{m.pk}/comments", {"text": "下周三晚上在村部议事厅开会商量。"})
    assert r.status_code == 201
    r = post(zhang, f"{API}/matters/{m.pk}/comments", {"text": "刘某某就知道说风凉话！"})
    rows = r.json()["comments"]
    assert [(x["who"], x["staff"]) for x in rows] == [("刘**", False), ("周村干", True), ("张**", False)]
    bad = Comment.objects.get(text__startswith="刘某某")
    # A resident cannot hide; the committee hides with a reason.
    assert post(liu, f"{API}/comments/{bad.pk}/hide", {"reason": "人身攻击"}).status_code == 404
    for body, status in [
        ({"reason": ""}, 422),
        ({"reason": "长" * 201}, 422),
        ({"reason": "人身\x00攻击"}, 400),
        ({}, 422),
    ]:
        assert post(zhou, f"{API}/comments/{bad.pk}/hide", body).status_code == status, body
    r = post(zhou, f"{API}/comments/{bad.pk}/hide", {"reason": "人身攻击"})
    assert r.status_code == 200, r.content
    # Residents read the reason in its place, not the text; the committee still reads the text.
    for_residents = client_as(c.u_liu).get(f"{API}/matters/{m.pk}").json()["comments"][2]
    assert (for_residents["hidden"], for_residents["text"], for_residents["hidden_reason"]) == (True, "", "人身攻击")
    for_staff = client_as(c.u_zhou).get(f"{API}/matters/{m.pk}").json()["comments"][2]
    assert (for_staff["hidden"], for_staff["text"]) == (True, "刘某某就知道说风凉话！")
    # Never deleted: the row is there with who hid it and when.
    bad.refresh_from_db()
    assert (bad.state, bad.text, bad.hidden_by_id, bad.hidden_at) == (
        "hidden",
        "刘某某就知道说风凉话！",
        c.u_zhou.pk,
        clock.t,
    )
    assert Comment.objects.count() == 3
    twice = post(zhou, f"{API}/comments/{bad.pk}/hide", {"reason": "重复隐藏"})
    assert twice.status_code == 409 and code(twice) == "comment.hidden"
    assert Comment.objects.get(pk=bad.pk).hidden_reason == "人身攻击"
    r = post(zhou, f"{API}/comments/999999/hide", {"reason": "人身攻击"})
    assert r.status_code == 404 and code(r) == "comment.not_found"
    # A grid worker has no voice of their own in the thread (not a resident, not the committee).
    r = post(client_as(c.u_li), f"{API}/matters/{m.pk}/comments", {"text": "我也说两句"})
    assert r.status_code == 403
    assert Comment.objects.count() == 3


# --- 民事民办 and 民事民评 -----------------------------------------------------------------------------------------


def test_carrying_out_tasks_budget_spending_progress_and_finish(county, clock, client_as):
    c = county
    m = _passed(c, clock)  # the clock is 2026-11-18 11:00
    zhou, zhang = client_as(c.u_zhou), client_as(c.u_zhang)
    assert post(zhang, f"{API}/matters/{m.pk}/start").status_code == 404
    r = post(zhou, f"{API}/matters/{m.pk}/start")
    assert r.status_code == 200 and r.json()["state"] == "doing" and "finish" in r.json()["actions"]
    assert post(zhou, f"{API}/matters/{m.pk}/start").status_code == 409
    r = post(zhou, f"{API}/matters/{m.pk}/tasks", {"title": "采购水泥", "responsible": "周村干", "due": "2026-12-01"})
    assert r.status_code == 201, r.content
    task = r.json()["tasks"][0]
    assert (task["title"], task["responsible"], task["due"], task["done_at"]) == (
        "采购水泥",
        "周村干",
        "2026-12-01",
        None,
    )
    assert post(zhang, f"{API}/matters/{m.pk}/tasks", {"title": "采购", "responsible": "我"}).status_code == 404
    r = post(zhou, f"{API}/matters/{m.pk}/budget", {"item": "水泥砂石", "amount": "1000.00"})
    assert r.status_code == 201 and Decimal(r.json()["budget_total"]) == Decimal("1000")
    line = r.json()["budget"][0]["id"]
    spend = {"line_id": line, "amount": "600", "spent_on": "2026-11-17", "payee": "镇上建材店"}
    r = post(zhou, f"{API}/matters/{m.pk}/spendings", spend)
    assert r.status_code == 201, r.content
    assert Decimal(r.json()["spent_total"]) == Decimal("600")
    assert Spending.objects.get().path == c.v1.path  # read by the village's finance posting
    # More than is left on the line (400), or paid tomorrow: refused, nothing recorded.
    over = post(zhou, f"{API}/matters/{m.pk}/spendings", {**spend, "amount": "400.01"})
    assert over.status_code == 409 and code(over) == "spending.over_budget"
    future = post(zhou, f"{API}/matters/{m.pk}/spendings", {**spend, "amount": "100", "spent_on": "2026-11-19"})
    assert future.status_code == 422 and code(future) == "spending.bad_day"
    assert Spending.objects.count() == 1
    r = post(zhou, f"{API}/matters/{m.pk}/spendings", {**spend, "amount": "400", "spent_on": "2026-11-18"})
    assert r.status_code == 201 and Decimal(r.json()["spent_total"]) == Decimal("1000")  # exactly the line
    r = post(zhou, f"{API}/matters/{m.pk}/updates", {"text": "水泥已到村，下周开工。"})
    assert r.status_code == 201 and r.json()["updates"][0]["text"] == "水泥已到村，下周开工。"
    # Not finished while a task is open.
    r = post(zhou, f"{API}/matters/{m.pk}/finish")
    assert r.status_code == 409 and code(r) == "matter.tasks_open"
    assert Matter.objects.get(pk=m.pk).state == "doing"
    assert post(zhang, f"{API}/tasks/{task['id']}/done").status_code == 404
    r = post(zhou, f"{API}/tasks/{task['id']}/done")
    assert r.status_code == 200 and r.json()["tasks"][0]["done_at"] is not None
    twice = post(zhou, f"{API}/tasks/{task['id']}/done")
    assert twice.status_code == 409 and code(twice) == "task.done"
    r = post(zhou, f"{API}/matters/{m.pk}/finish")
    assert r.status_code == 200 and r.json()["state"] == "done"
    assert Matter.objects.get(pk=m.pk).done_at == clock.t
    # Done: nothing more is added to the work.
    late = post(zhou, f"{API}/matters/{m.pk}/tasks", {"title": "补种树", "responsible": "周村干"})
    assert late.status_code == 409 and code(late) == "matter.not_doing"
    assert (Task.objects.count(), BudgetLine.objects.count(), Spending.objects.count(), Update.objects.count()) == (
        1,
        1,
        2,
        1,
    )


def test_work_is_refused_before_the_matter_passed(county, clock, client_as):
    c = county
    m = _propose(c)
    zhou = client_as(c.u_zhou)
    r = post(zhou, f"{API}/matters/{m.pk}/budget", {"item": "水泥", "amount": "100"})
    assert r.status_code == 409 and code(r) == "matter.not_doing"
    r = post(zhou, f"{API}/matters/{m.pk}/start")
    assert r.status_code == 409 and code(r) == "matter.transition_not_allowed"
    assert post(zhou, f"{API}/matters/{m.pk}/finish").status_code == 409
    assert BudgetLine.objects.count() == 0 and Matter.objects.get(pk=m.pk).state == "proposed"


def test_a_matter_done_is_rated_once_from_one_to_five(county, clock, client_as):
    c = county
    m = _passed(c, clock)
    zhang = client_as(c.u_zhang)
    early = post(zhang, f"{API}/matters/{m.pk}/rating", {"stars": 5})
    assert early.status_code == 409 and code(early) == "matter.not_done"
    services.matter_start(matter=m, by=c.u_zhou)
    assert post(zhang, f"{API}/matters/{m.pk}/rating", {"stars": 5}).status_code == 409  # being carried out
    services.matter_finish(matter=m, by=c.u_zhou)
    assert "rate" in zhang.get(f"{API}/matters/{m.pk}").json()["actions"]
    for body, status in [
        ({"stars": 0}, 422),
        ({"stars": 6}, 422),
        ({"stars": "x"}, 422),
        ({}, 422),
        ({"stars": 4, "comment": "长" * 301}, 422),
        ({"stars": 4, "comment": "好\x00"}, 400),
    ]:
        r = post(zhang, f"{API}/matters/{m.pk}/rating", body)
        assert r.status_code == status, (body, r.content)
    assert Rating.objects.count() == 0
    r = post(zhang, f"{API}/matters/{m.pk}/rating", {"stars": 5, "comment": "路修得平整"})
    assert r.status_code == 201, r.content
    out = r.json()
    assert (out["my_rating"], out["ratings"], "rate" in out["actions"]) == (5, {"count": 1, "average": 5.0}, False)
    again = post(zhang, f"{API}/matters/{m.pk}/rating", {"stars": 1})
    assert again.status_code == 409 and code(again) == "rating.already"
    r = post(client_as(c.u_liu), f"{API}/matters/{m.pk}/rating", {"stars": 4})
    assert r.status_code == 201 and r.json()["ratings"] == {"count": 2, "average": 4.5}
    # Staff are not residents: they do not rate.
    assert post(client_as(c.u_zhou), f"{API}/matters/{m.pk}/rating", {"stars": 5}).status_code == 403
    assert sorted(Rating.objects.values_list("stars", flat=True)) == [4, 5]
    # The service's own bound, under the API's.
    with pytest.raises(ValidationFailed) as e:
        services.rating_add(matter=Matter.objects.get(pk=m.pk), by=add_households(c.a1, 1)[0], stars=9)
    assert e.value.code == "rating.bad_stars" and Rating.objects.count() == 2


# --- out of scope ------------------------------------------------------------------------------------------------


def test_another_villages_resident_and_staff_find_nothing(county, clock, client_as):
    """The acceptance point: 黄婶 of 西村 and 孙网格 of 南村 read, sign, comment on and rate no matter of 东村."""
    c = county
    proposed = _propose(c, title="东村修路")
    done = _done(c, clock, _propose(c, title="东村装路灯"))
    u_huang = _huang(c)
    mine = _propose(c, by=u_huang, title="西村修渠")
    before = _counts()
    for user in (u_huang, c.u_sun, c.u_zhao):
        cl = client_as(user)
        for m in (proposed, done):
            r = cl.get(f"{API}/matters/{m.pk}")
            assert r.status_code == 404 and code(r) == "matter.not_found", user
        assert post(cl, f"{API}/matters/{proposed.pk}/sign").status_code == 404
        assert post(cl, f"{API}/matters/{proposed.pk}/comments", {"text": "我也支持"}).status_code == 404
        assert post(cl, f"{API}/matters/{done.pk}/comments", {"text": "修得好"}).status_code == 404
        assert post(cl, f"{API}/matters/{done.pk}/rating", {"stars": 5}).status_code == 404
        listed = cl.get(f"{API}/matters").json()
        assert not {proposed.pk, done.pk} & {x["id"] for x in listed["items"]}, user
        assert cl.get(f"{API}/matters?village_id={c.v1.pk}").json()["count"] == 0
    assert (
        post(client_as(c.u_sun), f"{API}/matters/{proposed.pk}/sign", {"for_resident_id": c.chen.pk}).status_code == 404
    )
    assert _counts() == before
    # 黄婶 reads her own village's matter, and only it.
    listed = client_as(u_huang).get(f"{API}/matters").json()
    assert [x["id"] for x in listed["items"]] == [mine.pk]
    # 东村's residents, in turn, do not read 西村's.
    assert client_as(c.u_zhang).get(f"{API}/matters/{mine.pk}").status_code == 404
    assert mine.pk not in {x["id"] for x in client_as(c.u_zhang).get(f"{API}/matters").json()["items"]}
    # The town reads both.
    both = {x["id"] for x in client_as(c.u_wu).get(f"{API}/matters").json()["items"]}
    assert {proposed.pk, done.pk, mine.pk} <= both


# --- bad input -----------------------------------------------------------------------------------------------------


def test_bad_input_to_each_endpoint_is_refused_and_changes_nothing(county, clock, client_as):
    c = county
    m = _passed(c, clock)
    services.matter_start(matter=m, by=c.u_zhou)
    line = services.budget_add(matter=m, by=c.u_zhou, item="水泥", amount="500")
    task = services.task_add(matter=m, by=c.u_zhou, title="采购水泥", responsible="周村干")
    other = _propose(c, title="村口装路灯")
    other_line_matter = _passed(c, clock, _propose(c, title="修水渠"))
    other_line = services.budget_add(matter=other_line_matter, by=c.u_zhou, item="管子", amount="100")
    zhang, zhou, li = client_as(c.u_zhang), client_as(c.u_zhou), client_as(c.u_li)
    ok = {"title": "修通组公路", "body": BODY}
    spend = {"line_id": line.pk, "amount": "100", "spent_on": "2026-11-18", "payee": "建材店"}
    cases = [
        # propose
        (zhang, "matters", {**ok, "title": "长" * 81}, 422),
        (zhang, "matters", {**ok, "body": "长" * 5001}, 422),
        (zhang, "matters", {**ok, "title": "修\x00路"}, 400),
        (zhang, "matters", {**ok, "body": "路\x00不平"}, 400),
        (zhang, "matters", {"body": BODY}, 422),
        (zhang, "matters", {"title": "修路"}, 422),
        (zhang, "matters", {**ok, "title": "路"}, 422),
        (zhang, "matters", {**ok, "title": "   "}, 422),
        (zhang, "matters", {**ok, "body": "太差"}, 422),
        (zhang, "matters", {**ok, "cost": "-1"}, 422),
        (zhang, "matters", {**ok, "cost": "很多"}, 422),
        (zhang, "matters", {**ok, "cost": "100000000"}, 422),
        (zhang, "matters", {**ok, "colour": "red"}, 422),
        (zhang, "matters", {**ok, "idempotency_key": "bad key!"}, 422),
        (zhang, "matters", {**ok, "node_id": 0}, 422),
        (li, "matters", {**ok, "for_resident_id": 999999}, 404),
        (li, "matters", {**ok, "for_resident_id": "张阿姨"}, 422),
        # sign
        (zhang, f"matters/{other.pk}/sign", {"for_resident_id": "x"}, 422),
        (client_as(c.u_liu), "matters/999999/sign", {}, 404),
        (zhou, f"matters/{other.pk}/sign", {"for_resident_id": 999999}, 404),
        # committee
        (zhou, "matters/999999/agenda", {}, 404),
        (zhou, f"matters/{other.pk}/merge", {}, 422),
        (zhou, f"matters/{other.pk}/merge", {"into_id": 0}, 422),
        (zhou, f"matters/{other.pk}/merge", {"into_id": m.pk, "reason": "长" * 301}, 422),
        (zhou, f"matters/{other.pk}/decline", {"reason": "长" * 301}, 422),
        # comments
        (zhang, f"matters/{other.pk}/comments", {"text": "长" * 1001}, 422),
        (zhang, f"matters/{other.pk}/comments", {"text": "好\x00"}, 400),
        (zhang, f"matters/{other.pk}/comments", {"text": " 好 "}, 422),
        (zhang, f"matters/{other.pk}/comments", {}, 422),
        (zhang, "matters/999999/comments", {"text": "支持支持"}, 404),
        # work
        (zhou, f"matters/{m.pk}/tasks", {"title": "长" * 121, "responsible": "周村干"}, 422),
        (zhou, f"matters/{m.pk}/tasks", {"title": "采购"}, 422),
        (zhou, f"matters/{m.pk}/tasks", {"title": "采购", "responsible": "周\x00"}, 400),
        (zhou, f"matters/{m.pk}/tasks", {"title": "采购", "responsible": "周村干", "due": "2026-13-01"}, 422),
        (zhou, "matters/999999/tasks", {"title": "采购", "responsible": "周村干"}, 404),
        (zhou, "tasks/999999/done", {}, 404),
        (zhou, f"matters/{m.pk}/budget", {"item": "水泥", "amount": "0"}, 422),
        (zhou, f"matters/{m.pk}/budget", {"item": "水泥", "amount": "1.234"}, 422),
        (zhou, f"matters/{m.pk}/budget", {"item": "长" * 121, "amount": "10"}, 422),
        (zhou, f"matters/{m.pk}/budget", {"item": "水\x00泥", "amount": "10"}, 400),
        (zhou, f"matters/{m.pk}/budget", {"amount": "10"}, 422),
        (zhou, f"matters/{m.pk}/spendings", {**spend, "amount": "-5"}, 422),
        (zhou, f"matters/{m.pk}/spendings", {**spend, "spent_on": "昨天"}, 422),
        (zhou, f"matters/{m.pk}/spendings", {k: v for k, v in spend.items() if k != "spent_on"}, 422),
        (zhou, f"matters/{m.pk}/spendings", {**spend, "payee": "长" * 121}, 422),
        (zhou, f"matters/{m.pk}/spendings", {**spend, "note": "长" * 201}, 422),
        (zhou, f"matters/{m.pk}/spendings", {**spend, "payee": "建材\x00店"}, 400),
        (zhou, f"matters/{m.pk}/spendings", {**spend, "line_id": 999999}, 404),
        (zhou, f"matters/{m.pk}/spendings", {**spend, "line_id": other_line.pk}, 404),
        (zhou, f"matters/{m.pk}/spendings", {**spend, "spent_on": "2024-01-01"}, 422),
        (zhou, f"matters/{m.pk}/updates", {"text": "长" * 1001}, 422),
        (zhou, f"matters/{m.pk}/updates", {"text": "开\x00工"}, 400),
        (zhou, f"matters/{m.pk}/updates", {}, 422),
        # rating
        (zhang, f"matters/{m.pk}/rating", {"stars": 3}, 409),
        (zhang, "matters/999999/rating", {"stars": 3}, 404),
    ]
    before = (_counts(), list(Matter.objects.order_by("pk").values_list("state", "cosigns")))
    for client, url, body, status in cases:
        r = post(client, f"{API}/{url}", body)
        assert r.status_code == status, (url, body, r.status_code, r.content)
        err = r.json()["error"]
        assert err["code"] and err["message"], (url, body, err)
        if status == 400:
            assert err["code"] == "malformed_request"
        if status == 422 and err["code"] == "validation_error":
            assert err["fields"], (url, body, err)  # says which field
        assert (_counts(), list(Matter.objects.order_by("pk").values_list("state", "cosigns"))) == before, (url, body)
    assert Task.objects.get(pk=task.pk).done_at is None
    # A NUL byte in a query string is refused before any view runs; a filter that is not one is a 422.
    assert zhang.get(f"{API}/matters?state=pro%00posed").status_code == 400
    assert zhang.get(f"{API}/matters?state=maybe").status_code == 422
    assert zhang.get(f"{API}/matters?village_id=0").status_code == 422
