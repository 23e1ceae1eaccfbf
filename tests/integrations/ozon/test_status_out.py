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
from ocbridge.opencart import feed
from ocbridge.opencart.models import FeedCursor

pytestmark = pytest.mark.django_db
_keys = itertools.count(1)
SHIP, CANCEL, RESUME = "/v4/posting/fbs/ship", "/v2/posting/fbs/cancel", "/v2/posting/fbs/awaiting-delivery"
TRACK, DELIVERING, LAST_MILE, DELIVERED = ("/v2/fbs/posting/tracking-number/set", "/v2/fbs/posting/delivering",
                                           "/v2/fbs/posting/last-mile", "/v2/fbs/posting/delivered")


def run(kind, integration, **payload) -> Job:
    job = Job.objects.enqueue(kind, key=f"test:{next(_keys)}", integration=integration, payload=payload)
    return run_job(job.pk)


def calls(sim, path) -> int:
    return len([r for r in sim.requests(path) if r.status == 200 and r.path == path])


def _sent(sim, path) -> list[dict]:
    return [r.json() for r in sim.requests(path) if r.path == path]


@pytest.fixture
def ordered(integration, sim, shop):
    """Status out switched on, the history watermark set, and one imported posting: (number, order_id)."""
    integration.settings = {**integration.settings, "status_out": True}
    integration.save()
    _poll_shop(integration)  # first shared poll: its feed cursor starts at the shop's newest history row
    assert FeedCursor.objects.filter(integration=integration).exists()
    return _import(integration, sim, "10001-0001-1")


def _import(integration, sim, number, **kw) -> tuple[str, int]:
    sim.add_posting([{"offer_id": "M1", "quantity": 2, "price": 100}, {"offer_id": "M2", "quantity": 1, "price": 50}],
                    posting_number=number, **kw)
    run(jobs.PollPostings, integration)
    run_until_idle()
    return number, int(Binding.objects.get(kind=m.POSTING, external_id=number).local_id)


def _shop_sets(store, order_id: int, status: int, comment: str = "by the owner") -> None:
    """The shop owner changes the order's status in OpenCart (the shared history write)."""
    current = opencart.order_status(store, order_id)
    assert opencart.write_history(store, order_id, expected=current, new=status, comment=comment).written


def _poll_shop(integration) -> None:
    """The shared shop poll (opencart.polling): the feed hands new history rows to jobs.on_history."""
    feed.poll_shop(feed.shop_key(integration.store))
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


def _rfbs(integration, **over):
    integration.settings = {**integration.settings, "last_mile_status_ids": [15],
                            "tracking_pattern": r"(?:track|трек)[^A-Z0-9]{0,12}([A-Z0-9-]{6,40})", **over}
    integration.save()


# rFBS with the seller's own delivery: Ozon's reference (PostingAPI_FbsPostingTrackingNumberSet, _Delivering,
# _LastMile, _Delivered; checked 2026-12-06) — the shop's mapped statuses drive each step, once.
def test_rfbs_posting_is_packed_tracked_and_delivered_by_the_shops_statuses(integration, sim, shop, ordered):
    _rfbs(integration)
    number, order_id = _import(integration, sim, "10002-0001-1", rfbs=True)
    _shop_sets(shop[0], order_id, 3, comment="Sent with Track: RU123456789")
    _poll_shop(integration)
    assert [calls(sim, p) for p in (SHIP, TRACK, DELIVERING, RESUME)] == [1, 1, 1, 0]
    assert sim.requests(TRACK)[0].json()["tracking_numbers"] == [{"posting_number": number, "tracking_number": "RU123456789"}]
    posting = _posting(sim, number)
    assert (posting["status"], posting["tracking_number"]) == ("delivering", "RU123456789")
    out = _status_out(number)["delivering"]
    assert out["state"] == "done"
    assert Binding.objects.get(kind=m.POSTING, external_id=number).data["tracking_source"] == "comment"
    _shop_sets(shop[0], order_id, 15)  # the owner's "last mile" status
    _poll_shop(integration)
    _shop_sets(shop[0], order_id, 5)  # Complete → delivered
    _poll_shop(integration)
    assert [calls(sim, p) for p in (LAST_MILE, DELIVERED)] == [1, 1]
    assert _posting(sim, number)["status"] == "delivered"
    _shop_sets(shop[0], order_id, 3)  # saved again: every step was already done, nothing is called twice
    _poll_shop(integration)
    assert [calls(sim, p) for p in (SHIP, TRACK, DELIVERING, LAST_MILE, DELIVERED)] == [1, 1, 1, 1, 1]


def test_rfbs_complete_at_once_walks_every_step_without_a_tracking_number(integration, sim, shop, ordered):
    _rfbs(integration, tracking_pattern="")
    number, order_id = _import(integration, sim, "10004-0001-1", rfbs=True)
    _shop_sets(shop[0], order_id, 5)
    _poll_shop(integration)
    assert [calls(sim, p) for p in (SHIP, TRACK, DELIVERING, LAST_MILE, DELIVERED)] == [1, 0, 1, 1, 1]
    assert _posting(sim, number)["status"] == "delivered" and _status_out(number)["delivered"]["state"] == "done"


def test_awaiting_delivery_is_called_only_for_a_disputed_posting(integration, sim, shop, ordered):
    number, order_id = ordered
    sim.set_posting_status(number, "arbitration")
    _shop_sets(shop[0], order_id, 3)
    _poll_shop(integration)
    assert calls(sim, RESUME) == 1 and _posting(sim, number)["status"] == "awaiting_deliver"
    assert _status_out(number)["ship"]["state"] == "done"


def test_ship_failed_behind_a_200_is_packed_again_later(integration, sim, shop, ordered):
    number, order_id = ordered
    sim.fail_ship(number)
    _shop_sets(shop[0], order_id, 3)
    _poll_shop(integration)
    job = Job.objects.get(kind=jobs.AdvancePosting.kind)
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
    body = _sent(sim, CANCEL)[0]
    assert (body["cancel_reason_id"], body["cancel_reason_message"]) == (402, "Cancelled by the shop")
    assert _posting(sim, number)["status"] == "cancelled"
    assert _status_out(number)["cancel"]["state"] == "done"
    assert calls(sim, "/v2/posting/fbs/cancel-reason/list") == 1  # the reason is checked against Ozon's live list


def test_cancel_reason_comes_from_the_live_list_and_is_shown_translated(integration, sim, shop, ordered):
    from django.utils import translation

    from ocbridge.integrations.ozon import catalog

    number, order_id = ordered
    integration.settings = {**integration.settings, "cancel_reason_id": 352, "cancel_reason_message": ""}
    integration.save()
    _shop_sets(shop[0], order_id, 7)
    _poll_shop(integration)
    assert _sent(sim, CANCEL)[0]["cancel_reason_id"] == 352
    client = jobs.client_for(integration)
    with translation.override("ru"):
        labels = {r["id"]: r["label"] for r in catalog.cancel_reasons(client, integration.connection)}
    assert labels[352] != "Out of stock at the seller's warehouse" and labels[352]
    assert calls(sim, "/v2/posting/fbs/cancel-reason/list") == 1  # cached


def test_cancel_reason_ozon_no_longer_allows_is_refused_with_a_clear_error(integration, sim, shop, ordered):
    number, order_id = ordered
    integration.settings = {**integration.settings, "cancel_reason_id": 401}  # listed, not available to sellers
    integration.save()
    _shop_sets(shop[0], order_id, 7)
    _poll_shop(integration)
    job = Job.objects.get(kind=jobs.CancelPosting.kind)
    assert job.state == JobState.FAILED and "401" in job.last_error and calls(sim, CANCEL) == 0


def test_cancel_not_allowed_once_on_its_way_is_refused_without_a_call(integration, sim, shop, ordered):
    number, order_id = ordered
    sim.set_posting_status(number, "delivering")
    _shop_sets(shop[0], order_id, 7)
    _poll_shop(integration)
    assert calls(sim, CANCEL) == 0
    out = _status_out(number)["cancel"]
    assert (out["state"], out["why"], out["posting_status"]) == ("refused", "not_allowed", "delivering")


def test_cancellation_from_ozon_is_not_echoed_back(integration, sim, shop, ordered):
    number, order_id = ordered
    sim.set_posting_status(number, "cancelled")
    clock.travel(60)
    run(jobs.PollPostings, integration)
    run_until_idle()
    assert opencart.order_status(shop[0], order_id) == 7
    _poll_shop(integration)
    assert calls(sim, CANCEL) == 0 and not Job.objects.filter(kind=jobs.CancelPosting.kind).exists()
    hist = shop[2].tables["oc_order_history"]
    with shop[1].connect() as c:
        comments = [r.comment for r in c.execute(select(hist.c.comment).where(hist.c.order_id == order_id))]
    assert any("Клиент: Отменено покупателем" in text for text in comments)  # who cancelled and Ozon's reason


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


# --- returns (Ozon → shop) ---------------------------------------------------------------------------------
# /v1/returns/list: Ozon's reference operation returnsList (docs.ozon.ru/api/seller, checked 2026-12-06; News
# 2025-02-18 names it the replacement of /v3/returns/company/fbs).


def test_return_reaches_the_order_as_a_history_entry_once(integration, sim, shop, ordered):
    store, engine, md = shop
    number, order_id = ordered
    _shop_sets(store, order_id, 5)  # delivered and complete in the shop
    sim.add_return(number, offer_id="M1", reason="Не подошёл размер")
    for _ in range(2):  # the next poll sees the same return again: one entry only
        clock.travel(60)
        run(jobs.PollReturns, integration)
        run_until_idle()
    assert opencart.order_status(store, order_id) == 11
    hist = md.tables["oc_order_history"]
    with engine.connect() as c:
        rows = [r.comment for r in c.execute(select(hist.c.comment).where(hist.c.order_id == order_id))
                if "return" in r.comment]
    assert len(rows) == 1 and "M1" in rows[0] and "Не подошёл размер" in rows[0]
    b = Binding.objects.get(kind=m.POSTING, external_id=number)
    assert list(b.data["returns"].values())[0]["written"] is True


# --- shop changes reach Ozon within one poll ---------------------------------------------------------------


def test_an_order_placed_in_the_shop_lowers_ozon_stock_at_the_next_shop_poll(integration, sim, shop):
    store, engine, md = shop
    integration.settings = {**integration.settings, "status_out": True}
    integration.save()
    run(jobs.SyncProducts, integration)
    for _ in range(4):  # import tracked, first stock and price sent
        clock.travel(31)
        sim.advance(31)
        run_until_idle()
    assert sim.products()["M1"]["stocks"] == {"1020000000001": 5}
    _poll_shop(integration)  # first shared poll: the feed cursor starts at the shop's newest history row
    _poll_shop(integration)
    assert not Job.objects.filter(kind=jobs.SyncStock.kind, state=JobState.QUEUED).exists()  # idle: no stock run
    # A customer orders two of product 1 in the shop (checkout's rows), then the shop confirms it: OpenCart's
    # stock rule takes them on entering Processing, with a history row that is not ours.
    from decimal import Decimal

    from ocbridge.integrations.ozon import shop as ozon_shop

    line = {"product_id": 1, "name": "Phone 1", "model": "M1", "quantity": 2, "price": Decimal("100"),
            "total": Decimal("200")}
    order_id = ozon_shop.create_order(store, {
        "firstname": "Ayşe", "lastname": "Yılmaz", "payment_method": "Cash On Delivery", "payment_code": "cod",
        "shipping_method": "Flat", "shipping_code": "flat.flat", "lines": [line], "subtotal": Decimal("200"),
        "total": Decimal("200"), "currency_code": "RUB", "order_status_id": 1, "history_comment": ""})
    _shop_sets(store, order_id, 2, comment="paid")
    p = md.tables["oc_product"]
    with engine.connect() as c:
        assert c.execute(select(p.c.quantity).where(p.c.product_id == 1)).scalar() == 3
    clock.travel(31)
    sim.advance(31)
    _poll_shop(integration)
    assert sim.products()["M1"]["stocks"] == {"1020000000001": 3}


def test_a_lost_answer_is_settled_by_re_reading_the_posting_never_sent_twice(integration, sim, shop, ordered):
    """Every posting write goes through the outbox: Ozon moved the posting but its answer was lost (a gateway 500
    after the write) → the re-read posting shows it → counted as made, not repeated."""
    from ocbridge.core.models import SideEffect

    _rfbs(integration, tracking_pattern="")
    number, order_id = _import(integration, sim, "10007-0001-1", rfbs=True)
    sim.fail_next("500", path=DELIVERING, after=True)
    _shop_sets(shop[0], order_id, 3)
    _poll_shop(integration)
    assert len(sim.requests(DELIVERING)) == 1 and _posting(sim, number)["status"] == "delivering"
    assert _status_out(number)["delivering"]["state"] == "done"
    effect = SideEffect.objects.get(kind="ozon.delivering")
    assert (effect.state, effect.provider_id) == ("sent", number)


@pytest.mark.parametrize("shop", ["3.0"], indirect=True)
def test_a_ship_paused_while_the_connection_is_off_reads_in_each_readers_language(integration, sim, shop, ordered):
    """The shop ships while the Ozon connection is switched off: the outbox pauses the call (nothing sent), and the
    orders page's "Sent to Ozon" line says why in the reader's language (the outbox row's reason as said), not in
    English. The jobs run in a Turkish worker."""
    from django.urls import reverse
    from django.utils import translation

    from testkit import assert_page_reads
    from ocbridge.core.models import Connection

    number, order_id = ordered
    Connection.objects.filter(pk=integration.connection_id).update(enabled=False)
    _shop_sets(shop[0], order_id, 3)
    with translation.override("tr"):
        _poll_shop(integration)
    out = _status_out(number)["ship"]
    assert (out["state"], out["detail"]) == ("paused", "paused: the connection is switched off") and calls(sim, SHIP) == 0
    said = {"en": "paused: the connection is switched off", "tr": "duraklatıldı: bağlantı kapalı",
            "ru": "приостановлено: подключение выключено"}
    assert_page_reads(reverse("ozon:orders", args=[integration.pk]), said, alone=True)
