"""Our phone index: keep it up to date from polled orders and find a caller's latest orders by E.164."""

from __future__ import annotations

from collections.abc import Iterable

from ocbridge.core import clock
from ocbridge.opencart import phones


def index_orders(store_db_key: str, orders: Iterable, *, country_of_store: dict[int, str] | None = None,
                 default_country: str = "TR") -> int:
    """Add (e164, order_id) rows for each number of each order; existing rows are left alone. Returns rows added."""
    from ocbridge.opencart.models import PhoneIndex

    now = clock.now()
    rows = []
    for order in orders:
        country = (country_of_store or {}).get(order.store_id, default_country)
        # Every number in the field, read with the order's own countries before the store's.
        for e164 in phones.numbers(order.telephone, [*getattr(order, "countries", ()), country]):
            rows.append(PhoneIndex(store_db_key=store_db_key, store_id=order.store_id, e164=e164,
                                   order_id=order.order_id, created=now))
    if not rows:
        return 0
    before = PhoneIndex.objects.filter(store_db_key=store_db_key, order_id__in=[r.order_id for r in rows]).count()
    PhoneIndex.objects.bulk_create(rows, ignore_conflicts=True, batch_size=500)
    return len(rows) - before


def latest_orders(e164: str, *, store_db_key: str | None = None, store_id: int | None = None,
                  limit: int = 5) -> list[int]:
    """The caller's most recent order ids (newest first), via the (e164, order_id desc) index."""
    from ocbridge.core import rows
    from ocbridge.opencart.models import PhoneIndex

    where, params = ['"e164" = %s'], [e164]
    if store_db_key is not None:
        where.append('"store_db_key" = %s')
        params.append(store_db_key)
    if store_id is not None:
        where.append('"store_id" = %s')
        params.append(store_id)
    sql = (f'SELECT "order_id" FROM "{PhoneIndex._meta.db_table}" WHERE {" AND ".join(where)} '
           f'ORDER BY "order_id" DESC LIMIT %s')
    return [order_id for (order_id,) in rows.select(sql, [*params, int(limit)])]
