"""长辈版 (accounts.mode) for the residents already on the care register who never chose a mode: they start
in it, as those registered from now on do (sos.services.care_register)."""

from django.db import migrations


def forward(apps, schema_editor):
    User = apps.get_model("accounts", "User")
    CareProfile = apps.get_model("sos", "CareProfile")
    users = CareProfile.objects.filter(is_active=True, resident__user__isnull=False).values("resident__user_id")
    User.objects.filter(pk__in=users, elder_mode__isnull=True).update(elder_mode=True)


class Migration(migrations.Migration):
    dependencies = [
        ("sos", "0002_field_verbose_names"),
        ("accounts", "0005_user_elder_mode"),
        ("org", "0004_field_verbose_names"),
    ]

    operations = [migrations.RunPython(forward, migrations.RunPython.noop)]
