"""Sandbox provider simulator: protocol, idempotency, simulated customers, webhooks."""

from __future__ import annotations

import json

import httpx
import pytest

from ocbridge.simulators.base import RemoteSimulator
from ocbridge.simulators.sandbox import SandboxSimulator, sign_body

AUTH = {"Authorization": "Bearer sandbox-token"}
DIGITS = {"1": "confirm", "2": "cancel", "0": "agent"}


@pytest.fixture
def sim():
    # speed 1000: a 5 s answer delay takes 5 ms
    with SandboxSimulator(speed=1000, seed=7) as s:
        s.set_customer_defaults(answer_delay=5, reply_delay=10)
        yield s


def call(sim, receiver, to="+905321234567", key="k1", **extra):
    body = {"to": to, "text": "Siparişiniz 1042: onay için 1", "digits": DIGITS,
            "callback_url": f"{receiver.url}/cb", "idempotency_key": key, **extra}
    return httpx.post(f"{sim.base_url}/v1/calls", json=body, headers=AUTH)


def sms(sim, receiver, to="+905321234567", key="s1", text="Sipariş #1042 için EVET veya IPTAL yazın"):
    body = {"to": to, "text": text, "callback_url": f"{receiver.url}/cb", "idempotency_key": key}
    return httpx.post(f"{sim.base_url}/v1/sms", json=body, headers=AUTH)


def events(receiver, type_=None):
    return [e for e in receiver.json_bodies("/cb") if type_ is None or e["type"] == type_]


def completed(sim, receiver):
    sim.wait_for(lambda: events(receiver, "call.completed"))
    return events(receiver, "call.completed")[0]["data"]


def test_call_confirm_happy_path(sim, receiver):
    sim.set_customer("+905321234567", call="confirm")
    resp = call(sim, receiver)
    assert resp.status_code == 201 and resp.json()["status"] == "queued"
    data = completed(sim, receiver)
    assert data["id"] == resp.json()["id"]
    assert (data["status"], data["answered"], data["digits_pressed"], data["action"], data["result"]) == (
        "completed", True, ["1"], "confirm", "ok")
    assert [e["type"] for e in events(receiver)] == ["call.ringing", "call.answered", "call.completed"]
    assert [e["sequence"] for e in events(receiver)] == [1, 2, 3]


@pytest.mark.parametrize("outcome,status,answered", [("no_answer", "no_answer", False), ("busy", "busy", False),
                                                      ("failed", "failed", False)])
def test_call_not_answered(sim, receiver, outcome, status, answered):
    sim.set_customer("05321234567", call=outcome)  # same customer, other spelling
    call(sim, receiver)
    data = completed(sim, receiver)
    assert (data["status"], data["answered"], data["digits_pressed"], data["action"]) == (status, answered, [], None)


@pytest.mark.parametrize("outcome,pressed,action,result", [
    ("cancel", ["2"], None, "not_repeated"),
    ("cancel_twice", ["2", "2"], "cancel", "ok"),
    ("confirm", ["1"], "confirm", "ok"),
    ("timeout", [], None, "no_input"),
    ("invalid", ["7"], None, "invalid_key"),
])
def test_two_step_cancel_reports_digit_sequence(sim, receiver, outcome, pressed, action, result):
    sim.set_customer("+905321234567", call=outcome)
    call(sim, receiver, confirm_twice=["2"], confirm_twice_text="İptal için tekrar 2")
    data = completed(sim, receiver)
    assert (data["digits_pressed"], data["action"], data["result"]) == (pressed, action, result)


def test_single_step_cancel(sim, receiver):
    sim.set_customer("+905321234567", call="cancel")
    call(sim, receiver)
    assert completed(sim, receiver)["action"] == "cancel"


def test_scripted_outcomes_follow_in_order(sim, receiver):
    sim.set_customer("+905321234567", call=["no_answer", "confirm"])
    call(sim, receiver, key="a1")
    sim.wait_for(lambda: len(events(receiver, "call.completed")) == 1)
    call(sim, receiver, key="a2")
    sim.wait_for(lambda: len(events(receiver, "call.completed")) == 2)
    assert [e["data"]["status"] for e in events(receiver, "call.completed")] == ["no_answer", "completed"]


def test_same_idempotency_key_returns_existing_call(sim, receiver):
    first = call(sim, receiver)
    again = call(sim, receiver)
    assert again.status_code == 200 and again.json()["id"] == first.json()["id"]
    assert len(sim.calls()) == 1
    conflict = call(sim, receiver, lang="en-US")
    assert conflict.status_code == 409 and conflict.json()["error"]["code"] == "idempotency_conflict"


def test_lookup_by_idempotency_key(sim, receiver):
    created = call(sim, receiver, key="order-1042-call-1").json()
    found = httpx.get(f"{sim.base_url}/v1/calls", params={"idempotency_key": "order-1042-call-1"}, headers=AUTH)
    assert [c["id"] for c in found.json()["items"]] == [created["id"]]
    none = httpx.get(f"{sim.base_url}/v1/sms", params={"idempotency_key": "order-1042-call-1"}, headers=AUTH)
    assert none.json() == {"items": []}


def test_reset_fault_after_processing_then_lookup_finds_the_call(sim, receiver):
    sim.fail_next("reset", after=True, path="/v1/calls")
    with pytest.raises(httpx.TransportError):
        call(sim, receiver, key="lost-answer")
    found = httpx.get(f"{sim.base_url}/v1/calls", params={"idempotency_key": "lost-answer"}, headers=AUTH).json()
    assert len(found["items"]) == 1


def test_cancel_call_before_answer(sim, receiver):
    sim.set_customer("+905321234567", call="confirm", answer_delay=10_000)
    created = call(sim, receiver).json()
    resp = httpx.delete(f"{sim.base_url}/v1/calls/{created['id']}", headers=AUTH)
    assert resp.json()["status"] == "canceled"
    assert completed(sim, receiver)["status"] == "canceled"
    assert httpx.delete(f"{sim.base_url}/v1/calls/{created['id']}", headers=AUTH).status_code == 409


@pytest.mark.parametrize("change,field", [
    ({"to": "05321234567"}, "to"), ({"text": ""}, "text"), ({"digits": {}}, "digits"),
    ({"digits": {"x": "confirm"}}, "digits"), ({"callback_url": "ftp://x"}, "callback_url"),
    ({"idempotency_key": None}, "idempotency_key"), ({"confirm_twice": ["5"]}, "confirm_twice"),
    ({"lang": "xx"}, "lang"),
])
def test_call_validation_errors(sim, receiver, change, field):
    resp = call(sim, receiver, **change)
    assert resp.status_code == 422
    assert resp.json()["error"]["code"] == "validation_error" and resp.json()["error"]["field"] == field
    assert sim.calls() == []


def test_auth_and_bad_json(sim):
    no_auth = httpx.post(f"{sim.base_url}/v1/calls", json={})
    assert no_auth.status_code == 401 and no_auth.json()["error"]["code"] == "unauthorized"
    bad = httpx.post(f"{sim.base_url}/v1/sms", content=b"{nope", headers=AUTH)
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "invalid_json"


def test_rate_limit_answers_sandbox_429(sim, receiver):
    sim.set_rate_limit(rate=0.01, burst=1)
    assert call(sim, receiver, key="r1").status_code == 201
    resp = call(sim, receiver, key="r2")
    assert resp.status_code == 429 and resp.json()["error"]["code"] == "rate_limited"
    assert int(resp.headers["Retry-After"]) >= 1


@pytest.mark.parametrize("kind", ["500", "503"])
def test_server_error_faults_in_sandbox_format(sim, receiver, kind):
    sim.fail_next(kind)
    resp = call(sim, receiver)
    assert resp.status_code == int(kind) and resp.json()["error"]["code"] == "server_error"


def test_sms_delivery_and_reply(sim, receiver):
    sim.set_customer("+905321234567", sms_reply="#{order} iptal")
    created = sms(sim, receiver).json()
    sim.wait_for(lambda: events(receiver, "sms.inbound"))
    statuses = [e["data"]["status"] for e in events(receiver, "sms.status")]
    assert statuses == ["sent", "delivered"]
    [inbound] = [e["data"] for e in events(receiver, "sms.inbound")]
    assert inbound["from"] == "+905321234567" and inbound["text"] == "#1042 iptal"
    assert inbound["in_reply_to"] == created["id"] and inbound["id"].startswith("in_")


def test_sms_undelivered_sends_no_reply(sim, receiver):
    sim.set_customer("+905321234567", sms_reply="EVET", sms_delivery="undelivered")
    sms(sim, receiver)
    sim.wait_for(lambda: len(events(receiver, "sms.status")) == 2)
    assert sim.wait_idle(1)
    last = events(receiver, "sms.status")[-1]["data"]
    assert (last["status"], last["error_code"]) == ("undelivered", "unreachable")
    assert events(receiver, "sms.inbound") == []


def test_reply_variants_are_deterministic_for_a_seed(receiver):
    def replies(seed):
        with SandboxSimulator(speed=1000, seed=seed) as s:
            s.set_customer_defaults(reply_delay=1)
            for n in range(12):
                s.customers.get(f"+9053200000{n:02d}")
            return [s.customers.next_sms_reply(f"+9053200000{n:02d}")[0] for n in range(12)]

    assert replies(3) == replies(3)
    assert replies(3) != replies(4)


def test_inbound_goes_to_configured_url_and_pull_list(sim, receiver):
    sim.set_inbound_url(f"{receiver.url}/inbound")
    first = sim.inject_sms(sender="+905551112233", text="да")
    sim.inject_sms(sender="+905551112233", text="нет")
    receiver.wait(2, "/inbound")
    assert [e["data"]["text"] for e in receiver.json_bodies("/inbound")] == ["да", "нет"]
    pulled = httpx.get(f"{sim.base_url}/v1/inbound", params={"after": first["id"]}, headers=AUTH).json()
    assert [m["text"] for m in pulled["items"]] == ["нет"]


def test_webhook_signature_is_hmac_of_body(sim, receiver):
    sim.set_customer("+905321234567", call="confirm")
    call(sim, receiver)
    completed(sim, receiver)
    hit = receiver.posts("/cb")[0]
    assert hit["headers"]["X-Sandbox-Signature"] == "sha256=" + sign_body("sandbox-webhook-secret", hit["body"].encode())
    assert hit["headers"]["X-Sandbox-Event-Id"] == json.loads(hit["body"])["event_id"]


def test_webhook_retried_until_our_side_answers(sim, receiver):
    receiver.reply("/cb", (500, "down"), (500, "down"))
    sim.inject_sms(sender="+905321234567", text="EVET", url=f"{receiver.url}/cb")
    receiver.wait(3, "/cb")
    bodies = receiver.json_bodies("/cb")
    assert len({b["event_id"] for b in bodies}) == 1  # same event, redelivered


def test_duplicate_and_out_of_order_call_events(sim, receiver):
    sim.set_customer("+905321234567", call="confirm")
    sim.set_webhook_behaviour(duplicate=2, shuffle=True, shuffle_window=100)  # 0.1 s real
    call(sim, receiver)
    receiver.wait(6, "/cb")
    seqs = [e["sequence"] for e in events(receiver)]
    assert sorted(seqs) == [1, 1, 2, 2, 3, 3] and seqs != sorted(seqs)


def test_control_api_sets_customer_and_odds_remotely(sim, receiver):
    remote = RemoteSimulator(sim.base_url)
    remote.set_customer(phone="+905321234567", call="busy")
    remote.set_odds(call={"confirm": 1.0}, sms_reply={"null": 1.0})
    call(sim, receiver)
    assert completed(sim, receiver)["status"] == "busy"
    assert remote.calls()[0]["status"] == "busy"
    assert sim.customers.sms_reply_odds == {None: 1.0}
