"""The shop side of the despatch integration: one thin place that calls `ocbridge.opencart` for the Store.

Status changes go through the one journaled write API (opencart.write_history → opencart.writes), keyed by the
job. The shop's order_history is not read here: the shared order-history feed (opencart.feed) hands it to
jobs.on_history. Stock writes go through the same write API ("stock set").
"""

from __future__ import annotations

from ocbridge import opencart
from ocbridge.opencart import catalog, fulfilment


def order_status(store, order_id: int) -> int | None:
    return opencart.order_status(store, order_id)


def fulfilment_order(store, order_id: int) -> fulfilment.FulfilmentOrder | None:
    return fulfilment.read_fulfilment_orders(opencart.shop_db(store), [order_id]).get(order_id)


def mail_goes(store) -> bool:
    """A customer e-mail really goes: OpenCart's own (native API path) or the hub's mail (database path)."""
    from ocbridge.opencart import notices

    return notices.mail_goes(store)


def set_status(store, order_id: int, status_id: int, *, comment: str, notify: bool, key: str):
    """Status + history through the shared write path (native API or compare-and-set + stock rule). A repeat of
    the same status (a second parcel's tracking) is written as a history row with the status unchanged."""
    current = opencart.order_status(store, order_id)
    if current is None:
        from ocbridge.core.errors import TerminalError

        raise TerminalError("opencart", "unknown_order", f"Order {order_id} does not exist.")
    return opencart.write_history(store, order_id, expected=current, new=status_id, comment=comment,
                                  notify=notify, key=key)


def stock_by_sku(store, sku_field: str) -> dict[str, tuple[int, int]]:
    """SKU → (product_id, quantity) of the store's enabled products; a SKU used twice keeps the first product."""
    out: dict[str, tuple[int, int]] = {}
    for r in catalog.stock_rows(opencart.shop_db(store), store_id=store.oc_store_id):
        sku = (r.get(sku_field) or "").strip()
        if sku and sku not in out:
            out[sku] = (r["product_id"], int(r["quantity"]))
    return out


def set_quantities(store, quantities: dict[int, int], *, key: str) -> int:
    """Product quantities through the shop's one journaled write API ("stock set"), once per key."""
    from ocbridge.opencart import writes

    return writes.set_stock(store, quantities, key=key)

