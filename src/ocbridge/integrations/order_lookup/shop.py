"""Order lookup's view of the shop: phone index → orders → what may be spoken. Bounded in time.

The PBX waits for our answer on a live call, so every read of the shop database runs under a deadline
(`DEADLINE` seconds, opencart.db.deadline: the driver's own timeouts, in the request's thread); a shop that timed
out or failed is skipped for `COOL_DOWN` seconds (calls go straight to a person instead of each waiting for the
deadline again).
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time

from ocbridge import opencart
from ocbridge.core import registry
from ocbridge.integrations.order_lookup.config import OrderLookupConfig
from ocbridge.integrations.order_lookup.rules import OrderView
from ocbridge.opencart import shop_time
from ocbridge.opencart.db import connection_lost, deadline

log = logging.getLogger(__name__)
DEADLINE = 2.5  # seconds per shop read; Verimor's limit is not documented, Twilio's default is 15 s
COOL_DOWN = 30.0
CACHE_TTL = 300.0  # statuses and languages change rarely

_down_until: dict[str, float] = {}
_cache: dict[tuple, tuple[float, object]] = {}
_lock = threading.Lock()


class ShopUnavailable(Exception):
    """The shop database did not answer in time, or failed."""


def _bounded(store, fn, *args):
    key = store.db_key
    with _lock:
        if _down_until.get(key, 0.0) > time.monotonic():
            raise ShopUnavailable("shop database failed moments ago; not waiting for it again yet")
    started = time.monotonic()
    try:
        with deadline(DEADLINE):
            try:
                return fn(*args)
            except Exception as exc:
                if not connection_lost(exc):
                    raise
                return fn(*args)  # a pooled connection the server had dropped (restart, timeout): once more, anew
    except Exception as exc:  # any driver/config error: the caller goes to a person, the log says why
        if time.monotonic() - started >= DEADLINE * 0.99:
            why = f"shop database did not answer within {DEADLINE:.1f} s"
        else:
            why = f"{type(exc).__name__}: {exc}"
    with _lock:
        _down_until[key] = time.monotonic() + COOL_DOWN
    raise ShopUnavailable(why[:1000])


def reset() -> None:
    """Forget cool-downs and caches (tests; after the owner fixed the database URL)."""
    with _lock:
        _down_until.clear()
        _cache.clear()


def _cached(key: tuple, load):
    now = time.monotonic()
    with _lock:
        hit = _cache.get(key)
    if hit is not None and hit[0] > now:
        return hit[1]
    value = load()
    with _lock:
        _cache[key] = (now + CACHE_TTL, value)
    return value


def caller_orders(store, caller: str, cfg: OrderLookupConfig) -> list[int]:
    """The caller's order ids in this Store, newest first (hub phone index; OpenCart has no telephone key)."""
    return opencart.find_orders_by_phone(store, caller, limit=max(cfg.max_orders, 1) + 5)


def first_lookup(store, ids: list[int], cfg: OrderLookupConfig, lang: str) -> tuple[list[int], OrderView | None]:
    """Of `ids`: those in this store, finished at checkout (status > 0) and within `days_back`, newest first,
    with the newest one ready to speak. One primary-key read of the shop (plus the comment if asked)."""
    if not ids:
        return [], None
    found, view = _bounded(store, _first, store, ids, cfg.days_back, cfg.max_orders, cfg.read_comment, lang)
    return found, _with_facts(store, view)


def _first(store, ids: list[int], days_back: int, max_orders: int, with_comment: bool, lang: str):
    from ocbridge.opencart import orders as oc_orders

    db = opencart.shop_db(store, reads_only=True)
    found = oc_orders.read_orders_now(db, ids, oc_orders.FOUND_BY_PHONE_COLUMNS)
    # In the zone the shop stamps date_added in (its database session's, per version), not the Store's: near the
    # boundary an order was counted in or out by the wrong day. Cached per shop: no query here (a live call).
    since = shop_time.shop_now(db, store.oc_store_id) - dt.timedelta(days=days_back)
    keep = sorted((o for o in found.values() if o.store_id == store.oc_store_id and o.order_status_id > 0
                   and (o.date_added is None or o.date_added >= since)), key=lambda o: o.order_id, reverse=True)
    keep = keep[:max_orders]
    # Found by the caller's number: the order's own numbers are not compared again (neither read nor parsed: a
    # phonenumbers parse per order was a visible part of the lookup's CPU).
    return [o.order_id for o in keep], (_to_view(store, db, keep[0], with_comment, lang, phones=False) if keep else None)


def order_view(store, order_id: int, cfg: OrderLookupConfig, lang: str) -> OrderView | None:
    """One order as the call may speak it (status in the call's language), or None if not this store's."""
    return _with_facts(store, _bounded(store, _view, store, order_id, cfg.read_comment, lang))


def _with_facts(store, view: OrderView | None) -> OrderView | None:
    """Tracking code and courier from a fulfilment integration (hub database, read in the caller's thread)."""
    if view is not None:
        facts = registry.facts_of(store, view.order_id)
        view.tracking_code = str(facts.get("tracking_code") or "")
        view.courier = str(facts.get("courier") or "")
    return view


def _view(store, order_id: int, with_comment: bool, lang: str) -> OrderView | None:
    from ocbridge.opencart import orders as oc_orders

    db = opencart.shop_db(store, reads_only=True)
    order = oc_orders.read_order(db, order_id, lines=False, columns=oc_orders.SPOKEN_COLUMNS)
    if order is None or order.store_id != store.oc_store_id or order.order_status_id <= 0:
        return None
    return _to_view(store, db, order, with_comment, lang)


def _to_view(store, db, order, with_comment: bool, lang: str, *, phones: bool = True) -> OrderView:
    """`phones`: the order's telephone as E.164 numbers, to compare with the caller's (an order number typed in)."""
    from ocbridge.opencart import lookup, statuses

    lang_id = _cached((store.db_key, "lang", lang), lambda: lookup.language_id(db, lang)) or order.language_id
    names = _cached((store.db_key, "statuses", lang_id), lambda: statuses.statuses(db, lang_id))
    numbers = opencart.phones.numbers(order.telephone, [*order.countries, store.country]) if phones else []
    return OrderView(
        order_id=order.order_id, label=store.order_label(order.order_id), status_id=order.order_status_id,
        status_name=names.get(order.order_status_id, ""), phone=(numbers[0] if numbers else None), phones=tuple(numbers),
        total=order.total, currency=order.currency_code, date_added=order.date_added,
        comment=lookup.latest_comment(db, order.order_id) if with_comment else "", store_id=order.store_id)
