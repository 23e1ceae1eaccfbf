"""OpenCart rows with NULLs and odd encodings on MariaDB (3.0 layout, utf8 tables): written the way OpenCart 3.0
writes (non-strict sql_mode), read through the adapter and polled into COD confirmation. Never a crash: each row
gives a defined Order and a defined Confirmation (or none)."""

import datetime as dt
import itertools
from decimal import Decimal

import pymysql
import pytest
import sqlalchemy as sa
from corpus.loader import params

from ocbridge import opencart
from ocbridge.core.models import Connection, Integration, PollHealth, Store
from ocbridge.integrations.cod_confirm.config import CodConfirmConfig
from ocbridge.integrations.cod_confirm.models import Confirmation
from testkit import cod_integration

NULLABLE = ("telephone", "firstname", "lastname", "email", "comment", "payment_code", "payment_method")
_ids = itertools.count(9001)


@pytest.fixture(scope="module")
def shop30(mariadb):
    """A 3.0 shop whose text columns allow NULL (modified schemas and some extensions leave NULLs there)."""
    from ocbridge.opencart import db as oc_db
    from ocbridge.opencart.seed import create_shop

    name = "corpus_rows_30"
    url = mariadb.create_database(name)
    engine = create_shop(url, "3.0", "oc_")
    with engine.begin() as conn:
        for col in NULLABLE:
            width = 128 if col.startswith("payment") else 96
            conn.execute(sa.text(f"ALTER TABLE oc_order MODIFY {col} {'TEXT' if col == 'comment' else f'VARCHAR({width})'} NULL"))
    yield url, engine
    oc_db.forget(url)
    engine.dispose()
    mariadb.drop_database(name)


def insert_order(engine, order_id: int, overrides: dict, names: str) -> None:
    """One order row through a raw connection with OpenCart 3.0's session settings (SET NAMES, non-strict mode)."""
    row = {"order_id": order_id, "store_id": 0, "firstname": "Ayşe", "lastname": "Yılmaz", "email": "a@example.com",
           "telephone": "0532 123 45 67", "customer_id": 0, "order_status_id": 1, "total": Decimal("229.90"),
           "currency_code": "TRY", "currency_value": Decimal(1), "language_id": 2, "store_name": "Demo",
           "date_added": dt.datetime(2024, 5, 1, 10), "date_modified": dt.datetime(2024, 5, 1, 10),
           "custom_field": "[]", "payment_method": "Kapıda Ödeme", "payment_code": "cod", "shipping_method": "Flat",
           "shipping_code": "flat.flat", "comment": "", **overrides}
    from ocbridge.opencart.reference import complete_row

    table = sa.Table("oc_order", sa.MetaData(), autoload_with=engine)
    row = complete_row(table, row)
    u = engine.url
    conn = pymysql.connect(host=u.host, port=u.port, user=u.username, password=u.password or "", database=u.database,
                           charset=names, autocommit=True)
    try:
        with conn.cursor() as cur:
            cur.execute("SET SESSION sql_mode = 'NO_ZERO_IN_DATE,NO_ENGINE_SUBSTITUTION'")
            cols = ", ".join(f"`{c}`" for c in row)
            cur.execute(f"INSERT INTO oc_order ({cols}) VALUES ({', '.join(['%s'] * len(row))})", list(row.values()))
    finally:
        conn.close()


@pytest.fixture
def store(db, shop30):
    url, _ = shop30
    store = Store.objects.create(name="Rows", db_url=url, table_prefix="oc_", country="TR")
    conn = Connection.objects.create(store=store, service="sandbox", base_url="http://127.0.0.1:9",
                                     secret={"token": "t", "webhook_secret": "w"})
    day = {d: ["00:00", "24:00"] for d in "0123456"}
    cod_integration(store, conn, settings=CodConfirmConfig(day_hours=day).to_settings())
    opencart.poll_new_orders(store)  # the first poll sets the watermark
    return store


@pytest.mark.parametrize("case", params("opencart_rows"))
def test_opencart_row(shop30, store, case):
    from ocbridge.core.polls import run_all as run_polls

    _, engine = shop30
    order_id = next(_ids)
    insert_order(engine, order_id, case["set"], case.get("names", "utf8"))
    order = opencart.read_order(store, order_id)
    got = {k: getattr(order, k) for k in case["read"]}
    want = {k: (Decimal(v) if k == "total" else v) for k, v in case["read"].items()}
    assert got == want
    assert run_polls("opencart.shop") == 1
    assert not PollHealth.objects.filter(failing_since__isnull=False).exists(), PollHealth.objects.first().last_error
    c = Confirmation.objects.filter(store=store, order_id=order_id).first()
    if case["confirmation"] is None:
        assert c is None
        return
    assert (c.state, c.phone) == (case["confirmation"], case["phone"])
    if "customer_name" in case:
        assert c.customer_name == case["customer_name"]
    if c.state == "needs_person":
        assert c.needs_person_reason == "phone invalid"
