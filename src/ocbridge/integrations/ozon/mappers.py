"""Pure translation between OpenCart rows and Ozon payloads (no I/O; testable offline).

A catalogue row is a plain dict (built from `opencart` in jobs.py):
    product_id, model, sku, ean, upc, quantity, price, special (or None), group_price (or None),
    master_id, group_model (a 4.0 variant's master model, else its own), options {option name: value name},
    weight, weight_unit ("kg"/"g"/"lb"/"oz"), length, width, height, length_unit ("cm"/"mm"/"in"),
    image, images [..], manufacturer, name, description, category_ids [..], attributes {attribute_id: text}
"""

from __future__ import annotations

import hashlib
import json
from decimal import ROUND_HALF_UP, Decimal
from urllib.parse import quote

from ocbridge.integrations.ozon.config import OzonConfig

# To grams and millimetres; OpenCart stores the unit text per weight/length class (weight_class_description.unit).
WEIGHT_TO_G = {"kg": 1000.0, "g": 1.0, "lb": 453.59237, "oz": 28.349523125, "кг": 1000.0, "г": 1.0}
LENGTH_TO_MM = {"cm": 10.0, "mm": 1.0, "in": 25.4, "m": 1000.0, "см": 10.0, "мм": 1.0}
PRICE_FIELDS = ("price", "old_price", "min_price")
CENT = Decimal("0.01")
# Ozon's addressee country as it writes it (Russian names) → ISO code, so the order gets the shop's country id
# (a fulfilment service needs it); an rFBS address with no or another country is taken as Russia.
COUNTRY_ISO = {"россия": "RU", "russia": "RU", "казахстан": "KZ", "kazakhstan": "KZ", "беларусь": "BY",
               "belarus": "BY", "армения": "AM", "armenia": "AM", "кыргызстан": "KG", "киргизия": "KG",
               "kyrgyzstan": "KG", "узбекистан": "UZ", "uzbekistan": "UZ"}
OUR_COMMENT = "Ozon: "  # prefix of the history comments we write; the shop-status poll ignores them (no echo back)


def offer_id(row: dict, cfg: OzonConfig) -> str:
    """Our article at Ozon: stable for the product's life (prefix + model, SKU or product_id)."""
    if cfg.offer_id_rule == "product_id":
        base = str(row["product_id"])
    else:
        base = str(row.get(cfg.offer_id_rule) or "").strip() or str(row["product_id"])
    return f"{cfg.offer_id_prefix}{base}"[:50]


def money(value) -> str:
    """Ozon wants prices as strings."""
    return str(Decimal(str(value or 0)).quantize(CENT, ROUND_HALF_UP))


def prices_of(row: dict, cfg: OzonConfig) -> tuple[str, str]:
    """(price, old_price) from the configured source; old_price "0" resets Ozon's crossed-out price."""
    base = Decimal(str(row.get("price") or 0))
    offer = row.get("group_price") if cfg.price_source == "customer_group" else row.get("special")
    if cfg.price_source != "price" and offer is not None and Decimal(str(offer)) < base:
        return money(offer), money(base)
    return money(base), "0"


def image_url(path: str, cfg: OzonConfig) -> str:
    if not path:
        return ""
    if path.startswith(("http://", "https://")):
        return path
    return f"{cfg.image_base_url.rstrip('/')}/image/{quote(path.lstrip('/'))}"


def _convert(value, unit: str, table: dict) -> int:
    factor = table.get((unit or "").strip().lower())
    if factor is None:
        return 0  # unknown unit: reported as missing rather than guessed
    return int(round(float(value or 0) * factor))


def attribute_values(row: dict, spec: dict, dictionary: list[dict] | None) -> tuple[list[dict], str]:
    """Ozon attribute values for one mapped attribute, or ([], reason) when it cannot be filled."""
    source = spec.get("source", "fixed")
    if source == "manufacturer":
        text = row.get("manufacturer") or ""
    elif source.startswith("attribute:"):
        text = (row.get("attributes") or {}).get(int(source.split(":", 1)[1])) or ""
    elif source.startswith("option:"):  # a 4.0 variant's own choice, e.g. option:Colour → "Red"
        text = (row.get("options") or {}).get(source.split(":", 1)[1].strip()) or ""
    elif source.startswith("field:"):
        text = str(row.get(source.split(":", 1)[1]) or "")
    else:
        text = spec.get("value") or ""
    text = str(text).strip()
    if not text:
        return [], "no value"
    chosen = (spec.get("values") or {}).get(text)
    if chosen is None and dictionary is not None:
        low = text.lower()
        chosen = next((d["id"] for d in dictionary if str(d.get("value", "")).lower() == low), None)
        if chosen is None:
            return [], f"'{text}' is not in Ozon's list"
    if chosen is not None:
        return [{"dictionary_value_id": int(chosen), "value": text}], ""
    return [{"value": text}], ""


def product_item(row: dict, cfg: OzonConfig, category: dict | None,
                 dictionaries: dict[int, list[dict]] | None = None) -> tuple[dict, dict[int, str]]:
    """The Ozon import card for one product, and {attribute_id: reason} for mapped attributes left empty."""
    price, old_price = prices_of(row, cfg)
    images = [u for u in (image_url(p, cfg) for p in [row.get("image")] + list(row.get("images") or [])) if u]
    images = list(dict.fromkeys(images))[:30]  # Ozon takes ≤ 30, the first is the main image
    attributes, empty = [], {}
    for aid, spec in sorted(cfg.attribute_map.items(), key=lambda kv: int(kv[0])):
        values, reason = attribute_values(row, spec, (dictionaries or {}).get(int(aid)))
        if values:
            attributes.append({"id": int(aid), "complex_id": 0, "values": values})
        else:
            empty[int(aid)] = reason
    item = {
        "offer_id": offer_id(row, cfg),
        "name": (row.get("name") or "").strip()[:500],
        "description_category_id": int((category or {}).get("description_category_id") or 0),
        "type_id": int((category or {}).get("type_id") or 0),
        "price": price,
        "old_price": old_price,
        "currency_code": cfg.currency,
        "vat": cfg.vat,
        "barcode": str(row.get("ean") or row.get("upc") or ""),
        "images": images[1:],
        "primary_image": images[0] if images else "",
        "depth": _convert(row.get("length"), row.get("length_unit"), LENGTH_TO_MM),
        "width": _convert(row.get("width"), row.get("length_unit"), LENGTH_TO_MM),
        "height": _convert(row.get("height"), row.get("length_unit"), LENGTH_TO_MM),
        "dimension_unit": "mm",
        "weight": _convert(row.get("weight"), row.get("weight_unit"), WEIGHT_TO_G),
        "weight_unit": "g",
        "attributes": attributes,
    }
    if row.get("description"):  # annotation (4191) carries the description text
        item["attributes"].append({"id": 4191, "complex_id": 0, "values": [{"value": row["description"][:6000]}]})
    return item, empty


def card_hash(item: dict) -> str:
    """Content hash of a card without its prices: a price change goes through the prices endpoint, not a re-import."""
    content = {k: v for k, v in item.items() if k not in PRICE_FIELDS}
    return hashlib.sha256(json.dumps(content, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode()).hexdigest()[:32]


def settings_fingerprint(cfg: OzonConfig, attributes: dict, dictionaries: dict | None) -> str:
    """Everything besides the row that shapes a card; a change here re-maps every product."""
    parts = (sorted(cfg.to_settings().items(), key=str), sorted((str(k), len(v)) for k, v in attributes.items()),
             sorted((k, len(v)) for k, v in (dictionaries or {}).items()))
    return hashlib.blake2b(repr(parts).encode(), digest_size=8).hexdigest()


def row_fingerprint(row: dict, settings_fp: str) -> str:
    """Cheap fingerprint of a catalogue row (no mapping, no JSON): the fast path for unchanged products."""
    return hashlib.blake2b(f"{settings_fp}{sorted(row.items())!r}".encode(), digest_size=12).hexdigest()


def price_item(row: dict, cfg: OzonConfig) -> dict:
    price, old_price = prices_of(row, cfg)
    # No `auto_action_enabled`: deprecated on 2026-09-11 (ozon.md §0); promotions are the owner's business in Ozon.
    return {"offer_id": offer_id(row, cfg), "price": price, "old_price": old_price, "currency_code": cfg.currency}


def free_stock(row: dict) -> int:
    """OpenCart's quantity is already net of placed orders; never send a negative stock."""
    return max(0, int(row.get("quantity") or 0))


# --- postings → OpenCart orders ---------------------------------------------------------------------


def line_price(line: dict) -> tuple[str, str]:
    """(amount, currency) of a posting line: `/v4/posting/fbs/list` gives `price: {amount, currency}`,
    `/v3/posting/fbs/get` a string `price` beside `currency_code`."""
    price = line.get("price")
    if isinstance(price, dict):
        return str(price.get("amount") or 0), str(price.get("currency") or "")
    return str(price or 0), str(line.get("currency_code") or "")


def posting_lines(posting: dict, known: dict[str, dict]) -> tuple[list[dict], list[str]]:
    """Order lines for a posting; `known` maps offer_id → {product_id, model, name}. Returns (lines, warnings)."""
    lines, warnings = [], []
    for p in posting.get("products") or []:
        offer = str(p.get("offer_id") or "")
        match = known.get(offer)
        qty = int(p.get("quantity") or 1)
        price = Decimal(line_price(p)[0])
        if match is None:
            warnings.append(f"unknown offer_id {offer!r} (Ozon SKU {p.get('sku')}): line added without a product link")
        lines.append({"product_id": int(match["product_id"]) if match else 0, "name": (match or {}).get("name") or p.get("name") or offer,
                      "model": (match or {}).get("model") or offer, "quantity": qty, "price": price,
                      "total": price * qty, "offer_id": offer})
    return lines, warnings


def posting_to_order(posting: dict, known: dict[str, dict], cfg: OzonConfig, *, store_currency: str) -> dict:
    """An order draft for opencart.order_create: guest customer, payment "Ozon", shipping from the posting."""
    lines, warnings = posting_lines(posting, known)
    currency = {(line_price(p)[1] or cfg.currency) for p in posting.get("products") or []} or {cfg.currency}
    if len(currency) > 1 or currency != {store_currency}:
        warnings.append(f"posting currency {', '.join(sorted(currency))} differs from the shop's {store_currency}; "
                        "amounts stored as received")
    customer = posting.get("customer") or {}
    address = customer.get("address") or {}
    name = (customer.get("name") or "Ozon").split(" ", 1)
    delivery = posting.get("delivery_method") or {}
    subtotal = sum((line["total"] for line in lines), Decimal("0"))
    number = posting["posting_number"]
    return {
        "firstname": name[0][:32], "lastname": (name[1] if len(name) > 1 else "Ozon")[:32],
        "email": "", "telephone": (customer.get("phone") or "")[:32],
        "address_1": (address.get("address_tail") or "")[:128], "city": (address.get("city") or "")[:128],
        "postcode": (address.get("zip_code") or "")[:10], "country": address.get("country") or "",
        "country_iso": COUNTRY_ISO.get((address.get("country") or "").strip().lower(), "RU" if address else ""),
        "payment_method": "Ozon", "payment_code": "ozon",
        "shipping_method": (delivery.get("name") or "Ozon")[:128], "shipping_code": "ozon.ozon",
        "comment": f"Ozon posting {number}",
        "lines": lines, "subtotal": subtotal, "total": subtotal,
        "currency_code": sorted(currency)[0], "order_status_id": cfg.status_map.get(posting.get("status"), cfg.new_order_status_id)
        if posting.get("status") not in ("cancelled", "cancelled_from_split_pending") else cfg.cancelled_status_id,
        "external_ref": number, "warnings": warnings, "history_comment": f"{OUR_COMMENT}{posting.get('status', '')}",
    }
