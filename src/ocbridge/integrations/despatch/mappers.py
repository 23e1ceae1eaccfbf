"""Pure translation: an OpenCart order → Despatch Cloud's create body and lines; a DC despatch → history text.

Field names: docs/providers/despatch-cloud.md ("Orders"). Amounts go in the order's own currency (OpenCart stores
totals in the default currency and the order's `currency_value`).
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

from django.utils import translation
from django.utils.translation import gettext as _

from ocbridge.integrations.despatch.config import DespatchConfig
from ocbridge.opencart.fulfilment import FulfilmentOrder

DISCOUNT_CODES = ("coupon", "voucher", "reward", "credit")


def money(amount, rate) -> str:
    return str((Decimal(str(amount)) * Decimal(str(rate or 1))).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))


def _name(a: dict) -> str:
    return " ".join(x for x in (a.get("firstname"), a.get("lastname")) if x).strip()


def _address(prefix: str, a: dict) -> dict:
    return {f"{prefix}_name": _name(a), f"{prefix}_name_company": a.get("company") or "",
            f"{prefix}_address_line_one": a.get("address_1") or "", f"{prefix}_address_line_two": a.get("address_2") or "",
            f"{prefix}_address_city": a.get("city") or "", f"{prefix}_address_county": a.get("zone") or "",
            f"{prefix}_address_country": a.get("country") or "", f"{prefix}_address_postcode": a.get("postcode") or "",
            f"{prefix}_address_iso": a.get("iso") or ""}


def order_body(fo: FulfilmentOrder, cfg: DespatchConfig) -> dict:
    """The flat `orders/create` body; status 3 (despatch ready). Digital orders have no shipping address: the
    payment address is used, as the warehouse needs one."""
    o, rate = fo.order, fo.order.currency_value
    ship = fo.shipping if fo.shipping.get("address_1") else fo.payment
    totals = {}
    for t in o.totals:
        totals[t["code"]] = totals.get(t["code"], Decimal(0)) + Decimal(str(t["value"]))
    discount = -sum((v for k, v in totals.items() if k in DISCOUNT_CODES), Decimal(0))
    body = {
        "channel_order_id": cfg.channel_order_id(o.order_id), "channel_alt_id": str(o.order_id), "status_id": 3,
        "date_received": o.date_added.strftime("%Y-%m-%d %H:%M:%S") if o.date_added else "",
        "shipping_method_requested": cfg.shipping_map.get(o.shipping_code) or fo.shipping_method or o.shipping_code,
        "payment_method": o.payment_method or o.payment_code or "unknown", "payment_ref": o.raw_payment_code,
        "payment_currency": o.currency_code, "total_paid": money(o.total, rate),
        "total_discount": money(discount, rate), "total_tax": money(totals.get("tax", 0), rate),
        "shipping_paid": money(totals.get("shipping", 0), rate), "email": o.email, "phone_one": o.telephone,
        **_address("shipping", ship), **_address("invoice", fo.payment if fo.payment.get("address_1") else ship),
        "customer_comments": o.comment,
    }
    if cfg.manual_channel_id:
        body["manual_channel_id"] = cfg.manual_channel_id
    return body


def sku_of(fo: FulfilmentOrder, product_id: int, cfg: DespatchConfig) -> str:
    return (fo.skus.get(product_id) or {}).get(cfg.sku_field, "").strip()


def lines(fo: FulfilmentOrder, cfg: DespatchConfig) -> tuple[list[dict], list[str]]:
    """`add_inventory` items, and our own refusals (a line without the SKU the owner matches on)."""
    items, problems = [], []
    rate = fo.order.currency_value
    for line in fo.order.lines:
        sku = sku_of(fo, line.product_id, cfg)
        if not sku:
            problems.append(_("Product “%(name)s” (id %(id)s) has no %(field)s in the shop.")
                            % {"name": line.name, "id": line.product_id, "field": cfg.sku_field})
            continue
        options = ", ".join(f"{opt.get('name', '')}: {opt.get('value', '')}" for opt in line.options)
        items.append({"sku": sku, "name": line.name, "quantity": int(line.quantity),
                      "unit_price": float(money(Decimal(str(line.price)) + Decimal(str(line.tax)), rate)),
                      **({"options": options} if options else {})})
    return items, problems


def courier_of(dc_order: dict, fallback: str = "") -> tuple[str, str]:
    """(courier, service) from DC's `shipment` (simulator only, docs/providers/despatch-cloud.md), else the
    shipping method the order asked for."""
    shipment = dc_order.get("shipment")
    if isinstance(shipment, list):
        shipment = shipment[0] if shipment else None
    if isinstance(shipment, dict):
        return str(shipment.get("courier_name") or fallback or ""), str(shipment.get("service_name") or "")
    return str(dc_order.get("shipping_method_requested") or fallback or ""), ""


def tracking_link(dc_order: dict, code: str, cfg: DespatchConfig) -> str:
    shipment = dc_order.get("shipment") if isinstance(dc_order.get("shipment"), dict) else {}
    if shipment.get("tracking_url"):
        return str(shipment["tracking_url"])
    return cfg.tracking_url.replace("{code}", code) if cfg.tracking_url and code else ""


def despatch_comment(dc_order: dict, cfg: DespatchConfig, language: str) -> str:
    """The history comment the customer may see, in the store's language."""
    code = str(dc_order.get("shipping_tracking_code") or "")
    courier, service = courier_of(dc_order)
    link = tracking_link(dc_order, code, cfg)
    with translation.override(language or "en"):
        text = _("Your order was despatched on %(date)s.") % {"date": str(dc_order.get("date_dispatched") or "")[:10]}
        if courier:
            text += " " + _("Courier: %(courier)s.") % {"courier": " ".join(x for x in (courier, service) if x)}
        if code:
            text += " " + _("Tracking code: %(code)s") % {"code": code}
        if link:
            text += " " + link
    return text.strip()


def cancel_comment(language: str) -> str:
    with translation.override(language or "en"):
        return _("Cancelled in Despatch Cloud.")
