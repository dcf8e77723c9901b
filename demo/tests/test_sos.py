"""The demo year of one-key calls: registered people with chains, calls that look like a village's."""

from __future__ import annotations

import datetime as dt
import io

import pytest
from django.core.management import call_command
from django.db.models import Count

from core.clock import SHANGHAI
from demo.sos import seed_calls
from notify.models import Message
from sos.models import Call, CallEvent, CareProfile

# A demo county is built through the services: seconds each. `make test-fast` leaves these out.
pytestmark = pytest.mark.slow


@pytest.mark.django_db
def test_demo_year_of_calls():
    call_command("seed_demo", scale="small", seed=1, orders=0, calls=0, stdout=io.StringIO())
    assert CareProfile.objects.count() == 0  # --calls 0 registers nobody
    end = dt.datetime(2026, 11, 20, 16, 0, tzinfo=SHANGHAI)
    made = seed_calls(count=80, seed=5, profiles=20, end=end)
    assert made >= 70
    assert CareProfile.objects.filter(resident__user__username="resident").exists()  # the demo login can call
    assert all(p.chain.exists() and p.contacts.exists() for p in CareProfile.objects.all())
    states = dict(Call.objects.values_list("state").annotate(n=Count("id")).order_by())
    assert set(states) <= {"resolved", "cancelled"} and states["resolved"] > made * 0.85, states
    assert 0 < Call.objects.filter(level__gt=0).count() < made / 2  # some escalated, most not
    assert not Call.objects.filter(escalate_at__isnull=False).exists()
    raised = Call.objects.values_list("raised_at", flat=True)
    assert min(raised) < end - dt.timedelta(days=200) and max(raised) < end
    for c in Call.objects.filter(state="resolved")[:20]:
        assert c.raised_at < c.acknowledged_at < c.arrived_at < c.resolved_at
        assert CallEvent.objects.filter(call=c, action="resolve").count() == 1
    assert not Message.objects.filter(kind__startswith="sos.", sent_at__isnull=True).exists()
