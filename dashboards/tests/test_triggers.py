"""The database's dirty-marking trigger on work orders fires on exactly the columns the tallies read
(dashboards.facts.ORDER_COLUMNS): a column added to the facts but not to the trigger would leave the
tallies stale whenever only that column changes; one in the trigger but not the facts wakes the worker
for nothing. Read from the installed trigger itself, on SQLite and PostgreSQL."""

from __future__ import annotations

import re

import pytest
from django.db import connection

from dashboards.facts import ORDER_COLUMNS

pytestmark = pytest.mark.django_db


def installed_update_columns() -> set[str]:
    with connection.cursor() as cur:
        if connection.vendor == "sqlite":
            cur.execute("SELECT sql FROM sqlite_master WHERE type = 'trigger' AND name = 'dash_workorder_update'")
        else:
            cur.execute(
                "SELECT pg_get_triggerdef(t.oid) FROM pg_trigger t "
                "WHERE t.tgname = 'dash_workorder_update' AND NOT t.tgisinternal"
            )
        row = cur.fetchone()
    assert row is not None, "the work-order update trigger is missing"
    found = re.search(r"UPDATE OF (.+?) ON ", row[0], flags=re.IGNORECASE | re.DOTALL)
    assert found is not None, row[0]
    return {c.strip().strip('"') for c in found.group(1).split(",")}


def test_the_update_trigger_watches_exactly_the_columns_the_tallies_read():
    # The id never changes; every other column the facts read must fire the trigger, and nothing else.
    assert installed_update_columns() == set(ORDER_COLUMNS) - {"id"}


def test_changing_a_watched_column_marks_the_order_and_the_lease_does_not(world):
    from dashboards.models import Dirty
    from workorders.models import WorkOrder
    from workorders.tests.helpers import submit

    order = submit(world)
    Dirty.objects.all().delete()
    WorkOrder.objects.filter(pk=order.pk).update(next_check_at=None)  # the deadline worker's lease
    assert not Dirty.objects.filter(order_id=order.pk).exists()
    WorkOrder.objects.filter(pk=order.pk).update(excluded=True)
    assert Dirty.objects.filter(order_id=order.pk).exists()
