"""Core app configuration."""

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CoreConfig(AppConfig):
    name = "ocbridge.core"
    label = "core"
    verbose_name = _("Core")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from ocbridge.core import alerts, attention, checks, housekeeping, mail, probe, spend, tasks, telegram, upkeep, wal, watchdog  # noqa: F401  (deploy checks, job kinds, schedules, needs-attention, huey)
        from ocbridge.core import config_cache

        config_cache.connect_signals()
