"""Outbound requests are checked when they are sent (core.outbound.destination via core.http), not only when a
form saves the URL: a base URL stored before the form's check existed, a provider-pattern host whose DNS points
inside the hub's network, and a name that answers differently on a second lookup never receive credentials.

Names are resolved by the real system resolver (`localhost` from /etc/hosts) or through a hosts-file style override
of socket.getaddrinfo for names that cannot exist here (a Despatch Cloud account host)."""

from __future__ import annotations

import socket

import pytest
from testkit import LoopbackReceiver

from ocbridge.core.errors import never_reached
from ocbridge.core.http import DestinationRefused, HttpClient, NetworkError

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _english():
    from django.utils import translation

    with translation.override("en"):  # the reasons are read in English here
        yield


class Receiver(LoopbackReceiver):
    def answer(self, request, body):
        self.hits.append({"path": request.path, "auth": request.headers.get("Authorization")})
        return 200, '{"ok": true}', "application/json"


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.close()


@pytest.fixture
def hosts(monkeypatch):
    """hosts(name, *addresses): answer getaddrinfo for `name` with these addresses, in turn per lookup (the last
    repeats), like a hosts file whose entry is changed between lookups; `lookups[name]` counts them."""
    real = socket.getaddrinfo
    table: dict[str, list[str]] = {}
    lookups: dict[str, int] = {}

    def getaddrinfo(host, port, *args, **kwargs):
        if host in table:
            n = lookups[host] = lookups.get(host, 0) + 1
            address = table[host][min(n, len(table[host])) - 1]
            return real(address, port, *args, **kwargs)
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)

    def add(name: str, *addresses: str):
        table[name] = list(addresses)

    add.lookups = lookups
    return add


def test_a_base_url_stored_before_the_check_is_refused_when_sent(receiver, settings, make_conn):
    """A Twilio connection whose base URL was saved (before the form's check) pointing at a host of the user's
    choosing: its Test sends nothing there once the host is not allowed."""
    from ocbridge.services.twilio import TwilioClient

    conn = make_conn("twilio", receiver.url, {"account_sid": "AC" + "1" * 32, "auth_token": "t" * 32})
    settings.SIMULATOR_HOSTS = []
    with pytest.raises(DestinationRefused) as err:
        TwilioClient(conn).check_credentials()
    assert "not sent to 127.0.0.1: The base URL must be https" in str(err.value) and receiver.hits == []
    assert not never_reached(err.value)  # said as a refusal of ours, not as "the provider could not be reached"

    settings.SIMULATOR_HOSTS = ["127.0.0.1"]  # the administrator allows the simulator: the same call arrives
    TwilioClient(conn).check_credentials()
    assert len(receiver.hits) == 1 and receiver.hits[0]["auth"].startswith("Basic ")


def test_a_provider_pattern_host_resolving_to_an_internal_address_is_refused(receiver, settings, make_conn, hosts):
    """acme.despatchcloud.co.uk passes the name rule; its DNS answers 127.0.0.1: the request must not go."""
    from ocbridge.services.despatch import DespatchClient

    port = receiver.url.rsplit(":", 1)[1]
    hosts("acme.despatchcloud.co.uk", "127.0.0.1")
    settings.SIMULATOR_HOSTS = []
    conn = make_conn("despatch", "https://acme.despatchcloud.co.uk", {"email": "a@b.c", "password": "pw"})
    client = DespatchClient(conn)
    with pytest.raises(DestinationRefused) as err:
        client._http.request("GET", f"https://acme.despatchcloud.co.uk:{port}/public-api/auth/login")
    assert "https on the standard port" in str(err.value)  # another port: the name rule already says no
    with pytest.raises(DestinationRefused) as err:
        client._http.request("POST", "/auth/login", json={"email": "a@b.c", "password": "pw"})
    assert "resolves to 127.0.0.1, which is not a public address" in str(err.value)
    assert receiver.hits == []


def test_the_shop_api_url_on_an_internal_name_is_refused_by_the_real_resolver(receiver, settings):
    """A store's native API URL may be any http(s) host, but not one resolving inside the hub's network: `localhost`
    (the system's /etc/hosts) is refused, and reaches the shop once the administrator allows it."""
    from ocbridge.opencart.api import OpenCartApiClient

    url = receiver.url.replace("127.0.0.1", "localhost") + "/"
    settings.SIMULATOR_HOSTS = []
    api = OpenCartApiClient(url, username="Default", key="k" * 64, layout="3.0")
    with pytest.raises(DestinationRefused) as err:
        api.add_history(1, order_status_id=2)
    assert "localhost resolves to" in str(err.value) and receiver.hits == []

    settings.SIMULATOR_HOSTS = ["localhost"]
    try:
        api.add_history(1, order_status_id=2)
    except Exception:
        pass  # the receiver is no OpenCart; that the request arrived is what counts
    assert receiver.hits, "allowed by the administrator, the same URL is reached"


def test_the_checked_address_is_the_one_connected_to(receiver, settings, hosts):
    """DNS rebinding: the name answers a public address when checked and 127.0.0.1 afterwards. The request goes to
    the checked address (here refused by the network), never to the loopback receiver; the name is looked up once."""
    port = int(receiver.url.rsplit(":", 1)[1])
    hosts("shop.rebinding.example", "1.1.1.1", "127.0.0.1")
    settings.SIMULATOR_HOSTS = []
    http = HttpClient("opencart", base_url=f"http://shop.rebinding.example:{port}", timeout=2)
    with pytest.raises(NetworkError):
        http.request("GET", "/index.php")
    assert receiver.hits == [] and hosts.lookups["shop.rebinding.example"] == 1


def test_a_name_that_does_not_resolve_is_said_so(settings):
    settings.SIMULATOR_HOSTS = []
    http = HttpClient("opencart", base_url="http://no-such-host.invalid", timeout=2)
    with pytest.raises(NetworkError) as err:
        http.request("GET", "/")
    assert never_reached(err.value) and "does not resolve (DNS)" in str(err.value)
