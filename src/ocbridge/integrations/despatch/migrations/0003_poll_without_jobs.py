from django.db import migrations


def drop_poll_jobs(apps, schema_editor):
    """Reading DC's changed orders is a routine poll now (core.polls), no longer a Job row each slot: the old rows
    go (a queued one would name a kind that no longer exists)."""
    apps.get_model("core", "Job").objects.filter(kind="despatch.poll_dc").delete()


class Migration(migrations.Migration):

    dependencies = [
        ('core', '0016_poll_interval_and_health'),
        ('despatch', '0002_feed_cursor_replaces_history_watermark'),
    ]

    operations = [migrations.RunPython(drop_poll_jobs, migrations.RunPython.noop)]
