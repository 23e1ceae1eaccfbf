"""Order statuses per language and the shop settings that matter to us (cascade store 0 → store_id)."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

import sqlalchemy as sa

from ocbridge.opencart.db import ShopDB


@dataclass
class ShopSettings:
    """Settings of one store_id after OpenCart's cascade (store 0 rows, then the store's own)."""

    store_id: int
    name: str = ""
    timezone: str = ""
    language_code: str = "en-gb"
    currency: str = ""
    processing: set[int] = field(default_factory=set)
    complete: set[int] = field(default_factory=set)
    api_id: int = 0
    raw: dict[str, object] = field(default_factory=dict, repr=False)

    def number(self, key: str) -> int:
        """An integer setting (e.g. config_fraud_status_id), 0 when unset or not a number."""
        value = str(self.raw.get(key) or "0").strip()
        return int(value) if value.isdigit() else 0

    @property
    def live(self) -> set[int]:
        """Processing ∪ complete: statuses in which OpenCart has taken the stock (opencart.md §2.3)."""
        return self.processing | self.complete


def parse_setting(value: str, serialized: int) -> object:
    """serialized=1 → JSON (2.1+), or PHP serialize() left over from ≤2.0 shops (opencart.md §5.5)."""
    if not serialized:
        return value
    try:
        return json.loads(value)
    except (TypeError, ValueError):
        pass
    if value.startswith("a:"):  # a:2:{i:0;s:1:"5";i:1;s:1:"3";} — flat arrays of scalars are all we need
        return [m[0] or m[1] for m in re.findall(r'(?:s:\d+:"([^"]*)"|i:(\d+));', value)][1::2]
    return value


def read_settings(db: ShopDB, store_id: int = 0) -> ShopSettings:
    """One query on `setting` (small table; no key on store_id but a few hundred rows)."""
    t = db.t("setting")
    keys = ("config_name", "config_timezone", "config_language", "config_currency", "config_processing_status",
            "config_complete_status", "config_api_id", "config_country_id", "config_order_status_id",
            "config_fraud_status_id", "config_affiliate_auto", "config_stock_status_id", "config_weight_class_id",
            "config_length_class_id")
    stmt = sa.select(t.c.store_id, t.c.key, t.c.value, t.c.serialized).where(
        t.c.store_id.in_({0, store_id}), t.c.key.in_(keys))
    with db.engine.connect() as conn:
        rows = sorted(conn.execute(stmt).all(), key=lambda r: r.store_id != 0)  # store 0 first, own rows on top
    raw: dict[str, object] = {}
    for r in rows:
        raw[r.key] = parse_setting(r.value, r.serialized)

    def ids(key: str) -> set[int]:
        value = raw.get(key) or []
        return {int(v) for v in (value if isinstance(value, list) else [value]) if str(v).strip().isdigit()}

    return ShopSettings(
        store_id=store_id, name=str(raw.get("config_name", "")), timezone=str(raw.get("config_timezone", "")),
        language_code=str(raw.get("config_language", "en-gb")), currency=str(raw.get("config_currency", "")),
        processing=ids("config_processing_status"), complete=ids("config_complete_status"),
        api_id=int(raw.get("config_api_id") or 0) if str(raw.get("config_api_id") or "0").isdigit() else 0, raw=raw)


def languages(db: ShopDB) -> dict[int, str]:
    """language_id → code (`tr-tr`)."""
    t = db.t("language")
    with db.engine.connect() as conn:
        return {r.language_id: r.code for r in conn.execute(sa.select(t.c.language_id, t.c.code))}


def statuses(db: ShopDB, language_id: int | None = None) -> dict[int, dict[int, str]] | dict[int, str]:
    """All statuses as {language_id: {status_id: name}}, or one language's {status_id: name}."""
    t = db.t("order_status")
    stmt = sa.select(t.c.order_status_id, t.c.language_id, t.c.name)
    if language_id is not None:
        stmt = stmt.where(t.c.language_id == language_id)
    out: dict[int, dict[int, str]] = {}
    with db.engine.connect() as conn:
        for r in conn.execute(stmt):
            out.setdefault(r.language_id, {})[r.order_status_id] = _unescape(r.name)
    if language_id is not None:
        return out.get(language_id, {})
    return out


def for_store(store) -> dict[int, str] | None:
    """{status_id: name} in the store's language (else its first), as the shop shows them; None if unreachable."""
    from ocbridge import opencart
    from ocbridge.core.errors import ConfigurationError, ServiceError

    try:
        shop = opencart.shop_db(store)
        return statuses(shop, store_language_id(shop, store))
    except (ConfigurationError, ServiceError, OSError):
        return None


def store_language_id(db: ShopDB, store) -> int | None:
    """The shop language of the Store's language (`tr` → the `tr-tr` row), else the shop's first language."""
    langs = languages(db)
    return next((i for i, code in langs.items() if code.startswith(store.language or "")), next(iter(langs), None))


def categories_for(store) -> list[tuple[int, str]] | None:
    """(category_id, path) in the store's language, as the shop names them; None if the shop is unreachable."""
    from ocbridge import opencart
    from ocbridge.core.errors import ConfigurationError, ServiceError
    from ocbridge.opencart import catalog

    try:
        shop = opencart.shop_db(store)
        return catalog.category_paths(shop, store_language_id(shop, store) or 1)
    except (ConfigurationError, ServiceError, OSError):
        return None


def status_exists(conn: sa.Connection, db: ShopDB, status_id: int) -> bool:
    t = db.t("order_status")
    return conn.execute(sa.select(t.c.order_status_id).where(t.c.order_status_id == status_id).limit(1)).first() is not None


def _unescape(text: str | None) -> str:
    import html

    return html.unescape(text or "")
