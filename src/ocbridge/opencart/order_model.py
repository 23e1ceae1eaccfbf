"""The database path of a status change, step by step as OpenCart's own model does it, per version.

Read from `catalog/model/checkout/order.php` (addOrderHistory at 2.3.0.2 and 3.0.3.9, addHistory at 4.0.2.3) and
the order-total models it calls (opencart.md §2.3). L = processing ∪ complete, C = complete; "entering" means
old ∉ L and new ∈ L, "leaving" old ∈ L and new ∉ L.

| OpenCart step (in its order)                    | 2.3 | 3.0 | 4.0 | ocbridge step                     |
|-------------------------------------------------|-----|-----|-----|-----------------------------------|
| fraud extensions may replace the status         | yes | yes | yes | not done (PHP extensions); listed |
| entering: totals' confirm (coupon, voucher,     | yes | yes | yes | `totals_confirm` (a refused use   |
|   reward, credit; a refused one → fraud status) |     |     |     |   gives config_fraud_status_id)   |
| entering: affiliate commission                  | yes | yes | —   | `affiliate_add` (2.3 affiliate_   |
| 4.0: entering C: commission                     | —   | —   | yes |   transaction; 3.0/4.0 customer_  |
|                                                 |     |     |     |   transaction, once per order)    |
| 4.0: entering C: subscriptions                  | —   | —   | yes | not done; listed                  |
| entering: stock −, options −, (4.0) master −    | yes | yes | yes | `status_stock` (one statement)    |
| UPDATE order status, date_modified              | yes | yes | yes | `status_stock` (compare-and-set)  |
| INSERT order_history (notify as asked)          | yes | yes | yes | `history` (notify 0: no mail)     |
| leaving: stock +, options +, (4.0) master +     | yes | yes | yes | `status_stock` (one statement)    |
| leaving: totals' unconfirm                      | yes | yes | yes | `totals_unconfirm`                |
| leaving (4.0: leaving C): delete commission     | yes | yes | yes | `affiliate_remove`                |
| 4.0: leaving C: suspend subscriptions           | —   | —   | yes | not done; listed                  |
| cache delete 'product'                          | yes | yes | yes | not done (file cache); listed     |
| mails (2.3 inline; 3.0/4.0 events), events      | yes | yes | yes | not done; listed                  |

Why the stock moves in the same statement as the status: on MyISAM (2.3/3.0) there are no transactions, and a
write killed between "status changed" and "stock moved" could not tell on retry whether the stock had moved.
One multi-table UPDATE (compare-and-set on the status, the summed quantities joined in) is applied whole or not
at all, so every step below can tell from the shop whether it already happened: the others look for their own
rows (by order_id) or delete by order_id. On InnoDB (4.0) and SQLite all steps run in one transaction.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from decimal import Decimal

import sqlalchemy as sa
from django.utils.translation import gettext_lazy as _

from ocbridge.opencart.db import ShopDB
from ocbridge.opencart.statuses import ShopSettings

STEPS_OC23_30 = ("totals_confirm", "affiliate_add", "status_stock", "history", "totals_unconfirm", "affiliate_remove")
STEPS_OC4 = ("totals_confirm", "affiliate_add", "totals_unconfirm", "affiliate_remove", "status_stock", "history")
TOTAL_CODES = ("coupon", "voucher", "reward", "credit")  # the bundled totals that have confirm/unconfirm

# What the database path does, and what OpenCart's admin also does that it cannot (README, store page).
DONE = (
    _("the status, only over the status it had when read (never over a change made in the shop)"),
    _("the order-history entry, marked “customer notified: no” because no e-mail goes"),
    _("product and option stock, as OpenCart's stock rule moves it"),
    _("coupon, gift voucher, reward points and store credit use, confirmed or taken back"),
    _("the affiliate commission"),
)
NOT_DONE = {
    "2.3": (_("e-mails (OpenCart 2.3 sends the order, status and affiliate mails from inside its model)"),
            _("fraud-check extensions"), _("extensions listening to the status change"),
            _("refreshing the product cache")),
    "3.0": (_("e-mails (order mails and alerts are events in 3.0)"), _("fraud-check extensions"),
            _("events: mail, activity, statistics and any extension's"), _("refreshing the product cache")),
    "4.0": (_("e-mails (order mails and alerts are events in 4.0)"), _("fraud-check extensions"),
            _("events: mail, activity, statistics and any extension's"),
            _("subscriptions (started or suspended with the complete statuses)"), _("refreshing the product cache")),
}


def steps_for(layout: str) -> tuple[str, ...]:
    return STEPS_OC4 if layout.startswith("4") else STEPS_OC23_30


def not_done(layout: str) -> tuple:
    """What OpenCart would also do on this version that the database path cannot; () if the version is unknown."""
    if layout.startswith("4"):
        return NOT_DONE["4.0"]
    return NOT_DONE.get(layout[:3], ())


@dataclass
class Change:
    """One status change being applied; `marks` is persisted by the journal between steps."""

    order_id: int
    old: int  # the status we expect the order to have (compare-and-set)
    new: int  # the status asked for
    comment: str  # already escaped as OpenCart stores it
    settings: ShopSettings
    fraud_status_id: int = 0
    affiliate_auto: bool = False
    marks: dict = field(default_factory=dict)

    @property
    def target(self) -> int:
        """The status written: `new`, or the fraud status a refused coupon/voucher/reward turned it into."""
        return int(self.marks.get("target") or self.new)

    @property
    def live(self) -> set[int]:
        return self.settings.live

    @property
    def entering(self) -> bool:
        return self.old not in self.live and self.new in self.live

    @property
    def leaving(self) -> bool:
        # OpenCart tests "leaving" after confirm may have changed the status (only on entering: never both)
        return self.old in self.live and self.target not in self.live


class Moved(Exception):
    """The order's status is no longer the one we expected: the shop decided; nothing of ours must stay."""

    def __init__(self, current: int | None):
        self.current = current
        super().__init__(f"order status is now {current}")


def run_step(conn: sa.Connection, db: ShopDB, step: str, ch: Change, now_sql) -> None:
    """Run one step; each one finds out by itself whether it already happened (see the module docstring)."""
    {"totals_confirm": _totals_confirm, "affiliate_add": _affiliate_add, "status_stock": _status_stock,
     "history": _history, "totals_unconfirm": _totals_unconfirm, "affiliate_remove": _affiliate_remove}[step](
        conn, db, ch, now_sql)


# --- the totals (coupon, voucher, reward, credit) -------------------------------------------------------------


def _in_parentheses(title: str) -> str:
    """The code OpenCart reads back from the total's title: between the first '(' and the last ')'."""
    start, end = title.find("("), title.rfind(")")
    return title[start + 1:end] if start >= 0 and end > start else ""


def _order_row(conn, db: ShopDB, order_id: int):
    o = db.t("order")
    return conn.execute(sa.select(o.c.customer_id, o.c.affiliate_id, o.c.commission, o.c.order_status_id)
                        .where(o.c.order_id == order_id)).first()


def _totals(conn, db: ShopDB, order_id: int) -> list:
    ot = db.t("order_total")
    return [r for r in conn.execute(sa.select(ot.c.code, ot.c.title, ot.c.value).where(ot.c.order_id == order_id)
                                    .order_by(ot.c.sort_order)) if r.code in TOTAL_CODES]


def _exists(conn, table: sa.Table, *where) -> bool:
    return conn.execute(sa.select(sa.literal(1)).select_from(table).where(*where).limit(1)).first() is not None


def _totals_confirm(conn, db: ShopDB, ch: Change, now_sql) -> None:
    if not ch.entering:
        return
    order = _order_row(conn, db, ch.order_id)
    refused = False
    for total in _totals(conn, db, ch.order_id):
        refused |= not {"coupon": _confirm_coupon, "voucher": _confirm_voucher, "reward": _confirm_reward,
                        "credit": _confirm_credit}[total.code](conn, db, ch, order, total, now_sql)
    if refused and ch.fraud_status_id:  # OpenCart: "the fraud order status is returned"
        ch.marks["target"] = ch.fraud_status_id


def _confirm_coupon(conn, db, ch, order, total, now_sql) -> bool:
    code = _in_parentheses(total.title)
    if not code:
        return True
    c, ch_t = db.t("coupon"), db.t("coupon_history")
    coupon = conn.execute(sa.select(c).where(c.c.code == code, c.c.status == 1)).first()
    if coupon is None:
        return False
    if _exists(conn, ch_t, ch_t.c.order_id == ch.order_id, ch_t.c.coupon_id == coupon.coupon_id):
        return True  # ours from an attempt that stopped before the journal noted it
    used = conn.execute(sa.select(sa.func.count()).select_from(ch_t).where(ch_t.c.coupon_id == coupon.coupon_id)).scalar()
    if coupon.uses_total and int(coupon.uses_total) > 0 and used >= int(coupon.uses_total):
        return False
    per_customer = int(coupon.uses_customer or 0)
    if order.customer_id and per_customer > 0:
        mine = conn.execute(sa.select(sa.func.count()).select_from(ch_t).where(
            ch_t.c.coupon_id == coupon.coupon_id, ch_t.c.customer_id == order.customer_id)).scalar()
        if mine >= per_customer:
            return False
    conn.execute(sa.insert(ch_t).values(coupon_id=coupon.coupon_id, order_id=ch.order_id,
                                        customer_id=order.customer_id, amount=total.value, date_added=now_sql))
    return True


def _confirm_voucher(conn, db, ch, order, total, now_sql) -> bool:
    code = _in_parentheses(total.title)
    if not code:
        return True
    v, vh, ov = db.t("voucher"), db.t("voucher_history"), db.t("order_voucher")
    voucher = conn.execute(sa.select(v).where(v.c.code == code, v.c.status == 1)).first()
    if voucher is None:
        return False
    if _exists(conn, vh, vh.c.order_id == ch.order_id, vh.c.voucher_id == voucher.voucher_id):
        return True
    # getVoucher: a voucher bought in an order counts only once that order is complete
    if voucher.order_id:
        o = db.t("order")
        if not _exists(conn, o, o.c.order_id == voucher.order_id, o.c.order_status_id.in_(ch.settings.complete or {-1})):
            return False
        if not _exists(conn, ov, ov.c.order_id == voucher.order_id, ov.c.voucher_id == voucher.voucher_id):
            return False
    spent = conn.execute(sa.select(sa.func.sum(vh.c.amount)).where(vh.c.voucher_id == voucher.voucher_id)).scalar()
    if Decimal(str(voucher.amount)) + Decimal(str(spent or 0)) <= 0:
        return False
    conn.execute(sa.insert(vh).values(voucher_id=voucher.voucher_id, order_id=ch.order_id, amount=total.value,
                                      date_added=now_sql))
    return True


def _confirm_reward(conn, db, ch, order, total, now_sql) -> bool:
    raw = _in_parentheses(total.title)
    points = int(raw) if re.fullmatch(r"-?\d+", raw.strip() or "x") else 0
    cr = db.t("customer_reward")
    if _exists(conn, cr, cr.c.order_id == ch.order_id, cr.c.points < 0):
        return True
    if db.layout.startswith("4") and not order.customer_id:
        return False  # 4.0 checks the customer first
    have = conn.execute(sa.select(sa.func.sum(cr.c.points)).where(cr.c.customer_id == order.customer_id)).scalar()
    if int(have or 0) < points:
        return False
    conn.execute(sa.insert(cr).values(customer_id=order.customer_id, order_id=ch.order_id,
                                      description=f"Order ID: #{ch.order_id}", points=-points, date_added=now_sql))
    return True


def _confirm_credit(conn, db, ch, order, total, now_sql) -> bool:
    if not order.customer_id:
        return True
    ct = db.t("customer_transaction")
    if _exists(conn, ct, ct.c.order_id == ch.order_id, ct.c.customer_id == order.customer_id,
               ct.c.amount == total.value):
        return True
    conn.execute(sa.insert(ct).values(customer_id=order.customer_id, order_id=ch.order_id,
                                      description=f"Order ID: #{ch.order_id}", amount=total.value, date_added=now_sql))
    return True


def _totals_unconfirm(conn, db: ShopDB, ch: Change, now_sql) -> None:
    if not ch.leaving:
        return
    codes = {t.code for t in _totals(conn, db, ch.order_id)}
    for code, table, extra in (("coupon", "coupon_history", ()), ("voucher", "voucher_history", ()),
                               ("reward", "customer_reward", ("points",)), ("credit", "customer_transaction", ())):
        if code in codes:
            t = db.t(table)
            where = [t.c.order_id == ch.order_id] + ([t.c.points < 0] if extra else [])
            conn.execute(sa.delete(t).where(*where))


# --- affiliate commission ---------------------------------------------------------------------------------------


def _commission_table(db: ShopDB):
    return db.t("affiliate_transaction") if db.layout == "2.3" else db.t("customer_transaction")


def _affiliate_add(conn, db: ShopDB, ch: Change, now_sql) -> None:
    if db.layout.startswith("4"):  # 4.0: on entering the complete statuses
        applies = ch.old not in ch.settings.complete and ch.target in ch.settings.complete
    else:
        applies = ch.entering
    if not applies or not ch.affiliate_auto:
        return
    order = _order_row(conn, db, ch.order_id)
    if not order.affiliate_id:
        return
    t = _commission_table(db)
    # 3.0/4.0 OpenCart itself adds it only if the order has no transaction yet; 2.3 has its own table
    if _exists(conn, t, t.c.order_id == ch.order_id):
        return
    who = {"affiliate_id": order.affiliate_id} if db.layout == "2.3" else {"customer_id": order.affiliate_id}
    conn.execute(sa.insert(t).values(**who, order_id=ch.order_id, description=_commission_text(conn, db, ch),
                                     amount=order.commission, date_added=now_sql))


def _commission_text(conn, db: ShopDB, ch: Change) -> str:
    """The commission's description exactly as OpenCart writes it. 2.3 loads `mail/affiliate` ("Order ID:").
    3.0/4.0 read `text_order_id` from whatever language file was loaded last: when this same call confirmed a
    reward or credit total, that is the total's "Order ID: #%s", unformatted — captured on real 3.0.3.9 and
    4.0.2.3 shops as "Order ID: #%s #12" (tests/opencart/golden)."""
    if db.layout != "2.3" and ch.entering and {t.code for t in _totals(conn, db, ch.order_id)} & {"reward", "credit"}:
        return f"Order ID: #%s #{ch.order_id}"
    return f"Order ID: #{ch.order_id}"


def _affiliate_remove(conn, db: ShopDB, ch: Change, now_sql) -> None:
    if db.layout.startswith("4"):
        applies = ch.old in ch.settings.complete and ch.target not in ch.settings.complete
    else:
        applies = ch.leaving
    if not applies:
        return
    order = _order_row(conn, db, ch.order_id)
    if order.affiliate_id:
        t = _commission_table(db)
        conn.execute(sa.delete(t).where(t.c.order_id == ch.order_id))


# --- status + stock, history ------------------------------------------------------------------------------------


def _status_stock(conn, db: ShopDB, ch: Change, now_sql) -> None:
    o = db.t("order")
    entering_stock = ch.old not in ch.live and ch.new in ch.live  # decided on the asked status, as OpenCart does
    sign = -1 if entering_stock else (1 if ch.leaving else 0)
    if db.is_mysql:
        hit = conn.execute(sa.text(_cas_with_stock_sql(db, sign)),
                           {"oid": ch.order_id, "old": ch.old, "new": ch.target, "sign": sign}).rowcount
    else:  # SQLite (demo shop): one transaction makes the separate statements one change
        hit = conn.execute(sa.update(o).where(o.c.order_id == ch.order_id, o.c.order_status_id == ch.old)
                           .values(order_status_id=ch.target, date_modified=now_sql)).rowcount
        if hit and sign:
            from ocbridge.opencart.history import apply_stock_rule

            apply_stock_rule(conn, ch.order_id, ch.old, ch.new if sign < 0 else ch.target, db=db, live=ch.live)
    if hit:
        return
    current = conn.execute(sa.select(o.c.order_status_id).where(o.c.order_id == ch.order_id)).scalar()
    if current == ch.target and ch.marks.get("status_sent"):
        return  # our statement went through and the journal did not hear of it
    raise Moved(current)


def _cas_with_stock_sql(db: ShopDB, sign: int) -> str:
    """UPDATE order (compare-and-set) joined with the summed quantities of its products, option values and (4.0)
    variant masters. A multi-table UPDATE changes each row once, hence the sums; LEFT JOINs keep the order row
    when nothing has stock to move."""
    q = db.engine.dialect.identifier_preparer.quote
    o, op, oo, p, pov = (q(db.t(n).name) for n in ("order", "order_product", "order_option", "product",
                                                    "product_option_value"))
    if not sign:
        return (f"UPDATE {o} SET order_status_id = :new, date_modified = NOW() "
                f"WHERE order_id = :oid AND order_status_id = :old")
    masters = ("UNION ALL SELECT master_id, quantity FROM " + op + " WHERE order_id = :oid AND master_id <> 0"
               if "master_id" in db.t("order_product").c else "")
    return (
        f"UPDATE {o} o "
        f"LEFT JOIN (SELECT pid, SUM(q) AS q FROM (SELECT product_id AS pid, quantity AS q FROM {op} "
        f"WHERE order_id = :oid {masters}) x GROUP BY pid) sp ON 1 = 1 "
        f"LEFT JOIN {p} p ON p.product_id = sp.pid AND p.subtract = 1 "
        f"LEFT JOIN (SELECT oo.product_option_value_id AS povid, SUM(op.quantity) AS q FROM {oo} oo "
        f"JOIN {op} op ON op.order_product_id = oo.order_product_id "
        f"WHERE oo.order_id = :oid AND oo.product_option_value_id <> 0 GROUP BY oo.product_option_value_id) so ON 1 = 1 "
        f"LEFT JOIN {pov} pov ON pov.product_option_value_id = so.povid AND pov.subtract = 1 "
        f"SET o.order_status_id = :new, o.date_modified = NOW(), "
        f"p.quantity = p.quantity + :sign * sp.q, pov.quantity = pov.quantity + :sign * so.q "
        f"WHERE o.order_id = :oid AND o.order_status_id = :old")


def _history(conn, db: ShopDB, ch: Change, now_sql) -> None:
    h = db.t("order_history")
    floor = int(ch.marks.get("history_floor") or 0)
    if _exists(conn, h, h.c.order_history_id > floor, h.c.order_id == ch.order_id,
               h.c.order_status_id == ch.target, h.c.comment == ch.comment):
        return
    hid = conn.execute(sa.insert(h).values(order_id=ch.order_id, order_status_id=ch.target, notify=0,
                                           comment=ch.comment, date_added=now_sql)).inserted_primary_key[0]
    ch.marks["history_id"] = int(hid)


def undo_confirm(conn: sa.Connection, db: ShopDB, ch: Change) -> None:
    """A write that confirmed totals and then found the order moved: take our rows back, unless the shop itself
    has the order live now (then OpenCart's own confirm may own rows for it)."""
    current = _order_row(conn, db, ch.order_id)
    if current is None or current.order_status_id in ch.live:
        return
    for table in ("coupon_history", "voucher_history", "customer_reward", "customer_transaction"):
        t = db.t(table)
        where = [t.c.order_id == ch.order_id] + ([t.c.points < 0] if table == "customer_reward" else [])
        conn.execute(sa.delete(t).where(*where))
    if db.layout == "2.3":
        t = db.t("affiliate_transaction")
        conn.execute(sa.delete(t).where(t.c.order_id == ch.order_id))
