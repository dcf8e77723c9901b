"""A month's result belongs to the area assessed (a town's leader scores that town's villages, the
county's leader the county's): no result was kept before this, so nothing is carried over."""

import django.db.models.deletion
from django.db import migrations, models


def forget_results(apps, schema_editor):  # type: ignore[no-untyped-def]
    apps.get_model("dashboards", "Result").objects.all().delete()


class Migration(migrations.Migration):
    dependencies = [("dashboards", "0002_dirty_triggers"), ("org", "0003_household_tags_gin")]
    operations = [
        migrations.RunPython(forget_results, migrations.RunPython.noop),
        migrations.RemoveConstraint(model_name="result", name="one_result_per_month"),
        migrations.AddField(
            model_name="result",
            name="node",
            field=models.ForeignKey(
                default=1, on_delete=django.db.models.deletion.PROTECT, related_name="+", to="org.node"
            ),
            preserve_default=False,
        ),
        migrations.AddConstraint(
            model_name="result",
            constraint=models.UniqueConstraint(fields=("node", "month", "group"), name="one_result_per_area_month"),
        ),
    ]
