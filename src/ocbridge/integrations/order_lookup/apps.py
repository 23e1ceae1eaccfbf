"""Order lookup app: registers its webhooks, its phone-index schedule and the integration."""

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class OrderLookupAppConfig(AppConfig):
    name = "ocbridge.integrations.order_lookup"
    label = "order_lookup"
    verbose_name = _("Order status by phone")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from ocbridge.core.registry import IntegrationInfo, register_integration
        from ocbridge.integrations.order_lookup import jobs, netgsm, webhooks  # noqa: F401  (register kinds and hooks)
        from ocbridge.integrations.order_lookup.forms import OrderLookupForm
        from ocbridge.integrations.order_lookup.views import overview_card

        register_integration(IntegrationInfo(kind="order_lookup", label=_("Order status by phone"),
                                             services=("verimor", "twilio", "netgsm"), config_form=OrderLookupForm,
                                             url_namespace="order_lookup",
                                             extras={"overview_cards": (overview_card,),
                                                     "webhooks": {"verimor": "call-decision", "twilio": "voice",
                                                                  "netgsm": "pbx-event"}}))
