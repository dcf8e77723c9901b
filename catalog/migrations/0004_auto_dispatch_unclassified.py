from django.db import migrations, models


def add_unclassified(apps, schema_editor):
    """The category of an appeal filed as free text alone (catalog.models.UNCLASSIFIED)."""
    Category = apps.get_model("catalog", "Category")
    if not Category.objects.filter(code="00").exists():
        Category.objects.create(code="00", name="待分类", level=1, sort=0, is_active=True)


class Migration(migrations.Migration):
    dependencies = [
        ("catalog", "0003_utility_urgent_limits"),
    ]

    operations = [
        migrations.AddField(
            model_name="category",
            name="auto_dispatch",
            field=models.BooleanField(
                default=False,
                help_text="Appeals the text model places here (or in a sub-category) with enough confidence are dispatched without a dispatcher, when auto-dispatch is switched on (GONGZHI['TRIAGE']['AUTO_DISPATCH_AT']).",
                verbose_name="auto-dispatch",
            ),
        ),
        migrations.RunPython(add_unclassified, migrations.RunPython.noop),
    ]
