"""Catalogue rows for marketplace feeds (Ozon): products with description, images, categories, special price.

A handful of set queries per call (never one query per product), bound parameters only. Rows are
plain dicts in the shape `integrations.ozon.mappers` documents. product.date_modified is not used to
find changes (stock changes by orders do not touch it, opencart.md §1.8): callers compare content.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict

from sqlalchemy import Connection, MetaData, and_, select


def _t(md: MetaData, name: str):
    return md.tables[md.info["prefix"] + name]


def _products(md: MetaData, store_id: int, columns: list):
    p, ps = _t(md, "product"), _t(md, "product_to_store")
    return (select(*columns).select_from(p.join(ps, and_(ps.c.product_id == p.c.product_id, ps.c.store_id == store_id)))
            .where(p.c.status == 1))


def _specials(conn: Connection, md: MetaData, customer_group_id: int, today: dt.date) -> dict[int, object]:
    """The active special per product for one customer group: lowest priority, then lowest price (as OpenCart)."""
    s = _t(md, "product_special")
    rows = conn.execute(select(s.c.product_id, s.c.price, s.c.priority, s.c.date_start, s.c.date_end)
                        .where(s.c.customer_group_id == customer_group_id)
                        .order_by(s.c.product_id, s.c.priority, s.c.price)).all()
    out: dict[int, object] = {}
    for pid, price, _prio, start, end in rows:
        # '0000-00-00' comes back as None from the driver: open-ended, like OpenCart reads it.
        if pid in out or (start and start > today) or (end and end <= today):
            continue
        out[pid] = price
    return out


def stock_rows(conn: Connection, md: MetaData, *, store_id: int = 0) -> list[dict]:
    p = _t(md, "product")
    q = _products(md, store_id, [p.c.product_id, p.c.model, p.c.sku, p.c.quantity])
    return [dict(r._mapping) for r in conn.execute(q)]


def price_rows(conn: Connection, md: MetaData, *, store_id: int = 0, customer_group_id: int = 1,
               today: dt.date) -> list[dict]:
    p = _t(md, "product")
    specials = _specials(conn, md, customer_group_id, today)
    rows = []
    for r in conn.execute(_products(md, store_id, [p.c.product_id, p.c.model, p.c.sku, p.c.price])):
        d = dict(r._mapping)
        d["special"] = d["group_price"] = specials.get(d["product_id"])
        rows.append(d)
    return rows


def feed_rows(conn: Connection, md: MetaData, *, store_id: int = 0, language_id: int = 1, customer_group_id: int = 1,
              today: dt.date) -> list[dict]:
    """Every enabled product of the store with what a marketplace card needs."""
    p, pd = _t(md, "product"), _t(md, "product_description")
    wcd, lcd, man = _t(md, "weight_class_description"), _t(md, "length_class_description"), _t(md, "manufacturer")
    q = (select(p.c.product_id, p.c.model, p.c.sku, p.c.ean, p.c.upc, p.c.quantity, p.c.price, p.c.image,
                p.c.weight, p.c.length, p.c.width, p.c.height, p.c.manufacturer_id, p.c.weight_class_id,
                p.c.length_class_id, pd.c.name, pd.c.description)
         .select_from(_t(md, "product_to_store").join(p, p.c.product_id == _t(md, "product_to_store").c.product_id)
                      .outerjoin(pd, and_(pd.c.product_id == p.c.product_id, pd.c.language_id == language_id)))
         .where(and_(p.c.status == 1, _t(md, "product_to_store").c.store_id == store_id)))
    products = [dict(r._mapping) for r in conn.execute(q)]
    wunits = dict(conn.execute(select(wcd.c.weight_class_id, wcd.c.unit).where(wcd.c.language_id == language_id)).all())
    lunits = dict(conn.execute(select(lcd.c.length_class_id, lcd.c.unit).where(lcd.c.language_id == language_id)).all())
    makers = dict(conn.execute(select(man.c.manufacturer_id, man.c.name)).all())
    images: dict[int, list[str]] = defaultdict(list)
    pi = _t(md, "product_image")
    for pid, image in conn.execute(select(pi.c.product_id, pi.c.image).order_by(pi.c.product_id, pi.c.sort_order,
                                                                               pi.c.product_image_id)):
        images[pid].append(image)
    cats: dict[int, list[int]] = defaultdict(list)
    pc = _t(md, "product_to_category")
    for pid, cid in conn.execute(select(pc.c.product_id, pc.c.category_id).order_by(pc.c.product_id, pc.c.category_id)):
        cats[pid].append(cid)
    attrs: dict[int, dict[int, str]] = defaultdict(dict)
    pa = _t(md, "product_attribute")
    for pid, aid, text in conn.execute(select(pa.c.product_id, pa.c.attribute_id, pa.c.text)
                                       .where(pa.c.language_id == language_id)):
        attrs[pid][aid] = text
    specials = _specials(conn, md, customer_group_id, today)
    out = []
    for r in products:
        pid = r["product_id"]
        out.append({
            "product_id": pid, "model": r["model"], "sku": r["sku"], "ean": r["ean"], "upc": r["upc"],
            "quantity": r["quantity"], "price": r["price"], "special": specials.get(pid), "group_price": specials.get(pid),
            "weight": r["weight"], "weight_unit": wunits.get(r["weight_class_id"], ""),
            "length": r["length"], "width": r["width"], "height": r["height"],
            "length_unit": lunits.get(r["length_class_id"], ""), "image": r["image"] or "", "images": images.get(pid, []),
            "manufacturer": makers.get(r["manufacturer_id"], ""), "name": r["name"] or "",
            "description": r["description"] or "", "category_ids": cats.get(pid, []), "attributes": attrs.get(pid, {}),
        })
    return out


def products_by_model(conn: Connection, md: MetaData, models: list[str]) -> dict[str, dict]:
    """model → {product_id, model, name?} for matching marketplace lines whose offer_id we did not send."""
    if not models:
        return {}
    p = _t(md, "product")
    return {r.model: {"product_id": r.product_id, "model": r.model, "name": ""}
            for r in conn.execute(select(p.c.product_id, p.c.model).where(p.c.model.in_(models)))}
