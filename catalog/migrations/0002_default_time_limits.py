"""Default time limits, after 12345 hotline practice (every install needs them; edit in the admin):

- emergency: sign for within 0.5 working hours, feedback within 2 working hours;
- urgent: sign for within 1 working hour, finish within 3 working days;
- utilities (water, power, gas, heating): sign for within 1 working hour, finish within 24 hours;
- general: sign for within 4 working hours, finish within 7 working days;
- complex: sign for within 4 working hours, finish within 15 working days.
"""

from decimal import Decimal

from django.db import migrations

DEFAULTS = [
    ("紧急诉求", "", "emergency", Decimal("0.5"), 2, "working_hours"),
    ("加急诉求", "", "urgent", Decimal("1"), 3, "working_days"),
    ("水电气暖", "utility", "", Decimal("1"), 24, "hours"),
    ("一般诉求", "general", "", Decimal("4"), 7, "working_days"),
    ("复杂诉求", "complex", "", Decimal("4"), 15, "working_days"),
]


def forwards(apps, schema_editor):
    Rule = apps.get_model("catalog", "TimeLimitRule")
    for name, time_class, urgency, respond, amount, unit in DEFAULTS:
        Rule.objects.get_or_create(
            time_class=time_class,
            urgency=urgency,
            is_active=True,
            defaults={"name": name, "respond_hours": respond, "resolve_amount": amount, "resolve_unit": unit},
        )


class Migration(migrations.Migration):
    dependencies = [("catalog", "0001_initial")]
    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
