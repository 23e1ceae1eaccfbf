"""DespatchClient against the Despatch Cloud simulator over real HTTP: login and token renewal, orders, lines,
paging, inventory, error classification, masking, host validation.

Sources of each shape (no official SDK on PyPI; the public .NET client is the reference, see
docs/providers/despatch-cloud.md):
- [GE] GardeningExpress/despatchcloud-client @256f045: src/Auth/GetDespatchCloudAuthenticationTokenByLoggingIn.cs
  (login body/answer), src/DespatchCloudHttpClient.cs (paths, methods), src/DTO/** (fields, paging envelope),
  tests/…Integration/*.cs (messages DC's sandbox returned).
- [SIM] simulator only: no public source shows it.
"""

from __future__ import annotations

import pytest

from ocbridge.core.errors import ConfigurationError, RetryableError, TerminalError
from ocbridge.core.models import Connection, Exchange, Store
from ocbridge.services import despatch as dc
from ocbridge.services.despatch import DespatchClient, check_base_url
from ocbridge.simulators.despatch import DespatchSimulator

pytestmark = pytest.mark.django_db
EMAIL, PASSWORD = "api@shop.example", "s3cret-Pa55"


@pytest.fixture(autouse=True)
def _sim_hosts(settings):
    settings.SIMULATOR_HOSTS = ["127.0.0.1"]
    dc.forget_tokens()
    yield
    dc.forget_tokens()


@pytest.fixture
def sim():
    with DespatchSimulator(email=EMAIL, password=PASSWORD, per_page=3) as s:
        yield s


@pytest.fixture
def conn(sim):
    store = Store.objects.create(name="UK shop")
    return Connection.objects.create(store=store, service="despatch", base_url=sim.base_url,
                                     secret={"email": EMAIL, "password": PASSWORD})


def order(channel_order_id: str, **over) -> dict:
    """A create body with the fields [GE] OrderCreateRequest.cs names."""
    body = {"channel_order_id": channel_order_id, "status_id": 3, "payment_method": "cod", "payment_currency": "GBP",
            "total_paid": "12.50", "shipping_name": "Ann Lee", "shipping_address_line_one": "1 High St",
            "shipping_address_city": "Leeds", "shipping_address_postcode": "LS1 1AA", "shipping_address_iso": "GB",
            "email": "ann@example.com"}
    body.update(over)
    return body


def test_login_posts_email_and_password_then_bearer_token_on_calls(sim, conn):
    client = DespatchClient(conn)
    created = client.create_order(order=order("S1-1"), key="k1")  # [GE] POST auth/login, then Bearer
    login = sim.requests("/public-api/auth/login")[0].json()
    assert login == {"email": EMAIL, "password": PASSWORD}
    create = sim.requests("/public-api/orders/create")[0]
    assert create.bearer() and created["channel_order_id"] == "S1-1" and created["id"]


def test_token_is_reused_then_renewed_once_after_expiry(sim, conn):
    client = DespatchClient(conn)
    client.search_orders(search="x")
    client.search_orders(search="y")
    assert len(sim.requests("/public-api/auth/login")) == 1
    sim.expire_tokens()  # [SIM] expiry answers 401; [GE] re-logs in when its cache expires
    client.search_orders(search="z")
    assert len(sim.requests("/public-api/auth/login")) == 2


def test_wrong_password_is_terminal_and_never_logged(sim, conn):
    conn.secret = {"email": EMAIL, "password": "wrong-one"}
    conn.save()
    with pytest.raises(TerminalError) as exc:
        DespatchClient(conn).search_orders(search="x")
    assert exc.value.code == 401  # [GE] Unauthorized → "Invalid Credentials"
    for ex in Exchange.objects.all():
        assert "wrong-one" not in ex.request_body and "wrong-one" not in str(ex.request_headers)


def test_token_and_password_masked_in_every_exchange(sim, conn):
    DespatchClient(conn).search_orders(search="x")
    token = sim.requests("/public-api/orders")[0].bearer()
    for ex in Exchange.objects.all():
        text = " ".join(str(getattr(ex, f.attname)) for f in Exchange._meta.concrete_fields)
        assert PASSWORD not in text and token not in text


def test_duplicate_channel_order_id_is_terminal_with_dcs_message(sim, conn):
    client = DespatchClient(conn)
    client.create_order(order=order("S1-2"), key="a")
    with pytest.raises(TerminalError) as exc:
        client.create_order(order=order("S1-2"), key="b")
    assert exc.value.message == "The Channel Order ID (S1-2) is already in use."  # [GE] CreateOrderAsync_DuplicateOrder


def test_missing_column_is_terminal_with_dcs_message(sim, conn):
    with pytest.raises(TerminalError) as exc:
        DespatchClient(conn).create_order(order=order("S1-3", payment_method=None), key="a")
    assert exc.value.message == "Error executing statement: Column 'payment_method' cannot be null"  # [GE]


def test_add_inventory_success_and_partial_success(sim, conn):
    client = DespatchClient(conn)
    dc_id = client.create_order(order=order("S1-4"), key="a")["id"]
    item = {"name": "Mug", "sku": "MUG-1", "quantity": 2, "unit_price": 4.5, "options": "Colour: Red"}  # [GE] OrderInventoryItem
    ok = client.add_inventory(dc_order_id=dc_id, items=[item], key="l1")
    assert ok.status == "success" and ok.items[0]["sku"] == "MUG-1"
    part = client.add_inventory(dc_order_id=dc_id, items=[{**item, "sku": None}], key="l2")
    assert part.status == "partial_success" and part.errors == ["sku field is required."]  # [GE]
    assert client.find_order("S1-4")["total_inventory_count"] == 1


def test_add_inventory_to_unknown_order_is_terminal(sim, conn):
    with pytest.raises(TerminalError) as exc:
        DespatchClient(conn).add_inventory(dc_order_id=-222, items=[{"sku": "A", "quantity": 1}], key="x")
    assert exc.value.message == "Order Not Found"  # [GE] …WhenOrderNumberInvalid


def test_find_order_matches_channel_order_id_exactly_across_pages(sim, conn):
    client = DespatchClient(conn)
    for n in ("S1-10", "S1-100", "S1-1000", "S1-10000", "S1-1"):
        client.create_order(order=order(n), key=n)
    assert client.find_order("S1-1")["channel_order_id"] == "S1-1"  # search is a substring match; page 2 holds it
    assert client.find_order("S9-1") is None
    q = sim.requests("/public-api/orders", "GET")[0]
    assert q.arg("filters[search]") == "S1-1" and q.arg("filters[search_field]") == "search_order_id"  # [GE] filters


def test_iter_orders_follows_laravel_pages_until_next_page_url_is_null(sim, conn):
    client = DespatchClient(conn)
    for n in range(7):
        client.create_order(order=order(f"P-{n}"), key=f"p{n}")
    now = sim.now()
    got = list(client.iter_orders(date_range=(int(now) - 60, int(now) + 60)))
    assert len(got) == 7 and len(sim.requests("/public-api/orders", "GET")) == 3  # per_page 3: [GE] PagedResult.cs
    assert sim.requests("/public-api/orders", "GET")[0].arg("filters[date_range]").count(",") == 1  # [GE] DateRangeFilter


def test_cancel_despatched_order_is_terminal_with_dcs_message(sim, conn):
    client = DespatchClient(conn)
    dc_id = client.create_order(order=order("S1-5"), key="a")["id"]
    sim.despatch("S1-5", tracking_code="RM123")
    with pytest.raises(TerminalError) as exc:
        client.cancel_order(dc_order_id=dc_id, key="c")
    assert exc.value.message == "Order in Despatched status."  # [GE] CancelOrderAsyncTests


def test_update_status_and_cancel(sim, conn):
    client = DespatchClient(conn)
    dc_id = client.create_order(order=order("S1-6"), key="a")["id"]
    client.update_order_status(dc_order_id=dc_id, status_id=dc.ON_HOLD, key="h")  # [GE] POST order/{id}/update
    assert client.find_order("S1-6")["status_id"] == dc.ON_HOLD
    client.cancel_order(dc_order_id=dc_id, key="c")  # [GE] POST order/{id}/cancel
    assert client.find_order("S1-6")["status_id"] == dc.CANCELLED


@pytest.mark.parametrize("fault", ["429", "500", "503"])
def test_429_and_5xx_are_retryable(sim, conn, fault):
    client = DespatchClient(conn)
    client.login()
    sim.fail_next(fault, path="/public-api/orders")
    with pytest.raises(RetryableError):
        client.search_orders(search="x")


def test_inventory_search_and_update(sim, conn):
    sim.add_item("MUG-1", stock=5)
    client = DespatchClient(conn)
    page = client.search_inventory(sku="MUG-1")  # [GE] GET inventory?filters[sku]=
    item = page.data[0]
    assert item["sku"] == "MUG-1" and item["stock_level_available"] == 5  # stock field: [SIM]
    client.update_inventory(inventory_id=item["id"], fields={"stock_level": 9}, key="s")  # [GE] path; field [SIM]
    assert client.search_inventory(sku="MUG-1").data[0]["stock_level_available"] == 9
    assert [i["sku"] for i in client.iter_inventory()] == ["MUG-1"]


@pytest.mark.parametrize("url", ["http://acme.despatchcloud.co.uk", "https://evil.example.com",
                                 "https://acme.despatchcloud.co.uk.evil.com", "https://u:p@acme.despatchcloud.co.uk"])
def test_account_host_outside_dcs_pattern_is_refused(url, settings):
    settings.SIMULATOR_HOSTS = []
    with pytest.raises(ConfigurationError):
        check_base_url(url)


def test_account_host_gets_the_public_api_path(settings):
    settings.SIMULATOR_HOSTS = []
    assert check_base_url("https://acme.despatchcloud.co.uk/") == "https://acme.despatchcloud.co.uk/public-api"
    assert check_base_url("https://acmesb.despatchcloud.co.uk/public-api") == "https://acmesb.despatchcloud.co.uk/public-api"


def test_every_call_the_client_makes_is_a_listed_provider_method(sim, conn):
    from ocbridge.core import provider_methods

    client = DespatchClient(conn)
    dc_id = client.create_order(order=order("S1-7"), key="a")["id"]
    client.add_inventory(dc_order_id=dc_id, items=[{"sku": "A", "name": "A", "quantity": 1}], key="l")
    client.find_order("S1-7")
    client.update_order_status(dc_order_id=dc_id, status_id=dc.ON_HOLD, key="h")
    client.cancel_order(dc_order_id=dc_id, key="c")
    item = client.search_inventory(sku="A").data[0]
    client.update_inventory(inventory_id=item["id"], fields={"stock_level": 1}, key="s")
    seen = {(r.method, r.path) for r in sim.requests()}
    assert len(seen) == 8
    assert all(provider_methods.find("despatch", verb, path) for verb, path in seen)
