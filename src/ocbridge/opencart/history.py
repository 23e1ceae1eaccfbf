"""Two pieces of OpenCart's model the write paths share: its input escaping and its stock rule.

The status write itself is opencart.writes (journaled) with opencart.order_model (the steps per version).
"""

from __future__ import annotations

import html
import re

import sqlalchemy as sa

from ocbridge.opencart.db import ShopDB


def escape_like_opencart(text: str, *, utf8mb3: bool) -> str:
    """htmlspecialchars(ENT_COMPAT) as OpenCart's request filter does (T11); no 4-byte chars in utf8 tables."""
    out = html.escape(text, quote=False).replace('"', "&quot;")
    if utf8mb3:
        out = re.sub(r"[\U00010000-\U0010FFFF]", "\ufffd", out)
    return out


def apply_stock_rule(conn: sa.Connection, order_id: int, old: int, new: int, *, db: ShopDB, live: set[int],
                     lines: list | None = None) -> str:
    """OpenCart's stock rule (opencart.md §2.3): entering processing ∪ complete subtracts the ordered quantities,
    leaving it restores them — `product` and `product_option_value`, only where `subtract = 1`; in 4.0 the
    variant's master product too. Returns "subtracted", "restored" or "".

    `lines` (Order.lines with options) saves reading order_option, which has no order_id key.
    """
    entering = old not in live and new in live
    leaving = old in live and new not in live
    if not (entering or leaving):
        return ""
    sign = -1 if entering else 1
    p, pov = db.t("product"), db.t("product_option_value")
    if lines is None:
        op, oo = db.t("order_product"), db.t("order_option")
        cols = [op.c.order_product_id, op.c.product_id, op.c.quantity]
        if "master_id" in op.c:
            cols.append(op.c.master_id)
        products = [dict(r._mapping) for r in conn.execute(sa.select(*cols).where(op.c.order_id == order_id))]
        options = [dict(r._mapping) for r in conn.execute(
            sa.select(oo.c.order_product_id, oo.c.product_option_value_id).where(oo.c.order_id == order_id))]
    else:
        products = [{"order_product_id": ln.order_product_id, "product_id": ln.product_id, "quantity": ln.quantity,
                     "master_id": ln.master_id} for ln in lines]
        options = [{"order_product_id": ln.order_product_id, "product_option_value_id": o["product_option_value_id"]}
                   for ln in lines for o in ln.options]
    qty_by_line = {r["order_product_id"]: r["quantity"] for r in products}
    for r in products:
        delta = sign * r["quantity"]
        ids = [r["product_id"]] + ([r["master_id"]] if r.get("master_id") else [])
        for pid in ids:
            conn.execute(sa.update(p).where(p.c.product_id == pid, p.c.subtract == 1)
                         .values(quantity=p.c.quantity + delta))
    for o in options:
        if not o["product_option_value_id"]:
            continue  # text/file options have no option value and no stock
        delta = sign * qty_by_line.get(o["order_product_id"], 0)
        conn.execute(sa.update(pov).where(pov.c.product_option_value_id == o["product_option_value_id"],
                                          pov.c.subtract == 1).values(quantity=pov.c.quantity + delta))
    return "subtracted" if entering else "restored"
