"""The Store-level functions integrations call: poll with watermark + phone index, status writes (API or DB)."""

import pytest

from ocbridge.core.models import Exchange, Store
from ocbridge.opencart import (completed_order_count, find_orders_by_phone, order_language, order_status,
                               poll_new_orders, write_history)
from ocbridge.opencart.models import PhoneIndex, PollState
from ocbridge.opencart.phone_index import latest_orders
from ocbridge.opencart.reference import DEFAULT_API_KEY
from ocbridge.simulators.opencart_api import OpenCartApiSimulator

from opencart.opencart_helpers import add_order, scalar

pytestmark = pytest.mark.django_db


def make_store(h, **kw):
    return Store.objects.create(name="Demo", db_url=h.url, secret=kw.pop("secret", {}), table_prefix=h.prefix,
                                oc_store_id=kw.pop("oc_store_id", 0), country="TR", **kw)


def test_first_poll_starts_at_newest_order_then_follows(opencart_db):
    h = opencart_db("3.0")
    add_order(h, 1)
    store = make_store(h)
    assert poll_new_orders(store) == []  # history before we connected is not replayed
    add_order(h, 2, telephone="0532 123 45 67")
    add_order(h, 3, telephone="+90 532 123 4567", store_id=1)
    add_order(h, 4, status=0, telephone="123")
    got = poll_new_orders(store)
    assert [o.order_id for o in got] == [2, 3]
    state = PollState.objects.get(store_db_key=store.db_key)
    assert state.last_order_id == 4 and "4" in state.pending_zero
    assert latest_orders("+905321234567") == [3, 2]
    assert find_orders_by_phone(store, "+905321234567") == [2]  # store_id 0 only
    assert PhoneIndex.objects.count() == 2
    assert poll_new_orders(store) == []
    assert PhoneIndex.objects.count() == 2


@pytest.mark.parametrize("layout", ["3.0", "4.0"])
def test_phone_index_reads_numbers_as_the_shop_holds_them(opencart_db, layout):
    """An order shipped to Russia with `8 9xx…` in a Turkish store is +7…, not "phone invalid"; a field with two
    numbers and labels indexes each number."""
    h = opencart_db(layout)
    store = make_store(h)
    assert poll_new_orders(store) == []
    add_order(h, 1, status=1, telephone="8 912 345 67 89", shipping_country_id=176)  # RU shipping, TR payment
    add_order(h, 2, status=1, telephone="Cep 05321234567/ev 02125551212")  # OpenCart's column: 32 characters
    add_order(h, 3, status=1, telephone="8 912 345 67 89")  # shipped and paid in Turkey: not a Turkish number
    orders = {o.order_id: o for o in poll_new_orders(store)}
    assert orders[1].countries == ("RU", "TR") and orders[2].countries == ("TR",)
    assert latest_orders("+79123456789") == [1]
    assert latest_orders("+905321234567") == [2] and latest_orders("+902125551212") == [2]
    assert sorted(PhoneIndex.objects.values_list("order_id", flat=True)) == [1, 2, 2]
    assert poll_new_orders(store) == [] and PhoneIndex.objects.count() == 3


def test_status_read_language_and_completed_count(opencart_db):
    h = opencart_db("4.0")
    add_order(h, 1, status=5, customer_id=3)
    add_order(h, 2, status=1, customer_id=3, language_id=3)
    store = make_store(h)
    order = __import__("ocbridge.opencart", fromlist=["read_order"]).read_order(store, 2)
    assert order_status(store, 2) == 1
    assert order_language(store, order) == "ru"
    assert completed_order_count(store, order) == 1


def test_write_history_db_path_when_no_api(opencart_db):
    h = opencart_db("3.0")
    add_order(h, 1, status=1)
    store = make_store(h)
    r = write_history(store, 1, expected=1, new=2, comment="ok", notify=False)
    assert (r.written, r.via) == (True, "db")
    r = write_history(store, 1, expected=1, new=7, comment="x")
    assert (r.written, r.current_status) == (False, 2)


@pytest.mark.parametrize("layout", ["3.0", "4.0"])
def test_write_history_api_path_records_exchanges(opencart_db, layout):
    h = opencart_db(layout)
    add_order(h, 1, status=1)
    with OpenCartApiSimulator(h.url, version=layout) as sim:
        store = make_store(h, api_url=sim.base_url + "/", api_username="Default", secret={"api_key": DEFAULT_API_KEY})
        r = write_history(store, 1, expected=1, new=2, comment="Onaylandı", notify=True, key="k1")
        assert (r.written, r.via) == (True, "api")
        moved = write_history(store, 1, expected=1, new=7, comment="x")  # re-read first: it moved on
        assert (moved.written, moved.current_status) == (False, 2)
    assert scalar(h, "SELECT order_status_id FROM oc_order WHERE order_id = 1") == 2
    ex = list(Exchange.objects.filter(store=store).order_by("id"))
    assert [e.purpose for e in ex] == ["opencart.login", "opencart.add_history"]
    assert all(DEFAULT_API_KEY not in (e.url + e.request_body) for e in ex)
    assert ex[-1].key == "k1" and ex[-1].order_id == 1
