"""Ozon settings form (builds an OzonConfig) and the category / attribute mapping forms."""

from __future__ import annotations

import json
import re

from django import forms
from django.utils.translation import gettext_lazy as _

from ocbridge.core import bindings
from ocbridge.integrations.ozon.config import OFFER_ID_RULES, PRICE_SOURCES, VAT_RATES, OzonConfig


MAX_ID = 2**31 - 1  # ids in OpenCart's and Ozon's int columns
MAX_WAREHOUSE_ID = 2**63 - 1  # Ozon warehouse ids are int64 (e.g. 1020000000001)


# Fields offered as choices once Ozon (warehouses) or the shop (statuses) answered; raw ids otherwise.
WAREHOUSE_FIELDS = ("warehouse_ids", "orders_warehouse_ids")
STATUS_LISTS = ("shipped_status_ids", "cancel_status_ids", "delivering_status_ids", "last_mile_status_ids",
                "delivered_status_ids")
STATUS_IDS = ("new_order_status_id", "cancelled_status_id", "return_status_id")


def _ids(text, limit: int = MAX_ID) -> list[int]:
    if isinstance(text, list):  # already picked from choices
        return [int(x) for x in text]
    try:
        ids = [int(x) for x in str(text or "").replace(";", ",").split(",") if x.strip()]
    except ValueError:
        raise forms.ValidationError(_("Enter numbers separated by commas.")) from None
    if any(not 0 < i <= limit for i in ids) or len(ids) > 500:
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
    products_in = forms.BooleanField(
        label=_("Import products that exist only on Ozon"), required=False,
        help_text=_("Names, descriptions, price, stock, attributes and the mapped category; images stay on Ozon "
                    "until the shop can receive files (listed on the Products page)"))
    stock_out = forms.BooleanField(label=_("Send stock"), required=False)
    prices_out = forms.BooleanField(label=_("Send prices"), required=False)
    orders_in = forms.BooleanField(label=_("Import FBS orders"), required=False)
    status_out = forms.BooleanField(label=_("Ship / cancel at Ozon when the shop does"), required=False)
    shipped_status_ids = forms.CharField(label=_("OpenCart statuses that mean shipped"), required=False,
                                         help_text=_("Comma-separated status ids; the posting is packed at Ozon"))
    cancel_status_ids = forms.CharField(label=_("OpenCart statuses that mean cancelled"), required=False,
                                        help_text=_("Comma-separated status ids; the posting is cancelled at Ozon"))
    delivering_status_ids = forms.CharField(
        label=_("rFBS, own delivery: statuses that mean on its way"), required=False,
        help_text=_("Comma-separated status ids; the posting gets its tracking number and moves to delivering"))
    last_mile_status_ids = forms.CharField(label=_("rFBS, own delivery: statuses that mean last mile"), required=False)
    delivered_status_ids = forms.CharField(label=_("rFBS, own delivery: statuses that mean delivered"), required=False)
    tracking_pattern = forms.CharField(
        label=_("Tracking number in the history comment (regular expression)"), required=False, max_length=200,
        help_text=_("Used when Despatch Cloud does not know it; the first group, else the whole match"))
    cancel_reason_id = forms.IntegerField(label=_("Ozon cancel reason id"), min_value=1, max_value=MAX_ID,
                                          help_text=_("402 = other (the message below is sent with it)"))
    cancel_reason_message = forms.CharField(label=_("Cancel message"), required=False, max_length=200)
    returns_in = forms.BooleanField(label=_("Write Ozon returns to the order history"), required=False)
    return_status_id = forms.IntegerField(label=_("Status of returned Ozon orders"), min_value=1, max_value=MAX_ID)
    orders_every_seconds = forms.IntegerField(label=_("Read new Ozon orders every (seconds)"), min_value=15,
                                              max_value=3600)
    orders_statuses = forms.CharField(label=_("Import only postings in these Ozon statuses (empty = all)"),
                                      required=False, help_text=_("Comma-separated, e.g. awaiting_packaging"))
    orders_warehouse_ids = forms.CharField(label=_("Import only postings of these Ozon warehouses (empty = all)"),
                                           required=False)
    ozon_owned_offer_ids = forms.CharField(
        label=_("Offers whose price Ozon owns (read back into the shop)"), required=False,
        widget=forms.Textarea(attrs={"rows": 2}), help_text=_("Comma-separated offer_ids"))
    conflict_rule = forms.ChoiceField(label=_("When a price changed on both sides"), choices=[
        (bindings.SHOP_WINS, _("The shop's price wins")), (bindings.SERVICE_WINS, _("Ozon's price wins")),
        (bindings.NEWEST_WINS, _("The newer change wins"))])
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
        for name in ("delivering_status_ids", "last_mile_status_ids", "delivered_status_ids", "orders_warehouse_ids",
                     "orders_statuses", "ozon_owned_offer_ids"):
            initial[name] = ", ".join(str(c) for c in getattr(cfg, name))
        form = cls(data, initial=initial)
        form.notices: list[str] = []
        form.use_reasons(integration)
        form.use_warehouses(integration, cfg)
        form.use_statuses(integration, cfg)
        form.use_categories(integration, cfg)
        return form

    def use_categories(self, integration, cfg: OzonConfig) -> None:
        """The shop's categories by name (path, in the store's language) instead of ids; the shop unreachable:
        ids, and the form says so."""
        from ocbridge.opencart import statuses

        paths = statuses.categories_for(integration.store)
        if paths is None:
            self.notices.append(_("The shop's categories could not be read: enter category ids."))
            return
        old = self.fields["category_ids"]
        self.fields["category_ids"] = forms.TypedMultipleChoiceField(
            label=old.label, required=False, coerce=int, choices=[(cid, f"{path} ({cid})") for cid, path in paths],
            widget=forms.SelectMultiple(attrs={"size": 10}))
        self.initial["category_ids"] = cfg.category_ids

    def use_warehouses(self, integration, cfg: OzonConfig) -> None:
        """Warehouses as choices from Ozon's list (cached: at most one call a minute, catalog.warehouses); ids Ozon
        does not list are refused. Ozon unreachable: the form says why and keeps the saved warehouses unchanged."""
        from ocbridge.core.errors import ConfigurationError, ServiceError
        from ocbridge.integrations.ozon import catalog, jobs

        if integration.connection_id is None:
            self.notices.append(_("Choose an Ozon connection and save: then the warehouses are offered from Ozon."))
            return
        try:
            rows = catalog.warehouses(jobs.client_for(integration), integration.connection)
        except (ServiceError, ConfigurationError) as exc:
            self.notices.append(_("%(error)s — the saved warehouses are kept.") % {"error": catalog.failure_text(exc)})
            for name in WAREHOUSE_FIELDS:
                self.fields[name].disabled = True
            return
        choices = [(int(w["warehouse_id"]), f"{w.get('name') or '—'} ({w['warehouse_id']})") for w in rows]
        for name in WAREHOUSE_FIELDS:
            self._as_choices(name, choices, getattr(cfg, name), many=True)

    def use_statuses(self, integration, cfg: OzonConfig) -> None:
        """Order statuses by the names the shop shows; the shop unreachable: ids, and the form says so."""
        from ocbridge.opencart import statuses

        names = statuses.for_store(integration.store)
        if not names:
            self.notices.append(_("The shop's order statuses could not be read: enter status ids."))
            return
        choices = [(sid, f"{name} ({sid})") for sid, name in sorted(names.items())]
        for name in STATUS_LISTS:
            self._as_choices(name, choices, getattr(cfg, name), many=True)
        for name in STATUS_IDS:
            self._as_choices(name, choices, getattr(cfg, name), many=False)

    def _as_choices(self, name: str, choices: list, saved, *, many: bool) -> None:
        old = self.fields[name]
        if many:
            self.fields[name] = forms.TypedMultipleChoiceField(
                label=old.label, required=False, coerce=int, choices=choices, widget=forms.CheckboxSelectMultiple)
        else:
            self.fields[name] = forms.TypedChoiceField(label=old.label, help_text=old.help_text, coerce=int,
                                                       choices=choices)
        self.initial[name] = saved

    def use_reasons(self, integration) -> None:
        """The cancel reason as a choice from Ozon's live list (cached; no call from the page), in the reader's
        language; until the list was read once, a number."""
        from ocbridge.integrations.ozon.models import CatalogCache

        cached = CatalogCache.objects.filter(connection_id=integration.connection_id, kind="cancel_reasons").first() \
            if integration.connection_id else None
        rows = [r for r in (cached.data if cached else []) if r.get("type_id") == "seller"
                and r.get("is_available_for_cancellation")]
        if rows:
            from ocbridge.integrations.ozon.catalog import REASON_TITLES

            field = self.fields["cancel_reason_id"]
            self.fields["cancel_reason_id"] = forms.TypedChoiceField(
                label=field.label, help_text=field.help_text, coerce=int,
                choices=[(int(r["id"]), f"{REASON_TITLES.get(int(r['id']), r.get('title'))} ({r['id']})") for r in rows])

    def clean_warehouse_ids(self) -> list[int]:
        return _ids(self.cleaned_data.get("warehouse_ids"), MAX_WAREHOUSE_ID)

    def clean_category_ids(self) -> list[int]:
        return _ids(self.cleaned_data.get("category_ids"))

    def clean_shipped_status_ids(self) -> list[int]:
        return _ids(self.cleaned_data.get("shipped_status_ids"))

    def clean_cancel_status_ids(self) -> list[int]:
        return _ids(self.cleaned_data.get("cancel_status_ids"))

    def clean_delivering_status_ids(self) -> list[int]:
        return _ids(self.cleaned_data.get("delivering_status_ids"))

    def clean_last_mile_status_ids(self) -> list[int]:
        return _ids(self.cleaned_data.get("last_mile_status_ids"))

    def clean_delivered_status_ids(self) -> list[int]:
        return _ids(self.cleaned_data.get("delivered_status_ids"))

    def clean_orders_warehouse_ids(self) -> list[int]:
        return _ids(self.cleaned_data.get("orders_warehouse_ids"), MAX_WAREHOUSE_ID)

    def clean_orders_statuses(self) -> list[str]:
        words = [w.strip() for w in str(self.cleaned_data.get("orders_statuses") or "").split(",") if w.strip()]
        if any(not re.fullmatch(r"[a-z_]{3,40}", w) for w in words):
            raise forms.ValidationError(_("Use Ozon's status names, e.g. awaiting_packaging."))
        return words

    def clean_ozon_owned_offer_ids(self) -> list[str]:
        offers = [w.strip() for w in re.split(r"[,;\s]+", str(self.cleaned_data.get("ozon_owned_offer_ids") or ""))
                  if w.strip()]
        if any(len(o) > 50 for o in offers) or len(offers) > 5000:
            raise forms.ValidationError(_("An offer_id has at most 50 characters (at most 5,000 of them)."))
        return offers

    def clean_tracking_pattern(self) -> str:
        pattern = (self.cleaned_data.get("tracking_pattern") or "").strip()
        try:
            re.compile(pattern)
        except re.error as exc:
            raise forms.ValidationError(_("Not a regular expression: %(error)s"), params={"error": exc}) from None
        return pattern

    def clean_currency(self) -> str:
        return self.cleaned_data["currency"].upper()

    def clean(self):
        data = super().clean()
        if data.get("stock_out") and not data.get("warehouse_ids"):
            self.add_error("warehouse_ids", _("Stock needs at least one Ozon warehouse."))
        if data.get("status_out") and not (data.get("shipped_status_ids") or data.get("cancel_status_ids")):
            self.add_error("shipped_status_ids", _("Choose at least one shipped or cancelled status."))
        if data.get("products_in") and data.get("offer_id_rule") not in ("model", "sku"):
            self.add_error("products_in", _("Importing from Ozon needs offer ids made from the model or the SKU."))
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
    """Map one OpenCart category (picked by its name in the shop, or by id when the shop cannot be read) to an Ozon
    (description category, type) pair picked from the cached tree."""

    oc_category_id = forms.IntegerField(label=_("OpenCart category id"), min_value=1, max_value=MAX_ID)
    ozon_category = forms.ChoiceField(label=_("Ozon category and type"))

    def __init__(self, *args, leaves: list[dict] | None = None, categories: list[tuple[int, str]] | None = None,
                 **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["ozon_category"].choices = [(f"{c['description_category_id']}:{c['type_id']}", c["label"])
                                                for c in leaves or []]
        if categories:
            self.fields["oc_category_id"] = forms.TypedChoiceField(
                label=_("OpenCart category"), coerce=int, choices=[(cid, f"{path} ({cid})") for cid, path in categories])

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
