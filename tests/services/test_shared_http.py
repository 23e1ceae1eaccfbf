"""A provider's client is made per job, but its HTTP client (connection pool and TLS context) is made once per process
for each service and host (core.http.shared_client): building one loads the certificate store, ~54 ms of CPU here
— per call or SMS sent, more than the request itself (py-spy on bench/agency.py's worker: 18 % of its samples)."""

from __future__ import annotations

import pytest

from ocbridge.core.http import HttpClient
from ocbridge.core.models import Connection, Store
from ocbridge.services.netgsm import NetgsmClient
from ocbridge.services.sandbox import SandboxClient
from ocbridge.services.twilio import TwilioClient
from ocbridge.services.verimor import VerimorClient
from ocbridge.services.whatsapp import WhatsAppClient

CLIENTS = [(SandboxClient, "sandbox", ("_http",)), (TwilioClient, "twilio", ("_http",)),
           (NetgsmClient, "netgsm", ("_http", "_pbx")), (VerimorClient, "verimor", ("_pbx", "_sms")),
           (WhatsAppClient, "whatsapp", ("_http",))]


@pytest.mark.parametrize("cls, service, attrs", CLIENTS, ids=[c[1] for c in CLIENTS])
def test_clients_of_a_service_share_one_http_client_per_host(cls, service, attrs):
    def client(n: int):  # two accounts of the service on one host, as two jobs of a day make them
        return cls(Connection(store=Store(name=f"S{n}"), service=service, base_url="http://127.0.0.1:9",
                              secret={"token": f"t{n}"}))

    first, second = client(1), client(2)
    for attr in attrs:
        assert isinstance(getattr(first, attr), HttpClient)
        assert getattr(first, attr) is getattr(second, attr), attr


def test_callers_that_wait_differently_on_one_host_each_keep_their_timeout():
    """Netgsm's SMS (15 s) and call control (10 s) on one host — a connection with its own base URL, as the
    simulator's: one shared client would have given both the first one's timeout."""
    client = NetgsmClient(Connection(store=Store(name="S"), service="netgsm", base_url="http://127.0.0.1:9",
                                     secret={"usercode": "u", "password": "p"}))
    assert client._http._client.timeout.read == 15 and client._pbx._client.timeout.read == 10
