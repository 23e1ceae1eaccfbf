"""What a fulfilment service needs of an order: both addresses with ISO country codes, lines with SKU, totals.

Read by primary key only (order, country, product): the order reads of `orders.py` plus the address columns
and each line's product `sku`/`model`, which the shared Order leaves out.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import sqlalchemy as sa

from ocbridge.opencart.db import ShopDB
from ocbridge.opencart.orders import Order, method_title, read_orders, unescape

ADDRESS_PARTS = ("firstname", "lastname", "company", "address_1", "address_2", "city", "postcode", "zone", "country",
                 "country_id")


@dataclass
class FulfilmentOrder:
    """An order with its addresses (country as ISO 3166 alpha-2) and its lines' SKU and model."""

    order: Order
    shipping: dict = field(default_factory=dict)  # firstname … country_id, iso
    payment: dict = field(default_factory=dict)
    shipping_method: str = ""
    skus: dict[int, dict] = field(default_factory=dict)  # product_id → {"sku", "model"}


def read_fulfilment_orders(db: ShopDB, order_ids: list[int]) -> dict[int, FulfilmentOrder]:
    """Orders by primary key with what a warehouse needs; missing ids are left out."""
    orders = read_orders(db, order_ids, lines=True)
    if not orders:
        return {}
    o, c, p = db.t("order"), db.t("country"), db.t("product")
    cols = [o.c.order_id, o.c.shipping_method] + [o.c[f"{side}_{part}"] for side in ("shipping", "payment")
                                                   for part in ADDRESS_PARTS]
    out: dict[int, FulfilmentOrder] = {}
    with db.engine.connect() as conn:
        rows = {r.order_id: r._mapping for r in conn.execute(sa.select(*cols).where(o.c.order_id.in_(list(orders))))}
        country_ids = {r[f"{side}_country_id"] for r in rows.values() for side in ("shipping", "payment")} - {0, None}
        iso = dict(conn.execute(sa.select(c.c.country_id, c.c.iso_code_2).where(c.c.country_id.in_(country_ids))).all()) \
            if country_ids else {}
        product_ids = {line.product_id for order in orders.values() for line in order.lines}
        skus = {r.product_id: {"sku": unescape(r.sku), "model": unescape(r.model)} for r in conn.execute(
            sa.select(p.c.product_id, p.c.sku, p.c.model).where(p.c.product_id.in_(product_ids)))} if product_ids else {}
    for oid, order in orders.items():
        row = rows[oid]

        def address(side: str) -> dict:
            a = {part: (row[f"{side}_{part}"] if part == "country_id" else unescape(row[f"{side}_{part}"]))
                 for part in ADDRESS_PARTS}
            a["iso"] = iso.get(a["country_id"] or 0, "")
            return a

        out[oid] = FulfilmentOrder(order=order, shipping=address("shipping"), payment=address("payment"),
                                   shipping_method=method_title(row["shipping_method"]),
                                   skus={line.product_id: skus.get(line.product_id, {"sku": "", "model": ""})
                                         for line in order.lines})
    return out

