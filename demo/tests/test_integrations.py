"""The demo's 12345 hotline: connected as a source, two weeks of its orders in the demo town, some dispatched."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command

from accounts.models import User
from integrations import selectors
from integrations.models import HotlineOrder, HotlineSource


@pytest.mark.django_db
def test_the_demo_hotline_has_orders_to_export(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    call_command("seed_demo", scale="small", seed=1, orders=0, calls=0, points=0, stdout=io.StringIO())
    source = HotlineSource.objects.get(code="h12345")
    links = HotlineOrder.objects.filter(source=source).select_related("order")
    assert links.count() == 18
    assert {link.order.channel for link in links} == {"hotline"}
    assert links.filter(order__state="dispatched").count() == 12
    dispatcher = User.objects.get(username="dispatcher")
    assert selectors.sources_for(dispatcher).filter(pk=source.pk).exists()
    rows = list(selectors.export_rows(source, since=None, until=max(link.order.updated_at for link in links)))
    assert len(rows) == 18 and {r[3] for r in rows} == {"submitted", "dispatched"}
