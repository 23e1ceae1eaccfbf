"""Fewer index entries per webhook (issue 23). The Exchange's own store index goes: `exchange_store` starts with the
store and serves every lookup by it. `exchange_key` keeps only rows with an idempotency key (a webhook has none;
lookups go through Exchange.objects.keyed), `exchange_order` only rows about an order, `job_claims` only running jobs.
The field indexes are dropped by what they index (their names are hashes; PostgreSQL adds a `_like` twin for text):
altering the fields would rebuild the whole log table on SQLite."""

import django.db.models.deletion
from django.db import migrations, models


def _single_column_indexes(schema_editor, column: str) -> list[str]:
    conn = schema_editor.connection
    with conn.cursor() as cur:
        found = conn.introspection.get_constraints(cur, "core_exchange")
    return [name for name, c in found.items()
            if c["index"] and not c["unique"] and not c["primary_key"] and c["columns"] == [column]]


def drop_field_indexes(apps, schema_editor):
    for column in ("store_id", "key"):
        for name in _single_column_indexes(schema_editor, column):
            schema_editor.execute(f"DROP INDEX {schema_editor.quote_name(name)}")


def create_field_indexes(apps, schema_editor):
    for column, name in (("store_id", "core_exchange_store_id_64d69fe0"), ("key", "core_exchange_key_2dc38767")):
        if not _single_column_indexes(schema_editor, column):
            schema_editor.execute(f'CREATE INDEX "{name}" ON "core_exchange" ("{column}")')


class Migration(migrations.Migration):

    dependencies = [
        ("core", "0018_connection_shared_with"),
    ]

    operations = [
        migrations.RemoveIndex(model_name="exchange", name="exchange_order"),
        migrations.RemoveIndex(model_name="job", name="job_claims"),
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="exchange",
                    name="store",
                    field=models.ForeignKey(blank=True, db_index=False, null=True,
                                            on_delete=django.db.models.deletion.SET_NULL, related_name="+",
                                            to="core.store"),
                ),
                migrations.AlterField(
                    model_name="exchange",
                    name="key",
                    field=models.CharField(blank=True, help_text="idempotency key of the side effect", max_length=255),
                ),
            ],
            database_operations=[migrations.RunPython(drop_field_indexes, create_field_indexes)],
        ),
        migrations.AddIndex(
            model_name="exchange",
            index=models.Index(condition=models.Q(("key__gt", "")), fields=["key"], name="exchange_key"),
        ),
        migrations.AddIndex(
            model_name="exchange",
            index=models.Index(condition=models.Q(("order_id__isnull", False)), fields=["order_id"],
                               name="exchange_order"),
        ),
        migrations.AddIndex(
            model_name="job",
            index=models.Index(condition=models.Q(("state", "running")), fields=["state", "claim_expires_at"],
                               name="job_claims"),
        ),
    ]
