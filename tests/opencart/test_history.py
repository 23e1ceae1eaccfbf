"""Writing order history by the database path: compare-and-set, stock rule, repeat safety, time zone."""

import datetime as dt

import pytest
import sqlalchemy as sa

from ocbridge.core.errors import TerminalError
from ocbridge.opencart import history

from opencart.opencart_helpers import add_order, add_product, scalar, set_status

VERSIONS = ["2.3", "3.0", "4.0"]


@pytest.mark.parametrize("version", VERSIONS)
def test_cas_write_sets_status_and_adds_history(opencart_db, version):
    h = opencart_db(version)
    add_product(h, 7, quantity=10)
    add_order(h, 1, status=0, product_id=7, qty=2)
    # 0 → Pending (1) enters processing ∪ complete: stock is taken, as OpenCart's model does
    r = history.write_history(h.shop, 1, expected=0, new=1, comment='Onaylandı "telefonla" & <ok>', notify=True)
    assert r.written and r.current_status == 1 and r.stock == "subtracted"
    assert scalar(h, "SELECT order_status_id FROM oc_order WHERE order_id = 1") == 1
    assert scalar(h, "SELECT quantity FROM oc_product WHERE product_id = 7") == 8
    row = h.engine.connect().execute(sa.text("SELECT * FROM oc_order_history WHERE order_id = 1")).mappings().one()
    assert row["order_status_id"] == 1 and row["notify"] == 1
    assert row["comment"] == "Onaylandı &quot;telefonla&quot; &amp; &lt;ok&gt;"  # escaped like OpenCart's input


@pytest.mark.parametrize("version", VERSIONS)
def test_status_moved_on_means_no_write(opencart_db, version):
    h = opencart_db(version)
    add_order(h, 1, status=1)
    set_status(h, 1, 7)  # the shop owner cancelled it meanwhile
    r = history.write_history(h.shop, 1, expected=1, new=2, comment="x")
    assert (r.written, r.current_status) == (False, 7)
    assert scalar(h, "SELECT COUNT(*) FROM oc_order_history") == 0


def test_status_zero_and_unknown_status_refused(opencart_db):
    h = opencart_db("3.0")
    add_order(h, 1, status=1)
    with pytest.raises(TerminalError, match="status 0"):
        history.write_history(h.shop, 1, expected=1, new=0)
    with pytest.raises(TerminalError, match="does not exist"):
        history.write_history(h.shop, 1, expected=1, new=4)  # there is no status 4
    with pytest.raises(TerminalError, match="Order 99"):
        history.write_history(h.shop, 99, expected=1, new=2)
    assert scalar(h, "SELECT order_status_id FROM oc_order WHERE order_id = 1") == 1


@pytest.mark.parametrize("version", VERSIONS)
def test_leaving_live_statuses_restores_stock_and_options(opencart_db, version):
    h = opencart_db(version)
    add_product(h, 7, quantity=10, option_value_qty=5)
    add_order(h, 1, status=1, product_id=7, qty=3, option_value_id=70)
    r = history.write_history(h.shop, 1, expected=1, new=7, comment="iptal")  # → Canceled
    assert r.stock == "restored"
    assert scalar(h, "SELECT quantity FROM oc_product WHERE product_id = 7") == 13
    assert scalar(h, "SELECT quantity FROM oc_product_option_value WHERE product_option_value_id = 70") == 8
    # inside processing ∪ complete nothing moves
    add_order(h, 2, status=1, product_id=7, qty=1)
    assert history.write_history(h.shop, 2, expected=1, new=2).stock == ""
    assert scalar(h, "SELECT quantity FROM oc_product WHERE product_id = 7") == 13


def test_stock_only_where_subtract_is_set(opencart_db):
    h = opencart_db("3.0")
    add_product(h, 8, quantity=10, subtract=0)
    add_order(h, 1, status=0, product_id=8, qty=4)
    history.write_history(h.shop, 1, expected=0, new=1)
    assert scalar(h, "SELECT quantity FROM oc_product WHERE product_id = 8") == 10


@pytest.mark.parametrize("version", ["3.0", "4.0"])
def test_repeat_is_safe(opencart_db, version):
    h = opencart_db(version)
    add_product(h, 7, quantity=10)
    add_order(h, 1, status=7, product_id=7, qty=1)
    first = history.write_history(h.shop, 1, expected=7, new=2, comment="ok")
    again = history.write_history(h.shop, 1, expected=7, new=2, comment="ok")
    assert first.written and again.written and again.repeated and again.history_id == first.history_id
    assert scalar(h, "SELECT COUNT(*) FROM oc_order_history") == 1
    assert scalar(h, "SELECT quantity FROM oc_product WHERE product_id = 7") == 9  # taken once


def test_repeat_after_crash_between_update_and_insert_finishes_history(opencart_db):
    h = opencart_db("3.0")
    add_order(h, 1, status=1)
    with h.engine.begin() as conn:  # the history row OpenCart wrote when the order got status 1
        conn.execute(sa.text("INSERT INTO oc_order_history (order_id, order_status_id, notify, comment, date_added) "
                             "VALUES (1, 1, 0, '', NOW())"))
    set_status(h, 1, 2)  # our UPDATE ran, then the process died
    r = history.write_history(h.shop, 1, expected=1, new=2, comment="ok")
    assert r.written and r.repeated
    assert scalar(h, "SELECT COUNT(*) FROM oc_order_history WHERE order_status_id = 2") == 1


@pytest.mark.parametrize("version", ["3.0", "4.0"])
def test_now_is_the_shops_local_time(opencart_db, version):
    h = opencart_db(version)  # config_timezone Europe/Istanbul = UTC+3, server runs in UTC
    add_order(h, 1, status=1)
    history.write_history(h.shop, 1, expected=1, new=2)
    written = scalar(h, "SELECT date_modified FROM oc_order WHERE order_id = 1")
    utc = scalar(h, "SELECT UTC_TIMESTAMP()")
    assert abs((written - utc) - dt.timedelta(hours=3)) < dt.timedelta(seconds=30)


def test_db_path_on_sqlite_demo(opencart_sqlite):
    h = opencart_sqlite("3.0")
    add_product(h, 7, quantity=10)
    add_order(h, 1, status=0, product_id=7, qty=2)
    r = history.write_history(h.shop, 1, expected=0, new=1, comment="ok")
    assert r.written and scalar(h, "SELECT quantity FROM oc_product WHERE product_id = 7") == 8
    assert scalar(h, "SELECT COUNT(*) FROM oc_order_history") == 1
