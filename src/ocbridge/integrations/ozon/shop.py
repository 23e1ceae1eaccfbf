"""The shop side of the Ozon sync: one thin place that opens the Store's database and calls `opencart`.

Jobs call these; tests point a Store at a throwaway MariaDB (or SQLite) shop. The SQL itself lives in
`ocbridge.opencart` (feed.py reads the catalogue, order_create.py writes orders and statuses).
"""

from __future__ import annotations

import datetime as dt
import threading
from zoneinfo import ZoneInfo

from sqlalchemy import create_engine, select

from ocbridge.core import clock
from ocbridge.core.errors import ConfigurationError
from ocbridge.integrations.ozon.config import OzonConfig
from ocbridge.opencart import feed, order_create
from ocbridge.opencart.layouts import metadata_for

_lock = threading.Lock()
_engines: dict[tuple, object] = {}


def engine_and_metadata(store):
    """A pooled engine and the table layout for the Store (cached per db URL, prefix and version)."""
    if not store.db_url:
        raise ConfigurationError(f"store {store} has no database URL")
    key = (store.db_url, store.table_prefix, store.version or "3.0")
    with _lock:
        if key not in _engines:
            engine = create_engine(store.db_url, pool_pre_ping=True, future=True)
            _engines[key] = (engine, metadata_for(store.version or "3.0", store.table_prefix))
        return _engines[key]


def _local_now(store) -> dt.datetime:
    """Naive shop-local time, as OpenCart's NOW() writes it (opencart.md §5.2)."""
    return clock.now().astimezone(ZoneInfo(store.timezone or "UTC")).replace(tzinfo=None, microsecond=0)


def catalog_rows(store, cfg: OzonConfig) -> list[dict]:
    engine, md = engine_and_metadata(store)
    with engine.connect() as conn:
        return feed.feed_rows(conn, md, store_id=store.oc_store_id, language_id=cfg.language_id,
                              customer_group_id=cfg.customer_group_id, today=_local_now(store).date())


def stock_rows(store, cfg: OzonConfig) -> list[dict]:
    engine, md = engine_and_metadata(store)
    with engine.connect() as conn:
        return feed.stock_rows(conn, md, store_id=store.oc_store_id)


def price_rows(store, cfg: OzonConfig) -> list[dict]:
    engine, md = engine_and_metadata(store)
    with engine.connect() as conn:
        return feed.price_rows(conn, md, store_id=store.oc_store_id, customer_group_id=cfg.customer_group_id,
                               today=_local_now(store).date())


def products_by_offer(store, cfg: OzonConfig, offer_ids: list[str]) -> dict[str, dict]:
    """Match offers we never bound (e.g. cards created in Ozon's cabinet) by model, prefix stripped."""
    if cfg.offer_id_rule != "model":
        return {}
    prefix = cfg.offer_id_prefix
    models = {o[len(prefix):]: o for o in offer_ids if o.startswith(prefix)}
    engine, md = engine_and_metadata(store)
    with engine.connect() as conn:
        found = feed.products_by_model(conn, md, list(models))
    return {models[model]: row for model, row in found.items()}


def default_currency(store) -> str:
    engine, md = engine_and_metadata(store)
    s = md.tables[md.info["prefix"] + "setting"]
    with engine.connect() as conn:
        value = conn.execute(select(s.c.value).where(s.c.store_id == 0, s.c.key == "config_currency")).scalar()
    return value or store.currency


def _store_info(conn, md, store) -> dict:
    p = md.info["prefix"]
    s, cur, lang = md.tables[p + "setting"], md.tables[p + "currency"], md.tables[p + "language"]
    settings = dict(conn.execute(select(s.c.key, s.c.value).where(
        s.c.store_id.in_((0, store.oc_store_id)), s.c.key.in_(("config_name", "config_currency", "config_language",
                                                               "config_invoice_prefix", "config_customer_group_id")))
        .order_by(s.c.store_id)).all())
    code = settings.get("config_currency", store.currency)
    cur_row = conn.execute(select(cur.c.currency_id, cur.c.value).where(cur.c.code == code)).first()
    lang_row = conn.execute(select(lang.c.language_id, lang.c.code).where(lang.c.code == settings.get("config_language"))).first()
    return {"store_id": store.oc_store_id, "store_name": settings.get("config_name", store.name), "store_url": store.api_url,
            "invoice_prefix": settings.get("config_invoice_prefix", ""),
            "customer_group_id": int(settings.get("config_customer_group_id") or 1),
            "currency_id": cur_row.currency_id if cur_row else 0, "currency_value": cur_row.value if cur_row else 1,
            "language_id": lang_row.language_id if lang_row else 1, "language_code": lang_row.code if lang_row else ""}


def max_order_id(store) -> int:
    engine, md = engine_and_metadata(store)
    with engine.connect() as conn:
        return order_create.max_order_id(conn, md)


def find_order(store, *, ref: str, after_order_id: int) -> int | None:
    engine, md = engine_and_metadata(store)
    with engine.connect() as conn:
        return order_create.find_order_by_comment(conn, md, ref, after_order_id)


def create_order(store, draft: dict) -> int:
    engine, md = engine_and_metadata(store)
    with engine.begin() as conn:  # one transaction on 4.0 (InnoDB); MyISAM ignores it, the steps are ordered
        return order_create.create_order(conn, md, draft, now=_local_now(store), store=_store_info(conn, md, store))


def set_order_status(store, order_id: int, status_id: int, *, comment: str = "") -> bool:
    engine, md = engine_and_metadata(store)
    with engine.begin() as conn:
        return order_create.change_status(conn, md, order_id, status_id, comment=comment, now=_local_now(store),
                                          store_id=store.oc_store_id)
