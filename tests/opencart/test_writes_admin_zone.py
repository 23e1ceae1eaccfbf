"""What the hub saves as OpenCart's admin would (products, categories, customers) is stamped in store 0's zone, as the
admin stamps it whichever store the record is for: the admin loads store 0's settings only and syncs its session
zone to that config_timezone (admin/controller/startup/startup.php of 3.0.3.7–3.0.4.1 `WHERE store_id = '0'`,
admin/controller/startup/setting.php of 4.0.0.0–4.0.2.3 getSettings(0)). Orders keep their own store's zone."""

import datetime as dt
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa

from ocbridge.opencart import writes
from ocbridge.opencart.writes import CategoryDraft, CategoryText, ProductDraft, Text

from opencart.writes_helpers import make_store

pytestmark = pytest.mark.django_db
ADMIN, OWN = "Pacific/Auckland", "America/Los_Angeles"  # 21 hours apart in December (NZDT +13, PST -8)


def _zones(h) -> None:
    """Store 0 (the admin's) in Auckland, store 1 with a config_timezone row of its own in Los Angeles."""
    t = h.t("setting")
    with h.engine.begin() as conn:
        conn.execute(sa.delete(t).where(t.c.key == "config_timezone"))
        for store_id, name in ((0, ADMIN), (1, OWN)):
            conn.execute(sa.insert(t).values(store_id=store_id, code="config", key="config_timezone", value=name,
                                             serialized=0))


def _stamp(h, table: str, column: str, key: str, value: int) -> dt.datetime:
    with h.engine.connect() as conn:
        t = h.t(table)
        return conn.execute(sa.select(t.c[column]).where(t.c[key] == value)).scalar()


def _assert_in(stamp: dt.datetime, zone: str) -> None:
    now = dt.datetime.now(dt.timezone.utc)
    local = now.astimezone(ZoneInfo(zone)).replace(tzinfo=None)
    assert abs(stamp - local) < dt.timedelta(seconds=60), (stamp, local, zone)


@pytest.mark.parametrize("version", ["3.0", "4.0"])
def test_products_categories_and_customers_of_store_1_are_stamped_in_the_admins_zone(opencart_db, version):
    h = opencart_db(version)
    _zones(h)
    store = make_store(h, oc_store_id=1)
    product = writes.upsert_product(store, ProductDraft(model="Z-1", price=Decimal("5"), quantity=1, status=True,
                                                        texts={2: Text("Kupa", "")}), key="p").product_id
    writes.upsert_product(store, ProductDraft(model="Z-1", texts={}, price=Decimal("6")), key="p2", product_id=product)
    category = writes.upsert_category(store, CategoryDraft({2: CategoryText("Kupalar")}), key="c").category_id
    writes.upsert_category(store, CategoryDraft({2: CategoryText("Fincanlar")}), key="c2", category_id=category)
    customer = writes.upsert_customer(store, {"firstname": "Aroha", "lastname": "Ngata", "email": "a@example.com",
                                              "telephone": "+6421123456"}, customer_group_id=1, key="u").customer_id
    for table, column, key, value in (("product", "date_added", "product_id", product),
                                      ("product", "date_modified", "product_id", product),
                                      ("category", "date_added", "category_id", category),
                                      ("category", "date_modified", "category_id", category),
                                      ("customer", "date_added", "customer_id", customer)):
        _assert_in(_stamp(h, table, column, key, value), ADMIN)


def test_an_order_of_store_1_keeps_its_own_stores_zone(opencart_db):
    """The checkout (catalog) side loads store 0's settings and then the store's own: its config_timezone wins."""
    from opencart.opencart_helpers import add_order

    h = opencart_db("4.0")
    _zones(h)
    add_order(h, 1, status=1, store_id=1)
    writes.change_status(make_store(h, oc_store_id=1), 1, expected=1, new=2, key="s")
    with h.engine.connect() as conn:
        t = h.t("order_history")
        stamp = conn.execute(sa.select(t.c.date_added).where(t.c.order_id == 1).order_by(
            t.c.order_history_id.desc())).scalars().first()
    _assert_in(stamp, OWN)
