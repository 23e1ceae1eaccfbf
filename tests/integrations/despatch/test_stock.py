"""Stock in the owner's direction (MariaDB 3.0 and 4.0 shops ↔ Despatch Cloud simulator): changed quantities
only, the latest value per SKU, the shop written the way the admin form does, unknown SKUs listed."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from ocbridge.core.models import Binding
from ocbridge.integrations.despatch import jobs, models as m

pytestmark = pytest.mark.django_db


def quantities(shop) -> dict[int, int]:
    p = shop.t("product")
    with shop.engine.connect() as conn:
        return dict(conn.execute(sa.select(p.c.product_id, p.c.quantity)).all())


def direction(integration, value: str) -> None:
    """DC's stock direction, with the store's stock source agreeing (Despatch Cloud for DC → shop)."""
    integration.settings = {**integration.settings, "stock_direction": value}
    integration.save()
    store = integration.store
    store.stock_source = "despatch" if value == "dc_to_shop" else "shop"
    store.save(update_fields=["stock_source"])


def test_dc_to_shop_is_stopped_while_the_store_keeps_its_own_stock(shop, sim, integration, kit):
    direction(integration, "dc_to_shop")
    store = integration.store
    store.stock_source = "shop"  # changed behind the form's back (e.g. by an older hub): nothing is written
    store.save(update_fields=["stock_source"])
    sim.set_stock("SKU-1", 4)
    kit.run(jobs.SyncStock, integration)
    assert quantities(shop)[1] == 10 and m.SyncState.of(integration).stock.get("stopped")


def test_dc_to_shop_writes_changed_quantities_and_lists_unknown_skus(shop, sim, integration, kit):
    direction(integration, "dc_to_shop")
    sim.set_stock("SKU-1", 4)
    sim.set_stock("SKU-2", 10)  # same as the shop: nothing to write
    sim.set_stock("NOPE-9", 3)
    kit.run(jobs.SyncStock, integration)
    assert quantities(shop) == {1: 4, 2: 10}
    state = m.SyncState.of(integration)
    state.refresh_from_db()
    assert (state.stock["changed"], state.stock["written"], state.stock["unknown"]) == (1, 1, ["NOPE-9"])
    sim.set_stock("SKU-1", 7)
    sim.set_stock("SKU-1", 6)  # two changes between runs: the latest wins
    kit.run(jobs.SyncStock, integration)
    assert quantities(shop)[1] == 6
    assert Binding.objects.get(kind=m.ITEM, local_id="SKU-1").remote_hash == "6"


def test_shop_to_dc_sends_only_changed_skus_once(shop, sim, integration, kit):
    direction(integration, "shop_to_dc")
    sim.add_item("SKU-1", stock=0)
    sim.add_item("SKU-2", stock=10)
    kit.run(jobs.SyncStock, integration)
    items = {i["sku"]: i["stock_level_available"] for i in sim.inventory()}
    assert items == {"SKU-1": 10, "SKU-2": 10}
    assert len(sim.requests("/public-api/inventory/", "POST")) == 1  # SKU-2 was already right
    kit.run(jobs.SyncStock, integration)
    assert len(sim.requests("/public-api/inventory/", "POST")) == 1  # nothing changed: nothing sent
    with shop.engine.begin() as conn:
        p = shop.t("product")
        conn.execute(sa.update(p).where(p.c.product_id == 2).values(quantity=3))
    kit.run(jobs.SyncStock, integration)
    assert {i["sku"]: i["stock_level_available"] for i in sim.inventory()}["SKU-2"] == 3
    assert len(sim.requests("/public-api/inventory/", "POST")) == 2


def test_shop_to_dc_lists_skus_dc_does_not_know(shop, sim, integration, kit):
    direction(integration, "shop_to_dc")
    sim.add_item("SKU-1", stock=10)
    kit.run(jobs.SyncStock, integration)
    state = m.SyncState.of(integration)
    state.refresh_from_db()
    assert state.stock["unknown"] == ["SKU-2"]


def test_off_sends_and_writes_nothing(shop, sim, integration, kit):
    sim.set_stock("SKU-1", 1)
    kit.run(jobs.SyncStock, integration)
    assert quantities(shop) == {1: 10, 2: 10} and not sim.requests("/public-api/inventory")


def test_shop_stock_write_is_journaled_and_made_once_per_key(shop, sim, integration, kit):
    """The shop's stock goes through the one journaled write API (opencart.writes "stock set"): a repeat of the
    same key answers from the journal and does not write again, even where the shop changed meanwhile."""
    from ocbridge.opencart import writes
    from ocbridge.opencart.models import ShopWrite

    direction(integration, "dc_to_shop")
    sim.set_stock("SKU-1", 4)
    kit.run(jobs.SyncStock, integration)
    row = ShopWrite.objects.get(kind="stock", store=shop.store)
    assert row.state == "done" and row.request["quantities"] == {"1": 4} and row.marks["written"] == 1
    with shop.engine.begin() as conn:  # the owner edits the product in the admin afterwards
        p = shop.t("product")
        conn.execute(sa.update(p).where(p.c.product_id == 1).values(quantity=9))
    assert writes.set_stock(shop.store, {1: 4}, key=row.key) == 1  # the journal's answer: no second write
    assert quantities(shop)[1] == 9


@pytest.mark.parametrize("way", ["shop_to_dc", "dc_to_shop"])
def test_idle_stock_checks_write_nothing_and_one_change_is_one_run_and_one_send(shop, sim, integration, kit, way):
    """The stock run is queued by a routine check (core.polls, no Job row per slot): idle checks — nothing changed
    on the sending side, a SKU DC does not know still unknown — write nothing to the hub; one change is one run and
    one send, however many checks see it before the run; the page's "last checked" comes from the poll."""
    from testkit import HubWrites

    from ocbridge.core import clock, polls
    from ocbridge.core.jobs import run_until_idle
    from ocbridge.core.models import Job
    from ocbridge.opencart.models import ShopWrite

    direction(integration, way)
    sim.add_item("SKU-1", stock=10)
    if way == "dc_to_shop":
        sim.add_item("SKU-2", stock=10)  # shop_to_dc: SKU-2 stays unknown to DC (listed, not searched each minute)
    key = polls.integration_key(integration)

    def runs() -> int:
        return Job.objects.filter(kind=jobs.SyncStock.kind).count()

    def sends() -> int:
        if way == "shop_to_dc":
            return len(sim.requests("/public-api/inventory/", "POST"))
        return ShopWrite.objects.filter(kind="stock", store=shop.store, state="done").count()

    assert polls.run_one(jobs.STOCK_POLL, key)  # never run: the first check queues the first run
    run_until_idle()
    assert runs() == 1 and quantities(shop) == {1: 10, 2: 10}
    sent = sends()
    for _ in range(4):
        clock.travel(60)
        with HubWrites() as w:
            assert polls.run_one(jobs.STOCK_POLL, key)
        assert w.sql == []
    assert runs() == 1 and sends() == sent
    assert abs((polls.last_ok(jobs.STOCK_POLL, key) - clock.now()).total_seconds()) < 1
    if way == "shop_to_dc":
        with shop.engine.begin() as conn:
            p = shop.t("product")
            conn.execute(sa.update(p).where(p.c.product_id == 1).values(quantity=3))
    else:
        sim.set_stock("SKU-2", 3)
    for _ in range(2):  # two checks see the change before a worker runs it: one run
        clock.travel(60)
        polls.run_one(jobs.STOCK_POLL, key)
    run_until_idle()
    assert runs() == 2 and sends() == sent + 1
    if way == "shop_to_dc":
        assert {i["sku"]: i["stock_level_available"] for i in sim.inventory()}["SKU-1"] == 3
    else:
        assert quantities(shop)[2] == 3
    clock.travel(60)
    with HubWrites() as w:
        polls.run_one(jobs.STOCK_POLL, key)
    assert w.sql == [] and runs() == 2


def test_sync_now_runs_the_stock_once_per_double_click_for_the_stores_operator(shop, sim, integration, client):
    """"Sync now" on the fulfilment page (like Ozon's): a POST by a user who may act on the store queues one stock
    run — a double click, or a click while the routine check's run waits, queues nothing more — and the run reads
    the simulator and writes the shop; a later click is a new run."""
    from django.contrib.auth.models import User

    from ocbridge.core import clock
    from ocbridge.core.jobs import run_until_idle
    from ocbridge.core.models import Job, StoreMember

    direction(integration, "dc_to_shop")
    sim.set_stock("SKU-1", 4)
    user = User.objects.create_user("desk", password="x")
    StoreMember.objects.create(store=integration.store, user=user, role="operator")
    client.force_login(user)
    page, url = f"/despatch/{integration.pk}/", f"/despatch/{integration.pk}/stock/sync/"
    assert f'action="{url}"' in client.get(page).content.decode()
    assert client.get(url).status_code == 405  # POST only
    first = client.post(url, follow=True).content.decode()
    clock.travel(1)  # the second click lands in the next second: the queued run still takes it
    second = client.post(url, follow=True).content.decode()
    assert "Stock sync queued" in first and "already asked for" in second
    assert Job.objects.filter(kind=jobs.SyncStock.kind, integration=integration).count() == 1
    run_until_idle()
    assert quantities(shop)[1] == 4
    sim.set_stock("SKU-1", 2)
    clock.travel(1)
    assert "Stock sync queued" in client.post(url, follow=True).content.decode()
    run_until_idle()
    assert quantities(shop)[1] == 2 and Job.objects.filter(kind=jobs.SyncStock.kind, state="done").count() == 2


def test_sync_now_queues_nothing_while_stock_sync_is_off_or_stopped(shop, sim, integration, admin_client):
    from ocbridge.core.models import Job

    url = f"/despatch/{integration.pk}/stock/sync/"
    assert 'stock/sync/' not in admin_client.get(f"/despatch/{integration.pk}/").content.decode()  # off: no button
    assert "Stock sync is off" in admin_client.post(url, follow=True).content.decode()
    direction(integration, "dc_to_shop")
    store = integration.store
    store.stock_source = "shop"  # contradicts the direction: a run would write nothing
    store.save(update_fields=["stock_source"])
    assert "Stock sync is stopped" in admin_client.post(url, follow=True).content.decode()
    assert not Job.objects.filter(kind=jobs.SyncStock.kind).exists()


def _stock_checks(sim, kit, integration, seconds: int) -> None:
    """The stock check every minute on both clocks (the hub's and DC's), each run it queues run."""
    from ocbridge.core import clock, polls
    from ocbridge.core.jobs import run_until_idle

    for _ in range(seconds // 60):
        clock.travel(60)
        sim.advance(60)
        polls.run_one(jobs.STOCK_POLL, polls.integration_key(integration))
        run_until_idle()


def test_a_stock_change_dc_lists_late_reaches_the_shop_and_is_not_applied_twice(shop, sim, integration, kit):
    """DC changes SKU-1 and lists it 3 minutes late (under an `updated_at` 3 minutes before it shows in a list),
    after a run read DC meanwhile: beyond that run's minute of overlap, so no later run read it (before: the shop
    kept 10 until a restart with a full read). Now the next run reads back STOCK_LATE and writes it. A later run
    re-reads it but does not write it again: a shop sale since stands (the value already applied is skipped)."""
    direction(integration, "dc_to_shop")
    sim.add_item("SKU-1", stock=10)
    sim.add_item("SKU-2", stock=10)
    _stock_checks(sim, kit, integration, 60)
    sim.set_stock("SKU-2", 9)  # listed on time: a run, after SKU-1's change below but before DC lists it
    _stock_checks(sim, kit, integration, 60)
    ran = m.SyncState.of(integration).last_stock_at
    assert quantities(shop) == {1: 10, 2: 9}
    _stock_checks(sim, kit, integration, 120)
    sim.set_stock("SKU-1", 4, listed_late=180)
    _stock_checks(sim, kit, integration, 2 * 60)
    assert m.SyncState.of(integration).last_stock_at > ran  # a run read DC again…
    assert quantities(shop) == {1: 4, 2: 9}  # …and wrote the late change
    with shop.engine.begin() as conn:  # a sale in the shop afterwards
        p = shop.t("product")
        conn.execute(sa.update(p).where(p.c.product_id == 1).values(quantity=3))
    sim.set_stock("SKU-2", 8)  # another change at DC: a run that re-reads SKU-1's late change
    _stock_checks(sim, kit, integration, 60)
    assert quantities(shop) == {1: 3, 2: 8}


def _at_store_time(sim, integration, hour: int, minute: int = 5) -> None:
    """Both clocks (the hub's and DC's) to the next `hour:minute` in the store's time zone."""
    from datetime import timedelta
    from zoneinfo import ZoneInfo

    from ocbridge.core import clock

    local = clock.now().astimezone(ZoneInfo(integration.store.timezone))
    target = local.replace(hour=hour, minute=minute, second=0, microsecond=0)
    if target <= local:
        target += timedelta(days=1)
    clock.travel((target - local).total_seconds())
    sim.advance((target - local).total_seconds())


def _full_check(integration) -> None:
    from ocbridge.core import polls
    from ocbridge.core.jobs import run_until_idle

    polls.run_one(jobs.FULL_POLL, polls.integration_key(integration))
    run_until_idle()


def _night_bed(shop, sim, integration, kit) -> None:
    """DC → shop in a Tokyo shop; DC holds the shop's two SKUs and eight the shop lacks (two pages of five), all
    taken once by the ordinary stock run."""
    direction(integration, "dc_to_shop")
    store = integration.store
    store.timezone = "Asia/Tokyo"
    store.save(update_fields=["timezone"])
    for sku in ("SKU-1", "SKU-2", *(f"DC-ONLY-{n}" for n in range(8))):
        sim.add_item(sku, stock=10)
    _stock_checks(sim, kit, integration, 60)
    assert Binding.objects.get(kind=m.ITEM, local_id="SKU-1").remote_hash == "10"


def test_the_nightly_full_check_corrects_a_change_listed_two_hours_late_and_keeps_a_shop_sale(shop, sim, integration,
                                                                                            kit, admin_client):
    """DC changes SKU-1 and lists it 2 hours late: far beyond STOCK_LATE, so no "changed since" run reads it (before:
    the shop kept the wrong quantity until a full read by hand). Meanwhile the shop sold two of SKU-2 (DC still says
    10, the value last taken). The night's full check, in the store's quiet hours (Tokyo time, not the hub's), reads
    every page at DC's own page size (no page-size parameter: none is documented) and pace, corrects SKU-1 and leaves
    the sale alone; the page says when it ran and how many it corrected. Outside the quiet hours, and a second time
    the same night, it asks DC nothing."""
    _night_bed(shop, sim, integration, kit)
    with shop.engine.begin() as conn:  # a sale in the shop
        p = shop.t("product")
        conn.execute(sa.update(p).where(p.c.product_id == 2).values(quantity=8))
    sim.set_stock("SKU-1", 4, listed_late=2 * 3600)
    _stock_checks(sim, kit, integration, 3 * 60)
    assert quantities(shop) == {1: 10, 2: 8}  # the late change is missed by the changed-since runs
    page = admin_client.get(f"/despatch/{integration.pk}/").content.decode()
    assert "The full stock check has not run yet" in page and "03:00 and 06:00" in page

    def reads() -> list:
        return sim.requests("/public-api/inventory", "GET")

    _at_store_time(sim, integration, 12)
    before = len(reads())
    _full_check(integration)
    assert len(reads()) == before and quantities(shop)[1] == 10  # noon in Tokyo: not the quiet hours
    _at_store_time(sim, integration, 3)
    before = len(reads())
    _full_check(integration)
    assert quantities(shop) == {1: 4, 2: 8}  # corrected; the shop's sale stands
    asked = reads()[before:]
    full = [r for r in asked if r.status == 200]  # (a 401 first: DC's token expired overnight, then a login)
    assert [r.query.get("page") for r in full] == [["1"], ["2"]]  # every page, DC's default order and page size
    assert not any(set(r.query) - {"page"} for r in full)
    assert asked[-1].at - asked[0].at >= 0.9 / jobs.FULL_RPS  # paced
    state = m.SyncState.of(integration)
    assert (state.stock_full["read"], state.stock_full["corrected"]) == (10, 1)
    assert Binding.objects.get(kind=m.ITEM, local_id="SKU-1").remote_hash == "4"
    page = admin_client.get(f"/despatch/{integration.pk}/").content.decode()
    assert "all 10 items read from Despatch Cloud, 1 shop quantity corrected" in page
    before = len(reads())
    _full_check(integration)  # the same night again: done
    assert len(reads()) == before


def test_an_idle_full_check_writes_nothing_to_the_shop_and_one_record_to_the_hub(shop, sim, integration, kit,
                                                                                 admin_client):
    """Nothing differs (SKUs the shop lacks included): the night's check writes nothing to the shop, logs no
    request, and records itself once (shown on the page). The poll's part is one hub write — the night's job."""
    from testkit import HubWrites

    from ocbridge.core import polls
    from ocbridge.core.jobs import run_until_idle
    from ocbridge.core.models import Exchange, Job
    from ocbridge.opencart.models import ShopWrite

    _night_bed(shop, sim, integration, kit)
    _at_store_time(sim, integration, 3)
    _stock_checks(sim, kit, integration, 60)  # the ordinary stock run of the hour, before the check
    shop_writes, jobs_before, logged = ShopWrite.objects.count(), Job.objects.count(), Exchange.objects.count()
    with HubWrites() as w:
        assert polls.run_one(jobs.FULL_POLL, polls.integration_key(integration))
    assert len(w.sql) == 1 and "core_job" in w.sql[0], w.sql  # the night's job: no request, nothing else
    assert Job.objects.count() == jobs_before + 1
    run_until_idle()
    assert len(sim.requests("/public-api/inventory", "GET")) >= 2  # the job did read DC
    assert (ShopWrite.objects.count(), Exchange.objects.count()) == (shop_writes, logged)
    assert quantities(shop) == {1: 10, 2: 10}
    page = admin_client.get(f"/despatch/{integration.pk}/").content.decode()
    assert "all 10 items read from Despatch Cloud, 0 shop quantities corrected" in page


def test_the_nightly_poll_asks_dc_nothing_and_queues_one_job_per_night(shop, sim, integration, kit):
    """The routine poll only decides that the night's check is due: it reads no DC page (before: every page, paced,
    inside the poll — 5–6 minutes for 10,000 SKUs), queues one job under the store's and night's key, and queues
    nothing more that night, while the job waits and after it ran; the job reads every page. The next night: one
    new job."""
    from ocbridge.core import polls
    from ocbridge.core.jobs import run_until_idle
    from ocbridge.core.models import Job

    _night_bed(shop, sim, integration, kit)
    _at_store_time(sim, integration, 3)
    before = len(sim.requests("/public-api/inventory", "GET"))
    key = polls.integration_key(integration)
    assert polls.run_one(jobs.FULL_POLL, key) and polls.run_one(jobs.FULL_POLL, key)  # queued, then waiting
    assert len(sim.requests("/public-api/inventory", "GET")) == before  # the poll asked DC nothing
    night = Job.objects.get(kind=jobs.CheckStockFull.kind)
    assert night.key == f"despatch:{integration.store_id}:stock-full:{night.payload['day']}"
    run_until_idle()
    assert len(sim.requests("/public-api/inventory", "GET")) - before >= 2  # the job read every page
    _at_store_time(sim, integration, 4)  # later the same night: done
    before = len(sim.requests("/public-api/inventory", "GET"))
    polls.run_one(jobs.FULL_POLL, key)
    run_until_idle()
    assert len(sim.requests("/public-api/inventory", "GET")) == before
    assert Job.objects.filter(kind=jobs.CheckStockFull.kind).count() == 1
    _at_store_time(sim, integration, 3)  # the next night
    polls.run_one(jobs.FULL_POLL, key)
    assert Job.objects.filter(kind=jobs.CheckStockFull.kind).count() == 2


@pytest.mark.django_db(transaction=True)  # the dispatcher polls on threads of its own
def test_a_store_with_many_inventory_pages_stays_off_the_slow_lane(shop, sim, integration, kit, monkeypatch):
    """Forty DC items (eight pages at 2 pages a second: 3.5 s; SLOW_SECONDS lowered to 1 s to keep the test short —
    a 10,000-SKU catalogue is ~670 pages, 5–6 minutes). Polled by a dispatcher (core.polls.Scheduler) at 03:05 store
    time, the nightly check never puts the store on the slow-lane record the stores list and the store page show
    (before: the whole paced read ran inside the poll); the read and the correction happen in the job."""
    import time

    from ocbridge.core import polls
    from ocbridge.core.jobs import run_until_idle

    direction(integration, "dc_to_shop")
    for sku in ("SKU-1", "SKU-2", *(f"DC-ONLY-{n}" for n in range(38))):
        sim.add_item(sku, stock=10)
    _stock_checks(sim, kit, integration, 60)
    sim.set_stock("SKU-1", 4, listed_late=2 * 3600)  # missed by the changed-since runs
    _stock_checks(sim, kit, integration, 60)
    assert quantities(shop)[1] == 10
    monkeypatch.setattr(polls, "SLOW_SECONDS", 1.0)
    monkeypatch.setattr(polls, "_POLLS", {jobs.FULL_POLL: polls._POLLS[jobs.FULL_POLL]})
    _at_store_time(sim, integration, 3)
    sched = polls.Scheduler(threads=1, slow_threads=1, leases=polls.default_leases())
    sched.tick()
    deadline = time.monotonic() + 30
    while not sched.idle() and time.monotonic() < deadline:
        time.sleep(0.02)
    assert sched.idle() and polls.slow_lane() == {}
    assert quantities(shop)[1] == 10  # not yet: the poll only queued the job
    run_until_idle()
    assert quantities(shop)[1] == 4 and m.SyncState.of(integration).stock_full["read"] == 40
    assert polls.slow_lane() == {}
