"""A call or SMS refused with a count (Twilio's "the call's TwiML is {length} characters …", and its lost answers'
"{count} calls to this number …" of core 0033) is copied from its outbox row to the confirmation's last error and its
history's reason: those rows get the plural form too (as core 0033 and 0036 gave the outbox's), so they read
translated."""

from django.db import migrations

from ocbridge.core.migrations._said import counted, rewrite

CHANGES = {
    "the call's TwiML is {length} characters; Twilio refuses more than {limit}: shorten the text": counted(
        "the call's TwiML is {count} character; Twilio refuses more than {limit}: shorten the text",
        "the call's TwiML is {count} characters; Twilio refuses more than {limit}: shorten the text", "length"),
    "{count} calls to this number since the lost answer": counted(
        "{count} call to this number since the lost answer", "{count} calls to this number since the lost answer"),
    "{count} messages to this number since the lost answer": counted(
        "{count} message to this number since the lost answer",
        "{count} messages to this number since the lost answer"),
}
MARKS = ("TwiML is {length}", "since the lost answer")
FIELDS = [("Confirmation", "last_error_said"), ("Transition", "reason_said")]


def plural(apps, schema_editor):
    for name, field in FIELDS:
        rewrite(apps.get_model("cod_confirm", name), field, CHANGES, MARKS)


class Migration(migrations.Migration):

    dependencies = [
        ("cod_confirm", "0018_chat_window"),
        ("core", "0036_service_counts_plural"),
    ]

    operations = [
        migrations.RunPython(plural, migrations.RunPython.noop),
    ]
