"""A product as OpenCart's admin saves it (admin/model/catalog/product.php addProduct/editProduct, the same in
2.3.0.2, 3.0.3.9 and 4.0.2.3 for the columns and rows written here), split into steps the journaled write
(opencart.writes.upsert_product) runs and resumes.

Every step after the product row replaces the product's own rows of one kind (delete, then insert), as the
admin's editProduct does, so running a step again gives the same rows. A manufacturer or attribute named by the
caller is found by name, or created as the admin's manufacturer/attribute forms create one.
Options (`product_option` / `product_option_value`, each keeping its id as the admin form posts it back, since
carts and orders refer to them), quantity discounts (`product_discount`) and special prices (`product_special`)
are written when the draft names them. Not written: rewards, downloads, filters, related products, layouts, SEO
keywords — the owner adds them in the admin if wanted (no row = OpenCart's default for each).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass, field
from decimal import Decimal, InvalidOperation

import sqlalchemy as sa

from ocbridge.core.errors import TerminalError
from ocbridge.opencart.db import ShopDB
from ocbridge.opencart.history import escape_like_opencart
from ocbridge.opencart.orders import unescape

# The steps of a product write, in order; "product" creates or updates the product row.
STEPS = ("refs", "product", "texts", "stores", "categories", "attributes", "images", "options", "discounts",
         "specials")
NO_DATE = "0000-00-00"  # what the admin form's empty date field stores (sql_mode without NO_ZERO_DATE)

# Lengths the admin form enforces (3.0/4.0 validate model 1..64, name 1..255, meta_title 1..255).
MODEL_MAX, NAME_MAX = 64, 255


@dataclass
class Text:
    """One language's texts. `description` is HTML as the shop should show it; stored escaped like the form."""

    name: str
    description: str = ""
    tag: str = ""
    meta_title: str = ""  # empty: the name (the admin form requires one)
    meta_description: str = ""
    meta_keyword: str = ""


@dataclass
class Attribute:
    """An attribute by its name per language (found, or created in the draft's attribute group) and its value."""

    names: dict[int, str]  # language_id → attribute name
    values: dict[int, str]  # language_id → the product's text


@dataclass
class PriceRule:
    """A quantity discount (from `quantity` items on) or a special price, per customer group and period; dates
    "YYYY-MM-DD", "" = no limit (as the admin's Discount and Special tabs)."""

    customer_group_id: int
    price: Decimal
    priority: int = 1
    quantity: int = 0  # discounts only
    date_start: str = ""
    date_end: str = ""


@dataclass
class OptionChoice:
    """One value a product offers for its option: the option value, stock, and the price added (negative: taken
    off). On update, None keeps what the product had for that value (a new value: 0 in stock, subtracted)."""

    option_value_id: int
    price: Decimal = Decimal(0)
    quantity: int | None = None
    subtract: bool | None = None


@dataclass
class ProductOption:
    option_id: int
    values: list[OptionChoice]
    required: bool | None = None  # None: as the product had it (a new one: not required, the form's default)


@dataclass
class ProductDraft:
    """What to write. On update, None leaves that part of the product as it is; a list replaces its rows.

    `texts` per language_id; languages of the shop not given get the shop language's (else the first) text, so the
    product has a description row in every language, as the admin form always saves. `images` are paths under the
    shop's image/ directory that already exist there (an upload endpoint put them there); the first is the main
    image. Without one, products are created without images (DESIGN)."""

    model: str
    texts: dict[int, Text]
    price: Decimal | None = None
    quantity: int | None = None
    sku: str | None = None
    ean: str | None = None
    status: bool | None = None
    store_ids: list[int] | None = None
    category_ids: list[int] | None = None
    manufacturer: str | None = None  # name; "" = none
    attributes: list[Attribute] | None = None
    attribute_group: dict[int, str] = field(default_factory=dict)  # language_id → group name for new attributes
    images: list[str] | None = None
    weight: Decimal | None = None  # in the shop's default weight class
    length: Decimal | None = None  # length/width/height in the shop's default length class
    width: Decimal | None = None
    height: Decimal | None = None
    options: list[ProductOption] | None = None  # choice options (select/radio/checkbox/image) with their values
    discounts: list[PriceRule] | None = None
    specials: list[PriceRule] | None = None

    def to_json(self) -> dict:
        out = asdict(self)
        for k in ("price", "weight", "length", "width", "height"):
            out[k] = None if out[k] is None else str(out[k])
        for k in ("discounts", "specials"):
            for rule in out[k] or []:
                rule["price"] = str(rule["price"])
        for opt in out["options"] or []:
            for v in opt["values"]:
                v["price"] = str(v["price"])
        return out

    @classmethod
    def from_json(cls, data: dict) -> ProductDraft:
        d = dict(data)
        d["texts"] = {int(k): Text(**v) for k, v in d["texts"].items()}
        if d.get("attributes") is not None:
            d["attributes"] = [Attribute({int(k): v for k, v in a["names"].items()},
                                         {int(k): v for k, v in a["values"].items()}) for a in d["attributes"]]
        d["attribute_group"] = {int(k): v for k, v in (d.get("attribute_group") or {}).items()}
        for k in ("price", "weight", "length", "width", "height"):
            d[k] = None if d.get(k) is None else Decimal(d[k])
        for k in ("discounts", "specials"):
            if d.get(k) is not None:
                d[k] = [PriceRule(**{**r, "price": Decimal(r["price"])}) for r in d[k]]
        if d.get("options") is not None:
            d["options"] = [ProductOption(o["option_id"], [OptionChoice(**{**v, "price": Decimal(v["price"])})
                                                            for v in o["values"]], o.get("required"))
                            for o in d["options"]]
        return cls(**d)


def check(draft: ProductDraft, *, creating: bool) -> None:
    """Refuse what the admin form refuses, with the reason (nothing written)."""
    def bad(message: str):
        raise TerminalError("opencart-db", "invalid_product", message)

    if not (draft.model or "").strip() or len(draft.model) > MODEL_MAX:
        bad(f"Product model must be 1 to {MODEL_MAX} characters: {draft.model!r}.")
    if creating and not draft.texts:
        bad(f"Product {draft.model!r} has no name.")
    for lang, text in draft.texts.items():
        if not (text.name or "").strip() or len(text.name) > NAME_MAX:
            bad(f"Product {draft.model!r}: the name in language {lang} must be 1 to {NAME_MAX} characters.")
    if draft.price is not None:
        try:
            price = Decimal(str(draft.price))
        except InvalidOperation:
            bad(f"Product {draft.model!r}: price {draft.price!r} is not a number.")
        if not price.is_finite() or price < 0 or price >= Decimal("1e11"):  # DECIMAL(15,4)
            bad(f"Product {draft.model!r}: price {draft.price} is out of range.")
    if draft.quantity is not None and not (-(2 ** 31) < int(draft.quantity) < 2 ** 31):
        bad(f"Product {draft.model!r}: quantity {draft.quantity} is out of range.")
    if creating and draft.price is None:
        bad(f"Product {draft.model!r} has no price.")
    for rule in (draft.discounts or []) + (draft.specials or []):
        if not Decimal(0) <= Decimal(str(rule.price)) < Decimal("1e11"):
            bad(f"Product {draft.model!r}: a discount price {rule.price} is out of range.")
        for day in (rule.date_start, rule.date_end):
            if day:
                try:
                    dt.date.fromisoformat(day)
                except ValueError:
                    bad(f"Product {draft.model!r}: {day!r} is not a date (YYYY-MM-DD).")


# --- helpers the steps share -----------------------------------------------------------------------------------


def _esc(shop: ShopDB, text: str | None) -> str:
    return escape_like_opencart(text or "", utf8mb3=shop.layout in ("2.3", "3.0"))


def languages(conn: sa.Connection, shop: ShopDB) -> list[int]:
    lang = shop.t("language")
    return [r for r in conn.execute(sa.select(lang.c.language_id).order_by(lang.c.sort_order, lang.c.language_id)).scalars()]


def _per_language(given: dict[int, object], languages: list[int], preferred: int | None):
    """Every shop language gets a value: its own, else the preferred language's, else the first given."""
    if not given:
        return {}
    fallback = given.get(preferred) if preferred in given else next(iter(given.values()))
    return {lang: given.get(lang, fallback) for lang in languages}


# --- refs: manufacturer and attributes, found by name or created ------------------------------------------------


def manufacturer_id(conn: sa.Connection, shop: ShopDB, name: str, store_ids: list[int], marks: dict) -> int:
    """The manufacturer called `name` (as the admin list shows it), else a new one offered in `store_ids`."""
    if not name.strip():
        return 0
    m, ms = shop.t("manufacturer"), shop.t("manufacturer_to_store")
    stored = _esc(shop, name.strip())[:64]
    found = marks.get("manufacturer_id") or conn.execute(
        sa.select(m.c.manufacturer_id).where(m.c.name == stored).order_by(m.c.manufacturer_id).limit(1)).scalar()
    if not found:
        found = int(conn.execute(sa.insert(m).values(name=stored, image="", sort_order=0)).inserted_primary_key[0])
        marks["manufacturer_created"] = found
    marks["manufacturer_id"] = int(found)
    if marks.get("manufacturer_created") == found:
        conn.execute(sa.delete(ms).where(ms.c.manufacturer_id == found))
        conn.execute(sa.insert(ms), [{"manufacturer_id": found, "store_id": s} for s in store_ids or [0]])
    return int(found)


def attribute_ids(conn: sa.Connection, shop: ShopDB, attributes: list[Attribute], group: dict[int, str],
                  languages: list[int], preferred: int | None, marks: dict) -> list[int]:
    """One attribute_id per Attribute: an attribute with that name in one of its languages, else a new one in
    the group named `group` (found by name, else created), named in every shop language."""
    a, ad = shop.t("attribute"), shop.t("attribute_description")
    made = marks.setdefault("attributes", {})
    out = []
    for attr in attributes:
        names = {lang: _esc(shop, n.strip())[:64] for lang, n in attr.names.items() if n and n.strip()}
        label = next(iter(names.values()), "")
        if not label:
            raise TerminalError("opencart-db", "invalid_product", "An attribute has no name.")
        found = made.get(label) or conn.execute(
            sa.select(ad.c.attribute_id).where(sa.or_(*[sa.and_(ad.c.language_id == lang, ad.c.name == n)
                                                        for lang, n in names.items()]))
            .order_by(ad.c.attribute_id).limit(1)).scalar()
        if not found:
            group_id = _attribute_group(conn, shop, group or {lang: "Marketplace" for lang in languages},
                                        languages, preferred, marks)
            found = int(conn.execute(sa.insert(a).values(attribute_group_id=group_id, sort_order=0))
                        .inserted_primary_key[0])
            made[label] = found
        if made.get(label) == found:  # ours: (re)write its names, so a resumed step leaves no nameless attribute
            conn.execute(sa.delete(ad).where(ad.c.attribute_id == found))
            conn.execute(sa.insert(ad), [{"attribute_id": found, "language_id": lang, "name": n}
                                         for lang, n in _per_language(names, languages, preferred).items()])
        out.append(int(found))
    return out


def _attribute_group(conn, shop: ShopDB, group: dict[int, str], languages: list[int], preferred, marks) -> int:
    g, gd = shop.t("attribute_group"), shop.t("attribute_group_description")
    names = {lang: _esc(shop, n.strip())[:64] for lang, n in group.items() if n and n.strip()}
    found = marks.get("attribute_group_id") or conn.execute(
        sa.select(gd.c.attribute_group_id).where(sa.or_(*[sa.and_(gd.c.language_id == lang, gd.c.name == n)
                                                          for lang, n in names.items()]))
        .order_by(gd.c.attribute_group_id).limit(1)).scalar()
    if not found:
        found = int(conn.execute(sa.insert(g).values(sort_order=0)).inserted_primary_key[0])
        marks["attribute_group_created"] = found
    marks["attribute_group_id"] = int(found)
    if marks.get("attribute_group_created") == found:
        conn.execute(sa.delete(gd).where(gd.c.attribute_group_id == found))
        conn.execute(sa.insert(gd), [{"attribute_group_id": found, "language_id": lang, "name": n}
                                     for lang, n in _per_language(names, languages, preferred).items()])
    return int(found)


# --- the product row ---------------------------------------------------------------------------------------------


def product_columns(shop: ShopDB, draft: ProductDraft, marks: dict) -> dict:
    """The product columns the draft sets (None fields left out)."""
    cols: dict = {"model": _esc(shop, draft.model.strip())}
    if draft.sku is not None:
        cols["sku"] = _esc(shop, draft.sku)[:64]
    if draft.ean is not None:
        cols["ean"] = _esc(shop, draft.ean)[:14]
    if draft.price is not None:
        cols["price"] = Decimal(str(draft.price)).quantize(Decimal("0.0001"))
    if draft.quantity is not None:
        cols["quantity"] = int(draft.quantity)
    if draft.status is not None:
        cols["status"] = int(bool(draft.status))
    for name in ("weight", "length", "width", "height"):
        value = getattr(draft, name)
        if value is not None:
            cols[name] = Decimal(str(value))
    if draft.manufacturer is not None:
        cols["manufacturer_id"] = int(marks.get("manufacturer_id") or 0)
    if draft.images is not None:
        cols["image"] = _esc(shop, draft.images[0]) if draft.images else ""
    return cols


def new_product_row(shop: ShopDB, draft: ProductDraft, marks: dict, settings, now) -> dict:
    """A new product as the admin's form leaves it when only the draft's fields are filled in: quantity 1,
    minimum 1, subtract stock, requires shipping, available today, the shop's default stock status and units."""
    row = {"model": "", "sku": "", "upc": "", "ean": "", "jan": "", "isbn": "", "mpn": "", "location": "",
           "quantity": 1, "minimum": 1, "subtract": 1, "stock_status_id": settings.number("config_stock_status_id"),
           "date_available": now.date() if isinstance(now, dt.datetime) else sa.func.curdate(), "manufacturer_id": 0, "shipping": 1,
           "price": Decimal(0), "points": 0, "weight": Decimal(0), "length": Decimal(0), "width": Decimal(0),
           "height": Decimal(0), "weight_class_id": settings.number("config_weight_class_id"),
           "length_class_id": settings.number("config_length_class_id"), "status": 1, "tax_class_id": 0,
           "sort_order": 0, "image": "", "date_added": now, "date_modified": now}
    if "master_id" in shop.t("product").c:
        row.update(master_id=0, variant="", override="", rating=0)
    return {**row, **product_columns(shop, draft, marks)}


def find_created(conn: sa.Connection, shop: ShopDB, model: str, floor: int) -> int | None:
    """The product an interrupted create made: our model, above the highest id seen when the write began."""
    p = shop.t("product")
    return conn.execute(sa.select(p.c.product_id).where(p.c.product_id > floor, p.c.model == _esc(shop, model.strip()))
                        .order_by(p.c.product_id).limit(1)).scalar()


def max_product_id(conn: sa.Connection, shop: ShopDB) -> int:
    p = shop.t("product")
    return int(conn.execute(sa.select(sa.func.max(p.c.product_id))).scalar() or 0)


# --- the product's own rows ------------------------------------------------------------------------------------


def write_texts(conn, shop: ShopDB, product_id: int, draft: ProductDraft, languages: list[int], preferred) -> None:
    """product_description: the given languages replaced; on create every shop language gets a row."""
    pd = shop.t("product_description")
    have = set(conn.execute(sa.select(pd.c.language_id).where(pd.c.product_id == product_id)).scalars())
    texts = _per_language(draft.texts, languages, preferred)
    wanted = {lang: t for lang, t in texts.items() if lang in draft.texts or lang not in have}
    if not wanted:
        return
    conn.execute(sa.delete(pd).where(pd.c.product_id == product_id, pd.c.language_id.in_(list(wanted))))
    conn.execute(sa.insert(pd), [{
        "product_id": product_id, "language_id": lang, "name": _esc(shop, t.name.strip()),
        "description": _esc(shop, t.description), "tag": _esc(shop, t.tag),
        "meta_title": _esc(shop, (t.meta_title or t.name).strip())[:255],
        "meta_description": _esc(shop, t.meta_description)[:255], "meta_keyword": _esc(shop, t.meta_keyword)[:255],
    } for lang, t in wanted.items()])


def replace_rows(conn, table: sa.Table, product_id: int, rows: list[dict]) -> None:
    conn.execute(sa.delete(table).where(table.c.product_id == product_id))
    if rows:
        conn.execute(sa.insert(table), [{"product_id": product_id, **r} for r in rows])


def write_attributes(conn, shop: ShopDB, product_id: int, draft: ProductDraft, ids: list[int], languages, preferred):
    rows = []
    for attr_id, attr in zip(ids, draft.attributes or []):
        values = {lang: v for lang, v in attr.values.items() if v is not None and str(v).strip()}
        rows += [{"attribute_id": attr_id, "language_id": lang, "text": _esc(shop, str(v))}
                 for lang, v in _per_language(values, languages, preferred).items()]
    seen, unique = set(), []
    for r in rows:  # two Attributes found as the same attribute: the first wins (the admin removes duplicates)
        if (r["attribute_id"], r["language_id"]) not in seen:
            seen.add((r["attribute_id"], r["language_id"]))
            unique.append(r)
    replace_rows(conn, shop.t("product_attribute"), product_id, unique)


def run_step(conn: sa.Connection, shop: ShopDB, step: str, product_id: int, draft: ProductDraft, marks: dict,
             languages: list[int], preferred) -> None:
    """One step after the product row (each replaces the product's rows of its kind)."""
    if step == "texts":
        write_texts(conn, shop, product_id, draft, languages, preferred)
    elif step == "stores" and draft.store_ids is not None:
        replace_rows(conn, shop.t("product_to_store"), product_id,
                     [{"store_id": int(s)} for s in dict.fromkeys(draft.store_ids)])
    elif step == "categories" and draft.category_ids is not None:
        replace_rows(conn, shop.t("product_to_category"), product_id,
                     [{"category_id": int(c)} for c in dict.fromkeys(draft.category_ids)])
    elif step == "attributes" and draft.attributes is not None:
        write_attributes(conn, shop, product_id, draft, marks.get("attribute_ids", []), languages, preferred)
    elif step == "images" and draft.images is not None:
        replace_rows(conn, shop.t("product_image"), product_id,
                     [{"image": _esc(shop, path), "sort_order": i} for i, path in enumerate(draft.images[1:])])
    elif step == "options" and draft.options is not None:
        write_options(conn, shop, product_id, draft, marks["option_ids"])
    elif step == "discounts" and draft.discounts is not None:
        replace_rows(conn, shop.t("product_discount"), product_id, price_rows(draft.discounts, quantity=True))
    elif step == "specials" and draft.specials is not None:
        replace_rows(conn, shop.t("product_special"), product_id, price_rows(draft.specials, quantity=False))


def option_ids(conn: sa.Connection, shop: ShopDB, product_id: int) -> dict:
    """The ids the product's option rows have now: {"po": {option_id: product_option_id}, "pov": {"<option_id>:
    <option_value_id>": product_option_value_id}, "kept": {"<product_option_value_id>": [quantity, subtract]},
    "required": {option_id: required}} (kept in the journal before the step replaces them)."""
    po, pov = shop.t("product_option"), shop.t("product_option_value")
    out: dict = {"po": {}, "pov": {}, "kept": {}, "required": {}}
    for r in conn.execute(sa.select(po.c.product_option_id, po.c.option_id, po.c.required)
                          .where(po.c.product_id == product_id)):
        out["po"][str(r.option_id)] = r.product_option_id
        out["required"][str(r.option_id)] = r.required
    for r in conn.execute(sa.select(pov.c.product_option_value_id, pov.c.option_id, pov.c.option_value_id,
                                    pov.c.quantity, pov.c.subtract).where(pov.c.product_id == product_id)):
        out["pov"][f"{r.option_id}:{r.option_value_id}"] = r.product_option_value_id
        out["kept"][str(r.product_option_value_id)] = [r.quantity, r.subtract]
    return out


def write_options(conn, shop: ShopDB, product_id: int, draft: ProductDraft, ids: dict) -> None:
    """editProduct's option rows: the product's options and values replaced, each under the id it had (`ids`
    from option_ids, read before the first attempt), new ones under new ids."""
    po, pov = shop.t("product_option"), shop.t("product_option_value")
    conn.execute(sa.delete(po).where(po.c.product_id == product_id))
    conn.execute(sa.delete(pov).where(pov.c.product_id == product_id))
    for opt in draft.options or []:
        if not opt.values:
            continue  # the admin form saves a choice option only with values
        row = {"product_id": product_id, "option_id": int(opt.option_id), "value": "",
               "required": int(opt.required if opt.required is not None else ids["required"].get(str(opt.option_id), 0))}
        if str(opt.option_id) in ids["po"]:
            row["product_option_id"] = int(ids["po"][str(opt.option_id)])
        po_id = int(conn.execute(sa.insert(po).values(**row)).inserted_primary_key[0])
        for v in opt.values:
            old = ids["pov"].get(f"{opt.option_id}:{v.option_value_id}")
            quantity, subtract = ids["kept"].get(str(old), [0, 1]) if old else [0, 1]
            price = Decimal(str(v.price))
            conn.execute(sa.insert(pov).values(
                **({"product_option_value_id": int(old)} if old else {}), product_option_id=po_id,
                product_id=product_id, option_id=int(opt.option_id), option_value_id=int(v.option_value_id),
                quantity=int(v.quantity if v.quantity is not None else quantity),
                subtract=int(v.subtract if v.subtract is not None else subtract),
                price=abs(price).quantize(Decimal("0.0001")), price_prefix="-" if price < 0 else "+", points=0,
                points_prefix="+", weight=Decimal(0), weight_prefix="+"))


def price_rows(rules: list[PriceRule], *, quantity: bool) -> list[dict]:
    return [{"customer_group_id": int(r.customer_group_id), "priority": int(r.priority),
             "price": Decimal(str(r.price)).quantize(Decimal("0.0001")), "date_start": r.date_start or NO_DATE,
             "date_end": r.date_end or NO_DATE, **({"quantity": int(r.quantity)} if quantity else {})}
            for r in rules]


def read_back(conn: sa.Connection, shop: ShopDB, product_id: int) -> dict:
    """The product's written content as plain values (tests and content hashes compare these)."""
    p, pd = shop.t("product"), shop.t("product_description")
    row = conn.execute(sa.select(p).where(p.c.product_id == product_id)).first()
    if row is None:
        return {}
    m = row._mapping
    return {"model": unescape(m["model"]), "sku": unescape(m["sku"]), "price": str(m["price"]),
            "quantity": m["quantity"], "status": m["status"], "manufacturer_id": m["manufacturer_id"],
            "image": m["image"] or "",
            "names": {r.language_id: unescape(r.name) for r in conn.execute(
                sa.select(pd.c.language_id, pd.c.name).where(pd.c.product_id == product_id))}}
