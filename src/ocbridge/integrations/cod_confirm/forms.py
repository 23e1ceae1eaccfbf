"""The cod_confirm settings form: builds a CodConfirmConfig, validated field by field in the user's language."""

from __future__ import annotations

import json
from decimal import Decimal

import phonenumbers
from django import forms
from django.utils.translation import gettext_lazy as _

from ocbridge.core import clock
from ocbridge.core.models import AuditEntry
from ocbridge.integrations.cod_confirm.config import WEEKDAYS, CodConfirmConfig
from ocbridge.integrations.cod_confirm.mappers import TemplateError, check_template

MAX_OFFSET_MINUTES = 7 * 24 * 60  # an attempt a week after the order is the latest that still makes sense
MAX_MONEY = Decimal("100000000000")  # fits Confirmation.total (15 digits, 4 decimals)
DAY_NAMES = [_("Monday"), _("Tuesday"), _("Wednesday"), _("Thursday"), _("Friday"), _("Saturday"), _("Sunday")]
LANGS = ("tr", "ru", "en")


def _shop_choices(store) -> tuple[dict[int, str] | None, dict[str, str] | None]:
    """Status names in the store's language and payment methods seen in its orders; (None, None) if unreachable."""
    from ocbridge import opencart
    from ocbridge.core.errors import ConfigurationError, ServiceError
    from ocbridge.opencart import payments, statuses

    try:
        shop = opencart.shop_db(store)
        langs = statuses.languages(shop)
        lang_id = next((i for i, code in langs.items() if code.startswith(store.language)), next(iter(langs), None))
        return statuses.statuses(shop, lang_id), payments.methods_seen(shop)
    except (ConfigurationError, ServiceError, OSError):
        return None, None


def _hours_field(label):
    return forms.CharField(label=label, required=False, max_length=11,
                           help_text=_("HH:MM-HH:MM, empty = no calls or SMS that day"))


class CodConfirmForm(forms.Form):
    """Settings of one Store's COD confirmation. Status and payment choices come from the shop itself."""

    cod_codes = forms.MultipleChoiceField(label=_("Payment methods that are cash on delivery"), required=True,
                                          widget=forms.CheckboxSelectMultiple)
    pending_status_id = forms.TypedChoiceField(label=_("Status of orders waiting for confirmation"), coerce=int)
    confirmed_status_id = forms.TypedChoiceField(label=_("Status when the customer confirms"), coerce=int)
    cancelled_status_id = forms.TypedChoiceField(label=_("Status when the customer cancels"), coerce=int)
    channel_policy = forms.ChoiceField(label=_("Channels"), choices=[
        ("call", _("Call only")), ("sms", _("SMS only")), ("call_then_sms", _("Call, then SMS if no answer"))])
    attempt_offsets_minutes = forms.CharField(label=_("Attempts (minutes after the order)"), initial="0, 30, 120",
                                              help_text=_("Comma-separated, e.g. 0, 30, 120"))
    on_exhausted = forms.ChoiceField(label=_("When attempts run out"), choices=[
        ("needs_person", _("Leave pending and flag for a person")), ("cancel", _("Cancel the order"))])
    reconfirm_cancel = forms.BooleanField(label=_("Ask again before cancelling (press 2 twice)"), required=False)
    rep_target = forms.CharField(label=_("Customer representative (phone or extension) for key 0"), required=False,
                                 max_length=32)
    caller_id = forms.CharField(label=_("Caller ID"), required=False, max_length=32)
    sms_sender = forms.CharField(label=_("SMS sender name"), required=False, max_length=11)
    announcement_id = forms.CharField(label=_("Recorded announcement id (instead of text-to-speech)"), required=False,
                                      max_length=64)
    read_order_details = forms.BooleanField(label=_("Read the total and item count in the call"), required=False)
    min_total = forms.DecimalField(label=_("Minimum order total"), required=False, min_value=0, max_value=MAX_MONEY,
                                   decimal_places=2)
    max_total = forms.DecimalField(label=_("Maximum order total"), required=False, min_value=0, max_value=MAX_MONEY,
                                   decimal_places=2)
    skip_after_completed_orders = forms.IntegerField(label=_("Skip customers with this many completed orders"),
                                                     required=False, min_value=1, max_value=10000)
    dry_run = forms.BooleanField(label=_("Dry run: decide and log, call nobody"), required=False)
    notify_customer = forms.BooleanField(label=_("Notify the customer by e-mail from OpenCart"), required=False)
    comment_confirmed = forms.CharField(label=_("Order history comment when confirmed"), max_length=255)
    comment_cancelled = forms.CharField(label=_("Order history comment when cancelled"), max_length=255)
    several_pending = forms.ChoiceField(label=_("A customer with several pending orders replies by SMS"), choices=[
        ("require_order", _("The reply must name the order")), ("latest", _("The reply applies to the latest order"))])
    return_shipping_cost = forms.DecimalField(label=_("Return shipping cost (for 'money saved')"), required=False,
                                              min_value=0, max_value=Decimal("1000000"), decimal_places=2)

    def __init__(self, *args, statuses: dict[int, str] | None = None, payment_methods: dict[str, str] | None = None,
                 **kwargs):
        super().__init__(*args, **kwargs)
        statuses = statuses or {1: "Pending", 2: "Processing", 7: "Canceled"}
        choices = [(sid, f"{name} ({sid})") for sid, name in sorted(statuses.items())]
        for name in ("pending_status_id", "confirmed_status_id", "cancelled_status_id"):
            self.fields[name].choices = choices
        methods = {"cod": "Cash On Delivery", **(payment_methods or {})}
        self.fields["cod_codes"].choices = [(code, f"{title} ({code})") for code, title in sorted(methods.items())]
        for i, day in enumerate(WEEKDAYS):
            self.fields[f"hours_{day}"] = _hours_field(DAY_NAMES[i])
        for lang in LANGS:
            self.fields[f"call_text_{lang}"] = forms.CharField(label=_("Call text (%s)") % lang.upper(),
                                                               widget=forms.Textarea(attrs={"rows": 3}), max_length=1000)
            self.fields[f"sms_text_{lang}"] = forms.CharField(label=_("SMS text (%s)") % lang.upper(),
                                                              widget=forms.Textarea(attrs={"rows": 2}), max_length=612)

    @classmethod
    def from_integration(cls, integration, data=None) -> CodConfirmForm:
        """The form for one Store, with its own statuses and payment methods (defaults if the shop is unreachable)."""
        cfg = CodConfirmConfig.from_settings(integration.settings or {})
        statuses, methods = _shop_choices(integration.store)
        return cls(data, initial=cls.initial_from(cfg), statuses=statuses, payment_methods=methods)

    @classmethod
    def initial_from(cls, cfg: CodConfirmConfig) -> dict:
        data = cfg.to_settings()
        data["attempt_offsets_minutes"] = ", ".join(str(m) for m in cfg.attempt_offsets_minutes)
        for day in WEEKDAYS:
            hours = cfg.day_hours.get(day)
            data[f"hours_{day}"] = f"{hours[0]}-{hours[1]}" if hours else ""
        for lang in LANGS:
            data[f"call_text_{lang}"] = cfg.call_texts.get(lang, "")
            data[f"sms_text_{lang}"] = cfg.sms_texts.get(lang, "")
        return data

    def clean_attempt_offsets_minutes(self):
        raw = self.cleaned_data["attempt_offsets_minutes"]
        try:
            values = [int(v) for v in raw.replace(";", ",").split(",") if v.strip()]
        except ValueError:
            raise forms.ValidationError(_("Use whole minutes separated by commas, e.g. 0, 30, 120.")) from None
        if not values or len(values) > 10:
            raise forms.ValidationError(_("Give between 1 and 10 attempts."))
        if any(v < 0 for v in values) or values != sorted(values):
            raise forms.ValidationError(_("Minutes must be zero or more and in increasing order."))
        if values[-1] > MAX_OFFSET_MINUTES:
            raise forms.ValidationError(_("The last attempt must be within 7 days (%(max)d minutes) of the order.")
                                        % {"max": MAX_OFFSET_MINUTES})
        return values

    def clean_rep_target(self):
        value = self.cleaned_data["rep_target"].strip()
        if value and not value.isdigit():  # an extension is digits; a phone number must parse
            try:
                ok = phonenumbers.is_valid_number(phonenumbers.parse(value, "TR"))
            except phonenumbers.NumberParseException:
                ok = False
            if not ok:
                raise forms.ValidationError(_("Enter a phone number or an extension."))
        return value

    def clean(self):
        data = super().clean()
        for day in WEEKDAYS:
            raw = (data.get(f"hours_{day}") or "").strip()
            if not raw:
                data[f"hours_{day}"] = None
                continue
            try:
                start, end = [p.strip() for p in raw.split("-")]
                sh, sm = (int(x) for x in start.split(":"))
                eh, em = (int(x) for x in end.split(":"))
                if not (0 <= sh < 24 and 0 <= sm < 60 and 0 <= eh <= 24 and 0 <= em < 60) or (sh, sm) >= (eh, em):
                    raise ValueError
            except ValueError:
                self.add_error(f"hours_{day}", _("Use HH:MM-HH:MM with the start before the end, e.g. 09:00-21:00."))
                continue
            data[f"hours_{day}"] = [f"{sh:02d}:{sm:02d}", f"{eh:02d}:{em:02d}"]
        for lang in LANGS:
            for kind in ("call_text", "sms_text"):
                name = f"{kind}_{lang}"
                if data.get(name):
                    try:
                        check_template(data[name])
                    except TemplateError as exc:
                        self.add_error(name, _("Unknown placeholder: %(names)s. Allowed: {name}, {order_id}, {total}, "
                                               "{shop}, {items}.") % {"names": exc})
        lo, hi = data.get("min_total"), data.get("max_total")
        if lo is not None and hi is not None and lo > hi:
            self.add_error("max_total", _("The maximum must not be below the minimum."))
        if data.get("confirmed_status_id") == data.get("pending_status_id"):
            self.add_error("confirmed_status_id", _("Choose a status different from the pending one."))
        if data.get("cancelled_status_id") in (data.get("pending_status_id"), data.get("confirmed_status_id")):
            self.add_error("cancelled_status_id", _("Choose a status different from the pending and confirmed ones."))
        return data

    def to_config(self, base: CodConfirmConfig) -> CodConfirmConfig:
        d = self.cleaned_data
        values = base.to_settings()
        for name in ("cod_codes", "pending_status_id", "confirmed_status_id", "cancelled_status_id", "channel_policy",
                     "attempt_offsets_minutes", "on_exhausted", "reconfirm_cancel", "rep_target", "caller_id",
                     "sms_sender", "announcement_id", "read_order_details", "min_total", "max_total",
                     "skip_after_completed_orders", "dry_run", "notify_customer", "comment_confirmed",
                     "comment_cancelled", "several_pending"):
            values[name] = d.get(name)
        values["return_shipping_cost"] = d.get("return_shipping_cost") or Decimal("0")
        values["day_hours"] = {day: d.get(f"hours_{day}") for day in WEEKDAYS}
        values["call_texts"] = {lang: d[f"call_text_{lang}"] for lang in LANGS}
        values["sms_texts"] = {lang: d[f"sms_text_{lang}"] for lang in LANGS}
        return CodConfirmConfig.from_settings(json.loads(json.dumps(values, default=str)))

    def save(self, integration, user: str) -> CodConfirmConfig:
        """Store the new settings in one write and audit who changed what (no secrets live here)."""
        old = CodConfirmConfig.from_settings(integration.settings)
        new = self.to_config(old)
        changed = sorted(k for k, v in new.to_settings().items() if old.to_settings().get(k) != v)
        integration.settings = new.to_settings()
        integration.save(update_fields=["settings", "updated"])
        replanned = 0
        if {"day_hours", "attempt_offsets_minutes"} & set(changed):
            from ocbridge.integrations.cod_confirm.jobs import replan_waiting

            replanned = replan_waiting(integration)  # widened hours call held orders now, not at the old opening
        AuditEntry.objects.create(created=clock.now(), user=user, action="cod_confirm.settings", store=integration.store,
                                  object_type="integration", object_id=str(integration.pk),
                                  data={"changed": changed, "replanned": replanned})
        return new
