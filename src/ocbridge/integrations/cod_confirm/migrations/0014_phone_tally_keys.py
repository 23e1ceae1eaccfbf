"""Risk tallies keep the number's keyed hash, never the number (core.personal_data.phone_key): existing rows are
re-keyed in place ((phone, store) stays unique: one number has one key)."""

from django.db import migrations


def rekey(apps, schema_editor):
    from ocbridge.core.personal_data import KEY_PREFIX, phone_key

    PhoneTally = apps.get_model("cod_confirm", "PhoneTally")
    for row in PhoneTally.objects.exclude(phone__startswith=KEY_PREFIX).only("pk", "phone").iterator():
        PhoneTally.objects.filter(pk=row.pk).update(phone=phone_key(row.phone))


class Migration(migrations.Migration):
    dependencies = [("cod_confirm", "0013_attempt_over_cap")]
    operations = [migrations.RunPython(rekey, migrations.RunPython.noop)]
