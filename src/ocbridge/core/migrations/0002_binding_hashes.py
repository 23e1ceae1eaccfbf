from django.db import migrations, models


class Migration(migrations.Migration):
    """Two-way Bindings (DESIGN.md "Bindings"): the one-way `hash` becomes `local_hash`, kept as it was."""

    dependencies = [
        ("core", "0001_initial"),
    ]

    operations = [
        migrations.RenameField(model_name="binding", old_name="hash", new_name="local_hash"),
        migrations.AddField(model_name="binding", name="remote_hash", field=models.CharField(blank=True, max_length=64)),
        migrations.AddField(model_name="binding", name="last_origin", field=models.CharField(blank=True, max_length=8)),
    ]
