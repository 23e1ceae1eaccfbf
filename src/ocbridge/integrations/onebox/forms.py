"""OneBox settings form (builds a OneBoxConfig). Secrets (login, REST API password) live on the Connection."""

from __future__ import annotations

import re

from django import forms
from django.utils.translation import gettext_lazy as _

from ocbridge.core.bindings import NEWEST_WINS, SERVICE_WINS, SHOP_WINS
from ocbridge.integrations.onebox import pickers
from ocbridge.integrations.onebox.config import OneBoxConfig

MAX_ID = 2**31 - 1
FLOW_CHOICES = [("off", _("Off")), ("out", _("Shop → OneBox")), ("in", _("OneBox → shop")), ("both", _("Both ways"))]
RULE_CHOICES = [(SHOP_WINS, _("The shop wins")), (SERVICE_WINS, _("OneBox wins")),
                (NEWEST_WINS, _("The newest change wins"))]
# Kinds whose direction the owner picks here, and which directions each supports today.
FLOW_FIELDS = {
    "order": (_("Orders"), ("off", "out")),
    "history": (_("Order history entries"), ("off", "out")),
    "status": (_("Order statuses"), ("off", "out", "in", "both")),
    "category": (_("Categories"), ("off", "out", "in", "both")),
    "brand": (_("Brands"), ("off", "out", "in", "both")),
    "product": (_("Products, prices and stock"), ("off", "out", "in", "both")),
    "contact": (_("Customers"), ("off", "out", "in", "both")),
    "contact_group": (_("Customer groups from OneBox's contact groups"), ("off", "in")),
}


RULE_KINDS = ("status", "product", "contact", "contact_group", "category", "brand", "option")  # a rule each


def _pairs(text: str, *, value=int, key=int, what=_("id = id")) -> dict[str, object]:
    out = {}
    for n, line in enumerate((text or "").splitlines(), 1):
        if not line.strip():
            continue
        left, sep, right = line.partition("=")
        try:
            if not sep:
                raise ValueError
            out[str(key(left.strip()))] = value(right.strip())
        except ValueError:
            raise forms.ValidationError(_("Line %(n)s: write %(what)s.") % {"n": n, "what": what}) from None
    return out


def _code(text: str) -> str:
    if not re.fullmatch(r"[a-z]{2,3}(-[a-z]{2})?", text):
        raise ValueError
    return text


class OneBoxSettingsForm(forms.Form):
    """Settings of one Store's OneBox integration."""

    order_prefix = forms.CharField(label=_("Order code prefix"), required=False, max_length=16,
                                   help_text=_("Order codes in OneBox are <prefix>-<order id>; empty: the store's "
                                               "order number prefix"))
    workflow_id = forms.IntegerField(label=_("OneBox business process for orders"), min_value=0, max_value=MAX_ID,
                                     required=False, help_text=_("Its id in OneBox; 0 or empty: the box's default"))
    status_map = forms.CharField(label=_("Statuses"), required=False, widget=forms.Textarea(attrs={"rows": 5}),
                                 help_text=_("One per line: OpenCart status id = OneBox status id of that business "
                                             "process. Unmapped statuses are not synced."))
    status_rule = forms.ChoiceField(label=_("When both sides changed a status"), choices=RULE_CHOICES)
    product_rule = forms.ChoiceField(label=_("When both sides changed a product"), choices=RULE_CHOICES)
    contact_rule = forms.ChoiceField(label=_("When both sides changed a customer"), choices=RULE_CHOICES,
                                     help_text=_("Also decides whether a OneBox contact with the e-mail of an existing "
                                                 "customer brings its names and phone over the shop's"))
    contact_group_rule = forms.ChoiceField(label=_("When both sides renamed a customer group"), choices=RULE_CHOICES)
    category_rule = forms.ChoiceField(label=_("When both sides changed a category"), choices=RULE_CHOICES,
                                      required=False)
    brand_rule = forms.ChoiceField(label=_("When both sides changed a brand"), choices=RULE_CHOICES, required=False)
    option_rule = forms.ChoiceField(label=_("When both sides renamed an option or option value"),
                                    choices=RULE_CHOICES, required=False)
    price_level = forms.CharField(label=_("OneBox price level"), required=False, max_length=64,
                                  help_text=_("Empty: the shop's price is OneBox's base price"))
    language_map = forms.CharField(label=_("Languages"), required=False, widget=forms.Textarea(attrs={"rows": 3}),
                                   help_text=_("One per line: OpenCart language id = OneBox language code (ru, en, "
                                               "uk…); empty: the shop's own codes"))
    group_map = forms.CharField(label=_("Customer groups"), required=False, widget=forms.Textarea(attrs={"rows": 3}),
                                help_text=_("One per line: OpenCart customer group id = OneBox contact group id"))
    notify_customer = forms.BooleanField(label=_("Notify the customer of statuses set in OneBox"), required=False,
                                         help_text=_("Only where OpenCart sends the mail (native API) or the hub's "
                                                     "mail is set up"))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.notices: list[str] = []
        self.status_pickers = self.group_pickers = False  # the typed maps unless use_pickers() finds both sides' lists
        for kind, (label, allowed) in FLOW_FIELDS.items():
            self.fields[f"flow_{kind}"] = forms.ChoiceField(
                label=label, choices=[c for c in FLOW_CHOICES if c[0] in allowed])

    @classmethod
    def from_integration(cls, integration, data=None) -> OneBoxSettingsForm:
        cfg = OneBoxConfig.from_settings(integration.settings)
        initial = {"order_prefix": cfg.order_prefix, "workflow_id": cfg.workflow_id, "price_level": cfg.price_level,
                   "status_rule": cfg.rule("status"), "product_rule": cfg.rule("product"),
                   "contact_rule": cfg.rule("contact"), "contact_group_rule": cfg.rule("contact_group"),
                   **{f"{k}_rule": cfg.rule(k) for k in ("category", "brand", "option")},
                   "notify_customer": cfg.notify_customer,
                   "status_map": "\n".join(f"{k} = {v}" for k, v in cfg.statuses().items()),
                   "language_map": "\n".join(f"{k} = {v}" for k, v in cfg.language_map.items()),
                   "group_map": "\n".join(f"{k} = {v}" for k, v in cfg.group_map.items()),
                   **{f"flow_{k}": v for k, v in cfg.flows.items()}}
        form = cls(data, initial=initial)
        form.notices: list[str] = []
        pickers.use_pickers(form, integration, cfg, bound=data is not None)
        return form

    def clean(self):
        cleaned = super().clean()
        pickers.clean_pickers(self, cleaned)
        return cleaned

    def clean_order_prefix(self) -> str:
        prefix = (self.cleaned_data.get("order_prefix") or "").strip().rstrip("-")
        if prefix and not re.fullmatch(r"[A-Za-z0-9_]+", prefix):
            raise forms.ValidationError(_("Letters, digits and _ only."))
        return prefix

    def clean_status_map(self) -> dict:
        pairs = _pairs(self.cleaned_data.get("status_map"), what=_("OpenCart status id = OneBox status id"))
        seen = {}
        for oc, ob in pairs.items():
            if int(oc) <= 0 or ob <= 0:
                raise forms.ValidationError(_("Status ids are positive numbers."))
            seen.setdefault(ob, oc)
        return pairs

    def clean_language_map(self) -> dict:
        return _pairs(self.cleaned_data.get("language_map"), value=_code, what=_("language id = code"))

    def clean_group_map(self) -> dict:
        return _pairs(self.cleaned_data.get("group_map"), what=_("customer group id = OneBox group id"))

    def save(self, integration, user: str = "") -> OneBoxConfig:
        d = self.cleaned_data
        cfg = OneBoxConfig.from_settings(integration.settings)
        cfg.order_prefix, cfg.workflow_id = d["order_prefix"], int(d.get("workflow_id") or 0)
        # a map neither picked nor typed on the page that was sent (a side unreadable now) is kept as it was
        if self.status_pickers or "status_map" in self.data:
            cfg.status_map = {**cfg.status_map, str(cfg.workflow_id): d["status_map"]}
        cfg.conflict_rules = {**cfg.conflict_rules, **{k: d.get(f"{k}_rule") or cfg.rule(k) for k in RULE_KINDS}}
        cfg.price_level, cfg.notify_customer = d.get("price_level") or "", bool(d.get("notify_customer"))
        cfg.language_map = d["language_map"]
        if self.group_pickers or "group_map" in self.data:
            cfg.group_map = d["group_map"]
        cfg.flows = {**cfg.flows, **{k: d[f"flow_{k}"] for k in FLOW_FIELDS}}
        integration.settings = cfg.to_settings()
        integration.save(update_fields=["settings", "updated"])
        return cfg
