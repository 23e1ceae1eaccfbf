"""`days_back` is counted in the zone the shop writes its dates in (opencart.shop_time), not the Store's.

OpenCart stamps `date_added` with MySQL's NOW() in its database session's zone: 2.3 (and 3.0 up to 3.0.3.6) leave it
at the server's global zone, 3.0.3.7+ and 4.0 set it to `config_timezone` (UTC when unset). Each shop here writes in a
zone 14 hours away from its Store's, and has an order five minutes inside the window and one five minutes outside,
stamped as OpenCart stamps them: NOW() in a session of that zone.
"""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from integrations.order_lookup.lookup_helpers import add_order, index

from ocbridge.integrations.order_lookup import shop
from ocbridge.integrations.order_lookup.config import OrderLookupConfig
from ocbridge.integrations.order_lookup.models import IndexBackfill
from ocbridge.opencart.models import PhoneIndex

pytestmark = pytest.mark.django_db
DAYS = 30
INSIDE, OUTSIDE = 1001, 1002
# (the shop's zone: its config_timezone, or the server's for 2.3; the Store's zone): the shop ahead, then behind
ZONES = {"shop_ahead": (("Asia/Tokyo", "+09:00"), "America/New_York"),
         "shop_behind": (("America/Bogota", "-05:00"), "Asia/Tokyo")}


def _stamp(h, order_id: int, minutes_from_edge: int, session_zone: str | None) -> None:
    """date_added as OpenCart writes it, `minutes_from_edge` after the window's start (negative: before it):
    NOW() in a session of `session_zone` (None: a new connection's, the server's global zone)."""
    with h.engine.connect() as conn:
        conn.execute(sa.text("SET time_zone = " + (":tz" if session_zone else "DEFAULT")), {"tz": session_zone})
        conn.execute(sa.text(f"UPDATE `{h.prefix}order` SET date_added = NOW() - INTERVAL {DAYS} DAY "
                             f"+ INTERVAL :m MINUTE WHERE order_id = :id"), {"m": minutes_from_edge, "id": order_id})
        conn.execute(sa.text("SET time_zone = DEFAULT"))
        conn.commit()


def _set_config_timezone(h, name: str) -> None:
    t = h.t("setting")
    with h.engine.begin() as conn:
        conn.execute(sa.delete(t).where(t.c.key == "config_timezone"))
        if name:
            conn.execute(sa.insert(t).values(store_id=0, code="config", key="config_timezone", value=name,
                                             serialized=0))


def _questions(conn) -> int:
    """Statements the server was sent so far, by every client (this one included)."""
    with conn.cursor() as cur:
        cur.execute("SHOW GLOBAL STATUS LIKE 'Questions'")
        return int(cur.fetchone()[1])


@pytest.mark.parametrize("direction", sorted(ZONES))
def test_an_order_just_inside_the_window_is_found_and_one_just_outside_is_not(shop_db, make_store, server_zone,
                                                                              mariadb, direction):
    (zone_name, offset), store_zone = ZONES[direction]
    if shop_db.version == "2.3":
        server_zone(offset)  # 2.3 writes in the server's zone; the reference row config_timezone means nothing to it
        session = None
    else:
        _set_config_timezone(shop_db, zone_name)  # the server stays at UTC
        session = offset
    store = make_store(shop_db, timezone=store_zone)
    for order_id in (INSIDE, OUTSIDE):
        add_order(shop_db, order_id, telephone="0532 123 45 67", status=3)
    _stamp(shop_db, INSIDE, 5, session)
    _stamp(shop_db, OUTSIDE, -5, session)
    cfg = OrderLookupConfig.from_settings({"days_back": DAYS})

    found, view = shop.first_lookup(store, [INSIDE, OUTSIDE], cfg, "tr")
    assert found == [INSIDE] and view.order_id == INSIDE

    # The zone is read once: a second lookup is the one primary-key read of the orders (read_orders_now), no more.
    counter = mariadb.connect()
    try:
        before = _questions(counter)
        assert shop.first_lookup(store, [INSIDE, OUTSIDE], cfg, "tr")[0] == [INSIDE]
        assert _questions(counter) - before == 2  # the order read, and the second SHOW STATUS itself
    finally:
        counter.close()


@pytest.mark.parametrize("version, written_in", [("3.0", "+05:00"), ("4.0", "+00:00")])
def test_without_config_timezone_3_0_writes_in_the_servers_zone_and_4_0_in_utc(opencart_db, make_store, server_zone,
                                                                               version, written_in):
    """3.0 up to 3.0.3.6 has no config_timezone and never sets the session's zone; 4.0 sets it to UTC when unset."""
    h = opencart_db(version)
    _set_config_timezone(h, "")
    server_zone("+05:00")
    store = make_store(h, timezone="America/New_York")
    for order_id in (INSIDE, OUTSIDE):
        add_order(h, order_id, telephone="0532 123 45 67", status=3)
    _stamp(h, INSIDE, 5, written_in)
    _stamp(h, OUTSIDE, -5, written_in)
    found, _ = shop.first_lookup(store, [INSIDE, OUTSIDE], OrderLookupConfig.from_settings({"days_back": DAYS}), "tr")
    assert found == [INSIDE]


@pytest.mark.parametrize("version", ["2.3", "4.0"])
def test_the_backfill_stops_at_the_window_in_the_shops_zone(opencart_db, make_store, server_zone, monkeypatch,
                                                            version):
    """The back-fill walks ids downwards until an order is older than the window (as order lookup counts it, an hour
    earlier for a daylight-saving step). It indexes an order just inside, and stops after the first one past the
    window plus that hour — before, with a day more in UTC, it went on a day into the past (or ~14 h too few for a
    shop far ahead of UTC, were it not for that day)."""
    from ocbridge import opencart
    from ocbridge.integrations.order_lookup import jobs

    monkeypatch.setattr(jobs, "BACKFILL_IDS", 1)  # one order per read: where it stops is seen order by order
    h = opencart_db(version)
    offset = "-10:00"
    if version == "2.3":
        server_zone(offset)
    else:
        _set_config_timezone(h, "Pacific/Honolulu")
    store = make_store(h, timezone="Asia/Tokyo")
    # oldest first: 1 and 2 well past the window, 3 just past it (2 h), 4 just inside, 5 recent
    for order_id, minutes in ((1, -5 * 60), (2, -4 * 60), (3, -2 * 60), (4, 5), (5, DAYS * 24 * 60 - 60)):
        add_order(h, order_id, telephone=f"0532 123 45 6{order_id}", status=3)
        _stamp(h, order_id, minutes, offset if version != "2.3" else None)
    opencart.poll_new_orders(store, limit=500)  # the first poll starts at the newest order: 5 is where the fill starts
    index(store, days_back=DAYS)
    assert IndexBackfill.objects.get(store_db_key=store.db_key).done
    indexed = set(PhoneIndex.objects.values_list("order_id", flat=True))
    assert {4, 3} <= indexed  # inside, and the one that showed the window was passed
    assert not indexed & {1, 2}
