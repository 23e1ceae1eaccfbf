"""Issue #19's "Done when", in one run per layout (MariaDB 3.0 and 4.0 shops ↔ jobs ↔ the OneBox simulator over
HTTP): the first sync (the whole order history, the customers, the catalogue), changes on both sides (orders,
statuses, categories, brands, products), a conflict decided by the owner's rule, and a worker killed mid-sync —
then nothing is duplicated on either side and nothing is lost."""

from __future__ import annotations

from collections import Counter
from decimal import Decimal

import pytest
import sqlalchemy as sa

from integrations.onebox.crashes import handed_out_again, killed_at
from ocbridge.core.jobs import run_until_idle
from ocbridge.core.models import Binding
from ocbridge.integrations.onebox import catalogue_in, jobs, models as m
from ocbridge.opencart import writes
from ocbridge.opencart.models import ShopWrite
from ocbridge.opencart.reference import complete_row

pytestmark = pytest.mark.django_db


def add_customers(shop, *ids) -> None:
    with shop.engine.begin() as conn:
        conn.execute(sa.insert(shop.t("customer")), [complete_row(shop.t("customer"), {
            "customer_id": cid, "customer_group_id": 1, "store_id": 0, "firstname": f"C{cid}", "lastname": "Lee",
            "email": f"c{cid}@example.com", "telephone": f"0770090{cid:04d}", "status": 1,
            "date_added": "2024-01-01 00:00:00"}) for cid in ids])


def shop_rows(shop, table: str, *columns) -> list[tuple]:
    t = shop.t(table)
    with shop.engine.connect() as conn:
        return sorted(tuple(r) for r in conn.execute(sa.select(*(t.c[c] for c in columns))))


def test_first_sync_changes_on_both_sides_a_conflict_and_a_crash_nothing_duplicated_nothing_lost(
        shop, sim, integration, kit):
    integration.settings = {**integration.settings, "history_batch": 2,
                            "flows": {"category": "both", "brand": "both", "product": "both", "status": "both"},
                            "conflict_rules": {"status": "service", "category": "newest", "product": "shop"}}
    integration.save()
    for oid in (801, 802, 803):
        kit.add_order(shop, oid, status=2)
    add_customers(shop, 1, 2, 3)

    # first sync: the whole history and the customers (resumable loads), the catalogue, OneBox's first read
    jobs.start_load(integration, "order")
    jobs.start_load(integration, "contact")
    run_until_idle()
    kit.run(jobs.SyncCatalog, integration)
    kit.poll(integration)
    assert sorted(o["externalid"] for o in sim.records("order")) == ["UK-801", "UK-802", "UK-803"]
    assert len(sim.records("contact")) == 3 and len(sim.records("category")) == 2 and len(sim.records("product")) == 2
    catalogue_sets = (sim.calls()["category/set"], sim.calls()["brand/set"])

    # changes on both sides
    kit.add_order(shop, 804, status=1)  # a new order in the shop
    kit.owner_sets(shop, 801, 3)  # the shop ships 801
    sim.set_order_status("UK-802", "Done")  # OneBox completes 802
    sim.edit("category", "code", "oc-cat20", name="Cups", namelang={"en": "Cups", "tr": "Fincan", "ru": "Чашки"})
    nova = sim.add("brand", code="B-NOVA", name="Nova")
    p = shop.t("product")
    with shop.engine.begin() as conn:
        conn.execute(sa.update(p).where(p.c.product_id == 1).values(price=Decimal("12")))
    sim.edit("product", "articul", "SKU-2", price="14.00")
    # a conflict: both sides move 803 before either is synced (the owner's rule: OneBox wins statuses)
    kit.owner_sets(shop, 803, 5)
    sim.set_order_status("UK-803", "Cancelled")

    # a crash mid-sync: the worker dies inside the shop write of OneBox's category
    with killed_at(writes, "path", "before"):
        kit.poll(integration)
    handed_out_again(catalogue_in.CatalogueIn)
    for _ in range(2):
        kit.poll(integration)
        kit.run(jobs.SyncCatalog, integration)

    # nothing lost: every change is on the other side
    o = {r["externalid"]: r for r in sim.records("order")}
    assert o["UK-801"]["statusid"] == sim.status_id("Shipped") and "UK-804" in o
    assert kit.order_status(shop, 802) == 5 and kit.history(shop, 802)[-1] == (5, "OneBox: Complete")
    assert (kit.order_status(shop, 803), o["UK-803"]["statusid"]) == (7, sim.status_id("Cancelled"))
    [conflict] = m.Conflict.objects.filter(kind="status")
    assert (conflict.local_id, conflict.rule) == ("803", "service")
    cd = shop_rows(shop, "category_description", "category_id", "language_id", "name")
    assert [r for r in cd if r[0] == 20] == [(20, 1, "Cups"), (20, 2, "Fincan"), (20, 3, "Чашки")]
    assert ("Nova",) in shop_rows(shop, "manufacturer", "name")
    price = {r["articul"]: r["price"] for r in sim.records("product")}
    assert price["SKU-1"] == "12.00"
    assert str(shop_rows(shop, "product", "product_id", "price")[1][1]).startswith("14.")
    # nothing duplicated: one record per thing on each side, each history entry once, nothing of ours sent back
    assert sorted(o) == ["UK-801", "UK-802", "UK-803", "UK-804"]
    comments = Counter(c["externalid"] for c in sim.records("comment"))
    assert comments and max(comments.values()) == 1
    assert all("OneBox:" not in c["text"] for c in sim.records("comment"))  # our own entries are echoes
    assert len(sim.records("contact")) == 3 and len(sim.records("category")) == 2 and len(sim.records("brand")) == 2
    assert (sim.calls()["category/set"], sim.calls()["brand/set"]) == catalogue_sets
    assert shop_rows(shop, "category", "category_id") == [(10,), (20,)]
    assert [n for (n,) in shop_rows(shop, "manufacturer", "name")] == ["Acme", "Nova"]
    assert len(shop_rows(shop, "product", "product_id")) == 2
    assert [h for h, _c in kit.history(shop, 802)].count(5) == 1
    assert ShopWrite.objects.filter(kind="category").count() == 1
    assert ShopWrite.objects.get(kind="category").state == "done"
    assert m.Conflict.objects.count() == 1
    assert Binding.objects.filter(kind=m.BRAND, external_id=str(nova["id"])).count() == 1
