"""The ledger is append-only, and the database says so: an UPDATE of a points entry is refused, whatever
code or console tries it. (Deletes are left to the test runner's table flushes; the model refuses them.)"""

from django.db import migrations


def forwards(apps, schema_editor):  # type: ignore[no-untyped-def]
    vendor = schema_editor.connection.vendor
    if vendor == "sqlite":
        schema_editor.execute(
            "CREATE TRIGGER points_entry_append_only BEFORE UPDATE ON points_entry "
            "BEGIN SELECT RAISE(ABORT, 'points entries are append-only'); END"
        )
    elif vendor == "postgresql":
        schema_editor.execute(
            "CREATE FUNCTION points_entry_append_only() RETURNS trigger LANGUAGE plpgsql AS $$ "
            "BEGIN RAISE EXCEPTION 'points entries are append-only'; END $$"
        )
        schema_editor.execute(
            "CREATE TRIGGER points_entry_append_only BEFORE UPDATE ON points_entry "
            "FOR EACH ROW EXECUTE FUNCTION points_entry_append_only()"
        )


def backwards(apps, schema_editor):  # type: ignore[no-untyped-def]
    vendor = schema_editor.connection.vendor
    if vendor == "sqlite":
        schema_editor.execute("DROP TRIGGER IF EXISTS points_entry_append_only")
    elif vendor == "postgresql":
        schema_editor.execute("DROP TRIGGER IF EXISTS points_entry_append_only ON points_entry")
        schema_editor.execute("DROP FUNCTION IF EXISTS points_entry_append_only()")


class Migration(migrations.Migration):
    dependencies = [("points", "0001_initial")]
    operations = [migrations.RunPython(forwards, backwards)]
