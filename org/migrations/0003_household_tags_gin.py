"""A GIN index on household tags, on PostgreSQL only (SQLite has no such index and filters by text)."""

from django.db import migrations


def create(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(
            "CREATE INDEX IF NOT EXISTS household_tags_gin ON org_household USING gin (tags jsonb_path_ops)"
        )


def drop(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("DROP INDEX IF EXISTS household_tags_gin")


class Migration(migrations.Migration):
    dependencies = [("org", "0002_list_order_indexes")]
    operations = [migrations.RunPython(create, drop)]
