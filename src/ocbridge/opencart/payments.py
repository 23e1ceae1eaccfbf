"""Which payment methods a shop uses: codes with their titles, read from its most recent orders (by primary key)."""

from __future__ import annotations

import sqlalchemy as sa

from ocbridge.opencart.db import ShopDB
from ocbridge.opencart.orders import method_title, payment_code_of

RECENT = 5000  # a primary-key range, never a table scan


def methods_seen(db: ShopDB, recent: int = RECENT) -> dict[str, str]:
    """{normalized code: title} over the last `recent` orders; the owner picks COD codes from this list."""
    t = db.t("order")
    cols = [t.c.payment_method] + ([t.c.payment_code] if "payment_code" in t.c else [])
    with db.engine.connect() as conn:
        top = conn.execute(sa.select(sa.func.max(t.c.order_id))).scalar() or 0
        rows = conn.execute(sa.select(*cols).where(t.c.order_id > top - recent)).all()
    out: dict[str, str] = {}
    for row in rows:
        code = payment_code_of(row)
        if code and code not in out:
            out[code] = method_title(row._mapping["payment_method"]) or code
    return out
