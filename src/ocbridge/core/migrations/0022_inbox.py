"""Stored webhooks are the queue (core.inbox, issue 23): the jobs a webhook asks for wait in its Exchange row until
the worker queues them. A nullable column (no table rebuild) and an index holding only the rows still waiting."""

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('core', '0021_log_indexes_by_time'),
    ]

    operations = [
        migrations.AddField(
            model_name='exchange',
            name='pending_jobs',
            field=models.JSONField(blank=True, help_text='jobs a stored webhook asks for, until queued', null=True),
        ),
        migrations.AddIndex(
            model_name='exchange',
            index=models.Index(condition=models.Q(('pending_jobs__isnull', False)), fields=['id'], name='exchange_inbox'),
        ),
    ]
