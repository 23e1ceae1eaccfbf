"""End to end on MariaDB 3.0 and 4.0 shops ↔ jobs ↔ the Despatch Cloud simulator over HTTP: ready → created →
despatched → tracking in the shop, refusals, cancellations both ways, a DC outage, a worker killed mid-create."""

from __future__ import annotations

import pytest

from ocbridge.core.choices import JobState
from ocbridge.core.jobs import run_until_idle
from ocbridge.core.models import Binding, Exchange, Job
from ocbridge.integrations.despatch import jobs, models as m
from ocbridge.services import despatch as dc

pytestmark = pytest.mark.django_db


def binding(order_id: int) -> Binding:
    return Binding.objects.get(kind=m.ORDER, local_id=str(order_id))


def test_ready_order_is_created_once_with_lines_addresses_and_totals(shop, sim, integration, kit):
    kit.add_order(shop, 101, status=1, lines=((1, 2), (2, 1)))
    kit.poll(integration)
    assert sim.orders() == []  # pending is not ready
    kit.owner_sets(shop, 101, 2)
    kit.poll(integration)
    kit.poll(integration)  # a second poll finds nothing new
    [o] = sim.orders()
    assert o["channel_order_id"] == "UK-101" and o["status_id"] == dc.DESPATCH_READY
    assert (o["shipping_address_iso"], o["shipping_address_postcode"], o["shipping_name"]) == ("GB", "LS1 1AA", "Ann Lee")
    assert (o["total_paid"], o["shipping_paid"], o["payment_currency"]) == ("25.00", "5.00", "GBP")
    assert o["shipping_method_requested"] == "Royal Mail 48" and o["customer_comments"] == "Leave at door"
    assert sorted((line["sku"], line["quantity"]) for line in o["inventory"]) == [("SKU-1", 2), ("SKU-2", 1)]
    assert len(sim.requests("/public-api/orders/create")) == 1
    assert len(sim.requests(f"/public-api/order/{o['id']}/add_inventory")) == 1
    b = binding(101)
    assert b.external_id == str(o["id"]) and b.data["state"] == m.OrderState.CREATED


def test_despatch_in_dc_writes_one_history_entry_with_tracking_link(shop, sim, integration, kit):
    kit.add_order(shop, 102, status=2)
    kit.poll(integration)
    sim.despatch("UK-102", tracking_code="RM123456GB", courier="Royal Mail", service="Tracked 48")
    kit.poll(integration)
    kit.poll(integration)  # the overlap reads the despatched order again: no second entry
    assert kit.order_status(shop, 102) == 3
    entries = [c for s, c in kit.history(shop, 102) if "RM123456GB" in c]
    assert len(entries) == 1
    assert "Royal Mail Tracked 48" in entries[0] and "https://track.example/RM123456GB" in entries[0]
    b = binding(102)
    assert b.data["state"] == m.OrderState.DESPATCHED and b.data["tracking"] == ["RM123456GB"]
    assert b.data["courier"] == "Royal Mail"


def test_dc_refusal_is_shown_with_dcs_message_and_retry_after_fixing_sends_it(shop, sim, integration, kit):
    kit.add_order(shop, 103, status=2, postcode="")
    kit.poll(integration)
    b = binding(103)
    assert b.data["state"] == m.OrderState.REFUSED
    assert "Column 'shipping_address_postcode' cannot be null" in b.data["message"]
    job = Job.objects.get(kind=jobs.SendOrder.kind)
    assert job.state == JobState.FAILED and "shipping_address_postcode" in job.last_error
    with shop.engine.begin() as conn:  # the owner fixes the postcode
        t = shop.t("order")
        conn.execute(t.update().where(t.c.order_id == 103).values(shipping_postcode="LS2 2BB"))
    jobs.retry_order(integration, 103)
    run_until_idle()
    assert binding(103).data["state"] == m.OrderState.CREATED
    assert [o["shipping_address_postcode"] for o in sim.orders()] == ["LS2 2BB"]


def test_unknown_sku_refused_per_line_is_shown(shop, sim, integration, kit):
    sim.refuse_skus(["SKU-2"])
    kit.add_order(shop, 104, status=2, lines=((1, 1), (2, 1)))
    kit.poll(integration)
    b = binding(104)
    assert b.data["state"] == m.OrderState.REFUSED and "SKU-2" in b.data["message"]


def test_order_leaving_ready_before_picking_is_held_and_released_when_ready_again(shop, sim, integration, kit):
    kit.add_order(shop, 105, status=2)
    kit.poll(integration)
    kit.owner_sets(shop, 105, 1)  # back to pending
    kit.poll(integration)
    assert sim.orders()[0]["status_id"] == dc.ON_HOLD and binding(105).data["state"] == m.OrderState.HELD
    kit.owner_sets(shop, 105, 2)
    kit.poll(integration)
    assert sim.orders()[0]["status_id"] == dc.DESPATCH_READY and binding(105).data["state"] == m.OrderState.CREATED
    assert len(sim.requests("/public-api/orders/create")) == 1


def test_shop_cancel_cancels_in_dc_when_the_owner_chose_cancel(shop, sim, integration, kit):
    integration.settings = {**integration.settings, "not_ready_action": "cancel"}
    integration.save()
    kit.add_order(shop, 106, status=2)
    kit.poll(integration)
    kit.owner_sets(shop, 106, 7)
    kit.poll(integration)
    assert sim.orders()[0]["status_id"] == dc.CANCELLED and binding(106).data["state"] == m.OrderState.CANCELLED
    kit.poll(integration)  # DC's cancelled order read back: not written to the shop as a DC cancellation
    assert [s for s, _ in kit.history(shop, 106)] == [2, 7]


def test_order_dc_is_already_picking_is_reported_too_late(shop, sim, integration, kit):
    kit.add_order(shop, 107, status=2)
    kit.poll(integration)
    sim.set_order_status("UK-107", 4)  # picking
    kit.owner_sets(shop, 107, 1)
    kit.poll(integration)
    assert sim.orders()[0]["status_id"] == 4 and binding(107).data["state"] == m.OrderState.TOO_LATE


def test_cancellation_in_dc_reaches_the_shop_once(shop, sim, integration, kit):
    kit.add_order(shop, 108, status=2)
    kit.poll(integration)
    sim.cancel_in_dc("UK-108")
    kit.poll(integration)
    kit.poll(integration)
    assert kit.order_status(shop, 108) == 7
    assert [s for s, _ in kit.history(shop, 108)] == [2, 7]
    assert binding(108).data["state"] == m.OrderState.DC_CANCELLED


def test_dc_outage_is_retried_and_nothing_is_lost(shop, sim, integration, kit):
    kit.add_order(shop, 109, status=2)
    sim.fail_next("503", count=50, path="/public-api/orders")
    kit.poll(integration)
    job = Job.objects.get(kind=jobs.SendOrder.kind)
    assert job.state == JobState.QUEUED and job.attempts == 1  # retryable: back in the queue for later
    assert Exchange.objects.filter(service="despatch", status=503).exists()
    sim.clear_faults()
    Job.objects.filter(pk=job.pk).update(next_run_at=job.created)
    run_until_idle()
    assert [o["channel_order_id"] for o in sim.orders()] == ["UK-109"]


def test_create_answer_lost_is_recovered_by_asking_dc_never_sent_twice(shop, sim, integration, kit):
    from ocbridge.core.models import SideEffect

    kit.add_order(shop, 110, status=2)
    sim.fail_next("reset", path="/public-api/orders/create", after=True)  # DC creates it, the answer is lost
    kit.poll(integration)
    [o] = sim.orders()
    effect = SideEffect.objects.get(kind="despatch.create_order")
    assert (effect.state, effect.provider_id) == ("sent", str(o["id"]))  # the outbox asked DC: it has it
    assert binding(110).external_id == str(o["id"]) and o["total_inventory_count"] == 1
    assert len(sim.requests("/public-api/orders/create")) == 1


def test_worker_killed_mid_create_resumes_from_the_outbox_without_a_second_create(shop, sim, integration, kit):
    from ocbridge.core.models import SideEffect

    kit.add_order(shop, 114, status=2)
    sim.fail_next("reset", path="/public-api/orders/create", after=True)
    sim.fail_next("503", path="/public-api/orders", count=3)  # and DC cannot be asked: in doubt
    kit.poll(integration)
    effect = SideEffect.objects.get(kind="despatch.create_order")
    assert effect.state == "unknown" and len(sim.orders()) == 1
    sim.clear_faults()
    job = Job.objects.get(kind=jobs.SendOrder.kind)
    Job.objects.filter(pk=job.pk).update(state=JobState.QUEUED, claim_expires_at=None, next_run_at=job.created)
    run_until_idle()
    effect.refresh_from_db()
    [o] = sim.orders()
    assert effect.state == "sent" and effect.provider_id == str(o["id"]) and binding(114).external_id == str(o["id"])
    assert len(sim.requests("/public-api/orders/create")) == 1 and o["total_inventory_count"] == 1


def test_token_expiry_mid_run_logs_in_again(shop, sim, integration, kit):
    kit.add_order(shop, 111, status=2)
    kit.poll(integration)
    sim.expire_tokens()
    sim.despatch("UK-111", tracking_code="T-111")
    kit.poll(integration)
    assert kit.order_status(shop, 111) == 3
    assert len(sim.requests("/public-api/auth/login")) == 2


def test_second_parcel_adds_its_own_entry_each_code_once(shop, sim, integration, kit):
    kit.add_order(shop, 112, status=2)
    kit.poll(integration)
    sim.despatch("UK-112", tracking_code="P1")
    kit.poll(integration)
    sim.despatch("UK-112", tracking_code="P2")  # DC re-despatches with a second parcel's code
    kit.poll(integration)
    kit.poll(integration)
    codes = [c for _, c in kit.history(shop, 112) if "Tracking code" in c]
    assert len(codes) == 2 and "P1" in codes[0] and "P2" in codes[1]
    assert binding(112).data["tracking"] == ["P1", "P2"]


def test_worker_killed_mid_shop_write_resumes_and_writes_once(shop, sim, integration, kit):
    from ocbridge.opencart import writes

    kit.add_order(shop, 113, status=2)
    kit.poll(integration)
    sim.despatch("UK-113", tracking_code="K1")

    def crash(step, when):
        if when == "after":
            raise SystemExit("worker killed")

    writes.crash_hook = crash
    try:
        with pytest.raises(SystemExit):
            kit.poll(integration)
    finally:
        writes.crash_hook = None
    job = Job.objects.get(kind=jobs.ApplyDespatch.kind)
    Job.objects.filter(pk=job.pk).update(state=JobState.QUEUED, claim_expires_at=None, next_run_at=job.created)
    run_until_idle()
    assert len([c for _, c in kit.history(shop, 113) if "K1" in c]) == 1
    assert kit.order_status(shop, 113) == 3 and binding(113).data["tracking"] == ["K1"]


def test_idle_dc_polls_write_nothing_to_the_hub(shop, sim, integration, kit):
    """The DC poll is a routine poll (core.polls): with nothing of ours open at DC it asks nothing and writes
    nothing; with an order open and nothing changed it asks DC and still writes nothing (no Job, no Exchange, no
    window end, no "last OK"); a despatch found is written with the reads that found it."""
    from testkit import HubWrites

    from ocbridge.core import clock, polls

    key = polls.integration_key(integration)
    kit.poll(integration)  # first read: the window end is stored
    for _ in range(2):
        clock.travel(15)
        with HubWrites() as w:
            assert polls.run_one(jobs.POLL, key)
        assert w.sql == [] and sim.requests("/public-api/orders", "GET") == []  # nothing of ours open: not even asked
    kit.add_order(shop, 110, status=2)
    kit.poll(integration)  # the order goes to DC: now DC is read each poll
    exchanges, jobs_before = Exchange.objects.count(), Job.objects.count()
    asked = len(sim.requests("/public-api/orders", "GET"))
    for _ in range(3):
        clock.travel(15)
        with HubWrites() as w:
            assert polls.run_one(jobs.POLL, key)
        assert w.sql == []
    assert len(sim.requests("/public-api/orders", "GET")) == asked + 3
    assert (Exchange.objects.count(), Job.objects.count()) == (exchanges, jobs_before)
    assert abs((polls.last_ok(jobs.POLL, key) - clock.now()).total_seconds()) < 1  # the page's "last read"
    sim.despatch("UK-110", tracking_code="RM1GB")
    clock.travel(15)
    with HubWrites() as w:
        polls.run_one(jobs.POLL, key)
    assert any("despatch_syncstate" in q for q in w.sql) and Exchange.objects.count() > exchanges
    run_until_idle()
    assert binding(110).data["tracking"] == ["RM1GB"]


def _dc_searches(sim) -> int:
    """Lookups of one order by its channel_order_id (the window read sends a date range instead)."""
    return len([r for r in sim.requests("/public-api/orders", "GET") if "filters[search_field]" in r.query])


def _quiet(sim, seconds: int, kit, integration) -> None:
    """DC polls every 15 s on both clocks (the hub's and DC's), each poll's jobs run."""
    from ocbridge.core import clock

    for _ in range(seconds // 15):
        clock.travel(15)
        sim.advance(15)
        kit.poll_dc()
        run_until_idle()


def test_a_despatch_dc_lists_late_reaches_the_shop_within_minutes_with_a_bounded_number_of_lookups(
        shop, sim, integration, kit, monkeypatch):
    """DC lists the despatch 5 minutes late (its `updated_at` 5 minutes before it shows in a list): beyond the read
    window's overlap, so no window read ever sees it. The order, waiting at DC for a while already, is looked up by
    itself on its own back-off: the despatch is in the shop within LATE_LOOK_MAX (before: not until a restarted
    worker re-read the last hour, or never), and the lookups meanwhile stayed few (no lookup every poll). The
    bound is shortened to 2 minutes here (10 in the hub) to keep the test short."""
    monkeypatch.setattr(jobs, "LATE_LOOK_MAX", 120.0)
    kit.add_order(shop, 120, status=2)
    kit.poll(integration)  # sent to DC
    assert binding(120).data["state"] == m.OrderState.CREATED
    searched = _dc_searches(sim)  # SendOrder's own lookup before creating
    _quiet(sim, 10 * 60, kit, integration)
    assert _dc_searches(sim) - searched <= 7  # 40 polls: lookups 15, 30, 60 s apart, then 2 minutes apart
    sim.despatch("UK-120", tracking_code="RMLATE1GB", listed_late=300)
    _quiet(sim, int(jobs.LATE_LOOK_MAX) + 15, kit, integration)
    assert kit.order_status(shop, 120) == 3
    assert [c for _s, c in kit.history(shop, 120) if "RMLATE1GB" in c] != []
    assert binding(120).data["tracking"] == ["RMLATE1GB"]


def test_a_despatch_dc_lists_late_while_it_works_on_the_order_is_in_the_shop_within_a_poll_or_two(
        shop, sim, integration, kit, monkeypatch):
    """DC shows the order being picked (listed on time), then lists its despatch 5 minutes late: an order seen
    moving at DC is looked up again at the poll interval, so the despatch is in the shop within a poll or two
    (its lookups had backed off to LATE_LOOK_MAX, shortened to 5 minutes here)."""
    monkeypatch.setattr(jobs, "LATE_LOOK_MAX", 300.0)
    kit.add_order(shop, 121, status=2)
    kit.poll(integration)
    _quiet(sim, 8 * 60, kit, integration)  # waiting at DC: lookups after 15, 45, 105, 225, 465 s, then 765 s
    sim.set_order_status("UK-121", dc.PICKING)
    _quiet(sim, 15, kit, integration)  # the window read lists it: DC is working on it
    sim.despatch("UK-121", tracking_code="RMLATE2GB", listed_late=300)
    _quiet(sim, 45, kit, integration)
    assert kit.order_status(shop, 121) == 3 and binding(121).data["tracking"] == ["RMLATE2GB"]
