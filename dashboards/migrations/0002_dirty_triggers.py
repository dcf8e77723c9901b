"""Every change to an order — or to its handling assignments, ratings and callbacks — files the order's
id in dashboards_dirty (seq + 1), in the same transaction as the change, whatever made it: a service, a
bulk update, the admin, a console. The rollup worker folds the marked orders into the tallies.

Only columns the tallies read fire the order trigger: the deadline worker's lease on next_check_at,
for one, does not."""

from django.db import migrations

ORDER_COLUMNS = (
    "created_at", "path", "department_id", "category_id", "channel", "kind", "excluded", "round",
    "dispatched_at", "accepted_at", "respond_overdue", "resolved_at", "overdue", "state",
)  # fmt: skip
# (table, event, the order's id column)
SOURCES = (
    ("workorders_workorder", "INSERT", "id"),
    ("workorders_workorder", "UPDATE OF " + ", ".join(ORDER_COLUMNS), "id"),
    ("workorders_workorder", "DELETE", "id"),
    ("workorders_assignment", "INSERT", "order_id"),
    ("workorders_assignment", "UPDATE", "order_id"),
    ("workorders_rating", "INSERT", "order_id"),
    ("workorders_callback", "INSERT", "order_id"),
)


def _name(table: str, event: str) -> str:
    return f"dash_{table.split('_', 1)[1]}_{event.split()[0].lower()}"


def forwards(apps, schema_editor):  # type: ignore[no-untyped-def]
    vendor = schema_editor.connection.vendor
    upsert = (
        "INSERT INTO dashboards_dirty (order_id, seq) VALUES ({row}.{col}, 1) "
        "ON CONFLICT (order_id) DO UPDATE SET seq = dashboards_dirty.seq + 1"
    )
    if vendor == "sqlite":
        for table, event, col in SOURCES:
            row = "OLD" if event == "DELETE" else "NEW"
            schema_editor.execute(
                f"CREATE TRIGGER {_name(table, event)} AFTER {event} ON {table} FOR EACH ROW "
                f"BEGIN {upsert.format(row=row, col=col)}; END"
            )
    elif vendor == "postgresql":
        for table, event, col in SOURCES:
            row = "OLD" if event == "DELETE" else "NEW"
            fn = _name(table, event)
            schema_editor.execute(
                f"CREATE FUNCTION {fn}() RETURNS trigger LANGUAGE plpgsql AS $$ "
                f"BEGIN {upsert.format(row=row, col=col)}; RETURN NULL; END $$"
            )
            schema_editor.execute(
                f"CREATE TRIGGER {fn} AFTER {event} ON {table} FOR EACH ROW EXECUTE FUNCTION {fn}()"
            )
    else:  # pragma: no cover - the two databases we support
        raise NotImplementedError(vendor)


def backwards(apps, schema_editor):  # type: ignore[no-untyped-def]
    vendor = schema_editor.connection.vendor
    for table, event, _col in SOURCES:
        fn = _name(table, event)
        if vendor == "sqlite":
            schema_editor.execute(f"DROP TRIGGER IF EXISTS {fn}")
        else:
            schema_editor.execute(f"DROP TRIGGER IF EXISTS {fn} ON {table}")
            schema_editor.execute(f"DROP FUNCTION IF EXISTS {fn}()")


class Migration(migrations.Migration):
    dependencies = [("dashboards", "0001_initial"), ("workorders", "0003_assessment_fields")]
    operations = [migrations.RunPython(forwards, backwards)]
