"""COD confirmation reads the shop's dates in the zone the shop writes them in (opencart.shop_time), not the Store's.

OpenCart stamps `order.date_added` and `order_history.date_added` with MySQL's NOW() in its database session's zone:
2.3 (and 3.0 up to 3.0.3.6) the server's global zone, 3.0.3.7+ and 4.0 `config_timezone`. Each shop here writes in a
zone 14 hours away from its Store's, so reading the dates in the Store's zone moves them by 14 hours.
"""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa
from opencart.opencart_helpers import add_order
from testkit import cod_integration

from ocbridge.core import clock
from ocbridge.core.models import Connection, Store
from ocbridge.integrations.cod_confirm import jobs, outcomes, shop
from ocbridge.integrations.cod_confirm.config import CodConfirmConfig
from ocbridge.integrations.cod_confirm.models import Confirmation, OrderOutcome
from ocbridge.opencart.orders import HistoryEvent

pytestmark = pytest.mark.django_db
# (the shop's zone: its config_timezone, or the server's for 2.3; the Store's zone)
AHEAD = (("Asia/Tokyo", "+09:00"), "America/New_York")
BEHIND = (("America/Bogota", "-05:00"), "Asia/Tokyo")


def _bed(opencart_db, shop_zone, version: str, zones):
    """A shop writing in zones[0], its Store in zones[1], a COD integration; returns (shop, store, integration,
    the session zone to stamp with (None: the server's))."""
    (zone_name, offset), store_zone = zones
    h = opencart_db(version)
    session = shop_zone(h, zone_name, offset)
    store = Store.objects.create(name="Demo", db_url=h.url, table_prefix=h.prefix, timezone=store_zone, country="TR")
    connection = Connection.objects.create(store=store, service="sandbox", secret={"token": "t"})
    settings = CodConfirmConfig(risk_delivered_status_ids=[5]).to_settings()
    return h, store, cod_integration(store, connection, settings=settings), session


def _session(conn, zone: str | None) -> None:
    conn.execute(sa.text("SET time_zone = " + (":tz" if zone else "DEFAULT")), {"tz": zone})


def _placed(h, order_id: int, hours_ago: int, zone: str | None) -> None:
    """date_added as OpenCart writes it `hours_ago`: NOW() in a session of the shop's zone."""
    with h.engine.connect() as conn:
        _session(conn, zone)
        conn.execute(sa.text(f"UPDATE `{h.prefix}order` SET date_added = NOW() - INTERVAL :h HOUR "
                             "WHERE order_id = :id"), {"h": hours_ago, "id": order_id})
        _session(conn, None)
        conn.commit()


@pytest.mark.parametrize("version", ["2.3", "4.0"])
@pytest.mark.parametrize("zones, hours_ago, needs_you", [(BEHIND, 23, True), (AHEAD, 25, False)],
                         ids=["shop-behind-23h", "shop-ahead-25h"])
def test_an_order_missed_while_off_is_aged_in_the_shops_zone(opencart_db, shop_zone, version, zones, hours_ago,
                                                             needs_you):
    """Under 24 h → the owner's "needs you" list, older → left to the shop. Before, read in the Store's zone, the
    23 h old order looked 37 h old (dropped) and the 25 h old one 11 h old (listed)."""
    h, store, integration, session = _bed(opencart_db, shop_zone, version, zones)
    add_order(h, 3001)
    _placed(h, 3001, hours_ago, session)
    order = shop.read_orders(store, [3001])[0]
    c = jobs.missed_order(integration, order)
    assert (c is not None) is needs_you
    assert Confirmation.objects.filter(order_id=3001, state="needs_person").exists() is needs_you


@pytest.mark.parametrize("version", ["2.3", "4.0"])
@pytest.mark.parametrize("zones", [AHEAD, BEHIND], ids=["shop-ahead", "shop-behind"])
def test_an_outcome_happened_when_the_shops_history_row_says(opencart_db, shop_zone, version, zones):
    """The delivered row stamped now (in the shop's zone) happened now; before, 14 hours off either way."""
    h, store, integration, session = _bed(opencart_db, shop_zone, version, zones)
    add_order(h, 3002)
    _placed(h, 3002, 1, session)
    assert jobs.missed_order(integration, shop.read_orders(store, [3002])[0]) is not None
    with h.engine.connect() as conn:
        _session(conn, session)
        stamped = conn.execute(sa.text("SELECT NOW()")).scalar()
        _session(conn, None)
    event = HistoryEvent(order_history_id=1, order_id=3002, order_status_id=5, notify=False, comment="",
                         date_added=stamped)
    assert outcomes.record_events(integration, [event], CodConfirmConfig.from_settings(integration.settings)) == 1
    happened = OrderOutcome.objects.get(order_id=3002).happened_at
    assert abs(happened - clock.now()) < dt.timedelta(minutes=2)
