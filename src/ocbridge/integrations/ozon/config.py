"""`OzonConfig`: the settings of one Store's ozon Integration, parsed from Integration.settings."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

OFFER_ID_RULES = ("model", "sku", "product_id")
PRICE_SOURCES = ("price", "special", "customer_group")
VAT_RATES = ("0", "0.05", "0.07", "0.1", "0.2")  # Ozon's vat values are fractions as strings

# Ozon posting status → OpenCart order status id (built-in ids, opencart.md §2.1). Terminal ones matter most.
DEFAULT_STATUS_MAP = {
    "awaiting_packaging": 2,  # Processing
    "awaiting_deliver": 2,
    "delivering": 3,  # Shipped
    "driver_pickup": 3,
    "sent_by_seller": 3,
    "delivered": 5,  # Complete
    "cancelled": 7,  # Canceled
    "cancelled_from_split_pending": 7,
}


@dataclass
class OzonConfig:
    """Parsed from Integration.settings; `to_settings()` writes it back. Unknown keys are ignored."""

    warehouse_ids: list[int] = field(default_factory=list)
    price_source: str = "special"  # "price", "special" (special if active, else price) or "customer_group"
    customer_group_id: int = 1
    currency: str = "RUB"
    vat: str = "0"
    offer_id_rule: str = "model"
    offer_id_prefix: str = ""
    language_id: int = 1
    image_base_url: str = ""  # the shop's public URL; images are sent as absolute URLs under image/
    category_ids: list[int] = field(default_factory=list)  # OpenCart categories that take part; empty = all mapped
    # OpenCart category id (as str) → {"description_category_id": n, "type_id": n}
    category_map: dict[str, dict] = field(default_factory=dict)
    # Ozon attribute id (as str) → {"source": "manufacturer"|"attribute:<id>"|"field:<col>"|"fixed", "value": "…",
    #                               "values": {"<OpenCart text>": <dictionary_value_id>}}
    attribute_map: dict[str, dict] = field(default_factory=dict)
    products_out: bool = True
    products_in: bool = False  # two-way products: cards that exist only on Ozon are imported into the shop
    stock_out: bool = True
    prices_out: bool = True
    orders_in: bool = True
    status_out: bool = False  # shop → Ozon: ship / cancel postings when the shop ships / cancels the order
    shipped_status_ids: list[int] = field(default_factory=lambda: [3])  # OpenCart "Shipped"
    cancel_status_ids: list[int] = field(default_factory=lambda: [7])  # OpenCart "Canceled"
    # rFBS with the seller's own delivery: the shop statuses that move a posting on (ship first when needed).
    delivering_status_ids: list[int] = field(default_factory=lambda: [3])  # Shipped → "delivering"
    last_mile_status_ids: list[int] = field(default_factory=list)
    delivered_status_ids: list[int] = field(default_factory=lambda: [5])  # Complete → "delivered"
    # Tracking number from the order's history comments, e.g.
    # r"(?:tracking|track|трек|takip)(?: no| номер)?[^A-Z0-9]{0,5}([A-Z0-9-]{6,40})"
    # (first group, else the whole match); used when no other source (Despatch Cloud) knows it.
    tracking_pattern: str = ""
    cancel_reason_id: int = 402  # from Ozon's live list (/v2/posting/fbs/cancel-reason/list); 402 = "other"
    cancel_reason_message: str = "Cancelled by the shop"  # required by Ozon for 402
    return_status_id: int = 11  # OpenCart "Refunded": the status an order gets when Ozon lists its return
    orders_statuses: list[str] = field(default_factory=list)  # import only postings in these statuses (empty: all)
    orders_warehouse_ids: list[int] = field(default_factory=list)  # only postings of these warehouses (empty: all)
    sync_every_minutes: int = 15
    orders_every_seconds: int = 60  # postings are read this often (two calls when nothing happened), not every sync
    status_map: dict[str, int] = field(default_factory=lambda: dict(DEFAULT_STATUS_MAP))
    new_order_status_id: int = 2
    cancelled_status_id: int = 7
    poll_overlap_minutes: int = 30
    initial_days: int = 3
    returns_in: bool = True
    # Two-way prices: offers the owner lets Ozon own (their price is read back into the shop; a shop change still
    # goes to Ozon); a change on both sides since the last sync is decided by `conflict_rule` (core.bindings:
    # "shop", "service" or "newest" by the hub's detection time).
    ozon_owned_offer_ids: list[str] = field(default_factory=list)
    conflict_rule: str = "shop"

    @classmethod
    def from_settings(cls, data: dict | None) -> OzonConfig:
        names = {f.name for f in dataclasses.fields(cls)}
        cfg = cls(**{k: v for k, v in (data or {}).items() if k in names})
        cfg.warehouse_ids = [int(w) for w in cfg.warehouse_ids]
        cfg.category_ids = [int(c) for c in cfg.category_ids]
        cfg.shipped_status_ids = [int(c) for c in cfg.shipped_status_ids]
        cfg.cancel_status_ids = [int(c) for c in cfg.cancel_status_ids]
        for name in ("delivering_status_ids", "last_mile_status_ids", "delivered_status_ids", "orders_warehouse_ids"):
            setattr(cfg, name, [int(c) for c in getattr(cfg, name)])
        return cfg

    def to_settings(self) -> dict:
        return dataclasses.asdict(self)

    def category_for(self, category_ids: list[int]) -> dict | None:
        """The Ozon category of the first mapped OpenCart category of a product."""
        for cid in category_ids:
            m = self.category_map.get(str(cid))
            if m and m.get("description_category_id") and m.get("type_id"):
                return m
        return None
