"""The native API client against the OpenCart API simulator, per version, with each trap."""

import pytest

from ocbridge.core.errors import ConfigurationError, TerminalError
from ocbridge.opencart.api import OpenCartApiClient
from ocbridge.opencart.reference import DEFAULT_API_KEY

from opencart.opencart_helpers import add_order, add_product, scalar

LAYOUTS = ["2.3", "3.0", "4.0.0", "4.0"]


@pytest.fixture
def shop_api(opencart_db, api_simulator):
    def make(layout, **kw):
        h = opencart_db(layout)
        sim = api_simulator(h, layout)
        client = OpenCartApiClient(sim.base_url + "/", username="Default", key=kw.pop("key", DEFAULT_API_KEY),
                                   layout=layout, **kw)
        return h, sim, client

    return make


@pytest.mark.parametrize("layout", LAYOUTS)
def test_add_history_writes_through_the_api(shop_api, layout):
    h, sim, client = shop_api(layout)
    add_product(h, 7, quantity=10)
    add_order(h, 1, status=0, product_id=7, qty=2)
    result = client.add_history(1, order_status_id=1, comment="Onaylandı & tamam", notify=True)
    assert "Success" in result.message
    assert scalar(h, "SELECT order_status_id FROM oc_order WHERE order_id = 1") == 1
    assert scalar(h, "SELECT comment FROM oc_order_history WHERE order_id = 1") == "Onaylandı &amp; tamam"
    assert scalar(h, "SELECT quantity FROM oc_product WHERE product_id = 7") == 8  # OpenCart did the stock
    req = sim.requests(method="POST")[-1]
    assert req.form()["order_status_id"] == "1" and req.form()["notify"] == "1"
    if layout.startswith("4"):
        assert req.form()["order_id"] == "1" and "order_id" not in req.query
        assert req.arg("route") == ("api/sale/order|addHistory" if layout == "4.0.0" else "api/sale/order.addHistory")
    else:
        assert req.arg("order_id") == "1"
        assert req.arg("token" if layout == "2.3" else "api_token")


@pytest.mark.parametrize("layout", LAYOUTS)
def test_token_is_cached_and_an_expired_one_is_dropped(shop_api, layout):
    h, sim, client = shop_api(layout)
    add_order(h, 1, status=1)
    client.add_history(1, order_status_id=2)
    client.add_history(1, order_status_id=3)
    logins = [r for r in sim.requests() if "login" in (r.arg("route") or "")]
    assert len(logins) == 1
    sim.advance(3700)  # idle for more than an hour: 2.3/3.0 answer a permission error, 4.0 an HTML 404/500
    reply = client.add_history(1, order_status_id=5)
    assert not reply.success  # never retried here: opencart.writes re-reads the order first
    assert client.add_history(1, order_status_id=5).success  # the next call logs in again
    assert scalar(h, "SELECT order_status_id FROM oc_order WHERE order_id = 1") == 5


@pytest.mark.parametrize("layout", ["4.0.0", "4.0"])
def test_40_bad_token_html_500_is_not_a_success(shop_api, layout):
    h, sim, client = shop_api(layout)
    add_order(h, 1, status=1)
    client.add_history(1, order_status_id=2)
    sim.reset_state()  # the shop forgot our session: our cached token is now bad
    reply = client.add_history(1, order_status_id=3)
    assert (reply.success, reply.http_status) == (False, 500)


@pytest.mark.parametrize("layout", ["2.3", "3.0"])
def test_wrong_key_empty_list_is_a_clear_error(shop_api, layout):
    h, sim, client = shop_api(layout, key="wrong")
    add_order(h, 1, status=1)
    with pytest.raises(TerminalError, match=r"answered \[\]"):
        client.add_history(1, order_status_id=2)


def test_wrong_key_40_carries_opencarts_message(shop_api):
    h, sim, client = shop_api("4.0", key="wrong")
    with pytest.raises(TerminalError, match="Incorrect API Key"):
        client.add_history(1, order_status_id=2)


@pytest.mark.parametrize("layout", LAYOUTS)
def test_ip_not_allowed_shows_opencarts_message(shop_api, layout):
    h, sim, client = shop_api(layout)
    sim.set_client_ip("203.0.113.9")
    with pytest.raises(TerminalError, match="203.0.113.9 is not allowed"):
        client.add_history(1, order_status_id=2)


@pytest.mark.parametrize("layout", ["3.0", "4.0"])
def test_unknown_order_is_terminal(shop_api, layout):
    h, sim, client = shop_api(layout)
    with pytest.raises(TerminalError, match="could not be found"):
        client.add_history(42, order_status_id=2)


def test_status_zero_never_sent(shop_api):
    h, sim, client = shop_api("3.0")
    add_order(h, 1, status=1)
    with pytest.raises(TerminalError, match="status of 0"):
        client.add_history(1, order_status_id=0)
    assert sim.requests() == []


def test_simulator_reproduces_missing_status_trap(shop_api):
    """T1, as real shops do it: without order_status_id the order silently drops to status 0."""
    import httpx

    h, sim, client = shop_api("3.0")
    add_order(h, 1, status=1)
    token = client.login()
    r = httpx.post(sim.base_url + "/index.php", params={"route": "api/order/history", "api_token": token,
                                                         "order_id": 1}, data={"comment": "x"})
    assert "success" in r.json()
    assert scalar(h, "SELECT order_status_id FROM oc_order WHERE order_id = 1") == 0


def test_41_refused():
    with pytest.raises(ConfigurationError, match="4.1"):
        OpenCartApiClient("http://shop/", username="u", key="k", layout="4.0", api_supported=False)


def test_simulator_writes_sqlite_demo_shop(opencart_sqlite, api_simulator):
    h = opencart_sqlite("3.0")
    add_order(h, 1, status=1)
    sim = api_simulator(h, "3.0")
    client = OpenCartApiClient(sim.base_url, username="Default", key=DEFAULT_API_KEY, layout="3.0")
    client.add_history(1, order_status_id=2, comment="ok")
    assert scalar(h, "SELECT order_status_id FROM oc_order WHERE order_id = 1") == 2
