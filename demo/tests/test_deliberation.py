"""The demo's village deliberation: matters in every stage, votes counted from online ballots and paper tally
sheets (the tally equal to the ballots stored), an open vote the demo resident is on the roll of, postings with
one village behind (flagged), and village rules with a version adopted by a vote — all through the services."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command

from accounts.models import User
from deliberation import selectors
from deliberation.models import Matter, Option, RulesVersion, Turnout, Vote


@pytest.mark.django_db
def test_the_demo_has_deliberation_in_every_stage(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    call_command("seed_demo", scale="small", seed=1, orders=0, calls=0, points=0, stdout=io.StringIO())
    states = set(Matter.objects.values_list("state", flat=True))
    assert {"proposed", "voting", "failed", "done", "declined", "merged", "doing"} <= states, states
    counted = Vote.objects.filter(state="counted")
    assert counted.count() >= 3
    for v in counted:
        channels = set(Turnout.objects.filter(vote=v).values_list("channel", flat=True))
        assert channels == {"online", "paper"} or channels == {"paper"}, channels
        assert v.turnout == Turnout.objects.filter(vote=v).count()
        assert sum(Option.objects.filter(vote=v).values_list("count", flat=True)) + v.invalid == v.turnout
    assert any(set(Turnout.objects.filter(vote=v).values_list("channel", flat=True)) == {"online", "paper"}
               for v in counted)  # fmt: skip
    resident = User.objects.get(username="resident")
    open_vote = Vote.objects.get(state="open")
    assert selectors.my_ballot(resident, open_vote).voter is not None
    assert set(RulesVersion.objects.values_list("state", flat=True)) >= {"adopted", "superseded"}
    town = User.objects.get(username="town")
    assert selectors.overdue(selectors.watch_paths(town)), "one village is behind on its postings"
    assert all(r.passed >= 1 for r in selectors.report(selectors.watch_paths(town)))
