"""The demo year of work orders: every queue has something in it, and the numbers look like a county's."""

from __future__ import annotations

import datetime as dt
import io

import pytest
from django.core.management import call_command
from django.db.models import Count

from core.clock import SHANGHAI
from demo.workorders import seed_orders
from workorders.models import Event, Rating, WorkOrder
from workorders.states import OPEN_STATES

# A demo county is built through the services: seconds each. `make test-fast` leaves these out.
pytestmark = pytest.mark.slow


@pytest.mark.django_db
def test_demo_year_of_orders(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    out = io.StringIO()
    call_command("seed_demo", scale="small", seed=1, orders=0, stdout=out)
    end = dt.datetime(2026, 11, 20, 16, 0, tzinfo=SHANGHAI)
    made = seed_orders(count=160, seed=3, end=end)
    assert made >= 150
    # Besides those relayed from visits and the 12345 hotline's (demo.integrations).
    assert WorkOrder.objects.filter(need__isnull=True, hotline__isnull=True).count() == made
    states = dict(WorkOrder.objects.values_list("state").annotate(n=Count("id")).order_by())
    assert states.get("closed", 0) > made / 2
    assert sum(n for s, n in states.items() if s in OPEN_STATES) >= 3, states
    # Timing spans the year, most recent most dense.
    first = WorkOrder.objects.order_by("created_at").first().created_at
    assert (end - first).days > 120
    # Some returned, some reopened, ratings mostly good with a few bad.
    assert Event.objects.filter(action="return").exists()
    assert WorkOrder.objects.filter(round__gt=1).exists()
    good = Rating.objects.filter(satisfaction__gte=4).count()
    bad = Rating.objects.filter(satisfaction__lte=2).count()
    assert good > 3 * bad > 0
    # The worker ran at the end: nothing it should have acted on is still due.
    assert not WorkOrder.objects.filter(next_check_at__lte=end).exists()
    # Every order's timeline starts with its submission.
    for o in WorkOrder.objects.all()[:50]:
        assert o.events.order_by("id").first().action == "submit"
