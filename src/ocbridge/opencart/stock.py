"""Setting product stock the way OpenCart's admin product form does: `product.quantity` and `date_modified`.

Used when a fulfilment service owns stock (DESIGN "One stock source per store"). OpenCart keeps no SKU on option
values, so stock by SKU is product-level only. Only changed quantities are written; each write is one UPDATE by
primary key, safe to repeat (it sets a value, it does not add).
TODO(#12): move behind the journaled shop write API ("stock set") when it lands.
"""

from __future__ import annotations

import sqlalchemy as sa

from ocbridge.opencart.db import ShopDB


def set_product_quantities(db: ShopDB, quantities: dict[int, int], *, now) -> int:
    """Set `quantity` of each product_id to the given value where it differs; returns how many rows changed."""
    if not quantities:
        return 0
    p = db.t("product")
    changed = 0
    with db.engine.begin() as conn:
        current = dict(conn.execute(sa.select(p.c.product_id, p.c.quantity)
                                    .where(p.c.product_id.in_(list(quantities)))).all())
        for pid, qty in quantities.items():
            if pid in current and current[pid] != int(qty):
                changed += conn.execute(sa.update(p).where(p.c.product_id == pid)
                                        .values(quantity=int(qty), date_modified=now)).rowcount
    return changed
