"""The rows of an order created in OpenCart the way its checkout leaves them (marketplace channels such as Ozon).

DESIGN "Creating orders in OpenCart": order, order_product and order_total rows as `catalog/model/checkout/
order.php` addOrder writes them (opencart.md §1.3–1.4), text HTML-escaped as OpenCart's request filter stores
it (its admin prints it unescaped: raw text would be a stored XSS there), payment method named after the
channel. The journaled write (opencart.writes.create_order) inserts them at status 0 (checkout's "missing
order") and then moves the order to its first status through the status write (history, stock rule, totals),
so a crash leaves an order nobody sees in admin lists, finished by the retry. No events fire and no e-mail is
sent on this path.
"""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal

from sqlalchemy import Connection, and_, func, select

from ocbridge.opencart.db import ShopDB
from ocbridge.opencart.history import escape_like_opencart
from ocbridge.opencart.reference import complete_row


def _json_methods(db: ShopDB) -> bool:
    """4.0.2+ stores payment/shipping methods as JSON and has no *_code columns (opencart.md §1.7)."""
    return "payment_code" not in db.t("order").c


def store_row(conn: Connection, db: ShopDB, settings, *, store_name: str = "", store_url: str = "") -> dict:
    """The `store` argument of `create_order` from the shop's settings (`statuses.read_settings`) and tables."""
    cur, lang, st = db.t("currency"), db.t("language"), db.t("setting")
    # Two keys read_settings does not carry; store 0 first, the store's own rows on top (OpenCart's cascade).
    raw = dict(conn.execute(select(st.c.key, st.c.value).where(
        st.c.store_id.in_({0, settings.store_id}), st.c.key.in_(("config_invoice_prefix", "config_customer_group_id")))
        .order_by(st.c.store_id)).all())
    cur_row = conn.execute(select(cur.c.currency_id, cur.c.value).where(cur.c.code == settings.currency)).first()
    lang_row = conn.execute(select(lang.c.language_id, lang.c.code).where(lang.c.code == settings.language_code)).first()
    group = str(raw.get("config_customer_group_id") or "1")
    return {"store_id": settings.store_id, "store_name": settings.name or store_name, "store_url": store_url,
            "invoice_prefix": str(raw.get("config_invoice_prefix") or ""),
            "customer_group_id": int(group) if group.isdigit() else 1,
            "currency_id": cur_row.currency_id if cur_row else 0, "currency_value": cur_row.value if cur_row else 1,
            "language_id": lang_row.language_id if lang_row else 1, "language_code": lang_row.code if lang_row else ""}


def latest_history_id(conn: Connection, db: ShopDB) -> int:
    """The newest order_history row (a primary-key MAX): where a status-change watermark starts."""
    h = db.t("order_history")
    return int(conn.execute(select(func.max(h.c.order_history_id))).scalar() or 0)


def max_order_id(conn: Connection, db: ShopDB) -> int:
    o = db.t("order")
    return int(conn.execute(select(func.max(o.c.order_id))).scalar() or 0)


def find_order_by_comment(conn: Connection, db: ShopDB, comment: str, after_order_id: int, *,
                          finished: bool = True) -> int | None:
    """An order we created (crash recovery): primary-key range scan from `after_order_id`, never the whole table.
    `finished`: only one that reached its first status — a half-made one (status 0) is finished by the retry of
    its journaled write (opencart.writes.create_order), never taken as imported."""
    o = db.t("order")
    where = [o.c.order_id > after_order_id, o.c.comment == _escaped(db, comment)]
    if finished:
        where.append(o.c.order_status_id > 0)
    return conn.execute(select(o.c.order_id).where(and_(*where)).order_by(o.c.order_id).limit(1)).scalar()


def _escaped(db: ShopDB, text) -> str:
    """Text as OpenCart's request filter stores it (htmlspecialchars; no 4-byte characters in 2.3/3.0 tables)."""
    return escape_like_opencart(str(text or ""), utf8mb3=db.layout in ("2.3", "3.0"))


def find_country(conn: Connection, db: ShopDB, iso: str) -> dict | None:
    """The shop's country with ISO code `iso` ({country_id, name}), or None (a fulfilment service needs the id)."""
    if not iso:
        return None
    c = db.t("country")
    row = conn.execute(select(c.c.country_id, c.c.name).where(c.c.iso_code_2 == iso.upper()).limit(1)).first()
    return {"country_id": row.country_id, "name": row.name} if row else None


def order_row(db: ShopDB, draft: dict, *, now: dt.datetime, store: dict, country: dict | None = None) -> dict:
    """The `order` row of a channel draft, at status 0 (checkout's "missing order") and text escaped.

    draft: firstname, lastname, email, telephone, address_1, city, postcode, country, payment_method,
    payment_code, shipping_method, shipping_code, comment, lines [{product_id, name, model, quantity, price,
    total}], subtotal, total, currency_code, order_status_id.
    store: store_id, store_name, store_url, language_id, language_code, currency_id, currency_value,
    customer_group_id, invoice_prefix. country: the shop's country of the draft's `country_iso` (find_country),
    whose id and name the address gets, as checkout's country select gives them.
    """
    o = db.t("order")
    e = lambda key: _escaped(db, draft.get(key, ""))  # noqa: E731 - one line per field below
    address = {"firstname": e("firstname"), "lastname": e("lastname"), "company": "", "address_1": e("address_1"),
               "address_2": "", "city": e("city"), "postcode": e("postcode"),
               "country": country["name"] if country else e("country"),
               "country_id": country["country_id"] if country else 0, "zone": "", "zone_id": 0, "address_format": "",
               "custom_field": "[]"}
    row = {
        "invoice_no": 0, "invoice_prefix": store.get("invoice_prefix", ""), "store_id": store.get("store_id", 0),
        "store_name": store.get("store_name", ""), "store_url": store.get("store_url", ""),
        "customer_id": 0, "customer_group_id": store.get("customer_group_id", 1),  # guest, as checkout does
        "firstname": e("firstname"), "lastname": e("lastname"), "email": e("email"), "telephone": e("telephone"),
        "fax": "", "custom_field": "[]",
        **{f"payment_{k}": v for k, v in address.items()}, **{f"shipping_{k}": v for k, v in address.items()},
        "comment": e("comment"), "total": Decimal(str(draft["total"])), "order_status_id": 0,
        "affiliate_id": 0, "commission": Decimal("0"), "marketing_id": 0, "tracking": "",
        "language_id": store.get("language_id", 1), "language_code": store.get("language_code", ""),
        "currency_id": store.get("currency_id", 0), "currency_code": draft.get("currency_code", ""),
        "currency_value": Decimal(str(store.get("currency_value", 1))), "ip": "", "forwarded_ip": "",
        "user_agent": "ocbridge", "accept_language": "", "date_added": now, "date_modified": now,
        "payment_address_id": 0, "shipping_address_id": 0, "subscription_id": 0, "transaction_id": "",
    }
    if _json_methods(db):
        code = draft["payment_code"]
        row["payment_method"] = json.dumps({"name": e("payment_method"), "code": f"{code}.{code}"})
        row["shipping_method"] = json.dumps({"name": e("shipping_method"), "code": draft["shipping_code"]})
    else:
        row.update(payment_method=e("payment_method"), payment_code=draft["payment_code"],
                   shipping_method=e("shipping_method"), shipping_code=draft["shipping_code"])
    return _fit(o, complete_row(o, row))


def _fit(table, row: dict) -> dict:
    """Cut text to its column's length as MySQL would, but never inside an HTML entity (`&amp;` half-cut would
    print as garbage in the admin)."""
    for name, value in row.items():
        length = getattr(table.c[name].type, "length", None)
        if isinstance(value, str) and length and len(value) > length:
            cut = value[:length]
            amp = cut.rfind("&")
            if amp >= 0 and ";" not in cut[amp:]:
                cut = cut[:amp]
            row[name] = cut
    return row


def line_rows(conn: Connection, db: ShopDB, draft: dict, order_id: int) -> list[dict]:
    """`order_product` rows of the draft, in draft order; 4.0 variants carry their master product (stock rule)."""
    op, p = db.t("order_product"), db.t("product")
    masters: dict[int, int] = {}
    wanted = [int(ln["product_id"]) for ln in draft["lines"] if ln["product_id"]]
    if "master_id" in p.c and wanted:
        masters = dict(conn.execute(select(p.c.product_id, p.c.master_id).where(p.c.product_id.in_(wanted))).all())
    return [_fit(op, complete_row(op, {
        "order_id": order_id, "product_id": line["product_id"], "master_id": int(masters.get(int(line["product_id"] or 0)) or 0),
        "name": _escaped(db, line["name"]), "model": _escaped(db, line["model"]), "quantity": line["quantity"],
        "price": Decimal(str(line["price"])), "total": Decimal(str(line["total"])), "tax": Decimal("0"), "reward": 0}))
        for line in draft["lines"]]


def total_rows(db: ShopDB, draft: dict, order_id: int) -> list[dict]:
    ot = db.t("order_total")
    return [complete_row(ot, {"order_id": order_id, "extension": "opencart", "code": code, "title": title,
                              "value": Decimal(str(value)), "sort_order": sort})
            for code, title, value, sort in (("sub_total", "Sub-Total", draft["subtotal"], 1),
                                             ("total", "Total", draft["total"], 9))]
