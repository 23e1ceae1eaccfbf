"""Two index entries fewer per webhook (issue 23): a webhook's row is info and not yet linked to a job, and it wrote an
entry in (level, created) and in the job index all the same. (level, created) keeps only warnings and errors
(`exchange_trouble_time`): a page of info rows, housekeeping's old info rows and a day's info count read `created`.
The job index keeps only rows linked to a job (`exchange_job`); it is dropped by what it indexes (its name is a hash):
altering the field would rebuild the whole log table on SQLite."""

import django.db.models.deletion
from django.db import migrations, models


def _single_column_indexes(schema_editor, column: str) -> list[str]:
    conn = schema_editor.connection
    with conn.cursor() as cur:
        found = conn.introspection.get_constraints(cur, "core_exchange")
    return [name for name, c in found.items()
            if c["index"] and not c["unique"] and not c["primary_key"] and c["columns"] == [column]
            and name != "exchange_job"]


def drop_job_index(apps, schema_editor):
    for name in _single_column_indexes(schema_editor, "job_id"):
        schema_editor.execute(f"DROP INDEX {schema_editor.quote_name(name)}")


def create_job_index(apps, schema_editor):
    if not _single_column_indexes(schema_editor, "job_id"):
        schema_editor.execute('CREATE INDEX "core_exchange_job_id_78132b8f" ON "core_exchange" ("job_id")')


class Migration(migrations.Migration):

    dependencies = [
        ("core", "0033_lost_answer_counts_plural"),
    ]

    operations = [
        migrations.RemoveIndex(model_name="exchange", name="exchange_level_time"),
        migrations.AddIndex(
            model_name="exchange",
            index=models.Index(condition=models.Q(("level", "warning"), ("level", "error"), _connector="OR"),
                               fields=["level", "created"], name="exchange_trouble_time"),
        ),
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="exchange",
                    name="job",
                    field=models.ForeignKey(blank=True, db_index=False, null=True,
                                            on_delete=django.db.models.deletion.SET_NULL, related_name="exchanges",
                                            to="core.job"),
                ),
            ],
            database_operations=[migrations.RunPython(drop_job_index, create_job_index)],
        ),
        migrations.AddIndex(
            model_name="exchange",
            index=models.Index(condition=models.Q(("job__isnull", False)), fields=["job"], name="exchange_job"),
        ),
    ]
