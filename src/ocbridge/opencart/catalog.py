"""Reading the catalogue: products with names per language, images, dimensions and categories (by primary key)."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

import sqlalchemy as sa

from ocbridge.opencart.db import ShopDB
from ocbridge.opencart.orders import unescape


@dataclass
class Product:
    """One product as the marketplaces need it."""

    product_id: int
    model: str
    sku: str
    price: Decimal
    quantity: int
    status: bool
    image: str
    weight: Decimal
    weight_class_id: int
    length: Decimal
    width: Decimal
    height: Decimal
    length_class_id: int
    manufacturer_id: int
    date_modified: object = None
    names: dict[int, str] = field(default_factory=dict)  # language_id → name
    descriptions: dict[int, str] = field(default_factory=dict)
    images: list[str] = field(default_factory=list)
    category_ids: list[int] = field(default_factory=list)
    store_ids: list[int] = field(default_factory=list)


def read_products(db: ShopDB, *, product_ids: list[int] | None = None, after_id: int = 0,
                  limit: int = 500) -> list[Product]:
    """Products by id list, or the next `limit` after `after_id` (a primary-key range: page through the catalogue)."""
    p = db.t("product")
    stmt = sa.select(p)
    if product_ids is not None:
        if not product_ids:
            return []
        stmt = stmt.where(p.c.product_id.in_(product_ids))
    else:
        stmt = stmt.where(p.c.product_id > after_id).order_by(p.c.product_id).limit(limit)
    with db.engine.connect() as conn:
        out = {}
        for r in conn.execute(stmt):
            m = r._mapping
            out[m["product_id"]] = Product(
                product_id=m["product_id"], model=unescape(m["model"]), sku=unescape(m["sku"]),
                price=Decimal(str(m["price"])), quantity=m["quantity"], status=bool(m["status"]),
                image=m["image"] or "", weight=Decimal(str(m["weight"])), weight_class_id=m["weight_class_id"],
                length=Decimal(str(m["length"])), width=Decimal(str(m["width"])), height=Decimal(str(m["height"])),
                length_class_id=m["length_class_id"], manufacturer_id=m["manufacturer_id"],
                date_modified=m["date_modified"])
        if not out:
            return []
        ids = list(out)
        pd, pi, pc, ps = db.t("product_description"), db.t("product_image"), db.t("product_to_category"), \
            db.t("product_to_store")
        for r in conn.execute(sa.select(pd.c.product_id, pd.c.language_id, pd.c.name, pd.c.description)
                              .where(pd.c.product_id.in_(ids))):
            out[r.product_id].names[r.language_id] = unescape(r.name)
            out[r.product_id].descriptions[r.language_id] = unescape(r.description)
        for r in conn.execute(sa.select(pi.c.product_id, pi.c.image).where(pi.c.product_id.in_(ids))
                              .order_by(pi.c.product_id, pi.c.sort_order, pi.c.product_image_id)):
            out[r.product_id].images.append(r.image)
        for r in conn.execute(sa.select(pc.c.product_id, pc.c.category_id).where(pc.c.product_id.in_(ids))):
            out[r.product_id].category_ids.append(r.category_id)
        for r in conn.execute(sa.select(ps.c.product_id, ps.c.store_id).where(ps.c.product_id.in_(ids))):
            out[r.product_id].store_ids.append(r.store_id)
    return [out[i] for i in sorted(out)]
