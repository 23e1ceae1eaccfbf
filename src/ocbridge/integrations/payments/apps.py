"""Payments app: one kind per gateway (`aps`, `latitudepay`), one Payment model, pay links, notifications."""

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class PaymentsAppConfig(AppConfig):
    name = "ocbridge.integrations.payments"
    label = "payments"
    verbose_name = _("Payments")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from ocbridge.core.registry import IntegrationInfo, register_integration
        from ocbridge.integrations.payments import jobs, notices  # noqa: F401  (registers kinds, hooks, schedules)
        from ocbridge.integrations.payments.forms import PaymentSettingsForm

        for kind, label in (("aps", _("Amazon Payment Services (card payments)")),
                            ("latitudepay", _("LatitudePay / Genoapay (instalments; closed in 2023)"))):
            register_integration(IntegrationInfo(kind=kind, label=label, services=(kind,),
                                                 config_form=PaymentSettingsForm, url_namespace="payments",
                                                 extras={"check_connection": jobs.check_connection}))
