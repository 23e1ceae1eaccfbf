"""Bad-input corpus, part 2: malformed, mistyped, unsigned and oversized webhooks through the real HTTP entry.

Every case has a defined answer (never a 500), and the raw request is always kept as an inbound Exchange,
so nothing a provider sent is lost even when we refuse it.
"""

import base64
import hashlib
import hmac
import json
from pathlib import Path
from urllib.parse import parse_qsl

import pytest
from django.conf import settings

from ocbridge.core.models import Connection, Exchange, Integration, Store
from testkit import cod_integration

HERE = Path(__file__).parent
CREDS = {"sandbox": {"token": "t", "webhook_secret": "whsec-corpus"}, "verimor": {"key": "K1"},
         "netgsm": {"usercode": "u", "password": "p"}, "twilio": {"account_sid": "AC1", "auth_token": "tw-token"}}
CASES = [json.loads(line) for line in (HERE / "webhooks.jsonl").read_text(encoding="utf-8").splitlines() if line]


def _body(case) -> bytes:
    return base64.b64decode(case["body_b64"]) if "body_b64" in case else case["body"].encode("utf-8")


def _sign(case, connection, path: str, body: bytes) -> dict:
    if not case["signed"]:
        return {}
    if case["service"] == "sandbox":
        digest = hmac.new(CREDS["sandbox"]["webhook_secret"].encode(), body, hashlib.sha256).hexdigest()
        return {"HTTP_X_SANDBOX_SIGNATURE": f"sha256={digest}"}
    if case["service"] == "twilio":  # Twilio's published algorithm: URL + sorted form name/value pairs
        params = sorted(parse_qsl(body.decode(), keep_blank_values=True)) if case["content_type"].endswith("urlencoded") else []
        data = settings.PUBLIC_URL + path + "".join(k + v for k, v in params)
        sig = base64.b64encode(hmac.new(CREDS["twilio"]["auth_token"].encode(), data.encode(), hashlib.sha1).digest())
        return {"HTTP_X_TWILIO_SIGNATURE": sig.decode()}
    return {}


@pytest.fixture
def connections(db):
    store = Store.objects.create(name="corpus", secret={"db_url": "sqlite:////nonexistent/shop.db"})
    out = {}
    for service, creds in CREDS.items():
        out[service] = Connection.objects.create(store=store, service=service, secret=creds)
    cod_integration(store, out["sandbox"], settings={})
    return out


@pytest.mark.parametrize("case", [pytest.param(c, id=f"{i}-{c['service']}-{c['note']}") for i, c in enumerate(CASES)])
def test_webhook_case(client, connections, case):
    connection = connections[case["service"]]
    path = f"/hooks/{case['service']}/{connection.webhook_token}/{case['hook']}"
    body = _body(case)
    before = Exchange.objects.count()
    resp = client.post(path, data=body, content_type=case["content_type"], **_sign(case, connection, path, body))
    assert resp.status_code == case["expect"], resp.content[:300]
    if resp.status_code != 413:  # refused before reading: the size limit protects the log itself
        ex = Exchange.objects.order_by("-id").first()
        assert Exchange.objects.count() == before + 1 and ex.direction == "in" and ex.status == resp.status_code
        if resp.status_code >= 400:
            assert ex.outcome == "rejected" and ex.error  # a clear reason is kept with the raw request
