"""The retention rule anonymises the personal fields of orders closed long enough ago, and only those, and
leaves every number the dashboards count."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.management import call_command
from django.db.models import Count
from django.utils import translation

from dashboards.models import Dirty
from privacy.models import AnonymisedOrder
from privacy.services import PLACEHOLDER, anonymise_closed_orders
from workorders.models import Event, Rating, WorkOrder
from workorders.states import State
from workorders.tests.helpers import at, order_in

pytestmark = pytest.mark.django_db

KEPT = ("state", "category_id", "kind", "channel", "path", "grid_id", "department_id", "created_at",
        "dispatched_at", "accepted_at", "resolved_at", "closed_at", "overdue", "respond_overdue", "round",
        "close_reason", "excluded")  # fmt: skip


def _tallies() -> dict:
    by_state = dict(WorkOrder.objects.values_list("state").annotate(n=Count("id")).values_list("state", "n"))
    by_cat = dict(WorkOrder.objects.values_list("category_id").annotate(n=Count("id")).values_list("category_id", "n"))
    scores = sorted(Rating.objects.values_list("order_id", "solved", "satisfaction"))
    return {"state": by_state, "category": by_cat, "ratings": scores}


def _orders(world, clock):
    clock.set("2021-03-02 10:00")
    old_closed = order_in(world, State.CLOSED, address="东村A1湾组1号门口", contact_phone="13800001234")
    old_cancelled = order_in(world, State.CANCELLED, text="张阿姨家门口积水")
    old_open = order_in(world, State.DISPATCHED, text="一直没人来修")
    clock.set("2025-06-01 10:00")
    recent_closed = order_in(world, State.CLOSED)
    return old_closed, old_cancelled, old_open, recent_closed


def test_only_old_closed_orders_lose_their_personal_fields_and_the_numbers_stay(world, clock):
    c = world.c
    old_closed, old_cancelled, old_open, recent_closed = _orders(world, clock)
    before = _tallies()
    kept_before = {o["id"]: o for o in WorkOrder.objects.values("id", *KEPT)}
    dirty_before = set(Dirty.objects.values_list("order_id", "seq"))
    clock.set("2026-01-10 10:00")

    assert anonymise_closed_orders(at("2026-01-10 10:00"), years=3) == 2

    for o in (old_closed, old_cancelled):
        o.refresh_from_db()
        assert (o.title, o.text, o.contact_name, o.contact_phone, o.address) == (
            PLACEHOLDER,
            PLACEHOLDER,
            PLACEHOLDER,
            "",
            "",
        )
        assert o.owner_id is None and o.owner_user_id is None and o.submitted_by_id is None
        assert o.lat is None and o.lng is None and o.form_data == {}
        assert not Event.objects.filter(order=o, actor=c.u_zhang).exists()
        assert set(Event.objects.filter(order=o).exclude(note="").values_list("note", flat=True)) <= {PLACEHOLDER}
    assert old_closed.reply == PLACEHOLDER
    assert "张阿姨" not in str(list(Event.objects.filter(order=old_cancelled).values("note", "actor_label")))
    for o in (old_open, recent_closed):
        fresh = WorkOrder.objects.get(pk=o.pk)
        assert fresh.text == o.text and fresh.owner_id == c.zhang.pk and fresh.contact_name == o.contact_name
    # What the dashboards count is untouched, and no order was marked for their worker to fold in again.
    assert _tallies() == before
    assert {o["id"]: o for o in WorkOrder.objects.values("id", *KEPT)} == kept_before
    assert set(Dirty.objects.values_list("order_id", "seq")) == dirty_before
    assert set(AnonymisedOrder.objects.values_list("order_id", flat=True)) == {old_closed.pk, old_cancelled.pk}
    # Idempotent: a second run finds nothing to do.
    assert anonymise_closed_orders(at("2026-01-10 10:00"), years=3) == 0
    # Later, the order closed in 2025 passes the line too.
    assert anonymise_closed_orders(at("2028-06-02 10:00"), years=3) == 1


def test_batches_and_the_setting(world, clock, settings):
    orders = []
    clock.set("2019-03-02 10:00")
    for _ in range(5):
        orders.append(order_in(world, State.CANCELLED))
    t = at("2026-01-10 10:00")
    settings.PERSONAL_DATA_RETENTION_YEARS = 0  # the default: keep for ever
    assert anonymise_closed_orders(t) == 0
    settings.PERSONAL_DATA_RETENTION_YEARS = 10
    assert anonymise_closed_orders(t) == 0  # not old enough
    settings.PERSONAL_DATA_RETENTION_YEARS = 5
    assert anonymise_closed_orders(t, batch=2) == 5
    assert AnonymisedOrder.objects.count() == 5


def test_the_command(world, clock, settings):
    from io import StringIO

    clock.set("2019-03-02 10:00")
    o = order_in(world, State.CANCELLED)
    clock.set(dt.datetime(2026, 1, 10, 2, 0, tzinfo=dt.UTC))
    out = StringIO()
    settings.PERSONAL_DATA_RETENTION_YEARS = 0
    with translation.override("en"):  # the messages read below
        call_command("privacy_retention", stdout=out)
        assert "off" in out.getvalue() and WorkOrder.objects.get(pk=o.pk).text == o.text
        call_command("privacy_retention", "--years", "5", stdout=out)
    assert "1 work orders" in out.getvalue() and WorkOrder.objects.get(pk=o.pk).text == PLACEHOLDER


def test_photos_decisions_and_messages_about_an_old_order_go_too(world, clock, django_capture_on_commit_callbacks):
    from django.core.files.base import ContentFile
    from django.core.files.storage import default_storage

    from notify.models import Message
    from workorders.models import Extension, Photo

    old_closed, _old_cancelled, old_open, _recent = _orders(world, clock)
    photo = Photo(order=old_closed, uuid="p" * 32, width=1, height=1, size=3, at=old_closed.created_at)
    photo.image.save("door.jpg", ContentFile(b"jpg"), save=True)
    name = photo.image.name
    assert default_storage.exists(name)
    Extension.objects.create(
        order=old_closed, requested_by=world.u_feng, reason="等配件", days=3, status="approved",
        decision_note="张阿姨同意", requested_at=old_closed.created_at,
    )  # fmt: skip
    link = f"/workorders/{old_closed.pk}/"
    assert Message.objects.filter(link=link).exists()  # its handlers and dispatchers were told of it
    open_texts = sorted(Message.objects.filter(link=f"/workorders/{old_open.pk}/").values_list("text", flat=True))

    with django_capture_on_commit_callbacks(execute=True):
        assert anonymise_closed_orders(at("2026-01-10 10:00"), years=3) == 2

    assert not Photo.objects.filter(order=old_closed).exists() and not default_storage.exists(name)
    assert set(Extension.objects.filter(order=old_closed).values_list("reason", "decision_note")) == {
        (PLACEHOLDER, PLACEHOLDER)
    }
    assert set(Message.objects.filter(link=link).values_list("text", flat=True)) == {PLACEHOLDER}
    assert sorted(Message.objects.filter(link=f"/workorders/{old_open.pk}/").values_list("text", flat=True)) == (
        open_texts
    )
