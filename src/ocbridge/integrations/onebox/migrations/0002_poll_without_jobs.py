from django.db import migrations


def drop_poll_jobs(apps, schema_editor):
    """Reading OneBox's changed orders is a routine poll now (core.polls), no longer a Job row each slot: the old rows
    go (a queued one would name a kind that no longer exists)."""
    apps.get_model("core", "Job").objects.filter(kind="onebox.poll").delete()


class Migration(migrations.Migration):

    dependencies = [
        ('core', '0016_poll_interval_and_health'),
        ('onebox', '0001_initial'),
    ]

    operations = [migrations.RunPython(drop_poll_jobs, migrations.RunPython.noop)]
