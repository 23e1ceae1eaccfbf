"""Writing order history straight into the shop database, the way OpenCart's own model does.

Compare-and-set on the status, a history row only when it hit, OpenCart's stock rule when the order enters
or leaves the processing ∪ complete statuses, one transaction on InnoDB (4.0). Safe to repeat. The DB path
fires no OpenCart events and sends no e-mails (opencart.md §5.3).
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass

import sqlalchemy as sa

from ocbridge.core import clock
from ocbridge.core.errors import TerminalError
from ocbridge.opencart.db import ShopDB
from ocbridge.opencart.statuses import ShopSettings, read_settings, status_exists

RECENT_HISTORY = 5000  # how far back (by primary key) we look for our own history row on a repeat


@dataclass
class HistoryResult:
    """What happened: written (now or by an earlier identical call), or not because the status moved on."""

    written: bool
    current_status: int | None
    history_id: int | None = None
    repeated: bool = False  # an earlier call already wrote exactly this
    via: str = "db"
    stock: str = ""  # "subtracted", "restored" or ""


def escape_like_opencart(text: str, *, utf8mb3: bool) -> str:
    """htmlspecialchars(ENT_COMPAT) as OpenCart's request filter does (T11); no 4-byte chars in utf8 tables."""
    out = html.escape(text, quote=False).replace('"', "&quot;")
    if utf8mb3:
        out = re.sub(r"[\U00010000-\U0010FFFF]", "\ufffd", out)
    return out


def write_history(db: ShopDB, order_id: int, *, expected: int, new: int, comment: str = "", notify: bool = False,
                  settings: ShopSettings | None = None) -> HistoryResult:
    """Set the order's status from `expected` to `new` and add the history row, or do nothing if it moved on."""
    if new <= 0:
        raise TerminalError("opencart-db", "status_0", "Refusing to set order status 0 (it hides the order).")
    o, h = db.t("order"), db.t("order_history")
    stored_comment = escape_like_opencart(comment, utf8mb3=db.layout in ("2.3", "3.0"))
    with db.engine.begin() as conn:  # a real transaction on InnoDB (4.0); statement by statement on MyISAM
        if not status_exists(conn, db, new):
            raise TerminalError("opencart-db", "unknown_status", f"Order status {new} does not exist in this shop.")
        row = conn.execute(sa.select(o.c.order_status_id, o.c.store_id).where(o.c.order_id == order_id)).first()
        if row is None:
            raise TerminalError("opencart-db", "unknown_order", f"Order {order_id} does not exist.")
        cfg = settings or read_settings(db, row.store_id)
        now_sql = _now(conn, db, cfg)
        if row.order_status_id == new and expected != new:
            return _repeat(conn, db, order_id, expected, new, stored_comment, notify, now_sql)
        hit = conn.execute(
            sa.update(o).where(o.c.order_id == order_id, o.c.order_status_id == expected)
            .values(order_status_id=new, date_modified=now_sql)).rowcount
        if hit != 1:
            current = conn.execute(sa.select(o.c.order_status_id).where(o.c.order_id == order_id)).scalar()
            return HistoryResult(False, current)
        stock = apply_stock_rule(conn, order_id, expected, new, db=db, live=cfg.live)
        hid = conn.execute(sa.insert(h).values(order_id=order_id, order_status_id=new, notify=int(bool(notify)),
                                               comment=stored_comment, date_added=now_sql)).inserted_primary_key[0]
    return HistoryResult(True, new, history_id=hid, stock=stock)


def _repeat(conn, db: ShopDB, order_id: int, expected: int, new: int, comment: str, notify: bool, now_sql):
    """The status already is `new`. Ours if the latest history row says so with our comment; if the history
    still shows `expected`, an earlier call of ours stopped between its UPDATE and INSERT (MyISAM): finish it."""
    h = db.t("order_history")
    top = conn.execute(sa.select(sa.func.max(h.c.order_history_id))).scalar() or 0
    latest = conn.execute(
        sa.select(h).where(h.c.order_history_id > top - RECENT_HISTORY, h.c.order_id == order_id)
        .order_by(h.c.order_history_id.desc()).limit(1)).first()
    if latest is not None and latest.order_status_id == new and latest.comment == comment:
        return HistoryResult(True, new, history_id=latest.order_history_id, repeated=True)
    if latest is not None and latest.order_status_id == expected:
        hid = conn.execute(sa.insert(h).values(order_id=order_id, order_status_id=new, notify=int(bool(notify)),
                                               comment=comment, date_added=now_sql)).inserted_primary_key[0]
        return HistoryResult(True, new, history_id=hid, repeated=True)
    return HistoryResult(False, new)


def _now(conn: sa.Connection, db: ShopDB, cfg: ShopSettings):
    """NOW() in the shop's time zone (3.0/4.0 set it from config_timezone; 2.3 keeps the server's)."""
    offset = cfg.utc_offset(clock.now())
    if db.is_mysql:
        if offset:
            conn.execute(sa.text("SET time_zone = :tz"), {"tz": offset})
        return sa.func.now()
    # SQLite (demo shop): no session time zone; compute the shop's local wall time ourselves.
    from zoneinfo import ZoneInfo

    local = clock.now().astimezone(ZoneInfo(cfg.timezone)) if cfg.timezone else clock.now()
    return local.replace(tzinfo=None, microsecond=0)


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
