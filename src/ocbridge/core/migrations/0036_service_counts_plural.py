"""Twilio's "the call's TwiML is {length} characters …" and OneBox's "… kept changing while it was read ({passes}
times) …" became counts said in each language's plural form, and OneBox's "{call} answered {ids} ids for {records}
records" two counted parts ("{count} records sent", "{count} ids answered"), as 0033 and 0035 did for other counts.
Rows that keep the old form as said (nested ones too) get the new one."""

from django.db import migrations

from ocbridge.core.migrations._said import counted, rewrite


def _ids_answered(data: dict) -> dict:
    values = data.get("values") or {}
    return {"text": "{call}: {sent}, {answered}", "values": {
        "call": values.get("call", ""),
        "sent": {"text": "{count} record sent", "plural": "{count} records sent",
                 "values": {"count": values.get("records", 0)}},
        "answered": {"text": "{count} id answered", "plural": "{count} ids answered",
                     "values": {"count": values.get("ids", 0)}}}}


CHANGES = {
    "the call's TwiML is {length} characters; Twilio refuses more than {limit}: shorten the text": counted(
        "the call's TwiML is {count} character; Twilio refuses more than {limit}: shorten the text",
        "the call's TwiML is {count} characters; Twilio refuses more than {limit}: shorten the text", "length"),
    "OneBox's {entity} list kept changing while it was read ({passes} times); reading it again later": counted(
        "OneBox's {entity} list kept changing while it was read ({count} time); reading it again later",
        "OneBox's {entity} list kept changing while it was read ({count} times); reading it again later", "passes"),
    "{call} answered {ids} ids for {records} records": _ids_answered,
}
MARKS = ("TwiML is {length}", "({passes} times)", "answered {ids} ids")
FIELDS = [("Job", "last_error_said"), ("SideEffect", "error_said"), ("Connection", "last_error_said"),
          ("PollHealth", "last_error_said"), ("ProviderBalance", "error_said")]


def plural(apps, schema_editor):
    for name, field in FIELDS:
        rewrite(apps.get_model("core", name), field, CHANGES, MARKS)


class Migration(migrations.Migration):

    dependencies = [
        ("core", "0035_job_counts_plural"),
    ]

    operations = [
        migrations.RunPython(plural, migrations.RunPython.noop),
    ]
