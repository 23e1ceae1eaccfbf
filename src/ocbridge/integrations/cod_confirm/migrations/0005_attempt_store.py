"""Attempt.store: the confirmation's store copied onto each attempt, so the overview reads a store's attempts in a
period from one index (store, created, state, channel) instead of joining every confirmation of the period.

Existing attempts get their confirmation's store in one UPDATE; 0006 then makes the column NOT NULL (a separate
migration, so on PostgreSQL the UPDATE's deferred foreign-key checks run at its commit, before the ALTER TABLE).
"""

import django.db.models.deletion
from django.db import migrations, models
from django.db.models import OuterRef, Subquery


def fill_store(apps, schema_editor):
    Attempt = apps.get_model("cod_confirm", "Attempt")
    Confirmation = apps.get_model("cod_confirm", "Confirmation")
    db = schema_editor.connection.alias
    Attempt.objects.using(db).filter(store__isnull=True).update(
        store=Subquery(Confirmation.objects.using(db).filter(pk=OuterRef("confirmation_id")).values("store_id")))


class Migration(migrations.Migration):

    dependencies = [
        ('cod_confirm', '0004_state_index'),
        ('core', '0001_initial'),
    ]

    operations = [
        migrations.RemoveIndex(model_name='attempt', name='attempt_overview'),
        migrations.AddField(
            model_name='attempt',
            name='store',
            field=models.ForeignKey(null=True, on_delete=django.db.models.deletion.CASCADE, related_name='+',
                                    to='core.store'),
        ),
        migrations.RunPython(fill_store, migrations.RunPython.noop, elidable=False),
    ]
