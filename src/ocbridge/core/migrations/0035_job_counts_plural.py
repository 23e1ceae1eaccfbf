"""A job's "gave up after {attempts} attempts: …" and Ozon's "{n} cards wait for Ozon's daily quota to reset" became
counts said in each language's plural form (core.sentences: a Sentence with its plural, the number as `count`), as
0033 did for Twilio's lost-answer count. Rows that keep the old form as said (a job's row; nested ones too) get the new
msgids, the number renamed to `count`, so their pages still read them translated (the old msgids are no longer in the
catalogs)."""

from django.db import migrations
from django.db.models import Q, TextField
from django.db.models.functions import Cast

# the old msgid → (the new singular, the new plural, the old name of the number)
FORMS = {
    "gave up after {attempts} attempts: {error}": (
        "gave up after {count} attempt: {error}", "gave up after {count} attempts: {error}", "attempts"),
    "{n} cards wait for Ozon's daily quota to reset": (
        "{count} card waits for Ozon's daily quota to reset", "{count} cards wait for Ozon's daily quota to reset", "n"),
}
MARKS = ("gave up after {attempts} attempts", "daily quota to reset")
FIELDS = [("Job", "last_error_said"), ("SideEffect", "error_said"), ("Connection", "last_error_said")]


def counted(data):
    """The data with each old-form Sentence in it (nested ones too) in the new form; unchanged otherwise."""
    if not isinstance(data, dict):
        return data
    values = data.get("values")
    out = {**data, "values": {k: counted(v) for k, v in values.items()}} if isinstance(values, dict) else dict(data)
    if out.get("text") in FORMS and not out.get("plural"):
        singular, plural, name = FORMS[out["text"]]
        values = dict(out.get("values") or {})
        if name in values:
            values["count"] = values.pop(name)
        out.update(text=singular, plural=plural, values=values)
    return out


def rewrite(model, field: str) -> None:
    marked = Q()
    for mark in MARKS:
        marked |= Q(said_text__contains=mark)
    rows = model.objects.annotate(said_text=Cast(field, TextField())).filter(marked)
    for pk, data in rows.values_list("pk", field).iterator():
        new = counted(data)
        if new != data:
            model.objects.filter(pk=pk).update(**{field: new})


def plural(apps, schema_editor):
    for name, field in FIELDS:
        rewrite(apps.get_model("core", name), field)


class Migration(migrations.Migration):

    dependencies = [
        ("core", "0034_lighter_webhook_row"),
    ]

    operations = [
        migrations.RunPython(plural, migrations.RunPython.noop),
    ]
