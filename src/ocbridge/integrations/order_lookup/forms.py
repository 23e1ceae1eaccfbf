"""The order_lookup settings form: builds an OrderLookupConfig; status choices come from the shop when reachable."""

from __future__ import annotations

import logging

from django import forms
from django.utils.translation import gettext_lazy as _

from ocbridge.core import clock
from ocbridge.core.models import AuditEntry
from ocbridge.integrations.order_lookup.config import LANGS, OrderLookupConfig, digits
from ocbridge.integrations.order_lookup.mappers import PBX_TARGET, VERIMOR_LANGS

log = logging.getLogger(__name__)


def shop_statuses(store, lang: str) -> dict[int, str]:
    """{status_id: name} in the language, read from the shop; {} when the shop cannot be read."""
    from ocbridge import opencart
    from ocbridge.opencart import lookup, statuses

    try:
        db = opencart.shop_db(store)
        lang_id = lookup.language_id(db, lang)
        return statuses.statuses(db, lang_id) if lang_id else {}
    except Exception:  # the form still works with status ids typed by hand
        log.warning("order lookup settings: shop statuses not readable for store %s", store.pk, exc_info=True)
        return {}


class OrderLookupForm(forms.Form):
    """Settings of one Store's order-status phone line."""

    lines = forms.CharField(label=_("Phone numbers answered"), required=False, widget=forms.Textarea(attrs={"rows": 2}),
                            help_text=_("One per line, as the provider sends the called number; empty = every line "
                                        "of the connection"))
    language = forms.ChoiceField(label=_("Language"), required=False, choices=[
        ("", _("The store's language")), ("tr", "Türkçe"), ("en", "English"), ("ru", "Русский")])
    spoken_statuses = forms.TypedMultipleChoiceField(label=_("Statuses that may be read out"), required=False,
                                                     coerce=int, widget=forms.CheckboxSelectMultiple,
                                                     help_text=_("None ticked = every status"))
    read_total = forms.BooleanField(label=_("Read the order total"), required=False)
    read_date = forms.BooleanField(label=_("Read the order date"), required=False)
    read_comment = forms.BooleanField(label=_("Read the latest order history comment (e.g. tracking number)"),
                                      required=False)
    days_back = forms.IntegerField(label=_("Look back this many days"), min_value=1, max_value=3650)
    max_orders = forms.IntegerField(label=_("Orders a caller can hear (press 1 for the next)"), min_value=1,
                                    max_value=10)
    rep_target = forms.CharField(label=_("Customer representative for 0 and failures"), max_length=64,
                                 help_text=_("Verimor target (queue/100, user/1001, group/2) or a phone number; "
                                             "Twilio needs a phone number"))
    twilio_voice = forms.CharField(label=_("Twilio voice"), required=False, max_length=64,
                                   help_text=_("e.g. Google.tr-TR-Standard-A; empty = Polly.Filiz for Turkish, "
                                               "Polly.Tatyana for Russian, Polly.Joanna for English"))
    netgsm_answer = forms.ChoiceField(label=_("Netgsm: how the caller gets the status"), required=False, choices=[
        ("sms", _("SMS right away")), ("voice", _("Voice message calling them back (Turkish only)"))],
        help_text=_("Netgsm cannot speak into the call itself; the call is transferred to the representative "
                    "when one with a number or extension is set"))

    def __init__(self, *args, statuses: dict[int, str] | None = None, service: str = "", **kwargs):
        super().__init__(*args, **kwargs)
        self.service = service
        self.statuses = statuses or {}
        self.fields["spoken_statuses"].choices = [(sid, f"{name} ({sid})") for sid, name in sorted(self.statuses.items())]
        for lang in LANGS:
            self.fields[f"greeting_{lang}"] = forms.CharField(
                label=_("Greeting (%s)") % lang.upper(), required=False, max_length=200,
                help_text=_("{shop} is replaced by the store name"))
        for sid, name in sorted(self.statuses.items()):
            self.fields[f"phrase_{sid}"] = forms.CharField(
                label=_("Own phrase for “%(name)s”") % {"name": name}, required=False, max_length=120,
                help_text=_("Empty = the status name from OpenCart"))

    @classmethod
    def from_integration(cls, integration, data=None) -> OrderLookupForm:
        cfg = OrderLookupConfig.from_settings(integration.settings)
        lang = cfg.language_for(integration.store.language)
        statuses = shop_statuses(integration.store, lang) if integration.store_id else {}
        service = integration.connection.service if integration.connection_id else ""
        return cls(data, initial=cls.initial_from(cfg, lang), statuses=statuses, service=service)

    @classmethod
    def initial_from(cls, cfg: OrderLookupConfig, lang: str) -> dict:
        data = cfg.to_settings()
        data["lines"] = "\n".join(cfg.lines)
        for code in LANGS:
            data[f"greeting_{code}"] = cfg.greetings.get(code, "")
        for sid, phrases in cfg.status_phrases.items():
            data[f"phrase_{sid}"] = phrases.get(lang, "")
        return data

    def clean_lines(self) -> list[str]:
        out = []
        for raw in self.cleaned_data["lines"].splitlines():
            if raw.strip():
                if len(digits(raw)) < 4:
                    raise forms.ValidationError(_("“%(line)s” is not a phone number.") % {"line": raw.strip()})
                out.append(digits(raw))
        return out

    def clean_rep_target(self) -> str:
        value = self.cleaned_data["rep_target"].strip()
        is_target = bool(PBX_TARGET.fullmatch(value))
        if not is_target and len(digits(value)) < 7:
            raise forms.ValidationError(_("Enter a PBX target such as queue/100, or a phone number."))
        if self.service == "twilio" and is_target and not value.startswith("external/"):
            raise forms.ValidationError(_("Twilio can only transfer to a phone number."))
        return value

    def clean(self):
        data = super().clean()
        lang = data.get("language") or ""
        if self.service == "verimor" and lang and lang not in VERIMOR_LANGS:
            self.add_error("language", _("Verimor's text-to-speech speaks Turkish and English only."))
        return data

    def to_config(self, base: OrderLookupConfig, lang: str) -> OrderLookupConfig:
        d = self.cleaned_data
        values = base.to_settings()
        for name in ("lines", "language", "spoken_statuses", "read_total", "read_date", "read_comment", "days_back",
                     "max_orders", "rep_target", "twilio_voice", "netgsm_answer"):
            values[name] = d.get(name)
        values["netgsm_answer"] = values["netgsm_answer"] or "sms"
        values["greetings"] = {code: d.get(f"greeting_{code}") or base.greetings.get(code, "") for code in LANGS}
        phrases = {k: dict(v) for k, v in base.status_phrases.items()}
        speak_lang = (d.get("language") or lang)
        for sid in self.statuses:
            text = (d.get(f"phrase_{sid}") or "").strip()
            entry = phrases.setdefault(str(sid), {})
            if text:
                entry[speak_lang] = text
            else:
                entry.pop(speak_lang, None)
        values["status_phrases"] = {k: v for k, v in phrases.items() if v}
        return OrderLookupConfig.from_settings(values)

    def save(self, integration, user: str) -> OrderLookupConfig:
        """Store the new settings in one write and audit which keys changed."""
        old = OrderLookupConfig.from_settings(integration.settings)
        new = self.to_config(old, old.language_for(integration.store.language))
        changed = sorted(k for k, v in new.to_settings().items() if old.to_settings().get(k) != v)
        integration.settings = new.to_settings()
        integration.save(update_fields=["settings", "updated"])
        AuditEntry.objects.create(created=clock.now(), user=user, action="order_lookup.settings",
                                  store=integration.store, object_type="integration", object_id=str(integration.pk),
                                  data={"changed": changed})
        return new
