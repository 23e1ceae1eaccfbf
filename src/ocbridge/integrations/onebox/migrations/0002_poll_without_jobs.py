from django.db import migrations

from ocbridge.core.poll_migration import drop_job_kinds


class Migration(migrations.Migration):
    """Reading OneBox's changes is a routine poll now (core.polls), no longer a Job row per slot."""

    dependencies = [
        ('core', '0016_poll_interval_and_health'),
        ('onebox', '0001_initial'),
    ]

    operations = [drop_job_kinds("onebox.poll")]
