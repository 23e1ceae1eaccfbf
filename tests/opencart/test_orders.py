"""Reading orders, payment-code normalization, the watermark poll (status-0 look-back, no table scans)."""

import datetime as dt

import pytest
import sqlalchemy as sa

from ocbridge.opencart import orders, statuses
from ocbridge.opencart.db import connection_lost, reader
from ocbridge.opencart.orders import PollWatermark, payment_code_of

from opencart.opencart_helpers import add_order, add_product, set_status

VERSIONS = ["2.3", "3.0", "4.0"]
NOW = dt.datetime(2024, 6, 1, 12, tzinfo=dt.timezone.utc)


@pytest.mark.parametrize("version", VERSIONS)
def test_read_order_with_lines_totals_and_unescaped_text(opencart_db, version):
    h = opencart_db(version)
    add_product(h, 7, option_value_qty=5)
    add_order(h, 1, product_id=7, option_value_id=70, qty=2, store_id=1, language_id=3)
    o = orders.read_order(h.shop, 1)
    assert (o.order_id, o.store_id, o.language_id, o.order_status_id) == (1, 1, 3, 1)
    assert o.language_code == "ru-ru"  # read with the order: consumers never read the shop inside a hub transaction
    assert o.lastname == "Yılmaz & Oğlu"
    assert o.payment_code == "cod" and o.payment_method == "Kapıda Ödeme"
    assert o.telephone == "0532 123 45 67" and o.currency_code == "TRY"
    assert o.item_count == 2 and o.lines[0].options[0]["product_option_value_id"] == 70
    assert o.totals[0]["code"] == "total"
    assert orders.read_order(h.shop, 999) is None


@pytest.mark.parametrize("version", VERSIONS)
def test_the_spoken_columns_read_what_order_status_by_phone_speaks_and_only_that(opencart_db, version):
    h = opencart_db(version)
    add_product(h, 7)
    add_order(h, 1, product_id=7, store_id=1, language_id=3)
    full = orders.read_order(h.shop, 1, lines=False)
    spoken = orders.read_order(h.shop, 1, lines=False, columns=orders.SPOKEN_COLUMNS)
    same = ("order_id", "store_id", "order_status_id", "telephone", "total", "currency_code", "language_id",
            "date_added", "countries")
    assert {f: getattr(spoken, f) for f in same} == {f: getattr(full, f) for f in same}
    assert full.countries and full.lastname  # the fields compared are filled, the others are not read
    assert (spoken.lastname, spoken.email, spoken.comment, spoken.language_code) == ("", "", "", "")
    stmt = str(orders._orders_by_ids(h.shop, orders.SPOKEN_COLUMNS))
    assert "lastname" not in stmt and "payment_method" not in stmt


@pytest.mark.parametrize("version", VERSIONS)
def test_orders_read_now_are_what_read_orders_reads(opencart_db, version):
    """The read of a caller's orders (order status by phone) goes to the driver's cursor, not through SQLAlchemy's
    Connection: the same orders, the same fields, per layout."""
    h = opencart_db(version)
    add_product(h, 7)
    for oid in (1, 2, 3):
        add_order(h, oid, product_id=7, store_id=oid % 2, language_id=3)
    cols = orders.FOUND_BY_PHONE_COLUMNS
    now = orders.read_orders_now(h.shop, [3, 1, 999, 1], cols)
    assert sorted(now) == [1, 3]
    assert now == orders.read_orders(h.shop, [1, 3, 999], lines=False, columns=cols)
    assert now[1].telephone == "0532 123 45 67" and now[1].language_id == 3 and now[1].date_added


def test_orders_read_now_on_a_dropped_connection_say_so_and_leave_the_pool(opencart_db):
    """A pooled connection the server has closed (restart, wait_timeout): the error says the connection was lost
    (order lookup tries once more, anew — db.connection_lost) and the pool does not hand that connection out again."""
    h = opencart_db("3.0")
    add_product(h, 7)
    add_order(h, 1, product_id=7)
    shop, cols = reader(h.url, h.prefix), orders.FOUND_BY_PHONE_COLUMNS  # order lookup's: never pinged
    assert list(orders.read_orders_now(shop, [1], cols)) == [1]
    raw = shop.engine.raw_connection()
    cur = raw.cursor()
    cur.execute("SELECT CONNECTION_ID()")
    (pooled,) = cur.fetchone()
    cur.close()
    with h.engine.connect() as other:  # the test's own engine
        other.execute(sa.text(f"KILL CONNECTION {int(pooled)}"))
    raw.close()  # back in the pool, dead
    with pytest.raises(Exception) as caught:
        orders.read_orders_now(shop, [1], cols)
    assert connection_lost(caught.value), caught.value
    assert list(orders.read_orders_now(shop, [1], cols)) == [1]  # a new connection


def test_read_order_on_sqlite_demo(opencart_sqlite):
    h = opencart_sqlite("3.0")
    add_product(h, 7)
    add_order(h, 1, product_id=7)
    assert orders.read_order(h.shop, 1).item_count == 2


@pytest.mark.parametrize("row,code", [
    ({"payment_code": "cod"}, "cod"),
    ({"payment_code": "cod.cod"}, "cod"),
    ({"payment_code": "kapida_odeme"}, "kapida_odeme"),
    ({"payment_method": '{"name": "Kapıda Ödeme", "code": "kapida_odeme.kapida_odeme"}'}, "kapida_odeme"),
    ({"payment_method": '{"name": "Cash", "code": "cod.cod"}'}, "cod"),
    ({"payment_method": "Bank Transfer", "payment_code": "bank_transfer"}, "bank_transfer"),
    ({"payment_method": "not json"}, ""),
])
def test_payment_code_normalized(row, code):
    assert payment_code_of(row) == code


@pytest.mark.parametrize("version", ["3.0", "4.0.0", "4.0"])
def test_payment_code_per_version(opencart_db, version):
    h = opencart_db(version)
    add_order(h, 1, payment="cod.cod" if version == "4.0.0" else "cod")
    add_order(h, 2, payment="kapida_odeme", title="Kapıda Ödeme")
    got = orders.read_orders(h.shop, [1, 2], lines=False)
    assert (got[1].payment_code, got[2].payment_code) == ("cod", "kapida_odeme")


@pytest.mark.parametrize("version", VERSIONS)
def test_poll_watermark_and_status_zero_lookback(opencart_db, version):
    h = opencart_db(version)
    add_product(h, 7)
    add_order(h, 1, product_id=7)
    add_order(h, 2, status=0, product_id=7)  # checkout not finished yet
    first = orders.poll(h.shop, PollWatermark(), now=NOW)
    assert [o.order_id for o in first.orders] == [1]
    assert first.watermark.last_order_id == 2 and "2" in first.watermark.pending
    add_order(h, 3, product_id=7)
    set_status(h, 2, 1)  # payment callback confirms order 2 after 3 exists
    second = orders.poll(h.shop, first.watermark, now=NOW + dt.timedelta(minutes=1))
    assert [o.order_id for o in second.orders] == [2, 3]
    assert all(o.item_count == 2 for o in second.orders)  # lines found via the remembered id floor
    assert second.watermark.pending == {}
    assert orders.poll(h.shop, second.watermark, now=NOW + dt.timedelta(minutes=2)).orders == []


def test_status_zero_dropped_after_24h(opencart_db):
    h = opencart_db("3.0")
    add_order(h, 1, status=0)
    mark = orders.poll(h.shop, PollWatermark(), now=NOW).watermark
    mark = orders.poll(h.shop, mark, now=NOW + dt.timedelta(hours=23)).watermark
    assert "1" in mark.pending
    mark = orders.poll(h.shop, mark, now=NOW + dt.timedelta(hours=25)).watermark
    assert mark.pending == {}


def test_skipped_ids_get_a_second_look(opencart_db):
    h = opencart_db("4.0")
    add_order(h, 1)
    add_order(h, 3)  # 2 not committed yet (InnoDB commit order) or deleted
    r = orders.poll(h.shop, PollWatermark(), now=NOW)
    assert [o.order_id for o in r.orders] == [1, 3] and r.watermark.pending["2"]["gap"] is True
    add_order(h, 2)
    r2 = orders.poll(h.shop, r.watermark, now=NOW + dt.timedelta(seconds=15))
    assert [o.order_id for o in r2.orders] == [2]
    r3 = orders.poll(h.shop, PollWatermark.from_json(r.watermark.to_json()), now=NOW + dt.timedelta(hours=1))
    assert "2" not in r3.watermark.pending or r3.orders


def test_poll_batches_with_more_flag(opencart_db):
    h = opencart_db("3.0")
    for i in range(1, 8):
        add_order(h, i)
    r = orders.poll(h.shop, PollWatermark(), now=NOW, limit=5)
    assert len(r.orders) == 5 and r.more and r.watermark.last_order_id == 5
    r = orders.poll(h.shop, r.watermark, now=NOW, limit=5)
    assert [o.order_id for o in r.orders] == [6, 7] and not r.more


@pytest.mark.parametrize("version", ["2.3", "3.0", "4.0"])
def test_poll_queries_use_primary_key(opencart_db, version):
    """EXPLAIN every statement the poll sends: each order/order_option/order_product access is a key access."""
    h = opencart_db(version, orders=400)
    statements = []
    with h.engine.connect() as conn:  # the watermark a poll after order 380 would have left (pending 375)
        floors = {n: conn.execute(sa.text(f"SELECT MAX({n}_id) FROM oc_{n} WHERE order_id <= :o"), {"o": o}).scalar()
                  for n, o in (("order_product", 380), ("order_option", 380))}
        pend = {n: conn.execute(sa.text(f"SELECT MAX({n}_id) FROM oc_{n} WHERE order_id < 375")).scalar()
                for n in ("order_product", "order_option")}

    def capture(conn, cursor, statement, parameters, context, executemany):
        if statement.lstrip().upper().startswith("SELECT"):
            statements.append((statement, parameters))

    sa.event.listen(h.shop.engine, "before_cursor_execute", capture)
    try:
        mark = PollWatermark(last_order_id=380, last_order_product_id=floors["order_product"],
                             last_order_option_id=floors["order_option"],
                             pending={"375": {"seen": NOW.isoformat(), "op": pend["order_product"],
                                              "oo": pend["order_option"], "gap": False}})
        set_status(h, 375, 1)
        r = orders.poll(h.shop, mark, now=NOW)
    finally:
        sa.event.remove(h.shop.engine, "before_cursor_execute", capture)
    assert r.orders and r.orders[0].order_id == 375 and all(o.lines for o in r.orders)
    with h.engine.connect() as conn:
        for sql, params in statements:
            for row in conn.exec_driver_sql("EXPLAIN " + sql, params).mappings():
                if row["table"] is None:  # "Select tables optimized away" (MAX of a primary key)
                    continue
                assert row["type"] != "ALL", (sql, dict(row))
                if row["table"] == "oc_order":
                    assert row["key"] == "PRIMARY", (sql, dict(row))


@pytest.mark.parametrize("version", ["2.3", "3.0", "4.0"])
def test_a_quiet_shop_costs_one_statement_and_each_change_is_seen(opencart_db, version):
    """The probe (newest ids + the followed status-0 orders) stands for the whole read when nothing moved; a new
    order, a status-0 order finishing checkout, a skipped id showing up and new lines each make the poll read on."""
    h = opencart_db(version)
    add_order(h, 1)
    add_order(h, 2, status=0)
    add_order(h, 4)  # 3: skipped (not committed yet)
    mark = orders.poll(h.shop, PollWatermark(), now=NOW).watermark
    assert set(mark.pending) == {"2", "3"}
    statements = []

    def capture(conn, cursor, statement, parameters, context, executemany):
        statements.append(statement)

    sa.event.listen(h.shop.engine, "before_cursor_execute", capture)
    try:
        quiet = orders.poll(h.shop, mark, now=NOW + dt.timedelta(seconds=15))
        assert (quiet.orders, quiet.watermark.to_json(), len(statements)) == ([], mark.to_json(), 1)
        with h.engine.connect() as conn:
            assert quiet.history_top == (conn.execute(sa.text("SELECT MAX(order_history_id) FROM oc_order_history"))
                                         .scalar() or 0)
        add_order(h, 3, status=0)  # the skipped id turns up, still in checkout: followed as a status-0 order now
        statements.clear()
        seen = orders.poll(h.shop, mark, now=NOW + dt.timedelta(seconds=30))
        assert seen.orders == [] and seen.watermark.pending["3"]["gap"] is False and len(statements) > 1
        mark = seen.watermark
        set_status(h, 2, 1)
        assert [o.order_id for o in orders.poll(h.shop, mark, now=NOW + dt.timedelta(seconds=45)).orders] == [2]
        add_order(h, 5)
        assert [o.order_id for o in orders.poll(h.shop, mark, now=NOW + dt.timedelta(seconds=45)).orders] == [2, 5]
    finally:
        sa.event.remove(h.shop.engine, "before_cursor_execute", capture)


def test_history_watermark(opencart_db):
    h = opencart_db("3.0", orders=50)
    events = orders.poll_history(h.shop, 0, limit=10)
    assert len(events) == 10 and events == sorted(events, key=lambda e: e.order_history_id)
    assert orders.poll_history(h.shop, events[-1].order_history_id, limit=1)[0].order_history_id > events[-1].order_history_id


def test_completed_order_count_by_customer_and_email(opencart_db):
    h = opencart_db("3.0")
    add_order(h, 1, status=5, customer_id=9)
    add_order(h, 2, status=3, email="g@example.com")
    add_order(h, 3, status=7, customer_id=9)
    add_order(h, 4, status=1, customer_id=9, email="g@example.com")
    assert orders.completed_order_count(h.shop, customer_id=9, statuses={5, 3}, before_order_id=4) == 1
    assert orders.completed_order_count(h.shop, customer_id=9, email="g@example.com", statuses={5, 3},
                                        before_order_id=4) == 2
    assert orders.completed_order_count(h.shop, customer_id=9, statuses={5, 3}, before_order_id=4, window=2) == 0


def test_statuses_per_language_and_settings_cascade(opencart_db):
    h = opencart_db("3.0")
    assert statuses.statuses(h.shop, 2)[1] == "Beklemede"
    assert statuses.statuses(h.shop)[3][5] == "Выполнен"
    s0, s1 = statuses.read_settings(h.shop, 0), statuses.read_settings(h.shop, 1)
    assert s0.live == {1, 2, 3, 5, 12} and s0.complete == {3, 5}
    assert (s0.language_code, s1.language_code, s1.name) == ("tr-tr", "ru-ru", "İkinci Mağaza")
    assert s0.timezone == "Europe/Istanbul"


def test_php_serialized_settings_are_read():
    assert statuses.parse_setting('a:2:{i:0;s:1:"5";i:1;s:1:"3";}', 1) == ["5", "3"]
    assert statuses.parse_setting('["5","3"]', 1) == ["5", "3"]
