"""One store's warnings and errors of a day are a range of their own (issue 23): the overview's "Exchanges per day"
card of one store counted them through (level, created), which holds every store's rows — at 1,000 stores a thousand
times the rows it needs. The index is partial (warnings and errors only, a few percent of the log), so an info row's
write is unchanged. Built beside the table, which is not rewritten."""

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ("core", "0026_alert_route_language"),
    ]

    operations = [
        migrations.AddIndex(
            model_name="exchange",
            index=models.Index(condition=models.Q(("level", "warning"), ("level", "error"), _connector="OR"),
                               fields=["store", "level", "created"], name="exchange_store_trouble"),
        ),
    ]
