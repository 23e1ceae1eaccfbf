"""Sandbox: our own protocol; its spec is the docstring of src/ocbridge/simulators/sandbox.py ("Protocol (version 1)").

The spec is written out below field by field; our client's requests, the simulator's answers and webhooks,
and our parsers must all fit it.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re

import pytest

from contracts.conftest import assert_listed
from ocbridge.services import sandbox
from ocbridge.services.sandbox import SandboxClient
from ocbridge.simulators.sandbox import SandboxSimulator

pytestmark = pytest.mark.django_db
TOKEN, SECRET, PHONE = "contract-sandbox-token", "contract-whsec", "+905321234567"
# "POST /v1/calls {to, text, digits, callback_url, idempotency_key, lang?, confirm_twice?, confirm_twice_text?}"
CALL_REQUEST = {"to", "text", "digits", "callback_url", "idempotency_key", "lang", "confirm_twice", "confirm_twice_text"}
# "POST /v1/sms {to, text, callback_url, idempotency_key, sender?}"
SMS_REQUEST = {"to", "text", "callback_url", "idempotency_key", "sender"}
# "Call resource: {...}", "Message resource: {...}"
CALL = {"id", "status", "to", "text", "lang", "digits", "confirm_twice", "confirm_twice_text", "callback_url",
        "idempotency_key", "created_at", "answered_at", "ended_at", "answered", "digits_pressed", "action", "result",
        "duration"}
MESSAGE = {"id", "status", "to", "sender", "text", "callback_url", "idempotency_key", "created_at", "error_code"}
INBOUND = {"id", "from", "to", "text", "received_at", "in_reply_to"}
EVENT = {"event_id", "type", "created_at", "sequence", "data"}
CALL_STATUSES = {"queued", "ringing", "in_progress", "completed", "no_answer", "busy", "failed", "canceled"}


@pytest.fixture
def sim(receiver_factory):
    with SandboxSimulator(token=TOKEN, webhook_secret=SECRET, speed=500) as s:
        yield s


@pytest.fixture
def hook(receiver_factory):
    return receiver_factory(lambda hit: (200, "", "text/plain"))


@pytest.fixture
def ours(sim, make_conn):
    return SandboxClient(make_conn("sandbox", sim.base_url, {"token": TOKEN, "webhook_secret": SECRET}))


def _events(hook) -> list[dict]:
    return [json.loads(h["body"]) for h in hook.hits]


def test_call_request_response_and_webhooks_fit_the_spec(sim, ours, hook):
    sim.set_customer(PHONE, call="confirm", answer_delay=1)
    ours.start_confirmation_call(to=PHONE, text="Onay için 1", digits={"1": "confirm", "2": "cancel"},
                                 webhook_url=hook.url + "/call", key="sb-1", language="tr",
                                 second_prompt_text="İptal için tekrar 2")
    req = sim.requests(path="/v1/calls")[0]
    assert set(req.json()) <= CALL_REQUEST and req.header("authorization") == f"Bearer {TOKEN}"
    assert req.status == 201 and set(json.loads(req.response)) == CALL
    sim.wait_for(lambda: any(e["type"] == "call.completed" for e in _events(hook)), timeout=10)
    for h, event in zip(hook.hits, _events(hook)):
        assert set(event) == EVENT and set(event["data"]) == CALL - {"callback_url"}
        assert event["data"]["status"] in CALL_STATUSES
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|\+00:00)", event["created_at"])
        mac = hmac.new(SECRET.encode(), h["body"], hashlib.sha256).hexdigest()
        assert h["headers"]["x-sandbox-signature"] == f"sha256={mac}"
        assert h["headers"]["x-sandbox-event-id"] == event["event_id"]
        assert sandbox.verify_signature(SECRET, h["body"], h["headers"]["x-sandbox-signature"])
    final = [e for e in _events(hook) if e["type"] == "call.completed"][0]
    result = sandbox.parse_call_result(json.dumps(final).encode(), "application/json")
    assert (result.outcome, result.digits) == ("confirm", ["1"])
    assert_listed("sandbox", sim.requests())


def test_sms_request_answer_inbound_and_lookup_fit_the_spec(sim, ours, hook):
    sim.set_customer(PHONE, sms_reply="EVET", reply_delay=1)
    ours.send_sms(to=PHONE, text="Siparişiniz 1001: EVET / IPTAL", key="sb-2", webhook_url=hook.url + "/sms")
    req = sim.requests(path="/v1/sms")[0]
    assert set(req.json()) <= SMS_REQUEST and set(json.loads(req.response)) == MESSAGE
    sim.wait_for(lambda: any(e["type"] == "sms.inbound" for e in _events(hook)), timeout=10)
    inbound = next(e for e in _events(hook) if e["type"] == "sms.inbound")
    assert set(inbound["data"]) == INBOUND
    assert all(set(e["data"]) == MESSAGE - {"callback_url"} for e in _events(hook) if e["type"] == "sms.status")
    pulled = ours.fetch_inbound_sms()
    assert [m.text for m in pulled] == ["EVET"]
    found = ours._ask("/v1/sms", "sb-2", sandbox.SmsSent)
    assert found is not None and set(json.loads(found[1])) == MESSAGE
    assert_listed("sandbox", sim.requests())


def test_errors_have_the_specs_body(sim):
    import httpx

    bad = httpx.post(sim.base_url + "/v1/sms", json={"to": "x"}, headers={"Authorization": f"Bearer {TOKEN}"})
    assert bad.status_code == 422 and set(bad.json()["error"]) == {"code", "message", "field"}
    assert bad.json()["error"]["code"] == "validation_error"
    assert httpx.get(sim.base_url + "/v1/inbound").json()["error"]["code"] == "unauthorized"
