"""OpenCart adapter app (hub-side phone index and poll state live here)."""

from django.apps import AppConfig


class OpencartConfig(AppConfig):
    name = "ocbridge.opencart"
    label = "opencart"
    verbose_name = "OpenCart"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from ocbridge.opencart import attention, notices, polling, push  # noqa: F401  (not-written writes; mail; the shared poll; pushed reads)
