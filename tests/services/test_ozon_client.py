"""OzonClient against the Ozon simulator over real HTTP: headers, masking, classification, per-item results."""

from __future__ import annotations

import pytest

from ocbridge.core import ratelimit
from ocbridge.core.choices import Level
from ocbridge.core.errors import RetryableError, TerminalError
from ocbridge.core.models import Connection, Exchange, Store
from ocbridge.services.ozon import OzonClient
from ocbridge.simulators.ozon import OzonSimulator

pytestmark = pytest.mark.django_db
CID, KEY = "123456", "00000000-0000-4000-8000-00000000a11e"


@pytest.fixture
def sim():
    ratelimit.reset()
    with OzonSimulator(client_id=CID, api_key=KEY) as s:
        yield s


@pytest.fixture
def conn(sim):
    store = Store.objects.create(name="S")
    return Connection.objects.create(store=store, service="ozon", base_url=sim.base_url,
                                     secret={"client_id": CID, "api_key": KEY})


def card(offer):
    return {"offer_id": offer, "name": "Phone", "description_category_id": 17028650, "type_id": 93080, "price": "10.00",
            "currency_code": "RUB", "vat": "0", "primary_image": "https://x/a.jpg", "images": [], "depth": 1, "width": 1,
            "height": 1, "dimension_unit": "mm", "weight": 1, "weight_unit": "g",
            "attributes": [{"id": 85, "values": [{"dictionary_value_id": 5000004}]}, {"id": 9048, "values": [{"value": "m"}]}]}


def test_headers_sent_and_api_key_masked_in_exchange(sim, conn):
    OzonClient(conn).list_warehouses()
    req = sim.requests("/v1/warehouse/list")[0]
    assert (req.header("client-id"), req.header("api-key")) == (CID, KEY)
    ex = Exchange.objects.get()
    assert KEY not in str(ex.request_headers) and KEY not in ex.request_body and ex.status == 200


def test_import_then_task_info_per_item(sim, conn):
    client = OzonClient(conn)
    started = client.import_products(items=[card("A"), {**card("B"), "primary_image": ""}], key="k1")
    assert [i.status for i in client.get_import_info(task_id=started.task_id)] == ["pending", "pending"]
    items = client.get_import_info(task_id=started.task_id)
    assert [i.status for i in items] == ["imported", "failed"]
    assert items[1].errors[0].code == "images_required"


def test_429_is_retryable_with_retry_after(sim, conn):
    sim.fail_next("429")
    with pytest.raises(RetryableError) as exc:
        OzonClient(conn).list_warehouses()
    assert exc.value.retry_after >= 1
    assert Exchange.objects.get().level == Level.WARNING


def test_bad_key_is_terminal_with_ozons_message(sim, conn):
    conn.secret = {"client_id": CID, "api_key": "nope"}
    conn.save()
    with pytest.raises(TerminalError) as exc:
        OzonClient(conn).list_warehouses()
    assert "Invalid Api-Key" in str(exc.value)
    assert Exchange.objects.get().level == Level.ERROR


def test_500_and_garbage_are_retryable(sim, conn):
    sim.fail_next("500")
    with pytest.raises(RetryableError):
        OzonClient(conn).list_warehouses()
    sim.fail_next("garbage")
    with pytest.raises(RetryableError):
        OzonClient(conn).list_warehouses()


def test_item_errors_in_200_come_back_as_results_and_warn(sim, conn):
    client = OzonClient(conn)
    res = client.update_stocks(stocks=[{"offer_id": "nope", "stock": 1, "warehouse_id": 1020000000001}])
    assert (res[0].updated, res[0].errors[0].code) == (False, "NOT_FOUND")
    assert Exchange.objects.get().level == Level.WARNING


def test_batch_over_maximum_is_refused_before_sending(sim, conn):
    with pytest.raises(ValueError):
        OzonClient(conn).import_prices(prices=[{"offer_id": str(i), "price": "1"} for i in range(1001)])
    assert sim.requests() == []


def test_own_limiter_waits_instead_of_exceeding(sim, conn):
    slept = []
    client = OzonClient(conn, rps=2, sleep=slept.append)
    for _ in range(4):
        client.list_warehouses()
    assert client.rate_waits >= 1 and sum(slept) > 0


def test_product_limits_come_back_as_quotas(sim, conn):
    sim.set_product_limits(daily_create=10, create_usage=4)
    limits = OzonClient(conn).get_product_limits()
    assert (limits.daily_create.limit, limits.daily_create.remaining, limits.daily_update.limit) == (10, 6, 5000)
    assert limits.daily_create.reset_at.endswith("Z")


def test_ship_cancel_and_not_allowed_action_is_terminal(sim, conn):
    client = OzonClient(conn)
    p = sim.add_posting([{"offer_id": "A", "quantity": 1}], posting_number="30001-0001-1")
    packages = [[{"product_id": p["products"][0]["sku"], "quantity": 1}]]
    assert client.ship_posting(posting_number="30001-0001-1", packages=packages, key="k1") == ["30001-0001-1"]
    assert client.get_fbs_posting(posting_number="30001-0001-1")["status"] == "awaiting_deliver"
    with pytest.raises(TerminalError):
        client.ship_posting(posting_number="30001-0001-1", packages=packages, key="k2")
    assert client.cancel_posting(posting_number="30001-0001-1", cancel_reason_id=402, cancel_reason_message="x", key="k3")
    assert Exchange.objects.filter(purpose="ozon.ship_posting", key="k1").exists()
