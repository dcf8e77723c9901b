"""The demo county's notices and events: each reaches the demo logins it is meant for, and the week's events
take sign-ups within their places."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command

from accounts.models import User
from notices import selectors
from notices.models import Attendance, Event, Notice

pytestmark = pytest.mark.slow  # a demo county is built through the services


@pytest.mark.django_db
def test_the_demo_has_notices_for_each_audience_and_events_this_week(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    call_command("seed_demo", scale="small", seed=1, orders=0, calls=0, points=0, stdout=io.StringIO())
    users = {u.username: u for u in User.objects.filter(username__in=["resident", "party", "grid", "town"])}
    titles = {name: {n.title for n in selectors.notices_for(u)} for name, u in users.items()}
    assert "党员冬训通知" in titles["party"] and "党员冬训通知" not in titles["resident"]
    assert "关于做好今冬明春森林防火工作的通知" in titles["resident"]
    assert "本周五下午召开网格员工作例会" in titles["grid"] and "本周五下午召开网格员工作例会" not in titles["resident"]
    assert selectors.notices_for(users["resident"]).first().pinned  # pinned first
    assert Notice.objects.count() == 4 and Event.objects.count() == 4
    for e in Event.objects.all():
        assert e.taken == Attendance.objects.filter(event=e, state="signed_up").count() <= e.capacity
