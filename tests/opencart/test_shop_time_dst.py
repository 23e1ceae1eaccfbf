"""A shop writing in its database server's zone (2.3, and 3.0 before 3.0.3.7) whose global zone is a name (here
Europe/Berlin, loaded into MariaDB's time zone tables by mariadb-tzinfo-to-sql) sees the zone's daylight-saving step
at once, though opencart.shop_time keeps the zone TTL seconds: the name is kept, not the offset of its first read."""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa

from ocbridge.core import clock
from ocbridge.opencart import shop_time

pytestmark = pytest.mark.django_db
UTC = dt.timezone.utc
STEP = dt.datetime(2027, 3, 28, 1, 0, tzinfo=UTC)  # CET → CEST: the EU's last Sunday of March, 01:00 UTC


def _server_local(h, at: dt.datetime) -> dt.datetime:
    """`at` in the server's global zone, converted by MariaDB itself (its time zone tables)."""
    with h.engine.connect() as conn:
        return conn.execute(sa.text("SELECT CONVERT_TZ(:at, '+00:00', @@global.time_zone)"),
                            {"at": at.replace(tzinfo=None)}).scalar()


def _close(a: dt.datetime, b: dt.datetime) -> bool:
    return abs(a - b) < dt.timedelta(seconds=5)  # the clock runs on between the two reads


def test_a_named_server_zones_daylight_saving_step_is_seen_at_once(opencart_db, server_zone):
    h = opencart_db("2.3")
    server_zone("Europe/Berlin")
    shop = h.shop
    before, after = STEP - dt.timedelta(seconds=10), STEP + dt.timedelta(seconds=10)
    clock.travel((before - clock.now()).total_seconds())
    assert _close(shop_time.shop_now(shop), _server_local(h, before))  # 01:59:50 CET: read and kept now
    assert _server_local(h, before) == dt.datetime(2027, 3, 28, 1, 59, 50)
    clock.travel(20)
    assert _close(shop_time.shop_now(shop), _server_local(h, after))  # 03:00:10 CEST, within the TTL
    assert _server_local(h, after) == dt.datetime(2027, 3, 28, 3, 0, 10)
    assert shop_time.sql_offset(shop_time.write_zone(shop)) == "+02:00"  # what the database path's NOW() is set to
