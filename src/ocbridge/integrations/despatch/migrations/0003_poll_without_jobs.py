from django.db import migrations

from ocbridge.core.poll_migration import drop_job_kinds


class Migration(migrations.Migration):
    """Reading DC's changed orders is a routine poll now (core.polls), no longer a Job row per slot."""

    dependencies = [
        ('core', '0016_poll_interval_and_health'),
        ('despatch', '0002_feed_cursor_replaces_history_watermark'),
    ]

    operations = [drop_job_kinds("despatch.poll_dc")]
