"""An Exchange's error as said (core.sentences), so the log reads what the hub itself wrote about a request (a webhook's
ignored events, an order lookup's finding, repeated deliveries) in each reader's language. Nullable without a default:
SQLite adds the column in place (no table rebuild of the log)."""

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('core', '0036_service_counts_plural'),
    ]

    operations = [
        migrations.AddField(
            model_name='exchange',
            name='error_said',
            field=models.JSONField(blank=True, null=True),
        ),
    ]
