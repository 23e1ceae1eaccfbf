"""The database path's shared pieces: OpenCart's stock rule, the shop's local time, the SQLite demo shop."""

import datetime as dt

import pytest

from ocbridge.opencart import writes

from opencart.opencart_helpers import add_order, add_product, scalar
from opencart.writes_helpers import make_store

pytestmark = pytest.mark.django_db
VERSIONS = ["2.3", "3.0", "4.0"]


@pytest.mark.parametrize("version", VERSIONS)
def test_leaving_live_statuses_restores_stock_and_options(opencart_db, version):
    h = opencart_db(version)
    add_product(h, 7, quantity=10, option_value_qty=5)
    add_order(h, 1, status=1, product_id=7, qty=3, option_value_id=70)
    store = make_store(h)
    r = writes.change_status(store, 1, expected=1, new=7, comment="iptal", key="a")  # → Canceled
    assert r.stock == "restored"
    assert scalar(h, "SELECT quantity FROM oc_product WHERE product_id = 7") == 13
    assert scalar(h, "SELECT quantity FROM oc_product_option_value WHERE product_option_value_id = 70") == 8
    # inside processing ∪ complete nothing moves
    add_order(h, 2, status=1, product_id=7, qty=1)
    assert writes.change_status(store, 2, expected=1, new=2, key="b").stock == ""
    assert scalar(h, "SELECT quantity FROM oc_product WHERE product_id = 7") == 13


def test_same_product_on_two_lines_moves_by_the_sum(opencart_db):
    """The status and stock move in one multi-table UPDATE, which changes each row once: quantities are summed."""
    h = opencart_db("3.0")
    add_product(h, 7, quantity=10)
    add_order(h, 1, status=0, product_id=7, qty=2)
    with h.engine.begin() as conn:
        conn.exec_driver_sql("INSERT INTO oc_order_product (order_id, product_id, name, model, quantity, price, total, "
                             "tax, reward) VALUES (1, 7, 'x', 'M', 3, 1, 3, 0, 0)")
    writes.change_status(make_store(h), 1, expected=0, new=1, key="a")
    assert scalar(h, "SELECT quantity FROM oc_product WHERE product_id = 7") == 5


def test_stock_only_where_subtract_is_set(opencart_db):
    h = opencart_db("3.0")
    add_product(h, 8, quantity=10, subtract=0)
    add_order(h, 1, status=0, product_id=8, qty=4)
    writes.change_status(make_store(h), 1, expected=0, new=1, key="a")
    assert scalar(h, "SELECT quantity FROM oc_product WHERE product_id = 8") == 10
    assert scalar(h, "SELECT order_status_id FROM oc_order WHERE order_id = 1") == 1


@pytest.mark.parametrize("version", ["3.0", "4.0"])
def test_now_is_the_shops_local_time(opencart_db, version):
    h = opencart_db(version)  # config_timezone Europe/Istanbul = UTC+3, server runs in UTC
    add_order(h, 1, status=1)
    writes.change_status(make_store(h), 1, expected=1, new=2, key="a")
    written = scalar(h, "SELECT date_modified FROM oc_order WHERE order_id = 1")
    utc = scalar(h, "SELECT UTC_TIMESTAMP()")
    assert abs((written - utc) - dt.timedelta(hours=3)) < dt.timedelta(seconds=30)


@pytest.mark.parametrize("version, config_timezone, hours", [
    ("2.3", "Europe/Istanbul", 5),  # 2.3 never reads config_timezone: the server's zone (+05:00 here)
    ("4.0", "", 0),  # 4.0 without one: UTC (system/framework.php), not the server's zone
])
def test_the_database_path_stamps_dates_in_the_zone_the_shops_own_code_uses(opencart_db, server_zone, version,
                                                                             config_timezone, hours):
    """opencart.shop_time: the hub's NOW() is OpenCart's for the version — before, 2.3 took a config_timezone row
    it never reads, and 4.0 without one wrote in the server's zone instead of UTC."""
    import sqlalchemy as sa

    h = opencart_db(version)
    t = h.t("setting")
    with h.engine.begin() as conn:
        conn.execute(sa.delete(t).where(t.c.key == "config_timezone"))
        if config_timezone:
            conn.execute(sa.insert(t).values(store_id=0, code="config", key="config_timezone", value=config_timezone,
                                             serialized=0))
    server_zone("+05:00")
    add_order(h, 1, status=1)
    writes.change_status(make_store(h), 1, expected=1, new=2, key="a")
    written = scalar(h, "SELECT date_modified FROM oc_order WHERE order_id = 1")
    history = scalar(h, "SELECT date_added FROM oc_order_history WHERE order_id = 1 ORDER BY order_history_id DESC")
    utc = scalar(h, "SELECT UTC_TIMESTAMP()")
    for stamp in (written, history):
        assert abs((stamp - utc) - dt.timedelta(hours=hours)) < dt.timedelta(seconds=30)


def test_db_path_on_sqlite_demo(opencart_sqlite):
    h = opencart_sqlite("3.0")
    add_product(h, 7, quantity=10)
    add_order(h, 1, status=0, product_id=7, qty=2)
    r = writes.change_status(make_store(h), 1, expected=0, new=1, comment="ok", key="a")
    assert r.written and scalar(h, "SELECT quantity FROM oc_product WHERE product_id = 7") == 8
    assert scalar(h, "SELECT COUNT(*) FROM oc_order_history") == 1
