"""OzonClient against the Ozon simulator over real HTTP: headers, masking, classification, per-item results."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

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
    req = sim.requests("/v2/warehouse/list")[0]
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


def test_the_client_waits_30_s_for_an_answer_unless_the_setting_says_otherwise(settings, conn):
    """OCBRIDGE_OZON_TIMEOUT unset: 30 s. The timeout test (tests/integrations/ozon/test_poll_error_language.py)
    sets it short instead of holding the simulator past 30 s."""
    assert settings.OZON_TIMEOUT == 30.0
    assert OzonClient(conn)._http._client.timeout.read == 30.0
    settings.OZON_TIMEOUT = 2.0
    assert OzonClient(conn)._http._client.timeout.read == 2.0


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


# Current methods only (ozon.md §0, checked 2026-12-06 against Ozon's reference and News): the client never
# calls a switched-off method, pages with Ozon's cursor and reads the answers' top-level fields.
def test_postings_v4_with_cursor_filters_and_no_switched_off_method(sim, conn):
    for i in range(3):
        sim.add_posting([{"offer_id": "A", "quantity": 1, "price": 10}], posting_number=f"4000{i}-0001-1")
    client = OzonClient(conn)
    now = datetime.now(timezone.utc)
    first = client.list_fbs_postings(since=now - timedelta(hours=1), to=now + timedelta(minutes=1), limit=2,
                                     statuses=["awaiting_packaging"], warehouse_ids=[1020000000001])
    rest = client.list_fbs_postings(since=now - timedelta(hours=1), to=now + timedelta(minutes=1), limit=2,
                                    cursor=first.cursor, statuses=["awaiting_packaging"], warehouse_ids=[1020000000001])
    assert [len(first.postings), first.has_next, len(rest.postings), rest.has_next] == [2, True, 1, False]
    body = sim.requests("/v4/posting/fbs/list")[0].json()
    assert body["limit"] == 2 and body["sort_dir"] == "ASC" and "offset" not in body
    assert body["filter"]["statuses"] == ["awaiting_packaging"] and body["filter"]["warehouse_ids"] == [1020000000001]
    assert client.list_fbs_postings(since=now, to=now, limit=1000).postings is not None
    assert sim.requests("/v4/posting/fbs/list")[-1].json()["limit"] == 100  # Ozon's maximum, never more
    open_ = client.list_unfulfilled_postings(cutoff_from=now - timedelta(days=1), cutoff_to=now + timedelta(days=2))
    assert len(open_.postings) == 3
    assert [w["warehouse_id"] for w in client.list_warehouses()] == [1020000000001]
    assert sim.limit_hits().get("switched_off", 0) == 0


def test_rfbs_steps_come_back_per_posting_and_a_refusal_warns(sim, conn):
    client = OzonClient(conn)
    sim.add_posting([{"offer_id": "A"}], posting_number="50001-0001-1", status="awaiting_deliver", rfbs=True)
    assert client.set_tracking_numbers(tracking={"50001-0001-1": "TRK-1"}, key="t1")[0].ok
    refused = client.mark_delivered(posting_numbers=["50001-0001-1"], key="d0")[0]
    assert not refused.ok and "non_int_delivered" in refused.error
    assert Exchange.objects.get(key="d0").level == Level.WARNING
    assert client.mark_delivering(posting_numbers=["50001-0001-1"], key="d1")[0].ok
    assert client.mark_last_mile(posting_numbers=["50001-0001-1"], key="d2")[0].ok
    assert client.mark_delivered(posting_numbers=["50001-0001-1"], key="d3")[0].ok
    assert client.get_fbs_posting(posting_number="50001-0001-1")["status"] == "delivered"


def test_returns_page_by_last_id(sim, conn):
    sim.add_posting([{"offer_id": "A"}], posting_number="60001-0001-1")
    sim.add_return("60001-0001-1")
    now = datetime.now(timezone.utc)
    page = OzonClient(conn).list_returns(changed_since=now - timedelta(hours=1), changed_to=now + timedelta(minutes=1))
    assert [r["posting_number"] for r in page.returns] == ["60001-0001-1"] and page.last_id > 0
    body = sim.requests("/v1/returns/list")[0].json()
    assert body["filter"]["return_schema"] == "FBS" and body["limit"] == 500


def test_product_list_reads_total_items(sim, conn):
    assert OzonClient(conn).list_products().total == 0
