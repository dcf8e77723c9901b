"""The growing logs are kept as long as the settings say, and not a day less: what is still needed (an SMS
waiting to be sent, the events of a call not yet closed) stays whatever its age."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.management import call_command
from django.utils import translation

from core.models import PersonalDataAccess
from notify.models import Message
from privacy import retention
from sos import services as sos
from sos.models import Call, CallEvent

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2026, 12, 1, 9, 0, tzinfo=dt.UTC)


def _aged(model, pk: int, field: str, days: int) -> None:
    model.objects.filter(pk=pk).update(**{field: NOW - dt.timedelta(days=days)})


def _call(world, profile, *, resolved: bool, days: int) -> Call:
    call = sos.call_raise(profile=profile, kind="service", channel="button", by=world.c.u_zhang).call
    if resolved:
        Call.objects.filter(pk=call.pk).update(state="resolved")
    _aged(Call, call.pk, "raised_at", days)
    return call


def test_each_log_is_pruned_past_its_days_and_what_is_still_needed_stays(world, settings):
    c = world.c
    settings.RETENTION_DAYS = {"messages": 30, "call_events": 365, "webhook_attempts": 0, "access_log": 1095}
    Message.objects.all().delete()
    old_read = Message.objects.create(user=c.u_zhang, kind="t", text="旧消息", read_at=NOW)
    old_sms_sent = Message.objects.create(user=c.u_zhang, kind="t", text="旧短信", channel="sms", sent_at=NOW)
    old_sms_waiting = Message.objects.create(
        user=c.u_zhang, kind="t", text="待发短信", channel="sms", send_after=NOW, attempts=2
    )
    fresh = Message.objects.create(user=c.u_zhang, kind="t", text="新消息")
    for m in (old_read, old_sms_sent, old_sms_waiting):
        _aged(Message, m.pk, "created_at", 31)
    _aged(Message, fresh.pk, "created_at", 29)
    profile = sos.care_register(resident=c.zhang, by=c.u_li, reasons=["elderly_alone"])
    old_done = _call(world, profile, resolved=True, days=400)
    old_open = _call(world, profile, resolved=False, days=400)
    recent_done = _call(world, profile, resolved=True, days=10)
    events = {
        k: CallEvent.objects.filter(call=v).count() for k, v in (("a", old_done), ("b", old_open), ("c", recent_done))
    }
    assert all(events.values())
    seen_old = PersonalDataAccess.objects.create(user=c.u_li, resident=c.zhang, field="phone", channel="page")
    seen_recent = PersonalDataAccess.objects.create(user=c.u_li, resident=c.zhang, field="phone", channel="page")
    _aged(PersonalDataAccess, seen_old.pk, "at", 1096)
    _aged(PersonalDataAccess, seen_recent.pk, "at", 1094)
    messages_before = Message.objects.count()

    deleted = retention.prune(NOW, batch=2)

    assert deleted["messages"] == 2 and deleted["access_log"] == 1 and "webhook_attempts" not in deleted
    assert set(
        Message.objects.filter(pk__in=[old_read.pk, old_sms_sent.pk, old_sms_waiting.pk, fresh.pk]).values_list(
            "text", flat=True
        )
    ) == {"待发短信", "新消息"}
    assert Message.objects.count() == messages_before - 2
    assert deleted["call_events"] == events["a"]
    assert not CallEvent.objects.filter(call=old_done).exists() and Call.objects.filter(pk=old_done.pk).exists()
    assert CallEvent.objects.filter(call=old_open).count() == events["b"]
    assert CallEvent.objects.filter(call=recent_done).count() == events["c"]
    assert list(
        PersonalDataAccess.objects.filter(pk__in=[seen_old.pk, seen_recent.pk]).values_list("pk", flat=True)
    ) == [seen_recent.pk]
    # A second run finds nothing more.
    assert retention.prune(NOW) == {"messages": 0, "call_events": 0, "access_log": 0}


def test_kept_for_ever_by_default(world, settings):
    settings.RETENTION_DAYS = {}
    m = Message.objects.create(user=world.c.u_zhang, kind="t", text="很旧")
    _aged(Message, m.pk, "created_at", 5000)
    assert retention.prune(NOW) == {}
    assert Message.objects.filter(pk=m.pk).exists()


def test_the_nightly_command_prunes_and_says_so(world, settings, capsys):
    settings.RETENTION_DAYS = {"messages": 30}
    settings.PERSONAL_DATA_RETENTION_YEARS = 0
    m = Message.objects.create(user=world.c.u_zhang, kind="t", text="旧", read_at=NOW)
    Message.objects.filter(pk=m.pk).update(created_at=dt.datetime(2020, 1, 1, tzinfo=dt.UTC))
    with translation.override("en"):
        call_command("privacy_retention")
    out = capsys.readouterr().out
    assert "messages: " in out and "older than 30 days deleted" in out
    assert not Message.objects.filter(pk=m.pk).exists()
