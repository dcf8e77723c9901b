"""The demo's household work, played on the persona county: three months of visits with needs, the
latest open needs relayed as work orders through the services, and nothing written outside the rules."""

from __future__ import annotations

import pytest

from demo.party import seed_party
from partylink.models import Need, Visit
from partylink.selectors import period_bounds, standings
from workorders.models import WorkOrder
from workorders.tests.helpers import at


@pytest.mark.django_db
def test_three_months_of_visits_with_needs_some_relayed(world):
    c = world.c
    end = at("2026-11-25 18:00")
    s = seed_party(seed=2, end=end)
    visits = list(Visit.objects.all())
    assert s.visits == len(visits) > 0
    assert all(v.visited_at <= end for v in visits)
    assert min(v.visited_at for v in visits) >= period_bounds("month", at("2026-08-15 12:00"))[0]
    assert {v.household_id for v in visits} <= {c.h_zhang.pk, c.h_chen.pk}  # only linked households
    assert all(v.member_id == c.liu.party_member.pk for v in visits)
    relayed = Need.objects.filter(state="relayed")
    assert relayed.count() == s.orders == WorkOrder.objects.count()
    assert all(n.order.owner.household_id == n.household_id for n in relayed)
    assert {x.state for x in standings([c.h_zhang, c.h_chen], at=end).values()} <= {"due", "overdue", "done"}


@pytest.mark.django_db
def test_practical_projects_in_every_state_through_the_services(world):
    from partylink.models import Project

    seed_party(seed=1, end=at("2026-11-25 18:00"))
    projects = list(Project.objects.all())
    assert projects and all(p.lead.resident.household.path.startswith(p.path) or p.lead.branch.path.startswith(p.path)
                            for p in projects)  # fmt: skip
    done = [p for p in projects if p.state == "done"]
    assert all(p.progress == 100 and p.done_at is not None for p in done)
