"""Ozon app: registers its job kinds, the periodic sync schedule and the integration."""

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class OzonAppConfig(AppConfig):
    name = "ocbridge.integrations.ozon"
    label = "ozon"
    verbose_name = _("Ozon")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from ocbridge.core.registry import IntegrationInfo, register_integration
        from ocbridge.integrations.ozon import jobs  # noqa: F401  (registers job kinds and the schedule)
        from ocbridge.integrations.ozon.forms import OzonSettingsForm

        register_integration(IntegrationInfo(kind="ozon", label=_("Ozon marketplace"), services=("ozon",),
                                             config_form=OzonSettingsForm, url_namespace="ozon"))
