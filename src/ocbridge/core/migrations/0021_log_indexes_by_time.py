"""The request log's pages read a time range newest first (issue 23): its store, service and level indexes become
(store, created), (service, created) and (level, created), which serve the filter, the range and the order at once —
before, the week of a 1,000,000-row log was read and sorted for one page (and housekeeping's delete of old info rows
read every info row). The service field's own index is dropped by what it indexes (its
name is a hash; PostgreSQL adds a `_like` twin), as 0019 did for store and key: altering the field would rebuild the
whole log table on SQLite. The new indexes are built beside the table, which is not rewritten."""

from django.db import migrations, models


def _service_indexes(schema_editor) -> list[str]:
    conn = schema_editor.connection
    with conn.cursor() as cur:
        found = conn.introspection.get_constraints(cur, "core_exchange")
    return [name for name, c in found.items()
            if c["index"] and not c["unique"] and not c["primary_key"] and c["columns"] == ["service"]]


def drop_service_index(apps, schema_editor):
    for name in _service_indexes(schema_editor):
        schema_editor.execute(f"DROP INDEX {schema_editor.quote_name(name)}")


def create_service_index(apps, schema_editor):
    if not _service_indexes(schema_editor):
        schema_editor.execute('CREATE INDEX "core_exchange_service_206b451d" ON "core_exchange" ("service")')


class Migration(migrations.Migration):

    dependencies = [
        ("core", "0020_store_db_tls"),
    ]

    operations = [
        migrations.RemoveIndex(model_name="exchange", name="exchange_store"),
        migrations.RemoveIndex(model_name="exchange", name="exchange_level"),
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="exchange",
                    name="service",
                    field=models.CharField(choices=[
                        ("opencart", "OpenCart"), ("verimor", "Verimor"), ("netgsm", "Netgsm"), ("twilio", "Twilio"),
                        ("sandbox", "Sandbox"), ("whatsapp", "WhatsApp (Meta)"), ("ozon", "Ozon"), ("onebox", "OneBox"),
                        ("aps", "Amazon Payment Services"), ("latitudepay", "LatitudePay"),
                        ("despatch", "Despatch Cloud"), ("smtp", "E-mail (SMTP)"), ("telegram", "Telegram")],
                        max_length=20),
                ),
            ],
            database_operations=[migrations.RunPython(drop_service_index, create_service_index)],
        ),
        migrations.AddIndex(
            model_name="exchange",
            index=models.Index(fields=["store", "created"], name="exchange_store_time"),
        ),
        migrations.AddIndex(
            model_name="exchange",
            index=models.Index(fields=["service", "created"], name="exchange_service_time"),
        ),
        migrations.AddIndex(
            model_name="exchange",
            index=models.Index(fields=["level", "created"], name="exchange_level_time"),
        ),
    ]
