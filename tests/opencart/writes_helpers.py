"""Shop rows for the write tests: an order that used a coupon, a voucher, reward points, store credit and an
affiliate, as OpenCart's checkout leaves it; and a snapshot of every table a status change touches."""

import datetime as dt
from decimal import Decimal

import pytest
import sqlalchemy as sa

from ocbridge.core.models import Store
from ocbridge.opencart import writes
from ocbridge.opencart.reference import complete_row

from opencart.opencart_helpers import add_order, add_product

CUSTOMER, AFFILIATE = 5, 9
NOW = dt.datetime(2024, 5, 1, 10)


class Crash(BaseException):
    """A killed worker: nothing may catch it."""


@pytest.fixture
def crash_at():
    def arm(step, when):
        def hook(s, w):
            if (s, w) == (step, when):
                writes.crash_hook = None  # one crash, then the retry runs freely
                raise Crash(f"{step}/{when}")
        writes.crash_hook = hook

    yield arm
    writes.crash_hook = None


def make_store(h, **kw):
    store = Store(name="Demo", db_url=h.url, secret=kw.pop("secret", {}), table_prefix=h.prefix,
                  oc_store_id=kw.pop("oc_store_id", 0), country="TR", **kw)
    existing = store.identity_clash()  # the hub keeps one Store per shop and store id
    if existing is not None:
        return existing
    store.save()
    return store


def set_setting(h, key, value):
    st = h.t("setting")
    with h.engine.begin() as conn:
        conn.execute(sa.delete(st).where(st.c.key == key, st.c.store_id == 0))
        conn.execute(sa.insert(st).values(complete_row(st, {"store_id": 0, "code": "config", "key": key,
                                                            "value": str(value), "serialized": 0})))


def order_with_everything(h, order_id=1, *, status=1, coupon=True, voucher=True, reward=True, credit=True,
                          affiliate=True, product_id=7):
    """An order with one product (and option) and the totals that have confirm/unconfirm in OpenCart."""
    add_product(h, product_id, quantity=10, option_value_qty=5)
    add_order(h, order_id, status=status, product_id=product_id, qty=2, option_value_id=product_id * 10,
              customer_id=CUSTOMER)
    shop = h.shop
    o, ot = shop.t("order"), shop.t("order_total")
    totals = []
    with h.engine.begin() as conn:
        if affiliate:
            conn.execute(sa.update(o).where(o.c.order_id == order_id).values(affiliate_id=AFFILIATE,
                                                                              commission=Decimal("12.5")))
        if coupon:
            _once(conn, shop.t("coupon"), "code", "SAVE10", {
                "name": "Save 10", "code": "SAVE10", "type": "F", "discount": Decimal(10), "logged": 0, "shipping": 0,
                "total": Decimal(0), "date_start": dt.date(2024, 1, 1), "date_end": dt.date(2030, 1, 1),
                "uses_total": 100, "uses_customer": "10", "status": 1, "date_added": NOW})
            totals.append(("coupon", "Coupon (SAVE10)", Decimal("-10"), 2))
        if voucher:
            _once(conn, shop.t("voucher"), "code", "GIFT1", {
                "order_id": 0, "code": "GIFT1", "from_name": "A", "from_email": "a@example.com", "to_name": "B",
                "to_email": "b@example.com", "voucher_theme_id": 8, "message": "", "amount": Decimal(50), "status": 1,
                "date_added": NOW})
            totals.append(("voucher", "Gift Certificate (GIFT1)", Decimal("-20"), 8))
        cr = shop.t("customer_reward")  # the customer holds 300 points
        if not conn.execute(sa.select(cr.c.customer_reward_id).where(cr.c.points > 0)).first():
            conn.execute(sa.insert(cr).values(complete_row(cr, {
                "customer_id": CUSTOMER, "order_id": 0, "description": "welcome", "points": 300, "date_added": NOW})))
        if reward:
            totals.append(("reward", "Reward Points (50)", Decimal("-5"), 2))
        if credit:
            totals.append(("credit", "Store Credit", Decimal("-7"), 7))
        for code, title, value, sort in totals:
            conn.execute(sa.insert(ot).values(complete_row(ot, {
                "order_id": order_id, "code": code, "title": title, "value": value, "sort_order": sort,
                "extension": "opencart"})))


def _once(conn, table, col, value, row):
    if not conn.execute(sa.select(table.c[col]).where(table.c[col] == value)).first():
        conn.execute(sa.insert(table).values(complete_row(table, row)))


SNAPSHOT = {
    "order": ("order_id", "order_status_id"),
    "order_history": ("order_id", "order_status_id", "notify", "comment"),
    "product": ("product_id", "quantity"),
    "product_option_value": ("product_option_value_id", "quantity"),
    "coupon_history": ("order_id", "customer_id", "amount"),  # coupon/voucher ids depend on the database's past
    "voucher_history": ("order_id", "amount"),
    "customer_reward": ("customer_id", "order_id", "description", "points"),
    "customer_transaction": ("customer_id", "order_id", "description", "amount"),
    "affiliate_transaction": ("affiliate_id", "order_id", "description", "amount"),
}


def snapshot(h) -> dict:
    """Every row a status change may touch, without ids and times: equal snapshots = the same change."""
    shop = h.shop
    out = {}
    with h.engine.connect() as conn:
        for name, cols in SNAPSHOT.items():
            if shop.prefix + name not in shop.metadata.tables:
                continue
            t = shop.t(name)
            out[name] = sorted(tuple(str(v) for v in r) for r in conn.execute(sa.select(*[t.c[c] for c in cols])))
    return out


def rows(h, table, **where):
    """A table's rows (where column == value), sorted."""
    t = h.t(table)
    stmt = sa.select(t)
    for k, v in where.items():
        stmt = stmt.where(t.c[k] == v)
    with h.engine.connect() as conn:
        return sorted(tuple(r) for r in conn.execute(stmt))
