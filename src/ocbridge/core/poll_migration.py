"""Data migration step for a periodic job that became a routine poll (core.polls): its old Job rows go, since a
queued one would name a kind that no longer exists."""

from __future__ import annotations

from django.db import migrations


def drop_job_kinds(*kinds: str) -> migrations.RunPython:
    def forward(apps, schema_editor) -> None:
        apps.get_model("core", "Job").objects.filter(kind__in=kinds).delete()

    return migrations.RunPython(forward, migrations.RunPython.noop)
