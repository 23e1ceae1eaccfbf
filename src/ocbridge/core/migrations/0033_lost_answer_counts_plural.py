"""Twilio's "{count} calls (messages) to this number since the lost answer" became a count said in each language's own
plural form (core.sentences: a Sentence with its plural): its msgid is now the singular, with the old text as the
plural. Rows that keep it as said — on its own or inside another Sentence (an outbox row's "…; asking failed: …") —
get the new form, so their pages still read it translated (the old msgid is no longer in the catalogs)."""

from django.db import migrations
from django.db.models import TextField
from django.db.models.functions import Cast

# the old msgid (now the plural) → the singular, the new msgid
FORMS = {
    "{count} calls to this number since the lost answer": "{count} call to this number since the lost answer",
    "{count} messages to this number since the lost answer": "{count} message to this number since the lost answer",
}
MARK = "since the lost answer"
FIELDS = [("Job", "last_error_said"), ("SideEffect", "error_said"), ("Connection", "last_error_said")]


def counted(data):
    """The data with each old-form Sentence in it (nested ones too) given its plural; unchanged otherwise."""
    if not isinstance(data, dict):
        return data
    values = data.get("values")
    out = {**data, "values": {k: counted(v) for k, v in values.items()}} if isinstance(values, dict) else dict(data)
    if out.get("text") in FORMS and not out.get("plural"):
        out["plural"], out["text"] = out["text"], FORMS[out["text"]]
    return out


def rewrite(model, field: str) -> None:
    rows = model.objects.annotate(said_text=Cast(field, TextField())).filter(said_text__contains=MARK)
    for pk, data in rows.values_list("pk", field).iterator():
        new = counted(data)
        if new != data:
            model.objects.filter(pk=pk).update(**{field: new})


def plural(apps, schema_editor):
    for name, field in FIELDS:
        rewrite(apps.get_model("core", name), field)


class Migration(migrations.Migration):

    dependencies = [
        ("core", "0032_job_waits_said"),
    ]

    operations = [
        migrations.RunPython(plural, migrations.RunPython.noop),
    ]
