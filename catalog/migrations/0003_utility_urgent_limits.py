"""Urgent and emergency utility cuts (停水停电, 燃气泄漏) get less time than normal ones, on the clock.

Without these, the most specific rule for an urgent utility order was the general "urgent" rule (3
working days): more time than a normal power cut's 24 hours.
"""

from decimal import Decimal

from django.db import migrations

RULES = [
    ("水电气暖（加急）", "utility", "urgent", Decimal("0.5"), 12, "hours"),
    ("水电气暖（紧急）", "utility", "emergency", Decimal("0.25"), 2, "hours"),
]


def forwards(apps, schema_editor):
    Rule = apps.get_model("catalog", "TimeLimitRule")
    for name, time_class, urgency, respond, amount, unit in RULES:
        Rule.objects.get_or_create(
            time_class=time_class,
            urgency=urgency,
            is_active=True,
            defaults={"name": name, "respond_hours": respond, "resolve_amount": amount, "resolve_unit": unit},
        )


class Migration(migrations.Migration):
    dependencies = [("catalog", "0002_default_time_limits")]
    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
