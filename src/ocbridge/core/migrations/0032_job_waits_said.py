"""Jobs whose reasons were stored as English text only before they were said (core.sentences): a lost worker's
"worker lost …", "hub database unavailable: …" and the waits of COD, Ozon, payments and order lookup. The same reason
is kept as said beside it, so the jobs list and the job's page read it in each reader's language; rows written from
now on are said when written. The texts are the msgids the code says them with."""

import re

from django.db import migrations

FIXED = [
    "worker lost; attempts exhausted",
    "worker lost (claim expired); retried",
    "Ozon import task still pending",
    "stock pairs waiting for Ozon's 30 s interval",
    "prices waiting for Ozon's 10-per-hour limit",
    "posting not imported yet",
    "Ozon reports ship_failed; packing again later",
    "Ozon is still processing the ship request",
    "re-reading the posting after moving it on",
    "Ozon has not cancelled the posting yet",
    "waiting for an earlier operation of this payment",
    "outcome unknown: asking the gateway again later",
    "waiting for the first poll of this shop database",
]
# (what the stored text starts or ends with, its pattern, the msgid, its placeholders' names)
SHAPED = [
    ("hub database unavailable: ", r"hub database unavailable: (.*)", "hub database unavailable: {detail}", ("detail",)),
    (" may still be answered", r"attempt (\d+) may still be answered", "attempt {n} may still be answered", ("n",)),
    (" cards wait for Ozon's daily quota to reset", r"(\d+) cards wait for Ozon's daily quota to reset",
     "{n} cards wait for Ozon's daily quota to reset", ("n",)),
]


def said(apps, schema_editor):
    Job = apps.get_model("core", "Job")
    unsaid = Job.objects.filter(last_error_said__isnull=True)
    for text in FIXED:
        unsaid.filter(last_error=text).update(last_error_said={"text": text, "values": {}})
    for part, pattern, msgid, names in SHAPED:
        rows = unsaid.filter(last_error__startswith=part) if part.endswith(" ") else unsaid.filter(last_error__endswith=part)
        for pk, text in rows.values_list("pk", "last_error").iterator():
            m = re.fullmatch(pattern, text, re.S)
            if m:
                values = {name: int(v) if v.isdigit() and name == "n" else v[:1000] for name, v in zip(names, m.groups())}
                Job.objects.filter(pk=pk).update(last_error_said={"text": msgid, "values": values})


class Migration(migrations.Migration):

    dependencies = [
        ("core", "0031_side_effect_late"),
    ]

    operations = [
        migrations.RunPython(said, migrations.RunPython.noop),
    ]
