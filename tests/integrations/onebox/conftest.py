"""Fixtures for the OneBox integration: a MariaDB shop per layout (3.0, 4.0) with a small multilingual catalogue,
the OneBox simulator, an Integration with a status map, and the despatch tests' order builders (an order as
checkout leaves it, the owner's status change, reading history)."""

from __future__ import annotations

import datetime as dt
import itertools
import types
from decimal import Decimal

import pytest
import sqlalchemy as sa

from integrations.despatch.conftest import GB, add_order, history, order_status, owner_sets
from ocbridge.core import ratelimit
from ocbridge.core.jobs import run_job, run_until_idle
from ocbridge.core.models import Connection, Integration, Job, Store
from ocbridge.opencart.reference import complete_row
from ocbridge.services import onebox as ob
from ocbridge.simulators.onebox import OneBoxSimulator

LOGIN, PASSWORD = "api@box.example", "box-Pa55word"
LANGS = {1: "en-gb", 2: "tr-tr", 3: "ru-ru"}  # the reference shop's languages
_keys = itertools.count(1)


@pytest.fixture(autouse=True)
def _sim_hosts(settings):
    settings.SIMULATOR_HOSTS = ["127.0.0.1"]
    ob.forget_tokens()
    ratelimit.reset()
    yield
    ob.forget_tokens()


def add_catalogue(h) -> None:
    """A category tree (child inserted before its parent), a brand and two products."""
    t = h.t
    with h.engine.begin() as conn:
        conn.execute(sa.insert(t("country")), [complete_row(t("country"), {
            "country_id": GB, "name": "United Kingdom", "iso_code_2": "GB", "iso_code_3": "GBR", "status": 1,
            "address_format": "", "postcode_required": 1})])
        for cid, parent in ((20, 10), (10, 0)):
            conn.execute(sa.insert(t("category")), [complete_row(t("category"), {
                "category_id": cid, "parent_id": parent, "status": 1, "date_added": dt.datetime(2024, 1, 1),
                "date_modified": dt.datetime(2024, 1, 1)})])
            conn.execute(sa.insert(t("category_description")), [complete_row(t("category_description"), {
                "category_id": cid, "language_id": lid, "name": f"Cat{cid}-{code[:2]}", "description": ""})
                for lid, code in LANGS.items()])
        conn.execute(sa.insert(t("manufacturer")), [complete_row(t("manufacturer"), {"manufacturer_id": 7, "name": "Acme"})])
        for pid in (1, 2):
            conn.execute(sa.insert(t("product")), [complete_row(t("product"), {
                "product_id": pid, "model": f"M{pid}", "sku": f"SKU-{pid}", "quantity": 10, "subtract": 1,
                "price": Decimal("10"), "status": 1, "manufacturer_id": 7, "date_available": dt.date(2024, 1, 1),
                "date_added": dt.datetime(2024, 1, 1), "date_modified": dt.datetime(2024, 1, 1), "variant": "",
                "override": ""})])
            conn.execute(sa.insert(t("product_to_store")), [{"product_id": pid, "store_id": 0}])
            conn.execute(sa.insert(t("product_to_category")), [{"product_id": pid, "category_id": 20}])
            conn.execute(sa.insert(t("product_description")), [complete_row(t("product_description"), {
                "product_id": pid, "language_id": lid, "name": f"Mug {pid} {code[:2]}", "description": "<p>d</p>"})
                for lid, code in LANGS.items()])


@pytest.fixture(params=["3.0", "4.0"])
def shop(request, opencart_db):
    h = opencart_db(request.param)
    add_catalogue(h)
    h.store = Store.objects.create(name=f"Box {request.param}", db_url=h.url, table_prefix=h.prefix,
                                   version=request.param, timezone="UTC", language="en", country="GB", currency="GBP",
                                   order_prefix="UK")
    return h


@pytest.fixture
def sim():
    with OneBoxSimulator(login=LOGIN, password=PASSWORD, timeout_fault_seconds=1.5) as s:
        yield s


def status_map(sim) -> dict:
    """OpenCart 1 Pending, 2 Processing, 3 Shipped, 5 Complete, 7 Canceled ↔ the box's 'Orders' process."""
    return {"1": {"1": sim.status_id("New"), "2": sim.status_id("Confirmed"), "3": sim.status_id("Shipped"),
                  "5": sim.status_id("Done"), "7": sim.status_id("Cancelled")}}


@pytest.fixture
def integration(shop, sim):
    conn = Connection.objects.create(store=shop.store, service="onebox", base_url=sim.base_url,
                                     secret={"login": LOGIN, "password": PASSWORD})
    integration = Integration.objects.create(store=shop.store, kind="onebox", connection=conn, settings={
        "workflow_id": 1, "status_map": status_map(sim), "language_map": {"1": "en", "2": "tr", "3": "ru"}})
    poll_shop(integration)  # first poll: its feed cursor starts at the shop's newest order and history row
    return integration


def run(kind, integration, **payload) -> Job:
    job = Job.objects.enqueue(kind, key=f"test:{next(_keys)}", integration=integration, payload=payload)
    return run_job(job.pk)


def poll_shop(integration) -> None:
    """The shared shop poll (opencart.polling, a routine poll) now: it hands new orders and history rows over."""
    from ocbridge.opencart import feed

    feed.poll_shop(feed.shop_key(integration.store))


def poll_onebox(integration) -> bool:
    """The routine poll of OneBox's changes (core.polls: no Job row) for this integration."""
    from ocbridge.core import polls
    from ocbridge.integrations.onebox import jobs

    return polls.run_one(jobs.POLL, polls.integration_key(integration))


def poll(integration) -> None:
    """One round: the shop's feed, OneBox's changes, and every job they made."""
    poll_shop(integration)
    run_until_idle()
    poll_onebox(integration)
    run_until_idle()


@pytest.fixture
def kit():
    return types.SimpleNamespace(run=run, poll_shop=poll_shop, poll=poll, poll_onebox=poll_onebox, add_order=add_order, owner_sets=owner_sets,
                                 history=history, order_status=order_status)
