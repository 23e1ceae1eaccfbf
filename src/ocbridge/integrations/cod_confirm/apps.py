"""COD confirmation app: registers its job kinds, webhooks and the integration."""

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CodConfirmConfigApp(AppConfig):
    name = "ocbridge.integrations.cod_confirm"
    label = "cod_confirm"
    verbose_name = _("COD confirmation")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from ocbridge.core.registry import IntegrationInfo, register_integration
        from ocbridge.integrations.cod_confirm import actions, address, attention, balances, jobs  # noqa: F401  (job kinds, poll schedule, needs-attention, balances)
        from ocbridge.integrations.cod_confirm import plan, watchdog, webhooks, whatsapp_events  # noqa: F401  (watchdog finder, resume policy, Meta's hook)
        from ocbridge.integrations.cod_confirm.forms import CodConfirmForm

        webhooks.register_all()
        register_integration(IntegrationInfo(kind="cod_confirm", label=_("COD confirmation"),
                                             services=("verimor", "netgsm", "twilio", "sandbox", "whatsapp"),
                                             config_form=CodConfirmForm, url_namespace="cod_confirm",
                                             # The plan (plan.py) names connections per step: no single one.
                                             extras={"channel_plan": True, "connections_label": plan.connections_label,
                                                     "test_ready": lambda integration: bool(plan.steps(integration)),
                                                     "check_connection": actions.check_connection,
                                                     "test_message": actions.test_message,
                                                     "copy_from": plan.copy_from}))
