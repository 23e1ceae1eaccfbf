"""Reads for the order-status phone line: an order's latest history comment, bounded by primary key.

`order_history` has no key on order_id in 2.3/3.0 (MyISAM; opencart.md §1.2), so the latest comment is
looked for only among the newest `window` history rows (a primary-key range) — an order whose last
comment is older than that is read out without it. No query here scans a whole table.
"""

from __future__ import annotations

import sqlalchemy as sa

from ocbridge.opencart.db import ShopDB
from ocbridge.opencart.orders import unescape

HISTORY_WINDOW = 50_000


def latest_comment(db: ShopDB, order_id: int, *, window: int = HISTORY_WINDOW) -> str:
    """The newest non-empty order_history comment of the order (unescaped), or ""."""
    h = db.t("order_history")
    with db.engine.connect() as conn:
        top = conn.execute(sa.select(sa.func.max(h.c.order_history_id))).scalar() or 0
        comment = conn.execute(
            sa.select(h.c.comment)
            .where(h.c.order_history_id > top - window, h.c.order_id == order_id, h.c.comment != "")
            .order_by(h.c.order_history_id.desc()).limit(1)).scalar()
    return unescape(comment)


def language_id(db: ShopDB, code: str) -> int | None:
    """language_id of a two-letter code (`tr` → the row with code `tr-tr` or `tr`), or None."""
    t = db.t("language")
    code = (code or "").lower()
    with db.engine.connect() as conn:
        rows = conn.execute(sa.select(t.c.language_id, t.c.code).order_by(t.c.language_id)).all()
    for row in rows:
        if (row.code or "").lower().split("-", 1)[0] == code:
            return row.language_id
    return None
