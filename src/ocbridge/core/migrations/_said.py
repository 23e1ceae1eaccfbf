"""For data migrations: rows that keep a Sentence (core.sentences' data in a JSON column) whose msgid changed get its
new form, nested ones too, so their pages still read it translated (an old msgid is no longer in the catalogs).
Loaded by no migration loader (its name starts with "_"); migrations import it."""

from django.db.models import Q, TextField
from django.db.models.functions import Cast


def counted(singular: str, plural: str, number: str = "count"):
    """The change of a text that became a count: its two forms, the number (named `number` before) as `count`."""

    def change(data: dict) -> dict:
        values = dict(data.get("values") or {})
        if number in values:
            values["count"] = values.pop(number)
        return {**data, "text": singular, "plural": plural, "values": values}

    return change


def reworded(data, changes: dict):
    """`data` with each Sentence whose text is a key of `changes` (without a plural: not yet changed) changed by it."""
    if not isinstance(data, dict):
        return data
    values = data.get("values")
    out = {**data, "values": {k: reworded(v, changes) for k, v in values.items()}} if isinstance(values, dict) \
        else dict(data)
    if out.get("text") in changes and not out.get("plural"):
        out = changes[out["text"]](out)
    return out


def rewrite(model, field: str, changes: dict, marks) -> None:
    """Rewrite `field` of the rows of `model` whose data holds one of `marks` (a part of an old text)."""
    marked = Q()
    for mark in marks:
        marked |= Q(said_text__contains=mark)
    rows = model.objects.annotate(said_text=Cast(field, TextField())).filter(marked)
    for pk, data in rows.values_list("pk", field).iterator():
        new = reworded(data, changes)
        if new != data:
            model.objects.filter(pk=pk).update(**{field: new})
