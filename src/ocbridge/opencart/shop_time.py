"""The wall-clock time a shop writes into its dates (`order.date_added`, `date_modified`, `order_history.date_added`).

OpenCart stamps them with MySQL's NOW() (catalog/model/checkout/order.php `addOrder`, `addOrderHistory`/`addHistory`,
every version), so they are in the time zone of the shop's database session, which each version sets differently
(read at the tags; opencart.md §1.1):

- 2.3 and 3.0.0.0–3.0.3.6 never set it: the database server's own (global) time zone.
- 3.0.3.7+ and 4.0: `SET time_zone` to PHP's offset of `config_timezone` (after the store cascade: catalog
  startup/startup.php in 3.0, startup/setting.php in 4.0); before that, at connect, to PHP's default zone, UTC
  (system/framework.php; 4.0.2.2+ system/library/db/mysqli.php). So UTC when `config_timezone` is not set, or is not a
  zone PHP knows.

`config_timezone` first appears in 3.0.3.7 (installed as UTC, saved by its settings page). A 3.0 shop without it is
taken as an older 3.0, writing in the server's zone; only a shop upgraded to 3.0.3.7+ and whose settings were never
saved since writes UTC instead (the schema cannot tell the two apart).

The zone is read once per shop database and store and kept TTL seconds (on the ShopDB handle, so forgetting the handle
forgets it): the time is then worked out in Python, with no query per call (order status by phone reads it on a live
call). A named zone (config_timezone, or a server whose global zone is a name) is kept as the zone itself, so its
daylight-saving step is seen at once; a server zone MySQL gives only as an offset is read again after TTL.
"""

from __future__ import annotations

import datetime as dt
import time
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from ocbridge.core import clock
from ocbridge.opencart.db import ShopDB

TTL = 300.0  # seconds; the shop's setting or its server's offset (daylight saving) changes rarely

# The server's global zone and its offset from UTC now, as a new connection of the shop's (PHP's) would have it,
# whatever our own session was set to (opencart.writes sets it for its NOW()). NOW() of this session if the global zone
# is a name the server's time zone tables do not know (CONVERT_TZ gives NULL).
_SERVER_ZONE = sa.text("SELECT @@global.time_zone, TIMESTAMPDIFF(SECOND, UTC_TIMESTAMP(), "
                       "COALESCE(CONVERT_TZ(UTC_TIMESTAMP(), '+00:00', @@global.time_zone), NOW()))")


def shop_now(db: ShopDB, store_id: int = 0) -> dt.datetime:
    """Now as the shop stamps it for a request of `store_id`: a naive local datetime, comparable with its dates."""
    return clock.now().astimezone(write_zone(db, store_id)).replace(tzinfo=None)


def sql_offset(zone: dt.tzinfo) -> str:
    """The zone's offset now as MySQL's `SET time_zone` takes it ('+03:00'), as PHP's date('P') gives OpenCart's."""
    minutes = int(clock.now().astimezone(zone).utcoffset().total_seconds() // 60)
    sign = "+" if minutes >= 0 else "-"
    return f"{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"


def write_zone(db: ShopDB, store_id: int = 0) -> dt.tzinfo:
    """The time zone the shop's NOW() is in for `store_id` (see the module's docstring), kept TTL seconds."""
    hit = db.zones.get(store_id)
    now = time.monotonic()
    if hit is not None and hit[0] > now:
        return hit[1]
    zone = _read_zone(db, store_id)
    db.zones[store_id] = (now + TTL, zone)
    return zone


def _read_zone(db: ShopDB, store_id: int) -> dt.tzinfo:
    from ocbridge.opencart.statuses import read_settings

    layout = db.version.layout
    if layout != "2.3":  # 2.3 has no config_timezone: a row of that name means nothing to it
        name = read_settings(db, store_id).timezone.strip()
        if name:
            try:
                return ZoneInfo(name)
            except Exception:  # noqa: BLE001 - an unknown zone: PHP refuses it and keeps UTC
                return dt.timezone.utc
        if layout != "3.0" or not db.is_mysql:  # 4.0 syncs to UTC; the demo's SQLite shop is written in UTC then
            return dt.timezone.utc
    if not db.is_mysql:
        return dt.timezone.utc
    with db.engine.connect() as conn:
        name, seconds = conn.execute(_SERVER_ZONE).one()
    return _server_zone(str(name or ""), int(seconds or 0))


def _server_zone(name: str, seconds: int) -> dt.tzinfo:
    """A global zone set by name ('Europe/Berlin': the server's time zone tables know it) is that zone, whose offset is
    worked out at each use. 'SYSTEM' (the host's zone, which MySQL names only by an abbreviation such as CET in
    @@system_time_zone) and '+hh:mm' give just the offset now: a daylight-saving step of SYSTEM is seen up to TTL late."""
    if name and name.upper() != "SYSTEM" and name[0] not in "+-":
        try:
            return ZoneInfo(name)
        except Exception:  # noqa: BLE001 - a name only the server knows (or another spelling of it): its offset now
            pass
    return dt.timezone(dt.timedelta(seconds=seconds))
