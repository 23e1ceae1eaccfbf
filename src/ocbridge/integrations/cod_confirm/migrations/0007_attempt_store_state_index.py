"""The overview counts a store's attempts per state and time range: (store, state, created, channel) serves that
as index ranges; (store, created, state, channel) made it walk every state's attempts of the period."""

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('cod_confirm', '0006_attempt_store_not_null'),
    ]

    operations = [
        migrations.RemoveIndex(model_name='attempt', name='attempt_store_made'),
        migrations.AddIndex(
            model_name='attempt',
            index=models.Index(fields=['store', 'state', 'created', 'channel'], name='attempt_store_state_made'),
        ),
    ]
