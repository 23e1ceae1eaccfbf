"""Ozon jobs end to end: MariaDB OpenCart shop (3.0 and 4.0) ↔ jobs ↔ Ozon simulator over real HTTP."""

from __future__ import annotations

import itertools
import json

import pytest
from sqlalchemy import select, update

from testkit import WorkerProcess
from ocbridge.core import clock
from ocbridge.core.choices import JobState
from ocbridge.core.jobs import run_job, run_until_idle
from ocbridge.core.models import Binding, Job
from ocbridge.integrations.ozon import jobs, models as m

pytestmark = pytest.mark.django_db
_keys = itertools.count(1)


def run(kind, integration, **payload) -> Job:
    job = Job.objects.enqueue(kind, key=f"test:{next(_keys)}", integration=integration, payload=payload)
    return run_job(job.pk)


def settle(sim, rounds: int = 5) -> None:
    """Let deferred jobs (import tracking, stock interval) come due and run."""
    for _ in range(rounds):
        clock.travel(31)
        sim.advance(31)
        run_until_idle()


def product(integration, pid) -> Binding:
    return Binding.objects.get(connection=integration.connection, kind=m.PRODUCT, local_id=str(pid))


def calls(sim, path) -> int:
    return len([r for r in sim.requests(path) if r.status == 200])


def test_products_out_sends_complete_cards_and_lists_what_is_missing(integration, sim):
    run(jobs.SyncProducts, integration)
    assert calls(sim, "/v3/product/import") == 1
    sent = sim.requests("/v3/product/import")[0].json()["items"]
    assert sorted(i["offer_id"] for i in sent) == ["M1", "M2"]
    card = sent[0]
    assert (card["weight"], card["weight_unit"], card["depth"], card["dimension_unit"]) == (1500, "g", 100, "mm")
    assert card["primary_image"] == "https://shop.example/image/catalog/p1.jpg"
    missing = product(integration, 3).data
    assert missing["status"] == "missing" and any("85" in r for r in missing["missing"])
    settle(sim)
    assert (product(integration, 1).data["status"], product(integration, 2).data["status"]) == ("imported", "imported")
    assert set(sim.products()) == {"M1", "M2"}
    assert m.ImportTask.objects.get().done


def test_rerun_sends_only_changed_products(integration, sim, shop):
    store, engine, md = shop
    run(jobs.SyncProducts, integration)
    settle(sim)
    run(jobs.SyncProducts, integration)
    assert calls(sim, "/v3/product/import") == 1  # nothing changed: no call at all
    with engine.begin() as c:
        pd = md.tables["oc_product_description"]
        c.execute(update(pd).where(pd.c.product_id == 2).values(name="Phone 2 Pro"))
    run(jobs.SyncProducts, integration)
    assert calls(sim, "/v3/product/import") == 2
    assert [i["offer_id"] for i in sim.requests("/v3/product/import")[-1].json()["items"]] == ["M2"]


def test_item_error_is_stored_per_product_and_the_rest_proceeds(integration, sim):
    sim.fail_item("M2", "Бренд не соответствует категории", code="brand_mismatch")
    run(jobs.SyncProducts, integration)
    settle(sim)
    b2 = product(integration, 2)
    assert b2.data["status"] == "failed" and "Бренд не соответствует" in b2.data["errors"][0]
    assert product(integration, 1).data["status"] == "imported"
    run(jobs.SyncProducts, integration)  # the same failing card is not resent until it changes
    assert calls(sim, "/v3/product/import") == 1


def test_stock_and_prices_follow_import_and_only_changes_are_sent(integration, sim, shop):
    store, engine, md = shop
    run(jobs.SyncProducts, integration)
    settle(sim)  # tracking enqueues the first stock and price runs
    assert calls(sim, "/v2/products/stocks") == 1 and calls(sim, "/v1/product/import/prices") == 1
    assert sim.products()["M1"]["stocks"] == {str(1020000000001): 5}
    run(jobs.SyncStock, integration)
    run(jobs.SyncPrices, integration)
    assert calls(sim, "/v2/products/stocks") == 1 and calls(sim, "/v1/product/import/prices") == 1
    with engine.begin() as c:
        p = md.tables["oc_product"]
        c.execute(update(p).where(p.c.product_id == 1).values(quantity=2, price=90))
    run(jobs.SyncStock, integration)
    run(jobs.SyncPrices, integration)
    stock_body = sim.requests("/v2/products/stocks")[-1].json()["stocks"]
    price_body = sim.requests("/v1/product/import/prices")[-1].json()["prices"]
    assert stock_body == [{"offer_id": "M1", "stock": 2, "warehouse_id": 1020000000001}]
    assert [(i["offer_id"], i["price"]) for i in price_body] == [("M1", "90.00")]


def test_stock_change_within_30_seconds_waits_and_sends_the_latest_value(integration, sim, shop):
    store, engine, md = shop
    run(jobs.SyncProducts, integration)
    settle(sim)
    p = md.tables["oc_product"]
    with engine.begin() as c:
        c.execute(update(p).where(p.c.product_id == 1).values(quantity=4))
    run(jobs.SyncStock, integration)
    before = calls(sim, "/v2/products/stocks")
    with engine.begin() as c:
        c.execute(update(p).where(p.c.product_id == 1).values(quantity=3))
    job = run(jobs.SyncStock, integration)  # < 30 s since the last send for this pair
    assert job.state == JobState.QUEUED and job.next_run_at > clock.now()
    assert calls(sim, "/v2/products/stocks") == before
    settle(sim, rounds=1)
    assert sim.products()["M1"]["stocks"][str(1020000000001)] == 3
    assert sim.limit_hits().get("stock_pair", 0) == 0


@pytest.mark.parametrize("shop", ["3.0"], indirect=True)
def test_waits_for_ozons_limits_say_so_in_each_readers_language(integration, sim, shop):
    """A stock change inside Ozon's 30 s per pair, and the import task Ozon has not finished: each job waits, and its
    row on the jobs list and its page say why in the reader's language (core.jobs.Defer with a Sentence). The jobs
    run in a Turkish worker."""
    from django.utils import translation

    from testkit import assert_job_reads

    store, engine, md = shop
    run(jobs.SyncProducts, integration)
    clock.travel(6)  # the import task is read 5 s after it started; the simulator has not finished it
    with translation.override("tr"):
        tracking = run_job(Job.objects.filter(kind=jobs.TrackImportTask.kind).latest("pk").pk)
    assert tracking.state == JobState.QUEUED and tracking.attempts == 0
    assert_job_reads(tracking, {"en": "Ozon import task still pending", "tr": "Ozon içe aktarma görevi hâlâ bekliyor",
                                "ru": "задача импорта Ozon ещё выполняется"})
    settle(sim)
    p = md.tables["oc_product"]
    for quantity in (4, 3):  # the second change comes < 30 s after the first was sent
        with engine.begin() as c:
            c.execute(update(p).where(p.c.product_id == 1).values(quantity=quantity))
        with translation.override("tr"):
            job = run(jobs.SyncStock, integration)
    assert job.state == JobState.QUEUED
    assert_job_reads(job, {"en": "stock pairs waiting for Ozon's 30 s interval",
                           "tr": "stok çiftleri Ozon'un 30 sn aralığını bekliyor",
                           "ru": "пары остатков ждут 30-секундного интервала Ozon"})


def test_429_is_retried_later_never_dropped(integration, sim):
    sim.fail_next("429", path="/v3/product/import", retry_after=7)
    job = run(jobs.SyncProducts, integration)
    assert job.state == JobState.QUEUED and job.last_error
    settle(sim)
    assert set(sim.products()) == {"M1", "M2"}


def _orders(engine, md):
    o = md.tables["oc_order"]
    with engine.connect() as c:
        return [dict(r._mapping) for r in c.execute(select(o).order_by(o.c.order_id))]


def test_postings_become_orders_once_with_pagination_and_unknown_offer_warning(integration, sim, shop):
    store, engine, md = shop
    run(jobs.SyncProducts, integration)
    settle(sim)
    for i in range(3):
        sim.add_posting([{"offer_id": "M1", "quantity": 2, "price": 120}], posting_number=f"0000{i}-0001-1")
    sim.add_posting([{"offer_id": "GHOST-9", "quantity": 1, "price": 50}], posting_number="00009-0001-1")
    run(jobs.PollPostings, integration, page_size=2)
    run_until_idle()
    lists = [r.json() for r in sim.requests("/v4/posting/fbs/list") if "since" in r.json()["filter"]]
    assert [bool(r["cursor"]) for r in lists] == [False, True]  # 4 postings, 2 a page: paged by Ozon's cursor until has_next was false
    assert all(r["limit"] == 2 and r["sort_dir"] == "ASC" for r in lists)
    assert sim.limit_hits().get("switched_off", 0) == 0
    orders = _orders(engine, md)
    assert len(orders) == 4
    first = orders[0]
    if store.version == "3.0":
        assert (first["payment_method"], first["payment_code"]) == ("Ozon", "ozon")
    else:
        assert json.loads(first["payment_method"])["name"] == "Ozon"
    assert (first["customer_id"], first["order_status_id"], float(first["total"])) == (0, 2, 240.0)
    ghost = Binding.objects.get(kind=m.POSTING, external_id="00009-0001-1")
    assert "GHOST-9" in ghost.data["warnings"][0]
    p = md.tables["oc_product"]
    with engine.connect() as c:
        assert c.execute(select(p.c.quantity).where(p.c.product_id == 1)).scalar() == 5 - 6  # stock rule applied
        hist = md.tables["oc_order_history"]
        assert c.execute(select(hist.c.order_id)).all().__len__() == 4
    run(jobs.PollPostings, integration)  # the overlap sees them again: no duplicates
    run_until_idle()
    assert len(_orders(engine, md)) == 4


def test_cancelled_posting_cancels_the_order_and_restores_stock(integration, sim, shop):
    store, engine, md = shop
    run(jobs.SyncProducts, integration)
    settle(sim)
    sim.add_posting([{"offer_id": "M1", "quantity": 1, "price": 100}], posting_number="00001-0001-1")
    run(jobs.PollPostings, integration)
    run_until_idle()
    sim.set_posting_status("00001-0001-1", "cancelled")
    clock.travel(60)
    run(jobs.PollPostings, integration)
    run_until_idle()
    order = _orders(engine, md)[0]
    assert order["order_status_id"] == 7
    p = md.tables["oc_product"]
    with engine.connect() as c:
        assert c.execute(select(p.c.quantity).where(p.c.product_id == 1)).scalar() == 5


def test_crash_after_order_insert_does_not_duplicate(integration, sim, shop):
    store, engine, md = shop
    sim.add_posting([{"offer_id": "M1", "quantity": 1, "price": 100}], posting_number="00002-0001-1")
    from ocbridge.integrations.ozon import shop as shop_mod

    real = shop_mod.create_order

    def crash(*a, **kw):
        real(*a, **kw)
        raise RuntimeError("worker killed after the insert")

    shop_mod.create_order = crash
    try:
        run(jobs.PollPostings, integration)
        run_until_idle()
    finally:
        shop_mod.create_order = real
    Job.objects.filter(kind=jobs.ImportPosting.kind).update(state=JobState.QUEUED)
    run_until_idle()
    assert len(_orders(engine, md)) == 1
    assert Binding.objects.get(kind=m.POSTING).local_id == str(_orders(engine, md)[0]["order_id"])


@pytest.mark.django_db(transaction=True)
def test_worker_killed_mid_import_leaves_every_posting_imported_once(integration, sim, shop, tmp_path):
    """A real `ocbridge worker` is SIGKILLed while it turns postings into orders; the next worker finishes, and
    every posting is exactly one order (wherever the kill landed: before, inside or after an insert)."""
    store, engine, md = shop
    numbers = [f"7{i:04d}-0001-1" for i in range(40)]
    for n in numbers:
        sim.add_posting([{"offer_id": "M1", "quantity": 1, "price": 100}], posting_number=n)
    Job.objects.enqueue(jobs.PollPostings, key="kill:poll", integration=integration)
    with WorkerProcess(tmp_path / "w1.log", tick=0.1) as w1:
        w1.wait_for(lambda: len(_orders(engine, md)) >= 5, "the worker never imported")
        w1.kill()
    assert len(_orders(engine, md)) < len(numbers), "killed too late to prove anything"
    clock.travel(jobs.ImportPosting.claim_seconds + 5)  # the dead worker's claims expire, for every process
    done = lambda: Binding.objects.filter(kind=m.POSTING).exclude(local_id__startswith="pending:").count()  # noqa: E731
    with WorkerProcess(tmp_path / "w2.log", tick=0.1) as w2:
        w2.wait_for(lambda: done() == len(numbers), "the second worker did not import every posting")
    orders = _orders(engine, md)
    assert sorted(o["comment"] for o in orders) == sorted(f"Ozon posting {n}" for n in numbers)
    assert {b.local_id for b in Binding.objects.filter(kind=m.POSTING)} == {str(o["order_id"]) for o in orders}


# --- OpenCart 4.0 variants ------------------------------------------------------------------------------------
# A 4.0 variant is its own product row (master_id → its master, `variant` = JSON {master's product_option_id:
# product_option_value_id}; 4.0.2.3 admin/model/catalog/product.php addVariant). At Ozon each is its own card; the
# cards share attribute 9048 (model name: Ozon shows cards with one value as one product, ozon.md §2) and differ
# by the variant's option (colour 10096 here).


def _variants(engine, md) -> None:
    from sqlalchemy import update

    from integrations.ozon.conftest import seed_products
    from ocbridge.opencart import reference

    t = md.tables
    ins = reference.insert_rows
    with engine.begin() as c:
        ins(c, t["oc_option_description"], [{"option_id": 5, "language_id": 1, "name": "Colour"}])
        ins(c, t["oc_option_value_description"], [{"option_value_id": 51, "language_id": 1, "option_id": 5, "name": "Red"},
                                                  {"option_value_id": 52, "language_id": 1, "option_id": 5, "name": "Black"}])
        products = [{"product_id": 10, "model": "M10", "quantity": 9},
                         {"product_id": 11, "model": "M10-RED", "quantity": 4, "name": "Phone 10 Red"},
                         {"product_id": 12, "model": "M10-BLK", "quantity": 6, "name": "Phone 10 Black"}]
        seed_products(c, md, products)
        ins(c, t["oc_product_option"], [{"product_option_id": 1, "product_id": 10, "option_id": 5, "value": "", "required": 1}])
        ins(c, t["oc_product_option_value"], [
            {"product_option_value_id": 101, "product_option_id": 1, "product_id": 10, "option_id": 5, "option_value_id": 51,
             "quantity": 0, "subtract": 0, "price": 0, "price_prefix": "+", "points": 0, "points_prefix": "+", "weight": 0,
             "weight_prefix": "+"},
            {"product_option_value_id": 102, "product_option_id": 1, "product_id": 10, "option_id": 5, "option_value_id": 52,
             "quantity": 0, "subtract": 0, "price": 0, "price_prefix": "+", "points": 0, "points_prefix": "+", "weight": 0,
             "weight_prefix": "+"}])
        p = t["oc_product"]
        c.execute(update(p).where(p.c.product_id == 11).values(master_id=10, variant=json.dumps({"1": "101"})))
        c.execute(update(p).where(p.c.product_id == 12).values(master_id=10, variant=json.dumps({"1": "102"})))


@pytest.mark.parametrize("shop", ["4.0"], indirect=True)
def test_a_40_product_with_variants_becomes_one_ozon_model_of_cards_and_orders_reach_the_variant(integration, sim, shop):
    store, engine, md = shop
    _variants(engine, md)
    integration.settings = {**integration.settings, "attribute_map": {
        "85": {"source": "manufacturer"}, "9048": {"source": "field:group_model"},
        "10096": {"source": "option:Colour", "values": {"Red": 61572, "Black": 61570}}}}
    integration.save()
    run(jobs.SyncProducts, integration)
    cards = {i["offer_id"]: {a["id"]: a["values"][0] for a in i["attributes"]}
             for r in sim.requests("/v3/product/import") for i in r.json()["items"]}
    assert {o: cards[o][9048]["value"] for o in ("M10", "M10-RED", "M10-BLK")} == {"M10": "M10", "M10-RED": "M10",
                                                                                  "M10-BLK": "M10"}
    assert (cards["M10-RED"][10096]["dictionary_value_id"], cards["M10-BLK"][10096]["dictionary_value_id"]) == (61572, 61570)
    assert 10096 not in cards["M10"]  # the master has no variant choice of its own
    settle(sim)
    assert (sim.products()["M10-RED"]["stocks"], sim.products()["M10-BLK"]["stocks"]) == ({"1020000000001": 4},
                                                                                        {"1020000000001": 6})
    sim.add_posting([{"offer_id": "M10-RED", "quantity": 2, "price": 150}], posting_number="01010-0001-1")
    run(jobs.PollPostings, integration)
    run_until_idle()
    op, p = md.tables["oc_order_product"], md.tables["oc_product"]
    with engine.connect() as c:
        assert c.execute(select(op.c.product_id, op.c.master_id, op.c.model, op.c.quantity)).one() == (11, 10, "M10-RED", 2)
        # OpenCart's rule: the variant's stock and its master's (4.0.2.3 catalog/model/checkout/order.php addHistory,
        # "Stock subtraction from master product"); the other variant keeps its own.
        assert dict(c.execute(select(p.c.product_id, p.c.quantity).where(p.c.product_id.in_([10, 11, 12]))).all()) == \
            {10: 7, 11: 2, 12: 6}


# --- two-way prices of Ozon-owned offers (core.bindings) -------------------------------------------------------
# /v5/product/info/prices: Ozon's reference (ProductAPI_GetProductInfoPrices, checked 2026-12-06): items[].price.price
# is the seller's price; promotions are in marketing_actions.


def _price(engine, md, pid):
    p = md.tables["oc_product"]
    with engine.connect() as c:
        return float(c.execute(select(p.c.price).where(p.c.product_id == pid)).scalar())


def _own(integration, sim, **over):
    run(jobs.SyncProducts, integration)
    settle(sim)
    integration.settings = {**integration.settings, "ozon_owned_offer_ids": ["M1"], **over}
    integration.save()
    run(jobs.SyncOwnedPrices, integration)  # first sight: both at 100.00, the baseline


def test_price_changed_at_ozon_reaches_the_shop_once_and_is_not_echoed_back(integration, sim, shop):
    store, engine, md = shop
    _own(integration, sim)
    sent = calls(sim, "/v1/product/import/prices")
    sim.set_price_at_ozon("M1", "120.00")
    sim.set_price_at_ozon("M2", "999.00")  # not Ozon-owned: the shop's price stays the truth
    run(jobs.SyncOwnedPrices, integration)
    assert (_price(engine, md, 1), _price(engine, md, 2)) == (120.0, 100.0)
    run(jobs.SyncOwnedPrices, integration)  # our own write read back: nothing to do either way
    run(jobs.SyncPrices, integration)  # the one-way price sync leaves the owned offer alone
    assert calls(sim, "/v1/product/import/prices") == sent
    from ocbridge.opencart.models import ShopWrite

    assert ShopWrite.objects.filter(kind="price").count() == 1
    sim.set_price_at_ozon("M1", promotion_percent=30)  # an Ozon promotion is not the seller's price
    run(jobs.SyncOwnedPrices, integration)
    assert _price(engine, md, 1) == 120.0 and ShopWrite.objects.filter(kind="price").count() == 1
    b = Binding.objects.get(kind=m.OWNED_PRICE, local_id="1")
    assert b.last_origin == "remote" and not b.data.get("conflicts")


@pytest.mark.parametrize("rule, shop_after, ozon_after, lost", [
    ("shop", 130.0, "130.00", {"side": "ozon", "price": "140.00"}),
    ("service", 140.0, "140.00", {"side": "shop", "price": "130.00"}),
])
def test_both_sides_changed_follow_the_owners_rule_and_keep_the_loser(integration, sim, shop, rule, shop_after,
                                                                       ozon_after, lost):
    store, engine, md = shop
    _own(integration, sim, conflict_rule=rule)
    p = md.tables["oc_product"]
    with engine.begin() as c:
        c.execute(update(p).where(p.c.product_id == 1).values(price=130))
    sim.set_price_at_ozon("M1", "140.00")
    run(jobs.SyncOwnedPrices, integration)
    assert _price(engine, md, 1) == shop_after and sim.products()["M1"]["price"] == ozon_after
    conflict = Binding.objects.get(kind=m.OWNED_PRICE, local_id="1").data["conflicts"][-1]
    assert {k: conflict[k] for k in ("side", "price")} == lost and conflict["rule"] == rule
    before = calls(sim, "/v1/product/import/prices")
    run(jobs.SyncOwnedPrices, integration)  # settled: neither side is written again
    assert calls(sim, "/v1/product/import/prices") == before and _price(engine, md, 1) == shop_after


def test_price_changed_in_the_shop_goes_to_ozon_for_an_owned_offer(integration, sim, shop):
    store, engine, md = shop
    _own(integration, sim)
    p = md.tables["oc_product"]
    with engine.begin() as c:
        c.execute(update(p).where(p.c.product_id == 1).values(price=95))
    run(jobs.SyncOwnedPrices, integration)
    assert sim.products()["M1"]["price"] == "95.00"
    sent = [i for r in sim.requests("/v1/product/import/prices") for i in r.json()["prices"]]
    assert sent[-1] == {"offer_id": "M1", "price": "95.00", "old_price": "0", "currency_code": "RUB"}


def test_product_price_write_is_compare_and_set_and_once_per_key(integration, shop):
    from ocbridge.integrations.ozon import shop as ozon_shop

    store, engine, md = shop
    moved = ozon_shop.set_product_price(store, 1, expected="90.00", new="80.00", key="t:price:1")
    assert (moved.state, _price(engine, md, 1)) == ("moved", 100.0)  # the shop's price is not the one we read
    done = ozon_shop.set_product_price(store, 1, expected="100.00", new="80.00", key="t:price:2")
    again = ozon_shop.set_product_price(store, 1, expected="100.00", new="80.00", key="t:price:2")
    assert (done.state, again.state, again.repeated, _price(engine, md, 1)) == ("done", "done", True, 80.0)


def test_orders_are_read_every_minute_not_at_the_catalogue_sync(integration):
    from ocbridge.core import polls

    [orders] = polls.registered()[jobs.ORDERS_POLL].targets()
    [returns] = polls.registered()[jobs.RETURNS_POLL].targets()
    assert (orders.every, returns.every) == (60, 15 * 60)  # orders_every_seconds; returns at the sync interval
    assert polls.run_one(jobs.SYNC_POLL, orders.key)  # the catalogue sync's jobs: postings and returns are not among them
    assert Job.objects.exists() and not Job.objects.filter(kind__in=[k.kind for k in jobs.POLLED]).exists()


def test_idle_sync_checks_write_nothing_and_one_change_is_one_run_and_one_send(integration, sim, shop):
    """Products, stock and prices out are queued by a routine check at the sync interval (core.polls, no Job row
    per slot): idle checks — a product still missing the same attribute included — write nothing to the hub; a
    price change is one price run and one send, and no stock or product run; "last checked" from the poll."""
    from testkit import HubWrites

    from ocbridge.core import polls

    store, engine, md = shop
    key, every = polls.integration_key(integration), 15 * 60
    assert polls.run_one(jobs.SYNC_POLL, key)  # the first check: every card to send → the product run
    assert set(Job.objects.values_list("kind", flat=True)) == {jobs.SyncProducts.kind}
    settle(sim)  # import tracked, first stock and prices sent
    jobs_before = Job.objects.count()
    sent = calls(sim, "/v1/product/import/prices"), calls(sim, "/v2/products/stocks"), calls(sim, "/v3/product/import")
    for _ in range(3):
        clock.travel(every)
        sim.advance(every)
        with HubWrites() as w:
            assert polls.run_one(jobs.SYNC_POLL, key)
        assert w.sql == []
    assert Job.objects.count() == jobs_before
    assert abs((polls.last_ok(jobs.SYNC_POLL, key) - clock.now()).total_seconds()) < 1
    with engine.begin() as c:
        p = md.tables["oc_product"]
        c.execute(update(p).where(p.c.product_id == 1).values(price=91))
    for _ in range(2):  # two checks before a worker runs it: one run
        clock.travel(every)
        sim.advance(every)
        polls.run_one(jobs.SYNC_POLL, key)
    run_until_idle()
    assert Job.objects.count() == jobs_before + 1 and Job.objects.latest("pk").kind == jobs.SyncPrices.kind
    assert (calls(sim, "/v1/product/import/prices"), calls(sim, "/v2/products/stocks"),
            calls(sim, "/v3/product/import")) == (sent[0] + 1, sent[1], sent[2])
    assert [(i["offer_id"], i["price"]) for i in sim.requests("/v1/product/import/prices")[-1].json()["prices"]] == [
        ("M1", "91.00")]
    clock.travel(every)
    with HubWrites() as w:
        polls.run_one(jobs.SYNC_POLL, key)
    assert w.sql == [] and Job.objects.count() == jobs_before + 1


def test_idle_postings_and_returns_polls_write_nothing_to_the_hub(integration, sim):
    """Routine polls (core.polls): the first read stores its window; then a read that finds nothing writes nothing
    — no Job, no Exchange, no window end, no "last OK" — and the page still says when Ozon was last read."""
    from testkit import HubWrites

    from ocbridge.core import polls
    from ocbridge.core.models import Exchange

    key = polls.integration_key(integration)
    assert polls.run_one(jobs.ORDERS_POLL, key) and polls.run_one(jobs.RETURNS_POLL, key)
    run_until_idle()
    exchanges, asked = Exchange.objects.count(), len(sim.requests())
    for _ in range(3):
        clock.travel(60)
        with HubWrites() as w:
            assert polls.run_one(jobs.ORDERS_POLL, key) and polls.run_one(jobs.RETURNS_POLL, key)
        assert w.sql == []
    assert len(sim.requests()) > asked and Exchange.objects.count() == exchanges and not Job.objects.exists()
    assert abs((polls.last_ok(jobs.ORDERS_POLL, key) - clock.now()).total_seconds()) < 1  # shown as "last read"
    sim.add_posting([{"offer_id": "M1", "quantity": 1, "price": 100}], posting_number="30001-0001-1")
    clock.travel(60)
    with HubWrites() as w:
        polls.run_one(jobs.ORDERS_POLL, key)  # found one: its job, the reads that found it, the window end
    assert any("ozon_syncstate" in q for q in w.sql) and Job.objects.filter(kind=jobs.ImportPosting.kind).count() == 1
    assert Exchange.objects.count() > exchanges




def test_sync_now_queues_one_run_per_direction_while_one_waits_and_again_once_it_ran(integration, sim, client):
    """"Sync now" (POST, the store's operator) queues one run of each enabled direction; a second click while those
    runs wait — a second later, where the key by the second no longer joins them — queues nothing and says so. A
    "Full reconcile" is not taken by a waiting routine run, only by a waiting full one. Once the runs are done, a
    click queues again."""
    from django.contrib.auth.models import User

    from ocbridge.core.models import StoreMember

    user = User.objects.create_user("desk", password="x")
    StoreMember.objects.create(store=integration.store, user=user, role="operator")
    client.force_login(user)
    url = f"/ozon/{integration.pk}/sync/"
    kinds = sorted(k.kind for k in jobs.sync_kinds(integration))
    manual = Job.objects.filter(integration=integration, key__contains=":manual:")

    def click(**data) -> str:
        clock.travel(1)
        return client.post(url, data, follow=True).content.decode()

    assert client.get(url).status_code == 405  # POST only
    assert f"{len(kinds)} sync jobs queued" in click()
    assert "A sync is already queued or running" in click()
    assert sorted(manual.values_list("kind", flat=True)) == kinds
    assert f"{len(kinds)} sync jobs queued" in click(full="1")  # a routine run waiting does not reconcile in full
    assert "A full reconcile is already queued or running" in click(full="1")
    assert "A sync is already queued or running" in click()
    assert sorted(manual.filter(payload__full=True).values_list("kind", flat=True)) == kinds
    assert manual.count() == 2 * len(kinds)
    settle(sim)
    assert not manual.exclude(state=JobState.DONE).exists()
    assert f"{len(kinds)} sync jobs queued" in click()
    assert manual.count() == 3 * len(kinds)
