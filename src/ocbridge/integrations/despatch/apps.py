"""Despatch Cloud app: registers its job kinds, schedules and the integration."""

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class DespatchAppConfig(AppConfig):
    name = "ocbridge.integrations.despatch"
    label = "despatch"
    verbose_name = _("Despatch Cloud")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from ocbridge.core.registry import IntegrationInfo, register_integration
        from ocbridge.integrations.despatch import attention, jobs  # noqa: F401  (registers kinds, schedules, attention)
        from ocbridge.integrations.despatch.forms import DespatchSettingsForm

        register_integration(IntegrationInfo(kind="despatch", label=_("Despatch Cloud fulfilment"), services=("despatch",),
                                             config_form=DespatchSettingsForm, url_namespace="despatch",
                                             extras={"check_connection": jobs.check_connection}))
