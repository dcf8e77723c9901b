"""民事民决: votes are exact and, when secret, unlinkable. The roll is frozen at opening (moving in later gives
no vote, moving out later takes none away); a ballot is one row per roll entry, online and paper alike; quorum
and threshold hold at their boundaries; a failed quorum says so; bad input changes nothing."""

from __future__ import annotations

import datetime as dt

import pytest

from core.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from deliberation import selectors, services
from deliberation.models import Matter, Option, Turnout, Vote, Voter
from deliberation.tests.conftest import add_households
from org import services as org
from org.models import Resident
from workorders.tests.helpers import at

API = "/api/v1/deliberation"


def post(client, url, body=None):
    return client.post(url, body or {}, content_type="application/json")


def _matter(c, **kw) -> Matter:
    m = services.matter_propose(by=c.u_zhang, title="修通组公路", body="A1湾组到村部的路坑洼不平，雨天难走。", **kw)
    return services.matter_agenda(matter=m, by=c.u_zhou)


def _vote(c, matter=None, **kw) -> Vote:
    kw.setdefault("closes_at", at("2026-11-25 18:00"))
    kw.setdefault("question", "是否同意修路？")
    return services.vote_create(by=c.u_zhou, matter=matter or _matter(c), **kw)


def _opt(v: Vote, label: str) -> Option:
    return v.options.get(label=label)


def _snapshot(v: Vote):
    return (
        Turnout.objects.filter(vote=v).count(),
        list(v.options.order_by("sort").values_list("count", flat=True)),
        Vote.objects.get(pk=v.pk).invalid,
    )


def test_a_household_vote_from_set_up_to_the_published_result(county, clock, client_as):
    c = county
    v = _vote(c)
    assert v.state == "draft" and Matter.objects.get(pk=v.matter_id).state == "agenda"
    services.vote_open(vote=v, by=c.u_zhou)
    # 东村: 张阿姨's, 刘党员's and 陈大爷's households; 刘's adults are 刘党员 and 刘妻 (not 刘小宝, 11).
    assert v.eligible == 3 and Matter.objects.get(pk=v.matter_id).state == "voting"
    liu_roll = Voter.objects.get(vote=v, household=c.h_liu)
    assert sorted(liu_roll.electors.values_list("resident__name", flat=True)) == ["刘党员", "刘妻"]
    zhang = client_as(c.u_zhang)
    r = post(zhang, f"{API}/votes/{v.pk}/ballot", {"option_id": _opt(v, "同意").pk})
    assert r.status_code == 200, r.content
    assert r.json()["voted"] is True and r.json()["voted_how"] == "online" and r.json()["options"][0]["votes"] is None
    again = post(zhang, f"{API}/votes/{v.pk}/ballot", {"option_id": _opt(v, "不同意").pk})
    assert again.status_code == 409 and again.json()["error"]["code"] == "vote.already_voted"
    # 陈大爷 has no phone: the village enters the paper sheet of the meeting with him checked off.
    chen = Voter.objects.get(vote=v, household=c.h_chen)
    services.vote_paper(vote=v, by=c.u_zhou, sheet=services.SheetIn({_opt(v, "同意").pk: 1}, 0, [chen.pk]))
    early = post(client_as(c.u_zhou), f"{API}/votes/{v.pk}/count")
    assert early.status_code == 409 and early.json()["error"]["code"] == "vote.still_open"
    clock.set("2026-11-25 18:00")
    late = post(client_as(c.u_liu), f"{API}/votes/{v.pk}/ballot", {"option_id": _opt(v, "同意").pk})
    assert late.status_code == 409 and late.json()["error"]["code"] == "vote.closed"
    r = post(client_as(c.u_zhou), f"{API}/votes/{v.pk}/count")
    assert r.status_code == 200, r.content
    out = r.json()
    # 2 of 3 took part: exactly two thirds is a quorum; 2 of 2 agree.
    assert (out["state"], out["outcome"], out["turnout"], out["eligible"], out["needed"]) == (
        "counted",
        "passed",
        2,
        3,
        2,
    )
    assert [(o["label"], o["votes"]) for o in out["options"]] == [("同意", 2), ("不同意", 0), ("弃权", 0)]
    assert Matter.objects.get(pk=v.matter_id).state == "passed"
    # Published: the residents read the result; nothing more can come in.
    assert client_as(c.u_liu).get(f"{API}/votes/{v.pk}").json()["turnout"] == 2
    with pytest.raises(Conflict):
        services.vote_paper(vote=v, by=c.u_zhou, sheet=services.SheetIn({_opt(v, "同意").pk: 1}, 0, [liu_roll.pk]))


@pytest.mark.parametrize(
    ("quorum", "eligible", "took", "met"),
    [
        ("two_thirds", 3, 2, True),
        ("two_thirds", 3, 1, False),
        ("two_thirds", 6, 4, True),
        ("two_thirds", 6, 3, False),
        ("two_thirds", 7, 5, True),
        ("two_thirds", 7, 4, False),
        ("half", 4, 3, True),
        ("half", 4, 2, False),
        ("half", 5, 3, True),
        ("none", 5, 1, True),
    ],
)
def test_the_quorum_at_its_boundary(quorum, eligible, took, met):
    assert (took >= services.quorum_needed(quorum, eligible)) is met
    v = Vote(quorum=quorum, threshold="majority", eligible=eligible)
    opts = [Option(label="同意", approves=True, count=took), Option(label="不同意", count=0)]
    assert services.compute(v, opts, took, 0).outcome == ("passed" if met else "no_quorum")


@pytest.mark.parametrize(
    ("threshold", "yes", "no", "passes"),
    [
        ("two_thirds", 2, 1, True),
        ("two_thirds", 20, 10, True),
        ("two_thirds", 19, 10, False),
        ("two_thirds", 1, 1, False),
        ("majority", 2, 1, True),
        ("majority", 5, 5, False),
        ("majority", 6, 5, True),
        ("majority", 1, 0, True),
    ],
)
def test_the_threshold_at_its_boundary(threshold, yes, no, passes):
    v = Vote(quorum="none", threshold=threshold, eligible=100)
    opts = [Option(label="同意", approves=True, count=yes), Option(label="不同意", count=no)]
    r = services.compute(v, opts, yes + no, 0)
    assert r.outcome == ("passed" if passes else "failed"), r


def test_abstentions_count_as_cast_and_a_choice_vote_needs_a_single_winner():
    v = Vote(quorum="none", threshold="majority", eligible=10)
    opts = [
        Option(label="同意", approves=True, count=4),
        Option(label="不同意", count=2),
        Option(label="弃权", count=3),
    ]
    assert services.compute(v, opts, 9, 0).outcome == "failed"  # 4 of 9 is not more than half
    assert services.compute(v, [Option(label="同意", approves=True)], 0, 0).outcome == "no_quorum"  # nobody came
    choose = [Option(label="东线", count=3), Option(label="西线", count=3)]
    assert services.compute(v, choose, 6, 0).outcome == "failed"  # a tie decides nothing
    choose[0].count = 4
    assert services.compute(v, choose, 7, 0).outcome == "passed"


def test_a_failed_quorum_says_so_and_the_matter_can_go_back_on_the_agenda(county, clock, client_as):
    c = county
    v = _vote(c)
    services.vote_open(vote=v, by=c.u_zhou)
    services.vote_cast(vote=v, by=c.u_zhang, option_id=_opt(v, "同意").pk)
    clock.set("2026-11-26 09:00")
    r = services.vote_count(vote=v, by=c.u_zhou)
    assert (r.outcome, r.turnout, r.needed, r.winner) == ("no_quorum", 1, 2, None)
    page = client_as(c.u_zhang).get(f"/deliberation/votes/{v.pk}/").content.decode()
    assert "参与人数不足" in page
    m = Matter.objects.get(pk=v.matter_id)
    assert m.state == "failed"
    services.matter_agenda(matter=m, by=c.u_zhou)
    assert Matter.objects.get(pk=m.pk).state == "agenda"


def test_the_roll_is_frozen_at_opening_moving_in_gives_no_vote_moving_out_takes_none(county, clock):
    c = county
    v = _vote(c, per="person")
    services.vote_open(vote=v, by=c.u_zhou)
    # Adults of 东村 at opening: 张阿姨, 刘党员, 刘妻, 陈大爷 (刘小宝 is 11).
    assert v.eligible == 4
    # 黄婶 of 西村 moves into 东村 after the vote opened: not on the roll.
    newcomer = org.household_create(grid=c.a1, address="东村A1湾组9号", number="9")
    Resident.objects.filter(pk=c.huang.pk).update(household=newcomer, path=newcomer.path)
    from accounts import services as accounts

    u_huang = accounts.user_create(username="huang", password="x-Password-123", display_name="黄婶")
    Resident.objects.filter(pk=c.huang.pk).update(user=u_huang)
    with pytest.raises(PermissionDenied) as e:
        services.vote_cast(vote=v, by=u_huang, option_id=_opt(v, "同意").pk)
    assert e.value.code == "vote.not_on_roll"
    # 张阿姨 moves out to 西村 after opening: she was on the roll and still votes, and reads the vote.
    Resident.objects.filter(pk=c.zhang.pk).update(household=c.h_huang, path=c.h_huang.path)
    assert selectors.my_ballot(c.u_zhang, v).voter is not None
    services.vote_cast(vote=v, by=c.u_zhang, option_id=_opt(v, "同意").pk)
    assert Turnout.objects.filter(vote=v).count() == 1
    assert Voter.objects.filter(vote=v).count() == 4


def test_a_secret_ballot_leaves_nothing_that_links_a_voter_to_a_choice(county, clock, client_as):
    c = county
    v = _vote(c, secret=True)
    services.vote_open(vote=v, by=c.u_zhou)
    services.vote_cast(vote=v, by=c.u_zhang, option_id=_opt(v, "不同意").pk)
    services.vote_cast(vote=v, by=c.u_liu, option_id=_opt(v, "同意").pk)
    rows = list(Turnout.objects.filter(vote=v).values())
    assert [(r["option_id"], r["cast_by_id"], r["channel"]) for r in rows] == [(None, None, "online")] * 2
    # The committee's roll says who voted and how it came in, never what.
    roll = client_as(c.u_zhou).get(f"{API}/votes/{v.pk}/roll?voted=true").json()
    assert {r["how"] for r in roll["items"]} == {"online"} and roll["count"] == 2
    assert all(set(r) == {"id", "label", "voted", "how"} for r in roll["items"])
    # Before the count nobody reads the tally, the committee neither.
    assert [o["votes"] for o in client_as(c.u_zhou).get(f"{API}/votes/{v.pk}").json()["options"]] == [None] * 3
    # The admin's list of ballots has no column for the choice.
    from deliberation.admin import TurnoutAdmin

    assert "option" not in TurnoutAdmin.list_display and "option" in TurnoutAdmin.exclude
    # An open ballot keeps the choice, for the record.
    clock.set("2026-11-26 09:00")
    services.vote_count(vote=v, by=c.u_zhou)
    m2 = _matter(c)
    open_vote = _vote(c, matter=m2, secret=False, closes_at=at("2026-11-30 18:00"))
    services.vote_open(vote=open_vote, by=c.u_zhou)
    services.vote_cast(vote=open_vote, by=c.u_zhang, option_id=_opt(open_vote, "同意").pk)
    t = Turnout.objects.get(vote=open_vote)
    assert (t.option.label, t.cast_by_id) == ("同意", c.zhang.pk)


def test_a_paper_sheet_must_add_up_and_never_lets_anyone_vote_twice(county, clock, client_as):
    c = county
    add_households(c.a2, 4, login=False)
    v = _vote(c)
    services.vote_open(vote=v, by=c.u_zhou)
    assert v.eligible == 7
    services.vote_cast(vote=v, by=c.u_zhang, option_id=_opt(v, "同意").pk)
    zhang_roll = Voter.objects.get(vote=v, household=c.h_zhang).pk
    others = list(Voter.objects.filter(vote=v).exclude(pk=zhang_roll).values_list("pk", flat=True))
    yes, no = _opt(v, "同意").pk, _opt(v, "不同意").pk
    before = _snapshot(v)
    zhou = client_as(c.u_zhou)
    bad = [
        ({"counts": [{"option_id": yes, "ballots": 2}], "voter_ids": others[:3]}, 422, "sheet.unbalanced"),
        ({"counts": [{"option_id": yes, "ballots": 1}], "voter_ids": [zhang_roll]}, 409, "vote.already_voted"),
        ({"counts": [{"option_id": 999999, "ballots": 1}], "voter_ids": others[:1]}, 422, "vote.bad_option"),
        ({"counts": [{"option_id": yes, "ballots": 1}], "voter_ids": [999999]}, 422, "sheet.not_on_roll"),
        ({"counts": [{"option_id": yes, "ballots": 2}], "voter_ids": [others[0], others[0]]}, 422, "sheet.twice"),
        ({"counts": [{"option_id": yes, "ballots": 7}], "voter_ids": [*others, zhang_roll]}, 422, "sheet.exceeds_roll"),
        ({"counts": [{"option_id": yes, "ballots": -1}], "voter_ids": others[:1]}, 422, "validation"),
        ({"counts": [{"option_id": yes, "ballots": 1}], "voter_ids": others[:1], "note": "a\x00b"}, 400, ""),
        ({"counts": [{"option_id": yes, "ballots": 1}], "voter_ids": others[:1], "note": "长" * 201}, 422, ""),
    ]
    for body, status, code in bad:
        r = post(zhou, f"{API}/votes/{v.pk}/sheets", body)
        assert r.status_code == status, (body, r.content)
        if code and code != "validation":
            assert r.json()["error"]["code"] == code, (body, r.content)
        assert _snapshot(v) == before, body
    # A resident may not enter a sheet; another village's staff do not find the vote.
    assert (
        post(
            client_as(c.u_zhang),
            f"{API}/votes/{v.pk}/sheets",
            {"counts": [{"option_id": yes, "ballots": 1}], "voter_ids": others[:1]},
        ).status_code
        == 404
    )
    ok = post(
        zhou,
        f"{API}/votes/{v.pk}/sheets",
        {
            "counts": [{"option_id": yes, "ballots": 3}, {"option_id": no, "ballots": 1}],
            "invalid": 1,
            "voter_ids": others[:5],
            "idempotency_key": "sheet-1",
        },
    )
    assert ok.status_code == 201, ok.content
    # The same sheet posted twice (a retry) is entered once.
    again = post(
        zhou,
        f"{API}/votes/{v.pk}/sheets",
        {
            "counts": [{"option_id": yes, "ballots": 3}, {"option_id": no, "ballots": 1}],
            "invalid": 1,
            "voter_ids": others[:5],
            "idempotency_key": "sheet-1",
        },
    )
    assert again.status_code == 201 and again.json()["id"] == ok.json()["id"]
    assert _snapshot(v) == (6, [4, 1, 0], 1)
    clock.set("2026-11-26 09:00")
    r = services.vote_count(vote=v, by=c.u_zhou)
    # 6 of 7 took part (5 needed); 4 of the 5 valid ballots agree.
    assert (r.turnout, r.invalid, r.valid, r.outcome) == (6, 1, 5, "passed")


def test_bad_ballots_and_bad_votes_change_nothing(county, clock, client_as):
    c = county
    m = _matter(c)
    zhou = client_as(c.u_zhou)
    before = Vote.objects.count()
    for body, status in [
        ({"question": "修路？", "matter_id": m.pk, "closes_at": "2026-11-18T10:05:00+08:00"}, 422),
        ({"question": "修路？", "matter_id": m.pk, "closes_at": "2027-11-18T10:05:00+08:00"}, 422),
        ({"question": "修路？", "matter_id": m.pk, "closes_at": "2026-11-25T10:00:00+08:00", "options": ["甲"]}, 422),
        (
            {
                "question": "修路？",
                "matter_id": m.pk,
                "closes_at": "2026-11-25T10:00:00+08:00",
                "options": ["甲", "甲"],
            },
            422,
        ),
        ({"question": "修路？", "matter_id": m.pk, "closes_at": "2026-11-25T10:00:00+08:00", "per": "dog"}, 422),
        ({"question": "修" * 201, "matter_id": m.pk, "closes_at": "2026-11-25T10:00:00+08:00"}, 422),
        ({"question": "修\x00路", "matter_id": m.pk, "closes_at": "2026-11-25T10:00:00+08:00"}, 400),
        ({"question": "修路？", "matter_id": m.pk, "closes_at": "not a time"}, 422),
    ]:
        r = post(zhou, f"{API}/votes", body)
        assert r.status_code == status, (body, r.content)
    assert Vote.objects.count() == before
    # Residents and other villages' staff set up no votes.
    body = {"question": "修路？", "matter_id": m.pk, "closes_at": "2026-11-25T10:00:00+08:00"}
    assert post(client_as(c.u_zhang), f"{API}/votes", body).status_code == 404
    assert post(client_as(c.u_sun), f"{API}/votes", body).status_code == 404
    v = _vote(c, matter=m)
    with pytest.raises(Conflict):  # not open yet
        services.vote_cast(vote=v, by=c.u_zhang, option_id=_opt(v, "同意").pk)
    services.vote_open(vote=v, by=c.u_zhou)
    zhang = client_as(c.u_zhang)
    r = post(zhang, f"{API}/votes/{v.pk}/ballot", {"option_id": 999999})
    assert r.status_code == 422 and r.json()["error"]["code"] == "vote.bad_option"
    assert post(zhang, f"{API}/votes/{v.pk}/ballot", {"option_id": "x"}).status_code == 422
    assert post(zhang, f"{API}/votes/{v.pk}/ballot", {}).status_code == 422
    # 孙大伯 of 南村 cannot read the vote at all; 孙网格 of 南镇 neither.
    assert client_as(c.u_sun).get(f"{API}/votes/{v.pk}").status_code == 404
    assert Turnout.objects.count() == 0
    # A staff member is on no roll (a login with no resident record).
    with pytest.raises(PermissionDenied):
        services.vote_cast(vote=v, by=c.u_zhou, option_id=_opt(v, "同意").pk)
    with pytest.raises(NotFound):
        services.vote_open(vote=v, by=c.u_zhang)
    with pytest.raises(Conflict):
        services.vote_open(vote=v, by=c.u_zhou)  # already open
    with pytest.raises(ValidationFailed):
        services.vote_cancel(vote=v, by=c.u_zhou, reason="")


def test_cancelling_an_open_vote_puts_the_matter_back_on_the_agenda(county, clock):
    c = county
    v = _vote(c)
    services.vote_open(vote=v, by=c.u_zhou)
    services.vote_cancel(vote=v, by=c.u_zhou, reason="选项写错了")
    assert (Vote.objects.get(pk=v.pk).state, Matter.objects.get(pk=v.matter_id).state) == ("cancelled", "agenda")
    with pytest.raises(Conflict):
        services.vote_cast(vote=v, by=c.u_zhang, option_id=_opt(v, "同意").pk)


def test_a_grid_vote_has_the_grid_on_its_roll(county, clock):
    c = county
    m = services.matter_propose(by=c.u_zhang, title="A1湾组装路灯", body="湾组路口太黑，想装两盏太阳能灯。", node=c.a1)
    services.matter_agenda(matter=m, by=c.u_zhou)
    v = services.vote_create(by=c.u_zhou, matter=m, question="是否同意？", closes_at=at("2026-11-25 18:00"))
    services.vote_open(vote=v, by=c.u_zhou)
    assert sorted(Voter.objects.filter(vote=v).values_list("household_id", flat=True)) == sorted(
        [c.h_zhang.pk, c.h_liu.pk]
    )
    # The grid's matter takes no vote of the whole village.
    with pytest.raises(ValidationFailed):
        services.vote_create(by=c.u_zhou, matter=m, node=c.v1, question="是否同意？", closes_at=at("2026-11-25 18:00"))


@pytest.mark.django_db(transaction=True)
def test_two_hundred_voters_at_once_give_a_tally_equal_to_the_ballots_stored(county, settings):
    """Real threads, real connections (SQLite here, PostgreSQL in the second run of `make test`): 200 households
    vote at once, and 20 of them a second time at the same moment; the count equals the ballots stored."""
    from django.test import Client

    from workorders.tests.test_concurrency import run_threads

    c = county
    users = add_households(c.a2, 200)
    m = services.matter_propose(by=c.u_zhang, title="修通组公路", body="A1湾组到村部的路坑洼不平，雨天难走。")
    services.matter_agenda(matter=m, by=c.u_zhou)
    closes = dt.datetime.now(dt.UTC) + dt.timedelta(days=2)
    v = services.vote_create(by=c.u_zhou, matter=m, question="是否同意修路？", closes_at=closes, secret=True)
    services.vote_open(vote=v, by=c.u_zhou)
    assert v.eligible == 203
    opts = list(v.options.order_by("sort").values_list("pk", flat=True))
    clients = []
    for u in users + users[:20]:
        client = Client()
        client.force_login(u, backend="django.contrib.auth.backends.ModelBackend")
        clients.append(client)

    def cast(i, go):
        go()
        return (
            clients[i]
            .post(f"{API}/votes/{v.pk}/ballot", {"option_id": opts[i % 3]}, content_type="application/json")
            .status_code
        )

    results = run_threads(len(clients), cast)
    assert results.count(200) == 200 and results.count(409) == 20, sorted(set(results))
    stored = Turnout.objects.filter(vote=v).count()
    counts = list(Option.objects.filter(vote=v).order_by("sort").values_list("count", flat=True))
    assert stored == 200 == sum(counts)
    assert Turnout.objects.filter(vote=v).values("voter").distinct().count() == 200


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("rounds", [3])
def test_a_paper_sheet_and_an_online_ballot_of_the_same_household_at_once_count_once(county, rounds):
    """The household votes online while the village enters a sheet that checks it off: one of the two is in,
    the other is refused whole; the tally always equals the ballots stored."""
    from workorders.tests.test_concurrency import run_threads

    c = county
    for r in range(rounds):
        m = services.matter_propose(by=c.u_zhang, title=f"修路{r}", body="A1湾组到村部的路坑洼不平。")
        services.matter_agenda(matter=m, by=c.u_zhou)
        closes = dt.datetime.now(dt.UTC) + dt.timedelta(days=2)
        v = services.vote_create(by=c.u_zhou, matter=m, question="是否同意修路？", closes_at=closes)
        services.vote_open(vote=v, by=c.u_zhou)
        yes, no = _opt(v, "同意").pk, _opt(v, "不同意").pk
        zhang = Voter.objects.get(vote=v, household=c.h_zhang).pk
        chen = Voter.objects.get(vote=v, household=c.h_chen).pk
        sheet = services.SheetIn({yes: 1, no: 1}, 0, [zhang, chen])

        def move(i, go, v=v, sheet=sheet, yes=yes):
            go()
            try:
                if i == 0:
                    services.vote_cast(vote=Vote.objects.get(pk=v.pk), by=c.u_zhang, option_id=yes)
                else:
                    services.vote_paper(vote=Vote.objects.get(pk=v.pk), by=c.u_zhou, sheet=sheet)
            except Conflict as exc:
                return exc.code
            return "ok"

        results = run_threads(2, move)
        assert sorted(results) == ["ok", "vote.already_voted"], results
        stored = Turnout.objects.filter(vote=v).count()
        counts = list(Option.objects.filter(vote=v).values_list("count", flat=True))
        assert Turnout.objects.filter(vote=v, voter_id=zhang).count() == 1
        assert stored == sum(counts) == (1 if results[0] == "ok" else 2)


def test_the_votes_list_reads_the_same_few_queries_for_two_votes_or_six(county, clock, client_as, steady_memo):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    c = county
    zhang = client_as(c.u_zhang)

    def queries() -> int:
        with CaptureQueriesContext(connection) as ctx:
            assert zhang.get(f"{API}/votes").status_code == 200
        return len(ctx.captured_queries)

    for _ in range(2):
        services.vote_open(vote=_vote(c), by=c.u_zhou)
    queries()  # the first request of a session reads what later ones have cached
    two = queries()
    for _ in range(4):
        services.vote_open(vote=_vote(c), by=c.u_zhou)
    assert queries() == two
