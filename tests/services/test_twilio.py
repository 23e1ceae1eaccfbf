"""TwilioClient against the Twilio simulator over real HTTP: TwiML calls, SMS, faults, recovery, signatures."""

from __future__ import annotations

import urllib.parse

import pytest

from ocbridge.core.choices import Direction, ExchangeOutcome, Level
from ocbridge.core.errors import RetryableError, TerminalError, UnknownOutcomeError
from ocbridge.core.models import Exchange
from ocbridge.services import twilio
from ocbridge.services.base import WebhookFormatError
from ocbridge.services.twilio import TwilioClient
from ocbridge.simulators.base import Response
from ocbridge.simulators.twilio import TwilioSimulator, twilio_signature

pytestmark = pytest.mark.django_db
SID, TOKEN = "AC" + "1" * 32, "twilio-token-abcdef"
FROM, PHONE = "+15005550006", "+905321234567"
DIGITS = {"1": "confirm", "2": "cancel", "0": "agent"}


@pytest.fixture
def sim():
    with TwilioSimulator(account_sid=SID, auth_token=TOKEN, numbers=(FROM,), speed=200) as s:
        yield s


@pytest.fixture
def conn(sim, make_conn):
    return make_conn("twilio", sim.base_url, {"account_sid": SID, "auth_token": TOKEN}, {"from_number": FROM})


def call(client, url="http://127.0.0.1:9/hooks/twilio/t/call-result", key="k1", **kw):
    return client.start_confirmation_call(**{"to": PHONE, "text": "Siparişiniz 1001. Onay için 1", "digits": DIGITS,
                                             "webhook_url": url, "key": key, "language": "tr", **kw})


def merged(hit) -> dict:
    """What the webhook must hand the parsers: POST fields plus our ocb_* query markers."""
    query = urllib.parse.urlsplit(hit["url"]).query
    return {**form(query.encode()), **form(hit["body"])}


def form(body: bytes) -> dict:
    return dict(urllib.parse.parse_qsl(body.decode(), keep_blank_values=True))  # blank values are signed too


def test_call_happy_path_inline_twiml(sim, conn, assert_masked):
    started = call(TwilioClient(conn))
    sent = sim.requests(f"/2010-04-01/Accounts/{SID}/Calls.json")[0].form()
    assert started.provider_id == sim.calls()[0]["sid"]
    assert (sent["To"], sent["From"], sent["StatusCallbackEvent"]) == (PHONE, FROM, "completed")
    assert 'voice="Polly.Filiz"' in sent["Twiml"] and 'numDigits="1"' in sent["Twiml"]
    assert "ocb_k=k1" in sent["StatusCallback"]
    assert Exchange.objects.get().level == Level.INFO
    assert_masked(TOKEN)


def test_real_call_with_second_prompt_reports_both_keys(sim, conn, receiver):
    sim.set_customer(PHONE, call="cancel_twice", answer_delay=1)

    def respond(hit):
        data = merged(hit)
        assert twilio.validate_signature(TOKEN, hit["url"], form(hit["body"]), hit["headers"]["x-twilio-signature"])
        if "Digits" in data:
            return 200, twilio.gather_reply_twiml(data, hit["url"]), "text/xml"
        return 200, "", "text/plain"

    receiver.responder = respond
    started = call(TwilioClient(conn), url=receiver.url + "/call", second_prompt_text="İptal için tekrar 2")
    sim.wait_for(lambda: any(b"CallStatus=completed" in b and b"CallbackSource" in b for b in receiver.bodies()), 10)
    results = [twilio.parse_call_result(merged(h), "application/x-www-form-urlencoded") for h in receiver.hits]
    decisions = [r for r in results if r and r.event_id.endswith(":gather:2")]
    assert [(r.provider_id, r.outcome, r.digits) for r in decisions] == [(started.provider_id, "cancel", ["2", "2"])]
    assert results[0] is None  # first key of a twice-pressed choice: no decision yet
    said = [t["text"] for t in sim.calls()[0]["transcript"] if t["verb"] == "Say"]
    assert said == ["Siparişiniz 1001. Onay için 1", "İptal için tekrar 2"]


def test_agent_key_dials_the_representative():
    data = {"CallSid": "CA1", "Digits": "0", "ocb_step": "1", "ocb_agent": "0", "ocb_rep": "+902120000000"}
    assert "<Dial>+902120000000</Dial>" in twilio.gather_reply_twiml(data, "https://x/h?ocb_step=1")
    assert "<Hangup/>" in twilio.gather_reply_twiml({**data, "Digits": "1"}, "https://x/h")


def test_same_key_twice_is_one_call(sim, conn):
    client = TwilioClient(conn)
    assert call(client) == call(client)
    assert len(sim.calls()) == 1


def test_lost_answer_is_recovered_from_the_call_list(sim, conn, quick_http):
    sim.fail_next("timeout", seconds=2, after=True)
    with pytest.raises(RetryableError):
        call(TwilioClient(conn, http=quick_http("twilio", sim.base_url)))
    assert call(TwilioClient(conn)).provider_id == sim.calls()[0]["sid"]
    assert len(sim.requests(f"/2010-04-01/Accounts/{SID}/Calls.json", "POST")) == 1


def test_lost_answer_with_two_candidates_is_unknown(sim, conn, quick_http):
    sim.fail_next("timeout", seconds=2, after=True)
    with pytest.raises(RetryableError):
        call(TwilioClient(conn, http=quick_http("twilio", sim.base_url)), key="k2")
    sim.fail_next("timeout", seconds=2, after=True)
    with pytest.raises(RetryableError):
        call(TwilioClient(conn, http=quick_http("twilio", sim.base_url)), key="k3")
    with pytest.raises(UnknownOutcomeError):
        call(TwilioClient(conn), key="k3")


def test_pending_row_with_nothing_at_twilio_sends(sim, conn):
    Exchange.objects.create(service="twilio", direction=Direction.OUT, key="k1", outcome=ExchangeOutcome.PENDING)
    call(TwilioClient(conn))
    assert len(sim.calls()) == 1


def test_429_is_retryable_with_retry_after(sim, conn):
    sim.fail_next("429", retry_after=3)
    with pytest.raises(RetryableError) as exc:
        call(TwilioClient(conn))
    assert (exc.value.code, exc.value.retry_after) == (20429, 3)
    assert Exchange.objects.get().level == Level.WARNING


@pytest.mark.parametrize("fault", ["500", "503"])
def test_5xx_is_retryable(sim, conn, fault):
    sim.fail_next(fault)
    with pytest.raises(RetryableError):
        call(TwilioClient(conn))
    assert Exchange.objects.get().level == Level.WARNING


def test_garbage_is_retryable_and_pending(sim, conn):
    sim.fail_next("garbage")
    with pytest.raises(RetryableError):
        call(TwilioClient(conn))
    assert Exchange.objects.get().outcome == ExchangeOutcome.PENDING


def test_invalid_from_is_terminal_with_twilios_message(sim, conn):
    with pytest.raises(TerminalError) as exc:
        call(TwilioClient(conn), caller_id="+15550000000")
    assert exc.value.code == 21212 and "Invalid 'From' Phone Number" in exc.value.message
    assert Exchange.objects.get().level == Level.ERROR


def test_bad_token_is_terminal_and_masked(sim, conn, assert_masked):
    conn.secret = {"account_sid": SID, "auth_token": "bad-token-12345"}
    conn.save()
    with pytest.raises(TerminalError) as exc:
        TwilioClient(conn).check_credentials()
    assert exc.value.code == 20003
    assert_masked("bad-token-12345")


def test_check_credentials(sim, conn):
    assert str(TwilioClient(conn).check_credentials()) == "Twilio account Simulated account (active)"


# --- SMS -------------------------------------------------------------------------------------------------


def test_sms_happy_path_reports_and_recovery(sim, conn, receiver, quick_http):
    sim.set_customer(PHONE, sms_reply="EVET", reply_delay=1)
    sim.set_sms_url(receiver.url + "/in")
    sent = TwilioClient(conn).send_sms(to=PHONE, text="Sipariş 1001", key="s1", webhook_url=receiver.url + "/dlr")
    assert sent.provider_id == sim.messages()[0]["sid"]
    sim.wait_for(lambda: receiver.bodies("/in"), timeout=10)
    reports = [twilio.parse_delivery_report(merged(h), "") for h in receiver.hits if h["path"].startswith("/dlr")]
    assert reports[-1].provider_id == sent.provider_id and reports[-1].delivered is True
    inbound = twilio.parse_inbound_sms(merged(next(h for h in receiver.hits if h["path"] == "/in")), "")
    assert (inbound.from_number, inbound.text) == (PHONE, "EVET")
    assert twilio.parse_inbound_sms(merged(receiver.hits[0]), "") is None  # a status callback is not an SMS

    sim.fail_next("timeout", seconds=2, after=True)
    with pytest.raises(RetryableError):
        TwilioClient(conn, http=quick_http("twilio", sim.base_url)).send_sms(to=PHONE, text="2", key="s2")
    assert TwilioClient(conn).send_sms(to=PHONE, text="2", key="s2").provider_id == sim.messages()[-1]["sid"]
    assert len(sim.messages()) == 2


def test_sms_missing_body_is_terminal(sim, conn):
    with pytest.raises(TerminalError) as exc:
        TwilioClient(conn).send_sms(to=PHONE, text="", key="s1")
    assert exc.value.code == 21602


# --- pure parts -------------------------------------------------------------------------------------------


def test_signature_matches_the_simulators_and_rejects_tampering():
    url, params = "https://hub.example/hooks/twilio/tok/call-result?ocb_k=k1", {"CallSid": "CA1", "Digits": "1"}
    sig = twilio_signature(TOKEN, url, params)
    assert twilio.validate_signature(TOKEN, url, params, sig)
    assert not twilio.validate_signature(TOKEN, url, {**params, "Digits": "2"}, sig)
    assert not twilio.validate_signature(TOKEN, url.replace("k1", "k2"), params, sig)
    assert not twilio.validate_signature("", url, params, sig)


@pytest.mark.parametrize("data,outcome,digits", [
    ({"CallSid": "CA1", "Digits": "1"}, "confirm", ["1"]),
    ({"CallSid": "CA1", "Digits": ""}, "no_answer", []),
    ({"CallSid": "CA1", "Digits": "2", "ocb_step": "2", "ocb_first": "2"}, "cancel", ["2", "2"]),
    ({"CallSid": "CA1", "Digits": "1", "ocb_step": "2", "ocb_first": "2"}, "confirm", ["2", "1"]),
    ({"CallSid": "CA1", "Digits": "", "ocb_step": "2", "ocb_first": "2"}, "unknown", ["2"]),
    ({"CallSid": "CA1", "CallStatus": "busy"}, "busy", []),
    ({"CallSid": "CA1", "CallStatus": "no-answer"}, "no_answer", []),
    ({"CallSid": "CA1", "CallStatus": "completed"}, "unknown", []),
])
def test_call_result_outcomes(data, outcome, digits):
    res = twilio.parse_call_result(data, "application/x-www-form-urlencoded")
    assert (res.provider_id, res.outcome, res.digits) == ("CA1", outcome, digits)


def test_progress_and_empty_callbacks_are_none():
    assert twilio.parse_call_result({"CallSid": "CA1", "CallStatus": "ringing"}, "") is None
    assert twilio.parse_call_result({}, "") is None
    assert twilio.parse_call_result(b"CallSid=CA1&Digits=2&ocb_twice=2&ocb_sp=again", "") is None


@pytest.mark.parametrize("data", [{"Digits": "1"}, {"CallStatus": "busy"}, b"%%%=&&=bad", {"CallSid": "CA1"}])
def test_malformed_call_callbacks(data):
    with pytest.raises(WebhookFormatError):
        twilio.parse_call_result(data, "application/x-www-form-urlencoded")


def test_malformed_message_callbacks():
    with pytest.raises(WebhookFormatError):
        twilio.parse_delivery_report({"MessageStatus": "delivered"}, "")
    with pytest.raises(WebhookFormatError):
        twilio.parse_inbound_sms({"Body": "evet", "From": PHONE}, "")


def test_unsupported_language_fails_before_sending(sim, conn):
    with pytest.raises(TerminalError):
        call(TwilioClient(conn), language="xx")
    assert sim.requests() == []


def test_our_reference_comes_back_in_every_callback(sim, conn, receiver):
    """Twilio takes no key of ours, but calls back the URLs we give: ocb_c (the correlation number) rides there."""
    sim.set_customer(PHONE, call="confirm", answer_delay=1)
    receiver.responder = lambda hit: (200, twilio.gather_reply_twiml(merged(hit), hit["url"]) if b"Digits" in hit["body"]
                                      else "", "text/xml")
    call(TwilioClient(conn), url=receiver.url + "/call", reference="123456789012")
    sim.wait_for(lambda: any(b"CallStatus=completed" in b for b in receiver.bodies()), 10)
    results = [twilio.parse_call_result(merged(h), "application/x-www-form-urlencoded") for h in receiver.hits]
    assert {r.reference for r in results if r} == {"123456789012"}
