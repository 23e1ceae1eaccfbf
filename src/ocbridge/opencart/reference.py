"""Reference rows of a fresh shop: languages (en-gb, tr-tr, ru-ru), statuses in three languages, settings, API user.

Language ids for seeded shops: 1 en-gb, 2 tr-tr, 3 ru-ru. Status ids are OpenCart's built-in ones
(opencart.md §2.1); the Turkish and Russian names are ours.
"""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal

from sqlalchemy import Connection, MetaData, Table, insert, types

LANGUAGES = [
    {"language_id": 1, "name": "English", "code": "en-gb", "locale": "en-US,en_US.UTF-8,en_US,en-gb,english",
     "image": "gb.png", "directory": "english", "extension": "", "sort_order": 1, "status": 1},
    {"language_id": 2, "name": "Türkçe", "code": "tr-tr", "locale": "tr-TR,tr_TR.UTF-8,tr_TR,turkish",
     "image": "tr.png", "directory": "turkish", "extension": "", "sort_order": 2, "status": 1},
    {"language_id": 3, "name": "Русский", "code": "ru-ru", "locale": "ru-RU,ru_RU.UTF-8,ru_RU,russian",
     "image": "ru.png", "directory": "russian", "extension": "", "sort_order": 3, "status": 1},
]

# id: (English, Turkish, Russian)
ORDER_STATUSES = {
    1: ("Pending", "Beklemede", "Ожидание"),
    2: ("Processing", "İşleniyor", "В обработке"),
    3: ("Shipped", "Kargoya Verildi", "Отправлен"),
    5: ("Complete", "Tamamlandı", "Выполнен"),
    7: ("Canceled", "İptal Edildi", "Отменён"),
    8: ("Denied", "Reddedildi", "Отклонён"),
    9: ("Canceled Reversal", "İptal Geri Alındı", "Отмена отменена"),
    10: ("Failed", "Başarısız", "Неудачный"),
    11: ("Refunded", "İade Edildi", "Возвращён"),
    12: ("Reversed", "Ters Kayıt", "Сторнирован"),
    13: ("Chargeback", "Ters İbraz", "Возврат платежа"),
    14: ("Expired", "Süresi Doldu", "Истёк"),
    15: ("Processed", "İşlendi", "Обработан"),
    16: ("Voided", "Geçersiz", "Аннулирован"),
}

CURRENCIES = [
    {"currency_id": 1, "title": "Türk Lirası", "code": "TRY", "symbol_left": "", "symbol_right": "₺", "value": 1.0},
    {"currency_id": 2, "title": "US Dollar", "code": "USD", "symbol_left": "$", "symbol_right": "", "value": 0.029},
    {"currency_id": 3, "title": "Euro", "code": "EUR", "symbol_left": "", "symbol_right": "€", "value": 0.027},
    {"currency_id": 4, "title": "Российский рубль", "code": "RUB", "symbol_left": "", "symbol_right": "₽", "value": 2.6},
]

COUNTRIES = [  # OpenCart's own ids for these countries
    {"country_id": 215, "name": "Turkey", "iso_code_2": "TR", "iso_code_3": "TUR"},
    {"country_id": 176, "name": "Russian Federation", "iso_code_2": "RU", "iso_code_3": "RUS"},
    {"country_id": 223, "name": "United States", "iso_code_2": "US", "iso_code_3": "USA"},
]
ZONES = [
    {"zone_id": 3354, "country_id": 215, "name": "İstanbul", "code": "IST"},
    {"zone_id": 3319, "country_id": 215, "name": "Ankara", "code": "ANK"},
    {"zone_id": 3321, "country_id": 215, "name": "İzmir", "code": "IZM"},
    {"zone_id": 2761, "country_id": 176, "name": "Moscow", "code": "MOW"},
]
LENGTH_CLASSES = [(1, 1.0, "Centimeter", "cm"), (2, 10.0, "Millimeter", "mm"), (3, 0.3937, "Inch", "in")]
WEIGHT_CLASSES = [(1, 1.0, "Kilogram", "kg"), (2, 1000.0, "Gram", "g"), (5, 2.2046, "Pound ", "lb"),
                  (6, 35.274, "Ounce", "oz")]

DEFAULT_API_KEY = "ocbridge-test-key-" + "0123456789abcdef" * 14  # 256 chars like the installer's key
DEFAULT_PROCESSING = ["5", "1", "2", "12", "3"]
DEFAULT_COMPLETE = ["5", "3"]


def blank_for(column) -> object:
    """A value for a NOT NULL column without default, as MySQL's non-strict mode would fill it."""
    t = column.type
    if isinstance(t, types.Integer):
        return 0
    if isinstance(t, types.Numeric):
        return Decimal(0) if t.asdecimal else 0.0
    if isinstance(t, types.DateTime):
        return dt.datetime(2000, 1, 1)
    if isinstance(t, types.Date):
        return dt.date(2000, 1, 1)
    return ""


def complete_row(table: Table, row: dict) -> dict:
    """Keep the keys the table has; fill NOT NULL columns that have no default (SQLite is strict about them)."""
    out = {k: v for k, v in row.items() if k in table.c}
    for col in table.columns:
        if col.name in out or col.nullable or col.server_default is not None:
            continue
        if col.autoincrement is True:
            continue
        out[col.name] = blank_for(col)
    return out


def insert_rows(conn: Connection, table: Table, rows: list[dict]) -> None:
    if rows:
        conn.execute(insert(table), [complete_row(table, r) for r in rows])


def install(conn: Connection, md: MetaData, *, tables: set[str] | None = None, **kwargs) -> None:
    """Insert the reference rows into freshly created tables (the metadata's prefix and version); `tables`
    (names without the prefix): only those, e.g. the tables an upgrade of an older demo shop just added."""
    p = md.info["prefix"]
    for name, rows in reference_rows(md, **kwargs).items():
        if tables is None or name in tables:
            insert_rows(conn, md.tables[p + name], rows)


def reference_rows(md: MetaData, *, store_name: str = "Demo Mağaza", timezone: str = "Europe/Istanbul",
                   language: str = "tr-tr", currency: str = "TRY", api_key: str = DEFAULT_API_KEY,
                   api_ips: tuple[str, ...] = ("127.0.0.1",), second_store: bool = True) -> dict[str, list[dict]]:
    """The reference rows per table (name without the prefix)."""
    version = md.info["opencart_version"]
    now = dt.datetime(2024, 1, 1, 12, 0, 0)
    out: dict[str, list[dict]] = {}
    out["language"] = LANGUAGES
    out["order_status"] = [{"order_status_id": sid, "language_id": lang, "name": names[lang - 1]}
                           for sid, names in ORDER_STATUSES.items() for lang in (1, 2, 3)]
    out["currency"] = [{**c, "decimal_place": "2" if version in ("2.3", "3.0") else 2, "status": 1,
                        "date_modified": now} for c in CURRENCIES]
    out["country"] = [{**c, "address_format": "", "address_format_id": 0, "postcode_required": 0, "status": 1}
                      for c in COUNTRIES]
    out["zone"] = [{**z, "status": 1} for z in ZONES]
    out["customer_group"] = [{"customer_group_id": 1, "approval": 0, "sort_order": 1}]
    out["customer_group_description"] = [{"customer_group_id": 1, "language_id": lang, "name": name, "description": ""}
                                         for lang, name in ((1, "Default"), (2, "Varsayılan"), (3, "По умолчанию"))]
    for kind in ("length", "weight"):
        classes = LENGTH_CLASSES if kind == "length" else WEIGHT_CLASSES
        out[f"{kind}_class"] = [{f"{kind}_class_id": i, "value": v} for i, v, _, _ in classes]
        out[f"{kind}_class_description"] = [{f"{kind}_class_id": i, "language_id": lang, "title": title, "unit": unit}
                                            for i, _, title, unit in classes for lang in (1, 2, 3)]
    out["api"] = [{"api_id": 1, "name": "Default", "username": "Default", "key": api_key, "status": 1,
                   "date_added": now, "date_modified": now}]
    out["api_ip"] = [{"api_id": 1, "ip": ip} for ip in api_ips]
    if second_store:
        out["store"] = [{"store_id": 1, "name": "İkinci Mağaza", "url": "http://shop2.example/",
                         "ssl": "https://shop2.example/"}]
    settings = {
        "config_name": store_name, "config_timezone": timezone, "config_language": language,
        "config_currency": currency, "config_api_id": "1", "config_order_status_id": "1",
        "config_processing_status": DEFAULT_PROCESSING, "config_complete_status": DEFAULT_COMPLETE,
        "config_country_id": "215", "config_invoice_prefix": "INV-2024-00", "config_telephone": "0212 555 00 00",
        "config_customer_group_id": "1",
    }
    rows = []
    for key, value in settings.items():
        serialized = isinstance(value, list)
        rows.append({"store_id": 0, "code": "config", "key": key,
                     "value": json.dumps(value) if serialized else value, "serialized": int(serialized)})
    if second_store:
        rows.append({"store_id": 1, "code": "config", "key": "config_name", "value": "İkinci Mağaza", "serialized": 0})
        rows.append({"store_id": 1, "code": "config", "key": "config_language", "value": "ru-ru", "serialized": 0})
    out["setting"] = rows
    return out
