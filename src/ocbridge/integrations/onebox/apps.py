"""OneBox CRM app: registers its job kinds, feed consumers, schedules and the integration."""

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class OneBoxAppConfig(AppConfig):
    name = "ocbridge.integrations.onebox"
    label = "onebox"
    verbose_name = _("OneBox CRM")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from ocbridge.core.registry import IntegrationInfo, register_integration
        from ocbridge.integrations.onebox import attention, catalogue_in, contacts_in, jobs  # noqa: F401  (registers kinds, consumers, schedules)
        from ocbridge.integrations.onebox.forms import OneBoxSettingsForm

        register_integration(IntegrationInfo(kind="onebox", label=_("OneBox CRM sync"), services=("onebox",),
                                             config_form=OneBoxSettingsForm, url_namespace="onebox",
                                             extras={"check_connection": jobs.check_connection}))
