"""Realistic shop data for tests, demos and benchmarks: Turkish and Russian customers, messy phone numbers,
COD and other payment methods, every status including 0, two stores in one database.

Fast enough for a million orders in MariaDB: rows are generated as tuples, written with LOAD DATA LOCAL INFILE
(MyISAM keys disabled meanwhile) and, where that is not allowed or on SQLite, with multi-row INSERTs.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import random
import tempfile
import time
from dataclasses import dataclass, field
from decimal import Decimal

import sqlalchemy as sa

from ocbridge.opencart import reference
from ocbridge.opencart.layouts import metadata_for

TR_FIRST = ["Ahmet", "Mehmet", "Ayşe", "Fatma", "Mustafa", "Emine", "Hüseyin", "Zeynep", "İbrahim", "Elif",
            "Hasan", "Özlem", "Çağlar", "Gülşen", "Şükrü", "Merve", "Burak", "Yağmur", "Oğuz", "Büşra"]
TR_LAST = ["Yılmaz", "Kaya", "Demir", "Şahin", "Çelik", "Yıldız", "Yıldırım", "Öztürk", "Aydın", "Özdemir",
           "Arslan", "Doğan", "Kılıç", "Aslan", "Çetin", "Kara", "Koç", "Kurt", "Özkan", "Şimşek"]
RU_FIRST = ["Александр", "Мария", "Дмитрий", "Анна", "Сергей", "Елена", "Андрей", "Ольга", "Алексей", "Татьяна",
            "Иван", "Наталья", "Михаил", "Юлия", "Николай"]
RU_LAST = ["Иванов", "Смирнов", "Кузнецов", "Попов", "Васильев", "Петров", "Соколов", "Михайлов", "Новиков",
           "Фёдоров", "Морозов", "Волков"]
TR_CITIES = [("İstanbul", 3354), ("Ankara", 3319), ("İzmir", 3321)]
TR_MOBILE = ["532", "533", "535", "536", "542", "543", "505", "506", "507", "552", "555", "544"]

# (code, 4.0 JSON code, title, weight)
PAYMENTS = [
    ("cod", "cod.cod", "Kapıda Nakit Ödeme", 45),
    ("kapida_odeme", "kapida_odeme.kapida_odeme", "Kapıda Ödeme", 10),
    ("bank_transfer", "bank_transfer.bank_transfer", "Banka Havalesi / EFT", 25),
    ("free_checkout", "free_checkout.free_checkout", "Free Checkout", 5),
    ("iyzico", "iyzico.iyzico", "Kredi Kartı (iyzico)", 15),
]
# (status id, weight): 0 = not confirmed ("missing order")
STATUSES = [(0, 8), (1, 40), (2, 12), (3, 10), (5, 15), (7, 8), (10, 4), (15, 3)]


def phone_tr(rng: random.Random) -> str:
    """A Turkish mobile number in one of the ways people type it (some broken on purpose)."""
    op = rng.choice(TR_MOBILE)
    a, b, c = rng.randint(100, 999), rng.randint(10, 99), rng.randint(10, 99)
    forms = [
        f"0{op} {a} {b} {c}", f"+90 {op} {a} {b}{c}", f"{op}{a}{b}{c}", f"0090 {op} {a} {b} {c}",
        f"0 ({op}) {a} {b} {c}", f"0{op}{a}{b}{c}", f"+90{op}{a}{b}{c}", f"({op}) {a}-{b}-{c}",
    ]
    r = rng.random()
    if r < 0.02:
        return ""
    if r < 0.03:
        return "123"
    if r < 0.04:
        return "telefon yok"
    return rng.choice(forms)


def phone_ru(rng: random.Random) -> str:
    a, b, c, d = rng.randint(900, 999), rng.randint(100, 999), rng.randint(10, 99), rng.randint(10, 99)
    r = rng.random()
    if r < 0.03:
        return "нет"
    return rng.choice([f"+7 ({a}) {b}-{c}-{d}", f"8 {a} {b} {c} {d}", f"+7{a}{b}{c}{d}", f"8({a}){b}{c}{d}"])


def _weighted(rng: random.Random, items: list[tuple]) -> tuple:
    return rng.choices(items, weights=[i[-1] for i in items])[0]


@dataclass
class SeedReport:
    """What was written and how long each part took (seconds)."""

    orders: int = 0
    rows: dict[str, int] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)
    method: str = ""

    def summary(self) -> str:
        parts = ", ".join(f"{k} {v:.1f}s" for k, v in self.timings.items())
        total = sum(self.timings.values())
        return (f"{self.orders} orders ({sum(self.rows.values())} rows, {self.method}) in {total:.1f}s: {parts}; "
                f"{self.orders / total if total else 0:.0f} orders/s")


def create_shop(url_or_engine, version: str, prefix: str = "oc_", **reference_kwargs) -> sa.Engine:
    """Create the layout's tables and reference rows in an empty database; returns the engine."""
    engine = url_or_engine if isinstance(url_or_engine, sa.Engine) else _engine(url_or_engine)
    md = metadata_for(version, prefix)
    with engine.begin() as conn:
        if engine.dialect.name in ("mysql", "mariadb"):
            conn.execute(sa.text("SET SESSION sql_mode = 'NO_ZERO_IN_DATE,NO_ENGINE_SUBSTITUTION'"))
        md.create_all(conn)
        reference.install(conn, md, **reference_kwargs)
    return engine


def upgrade_shop(url_or_engine, version: str, prefix: str = "oc_", **reference_kwargs) -> list[str]:
    """Add the tables a shop made by an older ocbridge lacks (the demo's var/demo shop), with their reference rows
    and, when the catalogue was seeded, its rows for them; the seeded size option's rows are added where an older
    ocbridge left its tables empty. Other existing tables and rows are left as they are.
    Returns the names (without the prefix) of the tables added."""
    engine = url_or_engine if isinstance(url_or_engine, sa.Engine) else _engine(url_or_engine)
    md = metadata_for(version, prefix)
    have = set(sa.inspect(engine).get_table_names())
    missing = [t for name, t in md.tables.items() if name not in have]
    added = {t.name[len(prefix):] for t in missing}
    with engine.begin() as conn:
        if missing:
            md.create_all(conn, tables=missing)
            reference.install(conn, md, tables=added, **reference_kwargs)
        products = conn.execute(sa.select(sa.func.count()).select_from(md.tables[prefix + "product"])).scalar()
        if products:
            catalogue = _Catalog(random.Random(1), products).rows(md, prefix, md.info["opencart_version"])
            for name, rows in catalogue.items():
                if name in added:
                    reference.insert_rows(conn, md.tables[prefix + name], rows)
            _add_size_option(conn, md, prefix, catalogue)
    return sorted(added)


def _add_size_option(conn: sa.Connection, md: sa.MetaData, prefix: str, catalogue: dict[str, list[dict]]) -> None:
    """The seeded size option's rows that a demo shop seeded before they were (its products name option 11 with no
    `option` row) lacks; rows already there are kept."""
    option = md.tables[prefix + "option"]
    if conn.execute(sa.select(option.c.option_id).where(option.c.option_id == SIZE_OPTION)).first() is not None:
        return
    for name in OPTION_TABLES:
        table = md.tables[prefix + name]
        keys = [c.name for c in table.primary_key.columns]
        have = {tuple(r) for r in conn.execute(sa.select(*table.primary_key.columns))}
        reference.insert_rows(conn, table, [r for r in catalogue[name] if tuple(r[k] for k in keys) not in have])


def _engine(url: str) -> sa.Engine:
    """The seeder's own engine: LOAD DATA LOCAL INFILE of its own temp files (a shop's engine never allows it)."""
    from ocbridge.opencart.db import OPENCART_SQL_MODE

    parsed = sa.engine.make_url(url)
    if parsed.get_backend_name() not in ("mysql", "mariadb"):
        return sa.create_engine(parsed)
    engine = sa.create_engine(parsed.update_query_dict({"charset": "utf8mb4", "local_infile": "1"}), pool_pre_ping=True)

    @sa.event.listens_for(engine, "connect")
    def _session_settings(dbapi_conn, _record):
        with dbapi_conn.cursor() as cur:
            cur.execute(f"SET SESSION sql_mode = '{OPENCART_SQL_MODE}'")

    return engine


# The seeded products' size option: a select numbered as in OpenCart's own sample data (option 11 "Size", values
# 46-48), with its rows in `option`, `option_value` and their descriptions, so what reads a product's options
# (OneBox's catalogue out, options coming in matched by name) finds the option the products name.
SIZE_OPTION = 11
SIZES = ((46, "S"), (47, "M"), (48, "L"))
OPTION_TABLES = ("option", "option_description", "option_value", "option_value_description")


class _Catalog:
    """A small catalogue: products (some with a size option), categories, a manufacturer, images, specials."""

    def __init__(self, rng: random.Random, count: int):
        self.products = []
        pov_id = 0
        for i in range(1, count + 1):
            price = Decimal(rng.choice([49, 99, 149, 199, 249, 399, 599, 999, 1499])) + Decimal("0.90")
            has_option = i % 4 == 0
            self.products.append({"product_id": i, "price": price, "has_option": has_option,
                                  "name_tr": f"Ürün {i} — {rng.choice(['Tişört', 'Ayakkabı', 'Çanta', 'Kazak', 'Şapka'])}",
                                  "name_ru": f"Товар {i}", "name_en": f"Product {i}", "values": []})
            if has_option:  # option value ids are fixed by the catalogue, so appending to a seeded shop works
                for size in ("S", "M", "L"):
                    pov_id += 1
                    self.products[-1]["values"].append((pov_id, size))

    def rows(self, md: sa.MetaData, p: str, version: str) -> dict[str, list[dict]]:
        now = dt.datetime(2024, 1, 1, 12, 0)
        out: dict[str, list[dict]] = {k: [] for k in (
            "manufacturer", "category", "category_description", "product", "product_description", "product_to_store",
            "product_to_category", "product_image", "product_special", "product_option", "product_option_value",
            "attribute", "attribute_description", "product_attribute", "category_path", "category_to_store",
            *OPTION_TABLES)}
        out["option"].append({"option_id": SIZE_OPTION, "type": "select", "sort_order": 1})
        for lang, name in ((1, "Size"), (2, "Beden"), (3, "Размер")):
            out["option_description"].append({"option_id": SIZE_OPTION, "language_id": lang, "name": name})
        for sort, (ov, size) in enumerate(SIZES, start=1):
            out["option_value"].append({"option_value_id": ov, "option_id": SIZE_OPTION, "image": "", "sort_order": sort})
            out["option_value_description"] += [{"option_value_id": ov, "language_id": lang, "option_id": SIZE_OPTION,
                                                 "name": size} for lang in (1, 2, 3)]
        out["manufacturer"].append({"manufacturer_id": 1, "name": "Anadolu Tekstil", "image": "", "sort_order": 0})
        for cid, (tr, ru, en) in enumerate([("Giyim", "Одежда", "Clothing"), ("Ayakkabı", "Обувь", "Shoes"),
                                            ("Aksesuar", "Аксессуары", "Accessories")], start=1):
            out["category"].append({"category_id": cid, "parent_id": 0, "top": 1, "column": 1, "sort_order": cid,
                                    "status": 1, "date_added": now, "date_modified": now, "image": ""})
            out["category_path"].append({"category_id": cid, "path_id": cid, "level": 0})  # top level: itself
            out["category_to_store"] += [{"category_id": cid, "store_id": s} for s in (0, 1)]
            for lang, name in ((1, en), (2, tr), (3, ru)):
                out["category_description"].append({"category_id": cid, "language_id": lang, "name": name,
                                                    "description": "", "meta_title": name})
        out["attribute"].append({"attribute_id": 1, "attribute_group_id": 1, "sort_order": 0})
        for lang, name in ((1, "Material"), (2, "Malzeme"), (3, "Материал")):
            out["attribute_description"].append({"attribute_id": 1, "language_id": lang, "name": name})
        for prod in self.products:
            pid = prod["product_id"]
            out["product"].append({
                "product_id": pid, "model": f"MDL-{pid:05d}", "sku": f"SKU{pid:06d}", "quantity": 1000,
                "stock_status_id": 7, "image": f"catalog/p{pid}.jpg", "manufacturer_id": 1, "shipping": 1,
                "price": prod["price"], "tax_class_id": 0, "date_available": dt.date(2024, 1, 1),
                "weight": Decimal("0.5"), "weight_class_id": 1, "length": Decimal("30"), "width": Decimal("20"),
                "height": Decimal("5"), "length_class_id": 1, "subtract": 0 if pid % 10 == 0 else 1, "minimum": 1,
                "status": 1, "date_added": now, "date_modified": now, "variant": "", "override": ""})
            for lang, key in ((1, "name_en"), (2, "name_tr"), (3, "name_ru")):
                out["product_description"].append({"product_id": pid, "language_id": lang, "name": prod[key],
                                                   "description": "&lt;p&gt;" + prod[key] + "&lt;/p&gt;",
                                                   "meta_title": prod[key], "tag": ""})
            for store_id in (0, 1):
                out["product_to_store"].append({"product_id": pid, "store_id": store_id})
            out["product_to_category"].append({"product_id": pid, "category_id": 1 + pid % 3})
            out["product_image"].append({"product_id": pid, "image": f"catalog/p{pid}-2.jpg", "sort_order": 1})
            if pid % 7 == 0:
                out["product_special"].append({"product_id": pid, "customer_group_id": 1, "priority": 1,
                                               "price": prod["price"] * Decimal("0.8"),
                                               "date_start": dt.date(2024, 1, 1), "date_end": dt.date(2030, 1, 1)})
            for lang, text in ((1, "Cotton"), (2, "Pamuk"), (3, "Хлопок")):
                out["product_attribute"].append({"product_id": pid, "attribute_id": 1, "language_id": lang,
                                                 "text": text})
            if prod["has_option"]:
                out["product_option"].append({"product_option_id": pid, "product_id": pid, "option_id": SIZE_OPTION,
                                              "value": "", "required": 1})
                for (ov, _size), (pov_id, _) in zip(SIZES, prod["values"]):
                    out["product_option_value"].append({
                        "product_option_value_id": pov_id, "product_option_id": pid, "product_id": pid,
                        "option_id": SIZE_OPTION, "option_value_id": ov, "quantity": 100, "subtract": 1, "price": Decimal(0),
                        "price_prefix": "+", "points": 0, "points_prefix": "+", "weight": Decimal(0),
                        "weight_prefix": "+"})
        return out


class _Writer:
    """Bulk writer: LOAD DATA LOCAL INFILE on MySQL/MariaDB when allowed, else multi-row INSERT."""

    def __init__(self, engine: sa.Engine, md: sa.MetaData, prefix: str, report: SeedReport):
        self.engine, self.md, self.prefix, self.report = engine, md, prefix, report
        self.mysql = engine.dialect.name in ("mysql", "mariadb")
        self.load_data = self.mysql
        self.raw = engine.raw_connection()
        if self.mysql:
            with self.raw.cursor() as cur:
                cur.execute("SET SESSION sql_mode = 'NO_ZERO_IN_DATE,NO_ENGINE_SUBSTITUTION'")
                cur.execute("SET SESSION unique_checks = 0, foreign_key_checks = 0")
        self.cols = {name: [c.name for c in self.md.tables[prefix + name].columns] for name in
                     ("order", "order_product", "order_option", "order_total", "order_history", "customer")}
        self.blanks = {name: [reference.blank_for(c) for c in self.md.tables[prefix + name].columns]
                       for name in self.cols}
        report.method = "LOAD DATA" if self.load_data else "multi-row INSERT"

    def disable_keys(self, enable: bool = False) -> None:
        """MyISAM: build the non-unique indexes once at the end instead of row by row."""
        if not self.mysql:
            return
        with self.raw.cursor() as cur:
            for name in self.cols:
                t = self.md.tables[self.prefix + name]
                if t.dialect_options["mysql"]["engine"] == "MyISAM":
                    cur.execute(f"ALTER TABLE `{t.name}` {'ENABLE' if enable else 'DISABLE'} KEYS")
        self.raw.commit()

    def write(self, name: str, rows: list[dict]) -> None:
        if not rows:
            return
        cols, blanks = self.cols[name], self.blanks[name]
        tuples = [[r.get(c, b) for c, b in zip(cols, blanks)] for r in rows]
        self.report.rows[name] = self.report.rows.get(name, 0) + len(tuples)
        table = self.prefix + name
        if self.load_data:
            try:
                self._load(table, cols, tuples)
                return
            except Exception as exc:  # local_infile off on the server or client: fall back, once
                if "1148" not in str(exc) and "3948" not in str(exc) and "4166" not in str(exc) and "LOAD DATA" not in str(exc):
                    raise
                self.load_data = False
                self.report.method = "multi-row INSERT"
        if not self.mysql:  # sqlite3 binds no Decimal; dates as SQLAlchemy stores them
            tuples = [[_sqlite_value(v) for v in row] for row in tuples]
        q = '"' if not self.mysql else "`"
        sql = (f"INSERT INTO {q}{table}{q} ({', '.join(q + c + q for c in cols)}) VALUES "
               f"({', '.join(['%s' if self.mysql else '?'] * len(cols))})")
        with _cursor(self.raw) as cur:
            for i in range(0, len(tuples), 5000):
                cur.executemany(sql, tuples[i:i + 5000])
        self.raw.commit()

    def _load(self, table: str, cols: list[str], tuples: list[list]) -> None:
        fd, path = tempfile.mkstemp(prefix="ocseed-", suffix=".tsv")
        try:
            # Fast path: the generator writes no tab, newline or backslash, so only None needs care.
            with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as f:
                f.write("\n".join("\t".join(["\\N" if v is None else v if v.__class__ is str else str(v)
                                              for v in row]) for row in tuples))
                f.write("\n")
            with self.raw.cursor() as cur:
                cur.execute(f"LOAD DATA LOCAL INFILE %s INTO TABLE `{table}` CHARACTER SET utf8mb4 "
                            f"({', '.join('`' + c + '`' for c in cols)})", (path,))
            self.raw.commit()
        finally:
            os.unlink(path)

    def close(self) -> None:
        self.raw.close()


class _cursor:
    def __init__(self, raw):
        self.cur = raw.cursor()

    def __enter__(self):
        return self.cur

    def __exit__(self, *exc):
        self.cur.close()


def _sqlite_value(v):
    if isinstance(v, Decimal):
        return str(v)
    if isinstance(v, (dt.datetime, dt.date)):
        return str(v)
    return v


def _tsv(v) -> str:
    if v is None:
        return "\\N"
    if isinstance(v, str):
        return v.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n")
    return str(v)


def seed(url_or_engine, *, version: str, orders: int, prefix: str = "oc_", seed: int = 1, create: bool = True,
         products: int = 200, start: dt.datetime | None = None, batch: int = 20000,
         progress=None) -> SeedReport:
    """Fill a shop database with `orders` orders (after any already there); creates tables first if asked."""
    report = SeedReport()
    t0 = time.perf_counter()
    engine = url_or_engine if isinstance(url_or_engine, sa.Engine) else _engine(url_or_engine)
    md = metadata_for(version, prefix)
    layout = md.info["opencart_version"]
    rng = random.Random(seed)
    if create and not sa.inspect(engine).has_table(prefix + "order"):
        create_shop(engine, version, prefix)
    catalog = _Catalog(random.Random(seed), products)
    with engine.begin() as conn:
        have_products = conn.execute(sa.select(sa.func.count()).select_from(md.tables[prefix + "product"])).scalar()
        if not have_products:
            for name, rows in catalog.rows(md, prefix, layout).items():
                reference.insert_rows(conn, md.tables[prefix + name], rows)
        first = (conn.execute(sa.select(sa.func.max(md.tables[prefix + "order"].c.order_id))).scalar() or 0) + 1
        next_ids = {n: (conn.execute(sa.select(sa.func.max(md.tables[prefix + n].primary_key.columns[0]))).scalar() or 0)
                    for n in ("order_product", "order_option", "order_total", "order_history", "customer")}
    report.timings["setup"] = time.perf_counter() - t0

    writer = _Writer(engine, md, prefix, report)
    writer.disable_keys()
    gen_time = write_time = 0.0
    start = start or dt.datetime(2024, 1, 1, 9, 0)
    span = dt.timedelta(days=540)
    n_customers = max(50, orders // 8)
    customer_base = next_ids["customer"]
    customers: list[dict] = []
    try:
        g0 = time.perf_counter()
        for i in range(n_customers):
            customers.append(_customer(rng, customer_base + i + 1, start, layout))
        gen_time += time.perf_counter() - g0
        w0 = time.perf_counter()
        for i in range(0, len(customers), batch):
            writer.write("customer", customers[i:i + batch])
        write_time += time.perf_counter() - w0
        for lo in range(0, orders, batch):
            g0 = time.perf_counter()
            chunk = {k: [] for k in ("order", "order_product", "order_option", "order_total", "order_history")}
            for k in range(lo, min(orders, lo + batch)):
                oid = first + k
                when = start + span * (k / max(1, orders))
                _order(rng, oid, when, layout, catalog, customers, next_ids, chunk)
            gen_time += time.perf_counter() - g0
            w0 = time.perf_counter()
            for name, rows in chunk.items():
                writer.write(name, rows)
            write_time += time.perf_counter() - w0
            report.orders += len(chunk["order"])
            if progress:
                progress(report.orders, orders)
        k0 = time.perf_counter()
        writer.disable_keys(enable=True)
        report.timings["enable keys"] = time.perf_counter() - k0
    finally:
        writer.close()
    report.timings["generate"] = gen_time
    report.timings["write"] = write_time
    return report


def _customer(rng: random.Random, cid: int, start: dt.datetime, layout: str) -> dict:
    ru = rng.random() < 0.25
    first, last = (rng.choice(RU_FIRST), rng.choice(RU_LAST)) if ru else (rng.choice(TR_FIRST), rng.choice(TR_LAST))
    return {"customer_id": cid, "customer_group_id": 1, "store_id": 1 if ru else 0, "language_id": 3 if ru else 2,
            "firstname": first, "lastname": last, "email": f"musteri{cid}@example.com",
            "telephone": phone_ru(rng) if ru else phone_tr(rng), "password": "x" * 40, "salt": "abcdefghi",
            "newsletter": 0, "custom_field": "", "ip": "10.0.0.1", "status": 1, "safe": 0, "approved": 1,
            "date_added": start, "_ru": ru}


def _order(rng: random.Random, oid: int, when: dt.datetime, layout: str, catalog: _Catalog, customers: list[dict],
           ids: dict[str, int], out: dict[str, list], *, payment: tuple | None = None, status: int | None = None) -> None:
    registered = bool(customers) and rng.random() < 0.35
    if registered:
        c = rng.choice(customers)
        ru, cid = c["_ru"], c["customer_id"]
        first, last, email, phone = c["firstname"], c["lastname"], c["email"], c["telephone"]
    else:
        ru = rng.random() < 0.25
        cid = 0
        first, last = (rng.choice(RU_FIRST), rng.choice(RU_LAST)) if ru else (rng.choice(TR_FIRST), rng.choice(TR_LAST))
        email = f"guest{oid}@example.com"
        phone = phone_ru(rng) if ru else phone_tr(rng)
    store_id = 1 if ru else 0
    code, json_code, title, _ = payment or _weighted(rng, PAYMENTS)
    if ru and code == "kapida_odeme":
        code, json_code, title = "cod", "cod.cod", "Наложенный платёж"
    status = _weighted(rng, STATUSES)[0] if status is None else status
    city, zone = rng.choice(TR_CITIES) if not ru else ("Москва", 2761)
    country_id = 176 if ru else 215
    ship = {"name": "Sabit Kargo", "code": "flat.flat"}
    o = {
        "order_id": oid, "invoice_no": 0, "invoice_prefix": "INV-2024-00", "store_id": store_id,
        "store_name": "İkinci Mağaza" if ru else "Demo Mağaza", "store_url": "http://shop2.example/" if ru else "http://shop.example/",
        "customer_id": cid, "customer_group_id": 1, "firstname": first, "lastname": last, "email": email,
        "telephone": phone, "fax": "", "custom_field": "[]",
        "payment_firstname": first, "payment_lastname": last, "payment_address_1": "Atatürk Cad. No: 1",
        "payment_city": city, "payment_country": "Russian Federation" if ru else "Turkey",
        "payment_country_id": country_id, "payment_zone_id": zone, "payment_custom_field": "[]",
        "shipping_firstname": first, "shipping_lastname": last, "shipping_address_1": "Atatürk Cad. No: 1",
        "shipping_city": city, "shipping_country": "Russian Federation" if ru else "Turkey",
        "shipping_country_id": country_id, "shipping_zone_id": zone, "shipping_custom_field": "[]",
        "comment": "Kapıda &quot;nakit&quot; ödeyeceğim" if rng.random() < 0.05 else "",
        "order_status_id": status, "language_id": 3 if ru else (1 if rng.random() < 0.05 else 2),
        "currency_id": 4 if ru else 1, "currency_code": "RUB" if ru else "TRY",
        "currency_value": Decimal("2.6") if ru else Decimal("1"), "ip": "10.0.0.2", "user_agent": "Mozilla/5.0",
        "accept_language": "ru-RU" if ru else "tr-TR", "date_added": when.replace(microsecond=0),
        "date_modified": when.replace(microsecond=0), "language_code": "ru-ru" if ru else "tr-tr",
    }
    if layout == "4.0":
        o["payment_method"] = json.dumps({"name": title, "code": json_code}, ensure_ascii=False)
        o["shipping_method"] = json.dumps(ship, ensure_ascii=False)
    else:
        o["payment_method"], o["payment_code"] = title, (json_code if layout == "4.0.0" else code)
        o["shipping_method"], o["shipping_code"] = ship["name"], ship["code"]
    subtotal = Decimal(0)
    for _ in range(rng.choice((1, 1, 1, 2, 2, 3))):
        prod = rng.choice(catalog.products)
        qty = rng.choice((1, 1, 1, 2, 3))
        ids["order_product"] += 1
        opid = ids["order_product"]
        line_total = prod["price"] * qty
        subtotal += line_total
        out["order_product"].append({"order_product_id": opid, "order_id": oid, "product_id": prod["product_id"],
                                     "name": prod["name_ru" if ru else "name_tr"], "model": f"MDL-{prod['product_id']:05d}",
                                     "quantity": qty, "price": prod["price"], "total": line_total,
                                     "tax": Decimal(0), "reward": 0, "master_id": 0})
        if prod["has_option"]:
            pov_id, size = rng.choice(prod["values"])
            ids["order_option"] += 1
            out["order_option"].append({"order_option_id": ids["order_option"], "order_id": oid,
                                        "order_product_id": opid, "product_option_id": prod["product_id"],
                                        "product_option_value_id": pov_id, "name": "Beden" if not ru else "Размер",
                                        "value": size, "type": "select"})
    shipping = Decimal("29.90")
    for sort, (code_t, title_t, value) in enumerate((("sub_total", "Ara Toplam", subtotal),
                                                     ("shipping", "Sabit Kargo", shipping),
                                                     ("total", "Toplam", subtotal + shipping)), start=1):
        ids["order_total"] += 1
        out["order_total"].append({"order_total_id": ids["order_total"], "order_id": oid, "code": code_t,
                                   "title": title_t, "value": value, "sort_order": sort, "extension": "opencart"})
    o["total"] = subtotal + shipping
    out["order"].append(o)
    if status > 0:
        for st in ((1, status) if status not in (1,) and rng.random() < 0.5 else (status,)):
            ids["order_history"] += 1
            out["order_history"].append({"order_history_id": ids["order_history"], "order_id": oid,
                                         "order_status_id": st, "notify": 0, "comment": "",
                                         "date_added": o["date_added"]})


def place_order(url_or_engine, *, version: str, prefix: str = "oc_", rng: random.Random | None = None,
                status: int = 1, when: dt.datetime | None = None, store_id: int = 0) -> int:
    """One new cash-on-delivery order in `store_id` as checkout leaves it (the live demo places these)."""
    engine = url_or_engine if isinstance(url_or_engine, sa.Engine) else _engine(url_or_engine)
    md = metadata_for(version, prefix)
    layout = md.info["opencart_version"]
    rng = rng or random.Random()
    catalog = _Catalog(random.Random(1), 200)  # same products as seed() made
    with engine.begin() as conn:
        def top(name: str) -> int:
            table = md.tables[prefix + name]
            return conn.execute(sa.select(sa.func.max(table.primary_key.columns[0]))).scalar() or 0

        ids = {n: top(n) for n in ("order_product", "order_option", "order_total", "order_history")}
        oid = top("order") + 1
        out = {k: [] for k in ("order", "order_product", "order_option", "order_total", "order_history")}
        _order(rng, oid, when or dt.datetime.now(), layout, catalog, [], ids, out, payment=PAYMENTS[0], status=status)
        out["order"][0]["store_id"] = store_id  # the generator puts Russian customers in store 1
        for row in out["order_history"]:  # the hub writes history meanwhile: let the database number these rows
            del row["order_history_id"]
        for name in ("order", "order_product", "order_option", "order_total", "order_history"):
            if out[name]:
                reference.insert_rows(conn, md.tables[prefix + name], out[name])
    return oid


def main(argv: list[str] | None = None) -> int:
    """`ocbridge opencart seed --url URL --version 3.0 --orders N --prefix oc_` (the CLI wires this in)."""
    import argparse

    ap = argparse.ArgumentParser(prog="ocbridge opencart seed", description="Fill an OpenCart database with test orders.")
    ap.add_argument("--url", required=True, help="mysql+pymysql://user:pw@host/db or sqlite:///path")
    ap.add_argument("--version", default="3.0", choices=["2.3", "3.0", "4.0.0", "4.0"])
    ap.add_argument("--orders", type=float, default=1000)
    ap.add_argument("--prefix", default="oc_")
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args(argv)
    report = seed(args.url, version=args.version, orders=int(args.orders), prefix=args.prefix, seed=args.seed,
                  progress=lambda done, total: print(f"{done}/{total}", end="\r", flush=True))
    print(f"\n{report.summary()}")
    return 0
