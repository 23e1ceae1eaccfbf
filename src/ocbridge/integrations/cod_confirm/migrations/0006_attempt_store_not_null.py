"""Attempt.store NOT NULL (filled by 0005) and the overview's index on a store's attempts by time."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('cod_confirm', '0005_attempt_store'),
        ('core', '0001_initial'),
    ]

    operations = [
        migrations.AlterField(
            model_name='attempt',
            name='store',
            field=models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to='core.store'),
        ),
        migrations.AddIndex(
            model_name='attempt',
            index=models.Index(fields=['store', 'created', 'state', 'channel'], name='attempt_store_made'),
        ),
    ]
