"""The seed generator: realistic, varied, consistent rows, fast enough for benchmarks."""

import json

import pytest

import sqlalchemy as sa

from ocbridge.opencart import orders, phones
from ocbridge.opencart.orders import PollWatermark
from ocbridge.opencart.seed import seed


def rows(h, sql):
    with h.engine.connect() as conn:
        return conn.execute(sa.text(sql)).all()


def test_seeded_orders_are_varied_and_consistent(opencart_db):
    h = opencart_db("3.0")
    report = seed(h.engine, version="3.0", orders=3000, create=False)
    assert report.orders == 3000 and report.rows["order"] == 3000
    statuses = dict(rows(h, "SELECT order_status_id, COUNT(*) FROM oc_order GROUP BY order_status_id"))
    assert 0 in statuses and {1, 2, 3, 5, 7} <= set(statuses)
    codes = {c for (c,) in rows(h, "SELECT DISTINCT payment_code FROM oc_order")}
    assert {"cod", "kapida_odeme", "bank_transfer", "free_checkout"} <= codes
    assert rows(h, "SELECT payment_method FROM oc_order WHERE payment_code = 'kapida_odeme' LIMIT 1")[0][0] == "Kapıda Ödeme"
    assert {s for (s,) in rows(h, "SELECT DISTINCT store_id FROM oc_order")} == {0, 1}
    phones_raw = [p for (p,) in rows(h, "SELECT telephone FROM oc_order")]
    tr = sum(1 for p in phones_raw if phones.normalize(p, "TR") and phones.normalize(p, "TR").startswith("+90"))
    ru = sum(1 for p in phones_raw if phones.normalize(p, "RU") and phones.normalize(p, "RU").startswith("+7"))
    broken = sum(1 for p in phones_raw if phones.normalize(p, "TR") is None and phones.normalize(p, "RU") is None)
    assert tr > 1500 and ru > 300 and broken > 10
    assert any(p.startswith("0090 ") for p in phones_raw) and any(p.startswith("0 (5") for p in phones_raw)
    assert any(p.startswith("+7 (") for p in phones_raw) and any(p.startswith("8 9") for p in phones_raw)
    # every order has lines and totals that add up; history only for confirmed orders
    assert rows(h, "SELECT COUNT(*) FROM oc_order o WHERE NOT EXISTS "
                   "(SELECT 1 FROM oc_order_product p WHERE p.order_id = o.order_id)")[0][0] == 0
    assert rows(h, "SELECT COUNT(*) FROM oc_order o JOIN oc_order_total t ON t.order_id = o.order_id "
                   "AND t.code = 'total' WHERE t.value <> o.total")[0][0] == 0
    assert rows(h, "SELECT COUNT(*) FROM oc_order_history WHERE order_status_id = 0")[0][0] == 0
    assert rows(h, "SELECT COUNT(*) FROM oc_order_option")[0][0] > 0
    # the adapter reads them: Russian orders in store 1 with Cyrillic names
    o = orders.read_orders(h.shop, [r[0] for r in rows(h, "SELECT order_id FROM oc_order WHERE store_id = 1 LIMIT 3")])
    assert all(x.currency_code == "RUB" and x.language_id == 3 for x in o.values())


def test_seed_40_json_methods_and_appending(opencart_db):
    h = opencart_db("4.0")
    seed(h.engine, version="4.0", orders=500, create=False)
    seed(h.engine, version="4.0", orders=500, create=False, seed=2)  # appends after what is there
    assert rows(h, "SELECT COUNT(*), MAX(order_id) FROM oc_order")[0] == (1000, 1000)
    methods = [json.loads(m) for (m,) in rows(h, "SELECT payment_method FROM oc_order")]
    assert {m["code"] for m in methods} >= {"cod.cod", "kapida_odeme.kapida_odeme", "bank_transfer.bank_transfer"}
    r = orders.poll(h.shop, PollWatermark(last_order_id=900), now=__import__("datetime").datetime.now(
        __import__("datetime").timezone.utc))
    assert r.orders and {o.payment_code for o in r.orders} <= {"cod", "kapida_odeme", "bank_transfer",
                                                               "free_checkout", "iyzico"}


def test_seed_sqlite_demo(opencart_sqlite):
    h = opencart_sqlite("3.0")
    report = seed(h.engine, version="3.0", orders=300, create=False)
    assert report.method == "multi-row INSERT"
    assert rows(h, "SELECT COUNT(*) FROM oc_order")[0][0] == 300


@pytest.mark.parametrize("version", ["2.3", "3.0", "4.0"])
def test_the_seeded_products_option_and_its_values_exist_in_every_layout(opencart_sqlite, version):
    """The products' size option names option 11 and values 46-48: their `option*` rows are seeded too, so a
    catalogue read (OneBox's products out) gives the option and its values with their names."""
    from ocbridge.opencart import catalog

    h = opencart_sqlite(version)
    seed(h.engine, version=version, orders=20, create=False)
    assert rows(h, "SELECT COUNT(*) FROM oc_product_option po WHERE NOT EXISTS "
                   "(SELECT 1 FROM oc_option o WHERE o.option_id = po.option_id)")[0][0] == 0
    assert rows(h, "SELECT COUNT(*) FROM oc_product_option_value pov WHERE NOT EXISTS (SELECT 1 FROM oc_option_value "
                   "v WHERE v.option_value_id = pov.option_value_id AND v.option_id = pov.option_id)")[0][0] == 0
    [size] = catalog.product_options(h.shop, [4])[4]
    assert size["option_id"] == 11 and size["names"] == {1: "Size", 2: "Beden", 3: "Размер"}
    assert [(v["option_value_id"], v["names"][2]) for v in size["values"]] == [(46, "S"), (47, "M"), (48, "L")]


# Tables a demo shop made before 2026-12-06 did not have (the layouts gained them with the catalogue writes).
ADDED_SINCE = ["customer_group", "customer_group_description", "category_path", "category_to_store", "filter",
               "filter_description", "filter_group_description", "product_filter", "product_discount",
               "manufacturer_to_store", "option_description", "option_value_description"]


@pytest.mark.django_db
def test_an_older_demo_shop_gains_the_missing_tables_and_keeps_its_orders(tmp_path, settings):
    from ocbridge.demo.setup import DemoSetup

    settings.DATA_DIR = tmp_path
    demo = DemoSetup(data_dir=tmp_path, port=8765, speed=1.0)
    url = demo.ensure_shop(orders=40)
    assert demo.upgraded == []
    engine = sa.create_engine(url)
    with engine.begin() as conn:  # as an older ocbridge left it
        for name in ADDED_SINCE:
            conn.execute(sa.text(f"DROP TABLE oc_{name}"))
        for name in ("option", "option_value"):  # there, but empty: its products named option 11 all the same
            conn.execute(sa.text(f"DELETE FROM oc_{name}"))
        conn.execute(sa.text("UPDATE oc_customer SET firstname = 'Kept' WHERE customer_id = 1"))
    demo = DemoSetup(data_dir=tmp_path, port=8765, speed=1.0)
    assert demo.ensure_shop(orders=40) == url
    assert demo.upgraded == sorted(ADDED_SINCE)
    with engine.connect() as conn:
        q = lambda sql: conn.execute(sa.text(sql)).all()  # noqa: E731
        assert q("SELECT COUNT(*) FROM oc_order")[0][0] == 40
        assert q("SELECT firstname FROM oc_customer WHERE customer_id = 1") == [("Kept",)]
        assert q("SELECT customer_group_id FROM oc_customer_group") == [(1,)]
        assert q("SELECT language_id, name FROM oc_customer_group_description ORDER BY language_id") == [
            (1, "Default"), (2, "Varsayılan"), (3, "По умолчанию")]
        assert q("SELECT category_id, path_id, level FROM oc_category_path ORDER BY category_id") == [
            (1, 1, 0), (2, 2, 0), (3, 3, 0)]
        assert q("SELECT COUNT(*) FROM oc_category_to_store")[0][0] == 6
        assert q("SELECT option_id, type FROM oc_option") == [(11, "select")]
        assert q("SELECT option_value_id FROM oc_option_value ORDER BY option_value_id") == [(46,), (47,), (48,)]
        assert q("SELECT name FROM oc_option_description WHERE language_id = 2") == [("Beden",)]
    demo = DemoSetup(data_dir=tmp_path, port=8765, speed=1.0)
    demo.ensure_shop(orders=40)
    assert demo.upgraded == []  # nothing more to add; nothing added twice
    # what OneBox's contacts need of it now works: a customer group and a customer written the admin's way
    from ocbridge.core.models import Store
    from ocbridge.opencart import writes

    store = Store.objects.create(name="Demo", db_url=url, version="3.0", country="TR")
    group = writes.upsert_customer_group(store, {1: "Wholesale"}, key="demo-g")
    made = writes.upsert_customer(store, {"firstname": "Ayşe", "lastname": "Yılmaz", "email": "ayse@example.com",
                                          "telephone": "+905321234567"}, customer_group_id=group.customer_group_id,
                                  key="demo-c")
    with engine.connect() as conn:
        assert conn.execute(sa.text(f"SELECT customer_group_id FROM oc_customer WHERE customer_id = "
                                    f"{made.customer_id}")).scalar() == group.customer_group_id
