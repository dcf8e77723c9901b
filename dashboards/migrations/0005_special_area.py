"""A special item belongs to one assessment: the area assessed (as Result.node), besides its month and
group. Until now every item counted in every result of its month and group — a town leader's bonus
lifted the village in the county's ranking too. An item kept from before is given to the assessment of
the whole tree its unit lies in (the top of the unit's path): the one assessment every such item used to
count in, whoever added it. (The column becomes required in 0006: on PostgreSQL a table whose rows
were just updated cannot be altered in the same transaction.)"""

import django.db.models.deletion
from django.db import migrations, models


def to_the_top(apps, schema_editor):  # type: ignore[no-untyped-def]
    SpecialItem = apps.get_model("dashboards", "SpecialItem")
    Node = apps.get_model("org", "Node")
    for item in SpecialItem.objects.select_related("node", "department__jurisdiction"):
        path = item.node.path if item.node_id else item.department.jurisdiction.path
        top = int(path.strip("/").split("/")[0])
        item.area = Node.objects.get(pk=top)
        item.save(update_fields=["area"])


class Migration(migrations.Migration):
    dependencies = [("dashboards", "0004_default_scheme"), ("org", "0003_household_tags_gin")]
    operations = [
        migrations.AddField(
            model_name="specialitem",
            name="area",
            field=models.ForeignKey(
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to="org.node",
                verbose_name="area assessed",
            ),
        ),
        migrations.RunPython(to_the_top, migrations.RunPython.noop),
    ]
