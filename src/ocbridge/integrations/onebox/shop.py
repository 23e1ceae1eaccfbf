"""The shop side of the OneBox integration: one thin place that calls `ocbridge.opencart` for the Store.

Reads orders, customers and the catalogue; writes only through the one journaled write API (status changes as
history entries: native API or compare-and-set with the stock rule). The order history itself is handed to
jobs.on_history by the shared order feed (opencart.feed).
"""

from __future__ import annotations

from datetime import datetime, timezone

import sqlalchemy as sa

from ocbridge import opencart
from ocbridge.core.errors import TerminalError
from ocbridge.opencart import catalog, fulfilment, shop_time, statuses
from ocbridge.opencart import customers as oc_customers
from ocbridge.opencart import orders as oc_orders


def db(store):
    return opencart.shop_db(store)


def order_status(store, order_id: int) -> int | None:
    return opencart.order_status(store, order_id)


def orders(store, order_ids: list[int]) -> dict[int, fulfilment.FulfilmentOrder]:
    """Orders with lines, totals, addresses and methods, by primary key."""
    return fulfilment.read_fulfilment_orders(db(store), list(order_ids))


def order_ids_after(store, after: int, limit: int) -> list[int]:
    """The store's orders past checkout (status > 0) after `after`, by primary key (the whole-history load)."""
    shop = db(store)
    o = shop.t("order")
    with shop.engine.connect() as conn:
        return [r.order_id for r in conn.execute(
            sa.select(o.c.order_id).where(o.c.order_id > after, o.c.store_id == store.oc_store_id,
                                          o.c.order_status_id > 0).order_by(o.c.order_id).limit(limit))]


def order_count(store) -> int:
    shop = db(store)
    o = shop.t("order")
    with shop.engine.connect() as conn:
        return int(conn.scalar(sa.select(sa.func.count()).select_from(o).where(
            o.c.store_id == store.oc_store_id, o.c.order_status_id > 0)) or 0)


def customers_after(store, after: int, limit: int) -> list[dict]:
    """Customers by primary key: id, group, names, e-mail, telephone (the whole-history load of contacts)."""
    shop = db(store)
    c = shop.t("customer")
    with shop.engine.connect() as conn:
        return [{"customer_id": r.customer_id, "customer_group_id": r.customer_group_id,
                 "firstname": oc_orders.unescape(r.firstname), "lastname": oc_orders.unescape(r.lastname),
                 "email": oc_orders.unescape(r.email), "telephone": oc_orders.unescape(r.telephone)}
                for r in conn.execute(sa.select(c.c.customer_id, c.c.customer_group_id, c.c.firstname, c.c.lastname,
                                                c.c.email, c.c.telephone)
                                      .where(c.c.customer_id > after, c.c.store_id == store.oc_store_id)
                                      .order_by(c.c.customer_id).limit(limit))]


def customer_count(store) -> int:
    shop = db(store)
    c = shop.t("customer")
    with shop.engine.connect() as conn:
        return int(conn.scalar(sa.select(sa.func.count()).select_from(c).where(c.c.store_id == store.oc_store_id)) or 0)


def status_names(store) -> dict[int, str]:
    return statuses.for_store(store) or {}


def languages(store) -> dict[int, str]:
    return statuses.languages(db(store))


def products(store, *, after: int = 0, limit: int = 500, product_ids: list[int] | None = None):
    return catalog.read_products(db(store), product_ids=product_ids, after_id=after, limit=limit)


def product_options(store, product_ids: list[int]) -> dict[int, list[dict]]:
    return catalog.product_options(db(store), product_ids)


def categories(store) -> list[dict]:
    return catalog.read_categories(db(store))


def manufacturers(store) -> list[dict]:
    return catalog.read_manufacturers(db(store))


def mail_goes(store) -> bool:
    """A customer e-mail really goes only when OpenCart itself writes the history (native API path)."""
    return bool(store.api_url and store.api_key and db(store).version.api_supported)


def set_status(store, order_id: int, status_id: int, *, expected: int, comment: str, notify: bool, key: str):
    """Status + history entry through the shared journaled write path, once per key; the write refuses when the
    order moved on from `expected` since we read it (state "moved")."""
    if opencart.order_status(store, order_id) is None:
        raise TerminalError("opencart", "unknown_order", f"Order {order_id} does not exist.")
    return opencart.write_history(store, order_id, expected=expected, new=status_id, comment=comment,
                                  notify=notify, key=key)


def product_count(store) -> int:
    shop = db(store)
    p = shop.t("product")
    with shop.engine.connect() as conn:
        return int(conn.scalar(sa.select(sa.func.count()).select_from(p)) or 0)


def upsert_product(store, draft, *, key: str, product_id: int | None = None):
    """A product created or updated the way the shop's admin saves it, through the one journaled write API."""
    from ocbridge.opencart import writes

    return writes.upsert_product(store, draft, key=key, product_id=product_id)


def product_fingerprints(store, *, after: int, limit: int) -> list[tuple[int, str]]:
    return catalog.product_fingerprints(db(store), after=after, limit=limit)


def option_names_fingerprint(store) -> str:
    return catalog.option_names_fingerprint(db(store))


def product_specials(store, product_ids: list[int]) -> dict[int, list[dict]]:
    return catalog.product_specials(db(store), product_ids)


def product_discounts(store, product_ids: list[int]) -> dict[int, list[dict]]:
    return catalog.product_discounts(db(store), product_ids)


def product_filters(store, product_ids: list[int]) -> dict[int, list[dict]]:
    return catalog.product_filters(db(store), product_ids)


def history_of(store, order_ids: list[int]) -> dict[int, list[oc_orders.HistoryEvent]]:
    """order_history rows of these orders, oldest first (the whole-history load appends them to OneBox)."""
    if not order_ids:
        return {}
    shop = db(store)
    h = shop.t("order_history")
    out: dict[int, list] = {}
    with shop.engine.connect() as conn:
        for r in conn.execute(sa.select(h).where(h.c.order_id.in_(list(order_ids))).order_by(h.c.order_history_id)):
            out.setdefault(r.order_id, []).append(oc_orders.HistoryEvent(
                order_history_id=r.order_history_id, order_id=r.order_id, order_status_id=r.order_status_id,
                notify=bool(r.notify), comment=oc_orders.unescape(r.comment), date_added=r.date_added,
                store_id=store.oc_store_id))
    return out


def customers(store, customer_ids: list[int]) -> dict[int, dict]:
    return oc_customers.by_ids(db(store), customer_ids)


def customer_id_by_email(store, email: str) -> int | None:
    return oc_customers.id_by_email(db(store), email)


def customer_groups(store) -> dict[int, str]:
    """customer_group_id → its name in the store's language (the settings' pickers)."""
    shop = db(store)
    code = statuses.read_settings(shop, store.oc_store_id).language_code
    lang = next((i for i, c in statuses.languages(shop).items() if c == code), None)
    return oc_customers.groups(shop, lang)


def customer_group_names(store, customer_group_id: int) -> dict[int, str]:
    return oc_customers.group_names(db(store), customer_group_id)


def default_customer_group(store) -> int:
    return oc_customers.default_group(db(store), store.oc_store_id)


def upsert_customer(store, fields: dict, *, customer_group_id: int, key: str, customer_id: int | None = None):
    """A customer created or updated the way the shop's admin saves it (never a password), journaled."""
    from ocbridge.opencart import writes

    return writes.upsert_customer(store, fields, customer_group_id=customer_group_id, key=key,
                                  customer_id=customer_id)


def upsert_customer_group(store, names: dict[int, str], *, key: str, customer_group_id: int | None = None):
    """A customer group created or renamed the way the shop's admin saves it, journaled."""
    from ocbridge.opencart import writes

    return writes.upsert_customer_group(store, names, key=key, customer_group_id=customer_group_id)


def begun_write(key: str) -> dict | None:
    """The request of a shop write already journaled under `key` (a run that crashed resumes it as it was asked)."""
    from ocbridge.opencart.models import ShopWrite

    return ShopWrite.objects.filter(key=key).values_list("request", flat=True).first()


def category_modified(store, category_id: int) -> datetime | None:
    """When the shop last changed the category, as an aware UTC time, or None. Its date_modified is the admin's NOW():
    a wall time in the zone of store 0's database session (opencart.shop_time, per version), not the Store's."""
    shop = db(store)
    c = shop.t("category")
    with shop.engine.connect() as conn:
        value = conn.scalar(sa.select(c.c.date_modified).where(c.c.category_id == int(category_id)))
    if not isinstance(value, datetime):  # MySQL's zero date comes back as text
        return None
    return value.replace(tzinfo=shop_time.write_zone(shop, 0)).astimezone(timezone.utc)


def upsert_category(store, draft, *, key: str, category_id: int | None = None):
    """A category created or updated the way the shop's admin saves it, through the one journaled write API."""
    from ocbridge.opencart import writes

    return writes.upsert_category(store, draft, key=key, category_id=category_id)


def upsert_manufacturer(store, name: str, *, key: str, manufacturer_id: int | None = None):
    from ocbridge.opencart import writes

    return writes.upsert_manufacturer(store, name, key=key, manufacturer_id=manufacturer_id)


def options(store, option_ids: list[int] | None = None) -> dict[int, dict]:
    """option_id → {type, sort_order, names{language_id}, values{option_value_id: names{language_id}}}."""
    from ocbridge.opencart import option_model

    shop = db(store)
    with shop.engine.connect() as conn:
        return option_model.read_options(conn, shop, option_ids)


def upsert_option(store, draft, *, key: str, option_id: int | None = None):
    from ocbridge.opencart import writes

    return writes.upsert_option(store, draft, key=key, option_id=option_id)
