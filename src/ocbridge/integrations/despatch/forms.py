"""Despatch Cloud settings form (builds a DespatchConfig). Secrets (API user e-mail and password) live on the
Connection."""

from __future__ import annotations

import re

from django import forms
from django.utils.translation import gettext_lazy as _

from ocbridge.integrations.despatch.config import (NOT_READY_ACTIONS, SKU_FIELDS, STOCK_DIRECTIONS, DespatchConfig,
                                                   stock_contradiction)

MAX_ID = 2**31 - 1  # ids in OpenCart's and Despatch Cloud's int columns


def _ids(text: str) -> list[int]:
    try:
        return [int(x) for x in str(text or "").replace(";", ",").split(",") if x.strip()]
    except ValueError:
        raise forms.ValidationError(_("Enter numbers separated by commas.")) from None


class DespatchSettingsForm(forms.Form):
    """Settings of one Store's Despatch Cloud integration."""

    ready_status_ids = forms.CharField(label=_("OpenCart statuses that mean ready to ship"),
                                       help_text=_("Comma-separated status ids; an order entering one is sent to Despatch Cloud"))
    order_prefix = forms.CharField(label=_("Order-ID prefix"), required=False, max_length=16,
                                   help_text=_("Keeps order ids of several shops apart in Despatch Cloud, e.g. UK-"))
    shipping_map = forms.CharField(label=_("Shipping methods"), required=False, widget=forms.Textarea(attrs={"rows": 3}),
                                   help_text=_("One per line: OpenCart shipping code = Despatch Cloud shipping method"))
    despatched_status_id = forms.IntegerField(label=_("Status when despatched"), min_value=1, max_value=MAX_ID)
    cancelled_status_id = forms.IntegerField(label=_("Status when Despatch Cloud cancels"), min_value=1,
                                             max_value=MAX_ID)
    notify_customer = forms.BooleanField(label=_("Notify the customer"), required=False,
                                         help_text=_("OpenCart's own e-mail through its native API; on the database path the "
                                                     "hub's mail when it is set up (the history says notified once "
                                                     "it went)"))
    not_ready_action = forms.ChoiceField(label=_("When an order stops being ready"), choices=[
        ("hold", _("Put it on hold in Despatch Cloud")), ("cancel", _("Cancel it in Despatch Cloud"))])
    stock_direction = forms.ChoiceField(label=_("Stock"), choices=[
        ("off", _("Off")), ("dc_to_shop", _("Despatch Cloud → shop")), ("shop_to_dc", _("Shop → Despatch Cloud"))])
    sku_field = forms.ChoiceField(label=_("Match products on"), choices=[("sku", _("SKU")), ("model", _("Model"))])
    tracking_url = forms.CharField(label=_("Tracking link"), required=False, max_length=300,
                                   help_text=_("Used when Despatch Cloud sends none; {code} is replaced by the tracking code"))
    manual_channel_id = forms.IntegerField(label=_("Despatch Cloud sales channel id"), min_value=0, max_value=MAX_ID,
                                           required=False)

    @classmethod
    def from_integration(cls, integration, data=None) -> DespatchSettingsForm:
        cfg = DespatchConfig.from_settings(integration.settings)
        initial = cfg.to_settings()
        initial["ready_status_ids"] = ", ".join(str(s) for s in cfg.ready_status_ids)
        initial["shipping_map"] = "\n".join(f"{k} = {v}" for k, v in cfg.shipping_map.items())
        form = cls(data, initial=initial)
        form.stock_source = getattr(integration.store, "stock_source", "shop")
        return form

    def clean_ready_status_ids(self) -> list[int]:
        ids = _ids(self.cleaned_data.get("ready_status_ids"))
        if not ids:
            raise forms.ValidationError(_("Choose at least one status."))
        return ids

    def clean_shipping_map(self) -> dict[str, str]:
        out = {}
        for n, line in enumerate((self.cleaned_data.get("shipping_map") or "").splitlines(), 1):
            if not line.strip():
                continue
            code, sep, method = line.partition("=")
            if not sep or not code.strip() or not method.strip():
                raise forms.ValidationError(_("Line %(n)s: write code = method.") % {"n": n})
            out[code.strip()] = method.strip()
        return out

    def clean_order_prefix(self) -> str:
        prefix = (self.cleaned_data.get("order_prefix") or "").strip()
        if prefix and not re.fullmatch(r"[A-Za-z0-9_-]+", prefix):
            raise forms.ValidationError(_("Letters, digits, - and _ only."))
        return prefix

    def clean_tracking_url(self) -> str:
        url = (self.cleaned_data.get("tracking_url") or "").strip()
        if url and (not url.startswith("https://") or "{code}" not in url):
            raise forms.ValidationError(_("An https:// link with {code} in it."))
        return url

    def clean(self):
        data = super().clean()
        if data.get("despatched_status_id") in (data.get("ready_status_ids") or []):
            self.add_error("despatched_status_id", _("The despatched status cannot also mean ready to ship."))
        if (data.get("stock_direction") not in STOCK_DIRECTIONS or data.get("sku_field") not in SKU_FIELDS
                or data.get("not_ready_action") not in NOT_READY_ACTIONS):
            raise forms.ValidationError(_("Unknown choice."))
        why = stock_contradiction(data.get("stock_direction", "off"), getattr(self, "stock_source", "shop"))
        if why:
            self.add_error("stock_direction", why)
        data["manual_channel_id"] = data.get("manual_channel_id") or 0
        return data

    def save(self, integration, user: str = "") -> DespatchConfig:
        cfg = DespatchConfig.from_settings({**(integration.settings or {}), **self.cleaned_data})
        integration.settings = cfg.to_settings()
        integration.save(update_fields=["settings", "updated"])
        return cfg
