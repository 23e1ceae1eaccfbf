"""Status back to Ozon: the shop ships or cancels an Ozon order → ship / hand over / cancel the posting,
once, only when the posting allows it (MariaDB 3.0 and 4.0 shop ↔ jobs ↔ Ozon simulator over HTTP)."""

from __future__ import annotations

import itertools

import pytest
from sqlalchemy import select

from ocbridge import opencart
from ocbridge.core import clock
from ocbridge.core.choices import JobState
from ocbridge.core.jobs import run_job, run_until_idle
from ocbridge.core.models import Binding, Exchange, Job
from ocbridge.integrations.ozon import jobs, models as m

pytestmark = pytest.mark.django_db
_keys = itertools.count(1)
SHIP, CANCEL, DELIVER = "/v4/posting/fbs/ship", "/v2/posting/fbs/cancel", "/v2/posting/fbs/awaiting-delivery"


def run(kind, integration, **payload) -> Job:
    job = Job.objects.enqueue(kind, key=f"test:{next(_keys)}", integration=integration, payload=payload)
    return run_job(job.pk)


def calls(sim, path) -> int:
    return len([r for r in sim.requests(path) if r.status == 200])


@pytest.fixture
def ordered(integration, sim, shop):
    """Status out switched on, the history watermark set, and one imported posting: (number, order_id)."""
    integration.settings = {**integration.settings, "status_out": True}
    integration.save()
    run(jobs.PollShopStatuses, integration)  # first run: watermark at the shop's newest history row
    assert m.SyncState.of(integration).last_history_id is not None
    return _import(integration, sim, "10001-0001-1")


def _import(integration, sim, number, **kw) -> tuple[str, int]:
    sim.add_posting([{"offer_id": "M1", "quantity": 2, "price": 100}, {"offer_id": "M2", "quantity": 1, "price": 50}],
                    posting_number=number, **kw)
    run(jobs.PollPostings, integration)
    run_until_idle()
    return number, int(Binding.objects.get(kind=m.POSTING, external_id=number).local_id)


def _shop_sets(store, order_id: int, status: int) -> None:
    """The shop owner changes the order's status in OpenCart (the shared history write)."""
    current = opencart.order_status(store, order_id)
    assert opencart.write_history(store, order_id, expected=current, new=status, comment="by the owner").written


def _poll_shop(integration) -> None:
    run(jobs.PollShopStatuses, integration)
    run_until_idle()


def _posting(sim, number) -> dict:
    return next(p for p in sim.postings() if p["posting_number"] == number)


def _status_out(number) -> dict:
    return Binding.objects.get(kind=m.POSTING, external_id=number).data.get("status_out", {})


def test_shop_ships_the_order_posting_is_packed_once_with_all_its_lines(integration, sim, shop, ordered):
    number, order_id = ordered
    _shop_sets(shop[0], order_id, 3)
    _poll_shop(integration)
    assert calls(sim, SHIP) == 1
    body = sim.requests(SHIP)[0].json()
    skus = {line["sku"]: line["quantity"] for line in _posting(sim, number)["products"]}
    assert body["posting_number"] == number
    assert {p["product_id"]: p["quantity"] for p in body["packages"][0]["products"]} == skus
    assert _posting(sim, number)["status"] == "awaiting_deliver"
    assert _status_out(number)["ship"]["state"] == "done"
    # The shop saves "Shipped" again, and the poll of Ozon sees awaiting_deliver: no second ship, no step back.
    _shop_sets(shop[0], order_id, 5)
    _shop_sets(shop[0], order_id, 3)
    _poll_shop(integration)
    clock.travel(60)
    run(jobs.PollPostings, integration)
    run_until_idle()
    assert calls(sim, SHIP) == 1
    assert opencart.order_status(shop[0], order_id) == 3


def test_rfbs_posting_is_packed_and_handed_to_delivery(integration, sim, shop, ordered):
    number, order_id = _import(integration, sim, "10002-0001-1", rfbs=True)
    _shop_sets(shop[0], order_id, 3)
    _poll_shop(integration)
    assert (calls(sim, SHIP), calls(sim, DELIVER)) == (1, 1)
    assert _posting(sim, number)["status"] == "delivering"
    assert _status_out(number)["ship"]["state"] == "done"


def test_ship_failed_behind_a_200_is_packed_again_later(integration, sim, shop, ordered):
    number, order_id = ordered
    sim.fail_ship(number)
    _shop_sets(shop[0], order_id, 3)
    _poll_shop(integration)
    job = Job.objects.get(kind=jobs.ShipPosting.kind)
    assert job.state == JobState.QUEUED and _status_out(number)["ship"]["state"] == "failed"
    assert _posting(sim, number)["substatus"] == "ship_failed"
    clock.travel(120)
    run_until_idle()
    assert calls(sim, SHIP) == 2 and _posting(sim, number)["status"] == "awaiting_deliver"
    keys = list(Exchange.objects.filter(purpose="ozon.ship_posting").values_list("key", flat=True))
    assert len(keys) == 2 and len(set(keys)) == 2  # each pack attempt is its own side effect with its own key


def test_shop_cancels_the_order_posting_is_cancelled_with_the_reason(integration, sim, shop, ordered):
    number, order_id = ordered
    _shop_sets(shop[0], order_id, 7)
    _poll_shop(integration)
    body = sim.requests(CANCEL)[0].json()
    assert (body["cancel_reason_id"], body["cancel_reason_message"]) == (402, "Cancelled by the shop")
    assert _posting(sim, number)["status"] == "cancelled"
    assert _status_out(number)["cancel"]["state"] == "done"


def test_cancel_not_allowed_once_on_its_way_is_refused_without_a_call(integration, sim, shop, ordered):
    number, order_id = ordered
    sim.set_posting_status(number, "delivering")
    _shop_sets(shop[0], order_id, 7)
    _poll_shop(integration)
    assert calls(sim, CANCEL) == 0
    out = _status_out(number)["cancel"]
    assert out["state"] == "refused" and "delivering" in out["detail"]


def test_cancellation_from_ozon_is_not_echoed_back(integration, sim, shop, ordered):
    number, order_id = ordered
    sim.set_posting_status(number, "cancelled")
    clock.travel(60)
    run(jobs.PollPostings, integration)
    run_until_idle()
    assert opencart.order_status(shop[0], order_id) == 7
    _poll_shop(integration)
    assert calls(sim, CANCEL) == 0 and not Job.objects.filter(kind=jobs.CancelPosting.kind).exists()


def test_status_out_off_sends_nothing(integration, sim, shop, ordered):
    number, order_id = ordered
    integration.settings = {**integration.settings, "status_out": False}
    integration.save()
    _shop_sets(shop[0], order_id, 3)
    _poll_shop(integration)
    assert calls(sim, SHIP) == 0 and calls(sim, "/v3/posting/fbs/get") == 0


def test_new_ozon_order_takes_stock_by_the_shared_rule_with_option_values(integration, sim, shop):
    """Cancelling an order with an option line restores product and option-value stock (history.apply_stock_rule)."""
    store, engine, md = shop
    number, order_id = _import(integration, sim, "10003-0001-1")
    p = md.tables["oc_product"]
    with engine.connect() as c:
        assert dict(c.execute(select(p.c.product_id, p.c.quantity).where(p.c.product_id.in_([1, 2]))).all()) == {1: 3, 2: 4}
    _shop_sets(store, order_id, 7)
    with engine.connect() as c:
        assert dict(c.execute(select(p.c.product_id, p.c.quantity).where(p.c.product_id.in_([1, 2]))).all()) == {1: 5, 2: 5}


# --- daily import quota ------------------------------------------------------------------------------------


def test_push_over_the_daily_quota_sends_what_fits_and_waits_for_the_reset(integration, sim, monkeypatch):
    from ocbridge.integrations.ozon import rules

    monkeypatch.setattr(rules, "QUOTA_CHECK_FROM", 1)  # the test catalogue is small: check on every push
    sim.set_product_limits(daily_create=1)
    job = run(jobs.SyncProducts, integration)
    assert calls(sim, "/v4/product/info/limit") == 1
    sent = [i["offer_id"] for r in sim.requests("/v3/product/import") for i in r.json()["items"]]
    assert sent == ["M1"]
    assert job.state == JobState.QUEUED and job.next_run_at > clock.now()
    quota = m.SyncState.of(integration).quota
    assert (quota["daily_create"]["limit"], quota["planned"], quota["held"]) == (1, 2, 1)


def test_small_push_does_not_read_the_quota(integration, sim):
    run(jobs.SyncProducts, integration)
    assert calls(sim, "/v4/product/info/limit") == 0 and calls(sim, "/v3/product/import") == 1
