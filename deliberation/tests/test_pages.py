"""The deliberation pages, Chinese by default: the hall of a village (its matters by stage and its votes),
proposing, a matter's steps (sign, comment, rate, the committee's), a vote (the big buttons, the paper sheet,
the count), the 三公开 postings with questions, the village rules and the figures. A refusal is a message and
changes nothing; another village's pages are 404; an English request reads English."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import translation

from accounts import services as accounts
from deliberation import forms, services
from deliberation.models import (
    BudgetLine,
    Comment,
    Cosign,
    Disclosure,
    Matter,
    Question,
    Rating,
    RulesVersion,
    Sheet,
    Spending,
    Task,
    Turnout,
    Update,
    Vote,
    Voter,
)
from gongzhi.test import assert_refuses_bad_input, db_fingerprint
from org.models import Resident
from workorders.tests.helpers import at

BODY = "A1湾组到村部的路坑洼不平，雨天难走。"
RULES_V1 = "第一条 爱护公共设施。\n第二条 不在河道倾倒垃圾。"


def msgs(r) -> list[str]:
    return [str(m) for m in r.context["messages"]]


def zh(text: str) -> str:
    with translation.override("zh-hans"):
        return str(translation.gettext(text))


def _propose(c, by=None, title="修通组公路", **kw) -> Matter:
    return services.matter_propose(by=by or c.u_zhang, title=title, body=BODY, **kw)


def _huang(c):
    u = accounts.user_create(username="huang", password="x-Password-123", display_name="黄婶")
    Resident.objects.filter(pk=c.huang.pk).update(user=u)
    return u


def _vote(c, m: Matter, closes="2026-11-25 18:00", **kw) -> Vote:
    return services.vote_create(by=c.u_zhou, matter=m, question="是否同意修路？", closes_at=at(closes), **kw)


def _done(c, clock, m: Matter) -> Matter:
    services.matter_agenda(matter=m, by=c.u_zhou)
    v = services.vote_create(
        by=c.u_zhou, matter=m, question="是否同意？", closes_at=clock.t + dt.timedelta(hours=1), quorum="none"
    )
    services.vote_open(vote=v, by=c.u_zhou)
    services.vote_cast(vote=v, by=c.u_zhang, option_id=v.options.get(label="同意").pk)
    clock.advance(hours=1)
    services.vote_count(vote=v, by=c.u_zhou)
    m = Matter.objects.get(pk=m.pk)
    services.matter_start(matter=m, by=c.u_zhou)
    services.matter_finish(matter=m, by=c.u_zhou)
    return Matter.objects.get(pk=m.pk)


# --- the hall -----------------------------------------------------------------------------------------------------


def test_the_hall_lists_the_villages_matters_by_stage_and_its_votes(county, clock, client_as):
    c = county
    lamp = _propose(c, title="村口装路灯")
    road = services.matter_agenda(matter=_propose(c, title="修通组公路"), by=c.u_zhou)
    well = services.matter_agenda(matter=_propose(c, title="修水井"), by=c.u_zhou)
    pool = services.matter_decline(matter=_propose(c, title="建游泳池"), by=c.u_zhou, reason="超出村集体经济承受能力")
    services.matter_cosign(matter=lamp, by=c.u_liu)
    open_vote = _vote(c, road)
    services.vote_open(vote=open_vote, by=c.u_zhou)
    draft_vote = _vote(c, well)
    west = _propose(c, by=_huang(c), title="西村修渠")
    r = client_as(c.u_liu).get("/deliberation/")
    assert r.status_code == 200
    ctx = r.context
    assert ctx["village"] == c.v1
    stages = {k: [x["m"].pk for x in v] for k, v in ctx["stages"].items()}
    assert stages == {
        "signing": [lamp.pk],
        "deciding": [well.pk, road.pk],
        "doing": [],
        "done": [],
        "closed": [pool.pk],
    }
    assert ctx["stages"]["signing"][0]["signed"] is True
    # The open vote, with his household's ballot still to cast; the draft is the committee's.
    assert [(x["v"].pk, x["b"].voter is not None, x["b"].voted) for x in ctx["votes"]] == [(open_vote.pk, True, False)]
    page = r.content.decode()
    assert "东村 · 阳光议事厅" in page and "村口装路灯" in page and "是否同意修路？" in page
    assert f'href="/deliberation/votes/{open_vote.pk}/"' in page and "西村修渠" not in page
    assert [x["v"].pk for x in client_as(c.u_zhou).get("/deliberation/").context["votes"]] == [
        draft_vote.pk,
        open_vote.pk,
    ]
    # After voting the card says so.
    services.vote_cast(vote=open_vote, by=c.u_liu, option_id=open_vote.options.get(label="同意").pk)
    assert client_as(c.u_liu).get("/deliberation/").context["votes"][0]["b"].voted is True
    # 黄婶's hall is 西村's; she cannot ask for 东村's.
    huang = client_as(Resident.objects.get(pk=c.huang.pk).user)
    r = huang.get("/deliberation/")
    assert r.context["village"] == c.v2 and [x["m"].pk for x in r.context["stages"]["signing"]] == [west.pk]
    assert "村口装路灯" not in r.content.decode()
    assert huang.get(f"/deliberation/?village={c.v1.pk}").status_code == 404
    # Nobody's hall for one with no village and no deliberation role; the login page for the anonymous.
    assert client_as(c.u_zhao).get("/deliberation/").status_code == 404
    assert client_as(None).get("/deliberation/").status_code == 302


# --- proposing ---------------------------------------------------------------------------------------------------


def test_a_resident_proposes_on_the_page(county, clock, client_as):
    c = county
    zhang = client_as(c.u_zhang)
    r = zhang.get("/deliberation/propose/")
    assert r.status_code == 200 and [n.pk for n in r.context["places"]] == [c.v1.pk, c.a1.pk]
    key = r.context["key"]
    post = {
        "title": "A1湾组装路灯",
        "body": "湾组路口太黑，想装两盏太阳能灯。",
        "cost": "3000",
        "node": str(c.a1.pk),
        "key": key,
    }
    r = zhang.post("/deliberation/propose/", post, follow=True)
    m = Matter.objects.get()
    assert r.redirect_chain[-1][0] == f"/deliberation/matters/{m.pk}/"
    assert msgs(r) == ["提议已提交，请邀请邻居联名支持。"]
    assert (m.title, m.node_id, str(m.cost), m.proposer_id) == ("A1湾组装路灯", c.a1.pk, "3000.00", c.zhang.pk)
    # The same form sent twice (a double tap) is one proposal.
    zhang.post("/deliberation/propose/", post, follow=True)
    assert Matter.objects.count() == 1
    # An oversized title: the message, the form kept, nothing made.
    r = zhang.post("/deliberation/propose/", {**post, "title": "长" * 81, "key": "k2"})
    assert r.status_code == 200 and Matter.objects.count() == 1
    assert any("80" in x and "81" in x for x in msgs(r)), msgs(r)
    assert "湾组路口太黑" in r.content.decode()  # what was typed is still there
    r = zhang.post("/deliberation/propose/", {**post, "body": "路\x00坏了很久了", "key": "k3"})
    assert r.status_code == 200 and Matter.objects.count() == 1
    assert any(zh("NUL characters are not allowed.") in x for x in msgs(r)), msgs(r)
    # The service's own refusals are messages too: a cost that is not one, another village's grid.
    for bad in ({"cost": "很多"}, {"node": str(c.b1.pk)}, {"body": "太差"}):
        r = zhang.post("/deliberation/propose/", {**post, **bad, "key": ""})
        assert r.status_code == 200 and msgs(r), bad
    assert Matter.objects.count() == 1
    # Every text field refuses a NUL byte and one character too many, and changes nothing.
    assert assert_refuses_bad_input(zhang, "/deliberation/propose/", {**post, "key": ""}, forms.ProposeForm) >= 10
    # Someone who is neither a resident nor acts for residents has no proposal page.
    assert client_as(c.u_zhao).get("/deliberation/propose/").status_code == 404
    assert client_as(c.u_wu).post("/deliberation/propose/", post).status_code == 404


def test_a_grid_worker_proposes_and_signs_for_residents_on_the_pages(county, clock, client_as):
    c = county
    li = client_as(c.u_li)
    r = li.get("/deliberation/propose/")
    wife = Resident.objects.get(name="刘妻")
    assert r.status_code == 200 and wife in list(r.context["proxied"]) and c.chen not in list(r.context["proxied"])
    r = li.post(
        "/deliberation/propose/",
        {"title": "湾组修水井", "body": "井台裂了，老人打水不方便。", "resident": str(wife.pk), "key": ""},
        follow=True,
    )
    m = Matter.objects.get()
    assert (m.proposer_id, m.entered_by_id) == (wife.pk, c.u_li.pk) and msgs(r)
    # 陈大爷 (A2) is not his to act for: 404, nothing made.
    assert (
        li.post("/deliberation/propose/", {"title": "修水井", "body": BODY, "resident": str(c.chen.pk)}).status_code
        == 404
    )
    # On the matter page he signs for a resident of his grid, not for the proposer herself.
    r = li.post(f"/deliberation/matters/{m.pk}/sign/", {"resident": str(wife.pk)}, follow=True)
    assert msgs(r) == [zh("You proposed this matter: ask your neighbours to sign.")]
    r = li.post(f"/deliberation/matters/{m.pk}/sign/", {"resident": str(c.zhang.pk)}, follow=True)
    assert msgs(r) == ["已联名，谢谢您的支持。"] and Cosign.objects.get().resident_id == c.zhang.pk
    assert li.post(f"/deliberation/matters/{m.pk}/sign/", {"resident": str(c.chen.pk)}).status_code == 404
    assert Matter.objects.count() == 1 and Cosign.objects.count() == 1


# --- a matter's steps --------------------------------------------------------------------------------------------


def test_signing_commenting_and_hiding_on_the_matter_page(county, clock, client_as):
    c = county
    services.setting_update(by=c.u_zhou, village=c.v1, cosign_threshold=2)
    m = _propose(c)
    url = f"/deliberation/matters/{m.pk}/"
    liu, zhang, zhou = client_as(c.u_liu), client_as(c.u_zhang), client_as(c.u_zhou)
    r = liu.get(url)
    assert r.status_code == 200 and r.context["actions"][:2] == ["sign", "comment"]
    assert "我支持（联名）" in r.content.decode() and 'data-cosigns="0"' in r.content.decode()
    assert "sign" not in zhang.get(url).context["actions"]  # her own
    r = liu.post(f"{url}sign/", follow=True)
    assert r.redirect_chain[-1][0] == url and msgs(r) == ["已联名，谢谢您的支持。"]
    assert Matter.objects.get(pk=m.pk).cosigns == 1 and r.context["signed"] is True
    r = liu.post(f"{url}sign/", follow=True)
    assert msgs(r) == ["您已联名支持过这个议题。"] and Matter.objects.get(pk=m.pk).cosigns == 1
    r = zhang.post(f"{url}sign/", follow=True)
    assert msgs(r) and Cosign.objects.count() == 1
    # 周村干 signs for 陈大爷 (no phone): the second signature puts it on the agenda.
    r = zhou.post(f"{url}sign/", {"resident": str(c.chen.pk)}, follow=True)
    assert Matter.objects.get(pk=m.pk).state == "agenda" and r.context["m"].state == "agenda"
    # Comments, and one hidden with its reason in its place.
    r = liu.post(f"{url}comment/", {"text": "这条路我每天走，早该修了。"}, follow=True)
    assert msgs(r) == ["评论已发表。"]
    zhang.post(f"{url}comment/", {"text": "某某就知道说风凉话！"})
    zhou.post(f"{url}comment/", {"text": "周三晚上村部议事厅开会。"})
    assert Comment.objects.count() == 3
    for bad in ({"text": ""}, {"text": "长" * 1001}, {"text": "好\x00的"}, {"text": "好"}, {}):
        r = liu.post(f"{url}comment/", bad, follow=True)
        assert r.status_code == 200 and msgs(r), bad
    assert Comment.objects.count() == 3
    rude = Comment.objects.get(text__startswith="某某")
    assert liu.post(f"/deliberation/comments/{rude.pk}/hide/", {"reason": "人身攻击"}).status_code == 404
    r = zhou.post(f"/deliberation/comments/{rude.pk}/hide/", {"reason": ""}, follow=True)
    assert msgs(r) and Comment.objects.get(pk=rude.pk).state == "shown"
    r = zhou.post(f"/deliberation/comments/{rude.pk}/hide/", {"reason": "人身攻击"}, follow=True)
    assert msgs(r) and Comment.objects.get(pk=rude.pk).state == "hidden"
    page = liu.get(url).content.decode()
    assert "已被村委会隐藏：人身攻击" in page and "某某就知道说风凉话" not in page
    assert "某某就知道说风凉话" in zhou.get(url).content.decode()  # the committee still reads it
    assert Comment.objects.count() == 3
    # An unknown step, or a step read with GET, is nothing.
    assert zhou.post(f"{url}explode/").status_code == 404
    assert liu.get(f"{url}sign/").status_code == 405


def test_the_committee_declines_and_merges_on_the_matter_page(county, clock, client_as):
    c = county
    zhou, zhang = client_as(c.u_zhou), client_as(c.u_zhang)
    pool = _propose(c, title="建游泳池")
    assert zhang.post(f"/deliberation/matters/{pool.pk}/decline/", {"reason": "不需要这个"}).status_code == 404
    r = zhou.post(f"/deliberation/matters/{pool.pk}/decline/", {"reason": "太贵"}, follow=True)
    assert msgs(r) and Matter.objects.get(pk=pool.pk).state == "proposed"  # a reason of four characters at least
    r = zhou.post(f"/deliberation/matters/{pool.pk}/decline/", {"reason": "超出村集体经济承受能力"}, follow=True)
    assert msgs(r) == ["该议题不予采纳，理由已公开。"]
    page = zhang.get(f"/deliberation/matters/{pool.pk}/").content.decode()
    assert "理由： 超出村集体经济承受能力" in page and "data-reason" in page
    lamp = _propose(c, title="村口装路灯")
    dup = _propose(c, by=c.u_liu, title="村口太黑")
    r = zhou.post(f"/deliberation/matters/{dup.pk}/merge/", {"into": str(lamp.pk)}, follow=True)
    assert msgs(r) == ["已合并。"]
    dup.refresh_from_db()
    assert (dup.state, dup.merged_into_id, dup.reason) == ("merged", lamp.pk, "与“村口装路灯”重复")
    assert Cosign.objects.filter(matter=lamp).get().resident_id == c.liu.pk  # 刘党员, who proposed the duplicate
    other = _propose(c, title="再来一个")
    r = zhou.post(f"/deliberation/matters/{other.pk}/merge/", {"into": str(other.pk)}, follow=True)
    assert msgs(r) == ["只能合并到本村的另一个议题。"] and Matter.objects.get(pk=other.pk).state == "proposed"
    r = zhou.post(f"/deliberation/matters/{other.pk}/agenda/", follow=True)
    assert msgs(r) == ["已完成。"] and Matter.objects.get(pk=other.pk).state == "agenda"


def test_merging_on_the_page_with_no_matter_number_is_a_message(county, clock, client_as):
    """Bad input is a message on the page it was typed on, not the 404 page."""
    c = county
    m = _propose(c)
    zhou = client_as(c.u_zhou)
    for bad in ("", "abc"):
        r = zhou.post(f"/deliberation/matters/{m.pk}/merge/", {"into": bad}, follow=True)
        assert r.status_code == 200, (bad, r.status_code)
        assert msgs(r), bad
    assert Matter.objects.get(pk=m.pk).state == "proposed"


def test_carrying_out_and_rating_on_the_matter_page(county, clock, client_as):
    c = county
    m = _propose(c)
    services.matter_agenda(matter=m, by=c.u_zhou)
    v = services.vote_create(
        by=c.u_zhou, matter=m, question="是否同意？", closes_at=at("2026-11-18 12:00"), quorum="none"
    )
    services.vote_open(vote=v, by=c.u_zhou)
    services.vote_cast(vote=v, by=c.u_zhang, option_id=v.options.get(label="同意").pk)
    clock.set("2026-11-18 12:00")
    services.vote_count(vote=v, by=c.u_zhou)
    url = f"/deliberation/matters/{m.pk}/"
    zhou, zhang = client_as(c.u_zhou), client_as(c.u_zhang)
    assert zhang.post(f"{url}start/").status_code == 404
    r = zhou.post(f"{url}start/", follow=True)
    assert msgs(r) == ["已完成。"] and Matter.objects.get(pk=m.pk).state == "doing"
    r = zhou.post(f"{url}task/", {"title": "采购水泥", "responsible": "周村干", "due": "2026-12-01"}, follow=True)
    assert msgs(r) == ["任务已添加。"]
    r = zhou.post(f"{url}budget/", {"item": "水泥砂石", "amount": "1000"}, follow=True)
    assert msgs(r) == ["预算项目已添加。"]
    line = BudgetLine.objects.get()
    spend = {"line": str(line.pk), "amount": "600", "spent_on": "2026-11-18", "payee": "建材店"}
    r = zhou.post(f"{url}spending/", spend, follow=True)
    assert msgs(r) == ["支出已记录。"]
    for bad in (
        {"amount": "500"},
        {"spent_on": "2026-11-19"},
        {"line": ""},
        {"amount": "很多"},
        {"spent_on": "2026/11/18"},
        {"payee": "长" * 121},
        {"note": "a\x00b"},
    ):
        r = zhou.post(f"{url}spending/", {**spend, **bad}, follow=True)
        assert r.status_code == 200 and msgs(r), bad
    assert Spending.objects.count() == 1
    r = zhou.post(f"{url}update/", {"text": "水泥已到村，下周开工。"}, follow=True)
    assert msgs(r) == ["进展已发布。"] and Update.objects.count() == 1
    r = zhou.post(f"{url}finish/", follow=True)
    assert msgs(r) == ["还有任务没有完成。"] and Matter.objects.get(pk=m.pk).state == "doing"
    task = Task.objects.get()
    assert zhang.post(f"/deliberation/tasks/{task.pk}/done/").status_code == 404
    r = zhou.post(f"/deliberation/tasks/{task.pk}/done/", follow=True)
    assert msgs(r) == ["任务已完成。"]
    r = zhou.post(f"{url}finish/", follow=True)
    assert Matter.objects.get(pk=m.pk).state == "done" and "rate" not in r.context["actions"]
    # 民事民评: the big stars, once.
    r = zhang.get(url)
    assert "rate" in r.context["actions"] and 'data-action="rate"' in r.content.decode()
    for bad, said in (
        ({}, "请打 1 到 5 星。"),
        ({"stars": "9"}, None),
        ({"stars": "五"}, "请打 1 到 5 星。"),
        ({"stars": "4", "comment": "长" * 301}, None),
    ):
        r = zhang.post(f"{url}rate/", bad, follow=True)
        assert r.status_code == 200 and msgs(r) and (said is None or msgs(r) == [said]), (bad, msgs(r))
    assert Rating.objects.count() == 0
    r = zhang.post(f"{url}rate/", {"stars": "5", "comment": "修得平整"}, follow=True)
    assert msgs(r) == ["感谢您的评价。"] and r.context["my_rating"].stars == 5
    r = zhang.post(f"{url}rate/", {"stars": "1"}, follow=True)
    assert msgs(r) == ["您已评价过这个议题。"]
    assert list(Rating.objects.values_list("stars", flat=True)) == [5]


# --- a vote ------------------------------------------------------------------------------------------------------


def test_a_vote_on_the_pages_set_up_opened_cast_on_paper_and_counted(county, clock, client_as):
    c = county
    m = services.matter_agenda(matter=_propose(c), by=c.u_zhou)
    zhou, zhang = client_as(c.u_zhou), client_as(c.u_zhang)
    setup = {
        "matter": str(m.pk),
        "question": "是否同意修通组公路？",
        "node": str(c.v1.pk),
        "per": "household",
        "quorum": "two_thirds",
        "threshold": "majority",
        "secret": "on",
        "closes_at": "2026-11-25T18:00",
    }
    r = zhou.post("/deliberation/votes/new/", {**setup, "closes_at": "下周"}, follow=True)
    assert msgs(r) == ["请填写日期和时间。"] and Vote.objects.count() == 0
    r = zhou.post("/deliberation/votes/new/", {**setup, "closes_at": "2026-11-18T10:05"}, follow=True)
    assert msgs(r) and Vote.objects.count() == 0  # closes within ten minutes
    assert zhang.post("/deliberation/votes/new/", setup).status_code == 404
    r = zhou.post("/deliberation/votes/new/", setup, follow=True)
    v = Vote.objects.get()
    assert r.redirect_chain[-1][0] == f"/deliberation/votes/{v.pk}/" and v.closes_at == at("2026-11-25 18:00")
    url = f"/deliberation/votes/{v.pk}/"
    assert zhang.get(url).status_code == 404  # not open yet: the committee's
    assert zhang.post(f"{url}open/").status_code == 404
    r = zhou.post(f"{url}open/", follow=True)
    assert msgs(r) == ["表决已开始，名册已确定。"]
    v.refresh_from_db()
    assert (v.state, v.eligible) == ("open", 3)
    # 张阿姨 votes with one big button.
    r = zhang.get(url)
    yes, no, _abstain = r.context["options"]
    assert f'name="option" value="{yes.pk}"' in r.content.decode()
    r = zhang.post(f"{url}ballot/", {"option": ""}, follow=True)
    assert msgs(r) == ["请从给出的选项中选择。"] and Turnout.objects.count() == 0
    r = zhang.post(f"{url}ballot/", {"option": "999999"}, follow=True)
    assert msgs(r) and Turnout.objects.count() == 0
    r = zhang.post(f"{url}ballot/", {"option": str(yes.pk)}, follow=True)
    assert msgs(r) == ["您的票已投出，感谢参与表决。"] and r.context["b"].voted is True
    r = zhang.post(f"{url}ballot/", {"option": str(no.pk)}, follow=True)
    assert msgs(r) == ["您家这一票已经投过了。"] and Turnout.objects.count() == 1
    # The committee's sheet from the meeting: 陈大爷's household voted yes on paper.
    r = zhou.get(url)
    waiting = {x.household_id: x for x in r.context["waiting"]}
    assert set(waiting) == {c.h_liu.pk, c.h_chen.pk} and r.context["took_part"] == 1
    chen, liu = waiting[c.h_chen.pk], waiting[c.h_liu.pk]
    zhang_roll = Voter.objects.get(vote=v, household=c.h_zhang)
    sheet = {f"option-{o.pk}": "0" for o in r.context["options"]} | {
        "invalid": "0",
        "note": "议事会纸质票",
        "key": r.context["key"],
    }
    before = (Turnout.objects.count(), Sheet.objects.count(), list(v.options.values_list("count", flat=True)))
    for bad in [
        {f"option-{yes.pk}": "1", "voter": [str(zhang_roll.pk)]},  # already voted online
        {f"option-{yes.pk}": "2", "voter": [str(chen.pk)]},  # does not add up
        {f"option-{yes.pk}": "-1", "voter": [str(chen.pk)]},
        {f"option-{yes.pk}": "一", "voter": [str(chen.pk)]},
        {f"option-{yes.pk}": "1", "voter": ["abc"]},
        {f"option-{yes.pk}": "1", "voter": [str(chen.pk)], "note": "纸\x00票"},
        {f"option-{yes.pk}": "1", "voter": [str(chen.pk)], "note": "长" * 201},
        {f"option-{yes.pk}": "1", "voter": []},
    ]:
        r = zhou.post(f"{url}paper/", {**sheet, **bad}, follow=True)
        assert r.status_code == 200 and msgs(r), bad
        assert (
            Turnout.objects.count(),
            Sheet.objects.count(),
            list(v.options.values_list("count", flat=True)),
        ) == before, bad
    assert zhang.post(f"{url}paper/", {**sheet, f"option-{yes.pk}": "1", "voter": [str(chen.pk)]}).status_code == 404
    r = zhou.post(f"{url}paper/", {**sheet, f"option-{yes.pk}": "1", "voter": [str(chen.pk)]}, follow=True)
    assert msgs(r) == ["计票单已录入，勾选的住户记为已投票。"]
    assert [x.pk for x in r.context["waiting"]] == [liu.pk] and r.context["took_part"] == 2
    # The same sheet again (a retry) is entered once.
    r = zhou.post(f"{url}paper/", {**sheet, f"option-{yes.pk}": "1", "voter": [str(chen.pk)]}, follow=True)
    assert msgs(r) == ["计票单已录入，勾选的住户记为已投票。"]
    assert Sheet.objects.count() == 1 and Turnout.objects.count() == 2
    # Counted once online voting has closed.
    r = zhou.post(f"{url}count/", follow=True)
    assert msgs(r) == ["网上投票到 11-25 18:00 才截止。"] and Vote.objects.get(pk=v.pk).state == "open"
    clock.set("2026-11-25 18:01")
    assert zhang.post(f"{url}count/").status_code == 404
    r = zhou.post(f"{url}count/", follow=True)
    assert msgs(r) == ["已计票，结果已公布。"]
    v.refresh_from_db()
    assert (v.state, v.outcome, v.turnout) == ("counted", "passed", 2)
    page = zhang.get(url).content.decode()
    assert 'data-outcome="passed"' in page and "data-result" in page
    assert Matter.objects.get(pk=m.pk).state == "passed"


# --- 三公开 ---------------------------------------------------------------------------------------------------------


def test_postings_questions_and_answers_on_the_pages(county, clock, client_as):
    c = county
    zhou, zhang = client_as(c.u_zhou), client_as(c.u_zhang)
    r = zhou.get("/deliberation/disclosures/")
    assert r.status_code == 200 and r.context["village"] == c.v1 and r.context["manages"] is True
    url = f"/deliberation/disclosures/?village={c.v1.pk}"
    post = {
        "village": str(c.v1.pk),
        "kind": "finance",
        "period": "2026-10",
        "title": "十月财务公开",
        "body": "十月支出：水泥 300 元。",
    }
    for bad, said in (
        ({"period": "2026-13"}, "周期为月份（2026-11）或季度（2026-Q4）。"),
        ({"period": "2026-12"}, "这个周期还没开始。"),
        ({"kind": "budget"}, None),
        ({"body": "a\x00b"}, None),
        ({"title": "长" * 81}, None),
        ({"title": ""}, None),
    ):
        r = zhou.post(url, {**post, **bad}, follow=True)
        assert r.status_code == 200 and msgs(r) and (said is None or msgs(r) == [said]), (bad, msgs(r))
    assert Disclosure.objects.count() == 0
    assert zhang.post(url, post).status_code == 404  # residents read, the village posts
    r = zhou.post(url, post, follow=True)
    d = Disclosure.objects.get()
    assert r.redirect_chain[-1][0] == f"/deliberation/disclosures/{d.pk}/" and msgs(r) == ["已公开。"]
    listed = zhang.get("/deliberation/disclosures/")
    assert [x.pk for x in listed.context["rows"]] == [d.pk] and "十月财务公开" in listed.content.decode()
    # A question, answered publicly once.
    r = zhang.get(f"/deliberation/disclosures/{d.pk}/")
    assert r.status_code == 200 and r.context["asks"] is True
    r = zhang.post(f"/deliberation/disclosures/{d.pk}/", {"text": "为何"}, follow=True)
    assert msgs(r) and Question.objects.count() == 0
    r = zhang.post(f"/deliberation/disclosures/{d.pk}/", {"text": "水泥是在哪家买的？"}, follow=True)
    assert msgs(r) == ["质询已提交，答复将公开。"]
    q = Question.objects.get()
    r = zhou.post(f"/deliberation/disclosures/{d.pk}/", {"text": "我替村民问"}, follow=True)
    assert msgs(r) and Question.objects.count() == 1  # staff are not residents
    assert zhang.post(f"/deliberation/questions/{q.pk}/answer/", {"answer": "我来答"}).status_code == 404
    r = zhou.post(f"/deliberation/questions/{q.pk}/answer/", {"answer": "镇上建材店，票据在村部可查。"}, follow=True)
    assert msgs(r) == ["已公开答复。"]
    r = zhou.post(f"/deliberation/questions/{q.pk}/answer/", {"answer": "再答一次"}, follow=True)
    assert msgs(r) == ["这条质询已答复。"]
    assert Question.objects.get().answer == "镇上建材店，票据在村部可查。"
    assert "镇上建材店，票据在村部可查。" in zhang.get(f"/deliberation/disclosures/{d.pk}/").content.decode()
    # The town sees what is overdue in its villages.
    r = client_as(c.u_wu).get("/deliberation/disclosures/")
    assert r.status_code == 200 and {o.village.name for o in r.context["overdue"]} == {"东村", "西村"}
    assert "data-overdue" in r.content.decode()
    assert client_as(c.u_wu).post(url, post).status_code == 404


# --- 村规民约 -------------------------------------------------------------------------------------------------------


def test_the_rules_page_records_drafts_and_puts_a_version_to_the_vote(county, clock, client_as):
    c = county
    zhou, zhang = client_as(c.u_zhou), client_as(c.u_zhang)
    url = f"/deliberation/rules/{c.v1.pk}/"
    r = zhou.get(url)
    assert r.status_code == 200 and r.context["current"] is None and r.context["manages"] is True
    assert zhang.post(f"{url}record/", {"text": RULES_V1, "adopted_on": "2020-05-01"}).status_code == 404
    r = zhou.post(f"{url}record/", {"text": RULES_V1, "adopted_on": "2020-13-01"}, follow=True)
    assert msgs(r) and RulesVersion.objects.count() == 0
    r = zhou.post(f"{url}record/", {"text": RULES_V1, "adopted_on": "2020-05-01"}, follow=True)
    assert msgs(r) == ["现行村规民约已录入。"] and r.context["current"].number == 1
    r = zhou.post(f"{url}record/", {"text": RULES_V1, "adopted_on": "2020-05-01"}, follow=True)
    assert msgs(r) and RulesVersion.objects.count() == 1
    new = {"summary": "加一条：红白喜事从简", "text": RULES_V1 + "\n第三条 红白喜事从简。"}
    assert zhang.post(url, new).status_code == 404
    r = zhou.post(url, {**new, "summary": "加\x00一条"}, follow=True)
    assert msgs(r) and RulesVersion.objects.count() == 1
    r = zhou.post(url, new, follow=True)
    assert msgs(r) == ["新版本已起草，请发起表决。"] and r.context["draft"].number == 2
    r = zhou.post(url, {**new, "summary": "另一稿"}, follow=True)
    assert msgs(r) and RulesVersion.objects.count() == 2  # one draft at a time
    draft = RulesVersion.objects.get(number=2)
    r = zhou.post(
        "/deliberation/votes/new/",
        {
            "rules": str(draft.pk),
            "question": "是否同意第2版村规民约？",
            "per": "household",
            "quorum": "two_thirds",
            "threshold": "majority",
            "secret": "on",
            "closes_at": "2026-11-25T18:00",
        },
        follow=True,
    )
    v = Vote.objects.get()
    assert (v.rules_id, v.node_id) == (draft.pk, c.v1.pk) and r.redirect_chain[-1][0] == f"/deliberation/votes/{v.pk}/"
    # Residents read the rules in force and the version being prepared.
    r = zhang.get(url)
    assert r.status_code == 200 and r.context["current"].number == 1 and r.context["draft"].pk == draft.pk
    page = r.content.decode()
    assert "东村 · 村规民约" in page and "第二条 不在河道倾倒垃圾" in page and "是否同意第2版村规民约？" in page
    # Not a village, or not one's own: 404.
    assert zhou.get(f"/deliberation/rules/{c.a1.pk}/").status_code == 404
    assert zhou.get(f"/deliberation/rules/{c.v2.pk}/").status_code == 404
    assert (
        zhou.post(f"/deliberation/rules/{c.v2.pk}/record/", {"text": RULES_V1, "adopted_on": "2020-05-01"}).status_code
        == 404
    )


# --- figures, scope, language -----------------------------------------------------------------------------------


def test_the_figures_page_is_for_the_town_not_for_residents(county, clock, client_as):
    c = county
    _propose(c)
    assert client_as(c.u_zhang).get("/deliberation/report/").status_code == 404
    assert client_as(c.u_li).get("/deliberation/report/").status_code == 404
    r = client_as(c.u_wu).get("/deliberation/report/")
    assert r.status_code == 200
    assert [(x.village.name, x.proposed) for x in r.context["rows"]] == [("东村", 1), ("西村", 0)]
    assert "各村村民议事情况" in r.content.decode()
    assert [x.village.name for x in client_as(c.u_qian).get("/deliberation/report/").context["rows"]] == [
        "东村",
        "西村",
        "南村",
    ]


def test_another_villages_pages_are_404(county, clock, client_as):
    c = county
    m = _propose(c)
    road = services.matter_agenda(matter=_propose(c, title="修路"), by=c.u_zhou)
    v = _vote(c, road)
    services.vote_open(vote=v, by=c.u_zhou)
    done = _done(c, clock, _propose(c, title="装路灯"))
    d = services.disclosure_publish(
        by=c.u_zhou, village=c.v1, kind="affairs", period="2026-10", title="十月村务", body="十月村务公开。"
    )
    services.rules_record(by=c.u_zhou, village=c.v1, text=RULES_V1, adopted_on=dt.date(2020, 5, 1))
    clients = {"黄婶": client_as(_huang(c)), "孙网格": client_as(c.u_sun)}  # logging in writes last_login
    before = db_fingerprint()
    for user, cl in clients.items():
        for url in (
            f"/deliberation/matters/{m.pk}/",
            f"/deliberation/votes/{v.pk}/",
            f"/deliberation/disclosures/{d.pk}/",
            f"/deliberation/rules/{c.v1.pk}/",
            f"/deliberation/?village={c.v1.pk}",
            f"/deliberation/disclosures/?village={c.v1.pk}",
            f"/deliberation/meetings/?village={c.v1.pk}",
        ):
            assert cl.get(url).status_code == 404, (user, url)
        for url, data in (
            (f"/deliberation/matters/{m.pk}/sign/", {}),
            (f"/deliberation/matters/{m.pk}/comment/", {"text": "我也支持"}),
            (f"/deliberation/matters/{done.pk}/rate/", {"stars": "5"}),
            (f"/deliberation/votes/{v.pk}/ballot/", {"option": str(v.options.first().pk)}),
            (f"/deliberation/disclosures/{d.pk}/", {"text": "钱花哪了？"}),
        ):
            assert cl.post(url, data).status_code == 404, (user, url)
    assert db_fingerprint() == before


def test_pages_are_chinese_by_default_and_english_on_request(county, clock, client_as):
    c = county
    m = _propose(c)
    zh_home = client_as(c.u_liu).get("/deliberation/").content.decode()
    assert "东村 · 阳光议事厅" in zh_home and "我要提议" in zh_home and "征集联名中" in zh_home
    assert "Sunshine deliberation hall" not in zh_home and "Propose a matter" not in zh_home
    en = client_as(c.u_liu, lang="en")
    en_home = en.get("/deliberation/").content.decode()
    assert "东村 · Sunshine deliberation hall" in en_home and "Propose a matter" in en_home
    assert "collecting signatures" in en_home and "阳光议事厅" not in en_home
    en_matter = en.get(f"/deliberation/matters/{m.pk}/").content.decode()
    assert "I support this (sign)" in en_matter and "我支持" not in en_matter
    r = en.post(f"/deliberation/matters/{m.pk}/sign/", follow=True)
    assert msgs(r) == ["Signed. Thank you."]
    r = en.post(f"/deliberation/matters/{m.pk}/comment/", {"text": "好\x00"}, follow=True)
    assert any("NUL characters are not allowed." in x for x in msgs(r))


@pytest.mark.parametrize("who", ["u_zhang", "u_zhou", "u_wu"])
def test_every_deliberation_page_a_person_reaches_draws(county, clock, client_as, who):
    c = county
    m = _propose(c)
    d = services.disclosure_publish(
        by=c.u_zhou, village=c.v1, kind="affairs", period="2026-10", title="十月村务", body="十月村务公开。"
    )
    cl = client_as(getattr(c, who))
    for url in (
        "/deliberation/",
        f"/deliberation/matters/{m.pk}/",
        "/deliberation/disclosures/",
        f"/deliberation/disclosures/{d.pk}/",
        f"/deliberation/rules/{c.v1.pk}/",
        "/deliberation/meetings/",
    ):
        assert cl.get(url).status_code == 200, (who, url)
