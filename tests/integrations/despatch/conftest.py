"""Fixtures for the despatch integration: a MariaDB shop per layout (3.0, 4.0), the Despatch Cloud simulator, an
Integration, and builders for a UK order written as checkout leaves it (order, lines, totals, history)."""

from __future__ import annotations

import datetime as dt
import itertools
import json
from decimal import Decimal

import pytest
import sqlalchemy as sa

from ocbridge.core import ratelimit
from ocbridge.core.jobs import run_job, run_until_idle
from ocbridge.core.models import Connection, Integration, Job, Store
from ocbridge.opencart.reference import complete_row
from ocbridge.services import despatch as dc
from ocbridge.simulators.despatch import DespatchSimulator

EMAIL, PASSWORD = "api@shop.example", "dc-Pa55word"
GB = 222
_keys = itertools.count(1)


@pytest.fixture(autouse=True)
def _sim_hosts(settings):
    from ocbridge.integrations.despatch import jobs

    settings.SIMULATOR_HOSTS = ["127.0.0.1"]
    dc.forget_tokens()
    ratelimit.reset()
    jobs._late_looks.clear()  # this process's lookup schedule: of an earlier test's integrations
    yield
    dc.forget_tokens()
    jobs._late_looks.clear()


@pytest.fixture(params=["3.0", "4.0"])
def shop(request, opencart_db):
    h = opencart_db(request.param)
    with h.engine.begin() as conn:
        conn.execute(sa.insert(h.t("country")), [complete_row(h.t("country"), {
            "country_id": GB, "name": "United Kingdom", "iso_code_2": "GB", "iso_code_3": "GBR", "status": 1,
            "address_format": "", "postcode_required": 1})])
        for pid in (1, 2):
            conn.execute(sa.insert(h.t("product")), [complete_row(h.t("product"), {
                "product_id": pid, "model": f"M{pid}", "sku": f"SKU-{pid}", "quantity": 10, "subtract": 1,
                "price": Decimal("10"), "status": 1, "date_available": dt.date(2024, 1, 1),
                "date_added": dt.datetime(2024, 1, 1), "date_modified": dt.datetime(2024, 1, 1), "variant": "",
                "override": ""})])
            conn.execute(sa.insert(h.t("product_to_store")), [{"product_id": pid, "store_id": 0}])
    h.store = Store.objects.create(name=f"UK {request.param}", db_url=h.url, table_prefix=h.prefix,
                                   version=request.param, timezone="UTC", language="en", country="GB", currency="GBP")
    return h


@pytest.fixture
def sim():
    with DespatchSimulator(email=EMAIL, password=PASSWORD, per_page=5) as s:
        yield s


@pytest.fixture
def integration(shop, sim):
    conn = Connection.objects.create(store=shop.store, service="despatch", base_url=sim.base_url,
                                     secret={"email": EMAIL, "password": PASSWORD})
    integration = Integration.objects.create(store=shop.store, kind="despatch", connection=conn, settings={
        "ready_status_ids": [2], "order_prefix": "UK-", "despatched_status_id": 3, "cancelled_status_id": 7,
        "tracking_url": "https://track.example/{code}", "shipping_map": {"flat": "Royal Mail 48"}})
    poll_shop(integration)  # first poll: its feed cursor starts at the shop's newest history row
    return integration


def run(kind, integration, **payload) -> Job:
    job = Job.objects.enqueue(kind, key=f"test:{next(_keys)}", integration=integration, payload=payload)
    return run_job(job.pk)


def add_order(h, order_id: int, *, status: int = 1, postcode: str = "LS1 1AA", lines=((1, 2),), comment="Leave at door"):
    """An order as checkout leaves it: order, lines, totals and its first history row."""
    t = h.t
    row = {"order_id": order_id, "store_id": 0, "firstname": "Ann", "lastname": "Lee", "email": "ann@example.com",
           "telephone": "07700 900123", "order_status_id": status, "total": Decimal("25.00"), "currency_code": "GBP",
           "currency_value": Decimal(1), "language_id": 1, "date_added": dt.datetime(2026, 12, 6, 9),
           "date_modified": dt.datetime(2026, 12, 6, 9), "store_name": "UK", "custom_field": "[]", "comment": comment,
           "customer_id": 0}
    for side in ("shipping", "payment"):
        row.update({f"{side}_firstname": "Ann", f"{side}_lastname": "Lee", f"{side}_address_1": "1 High St",
                    f"{side}_city": "Leeds", f"{side}_postcode": postcode, f"{side}_country": "United Kingdom",
                    f"{side}_country_id": GB, f"{side}_zone": "West Yorkshire"})
    if h.shop.layout == "4.0":
        row["payment_method"] = json.dumps({"name": "Card", "code": "stripe.stripe"})
        row["shipping_method"] = json.dumps({"name": "Flat rate", "code": "flat.flat"})
    else:
        row.update(payment_method="Card", payment_code="stripe", shipping_method="Flat rate", shipping_code="flat.flat")
    with h.engine.begin() as conn:
        conn.execute(sa.insert(t("order")), [complete_row(t("order"), row)])
        for pid, qty in lines:
            conn.execute(sa.insert(t("order_product")), [complete_row(t("order_product"), {
                "order_id": order_id, "product_id": pid, "name": f"Mug {pid}", "model": f"M{pid}", "quantity": qty,
                "price": Decimal("10"), "total": Decimal(10 * qty), "tax": Decimal("0")})])
        for code, value in (("sub_total", "20.00"), ("shipping", "5.00"), ("total", "25.00")):
            conn.execute(sa.insert(t("order_total")), [complete_row(t("order_total"), {
                "order_id": order_id, "code": code, "title": code, "value": Decimal(value), "sort_order": 1})])
        conn.execute(sa.insert(t("order_history")), [complete_row(t("order_history"), {
            "order_id": order_id, "order_status_id": status, "notify": 0, "comment": "",
            "date_added": dt.datetime(2026, 12, 6, 9)})])


def owner_sets(h, order_id: int, status: int) -> None:
    """The owner changes the order's status in the admin (the shared history write)."""
    from ocbridge import opencart

    current = opencart.order_status(h.store, order_id)
    assert opencart.write_history(h.store, order_id, expected=current, new=status, comment="by the owner").written


def poll_shop(integration) -> None:
    """The shared shop poll (opencart.polling, a routine poll) now: it hands new history rows to on_history."""
    from ocbridge.opencart import feed

    feed.poll_shop(feed.shop_key(integration.store))


def poll_dc() -> None:
    """The routine DC poll (core.polls: no Job row) of every despatch integration."""
    from ocbridge.core import polls
    from ocbridge.integrations.despatch import jobs

    polls.run_all(jobs.POLL)


def poll(integration) -> None:
    poll_shop(integration)
    poll_dc()
    run_until_idle()


def history(h, order_id: int) -> list[tuple[int, str]]:
    t = h.t("order_history")
    with h.engine.connect() as conn:
        return [(r.order_status_id, r.comment) for r in conn.execute(
            sa.select(t).where(t.c.order_id == order_id).order_by(t.c.order_history_id))]


def order_status(h, order_id: int) -> int:
    t = h.t("order")
    with h.engine.connect() as conn:
        return conn.execute(sa.select(t.c.order_status_id).where(t.c.order_id == order_id)).scalar()


@pytest.fixture
def kit():
    """The builders above, for the test modules (conftest modules are not importable by name)."""
    import types

    return types.SimpleNamespace(run=run, poll_shop=poll_shop, poll_dc=poll_dc, add_order=add_order, owner_sets=owner_sets, poll=poll,
                                 history=history,
                                 order_status=order_status)
