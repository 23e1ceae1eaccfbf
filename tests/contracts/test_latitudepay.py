"""LatitudeClient and the LatitudePay simulator against LatitudePay/Genoapay's v3 protocol. Both brands closed in
2023, so there is no live service and no SDK on PyPI: the sources are payments.md Part B and Latitude's official
plugins.

Sources:
- [B1] token (Basic api_key:api_secret → authToken), Bearer on every other call, /v3/configuration.
- [B2] sale/online body fields; [B3] request signature: the PrestaShop/WooCommerce plugins' `recursiveImplode($payload,
  '', true)` — keys of objects (not list indices) and each scalar as PHP's `json_encode` writes it, quotes trimmed,
  all whitespace removed — base64, then HMAC-SHA256 with the API secret. PHP's json_encode is run here itself
  (php-cli) on tricky values so our emulation of it cannot drift.
- [B4] redirect/callback: signature over {token, reference, message, result}.
- [B5] refund body {amount, reason, reference} → refundId.
- [SIM] simulator only: the status endpoint's shape, range and currency refusals' messages, refund de-duplication.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import shutil
import subprocess

import pytest

from ocbridge.core.errors import ConfigurationError, TerminalError
from ocbridge.core.models import Connection, Exchange, Store
from ocbridge.services import latitudepay as lp
from ocbridge.simulators.latitudepay import LatitudeSimulator, sign

from .conftest import assert_listed

pytestmark = pytest.mark.django_db

TRICKY = {"reference": "A/B 1", "customer": {"firstName": "Zoë", "surname": "O'Neil \"Jr\""},
          "totalAmount": {"amount": 120.5, "currency": "AUD"}, "products": [{"name": "Mug", "quantity": 2,
          "taxIncluded": True, "price": {"amount": 10.0, "currency": "AUD"}}], "shippingLines": [],
          "returnUrls": {"successUrl": "https://hub.example/pay/x/return", "callbackUrl": "https://hub.example/h?a=1&b=2"},
          "note": None}


@pytest.mark.skipif(shutil.which("php") is None, reason="php-cli")
def test_signature_string_matches_php_json_encode():
    """[B3] each scalar as PHP's json_encode writes it: run PHP on the same values and compare piece by piece."""
    values = ["A/B 1", "Zoë", "O'Neil \"Jr\"", 120.5, 10.0, 2, True, None, "https://hub.example/h?a=1&b=2"]
    code = ("ini_set('serialize_precision', -1); $v = json_decode(stream_get_contents(STDIN), true);"
            "foreach ($v as $x) { echo trim(json_encode($x), '\"'), \"\\n\"; }")
    out = subprocess.run(["php", "-r", code], input=json.dumps(values), capture_output=True, text=True, check=True)
    assert out.stdout.splitlines() == [lp._php_scalar(v) for v in values]


def test_signature_by_client_and_simulator_and_what_it_covers():
    """[B3] both sides agree; key order, any value and the secret change it; whitespace does not."""
    text = lp.signature_string(TRICKY)
    # PHP's trim($x, '"') also takes the escaped quote's '"' at the end: so do we
    assert text.startswith("referenceA\\/B1customerfirstNameZo\\u00ebsurnameO'Neil\\\"Jr\\totalAmountamount120.5")
    assert "products" + "name" + "Mug" in text and "0name" not in text  # list indices are not written
    want = hmac.new(b"s3cret", base64.b64encode(text.encode()), hashlib.sha256).hexdigest()
    assert lp.signature(TRICKY, "s3cret") == want == sign(TRICKY, "s3cret")
    reordered = dict(reversed(list(TRICKY.items())))
    assert lp.signature(reordered, "s3cret") != want
    assert lp.signature({**TRICKY, "reference": "A/B1"}, "s3cret") == want  # whitespace removed before hashing
    assert lp.signature(TRICKY, "other") != want
    redirect = {"token": "t1", "reference": "123", "message": "Payment approved", "result": "COMPLETED"}
    assert lp.verify_redirect({**redirect, "signature": sign(redirect, "s3cret")}, "s3cret")
    assert not lp.verify_redirect({**redirect, "result": "FAILED", "signature": sign(redirect, "s3cret")}, "s3cret")


@pytest.fixture
def sim():
    with LatitudeSimulator(api_key="k", api_secret="s") as s:
        yield s


@pytest.fixture
def connection(sim, settings):
    settings.SIMULATOR_HOSTS = ["127.0.0.1"]
    lp.forget_tokens()
    store = Store.objects.create(name="AU", db_url="sqlite:///unused.db")
    return Connection.objects.create(store=store, service="latitudepay", base_url=sim.base_url,
                                     secret={"api_key": "k", "api_secret": "s"})


def _sale(reference="R1", amount=120.0):
    return {"customer": {"mobileNumber": "+61400000000", "firstName": "Sam", "surname": "Lee", "email": "s@example.com"},
            "reference": reference, "totalAmount": {"amount": amount, "currency": "AUD"},
            "returnUrls": {"successUrl": "https://hub.example/r", "failUrl": "https://hub.example/r",
                           "callbackUrl": "https://hub.example/c"}}


def test_token_sale_refund_and_refusals(sim, connection):
    client = lp.LatitudeClient(connection)
    assert client.configuration()["maximumAmount"] == 1500
    sale = client.create_sale(_sale(), key="k1")
    assert sale["paymentUrl"].endswith(sale["token"])
    assert sim.requests("/v3/sale/online")[-1].query["signature"][0] == sign(_sale(), "s")
    with pytest.raises(TerminalError) as exc:
        client.create_sale(_sale("R2", 5000.0), key="k2")
    assert "range" in exc.value.message
    sim.decide(sale["token"], "pay")
    assert client.status(sale["token"])["status"] == "COMPLETED"
    sim.expire_tokens()  # [B1] a refused token is renewed once
    assert client.refund(sale["token"], 2000, "AUD", reason="r", reference="900", key="k3")["refundId"]
    assert len(sim.requests("/v3/token")) == 2
    body = sim.requests(f"/v3/sale/{sale['token']}/refund")[-1].json()
    assert body == {"amount": {"amount": 20.0, "currency": "AUD"}, "reason": "r", "reference": "900"}
    with pytest.raises(TerminalError):
        client.refund(sale["token"], 10001, "AUD", reason="r", reference="901", key="k4")
    basic = base64.b64encode(b"k:s").decode()
    logged = Exchange.objects.filter(service="latitudepay", purpose="latitudepay.token")
    assert logged.exists()
    for ex in Exchange.objects.filter(service="latitudepay"):  # the Basic credentials are never logged
        assert basic not in json.dumps(ex.request_headers) + ex.url + ex.request_body
    assert_listed("latitudepay", [r for r in sim.requests() if not r.path.startswith("/_sim")])


def test_wrong_secret_and_hosts(sim, connection, settings):
    connection.secret = {"api_key": "k", "api_secret": "nope"}
    connection.save()
    with pytest.raises(TerminalError) as exc:
        lp.LatitudeClient(connection).configuration()
    assert exc.value.code == 401
    settings.SIMULATOR_HOSTS = []
    conn = Connection(store=connection.store, service="latitudepay", options={"sandbox": True})
    assert lp.base_url(conn, "NZD") == "https://api.uat.genoapay.com"
    assert lp.base_url(Connection(store=connection.store, service="latitudepay"), "AUD") == "https://api.latitudepay.com"
    with pytest.raises(ConfigurationError):
        lp.base_url(conn, "USD")
