"""Two-way products: cards that exist only on Ozon are imported into the shop (MariaDB 3.0 and 4.0 ↔ simulator).

Answer shapes of `/v4/product/info/attributes` and `/v1/product/info/description`: Ozon's reference examples
(mirrored in github xmdragon/ozon-library docs/api/official/post-v4-product-info-attributes-*.md and
post-v1-product-info-description-*.md), served by the simulator.
"""

from __future__ import annotations

import itertools
from decimal import Decimal

import pytest
from sqlalchemy import select, update

from ocbridge.core.jobs import run_job
from ocbridge.core.models import Binding, Job
from ocbridge.integrations.ozon import jobs, models as m
from ocbridge.opencart import writes
from ocbridge.opencart.models import ShopWrite

from integrations.ozon.conftest import WH

pytestmark = pytest.mark.django_db
_keys = itertools.count(1)

CARD = dict(name="Кружка «Утро»", price="450.00", description="Керамика, 350 мл<br/>Можно в посудомойку",
            images=["https://cdn1.ozone.ru/s3/multimedia-1/6001.jpg", "https://cdn1.ozone.ru/s3/multimedia-2/6002.jpg"],
            attributes=[{"id": 85, "complex_id": 0, "values": [{"dictionary_value_id": 5000004, "value": "Acme"}]},
                        {"id": 9048, "complex_id": 0, "values": [{"dictionary_value_id": 0, "value": "Утро"}]},
                        {"id": 10096, "complex_id": 0, "values": [{"dictionary_value_id": 61571, "value": "белый"},
                                                                  {"dictionary_value_id": 61572, "value": "красный"}]}],
            stocks={WH: 9}, weight=400, depth=120, width=90, height=100)


def run(kind, integration, **payload) -> Job:
    job = Job.objects.enqueue(kind, key=f"test:{next(_keys)}", integration=integration, payload=payload)
    return run_job(job.pk)


def calls(sim, path) -> int:
    return len([r for r in sim.requests(path) if r.status == 200])


def two_way(integration, **over):
    from ocbridge.opencart import shop_db
    from ocbridge.opencart.reference import complete_row

    shop = shop_db(integration.store)
    st = shop.t("setting")
    with shop.engine.begin() as c:  # kg and cm, as OpenCart's installer sets them
        for key in ("config_weight_class_id", "config_length_class_id"):
            c.execute(st.insert().values(complete_row(st, {"store_id": 0, "code": "config", "key": key, "value": "1"})))
    integration.settings = {**integration.settings, "products_in": True, **over}
    integration.save(update_fields=["settings"])


def rows(engine, md, table, **where):
    t = md.tables["oc_" + table]
    stmt = select(t)
    for k, v in where.items():
        stmt = stmt.where(t.c[k] == v)
    with engine.connect() as c:
        return [r._mapping for r in c.execute(stmt)]


def test_an_ozon_only_card_becomes_a_shop_product_once(integration, sim, shop):
    store, engine, md = shop
    two_way(integration)
    sim.add_card("OZ-1", **CARD)
    run(jobs.SyncProducts, integration)  # the shop's own products M1, M2 become cards too: those are not imported
    run(jobs.ImportOzonProducts, integration)
    (b,) = Binding.objects.filter(connection=integration.connection, kind=m.IMPORTED)
    pid = int(b.local_id)
    assert b.external_id == "OZ-1" and b.data["images"] == CARD["images"] and b.data["without_images"]
    (p,) = rows(engine, md, "product", product_id=pid)
    assert (p["model"], p["price"], p["quantity"], p["status"], p["image"]) == ("OZ-1", Decimal("450.0000"), 9, 1, "")
    assert (p["weight"], p["length"], p["width"], p["height"]) == (Decimal("0.4"), Decimal("12"), Decimal("9"),
                                                                  Decimal("10"))  # kg and cm: the shop's units
    names = {r["language_id"]: (r["name"], r["description"]) for r in rows(engine, md, "product_description",
                                                                          product_id=pid)}
    assert names[3] == ("Кружка «Утро»", "Керамика, 350 мл&lt;br/&gt;Можно в посудомойку")  # Russian, as OpenCart stores it
    assert names[1] == names[2] == names[3]  # the other languages show the Ozon text until the owner translates
    assert [r["category_id"] for r in rows(engine, md, "product_to_category", product_id=pid)] == [20]  # mapping
    (maker,) = [r for r in rows(engine, md, "manufacturer") if r["manufacturer_id"] == p["manufacturer_id"]]
    assert maker["name"] == "Acme"  # the shop's own manufacturer, found by name
    attrs = rows(engine, md, "product_attribute", product_id=pid)
    assert {a["text"] for a in attrs} == {"белый, красный"} and len(attrs) == 3
    names_of = {r["name"] for r in rows(engine, md, "attribute_description")}
    assert "Цвет товара" in names_of
    # the next rounds: nothing imported again, and nothing of ours sent back to Ozon
    before = {path: calls(sim, path) for path in ("/v3/product/import", "/v2/products/stocks",
                                                  "/v1/product/import/prices")}
    run(jobs.ImportOzonProducts, integration)
    run(jobs.SyncProducts, integration)
    run(jobs.SyncStock, integration)
    run(jobs.SyncPrices, integration)
    assert len(rows(engine, md, "product")) == 4 and ShopWrite.objects.filter(kind="product").count() == 1
    sent = [i["offer_id"] for path in before for r in sim.requests(path)[before[path]:]
            for i in (r.json().get("items") or r.json().get("stocks") or r.json().get("prices") or [])]
    assert "OZ-1" not in sent
    # a change the owner makes in the shop afterwards is a shop change: it goes to Ozon
    with engine.begin() as c:
        t = md.tables["oc_product"]
        c.execute(update(t).where(t.c.product_id == pid).values(quantity=4))
    run(jobs.SyncStock, integration)
    assert sim.products()["OZ-1"]["stocks"] == {str(WH): 4}


def test_ozon_cards_matching_a_shop_product_are_not_imported(integration, sim, shop):
    two_way(integration)
    sim.add_card("M1", **CARD)  # the seller made the shop's product 1 by hand in the cabinet
    run(jobs.ImportOzonProducts, integration)
    assert not Binding.objects.filter(kind=m.IMPORTED).exists() and calls(sim, "/v4/product/info/attributes") == 0


def test_import_needs_offer_ids_from_model_or_sku(integration, sim):
    two_way(integration, offer_id_rule="product_id")
    sim.add_card("OZ-1", **CARD)
    job = run(jobs.ImportOzonProducts, integration)
    assert job.state == "failed" and "model or the SKU" in job.last_error


def test_worker_killed_mid_import_leaves_one_product(integration, sim, shop):
    store, engine, md = shop
    two_way(integration)
    sim.add_card("OZ-1", **CARD)

    class Crash(BaseException):
        pass

    def hook(step, when):
        if (step, when) == ("attributes", "before"):
            writes.crash_hook = None
            raise Crash()

    writes.crash_hook = hook
    try:
        with pytest.raises(Crash):
            jobs.ImportOzonProducts().run(Job(integration=integration, kind=jobs.ImportOzonProducts.kind, key="x"))
    finally:
        writes.crash_hook = None
    run(jobs.ImportOzonProducts, integration)
    models = [r["model"] for r in rows(engine, md, "product")]
    assert models.count("OZ-1") == 1
    (b,) = Binding.objects.filter(kind=m.IMPORTED)
    assert len(rows(engine, md, "product_attribute", product_id=int(b.local_id))) == 3
