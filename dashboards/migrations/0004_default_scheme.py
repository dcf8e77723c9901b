"""Version 1 of the assessment scheme: the three rates at 30/35/35, 'basically satisfied' at 0.6."""

import datetime as dt
from decimal import Decimal

from django.db import migrations
from django.utils import timezone


def forwards(apps, schema_editor):  # type: ignore[no-untyped-def]
    Scheme = apps.get_model("dashboards", "Scheme")
    if not Scheme.objects.exists():
        Scheme.objects.create(
            version=1,
            name="三率考核",
            valid_from=dt.date(2000, 1, 1),
            weights={"response": 30, "resolution": 35, "satisfaction": 35},
            basic_weight=Decimal("0.6"),
            created_at=timezone.now(),
        )


class Migration(migrations.Migration):
    dependencies = [("dashboards", "0003_result_node")]
    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
