"""core.fastinsert writes exactly the row the ORM's save() would, and is used only where no signal
receiver would miss it."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.db.models.signals import post_save, pre_save
from django.forms.models import model_to_dict

from core.fastinsert import insert
from workorders.models import Event, WorkOrder

pytestmark = pytest.mark.django_db

AT = dt.datetime(2026, 10, 9, 8, 30, tzinfo=dt.UTC)


def _order(world, code: str) -> WorkOrder:
    c = world.c
    return WorkOrder(
        tracking_code=code, kind="complaint", channel="mobile", category=world.streetlight, title="路灯",
        text="村口路灯坏了", form_data={"楼层": 3, "note": "引号\"与换行\n"}, grid=c.a1, path=c.a1.path,
        lat=Decimal("31.180100"), lng=Decimal("115.020100"), owner=c.zhang, owner_user_id=c.u_zhang.pk,
        submitted_by=c.u_zhang, contact_name="张阿姨", contact_phone="13800001234", idempotency_key=code,
        created_at=AT, updated_at=AT,
    )  # fmt: skip


def _row(model, pk):
    obj = model.objects.get(pk=pk)
    d = model_to_dict(obj, fields=[f.name for f in model._meta.concrete_fields if f.name != "id"])
    return {k: v for k, v in d.items() if k not in ("tracking_code", "idempotency_key")}


def test_the_row_is_the_one_save_writes(world):
    by_orm = _order(world, "ORM2345678")
    by_orm.save(force_insert=True)
    fast = insert(_order(world, "FAST234567"))
    assert fast.pk and fast.pk != by_orm.pk and not fast._state.adding
    assert _row(WorkOrder, fast.pk) == _row(WorkOrder, by_orm.pk)
    e1 = Event.objects.create(order=by_orm, action="submit", to_state="submitted", at=AT, data={"a": [1, "二"]})
    e2 = insert(Event(order=fast, action="submit", to_state="submitted", at=AT, data={"a": [1, "二"]}))
    assert {**_row(Event, e2.pk), "order": None} == {**_row(Event, e1.pk), "order": None}
    assert Event.objects.get(pk=e2.pk).data == {"a": [1, "二"]}


def test_a_duplicate_key_is_refused_like_save(world):
    from django.db import IntegrityError, transaction

    insert(_order(world, "SAME234567"))
    with pytest.raises(IntegrityError), transaction.atomic():
        insert(_order(world, "SAME234567"))


@pytest.mark.parametrize("model", [WorkOrder, Event])
def test_no_signal_receiver_listens_to_the_models_it_writes(model):
    assert not pre_save.has_listeners(model)
    assert not post_save.has_listeners(model)
