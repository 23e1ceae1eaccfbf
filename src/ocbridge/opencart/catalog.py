"""Reading the catalogue: products by primary key, and the enabled products of a store as marketplace rows.

One way to read products: every reader below builds on the same product select and the same set
readers for images, categories, descriptions and specials — a handful of set queries per call, never one
query per product, bound parameters only. product.date_modified is not used to find changes (stock changes
by orders do not touch it, opencart.md §1.8): callers compare content.
"""

from __future__ import annotations

import datetime as dt
import json
from collections import defaultdict
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


# --- shared readers ------------------------------------------------------------------------------------


def _enabled(db: ShopDB, store_id: int, columns: list) -> sa.Select:
    """Enabled products assigned to one store (product ⋈ product_to_store)."""
    p, ps = db.t("product"), db.t("product_to_store")
    return (sa.select(*columns)
            .select_from(p.join(ps, sa.and_(ps.c.product_id == p.c.product_id, ps.c.store_id == store_id)))
            .where(p.c.status == 1))


def _by_ids(stmt: sa.Select, column, ids: list[int] | None) -> sa.Select:
    return stmt if ids is None else stmt.where(column.in_(ids))


def _images(conn: sa.Connection, db: ShopDB, ids: list[int] | None) -> dict[int, list[str]]:
    pi = db.t("product_image")
    out: dict[int, list[str]] = defaultdict(list)
    stmt = sa.select(pi.c.product_id, pi.c.image).order_by(pi.c.product_id, pi.c.sort_order, pi.c.product_image_id)
    for pid, image in conn.execute(_by_ids(stmt, pi.c.product_id, ids)):
        out[pid].append(image)
    return out


def _categories(conn: sa.Connection, db: ShopDB, ids: list[int] | None) -> dict[int, list[int]]:
    pc = db.t("product_to_category")
    out: dict[int, list[int]] = defaultdict(list)
    stmt = sa.select(pc.c.product_id, pc.c.category_id).order_by(pc.c.product_id, pc.c.category_id)
    for pid, cid in conn.execute(_by_ids(stmt, pc.c.product_id, ids)):
        out[pid].append(cid)
    return out


def _specials(conn: sa.Connection, db: ShopDB, customer_group_id: int, today: dt.date) -> dict[int, object]:
    """The active special per product for one customer group: lowest priority, then lowest price (as OpenCart)."""
    s = db.t("product_special")
    rows = conn.execute(sa.select(s.c.product_id, s.c.price, s.c.priority, s.c.date_start, s.c.date_end)
                        .where(s.c.customer_group_id == customer_group_id)
                        .order_by(s.c.product_id, s.c.priority, s.c.price)).all()
    out: dict[int, object] = {}
    for pid, price, _prio, start, end in rows:
        # '0000-00-00' comes back as None from the driver: open-ended, like OpenCart reads it.
        if pid in out or (start and start > today) or (end and end <= today):
            continue
        out[pid] = price
    return out


# --- products by primary key -----------------------------------------------------------------------------


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
        pd, ps = db.t("product_description"), db.t("product_to_store")
        for r in conn.execute(sa.select(pd.c.product_id, pd.c.language_id, pd.c.name, pd.c.description)
                              .where(pd.c.product_id.in_(ids))):
            out[r.product_id].names[r.language_id] = unescape(r.name)
            out[r.product_id].descriptions[r.language_id] = unescape(r.description)
        for pid, images in _images(conn, db, ids).items():
            out[pid].images.extend(images)
        for pid, cats in _categories(conn, db, ids).items():
            out[pid].category_ids.extend(cats)
        for r in conn.execute(sa.select(ps.c.product_id, ps.c.store_id).where(ps.c.product_id.in_(ids))):
            out[r.product_id].store_ids.append(r.store_id)
    return [out[i] for i in sorted(out)]


# --- a store's enabled products as marketplace rows (plain dicts) ------------------------------------------


def stock_rows(db: ShopDB, *, store_id: int = 0) -> list[dict]:
    """product_id, model, sku, quantity of every enabled product of the store."""
    p = db.t("product")
    with db.engine.connect() as conn:
        return [{"product_id": r.product_id, "model": unescape(r.model), "sku": unescape(r.sku), "quantity": r.quantity}
                for r in conn.execute(_enabled(db, store_id, [p.c.product_id, p.c.model, p.c.sku, p.c.quantity]))]


def price_rows(db: ShopDB, *, store_id: int = 0, customer_group_id: int = 1, today: dt.date) -> list[dict]:
    """product_id, model, sku, price and the customer group's active special (also as `group_price`)."""
    p = db.t("product")
    with db.engine.connect() as conn:
        specials = _specials(conn, db, customer_group_id, today)
        return [{"product_id": r.product_id, "model": unescape(r.model), "sku": unescape(r.sku), "price": r.price,
                 "special": specials.get(r.product_id), "group_price": specials.get(r.product_id)}
                for r in conn.execute(_enabled(db, store_id, [p.c.product_id, p.c.model, p.c.sku, p.c.price]))]


def feed_rows(db: ShopDB, *, store_id: int = 0, language_id: int = 1, customer_group_id: int = 1,
              today: dt.date) -> list[dict]:
    """Every enabled product of the store with what a marketplace card needs (one language)."""
    p, pd = db.t("product"), db.t("product_description")
    wcd, lcd, man = db.t("weight_class_description"), db.t("length_class_description"), db.t("manufacturer")
    pa = db.t("product_attribute")
    cols = [p.c.product_id, p.c.model, p.c.sku, p.c.ean, p.c.upc, p.c.quantity, p.c.price, p.c.image, p.c.weight,
            p.c.length, p.c.width, p.c.height, p.c.manufacturer_id, p.c.weight_class_id, p.c.length_class_id]
    with db.engine.connect() as conn:
        products = [r._mapping for r in conn.execute(_enabled(db, store_id, cols))]
        texts = {r.product_id: (r.name, r.description) for r in conn.execute(
            sa.select(pd.c.product_id, pd.c.name, pd.c.description).where(pd.c.language_id == language_id))}
        wunits = dict(conn.execute(sa.select(wcd.c.weight_class_id, wcd.c.unit).where(wcd.c.language_id == language_id)).all())
        lunits = dict(conn.execute(sa.select(lcd.c.length_class_id, lcd.c.unit).where(lcd.c.language_id == language_id)).all())
        makers = dict(conn.execute(sa.select(man.c.manufacturer_id, man.c.name)).all())
        images, cats = _images(conn, db, None), _categories(conn, db, None)
        attrs: dict[int, dict[int, str]] = defaultdict(dict)
        for pid, aid, text in conn.execute(sa.select(pa.c.product_id, pa.c.attribute_id, pa.c.text)
                                           .where(pa.c.language_id == language_id)):
            attrs[pid][aid] = unescape(text)
        specials = _specials(conn, db, customer_group_id, today)
        variants = _variants(conn, db, language_id) if "master_id" in p.c else {}
    models = {r["product_id"]: unescape(r["model"]) for r in products}
    out = []
    for r in products:
        pid = r["product_id"]
        name, description = texts.get(pid, ("", ""))
        master_id, options = variants.get(pid, (0, {}))
        out.append({
            "product_id": pid, "model": unescape(r["model"]), "sku": unescape(r["sku"]), "ean": r["ean"], "upc": r["upc"],
            "quantity": r["quantity"], "price": r["price"], "special": specials.get(pid), "group_price": specials.get(pid),
            "weight": r["weight"], "weight_unit": wunits.get(r["weight_class_id"], ""),
            "length": r["length"], "width": r["width"], "height": r["height"],
            "length_unit": lunits.get(r["length_class_id"], ""), "image": r["image"] or "", "images": images.get(pid, []),
            "manufacturer": unescape(makers.get(r["manufacturer_id"], "")), "name": unescape(name),
            "description": unescape(description), "category_ids": cats.get(pid, []), "attributes": attrs.get(pid, {}),
            # 4.0 variants: the master's model names the group a marketplace shows as one product; `options` are the
            # variant's own choices in words ({"Colour": "Red"}). Masters and older versions: own model, no options.
            "master_id": master_id, "group_model": models.get(master_id) or models[pid], "options": options,
        })
    return out


def _variants(conn: sa.Connection, db: ShopDB, language_id: int) -> dict[int, tuple[int, dict[str, str]]]:
    """product_id → (master_id, {option name: value name}) of OpenCart 4.0 variant products.

    A variant's `variant` column is JSON {master's product_option_id: product_option_value_id}, written by the
    admin's product form (4.0.2.3 admin/model/catalog/product.php addVariant/editProduct)."""
    p, pov = db.t("product"), db.t("product_option_value")
    od, ovd = db.t("option_description"), db.t("option_value_description")
    rows = conn.execute(sa.select(p.c.product_id, p.c.master_id, p.c.variant).where(p.c.master_id > 0)).all()
    if not rows:
        return {}
    chosen = {}
    for r in rows:
        try:
            chosen[r.product_id] = {int(k): int(v) for k, v in (json.loads(r.variant or "{}") or {}).items()}
        except (ValueError, TypeError, AttributeError):
            chosen[r.product_id] = {}
    value_ids = {v for c in chosen.values() for v in c.values()}
    names: dict[int, tuple[str, str]] = {}
    if value_ids:
        stmt = (sa.select(pov.c.product_option_value_id, od.c.name.label("option"), ovd.c.name.label("value"))
                .select_from(pov.join(od, sa.and_(od.c.option_id == pov.c.option_id, od.c.language_id == language_id))
                             .join(ovd, sa.and_(ovd.c.option_value_id == pov.c.option_value_id,
                                                ovd.c.language_id == language_id)))
                .where(pov.c.product_option_value_id.in_(value_ids)))
        names = {r.product_option_value_id: (unescape(r.option), unescape(r.value)) for r in conn.execute(stmt)}
    return {r.product_id: (r.master_id, dict(names[v] for v in chosen[r.product_id].values() if v in names))
            for r in rows}


def products_by_model(db: ShopDB, models: list[str]) -> dict[str, dict]:
    """model → {product_id, model, name} for matching marketplace lines whose offer_id we did not send."""
    if not models:
        return {}
    p = db.t("product")
    with db.engine.connect() as conn:
        # model is stored HTML-escaped like every text field (opencart.md): match on the unescaped value.
        rows = conn.execute(sa.select(p.c.product_id, p.c.model).where(p.c.model.in_(models))).all()
    return {unescape(r.model): {"product_id": r.product_id, "model": unescape(r.model), "name": ""} for r in rows}


def identities(db: ShopDB) -> list[dict]:
    """product_id, model, sku of every product (enabled or not, any store): what a marketplace offer id is made
    from, to tell the marketplace's own cards from ours."""
    p = db.t("product")
    with db.engine.connect() as conn:
        return [{"product_id": r.product_id, "model": unescape(r.model), "sku": unescape(r.sku)}
                for r in conn.execute(sa.select(p.c.product_id, p.c.model, p.c.sku))]


def default_units(db: ShopDB, store_id: int = 0) -> tuple[str, str]:
    """(weight unit, length unit) of the shop's default weight and length classes, e.g. ("kg", "cm")."""
    from ocbridge.opencart.statuses import read_settings

    cfg = read_settings(db, store_id)
    wcd, lcd = db.t("weight_class_description"), db.t("length_class_description")
    with db.engine.connect() as conn:
        weight = conn.execute(sa.select(wcd.c.unit).where(wcd.c.weight_class_id == cfg.number("config_weight_class_id"))
                              .limit(1)).scalar()
        length = conn.execute(sa.select(lcd.c.unit).where(lcd.c.length_class_id == cfg.number("config_length_class_id"))
                              .limit(1)).scalar()
    return (weight or "").strip(), (length or "").strip()


# --- categories, manufacturers and product options (CRM catalogue sync) ----------------------------------------


def read_categories(db: ShopDB) -> list[dict]:
    """Every category: id, parent_id, status, image, sort_order, names and descriptions per language_id; parents
    before their children (the order a receiving side needs)."""
    c, cd = db.t("category"), db.t("category_description")
    with db.engine.connect() as conn:
        rows = {r.category_id: {"category_id": r.category_id, "parent_id": r.parent_id, "status": bool(r.status),
                                "image": r.image or "", "sort_order": r.sort_order, "names": {}, "descriptions": {}}
                for r in conn.execute(sa.select(c.c.category_id, c.c.parent_id, c.c.status, c.c.image, c.c.sort_order))}
        for r in conn.execute(sa.select(cd.c.category_id, cd.c.language_id, cd.c.name, cd.c.description)):
            if r.category_id in rows:
                rows[r.category_id]["names"][r.language_id] = unescape(r.name)
                rows[r.category_id]["descriptions"][r.language_id] = unescape(r.description)
    out, placed = [], set()

    def place(cid: int, depth: int = 0) -> None:
        row = rows[cid]
        if cid in placed or depth > 50:
            return
        if row["parent_id"] in rows:
            place(row["parent_id"], depth + 1)
        placed.add(cid)
        out.append(row)

    for cid in sorted(rows):
        place(cid)
    return out


def read_manufacturers(db: ShopDB) -> list[dict]:
    m = db.t("manufacturer")
    with db.engine.connect() as conn:
        return [{"manufacturer_id": r.manufacturer_id, "name": unescape(r.name), "image": r.image or ""}
                for r in conn.execute(sa.select(m.c.manufacturer_id, m.c.name, m.c.image).order_by(m.c.manufacturer_id))]


def product_options(db: ShopDB, product_ids: list[int]) -> dict[int, list[dict]]:
    """product_id → its options: [{option_id, names{lang}, values: [{option_value_id, names{lang}, quantity,
    price (signed), subtract}]}] (product_option / product_option_value with the option's names per language)."""
    if not product_ids:
        return {}
    po, pov = db.t("product_option"), db.t("product_option_value")
    od, ovd = db.t("option_description"), db.t("option_value_description")
    out: dict[int, dict[int, dict]] = defaultdict(dict)
    with db.engine.connect() as conn:
        names = defaultdict(dict)
        for r in conn.execute(sa.select(od.c.option_id, od.c.language_id, od.c.name)):
            names[r.option_id][r.language_id] = unescape(r.name)
        value_names = defaultdict(dict)
        for r in conn.execute(sa.select(ovd.c.option_value_id, ovd.c.language_id, ovd.c.name)):
            value_names[r.option_value_id][r.language_id] = unescape(r.name)
        for r in conn.execute(sa.select(po.c.product_option_id, po.c.product_id, po.c.option_id)
                              .where(po.c.product_id.in_(product_ids)).order_by(po.c.product_option_id)):
            out[r.product_id][r.product_option_id] = {"option_id": r.option_id, "names": names.get(r.option_id, {}),
                                                      "values": []}
        for r in conn.execute(sa.select(pov).where(pov.c.product_id.in_(product_ids))
                              .order_by(pov.c.product_option_value_id)):
            m = r._mapping
            opt = out[m["product_id"]].get(m["product_option_id"])
            if opt is None:
                continue
            sign = -1 if m["price_prefix"] == "-" else 1
            opt["values"].append({"option_value_id": m["option_value_id"],
                                  "names": value_names.get(m["option_value_id"], {}), "quantity": int(m["quantity"]),
                                  "price": str(sign * Decimal(str(m["price"]))), "subtract": bool(m["subtract"])})
    return {pid: list(opts.values()) for pid, opts in out.items()}


def product_fingerprints(db: ShopDB, *, after: int = 0, limit: int = 5000) -> list[tuple[int, str]]:
    """(product_id, fingerprint) of the next `limit` products after `after`: a digest of everything a catalogue
    copy of the product is made of (product columns, descriptions per language, images, categories, stores, option
    values), so a sync reads in full only the products whose fingerprint moved. On MySQL/MariaDB the database
    digests each part per product (one grouped query per table over the page's id range: ~200 bytes a product
    cross the wire, and no per-product subquery on tables without a product_id index); elsewhere (the SQLite
    demo) it is computed here from the full read."""
    import hashlib

    if not db.is_mysql:
        rows = read_products(db, after_id=after, limit=limit)
        ids = [r.product_id for r in rows]
        parts = [product_options(db, ids), product_specials(db, ids), product_discounts(db, ids),
                 product_filters(db, ids)]
        return [(r.product_id, hashlib.md5(repr((r, *(x.get(r.product_id) for x in parts))).encode()).hexdigest())
                for r in rows]
    p = db.t("product")
    parts: dict[int, list[str]] = {}
    with db.engine.connect() as conn:
        conn.execute(sa.text("SET SESSION group_concat_max_len = 1048576"))  # a long list must not be cut short
        for r in conn.execute(sa.select(p.c.product_id, sa.func.md5(sa.func.concat_ws(
                "|", p.c.model, p.c.sku, p.c.price, p.c.quantity, p.c.status, p.c.image, p.c.manufacturer_id,
                p.c.weight, p.c.length, p.c.width, p.c.height)).label("fp"))
                .where(p.c.product_id > after).order_by(p.c.product_id).limit(limit)):
            parts[r.product_id] = [r.fp]
        if not parts:
            return []
        lo, hi = after, max(parts)
        for table, expr in (
                ("product_description", "GROUP_CONCAT(language_id, ':', MD5(name), MD5(description) ORDER BY language_id)"),
                ("product_image", "GROUP_CONCAT(MD5(image) ORDER BY sort_order, product_image_id)"),
                ("product_to_category", "GROUP_CONCAT(category_id ORDER BY category_id)"),
                ("product_to_store", "GROUP_CONCAT(store_id ORDER BY store_id)"),
                ("product_option_value", "GROUP_CONCAT(product_option_value_id, ':', option_value_id, ':', quantity, "
                                         "':', price, price_prefix ORDER BY product_option_value_id)"),
                ("product_special", "GROUP_CONCAT(customer_group_id, ':', priority, ':', price, ':', date_start, ':', "
                                    "date_end ORDER BY product_special_id)"),
                ("product_discount", "GROUP_CONCAT(customer_group_id, ':', quantity, ':', priority, ':', price, ':', "
                                     "date_start, ':', date_end ORDER BY product_discount_id)"),
                ("product_filter", "GROUP_CONCAT(filter_id ORDER BY filter_id)")):
            sql = sa.text(f"SELECT product_id, MD5({expr}) AS fp FROM `{db.t(table).name}` "
                          "WHERE product_id > :lo AND product_id <= :hi GROUP BY product_id")
            seen = {r.product_id: r.fp for r in conn.execute(sql, {"lo": lo, "hi": hi})}
            for pid, got in parts.items():
                got.append(seen.get(pid, ""))
    return [(pid, hashlib.md5("|".join(got).encode()).hexdigest()) for pid, got in parts.items()]


def option_names_fingerprint(db: ShopDB) -> str:
    """One digest of every option, option value and filter name (they are shared by many products)."""
    import hashlib

    od, ovd = db.t("option_description"), db.t("option_value_description")
    h = hashlib.md5()
    with db.engine.connect() as conn:
        for r in conn.execute(sa.select(od.c.option_id, od.c.language_id, od.c.name)
                              .order_by(od.c.option_id, od.c.language_id)):
            h.update(repr(tuple(r)).encode())
        for r in conn.execute(sa.select(ovd.c.option_value_id, ovd.c.language_id, ovd.c.name)
                              .order_by(ovd.c.option_value_id, ovd.c.language_id)):
            h.update(repr(tuple(r)).encode())
        fd = db.t("filter_description")
        for r in conn.execute(sa.select(fd.c.filter_id, fd.c.language_id, fd.c.name)
                              .order_by(fd.c.filter_id, fd.c.language_id)):
            h.update(repr(tuple(r)).encode())
    return h.hexdigest()


def _price_rows(db: ShopDB, table: str, product_ids: list[int], *extra: str) -> dict[int, list[dict]]:
    if not product_ids:
        return {}
    t = db.t(table)
    out: dict[int, list[dict]] = defaultdict(list)
    with db.engine.connect() as conn:
        for r in conn.execute(sa.select(t).where(t.c.product_id.in_(product_ids))
                              .order_by(t.c.product_id, *(t.c[c] for c in extra), t.c.priority, t.c[f"{table}_id"])):
            m = r._mapping
            out[m["product_id"]].append({"customer_group_id": m["customer_group_id"], "priority": m["priority"],
                                         **{c: m[c] for c in extra},
                                         "price": Decimal(str(m["price"])), "date_start": m["date_start"],
                                         "date_end": m["date_end"]})
    return dict(out)


def product_specials(db: ShopDB, product_ids: list[int]) -> dict[int, list[dict]]:
    """product_id → its special prices (every customer group and period, as the admin's Special tab lists them)."""
    return _price_rows(db, "product_special", product_ids)


def product_discounts(db: ShopDB, product_ids: list[int]) -> dict[int, list[dict]]:
    """product_id → its quantity discounts (price from `quantity` items on, per customer group and period, as the
    admin's Discount tab lists them)."""
    return _price_rows(db, "product_discount", product_ids, "quantity")


def product_filters(db: ShopDB, product_ids: list[int]) -> dict[int, list[dict]]:
    """product_id → its filters: filter_id, filter_group_id and the filter's name per language_id."""
    if not product_ids:
        return {}
    pf, f, fd = db.t("product_filter"), db.t("filter"), db.t("filter_description")
    out: dict[int, list[dict]] = defaultdict(list)
    with db.engine.connect() as conn:
        links = conn.execute(sa.select(pf.c.product_id, f.c.filter_id, f.c.filter_group_id)
                             .join(f, f.c.filter_id == pf.c.filter_id).where(pf.c.product_id.in_(product_ids))
                             .order_by(pf.c.product_id, f.c.sort_order, f.c.filter_id)).all()
        names: dict[int, dict[int, str]] = defaultdict(dict)
        for r in conn.execute(sa.select(fd.c.filter_id, fd.c.language_id, fd.c.name)
                              .where(fd.c.filter_id.in_({x.filter_id for x in links}))):
            names[r.filter_id][r.language_id] = unescape(r.name)
    for r in links:
        out[r.product_id].append({"filter_id": r.filter_id, "filter_group_id": r.filter_group_id,
                                  "names": names.get(r.filter_id, {})})
    return dict(out)


def category_paths(db: ShopDB, language_id: int) -> list[tuple[int, str]]:
    """(category_id, "Parent › Child") of every category (read_categories), in one language (another language's
    name where that one has none), sorted by path — what the admin's category list shows. A broken parent chain
    ends the path instead of looping."""
    rows = {r["category_id"]: r for r in read_categories(db)}

    def name(row) -> str:
        names = row["names"]
        return names.get(language_id) or next(iter(names.values()), "") or f"#{row['category_id']}"

    out = []
    for cid, row in rows.items():
        path, seen = [], set()
        while row is not None and row["category_id"] not in seen:
            seen.add(row["category_id"])
            path.append(name(row))
            row = rows.get(row["parent_id"])
        out.append((cid, " › ".join(reversed(path))))
    return sorted(out, key=lambda item: item[1].lower())
