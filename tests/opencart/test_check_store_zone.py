"""The store "Test" names the zone the shop writes its dates in (opencart.shop_time), not only config_timezone:
2.3 writes in the database server's zone whatever row it has, 4.0 without config_timezone writes UTC."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from ocbridge.core.models import Store
from ocbridge.opencart import check_store

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("version, setting, shown", [
    ("2.3", "Europe/Istanbul", "time zone UTC+05:00,"),  # the server's; the row means nothing to 2.3
    ("4.0", None, "time zone UTC,"),  # before: "server"
    ("4.0", "Asia/Tokyo", "time zone Asia/Tokyo,"),
])
def test_the_store_test_names_the_zone_dates_are_written_in(opencart_db, shop_zone, version, setting, shown):
    h = opencart_db(version)
    if version == "2.3":
        shop_zone(h, "", "+05:00")  # the server's global zone, put back after the test
    t = h.t("setting")
    with h.engine.begin() as conn:
        conn.execute(sa.delete(t).where(t.c.key == "config_timezone"))
        if setting:
            conn.execute(sa.insert(t).values(store_id=0, code="config", key="config_timezone", value=setting,
                                             serialized=0))
    store = Store.objects.create(name="Demo", db_url=h.url, table_prefix=h.prefix, timezone="UTC", country="TR")
    result = check_store(store)
    assert shown in result["message"], result["message"]
