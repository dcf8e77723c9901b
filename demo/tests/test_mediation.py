"""The demo's disputes: six months of cases in the demo town, most settled in the grid or village, some at the town
or referred; open ones (one past its time limit), an agreement kept through its follow-ups and one broken, a red flag
the town was told of — all through the services."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command

from accounts.models import User
from mediation import reports, selectors
from mediation.models import Case, FollowUp
from notify.models import Message


@pytest.mark.django_db
def test_the_demo_has_disputes_in_every_stage(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    call_command("seed_demo", scale="small", seed=1, orders=0, calls=0, points=0, stdout=io.StringIO())
    states = set(Case.objects.values_list("state", flat=True))
    assert {"settled", "mediating", "reported"} <= states, states
    levels = set(Case.objects.exclude(level="").values_list("level", flat=True))
    assert {"grid", "village", "town", "outside"} <= levels, levels
    assert Case.objects.filter(state="mediating", overdue=True).exists()
    assert FollowUp.objects.filter(state="kept").exists() and FollowUp.objects.filter(state="broken").exists()
    town = User.objects.get(username="town")
    assert Message.objects.filter(user=town, kind="mediation.red_flag").exists()
    village = User.objects.get(username="village")
    mine = selectors.cases_for(village)
    assert mine.exists() and selectors.is_mediator(village)
    node = reports.report_node(town, None)
    rep = reports.settlement(node, start=Case.objects.earliest("created_at").created_at.date(), end=node_today())
    assert rep.total.reported == Case.objects.exclude(state="declined").count()
    assert 0 < rep.total.village_rate < 1
    assert not selectors.cases_for(User.objects.get(username="dept")).exists()


def node_today():
    from core.clock import today

    return today()
