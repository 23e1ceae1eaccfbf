"""Despatch Cloud's tracking code reaches an rFBS posting the shop delivers itself, end to end: an Ozon posting
becomes a shop order, the order is sent to Despatch Cloud, DC despatches it with a tracking code, the shop order is
marked shipped with it, and the posting gets DC's code before it moves to delivering (MariaDB 3.0/4.0 shop, the
Ozon simulator and the Despatch Cloud simulator over HTTP). Integrations share what they know of an order through
core.registry.facts_of, never by importing each other."""

from __future__ import annotations

import itertools

import pytest

from ocbridge.core import polls
from ocbridge.core.jobs import run_job, run_until_idle
from ocbridge.core.models import Binding, Connection, Integration, Job
from ocbridge.integrations.despatch import jobs as dc_jobs, models as dc_m
from ocbridge.integrations.ozon import jobs, models as m
from ocbridge.opencart import feed
from ocbridge.services import despatch as dc
from ocbridge.simulators.despatch import DespatchSimulator

pytestmark = pytest.mark.django_db
_keys = itertools.count(1)
TRACK = "/v2/fbs/posting/tracking-number/set"
CUSTOMER = {"name": "Анна Петрова", "phone": "+79161234567",
            "address": {"zip_code": "101000", "city": "Москва", "address_tail": "ул. Мясницкая, 1", "country": "Россия"}}


def run(kind, integration) -> Job:
    return run_job(Job.objects.enqueue(kind, key=f"test:{next(_keys)}", integration=integration).pk)


def poll_shop(store) -> None:
    """The shared shop poll: the feed hands new orders and history rows to each integration."""
    feed.poll_shop(feed.shop_key(store))
    run_until_idle()


@pytest.fixture
def dc_sim(settings):
    settings.SIMULATOR_HOSTS = [*getattr(settings, "SIMULATOR_HOSTS", []), "127.0.0.1"]
    dc.forget_tokens()
    with DespatchSimulator(email="api@shop.example", password="secret") as s:
        yield s
    dc.forget_tokens()


def test_despatch_clouds_tracking_code_goes_to_the_rfbs_posting(integration, sim, shop, dc_sim):
    store = shop[0]
    integration.settings = {**integration.settings, "status_out": True, "tracking_pattern": r"track ([A-Z0-9]+)"}
    integration.save()
    conn = Connection.objects.create(store=store, service="despatch", base_url=dc_sim.base_url,
                                     secret={"email": "api@shop.example", "password": "secret"})
    despatch = Integration.objects.create(store=store, kind="despatch", connection=conn, settings={
        "ready_status_ids": [2], "despatched_status_id": 3, "cancelled_status_id": 7, "order_prefix": "OZ-",
        "sku_field": "model"})
    poll_shop(store)  # both feed cursors start at the shop's newest history row

    sim.add_posting([{"offer_id": "M1", "quantity": 1, "price": 100}], posting_number="20001-0001-1", rfbs=True,
                    customer=CUSTOMER)
    run(jobs.PollPostings, integration)  # the posting becomes a shop order at "Processing" (ready for DC)
    run_until_idle()
    order_id = int(Binding.objects.get(kind=m.POSTING, external_id="20001-0001-1").local_id)
    poll_shop(store)
    [sent] = dc_sim.orders()
    assert (sent["channel_order_id"], sent["shipping_address_iso"]) == (f"OZ-{order_id}", "RU")

    dc_sim.despatch(f"OZ-{order_id}", tracking_code="RM123456GB", courier="Royal Mail")
    polls.run_all(dc_jobs.POLL)  # DC's despatch: the shop order is "Shipped", with the code in its history
    run_until_idle()
    assert Binding.objects.get(kind=dc_m.ORDER, local_id=str(order_id)).data["tracking"] == ["RM123456GB"]
    poll_shop(store)  # Ozon sees "Shipped": pack, tracking number, delivering

    assert [r.json()["tracking_numbers"] for r in sim.requests(TRACK) if r.status == 200] == [
        [{"posting_number": "20001-0001-1", "tracking_number": "RM123456GB"}]]
    posting = next(p for p in sim.postings() if p["posting_number"] == "20001-0001-1")
    assert (posting["status"], posting["tracking_number"]) == ("delivering", "RM123456GB")
    b = Binding.objects.get(kind=m.POSTING, external_id="20001-0001-1")
    assert (b.data["tracking_number"], b.data["tracking_source"]) == ("RM123456GB", "Despatch Cloud")
