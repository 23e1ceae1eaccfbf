"""Two index entries fewer per order-status call (issue 23): LookupCall's integration and connection are kept for the
dashboard, never looked up by. Only deleting an Integration or Connection reads by them (to empty the link), a rare
action that scans the table instead. Dropped by what they index (their names are hashes): altering the fields
would rebuild the table on SQLite."""

import django.db.models.deletion
from django.db import migrations, models

TABLE = "order_lookup_lookupcall"
INDEXES = (("integration_id", "order_lookup_lookupcall_integration_id_5f89a206"),
           ("connection_id", "order_lookup_lookupcall_connection_id_c19cdd5b"))


def _single_column_indexes(schema_editor, column: str) -> list[str]:
    conn = schema_editor.connection
    with conn.cursor() as cur:
        found = conn.introspection.get_constraints(cur, TABLE)
    return [name for name, c in found.items()
            if c["index"] and not c["unique"] and not c["primary_key"] and c["columns"] == [column]]


def drop_indexes(apps, schema_editor):
    for column, _name in INDEXES:
        for name in _single_column_indexes(schema_editor, column):
            schema_editor.execute(f"DROP INDEX {schema_editor.quote_name(name)}")


def create_indexes(apps, schema_editor):
    for column, name in INDEXES:
        if not _single_column_indexes(schema_editor, column):
            schema_editor.execute(f'CREATE INDEX "{name}" ON "{TABLE}" ("{column}")')


class Migration(migrations.Migration):

    dependencies = [
        ("core", "0019_lighter_log_indexes"),
        ("order_lookup", "0005_lookup_call_fewer_indexes"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="lookupcall",
                    name="integration",
                    field=models.ForeignKey(blank=True, db_index=False, null=True,
                                            on_delete=django.db.models.deletion.SET_NULL, related_name="+",
                                            to="core.integration"),
                ),
                migrations.AlterField(
                    model_name="lookupcall",
                    name="connection",
                    field=models.ForeignKey(blank=True, db_index=False, null=True,
                                            on_delete=django.db.models.deletion.SET_NULL, related_name="+",
                                            to="core.connection"),
                ),
            ],
            database_operations=[migrations.RunPython(drop_indexes, create_indexes)],
        ),
    ]
