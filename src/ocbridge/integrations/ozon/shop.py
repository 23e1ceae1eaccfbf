"""The shop side of the Ozon sync: one thin place that calls `ocbridge.opencart` for the Store.

Jobs call these; tests point a Store at a throwaway MariaDB shop. The shop handle (engine, detected
version, tables) is the shared adapter's (`opencart.shop_db`); the SQL lives in `ocbridge.opencart`
(catalog.py reads the catalogue, order_create.py writes orders); the order history reaches jobs.on_history
through the shared feed (opencart.feed), never read here.
"""

from __future__ import annotations

import datetime as dt

from ocbridge import opencart
from ocbridge.integrations.ozon.config import OzonConfig
from ocbridge.opencart import catalog, order_create, shop_time, statuses


def _today(db, store) -> dt.date:
    """The shop's date, as its storefront compares a special's date_start/date_end with NOW(): in its database
    session's zone (opencart.shop_time, per version), not the Store's. Cached per shop."""
    return shop_time.shop_now(db, store.oc_store_id).date()


def catalog_rows(store, cfg: OzonConfig) -> list[dict]:
    db = opencart.shop_db(store)
    return catalog.feed_rows(db, store_id=store.oc_store_id, language_id=cfg.language_id,
                             customer_group_id=cfg.customer_group_id, today=_today(db, store))


def stock_rows(store, cfg: OzonConfig) -> list[dict]:
    return catalog.stock_rows(opencart.shop_db(store), store_id=store.oc_store_id)


def price_rows(store, cfg: OzonConfig) -> list[dict]:
    db = opencart.shop_db(store)
    return catalog.price_rows(db, store_id=store.oc_store_id, customer_group_id=cfg.customer_group_id,
                              today=_today(db, store))


def products_by_offer(store, cfg: OzonConfig, offer_ids: list[str]) -> dict[str, dict]:
    """Match offers we never bound (e.g. cards created in Ozon's cabinet) by model, prefix stripped."""
    if cfg.offer_id_rule != "model":
        return {}
    prefix = cfg.offer_id_prefix
    models = {o[len(prefix):]: o for o in offer_ids if o.startswith(prefix)}
    found = catalog.products_by_model(opencart.shop_db(store), list(models))
    return {models[model]: row for model, row in found.items()}


def default_currency(store) -> str:
    return statuses.read_settings(opencart.shop_db(store), store.oc_store_id).currency or store.currency


def max_order_id(store) -> int:
    db = opencart.shop_db(store)
    with db.engine.connect() as conn:
        return order_create.max_order_id(conn, db)


def _order_key(store, ref: str) -> str:
    return f"ozon:order:{store.pk}:{ref}"


def find_order(store, *, ref: str, after_order_id: int) -> int | None:
    """The finished order of a posting. An unfinished one (a crash mid-creation) is None: create_order's retry
    finishes it. Orders made before writes were journaled are found by their comment."""
    from ocbridge.opencart import writes

    done = writes.created_order(store, _order_key(store, ref))
    if done is not False:
        return done
    db = opencart.shop_db(store)
    with db.engine.connect() as conn:
        return order_create.find_order_by_comment(conn, db, ref, after_order_id)


def create_order(store, draft: dict) -> int:
    """The order of one posting, through the journaled write (opencart.writes.create_order): keyed by the posting
    reference in its comment, so a retry after a crash finishes the same order instead of making a second."""
    from ocbridge.opencart import writes

    return writes.create_order(store, draft, key=_order_key(store, draft.get("comment", "")))


def order_status(store, order_id: int) -> int | None:
    return opencart.order_status(store, order_id)


def set_order_status(store, order_id: int, status_id: int, *, comment: str = "", key: str = "") -> bool:
    """Move the order to `status_id` through the shared write path (native API or compare-and-set + stock rule)."""
    current = opencart.order_status(store, order_id)
    if current is None or current == status_id:
        return current == status_id
    return opencart.write_history(store, order_id, expected=current, new=status_id, comment=comment, key=key).written


def set_product_price(store, product_id: int, *, expected, new, key: str):
    """A product's base price, through the shop's one journaled write API (compare-and-set, once per key)."""
    from ocbridge.opencart import writes

    return writes.set_product_price(store, product_id, expected=expected, new=new, key=key)


def product_identities(store) -> list[dict]:
    return catalog.identities(opencart.shop_db(store))


def default_units(store) -> tuple[str, str]:
    return catalog.default_units(opencart.shop_db(store), store.oc_store_id)


def import_language(store, cfg: OzonConfig) -> int:
    """The shop language Ozon's (Russian) texts go to: the shop's Russian, else the language cards are sent in."""
    langs = statuses.languages(opencart.shop_db(store))
    return next((i for i, code in langs.items() if code.lower().startswith("ru")), cfg.language_id)


def upsert_product(store, draft, *, key: str):
    """Create or update a product through the shop's one journaled write API (opencart.writes.upsert_product)."""
    from ocbridge.opencart import writes

    return writes.upsert_product(store, draft, key=key)


def set_stock(store, quantities: dict[int, int], *, key: str) -> int:
    """Products' quantities through the shop's one journaled write API (Ozon is the store's stock source)."""
    from ocbridge.opencart import writes

    return writes.set_stock(store, quantities, key=key)
