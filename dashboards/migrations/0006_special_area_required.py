"""Every special item now names its assessment's area (0005 filled the ones kept from before)."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("dashboards", "0005_special_area")]
    operations = [
        migrations.AlterField(
            model_name="specialitem",
            name="area",
            field=models.ForeignKey(
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to="org.node",
                verbose_name="area assessed",
            ),
        ),
        migrations.AddIndex(
            model_name="specialitem",
            index=models.Index(fields=["area", "month", "group"], name="special_assessment"),
        ),
    ]
