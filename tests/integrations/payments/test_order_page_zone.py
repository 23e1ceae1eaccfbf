"""The order's page shows when the order was placed in the store's zone, like its other times: the shop's date_added
is a wall time in the zone the shop writes in (opencart.shop_time), made aware in that zone first."""

from __future__ import annotations

import datetime as dt
import re
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from django.urls import reverse
from django.utils import translation
from opencart.opencart_helpers import add_order

from ocbridge.core.models import Store
from ocbridge.dashboard import l10n

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("version", ["2.3", "4.0"])
def test_placed_is_shown_in_the_stores_zone(opencart_db, shop_zone, admin_client, version):
    h = opencart_db(version)
    shop_zone(h, "Asia/Tokyo", "+09:00")
    add_order(h, 701)
    stamped = dt.datetime(2026, 1, 10, 8, 30)  # 08:30 in Tokyo is 18:30 the day before in New York (no DST then)
    with h.engine.begin() as conn:
        conn.execute(sa.update(h.t("order")).where(h.t("order").c.order_id == 701).values(date_added=stamped))
    store = Store.objects.create(name="Demo", db_url=h.url, table_prefix=h.prefix, timezone="America/New_York",
                                 country="TR")
    r = admin_client.get(reverse("payments:order", args=[store.pk, 701]))
    cell = re.search(r'<td id="placed">(.*?)</td>', r.content.decode(), re.S).group(1)
    with translation.override(r.headers.get("Content-Language") or "en"):
        expected = l10n.when(dt.datetime(2026, 1, 9, 23, 30, tzinfo=dt.timezone.utc), ZoneInfo("America/New_York"))
    assert cell == expected
