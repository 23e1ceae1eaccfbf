"""What a shop says about itself (time zone, language, currency, country) and whether we may write to it.

Both are asked when a store is added or tested, so the hub never runs on command-line defaults or finds out at the
first confirmed order that its database user cannot write. The write check changes nothing: statements that match
no row still need the privilege (MySQL checks privileges before it looks for rows).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

import sqlalchemy as sa

from ocbridge.core.errors import RetryableError

T = TypeVar("T")
CHECK_SECONDS = 10.0


@dataclass
class ShopProfile:
    name: str
    timezone: str  # "" when the shop leaves it to the server
    language: str  # two letters, "tr"
    currency: str  # "TRY"
    country: str  # ISO 3166 alpha-2, "" if the shop has none set


def read_profile(shop, store_id: int = 0) -> ShopProfile:
    from ocbridge.opencart import statuses

    cfg = statuses.read_settings(shop, store_id)
    country = ""
    country_id = str(cfg.raw.get("config_country_id") or "")
    if country_id.isdigit():
        t = shop.t("country")
        with shop.engine.connect() as conn:
            country = conn.execute(sa.select(t.c.iso_code_2).where(t.c.country_id == int(country_id))).scalar() or ""
    return ShopProfile(name=cfg.name, timezone=cfg.timezone, language=(cfg.language_code or "")[:2].lower(),
                       currency=(cfg.currency or "").upper(), country=country.upper())


# (table, statement builder): what the hub writes — status and history (every version), stock (the stock rule)
def _probes(shop) -> list[tuple[str, sa.sql.Executable]]:
    order, history, product = shop.t("order"), shop.t("order_history"), shop.t("product")
    never = sa.false()
    return [
        ("order", sa.update(order).where(never).values(order_status_id=order.c.order_status_id)),
        ("order_history", sa.insert(history).from_select(
            [history.c.order_id], sa.select(history.c.order_id).where(never))),
        ("product", sa.update(product).where(never).values(quantity=product.c.quantity)),
    ]


def missing_write_rights(shop) -> list[str]:
    """Tables the database user may not write (empty: all fine). Nothing is changed."""
    denied = []
    for table, stmt in _probes(shop):
        try:
            with shop.engine.connect() as conn:
                conn.execute(stmt)
                conn.rollback()
        except sa.exc.DBAPIError as exc:
            code = getattr(getattr(exc, "orig", None), "args", [None])[0]
            if code in (1142, 1143, 1044, 1045) or "denied" in str(exc).lower() or "readonly" in str(exc).lower():
                denied.append(shop.prefix + table)
            else:
                raise
    return denied


def within(seconds: float, fn: Callable[[], T], what: str) -> T:
    """Run `fn` but give up after `seconds` with a clear message (a hung database must not hang a check for a
    minute). The abandoned call ends on its own driver timeout in the background."""
    box: dict = {}

    def run():
        try:
            box["value"] = fn()
        except BaseException as exc:  # handed to the caller's thread
            box["error"] = exc

    thread = threading.Thread(target=run, daemon=True, name="ocbridge-check")
    thread.start()
    thread.join(seconds)
    if thread.is_alive():
        raise RetryableError("opencart-db", "timeout", f"{what}: no answer within {seconds:g} s — the database "
                                                       "server is overloaded, or a firewall drops the connection")
    if "error" in box:
        raise box["error"]
    return box["value"]

