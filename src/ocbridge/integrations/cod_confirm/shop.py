"""COD confirmation's view of the shop: the few adapter calls it needs, in one place (ocbridge.opencart does the SQL)."""

from __future__ import annotations

from ocbridge import opencart


def order_status(store, order_id: int) -> int | None:
    """The order's current status, re-read by primary key right before acting."""
    return opencart.order_status(store, order_id)


def write_status(store, order_id: int, *, expected: int, new: int, comment: str, notify: bool, key: str = ""):
    """Order-history entry through OpenCart's API or the compare-and-set DB path; result has .written/.current_status."""
    return opencart.write_history(store, order_id, expected=expected, new=new, comment=comment, notify=notify, key=key)


def delivery_address(store, order_id: int) -> dict[str, str] | None:
    from ocbridge.opencart import orders as oc_orders

    return oc_orders.delivery_address(opencart.shop_db(store), order_id)


def write_address(store, order_id: int, *, expected: int, address: dict[str, str], comment: str, key: str):
    """The customer's corrected delivery address, through the shop's one journaled write API."""
    from ocbridge.opencart import writes

    return writes.update_address(store, order_id, expected=expected, address=address, comment=comment, key=key)


def write_marks(key: str) -> dict | None:
    """What the journal of a shop write kept (e.g. the address before it: "old")."""
    from ocbridge.opencart.models import ShopWrite

    return ShopWrite.objects.filter(key=key).values_list("marks", flat=True).first()


def prepared() -> dict:
    """What jobs.read_ahead read from the shop for the feed's handover under way, before its hub transaction began
    (empty outside one)."""
    from ocbridge.opencart import feed

    return feed.prepared()


def completed_orders(store, order) -> int:
    return opencart.completed_order_count(store, order)


def normalize_phone(raw: str, country: str, countries=()) -> str | None:
    """The number to call: the first in the field, read with the order's countries before the store's."""
    return opencart.phones.normalize(raw, country, countries=countries)


def language_code(store, order) -> str:
    """Two-letter language of the order (tr/ru/en), for the call and SMS texts."""
    return opencart.order_language(store, order) or store.language


def read_orders(store, order_ids: list[int]) -> list:
    """Orders by primary key (with lines), in id order; missing ones left out."""
    from ocbridge.opencart import orders as oc_orders

    if not order_ids:
        return []
    found = oc_orders.read_orders(opencart.shop_db(store), order_ids)
    return [found[i] for i in sorted(found)]


def write_zone(store):
    """The zone the shop stamps this store's order and history dates in (opencart.shop_time: per OpenCart version,
    not the Store's zone). Cached per shop: a query at most every few minutes."""
    from ocbridge.opencart import shop_time

    return shop_time.write_zone(opencart.shop_db(store), store.oc_store_id)


def placed_at(store, order, zone=None):
    """When the order was placed, as an aware time (OpenCart stores a naive wall time in `write_zone`'s zone)."""
    if order.date_added is None:
        return None
    return order.date_added.replace(tzinfo=zone or write_zone(store))
