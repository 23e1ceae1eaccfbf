"""SandboxClient against the Sandbox simulator over real HTTP: calls, SMS, faults, exactly-once, webhooks."""

from __future__ import annotations

import json
import socket

import pytest

from ocbridge.core.choices import Direction, ExchangeOutcome, Level
from ocbridge.core.errors import RetryableError, TerminalError, UnknownOutcomeError
from ocbridge.core.models import Exchange
from ocbridge.services import sandbox
from ocbridge.services.base import WebhookFormatError
from ocbridge.services.sandbox import SandboxClient
from ocbridge.simulators.sandbox import SandboxSimulator, sign_body

pytestmark = pytest.mark.django_db
TOKEN = "sbx-token-0123456789"
PHONE = "+905321234567"
DIGITS = {"1": "confirm", "2": "cancel", "0": "agent"}


@pytest.fixture
def sim():
    with SandboxSimulator(token=TOKEN, speed=200) as s:
        yield s


@pytest.fixture
def conn(sim, make_conn):
    return make_conn("sandbox", sim.base_url, {"token": TOKEN, "webhook_secret": "whsec-abcdef"})


def call(client, key="k1", **kw):
    args = dict(to=PHONE, text="Siparişiniz 1001: onay için 1", digits=DIGITS,
                webhook_url="http://127.0.0.1:9/hooks/sandbox/t/call-result", key=key, language="tr")
    return client.start_confirmation_call(**{**args, **kw})


def test_call_happy_path_sends_key_and_second_prompt(sim, conn, assert_masked):
    started = call(SandboxClient(conn), language="ru", second_prompt_text="Нажмите 2 ещё раз")
    sent = sim.calls()[0]
    assert started.provider_id == sent["id"]
    assert (sent["idempotency_key"], sent["lang"], sent["confirm_twice"]) == ("k1", "ru-RU", ["2"])
    assert sim.requests("/v1/calls")[0].header("authorization") == f"Bearer {TOKEN}"
    ex = Exchange.objects.get()
    assert (ex.key, ex.outcome, ex.level, ex.status) == ("k1", ExchangeOutcome.OK, Level.INFO, 201)
    assert_masked(TOKEN)


def test_same_key_twice_is_one_request(sim, conn):
    client = SandboxClient(conn)
    first, second = call(client), call(client)
    assert first == second
    assert len(sim.requests("/v1/calls", "POST")) == 1


def test_sms_happy_path_and_replay(sim, conn):
    client = SandboxClient(conn)
    sent = client.send_sms(to=PHONE, text="Onay için EVET yazın", key="s1", sender="SHOP")
    assert client.send_sms(to=PHONE, text="Onay için EVET yazın", key="s1", sender="SHOP") == sent
    assert [m["id"] for m in sim.messages()] == [sent.provider_id]
    assert sim.messages()[0]["callback_url"].endswith("/sms-report")  # the connection's hook by default


def test_default_hook_is_a_port_the_session_holds_not_the_demos(sim, conn, session_public_url):
    """A `make demo` beside the tests listens on the default PUBLIC_URL, http://127.0.0.1:8000: a webhook sent to
    the connection's own hook (no test server asked for it) is refused on the session's port, never delivered there."""
    demo = socket.socket()
    try:
        demo.bind(("127.0.0.1", 8000))
        demo.listen()
    except OSError:  # a demo (or anything) holds the port: the URL check below still holds
        demo.close()
        demo = None
    try:
        SandboxClient(conn).send_sms(to=PHONE, text="Onay için EVET yazın", key="s1", sender="SHOP")
        sim.wait_for(lambda: sim.webhooks.attempts("webhook"), timeout=10)
        first = sim.webhooks.attempts("webhook")[0]
        assert first.url.startswith(session_public_url + "/") and first.status is None  # refused: nobody listens there
        if demo is not None:
            demo.setblocking(False)
            with pytest.raises(BlockingIOError):  # no connection waiting to be accepted
                demo.accept()
    finally:
        if demo is not None:
            demo.close()


def test_timeout_is_retryable_and_leaves_pending_row(sim, conn, quick_http):
    sim.fail_next("timeout", seconds=2)
    client = SandboxClient(conn, http=quick_http("sandbox", sim.base_url))
    with pytest.raises(RetryableError):
        call(client)
    ex = Exchange.objects.get()
    assert (ex.outcome, ex.level) == (ExchangeOutcome.PENDING, Level.WARNING)


def test_answer_lost_after_sending_is_recovered_by_asking(sim, conn, quick_http):
    sim.fail_next("timeout", seconds=2, after=True)  # the call is created, the answer never arrives
    with pytest.raises(RetryableError):
        call(SandboxClient(conn, http=quick_http("sandbox", sim.base_url)))
    started = call(SandboxClient(conn))
    assert started.provider_id == sim.calls()[0]["id"]
    assert len(sim.requests("/v1/calls", "POST")) == 1
    assert sim.requests("/v1/calls", "GET")[0].arg("idempotency_key") == "k1"
    first = Exchange.objects.filter(key="k1").order_by("id").first()
    assert first.outcome == ExchangeOutcome.OK  # recovered: the next replay needs no question
    call(SandboxClient(conn))
    assert len(sim.requests("/v1/calls", "GET")) == 1


def test_crash_left_pending_row_and_provider_never_got_it_then_sends(sim, conn):
    Exchange.objects.create(service="sandbox", direction=Direction.OUT, key="k1", method="POST", url="/v1/calls",
                            outcome=ExchangeOutcome.PENDING, connection=conn, store=conn.store)
    started = call(SandboxClient(conn))
    assert [c["id"] for c in sim.calls()] == [started.provider_id]
    assert len(sim.requests("/v1/calls", "GET")) == 1


def test_lookup_refused_means_unknown_outcome(sim, conn):
    Exchange.objects.create(service="sandbox", direction=Direction.OUT, key="k1", outcome=ExchangeOutcome.PENDING)
    conn.secret = {"token": "wrong-token-xyz"}
    conn.save()
    with pytest.raises(UnknownOutcomeError):
        call(SandboxClient(conn))
    assert sim.requests("/v1/calls", "POST") == []


@pytest.mark.parametrize("fault,status", [("500", 500), ("503", 503)])
def test_5xx_is_retryable_and_warns(sim, conn, fault, status):
    sim.fail_next(fault)
    with pytest.raises(RetryableError):
        call(SandboxClient(conn))
    ex = Exchange.objects.get()
    assert (ex.status, ex.level, ex.outcome) == (status, Level.WARNING, ExchangeOutcome.FAILED)


def test_429_is_retryable_with_retry_after(sim, conn):
    sim.fail_next("429", retry_after=7)
    with pytest.raises(RetryableError) as exc:
        call(SandboxClient(conn))
    assert exc.value.retry_after == 7
    assert Exchange.objects.get().level == Level.WARNING


def test_garbage_is_retryable_and_pending_so_next_try_asks(sim, conn):
    sim.fail_next("garbage", after=True)
    with pytest.raises(RetryableError):
        call(SandboxClient(conn))
    assert Exchange.objects.get().outcome == ExchangeOutcome.PENDING
    assert call(SandboxClient(conn)).provider_id == sim.calls()[0]["id"]
    assert len(sim.requests("/v1/calls", "POST")) == 1


def test_validation_error_is_terminal_with_providers_message(sim, conn):
    with pytest.raises(TerminalError) as exc:
        call(SandboxClient(conn), text="x" * 1001)
    assert "text is longer than 1000 characters" in exc.value.message
    assert Exchange.objects.get().level == Level.ERROR


def test_bad_token_is_terminal_and_masked(sim, conn, assert_masked):
    conn.secret = {"token": "nope-nope-nope"}
    conn.save()
    with pytest.raises(TerminalError) as exc:
        SandboxClient(conn).check_credentials()
    assert "invalid bearer token" in exc.value.message
    assert_masked("nope-nope-nope")


def test_unsupported_language_and_bad_number_fail_before_sending(sim, conn):
    with pytest.raises(TerminalError):
        call(SandboxClient(conn), language="de")
    with pytest.raises(TerminalError):
        call(SandboxClient(conn), to="05321234567")
    assert sim.requests() == []


def test_check_credentials_and_inbound_pull(sim, conn):
    client = SandboxClient(conn)
    assert "accepted" in str(client.check_credentials())
    sim.inject_sms(PHONE, "EVET 1001")
    items = client.fetch_inbound_sms()
    assert [(m.from_number, m.text) for m in items] == [(PHONE, "EVET 1001")]
    assert client.fetch_inbound_sms(after=items[0].event_id) == []


# --- webhooks from a real simulated call / SMS ---------------------------------------------------------


def test_webhooks_of_a_real_call_and_sms_parse(sim, conn, receiver):
    sim.set_customer(PHONE, call="cancel_twice", answer_delay=1, sms_reply="EVET", reply_delay=1)
    client = SandboxClient(conn)
    started = call(client, webhook_url=receiver.url + "/call", second_prompt_text="2 again")
    sent = client.send_sms(to=PHONE, text="Sipariş 1001", key="s1", webhook_url=receiver.url + "/sms")
    sim.wait_for(lambda: any(b'"sms.inbound"' in b for b in receiver.bodies("/sms")), timeout=10)
    sim.wait_for(lambda: any(b'"call.completed"' in b for b in receiver.bodies("/call")), timeout=10)
    results = [r for r in (sandbox.parse_call_result(b, "application/json") for b in receiver.bodies("/call")) if r]
    assert [(r.provider_id, r.outcome, r.digits) for r in results] == [(started.provider_id, "cancel", ["2", "2"])]
    reports = [r for r in (sandbox.parse_delivery_report(b, "application/json") for b in receiver.bodies("/sms")) if r]
    assert reports[-1].provider_id == sent.provider_id and reports[-1].delivered is True
    inbound = [m for m in (sandbox.parse_inbound_sms(b, "application/json") for b in receiver.bodies("/sms")) if m]
    assert [(m.from_number, m.text) for m in inbound] == [(PHONE, "EVET")]


def event(type_, **data):
    return json.dumps({"event_id": "evt_1", "type": type_, "created_at": "2025-01-01T10:00:00Z", "sequence": 1,
                       "data": data}).encode()


@pytest.mark.parametrize("status,result,action,outcome", [
    ("completed", "ok", "confirm", "confirm"), ("completed", "no_input", None, "no_answer"),
    ("completed", "invalid_key", None, "invalid"), ("completed", "not_repeated", None, "unknown"),
    ("busy", None, None, "busy"), ("no_answer", None, None, "no_answer"), ("failed", None, None, "failed"),
])
def test_call_result_outcomes(status, result, action, outcome):
    res = sandbox.parse_call_result(event("call.completed", id="call_1", status=status, result=result, action=action,
                                          digits_pressed=[]), "application/json")
    assert (res.event_id, res.provider_id, res.outcome) == ("evt_1", "call_1", outcome)


def test_progress_events_and_other_types_are_none():
    assert sandbox.parse_call_result(event("call.ringing", id="c", status="ringing"), "") is None
    assert sandbox.parse_inbound_sms(event("sms.status", id="s", status="sent"), "") is None
    assert sandbox.parse_delivery_report(event("sms.inbound", id="i", **{"from": PHONE}), "") is None


@pytest.mark.parametrize("body", [b"", b"not json", b"[]", b'{"type": "call.completed"}',
                                  b'{"event_id": "e", "type": "call.completed", "data": {"id": "c"}}',
                                  b'{"event_id": "e", "type": "call.completed", "data": "x"}'])
def test_malformed_bodies_raise_webhook_format_error(body):
    with pytest.raises(WebhookFormatError):
        sandbox.parse_call_result(body, "application/json")


def test_signature_verification():
    body = event("sms.status", id="s", status="delivered")
    good = "sha256=" + sign_body("whsec", body)
    assert sandbox.verify_signature("whsec", body, good)
    assert not sandbox.verify_signature("whsec", body + b" ", good)
    assert not sandbox.verify_signature("other", body, good)
    assert not sandbox.verify_signature("whsec", body, "")
