"""Ozon's prices take a shop special by the shop's own date (opencart.shop_time), not the Store's.

OpenCart's storefront keeps a special while `date_start < NOW() AND date_end > NOW()`, NOW() in its database session's
zone (2.3: the server's; 3.0.3.7+ and 4.0: config_timezone). The shop here is at +13:00 and its Store at -12:00, so
the two dates always differ (by one day or two): a special starting on the shop's today is on, one ending then is off.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
import sqlalchemy as sa
from opencart.opencart_helpers import add_product

from ocbridge.core import clock
from ocbridge.core.models import Store
from ocbridge.integrations.ozon import shop
from ocbridge.integrations.ozon.config import OzonConfig

pytestmark = pytest.mark.django_db
SHOP_ZONE, SHOP_OFFSET, STORE_ZONE = "Pacific/Tongatapu", "+13:00", "Etc/GMT+12"  # +13 all year; -12


@pytest.mark.parametrize("version", ["2.3", "4.0"])
def test_a_special_is_on_from_the_shops_today_and_off_on_its_last_day(opencart_db, shop_zone, version):
    h = opencart_db(version)
    shop_zone(h, SHOP_ZONE, SHOP_OFFSET)
    today = (clock.now() + dt.timedelta(hours=13)).date()  # the shop's date
    for pid in (1, 2):
        add_product(h, pid)
    with h.engine.begin() as conn:
        conn.execute(sa.insert(h.t("product_to_store")), [{"product_id": 1, "store_id": 0},
                                                          {"product_id": 2, "store_id": 0}])
        conn.execute(sa.insert(h.t("product_special")), [
            {"product_id": 1, "customer_group_id": 1, "priority": 1, "price": Decimal(80), "date_start": today,
             "date_end": today + dt.timedelta(days=5)},  # starts today: on
            {"product_id": 2, "customer_group_id": 1, "priority": 1, "price": Decimal(70),
             "date_start": today - dt.timedelta(days=5), "date_end": today}])  # ended at today's start: off
    store = Store.objects.create(name="Demo", db_url=h.url, table_prefix=h.prefix, timezone=STORE_ZONE, country="TR")
    rows = {r["product_id"]: r["special"] for r in shop.price_rows(store, OzonConfig())}
    assert rows == {1: Decimal(80), 2: None}
    feed = {r["product_id"]: r["special"] for r in shop.catalog_rows(store, OzonConfig())}
    assert feed == {1: Decimal(80), 2: None}
