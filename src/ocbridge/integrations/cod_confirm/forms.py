"""The cod_confirm settings form: builds a CodConfirmConfig and the channel plan, validated field by field in the
user's language.

The channel plan is rows of four fields, `step<i>_channel`, `step<i>_connection` (a Connection pk of this store),
`step<i>_delay` and `step<i>_window` (minutes), i = 1…`plan_rows`; a row with no channel is left out. The form
checks the plan with `plan.validate` and saves it with `plan.replace` together with the settings."""

from __future__ import annotations

import json
import re
from decimal import Decimal

import phonenumbers
from django import forms
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from ocbridge.core import clock
from ocbridge.core.models import AuditEntry, Connection
from ocbridge.integrations.cod_confirm import plan
from ocbridge.integrations.cod_confirm.choices import Channel
from ocbridge.integrations.cod_confirm.config import WEEKDAYS, CodConfirmConfig
from ocbridge.integrations.cod_confirm.mappers import TemplateError, check_template

MAX_MONEY = Decimal("100000000000")  # fits Confirmation.total (15 digits, 4 decimals)
DAY_NAMES = [_("Monday"), _("Tuesday"), _("Wednesday"), _("Thursday"), _("Friday"), _("Saturday"), _("Sunday")]
LANGS = ("tr", "ru", "en", "ar")  # customer languages; Arabic for Gulf shops (right to left)
RTL = frozenset({"ar"})
# shown right under the channel plan's rows: the countries each channel is used for, WhatsApp's address link
PLAN_FIELDS = ("whatsapp_countries", "whatsapp_off_countries", "whatsapp_address_link", "call_countries",
                  "sms_countries")
COUNTRY_HELP = _("Two-letter country codes separated by commas, e.g. TR, AZ, AE; empty = every country. A step "
                 "whose channel is not used for the customer's country is skipped to the next step.")
RISK_STATUS_FIELDS = ("risk_refused_status_ids", "risk_delivered_status_ids")


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
    notify_customer = forms.BooleanField(
        label=_("Notify the customer by e-mail"), required=False,
        help_text=_("OpenCart's own e-mail through its native API; on the database path the hub's mail when it is set "
                    "up (the history says notified once it went)"))
    comment_confirmed = forms.CharField(label=_("Order history comment when confirmed"), max_length=255)
    comment_cancelled = forms.CharField(label=_("Order history comment when cancelled"), max_length=255)
    several_pending = forms.ChoiceField(label=_("A customer with several pending orders replies by SMS"), choices=[
        ("require_order", _("The reply must name the order")), ("latest", _("The reply applies to the latest order"))])
    risk_share = forms.BooleanField(label=_("Share this store's order outcomes with the hub's other stores that share"),
                                    required=False, help_text=_("Other stores see counts only, never this store's "
                                                                "name or customers."))
    risk_hold_above = forms.IntegerField(label=_("Hold for a person when the phone's risk score is above"),
                                         required=False, min_value=-1000, max_value=1000)
    risk_confirm_above = forms.IntegerField(label=_("Always confirm when the risk score is above"), required=False,
                                            min_value=-1000, max_value=1000)
    risk_skip_proven = forms.IntegerField(label=_("Skip confirmation after this many delivered orders (no refusals)"),
                                          required=False, min_value=1, max_value=1000)
    risk_refused_status_ids = forms.TypedMultipleChoiceField(
        label=_("Statuses that mean the parcel was refused or returned"), coerce=int, required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text=_("Counted against the phone's risk score and on the overview's returns figure."))
    risk_delivered_status_ids = forms.TypedMultipleChoiceField(
        label=_("Statuses that mean the order was delivered and paid"), coerce=int, required=False,
        widget=forms.CheckboxSelectMultiple, help_text=_("Counted for the phone as a proven customer."))
    whatsapp_countries = forms.CharField(
        label=_("WhatsApp: only for numbers of these countries"), required=False, max_length=300,
        help_text=COUNTRY_HELP)
    whatsapp_off_countries = forms.CharField(
        label=_("WhatsApp: never for numbers of these countries"), required=False, max_length=300,
        help_text=_("Russia restricts WhatsApp, so RU is here unless you remove it. Countries are told apart by "
                    "the number itself, not by +7 alone (Kazakhstan shares it)."))
    whatsapp_address_link = forms.BooleanField(
        label=_("The WhatsApp message carries the link where the customer corrects the delivery address"),
        required=False, help_text=_("A second message template, submitted for Meta's review from the WhatsApp "
                                    "connection's template page; until it is approved the message goes without "
                                    "the link."))
    call_countries = forms.CharField(label=_("Calls: only to numbers of these countries"), required=False,
                                     max_length=300, help_text=COUNTRY_HELP)
    sms_countries = forms.CharField(label=_("SMS: only to numbers of these countries"), required=False,
                                    max_length=300, help_text=COUNTRY_HELP)
    pay_offer = forms.BooleanField(
        label=_("Offer paying now by card (key 3 in the call, ÖDE / ОПЛАТА / PAY in an SMS reply)"), required=False,
        help_text=_("The customer gets a pay link of the store's payment integration; the order is confirmed when it "
                    "is paid, and goes to you when it is not paid in time."))
    pay_link_channel = forms.ChoiceField(label=_("Send the pay link by"), required=False, choices=[
        ("sms", _("SMS (the COD connection)")), ("email", _("E-mail (the order's address)"))],
        help_text=_("With SMS, a customer who chose on WhatsApp gets the link in that chat while WhatsApp allows "
                    "it (within 24 hours of their message), else by SMS."))
    pay_wait_hours = forms.IntegerField(label=_("Hours to wait for the payment"), required=False, min_value=1,
                                        max_value=720)
    return_shipping_cost = forms.DecimalField(label=_("Return shipping cost (for 'money saved')"), required=False,
                                              min_value=0, max_value=Decimal("1000000"), decimal_places=2)

    def __init__(self, *args, statuses: dict[int, str] | None = None, payment_methods: dict[str, str] | None = None,
                 integration=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.integration = integration
        self._add_plan_fields()
        for name in PLAN_FIELDS:  # right under the plan's rows: where each channel is used, WhatsApp's link
            self.fields[name] = self.fields.pop(name)
        statuses = statuses or {1: "Pending", 2: "Processing", 7: "Canceled"}
        choices = [(sid, f"{name} ({sid})") for sid, name in sorted(statuses.items())]
        for name in ("pending_status_id", "confirmed_status_id", "cancelled_status_id", *RISK_STATUS_FIELDS):
            self.fields[name].choices = choices
        methods = {"cod": "Cash On Delivery", **(payment_methods or {})}
        self.fields["cod_codes"].choices = [(code, f"{title} ({code})") for code, title in sorted(methods.items())]
        for i, day in enumerate(WEEKDAYS):
            self.fields[f"hours_{day}"] = _hours_field(DAY_NAMES[i])
        for lang in LANGS:
            attrs = {"lang": lang, "dir": "rtl" if lang in RTL else "auto"}
            self.fields[f"call_text_{lang}"] = forms.CharField(
                label=_("Call text (%s)") % lang.upper(), max_length=1000, required=lang != "ar",
                widget=forms.Textarea(attrs={"rows": 3, **attrs}))
            self.fields[f"sms_text_{lang}"] = forms.CharField(
                label=_("SMS text (%s)") % lang.upper(), max_length=612, required=lang != "ar",
                help_text=_("{address_link} adds a link where the customer can correct the delivery address and "
                            "confirm (valid 3 days, until the order is decided)."),
                widget=forms.Textarea(attrs={"rows": 2, **attrs}))

    @classmethod
    def from_integration(cls, integration, data=None) -> CodConfirmForm:
        """The form for one Store, with its own statuses and payment methods (defaults if the shop is unreachable)."""
        cfg = CodConfirmConfig.from_settings(integration.settings or {})
        statuses, methods = _shop_choices(integration.store)
        initial = {**cls.initial_from(cfg), **cls.plan_initial(plan.steps(integration))}
        return cls(data, initial=initial, statuses=statuses, payment_methods=methods, integration=integration)

    # --- the channel plan ---------------------------------------------------------------------------------

    @property
    def plan_rows(self) -> int:
        saved = len(plan.steps(self.integration)) if self.integration is not None else 0
        return min(plan.MAX_STEPS, max(3, saved + 1))

    def _add_plan_fields(self) -> None:
        store_id = self.integration.store_id if self.integration is not None else None
        conns = (Connection.objects.filter(Q(store_id=store_id) | Q(shared_with=store_id)).distinct().order_by("pk")
                 if store_id else Connection.objects.none())  # its own accounts and those shared with it
        conn_choices = [("", "—")] + [(str(c.pk), str(c)) for c in conns if plan.channels_of(c)]
        for i in range(1, self.plan_rows + 1):
            self.fields[f"step{i}_channel"] = forms.ChoiceField(
                label=_("Step %(n)s: channel") % {"n": i}, required=False,
                choices=[("", _("(not used)"))] + list(Channel.choices))
            self.fields[f"step{i}_connection"] = forms.ChoiceField(label=_("Step %(n)s: through") % {"n": i},
                                                                   required=False, choices=conn_choices)
            self.fields[f"step{i}_delay"] = forms.IntegerField(
                label=_("Step %(n)s: minutes after the previous attempt") % {"n": i}, required=False, min_value=0,
                max_value=plan.MAX_DELAY_MINUTES, initial=0,
                help_text=_("The first step: minutes after the order arrived."))
            self.fields[f"step{i}_window"] = forms.IntegerField(
                label=_("Step %(n)s: answer window (minutes)") % {"n": i}, required=False, min_value=1,
                max_value=plan.MAX_WINDOW_MINUTES, initial=15,
                help_text=_("The next step waits until the customer can no longer answer this one."))

    @staticmethod
    def plan_initial(saved) -> dict:
        data = {}
        for s in saved:
            data.update({f"step{s.position}_channel": s.channel, f"step{s.position}_connection": str(s.connection_id),
                         f"step{s.position}_delay": s.delay_minutes, f"step{s.position}_window": s.window_minutes})
        return data

    def _clean_plan(self, data) -> None:
        rows, steps = [], []
        for i in range(1, self.plan_rows + 1):
            channel = data.get(f"step{i}_channel")
            if not channel:
                continue
            conn_id = data.get(f"step{i}_connection")
            if not conn_id:
                self.add_error(f"step{i}_connection", _("Choose the connection this step goes through."))
                continue
            conn = Connection.objects.filter(pk=conn_id, store_id=self.integration.store_id).first()
            delay = data.get(f"step{i}_delay")
            window = data.get(f"step{i}_window")
            rows.append(i)
            steps.append(plan.Step(channel, conn, 0 if delay is None else delay, 15 if window is None else window))
        if self.errors:
            return
        try:
            plan.validate(self.integration, steps)
        except plan.PlanError as exc:
            field = f"step{rows[exc.step - 1]}_channel" if exc.step else "step1_channel"
            self.add_error(field, _("Channel plan: %(error)s") % {"error": exc})
            return
        self.plan_steps = steps

    @classmethod
    def initial_from(cls, cfg: CodConfirmConfig) -> dict:
        data = cfg.to_settings()
        for day in WEEKDAYS:
            hours = cfg.day_hours.get(day)
            data[f"hours_{day}"] = f"{hours[0]}-{hours[1]}" if hours else ""
        for name in PLAN_FIELDS:
            value = getattr(cfg, name)
            data[name] = ", ".join(value) if isinstance(value, list) else value
        for lang in LANGS:
            data[f"call_text_{lang}"] = cfg.call_texts.get(lang, "")
            data[f"sms_text_{lang}"] = cfg.sms_texts.get(lang, "")
        return data

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

    @staticmethod
    def _countries(value: str) -> list[str]:
        codes = [c.upper() for c in re.split(r"[\s,;]+", value or "") if c]
        unknown = [c for c in codes if c not in phonenumbers.SUPPORTED_REGIONS]
        if unknown:
            raise forms.ValidationError(_("Unknown country code: %(codes)s. Use two-letter codes such as TR, RU, KZ.")
                                        % {"codes": ", ".join(unknown)})
        return list(dict.fromkeys(codes))

    def clean_whatsapp_countries(self):
        return self._countries(self.cleaned_data["whatsapp_countries"])

    def clean_whatsapp_off_countries(self):
        return self._countries(self.cleaned_data["whatsapp_off_countries"])

    def clean_call_countries(self):
        return self._countries(self.cleaned_data["call_countries"])

    def clean_sms_countries(self):
        return self._countries(self.cleaned_data["sms_countries"])

    def _clean_risk_statuses(self, data) -> None:
        """The outcome statuses must be the shop's later statuses, not the ones the confirmation itself writes."""
        own = {data.get("pending_status_id"), data.get("confirmed_status_id"), data.get("cancelled_status_id")}
        refused, delivered = set(data.get("risk_refused_status_ids") or ()), set(data.get("risk_delivered_status_ids") or ())
        for name, chosen in (("risk_refused_status_ids", refused), ("risk_delivered_status_ids", delivered)):
            if chosen & own:
                self.add_error(name, _("Choose statuses the shop sets later, not the pending, confirmed or cancelled "
                                       "status of the confirmation."))
        if refused & delivered:
            self.add_error("risk_delivered_status_ids", _("A status cannot mean both refused and delivered."))

    def clean(self):
        data = super().clean()
        self._clean_risk_statuses(data)
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
                                               "{shop}, {items}, {address_link}.") % {"names": exc})
        if data.get("pay_offer") and self.integration is not None:
            from ocbridge.integrations.cod_confirm.pay import gateway_of

            if gateway_of(self.integration.store) is None:
                self.add_error("pay_offer", _("Switch on a payment integration (APS or LatitudePay) for this store "
                                              "first: the pay link is made through it."))
        lo, hi = data.get("min_total"), data.get("max_total")
        if lo is not None and hi is not None and lo > hi:
            self.add_error("max_total", _("The maximum must not be below the minimum."))
        if data.get("confirmed_status_id") == data.get("pending_status_id"):
            self.add_error("confirmed_status_id", _("Choose a status different from the pending one."))
        if data.get("cancelled_status_id") in (data.get("pending_status_id"), data.get("confirmed_status_id")):
            self.add_error("cancelled_status_id", _("Choose a status different from the pending and confirmed ones."))
        if self.integration is not None:
            self._clean_plan(data)
        return data

    def to_config(self, base: CodConfirmConfig) -> CodConfirmConfig:
        d = self.cleaned_data
        values = base.to_settings()
        for name in ("cod_codes", "pending_status_id", "confirmed_status_id", "cancelled_status_id", "on_exhausted",
                     "reconfirm_cancel", "rep_target", "caller_id", "sms_sender", "announcement_id", "read_order_details", "min_total", "max_total",
                     "skip_after_completed_orders", "dry_run", "notify_customer", "comment_confirmed",
                     "comment_cancelled", "several_pending", "risk_share", "risk_hold_above", "risk_confirm_above",
                     "risk_skip_proven", "pay_offer", "pay_link_channel", "pay_wait_hours"):
            values[name] = d.get(name)
        for name in (*PLAN_FIELDS, *RISK_STATUS_FIELDS):
            values[name] = list(d.get(name) or []) if name != "whatsapp_address_link" else bool(d.get(name))
        values["return_shipping_cost"] = d.get("return_shipping_cost") or Decimal("0")
        values["day_hours"] = {day: d.get(f"hours_{day}") for day in WEEKDAYS}
        values["call_texts"] = {lang: d[f"call_text_{lang}"] for lang in LANGS}
        values["sms_texts"] = {lang: d[f"sms_text_{lang}"] for lang in LANGS}
        return CodConfirmConfig.from_settings(json.loads(json.dumps(values, default=str)))

    def save(self, integration, user: str) -> CodConfirmConfig:
        """Store the new settings and channel plan (the caller's transaction) and audit who changed what."""
        old_plan = plan.timing(plan.steps(integration))
        if getattr(self, "plan_steps", None) is not None:
            plan.replace(integration, self.plan_steps, user=user)
        old = CodConfirmConfig.from_settings(integration.settings)
        new = self.to_config(old)
        changed = sorted(k for k, v in new.to_settings().items() if old.to_settings().get(k) != v)
        if plan.timing(plan.steps(integration)) != old_plan:
            changed.append("channel_plan")
        if "risk_share" in changed:
            from ocbridge.integrations.cod_confirm import risk

            risk.set_sharing(integration.store, new.risk_share)
        integration.settings = new.to_settings()
        integration.save(update_fields=["settings", "updated"])
        replanned = 0
        if {"day_hours", "channel_plan"} & set(changed):
            from ocbridge.integrations.cod_confirm.jobs import replan_waiting

            replanned = replan_waiting(integration)  # widened hours call held orders now, not at the old opening
        AuditEntry.objects.create(created=clock.now(), user=user, action="cod_confirm.settings", store=integration.store,
                                  object_type="integration", object_id=str(integration.pk),
                                  data={"changed": changed, "replanned": replanned})
        return new
