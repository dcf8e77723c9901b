from django.db import migrations


def forwards(apps, schema_editor):  # type: ignore[no-untyped-def]
    from points.defaults import load_rules

    load_rules(apps.get_model("points", "Rule"))


class Migration(migrations.Migration):
    dependencies = [("points", "0002_entry_append_only")]
    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
