from django.db import migrations


def create_sequence_row(apps, schema_editor):
    StreamSequence = apps.get_model("notifications", "StreamSequence")
    StreamSequence.objects.get_or_create(id=1, defaults={"value": 0})


class Migration(migrations.Migration):
    dependencies = [("notifications", "0001_initial")]
    operations = [migrations.RunPython(create_sequence_row, migrations.RunPython.noop)]
