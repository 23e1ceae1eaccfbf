"""Ozon settings form (builds an OzonConfig) and the category / attribute mapping forms."""

from __future__ import annotations

import json

from django import forms
from django.utils.translation import gettext_lazy as _

from ocbridge.integrations.ozon.config import OFFER_ID_RULES, PRICE_SOURCES, VAT_RATES, OzonConfig


MAX_ID = 2**31 - 1  # ids in OpenCart's and Ozon's int columns


def _ids(text: str) -> list[int]:
    try:
        ids = [int(x) for x in str(text or "").replace(";", ",").split(",") if x.strip()]
    except ValueError:
        raise forms.ValidationError(_("Enter numbers separated by commas.")) from None
    if any(not 0 < i <= MAX_ID for i in ids) or len(ids) > 500:
        raise forms.ValidationError(_("Each id is a positive number (at most 500 of them)."))
    return ids


class OzonSettingsForm(forms.Form):
    """Settings of one Store's Ozon integration (secrets live on the Connection, not here)."""

    warehouse_ids = forms.CharField(label=_("Ozon warehouse ids for stock"), required=False,
                                    help_text=_("Comma-separated; see 'Warehouses' on the Ozon page"))
    price_source = forms.ChoiceField(label=_("Price source"), choices=[
        ("price", _("Product price")), ("special", _("Special price when active")),
        ("customer_group", _("Customer group special price"))])
    customer_group_id = forms.IntegerField(label=_("Customer group id"), min_value=1, max_value=MAX_ID)
    currency = forms.CharField(label=_("Currency (must match the Ozon cabinet)"), max_length=3)
    vat = forms.ChoiceField(label=_("VAT"), choices=[(v, v) for v in VAT_RATES])
    offer_id_rule = forms.ChoiceField(label=_("offer_id from"), choices=[
        ("model", _("Model")), ("sku", _("SKU")), ("product_id", _("Product id"))])
    offer_id_prefix = forms.CharField(label=_("offer_id prefix"), required=False, max_length=10)
    language_id = forms.IntegerField(label=_("Language id of the descriptions"), min_value=1, max_value=MAX_ID)
    image_base_url = forms.URLField(label=_("Shop URL for images"), required=False, assume_scheme="https")
    category_ids = forms.CharField(label=_("Only these OpenCart categories (empty = all mapped)"), required=False)
    products_out = forms.BooleanField(label=_("Send products"), required=False)
    stock_out = forms.BooleanField(label=_("Send stock"), required=False)
    prices_out = forms.BooleanField(label=_("Send prices"), required=False)
    orders_in = forms.BooleanField(label=_("Import FBS orders"), required=False)
    status_out = forms.BooleanField(label=_("Ship / cancel at Ozon when the shop does"), required=False)
    shipped_status_ids = forms.CharField(label=_("OpenCart statuses that mean shipped"), required=False,
                                         help_text=_("Comma-separated status ids; the posting is packed at Ozon"))
    cancel_status_ids = forms.CharField(label=_("OpenCart statuses that mean cancelled"), required=False,
                                        help_text=_("Comma-separated status ids; the posting is cancelled at Ozon"))
    cancel_reason_id = forms.IntegerField(label=_("Ozon cancel reason id"), min_value=1, max_value=MAX_ID,
                                          help_text=_("402 = other (the message below is sent with it)"))
    cancel_reason_message = forms.CharField(label=_("Cancel message"), required=False, max_length=200)
    sync_every_minutes = forms.IntegerField(label=_("Sync every (minutes)"), min_value=1, max_value=1440)
    new_order_status_id = forms.IntegerField(label=_("Status of new Ozon orders"), min_value=1, max_value=MAX_ID)
    cancelled_status_id = forms.IntegerField(label=_("Status of cancelled Ozon orders"), min_value=1,
                                             max_value=MAX_ID)
    poll_overlap_minutes = forms.IntegerField(label=_("Order poll overlap (minutes)"), min_value=0, max_value=1440)

    @classmethod
    def from_integration(cls, integration, data=None) -> OzonSettingsForm:
        cfg = OzonConfig.from_settings(integration.settings)
        initial = cfg.to_settings()
        initial["warehouse_ids"] = ", ".join(str(w) for w in cfg.warehouse_ids)
        initial["category_ids"] = ", ".join(str(c) for c in cfg.category_ids)
        initial["shipped_status_ids"] = ", ".join(str(c) for c in cfg.shipped_status_ids)
        initial["cancel_status_ids"] = ", ".join(str(c) for c in cfg.cancel_status_ids)
        return cls(data, initial=initial)

    def clean_warehouse_ids(self) -> list[int]:
        return _ids(self.cleaned_data.get("warehouse_ids"))

    def clean_category_ids(self) -> list[int]:
        return _ids(self.cleaned_data.get("category_ids"))

    def clean_shipped_status_ids(self) -> list[int]:
        return _ids(self.cleaned_data.get("shipped_status_ids"))

    def clean_cancel_status_ids(self) -> list[int]:
        return _ids(self.cleaned_data.get("cancel_status_ids"))

    def clean_currency(self) -> str:
        return self.cleaned_data["currency"].upper()

    def clean(self):
        data = super().clean()
        if data.get("stock_out") and not data.get("warehouse_ids"):
            self.add_error("warehouse_ids", _("Stock needs at least one Ozon warehouse."))
        if data.get("status_out") and not (data.get("shipped_status_ids") or data.get("cancel_status_ids")):
            self.add_error("shipped_status_ids", _("Choose at least one shipped or cancelled status."))
        if data.get("cancel_reason_id") == 402 and not (data.get("cancel_reason_message") or "").strip():
            self.add_error("cancel_reason_message", _("Ozon needs a message with reason 402."))
        if data.get("offer_id_rule") not in OFFER_ID_RULES or data.get("price_source") not in PRICE_SOURCES:
            raise forms.ValidationError(_("Unknown choice."))
        return data

    def save(self, integration, user: str = "") -> OzonConfig:
        cfg = OzonConfig.from_settings({**(integration.settings or {}), **self.cleaned_data})
        integration.settings = cfg.to_settings()
        integration.save(update_fields=["settings", "updated"])
        return cfg


class CategoryMapForm(forms.Form):
    """Map one OpenCart category to an Ozon (description category, type) pair picked from the cached tree."""

    oc_category_id = forms.IntegerField(label=_("OpenCart category id"), min_value=1, max_value=MAX_ID)
    ozon_category = forms.ChoiceField(label=_("Ozon category and type"))

    def __init__(self, *args, leaves: list[dict] | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["ozon_category"].choices = [(f"{c['description_category_id']}:{c['type_id']}", c["label"])
                                                for c in leaves or []]

    def mapping(self) -> tuple[str, dict]:
        cat, type_id = self.cleaned_data["ozon_category"].split(":")
        return str(self.cleaned_data["oc_category_id"]), {"description_category_id": int(cat), "type_id": int(type_id)}


class AttributeMapForm(forms.Form):
    """Fill one Ozon attribute from a manufacturer, an OpenCart attribute, a product field or a fixed value."""

    ozon_attribute_id = forms.IntegerField(label=_("Ozon attribute id"), min_value=1, max_value=MAX_ID)
    source = forms.CharField(label=_("Source"), max_length=40,
                             help_text=_("manufacturer, attribute:<OpenCart attribute id>, option:<option name> "
                                         "(4.0 variants), field:<column> (field:group_model: a 4.0 variant's "
                                         "master model) or fixed"))
    value = forms.CharField(label=_("Fixed value"), required=False, max_length=255)
    values = forms.CharField(label=_("Dictionary choices (JSON: OpenCart text → Ozon value id)"), required=False,
                             widget=forms.Textarea(attrs={"rows": 2}))

    def clean_source(self) -> str:
        src = self.cleaned_data["source"].strip()
        ok = src in ("manufacturer", "fixed") or (src.startswith("attribute:") and src[10:].isdigit()) \
            or (src.startswith("field:") and src[6:].isidentifier()) or (src.startswith("option:") and src[7:].strip())
        if not ok:
            raise forms.ValidationError(_("Unknown source."))
        return src

    def clean_values(self) -> dict:
        raw = self.cleaned_data.get("values") or "{}"
        try:
            data = json.loads(raw)
            return {str(k): int(v) for k, v in data.items()}
        except (ValueError, AttributeError, TypeError):
            raise forms.ValidationError(_("Enter a JSON object of text → number.")) from None

    def mapping(self) -> tuple[str, dict]:
        d = self.cleaned_data
        return str(d["ozon_attribute_id"]), {"source": d["source"], "value": d.get("value", ""), "values": d["values"]}
