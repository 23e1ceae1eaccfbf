"""Fixtures for the ozon integration: a throwaway MariaDB shop per layout (3.0, 4.0), the Ozon simulator, an Integration."""

from __future__ import annotations

import itertools
from decimal import Decimal

import pytest
from sqlalchemy import create_engine

from ocbridge.core import ratelimit
from ocbridge.core.models import Connection, Integration, Store
from ocbridge.opencart import reference
from ocbridge.opencart.layouts import metadata_for
from ocbridge.simulators.ozon import OzonSimulator

CID, KEY = "123456", "00000000-0000-4000-8000-00000000a11e"
WH = 1020000000001
_n = itertools.count(1)


@pytest.fixture(scope="session")
def ozon_mariadb():
    from ocbridge.testbed.mariadb import MariaDBUnavailable, start_server

    try:
        server = start_server()
    except MariaDBUnavailable as exc:
        pytest.skip(str(exc))
    yield server
    server.stop()


def seed(conn, md, products: list[dict]) -> None:
    """Categories 20 (phones) and 30 (unmapped), manufacturer Acme, and the given products."""
    t, p = md.tables, "oc_"
    ins = reference.insert_rows
    ins(conn, t[p + "manufacturer"], [{"manufacturer_id": 1, "name": "Acme", "sort_order": 0}])
    ins(conn, t[p + "category"], [{"category_id": 20, "parent_id": 0, "status": 1}, {"category_id": 30, "parent_id": 0, "status": 1}])
    seed_products(conn, md, products)


def seed_products(conn, md, products: list[dict]) -> None:
    """Enabled products in store 0 with a description, a category (20 unless given) and stock to sell."""
    t, p = md.tables, "oc_"
    ins = reference.insert_rows
    for prod in products:
        pid = prod["product_id"]
        ins(conn, t[p + "product"], [{"product_id": pid, "model": prod.get("model", f"M{pid}"), "sku": "", "quantity": prod.get("quantity", 5),
                                      "price": Decimal(prod.get("price", "100.00")), "image": f"catalog/p{pid}.jpg",
                                      "manufacturer_id": prod.get("manufacturer_id", 1), "weight": Decimal("1.5"), "weight_class_id": 1,
                                      "length": Decimal("10"), "width": Decimal("5"), "height": Decimal("2"), "length_class_id": 1,
                                      "subtract": 1, "status": 1, "minimum": 1, "shipping": 1, "stock_status_id": 7,
                                      "date_available": "2024-01-01", "date_added": "2024-01-01 00:00:00",
                                      "date_modified": "2024-01-01 00:00:00"}])
        ins(conn, t[p + "product_description"], [{"product_id": pid, "language_id": 1, "name": prod.get("name", f"Phone {pid}"),
                                                  "description": "A phone", "tag": "", "meta_title": "", "meta_description": "",
                                                  "meta_keyword": ""}])
        ins(conn, t[p + "product_to_store"], [{"product_id": pid, "store_id": 0}])
        ins(conn, t[p + "product_to_category"], [{"product_id": pid, "category_id": prod.get("category_id", 20)}])


@pytest.fixture(params=["3.0", "4.0"])
def shop(request, ozon_mariadb):
    """(Store, engine, metadata) of a fresh OpenCart database with products 1–3 (3 has no manufacturer)."""
    version = request.param
    url = ozon_mariadb.create_database(f"ozon_{version.replace('.', '')}_{next(_n)}")
    engine = create_engine(url)
    md = metadata_for(version, "oc_")
    md.create_all(engine)
    with engine.begin() as conn:
        reference.install(conn, md, currency="RUB", language="en-gb", timezone="UTC")
        seed(conn, md, [{"product_id": 1}, {"product_id": 2}, {"product_id": 3, "manufacturer_id": 0}])
    store = Store.objects.create(name=f"Shop {version}", db_url=url, version=version, table_prefix="oc_",
                                 timezone="UTC", currency="RUB")
    yield store, engine, md
    engine.dispose()


@pytest.fixture
def sim():
    ratelimit.reset()
    with OzonSimulator(client_id=CID, api_key=KEY) as s:
        yield s


def settings(**over) -> dict:
    base = {"warehouse_ids": [WH], "currency": "RUB", "image_base_url": "https://shop.example",
            "category_map": {"20": {"description_category_id": 17028922, "type_id": 94765}},
            "attribute_map": {"85": {"source": "manufacturer"}, "9048": {"source": "field:model"}},
            "price_source": "special"}
    base.update(over)
    return base


@pytest.fixture
def integration(shop, sim):
    store = shop[0]
    conn = Connection.objects.create(store=store, service="ozon", base_url=sim.base_url,
                                     secret={"client_id": CID, "api_key": KEY})
    return Integration.objects.create(store=store, kind="ozon", connection=conn, settings=settings())
