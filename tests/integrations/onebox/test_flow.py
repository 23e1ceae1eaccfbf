"""End to end on MariaDB 3.0 and 4.0 shops ↔ jobs ↔ the OneBox simulator over HTTP: the whole history on
connect, orders and history entries as they appear, statuses both ways without loops, a conflict decided by the
owner's rule, refusals with retry, and crashes mid-sync — nothing duplicated, nothing lost."""

from __future__ import annotations

import pytest

from integrations.onebox.crashes import handed_out_again, killed_at
from ocbridge.core import bindings
from ocbridge.core.jobs import run_until_idle
from ocbridge.core.models import Binding, Job, SideEffect
from ocbridge.integrations.onebox import jobs, models as m

pytestmark = pytest.mark.django_db


def ob_order(sim, code: str) -> dict:
    [o] = [o for o in sim.records("order") if o["externalid"] == code]
    return o


def test_whole_history_on_connect_then_orders_as_they_appear_each_once(shop, sim, integration, kit):
    for oid in (101, 102, 103):
        kit.add_order(shop, oid, status=2)
    jobs.start_load(integration, "order")
    run_until_idle()
    p = jobs.progress(integration, "order")
    assert (p["done"], p["total"], p["percent"]) == (3, 3, 100) and p["finished"]
    assert sorted(o["externalid"] for o in sim.records("order")) == ["UK-101", "UK-102", "UK-103"]
    o = ob_order(sim, "UK-101")
    assert o["statusid"] == sim.status_id("Confirmed") and o["sum"] == "25.00" and o["currency"] == "GBP"
    assert [(line["articul"], line["count"]) for line in o["products"]] == [("SKU-1", 2)]
    assert o["client"]["phone"] == "07700 900123" and o["clientemail"] == "ann@example.com"
    assert o["delivery"] == "Flat rate" and "Leeds" in o["deliveryaddress"]
    kit.add_order(shop, 104, status=1)
    kit.poll(integration)
    kit.poll(integration)
    jobs.start_load(integration, "order")  # loading again later sends nothing twice
    run_until_idle()
    assert sorted(o["externalid"] for o in sim.records("order")) == ["UK-101", "UK-102", "UK-103", "UK-104"]
    assert sim.calls()["order/set"] == 4
    # each order's history entries once: the load's in one call, the new order's as it appeared
    assert sorted(c["externalid"].rsplit("-h", 1)[0] for c in sim.records("comment")) == [
        "UK-101", "UK-102", "UK-103", "UK-104"]
    assert sim.calls()["comment/set"] == 2


def test_history_entries_appended_once_and_status_goes_out(shop, sim, integration, kit):
    kit.add_order(shop, 201, status=1)
    kit.poll(integration)
    kit.owner_sets(shop, 201, 3)
    kit.poll(integration)
    kit.poll(integration)
    o = ob_order(sim, "UK-201")
    assert o["statusid"] == sim.status_id("Shipped")
    texts = sorted(c["text"] for c in sim.records("comment"))
    assert texts == ["Pending", "Shipped: by the owner"]  # the checkout row and the owner's, once each
    assert sim.calls()["order/set"] == 2  # created, then its status: OneBox's read-back of it is an echo
    assert not Job.objects.filter(key__contains=":ob").exists() and not m.Conflict.objects.exists()


def test_status_set_in_onebox_reaches_the_shop_once_and_is_not_echoed_back(shop, sim, integration, kit):
    kit.add_order(shop, 301, status=2)
    kit.poll(integration)
    sets_before = sim.calls()["order/set"]
    sim.set_order_status("UK-301", "Shipped")
    kit.poll(integration)  # OneBox's change → history entry in the shop
    assert kit.order_status(shop, 301) == 3
    assert kit.history(shop, 301)[-1] == (3, "OneBox: Shipped")
    kit.poll(integration)  # the shop's feed hands our own entry back: an echo
    kit.poll(integration)
    assert sim.calls()["order/set"] == sets_before  # no status sent back to OneBox
    assert all("OneBox: Shipped" not in c["text"] for c in sim.records("comment"))
    assert [s for s, _c in kit.history(shop, 301)].count(3) == 1
    b = Binding.objects.get(kind=m.ORDER, local_id="301")
    assert b.last_origin == bindings.REMOTE and b.remote_hash == bindings.digest(sim.status_id("Shipped"))


@pytest.mark.parametrize("rule, shop_after, onebox_after", [
    ("shop", 5, "Done"), ("service", 7, "Cancelled")])
def test_conflict_is_decided_by_the_owners_rule_and_logged(shop, sim, integration, kit, rule, shop_after,
                                                           onebox_after):
    integration.settings = {**integration.settings, "conflict_rules": {"status": rule}}
    integration.save()
    kit.add_order(shop, 401, status=2)
    kit.poll(integration)
    kit.owner_sets(shop, 401, 5)  # both sides change before either is synced
    sim.set_order_status("UK-401", "Cancelled")
    kit.poll(integration)
    kit.poll(integration)
    assert kit.order_status(shop, 401) == shop_after
    assert ob_order(sim, "UK-401")["statusid"] == sim.status_id(onebox_after)
    [c] = m.Conflict.objects.filter(local_id="401")
    assert c.rule == rule and c.lost == {"shop": 5, "onebox": sim.status_id("Cancelled")}


def test_refused_order_is_listed_with_oneboxs_words_and_retry_sends_it(shop, sim, integration, kit):
    sim.refuse_next("order", "clientphone: wrong format")
    kit.add_order(shop, 501, status=2)
    kit.poll(integration)
    b = Binding.objects.get(kind=m.ORDER, local_id="501")
    assert b.data["state"] == m.FAILED and b.data["error"] == "clientphone: wrong format"
    assert sim.records("order") == []
    jobs.retry(integration, m.ORDER, "501")
    run_until_idle()
    assert [o["externalid"] for o in sim.records("order")] == ["UK-501"]
    assert Binding.objects.get(kind=m.ORDER, local_id="501").data["state"] == m.OK


def test_lost_answers_and_a_crash_mid_load_duplicate_nothing_and_lose_nothing(shop, sim, integration, kit):
    integration.settings = {**integration.settings, "history_batch": 2}
    integration.save()
    for oid in range(601, 606):
        kit.add_order(shop, oid, status=2)
    sim.fail_next("reset", path="/api/v2/order/set/", after=True)  # OneBox stores 601, the answer is lost
    sim.expire_tokens()

    with killed_at(jobs, "load", 603):
        jobs.start_load(integration, "order")
        run_until_idle()
    assert jobs.progress(integration, "order")["after"] == 602  # the killed step did not move the position
    handed_out_again(jobs.LoadStep)
    codes = sorted(o["externalid"] for o in sim.records("order"))
    assert codes == [f"UK-{i}" for i in range(601, 606)]  # nothing duplicated, nothing lost
    assert sim.calls()["order/set"] == 5  # 603 was sent before the crash and is not sent again
    assert SideEffect.objects.get(key__contains="order-601:create").state == "sent"  # asked OneBox: it had it
    p = jobs.progress(integration, "order")
    assert p["finished"] and (p["done"], p["total"]) == (5, 5)


def test_catalogue_goes_out_parents_first_in_every_language_and_only_changes_later(shop, sim, integration, kit):
    kit.run(jobs.SyncCatalog, integration)
    cats = sim.records("category")
    assert [c["code"] for c in cats] == ["oc-cat10", "oc-cat20"] and cats[1]["parentcode"] == "oc-cat10"
    assert cats[0]["namelang"] == {"en": "Cat10-en", "tr": "Cat10-tr", "ru": "Cat10-ru"}
    [brand] = sim.records("brand")
    assert brand["name"] == "Acme"
    p = {r["articul"]: r for r in sim.records("product")}
    assert p["SKU-1"]["namelang"]["ru"] == "Mug 1 ru" and p["SKU-1"]["price"] == "10.00"
    assert p["SKU-1"]["categorycodes"] == ["oc-cat20"] and p["SKU-1"]["brandcode"] == "oc-brand7"
    calls = dict(sim.calls())
    kit.run(jobs.SyncCatalog, integration)
    assert sim.calls() == calls  # nothing changed: nothing sent
    import sqlalchemy as sa

    with shop.engine.begin() as conn:
        conn.execute(sa.update(shop.t("product")).where(shop.t("product").c.product_id == 2).values(quantity=3))
    kit.run(jobs.SyncCatalog, integration)
    assert sim.calls()["product/set"] == calls["product/set"] + 1
    assert {r["articul"]: r["stock"] for r in sim.records("product")} == {"SKU-1": 10, "SKU-2": 3}
    pd = shop.t("product_description")
    with shop.engine.begin() as conn:  # one language's name only: the database's fingerprint moves too
        conn.execute(sa.update(pd).where(pd.c.product_id == 1, pd.c.language_id == 3).values(name="Кружка"))
    kit.run(jobs.SyncCatalog, integration)
    assert sim.calls()["product/set"] == calls["product/set"] + 2
    assert next(r for r in sim.records("product") if r["articul"] == "SKU-1")["namelang"]["ru"] == "Кружка"
    with shop.engine.begin() as conn:  # a special price for a customer group: the discount goes out
        conn.execute(sa.insert(shop.t("product_special")), [{
            "product_id": 2, "customer_group_id": 1, "priority": 1, "price": 8, "date_start": "2026-12-01",
            "date_end": "2026-12-31"}])
    kit.run(jobs.SyncCatalog, integration)
    assert sim.calls()["product/set"] == calls["product/set"] + 3
    assert next(r for r in sim.records("product") if r["articul"] == "SKU-2")["specials"] == [
        {"groupid": 0, "price": "8.00", "priority": 1, "from": "2026-12-01", "to": "2026-12-31"}]


def test_idle_catalogue_checks_write_nothing_and_one_change_is_one_run_and_one_send(shop, sim, integration, kit):
    """The catalogue run is queued by a routine check (core.polls, no Job row per slot): idle checks write nothing
    to the hub; a change is one run and one send however many checks see it first; a record OneBox refused is not
    sent again at every check (idle again) until it changes or the owner presses Retry."""
    import sqlalchemy as sa
    from testkit import HubWrites

    from ocbridge.core import clock, polls

    key = polls.integration_key(integration)

    def runs() -> int:
        return Job.objects.filter(kind=jobs.SyncCatalog.kind).count()

    def idle(n: int = 3) -> None:
        for _ in range(n):
            clock.travel(60)
            with HubWrites() as w:
                assert polls.run_one(jobs.CATALOG_POLL, key)
            assert w.sql == []

    def quantity(product_id: int, value: int) -> None:
        with shop.engine.begin() as conn:
            conn.execute(sa.update(shop.t("product")).where(shop.t("product").c.product_id == product_id)
                         .values(quantity=value))

    assert polls.run_one(jobs.CATALOG_POLL, key)  # nothing sent yet: the first check queues the first run
    run_until_idle()
    assert runs() == 1 and len(sim.records("product")) == 2
    sets = sim.calls()["product/set"]
    idle()
    assert runs() == 1 and sim.calls()["product/set"] == sets
    quantity(2, 3)
    for _ in range(2):  # two checks before a worker runs it: one run
        clock.travel(60)
        polls.run_one(jobs.CATALOG_POLL, key)
    run_until_idle()
    assert runs() == 2 and sim.calls()["product/set"] == sets + 1
    idle()
    sim.refuse_next("product", "price: wrong format", count=2)  # the batch, then the product alone
    quantity(2, 4)
    clock.travel(60)
    polls.run_one(jobs.CATALOG_POLL, key)
    run_until_idle()
    assert Binding.objects.get(kind=m.PRODUCT, local_id="2").data["state"] == m.FAILED
    sets = sim.calls()["product/set"]
    idle()  # refused and unchanged: not sent again at each check
    assert runs() == 3 and sim.calls()["product/set"] == sets
    jobs.retry(integration, m.PRODUCT, "2")
    run_until_idle()
    assert sim.calls()["product/set"] == sets + 1
    assert {r["articul"]: r["stock"] for r in sim.records("product")}["SKU-2"] == 4
    idle()


def test_quantity_discounts_and_filters_go_out_and_a_change_to_either_is_sent_once(shop, sim, integration, kit):
    import sqlalchemy as sa

    kit.run(jobs.SyncCatalog, integration)
    sent = sim.calls()["product/set"]
    with shop.engine.begin() as conn:  # as the admin's Discount and Filter tabs save them
        conn.execute(sa.insert(shop.t("product_discount")), [{
            "product_id": 2, "customer_group_id": 1, "quantity": 10, "priority": 1, "price": 7,
            "date_start": "2026-12-01", "date_end": "2026-12-31"}])
        conn.execute(sa.insert(shop.t("filter")).values(filter_id=5, filter_group_id=3, sort_order=0))
        conn.execute(sa.insert(shop.t("filter_description")), [
            {"filter_id": 5, "language_id": lang, "filter_group_id": 3, "name": f"Red & {lang}"} for lang in (1, 2, 3)])
        conn.execute(sa.insert(shop.t("product_filter")).values(product_id=1, filter_id=5))
    kit.run(jobs.SyncCatalog, integration)
    assert sim.calls()["product/set"] == sent + 1  # both products moved: sent once, in one batch
    p = {r["articul"]: r for r in sim.records("product")}
    assert p["SKU-2"]["discounts"] == [
        {"groupid": 0, "quantity": 10, "price": "7.00", "priority": 1, "from": "2026-12-01", "to": "2026-12-31"}]
    assert p["SKU-1"]["filters"] == [{"code": "oc-filter5", "groupcode": "oc-fg3",
                                      "namelang": {"en": "Red & 1", "tr": "Red & 2", "ru": "Red & 3"}}]
    kit.run(jobs.SyncCatalog, integration)
    assert sim.calls()["product/set"] == sent + 1  # nothing changed: nothing sent
    fd = shop.t("filter_description")
    with shop.engine.begin() as conn:  # a filter's name is shared by its products: they go again
        conn.execute(sa.update(fd).where(fd.c.filter_id == 5, fd.c.language_id == 3).values(name="Красный"))
    kit.run(jobs.SyncCatalog, integration)
    assert sim.calls()["product/set"] == sent + 2
    assert next(r for r in sim.records("product") if r["articul"] == "SKU-1")["filters"][0]["namelang"]["ru"] == "Красный"


def _product(shop, product_id: int) -> tuple:
    import sqlalchemy as sa

    p, pd, ps = shop.t("product"), shop.t("product_description"), shop.t("product_to_store")
    with shop.engine.connect() as conn:
        row = conn.execute(sa.select(p.c.price, p.c.quantity, p.c.model).where(p.c.product_id == product_id)).one()
        names = dict(conn.execute(sa.select(pd.c.language_id, pd.c.name).where(pd.c.product_id == product_id)).all())
        stores = [r[0] for r in conn.execute(sa.select(ps.c.store_id).where(ps.c.product_id == product_id))]
    return str(row.price), row.quantity, row.model, names, stores


def test_products_both_ways_without_echo_and_a_conflict_by_the_rule(shop, sim, integration, kit):
    import sqlalchemy as sa

    integration.settings = {**integration.settings, "flows": {"product": "both"},
                            "conflict_rules": {"product": "shop"}}
    integration.save()
    kit.run(jobs.SyncCatalog, integration)
    kit.poll_onebox(integration)  # OneBox's first read starts its window
    sets = sim.calls()["product/set"]
    sim.edit("product", "articul", "SKU-1", price="12.50",
             namelang={"en": "Big mug", "tr": "Büyük kupa", "ru": "Большая кружка"})
    sim.add("product", articul="NEW-1", name="Teapot", namelang={"en": "Teapot", "ru": "Чайник"}, price="30", stock=4)
    kit.poll(integration)
    price, qty, _model, names, _stores = _product(shop, 1)
    assert price.startswith("12.5") and names == {1: "Big mug", 2: "Büyük kupa", 3: "Большая кружка"}
    new = Binding.objects.get(kind=m.PRODUCT, external_id=str(
        next(r["id"] for r in sim.records("product") if r["articul"] == "NEW-1")))
    price, qty, model, names, stores = _product(shop, int(new.local_id))
    assert (price.startswith("30"), model, stores) == (True, "NEW-1", [0])
    assert qty != 4  # the shop is the stock source: OneBox's quantity is not taken (test_stock_follows_…)
    assert names[1] == "Teapot" and names[3] == "Чайник" and set(names) == {1, 2, 3}  # a row in every language
    kit.run(jobs.SyncCatalog, integration)
    kit.poll(integration)
    kit.run(jobs.SyncCatalog, integration)
    # OneBox's own changes are not sent back; only the new product's quantity, as the shop keeps the stock
    assert sim.calls()["product/set"] == sets + 1
    assert next(r for r in sim.records("product") if r["articul"] == "NEW-1")["stock"] == qty
    with shop.engine.begin() as conn:  # both sides change product 2's price before a sync
        conn.execute(sa.update(shop.t("product")).where(shop.t("product").c.product_id == 2).values(price=15))
    sim.edit("product", "articul", "SKU-2", price="20.00")
    kit.poll(integration)
    kit.run(jobs.SyncCatalog, integration)
    assert _product(shop, 2)[0].startswith("15")
    assert next(r for r in sim.records("product") if r["articul"] == "SKU-2")["price"] == "15.00"  # the shop won
    [c] = m.Conflict.objects.filter(kind="product")
    assert (c.local_id, c.rule, c.winner) == ("2", "shop", "remote")


def test_cli_runs_the_customer_load_with_progress_and_each_customer_goes_once(shop, sim, integration, kit):
    import io

    import sqlalchemy as sa
    from django.core.management import call_command

    from ocbridge.opencart.reference import complete_row

    with shop.engine.begin() as conn:
        conn.execute(sa.insert(shop.t("customer")), [complete_row(shop.t("customer"), {
            "customer_id": cid, "customer_group_id": 1, "store_id": 0, "firstname": f"C{cid}", "lastname": "Lee",
            "email": f"c{cid}@example.com", "telephone": f"0770090{cid:04d}", "status": 1,
            "date_added": "2024-01-01 00:00:00"}) for cid in (1, 2, 3)])
    integration.settings = {**integration.settings, "history_batch": 2, "group_map": {"1": 55}}
    integration.save()
    out = io.StringIO()
    call_command("ocbridge_onebox", "load", store=shop.store.pk, kind="contact", run=True, stdout=out)
    assert "3 / 3 (100 %) done" in out.getvalue() and "2 / 3 (66 %)" in out.getvalue()
    call_command("ocbridge_onebox", "load", store=shop.store.pk, kind="contact", run=True, stdout=io.StringIO())
    contacts = sim.records("contact")
    assert sorted(c["externalid"] for c in contacts) == ["oc-c1", "oc-c2", "oc-c3"] and contacts[0]["groupid"] == 55
    assert sim.calls()["contact/set"] == 2  # two steps the first time; the second load found nothing changed
    status = io.StringIO()
    call_command("ocbridge_onebox", "status", store=shop.store.pk, stdout=status)
    assert "contact  3 / 3 (100 %) done" in status.getvalue() and "order    not started" in status.getvalue()


def test_an_idle_poll_of_onebox_writes_nothing(shop, sim, integration, kit):
    """A routine poll (core.polls): OneBox is asked, and a read that finds nothing changed writes nothing to the
    hub — no Job, no Exchange, no window, no "last OK"."""
    from testkit import HubWrites

    from ocbridge.core import clock
    from ocbridge.core.models import Exchange

    kit.add_order(shop, 701, status=2)
    kit.poll(integration)
    kit.poll(integration)
    asked, exchanges, made = sum(sim.calls().values()), Exchange.objects.count(), Job.objects.count()
    for _ in range(3):
        clock.travel(15)
        with HubWrites() as w:
            assert kit.poll_onebox(integration)
        assert w.sql == []
    assert sum(sim.calls().values()) > asked and (Exchange.objects.count(), Job.objects.count()) == (exchanges, made)


def test_stock_follows_the_stores_one_stock_source(shop, sim, integration, kit):
    from ocbridge.core.models import Store

    integration.settings = {**integration.settings, "flows": {"product": "both"}}
    integration.save()
    kit.run(jobs.SyncCatalog, integration)
    kit.poll_onebox(integration)
    sim.edit("product", "articul", "SKU-1", stock=99)  # the shop is the source: OneBox's number is put right
    kit.poll(integration)
    kit.run(jobs.SyncCatalog, integration)
    assert _product(shop, 1)[1] == 10
    assert next(r for r in sim.records("product") if r["articul"] == "SKU-1")["stock"] == 10
    Store.objects.filter(pk=shop.store.pk).update(stock_source="onebox")
    integration.refresh_from_db()
    kit.run(jobs.SyncCatalog, integration)  # OneBox is the source now: the shop's quantities are not sent
    sets = sim.calls()["product/set"]
    sim.edit("product", "articul", "SKU-1", stock=42)
    kit.poll(integration)
    kit.run(jobs.SyncCatalog, integration)
    assert _product(shop, 1)[1] == 42 and sim.calls()["product/set"] == sets
    assert jobs.stock_source_check(integration, "onebox") == ""
    integration.settings = {**integration.settings, "flows": {"product": "out"}}
    assert "OneBox as the stock source" in jobs.stock_source_check(integration, "onebox")


def test_a_status_saved_in_onebox_during_a_one_page_read_is_taken_by_the_next_poll(shop, sim, integration, kit):
    """One page of OneBox's changes can hold a save made late in the read and miss one saved as it began (a box
    that stamps a save before it lands: simulators.onebox `edit_during_get`). The next read starts where this one
    began, never at the answer's newest change date, so the missed one is read then."""
    for oid in (801, 802):
        kit.add_order(shop, oid, status=2)
    kit.poll(integration)
    kit.poll(integration)
    sim.edit_during_get("order", 1, late=["externalid", "UK-801", {"statusid": sim.status_id("Shipped")}],
                        shown=["externalid", "UK-802", {"statusid": sim.status_id("Cancelled")}])
    kit.poll_onebox(integration)
    run_until_idle()
    assert (kit.order_status(shop, 801), kit.order_status(shop, 802)) == (2, 7)  # one page: 802's save only
    kit.poll_onebox(integration)
    run_until_idle()
    assert (kit.order_status(shop, 801), kit.order_status(shop, 802)) == (3, 7)
    assert [s for s, _c in kit.history(shop, 801)].count(3) == 1
    assert [s for s, _c in kit.history(shop, 802)].count(7) == 1


def test_a_box_whose_clock_runs_ahead_still_polls_idle_without_writing(shop, sim, integration, kit):
    """The next read starts where this one began when the box's newest change is later (a save stamped before it
    lands). A box whose clock runs hours ahead of ours stamps every save "later": capped at our clock, each poll would
    read that save again and move its cursor — a write per idle poll. Such a box's own stamps are the cursor."""
    from testkit import HubWrites

    from ocbridge.core import clock

    kit.add_order(shop, 703, status=2)
    kit.poll(integration)
    kit.poll(integration)
    sim.advance(2 * 3600)  # the box's clock: two hours ahead of the hub's
    sim.edit("order", "externalid", "UK-703", statusid=sim.status_id("Shipped"))
    kit.poll_onebox(integration)
    run_until_idle()
    assert kit.order_status(shop, 703) == 3
    for _ in range(3):
        clock.travel(15)
        with HubWrites() as w:
            assert kit.poll_onebox(integration)
        assert w.sql == []
    assert [s for s, _c in kit.history(shop, 703)].count(3) == 1
