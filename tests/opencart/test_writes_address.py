"""The delivery-address write (opencart.writes.update_address): OpenCart's shipping_* columns and a history row at
the unchanged status naming the old address, once per key, only while the order is at the expected status,
finished once after a crash between its steps (MyISAM 2.3/3.0 step by step, InnoDB 4.0 in one transaction)."""

import pytest
import sqlalchemy as sa

from ocbridge.opencart import writes
from ocbridge.opencart.models import ShopWrite

from opencart.opencart_helpers import add_order, set_status
from opencart.writes_helpers import Crash, crash_at, make_store  # noqa: F401  (crash_at is a fixture)

pytestmark = pytest.mark.django_db
NEW = {"shipping_address_1": "Bağdat Cad. 12 & 14", "shipping_address_2": "Daire 3",
       "shipping_city": "İstanbul", "shipping_postcode": "34728"}
COMMENT = "Delivery address corrected by the customer. Before: {old}"


def _order(h, order_id=1):
    add_order(h, order_id, shipping_address_1="Eski Sok. 1", shipping_address_2="", shipping_city="Ankara",
              shipping_postcode="06000")


def _shop(h, order_id=1):
    with h.engine.connect() as conn:
        row = conn.execute(sa.text("SELECT shipping_address_1, shipping_address_2, shipping_city, shipping_postcode, "
                                   "order_status_id FROM oc_order WHERE order_id = :o"), {"o": order_id}).one()
        history = conn.execute(sa.text("SELECT order_status_id, notify, comment FROM oc_order_history "
                                       "WHERE order_id = :o"), {"o": order_id}).all()
    return tuple(row), [tuple(r) for r in history]


@pytest.mark.parametrize("version", ["2.3", "3.0", "4.0"])
def test_the_address_and_one_history_row_naming_the_old_one(opencart_db, version):
    h = opencart_db(version)
    _order(h)
    store = make_store(h)
    r = writes.update_address(store, 1, expected=1, address=NEW, comment=COMMENT, key="addr-1")
    assert (r.written, r.state, r.current_status) == (True, "done", 1)
    order, history = _shop(h)
    assert order == ("Bağdat Cad. 12 &amp; 14", "Daire 3", "İstanbul", "34728", 1)  # escaped as OpenCart stores input
    assert history == [(1, 0, "Delivery address corrected by the customer. Before: Eski Sok. 1, Ankara, 06000")]
    again = writes.update_address(store, 1, expected=1, address=NEW, comment=COMMENT, key="addr-1")
    assert again.repeated and _shop(h) == (order, history)  # the same key: answered from the journal


@pytest.mark.parametrize("version", ["3.0", "4.0"])
def test_an_order_that_left_the_pending_status_is_left_alone(opencart_db, version):
    h = opencart_db(version)
    _order(h)
    set_status(h, 1, 2)
    store = make_store(h)
    r = writes.update_address(store, 1, expected=1, address=NEW, comment=COMMENT, key="addr-2")
    assert (r.written, r.state, r.current_status) == (False, "moved", 2)
    assert _shop(h) == (("Eski Sok. 1", "", "Ankara", "06000", 2), [])
    with pytest.raises(ValueError):
        writes.update_address(store, 1, expected=1, address={"telephone": "1"}, comment=COMMENT, key="addr-3")


@pytest.mark.parametrize("version,step,when", [("3.0", "address", "after"), ("3.0", "history", "after"),
                                               ("4.0", "address", "after"), ("2.3", "address", "before")])
def test_a_crash_between_the_steps_then_the_retry_equals_one_clean_write(opencart_db, crash_at, version, step, when):
    h = opencart_db(version)
    _order(h)
    store = make_store(h)
    crash_at(step, when)
    with pytest.raises(Crash):
        writes.update_address(store, 1, expected=1, address=NEW, comment=COMMENT, key="addr-4")
    r = writes.update_address(store, 1, expected=1, address=NEW, comment=COMMENT, key="addr-4")
    assert (r.written, r.state) == (True, "done")
    order, history = _shop(h)
    assert order[:4] == ("Bağdat Cad. 12 &amp; 14", "Daire 3", "İstanbul", "34728")
    assert history == [(1, 0, "Delivery address corrected by the customer. Before: Eski Sok. 1, Ankara, 06000")]
    assert ShopWrite.objects.get(key="addr-4").kind == "address"
