from django.contrib.postgres.operations import AddIndexConcurrently
from django.db import migrations, models
from django.db.migrations.operations import AddIndex


class AddIndexWithoutLocking(AddIndexConcurrently):
    """CREATE INDEX CONCURRENTLY on PostgreSQL (a province's 10,000,000 orders keep taking writes while the
    index is built); a plain CREATE INDEX elsewhere (SQLite has no other kind)."""

    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor == "postgresql":
            return super().database_forwards(app_label, schema_editor, from_state, to_state)
        return AddIndex.database_forwards(self, app_label, schema_editor, from_state, to_state)

    def database_backwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor == "postgresql":
            return super().database_backwards(app_label, schema_editor, from_state, to_state)
        return AddIndex.database_backwards(self, app_label, schema_editor, from_state, to_state)


class Migration(migrations.Migration):
    atomic = False  # CREATE INDEX CONCURRENTLY cannot run inside a transaction

    dependencies = [
        ("workorders", "0007_hot_topics"),
    ]

    operations = [
        AddIndexWithoutLocking(
            model_name="workorder",
            index=models.Index(
                condition=models.Q(
                    state__in=[
                        "accepted", "dispatched", "in_progress", "reopened", "resolved", "returned", "submitted",
                        "suspended",
                    ]
                ),
                fields=["created_at"],
                name="wo_open_recent",
            ),
        ),
    ]
