"""AttemptState.UNDELIVERED: a message the provider took and then reported never delivered. Attempts closed that
way before it existed were stored 'no_answer'; the transition that closed each one says why ("SMS not delivered
(…)", "WhatsApp message failed (…)", "attempt n: … reported it undelivered (…)"), so they are marked undelivered
too — the overview's answer rate by hour leaves them out for past periods as well."""

from django.db import migrations, models
from django.db.models import Q

# The reasons jobs.after_no_answer(reached=False) was given (cod_confirm.jobs, whatsapp_events), in English.
BY_PROVIDER_ID = ("SMS not delivered (", "WhatsApp message failed (")
BY_NUMBER = " reported it undelivered ("  # "attempt {n}: {service} reported it undelivered ({detail})"


def mark_undelivered(apps, schema_editor):
    Attempt = apps.get_model("cod_confirm", "Attempt")
    Transition = apps.get_model("cod_confirm", "Transition")
    said = Q(reason__startswith="attempt ", reason__contains=BY_NUMBER)
    for start in BY_PROVIDER_ID:
        said |= Q(reason__startswith=start)
    closing = Transition.objects.filter(said, to_state="no_answer")
    for case, channel, provider_id, reason in closing.values_list("confirmation_id", "channel", "provider_id",
                                                                 "reason").iterator():
        attempts = Attempt.objects.filter(confirmation_id=case, channel=channel, state="no_answer")
        if reason.startswith("attempt "):
            number = reason.removeprefix("attempt ").split(":", 1)[0]
            if not number.isdigit():
                continue
            attempts = attempts.filter(number=int(number))
        else:
            attempts = attempts.filter(provider_id=provider_id)
        attempts.update(state="undelivered")


class Migration(migrations.Migration):

    dependencies = [
        ("cod_confirm", "0019_counts_plural"),
    ]

    operations = [
        migrations.AlterField(
            model_name="attempt",
            name="state",
            field=models.CharField(choices=[("requested", "Requested"), ("in_flight", "Waiting for the customer"), ("answered", "Answered"), ("no_answer", "No answer"), ("undelivered", "Not delivered"), ("failed", "Failed"), ("unknown", "Unknown: may have been sent"), ("dry_run", "Dry run: nothing sent"), ("over_cap", "Not made: the store's daily cap was reached")], default="requested", max_length=12),
        ),
        migrations.RunPython(mark_undelivered, migrations.RunPython.noop),
    ]
