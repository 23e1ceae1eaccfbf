"""AttemptState.WITHDRAWN: an attempt paused while COD confirmation was switched off and then not sent on switch-on
(its case closed meanwhile, or past its calling day). Such attempts were stored 'no_answer' before; their outbox row
(same key) is 'cancelled', which only that switch-on withdrawal does to an attempt's row and which means it was never
sent, so they are told apart reliably and marked withdrawn: the overview's answer rate leaves them out for past
periods as well."""

from django.db import migrations, models


def mark_withdrawn(apps, schema_editor):
    Attempt = apps.get_model("cod_confirm", "Attempt")
    SideEffect = apps.get_model("core", "SideEffect")
    never_sent = SideEffect.objects.filter(state="cancelled").values("key")
    Attempt.objects.filter(state="no_answer", key__in=never_sent).update(state="withdrawn")


class Migration(migrations.Migration):

    dependencies = [
        ("core", "0037_exchange_error_said"),
        ("cod_confirm", "0020_attempt_undelivered"),
    ]

    operations = [
        migrations.AlterField(
            model_name="attempt",
            name="state",
            field=models.CharField(choices=[("requested", "Requested"), ("in_flight", "Waiting for the customer"), ("answered", "Answered"), ("no_answer", "No answer"), ("undelivered", "Not delivered"), ("failed", "Failed"), ("unknown", "Unknown: may have been sent"), ("dry_run", "Dry run: nothing sent"), ("over_cap", "Not made: the store's daily cap was reached"), ("withdrawn", "Not made: paused while switched off")], default="requested", max_length=12),
        ),
        migrations.RunPython(mark_withdrawn, migrations.RunPython.noop),
    ]
