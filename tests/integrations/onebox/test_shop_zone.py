""""Newest wins" reads a category's date_modified in the zone the shop's admin stamps it in (opencart.shop_time).

The admin saves a category with MySQL's NOW() in its database session's zone (2.3: the server's; 3.0.3.7+ and 4.0:
store 0's config_timezone), not the Store's: read in the Store's zone, 14 hours away here, a change made now looked
14 hours older or newer than OneBox's, and the rule picked the wrong side.
"""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa

from ocbridge.core import clock
from ocbridge.core.models import Store
from ocbridge.integrations.onebox import catalogue_in
from ocbridge.opencart.reference import complete_row

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("version", ["2.3", "4.0"])
@pytest.mark.parametrize("zones", [(("Asia/Tokyo", "+09:00"), "America/New_York"),
                                   (("America/Bogota", "-05:00"), "Asia/Tokyo")], ids=["shop-ahead", "shop-behind"])
def test_a_category_changed_now_in_the_shop_was_changed_now(opencart_db, shop_zone, version, zones):
    (zone_name, offset), store_zone = zones
    h = opencart_db(version)
    session = shop_zone(h, zone_name, offset)
    with h.engine.connect() as conn:
        conn.execute(sa.insert(h.t("category")), [complete_row(h.t("category"), {"category_id": 20, "status": 1})])
        conn.execute(sa.text("SET time_zone = " + (":tz" if session else "DEFAULT")), {"tz": session})
        conn.execute(sa.text(f"UPDATE `{h.prefix}category` SET date_modified = NOW() WHERE category_id = 20"))
        conn.execute(sa.text("SET time_zone = DEFAULT"))
        conn.commit()
    store = Store.objects.create(name="Demo", db_url=h.url, table_prefix=h.prefix, timezone=store_zone, country="TR")
    changed = catalogue_in._shop_changed_at(store, "category", 20)
    assert abs(changed - clock.now()) < dt.timedelta(minutes=2)
