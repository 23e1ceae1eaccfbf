"""Ozon as the store's stock source (DESIGN "One stock source per store"): Ozon's stock is written to the shop
through the journaled stock write and never sent back (MariaDB 3.0 and 4.0 ↔ simulator)."""

from __future__ import annotations

import itertools

import pytest
from sqlalchemy import select, update

from ocbridge.core import clock
from ocbridge.core.jobs import run_job, run_until_idle
from ocbridge.core.models import Job
from ocbridge.integrations.ozon import jobs
from ocbridge.opencart.models import ShopWrite

from integrations.ozon.conftest import WH

pytestmark = pytest.mark.django_db
_keys = itertools.count(1)


def run(kind, integration) -> Job:
    return run_job(Job.objects.enqueue(kind, key=f"test:{next(_keys)}", integration=integration).pk)


def pushes(sim) -> int:
    return len([r for r in sim.requests("/v2/products/stocks") if r.status == 200])


def quantity(engine, md, pid) -> int:
    p = md.tables["oc_product"]
    with engine.connect() as c:
        return c.execute(select(p.c.quantity).where(p.c.product_id == pid)).scalar()


def live_cards(integration, sim):
    run(jobs.SyncProducts, integration)
    for _ in range(5):  # import tracking, then the first stock and price
        clock.travel(31)
        sim.advance(31)
        run_until_idle()


def test_ozon_stock_reaches_the_shop_once_and_is_not_sent_back(integration, sim, shop):
    store, engine, md = shop
    live_cards(integration, sim)
    store.stock_source = "ozon"
    store.save(update_fields=["stock_source"])
    sent = pushes(sim)
    sim.set_stock_at_ozon("M1", WH, 2)
    run(jobs.SyncStockIn, integration)
    assert (quantity(engine, md, 1), quantity(engine, md, 2)) == (2, 5)
    run(jobs.SyncStockIn, integration)  # nothing changed at Ozon: no second write
    assert ShopWrite.objects.filter(kind="stock").count() == 1
    with engine.begin() as c:  # a sale in the shop: Ozon keeps the stock, the shop's count is not pushed
        c.execute(update(md.tables["oc_product"]).where(md.tables["oc_product"].c.product_id == 2).values(quantity=4))
    run(jobs.SyncStock, integration)
    assert pushes(sim) == sent
    integration.refresh_from_db()
    kinds = set(jobs.enqueue_sync(integration)[0])
    assert "ozon.stock_in" in kinds and "ozon.sync_stock" not in kinds
    # back to the shop as the source: what came from Ozon is not echoed, the shop's own change is sent
    store.stock_source = "shop"
    store.save(update_fields=["stock_source"])
    run(jobs.SyncStock, integration)
    body = sim.requests("/v2/products/stocks")[-1].json()["stocks"]
    assert body == [{"offer_id": "M2", "stock": 4, "warehouse_id": WH}]
