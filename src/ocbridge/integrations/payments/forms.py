"""Payment gateway settings form (builds a PaymentConfig): the fields of the gateways' own OpenCart modules that
belong to the store's side — command, order statuses, link expiry, language. The merchant identifier, access
code and SHA phrases live encrypted on the Connection; the SHA type and sandbox are the connection's options."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from ocbridge.integrations.payments.config import INSTALLMENT_CURRENCIES, PaymentConfig

MAX_ID = 2**31 - 1


class PaymentSettingsForm(forms.Form):
    command = forms.ChoiceField(label=_("Payment command"), choices=[
        ("PURCHASE", _("Purchase: take the money at once")),
        ("AUTHORIZATION", _("Authorisation: hold the money, capture it from the order's page"))])
    paid_status_id = forms.IntegerField(label=_("Order status after payment"), min_value=1, max_value=MAX_ID)
    authorised_status_id = forms.IntegerField(label=_("Order status after an authorisation"), min_value=0,
                                              max_value=MAX_ID, required=False,
                                              help_text=_("0 or empty: the same as after payment"))
    refunded_status_id = forms.IntegerField(label=_("Order status after a full refund"), min_value=0, max_value=MAX_ID,
                                            required=False, help_text=_("0 or empty: only a history comment"))
    link_hours = forms.IntegerField(label=_("Pay links expire after (hours)"), min_value=1, max_value=24 * 30)
    language = forms.ChoiceField(label=_("Payment page language"), choices=[("en", "English"), ("ar", "العربية")],
                                 help_text=_("Used when the customer's language is not one the gateway's page speaks"))
    link_payment_codes = forms.CharField(
        label=_("Send a pay link for new orders with these payment methods"), required=False,
        help_text=_("Payment method codes, comma-separated (e.g. bank_transfer): the customer gets the link by e-mail"))
    notify_customer = forms.BooleanField(label=_("Notify the customer"), required=False,
                                         help_text=_("Only through OpenCart's native API; the database path sends no e-mail"))

    # Amazon Payment Services only (the fields of its OpenCart module's "Integration type" and "Installments" tab)
    integration_type = forms.ChoiceField(label=_("Card page"), choices=[
        ("redirection", _("Redirection: the customer goes to Amazon Payment Services' page")),
        ("merchant_page", _("Merchant page: Amazon Payment Services' card form inside the hub's pay page"))],
        help_text=_("Either way the card is typed on Amazon Payment Services' own page, never on the hub."))
    installments = forms.ChoiceField(label=_("Installments"), choices=[
        ("off", _("Off")),
        ("standalone", _("Standalone: the customer picks a plan on Amazon Payment Services' page")),
        ("hosted", _("Hosted: the pay page lists the banks' plans (merchant page only)"))],
        help_text=_("Offered beside paying in full, in AED, SAR and EGP only (where Amazon Payment Services has "
                    "installments), for orders of at least the minimum below. Always taken as a purchase."))

    def __init__(self, *args, kind: str = "aps", **kwargs):
        super().__init__(*args, **kwargs)
        self.kind = kind
        for currency in INSTALLMENT_CURRENCIES:
            self.fields[f"installments_min_{currency}"] = forms.DecimalField(
                label=_("Installments from (%(currency)s)") % {"currency": currency}, min_value=0,
                max_value=10_000_000, max_digits=12, decimal_places=3)  # a ceiling: a typo is refused, not stored
        if kind != "aps":  # LatitudePay has its own plans and one page
            for name in ["integration_type", "installments", *(f"installments_min_{c}" for c in INSTALLMENT_CURRENCIES)]:
                del self.fields[name]

    @classmethod
    def from_integration(cls, integration, data=None) -> PaymentSettingsForm:
        initial = PaymentConfig.from_settings(integration.settings).to_settings()
        initial["link_payment_codes"] = ", ".join(initial["link_payment_codes"])
        for currency, amount in initial.pop("installments_min").items():
            initial[f"installments_min_{currency}"] = amount
        return cls(data, initial=initial, kind=integration.kind)

    def clean(self):
        data = super().clean()
        if data.get("installments") == "hosted" and data.get("integration_type") != "merchant_page":
            self.add_error("installments", _("Hosted installments need the merchant page: the plans are shown on "
                                             "the hub's pay page, next to Amazon Payment Services' card form."))
        return data

    def clean_link_payment_codes(self) -> list[str]:
        codes = [c.strip().lower() for c in (self.cleaned_data.get("link_payment_codes") or "").split(",") if c.strip()]
        bad = [c for c in codes if not c.replace("_", "").replace(".", "").isalnum()]
        if bad:
            raise forms.ValidationError(_("Not a payment method code: %(codes)s") % {"codes": ", ".join(bad)})
        return codes

    def save(self, integration, user: str = "") -> PaymentConfig:
        data = {k: (v if v is not None else 0) for k, v in self.cleaned_data.items()
                if not k.startswith("installments_min_")}
        if self.kind == "aps":
            data["installments_min"] = {c: str(self.cleaned_data[f"installments_min_{c}"])
                                        for c in INSTALLMENT_CURRENCIES}
        cfg = PaymentConfig.from_settings({**(integration.settings or {}), **data})
        integration.settings = cfg.to_settings()
        integration.save(update_fields=["settings", "updated"])
        return cfg
