"""The shop side: OpenCart schema per version, reads, polls, history writes, native API, phone index.

The functions here take a core `Store` and are what integrations call; the modules below them take a
`ShopDB` (db.connect(url, prefix)) and know nothing of the hub's models.
"""

from __future__ import annotations

from ocbridge.opencart import phones  # noqa: F401  (opencart.phones.normalize is part of the API)


def shop_db(store, *, reads_only: bool = False):
    """The Store's shop database handle (engine cached per database settings; version detected once). `reads_only`:
    the handle whose reads cost one round trip and that cannot write (db.reader), for order status by phone."""
    from ocbridge.opencart import db

    if not store.has_database:
        from ocbridge.core.errors import ConfigurationError

        raise ConfigurationError("The store has no shop database set.")
    return (db.reader if reads_only else db.connect)(store.shop_database, store.table_prefix or "")


def check_store(store) -> dict:
    """"Test" of a store: connect, detect the version, read what the shop says about itself, check that the
    database user may write what the hub writes (changing nothing), log in to the native API when set —
    within 10 s each, with messages that say which part failed."""
    from ocbridge.core.errors import ConfigurationError, ServiceError
    from ocbridge.opencart import profile

    try:
        shop = profile.within(profile.CHECK_SECONDS, lambda: shop_db(store), "connecting to the shop database")
        prof = profile.within(profile.CHECK_SECONDS, lambda: profile.read_profile(shop, store.oc_store_id),
                              "reading the shop's settings")
        denied = profile.within(profile.CHECK_SECONDS, lambda: profile.missing_write_rights(shop),
                                "checking write permission")
        # the zone its dates are written in (per version: opencart.shop_time), not just config_timezone, which 2.3
        # never reads and whose absence 4.0 reads as UTC
        from ocbridge.opencart import shop_time

        shop.zones.pop(store.oc_store_id, None)  # read afresh: the owner may just have changed it
        zone = profile.within(profile.CHECK_SECONDS, lambda: shop_time.write_zone(shop, store.oc_store_id),
                              "reading the shop's settings")
    except (ConfigurationError, ServiceError) as exc:
        return {"ok": False, "message": str(exc)}
    parts = [f"OpenCart {shop.version.label}, store “{prof.name}”, time zone {zone}, "
             f"language {prof.language or '?'}, currency {prof.currency or '?'}, country {prof.country or '?'}."]
    if not shop.version.api_supported:
        parts.append("Native API not supported (4.1+): status changes use the database.")
    if denied:
        parts.append(f"The database user may not write {', '.join(denied)}: decisions cannot be written to the "
                     "shop. Grant it UPDATE and INSERT on those tables.")
    api_error = ""
    if store.api_url and store.api_key and shop.version.api_supported:
        try:
            profile.within(profile.CHECK_SECONDS, lambda: api_client(store, shop).login(), "logging in to the native API")
            parts.append("Native API: logged in.")
        except (ServiceError, ConfigurationError) as exc:
            api_error = str(exc)
            parts.append(f"Native API: login refused — {exc}")
    return {"ok": not denied and not api_error, "version": shop.version.label, "profile": prof,
            "write_denied": denied, "api_error": api_error, "message": " ".join(parts)}


def poll_new_orders(store, *, limit: int = 500) -> list:
    """Poll the store's shop through the shared feed (opencart.feed) and return the new orders read (all its
    stores). Integrations get theirs from the feed itself; the first poll only sets the positions."""
    from ocbridge.opencart import feed

    return feed.poll_shop(feed.shop_key(store), store=store, limit=limit).new_orders


def order_status(store, order_id: int) -> int | None:
    from ocbridge.opencart import orders as oc_orders

    return oc_orders.order_status(shop_db(store), order_id)


def customer_face(store, order_id: int):
    """The order's status, invoice number and storefront address as its customer knows them (orders.CustomerFace)."""
    from ocbridge.opencart import orders as oc_orders

    return oc_orders.customer_face(shop_db(store), order_id)


def read_order(store, order_id: int):
    from ocbridge.opencart import orders as oc_orders

    return oc_orders.read_order(shop_db(store), order_id)


def write_history(store, order_id: int, *, expected: int, new: int, comment: str = "", notify: bool = False,
                  key: str = ""):
    """Status change + history through the one journaled write API (opencart.writes): native API when
    configured (OpenCart does stock, e-mail, events), else OpenCart's model on the database path. Either way the
    status is re-read first and left alone if it moved on. Without a key, the change itself is the key."""
    import hashlib

    from ocbridge.opencart import writes

    if not key:
        digest = hashlib.sha256(comment.encode()).hexdigest()[:12]
        key = f"opencart:status:{store.pk}:{order_id}:{expected}>{new}:{digest}"
    return writes.change_status(store, order_id, expected=expected, new=new, comment=comment, notify=notify, key=key)


def api_client(store, shop=None):
    """The native API client of a Store, recording Exchanges for it."""
    from ocbridge.core.exchanges import ExchangeRecorder
    from ocbridge.opencart.api import SERVICE, OpenCartApiClient

    shop = shop or shop_db(store)
    recorder = ExchangeRecorder(SERVICE, store=store, secrets=[store.api_key])
    return OpenCartApiClient(store.api_url, username=store.api_username or "Default", key=store.api_key,
                             layout=shop.version.layout, store_id=store.oc_store_id,
                             api_supported=shop.version.api_supported, recorder=recorder)


def completed_order_count(store, order) -> int:
    """How many of this customer's earlier orders are in the shop's complete statuses (bounded, see orders.py)."""
    from ocbridge.opencart import orders as oc_orders, statuses

    shop = shop_db(store)
    cfg = statuses.read_settings(shop, order.store_id)
    return oc_orders.completed_order_count(shop, customer_id=order.customer_id, email=order.email,
                                           statuses=cfg.complete, before_order_id=order.order_id)


def order_language(store, order) -> str:
    """Two-letter language of the order (`tr-tr` → `tr`), or "" if unknown. Orders read by opencart.orders carry
    the code: the feed's consumers run inside a hub transaction (on SQLite the hub's write lock), where a read of a
    slow shop would hold every other store's work."""
    from ocbridge.opencart import statuses

    code = getattr(order, "language_code", "") or statuses.languages(shop_db(store)).get(order.language_id, "")
    return code.split("-", 1)[0].lower()


def find_orders_by_phone(store, e164: str, *, limit: int = 5) -> list[int]:
    """The caller's latest order ids in this Store (our phone index; OpenCart has no index on telephone)."""
    from ocbridge.opencart.phone_index import latest_orders

    return latest_orders(e164, store_db_key=store.db_key, store_id=store.oc_store_id, limit=limit)
