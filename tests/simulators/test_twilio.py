"""Twilio simulator: TwiML following, signed callbacks, messages, error JSON."""

from __future__ import annotations

import base64
import hashlib
import hmac
import urllib.parse

import httpx
import pytest

from ocbridge.simulators.twilio import TwilioSimulator, twilio_signature

SID, TOKEN = "AC" + "0" * 31 + "1", "twilio-auth-token"
FROM = "+15005550006"

GATHER = """<?xml version="1.0" encoding="UTF-8"?><Response>
<Gather input="dtmf" numDigits="1" timeout="5" action="/ivr/answer?o=1042" method="POST">
<Say language="tr-TR">Onay için 1, iptal için 2</Say></Gather><Say>Görüşmek üzere</Say></Response>"""
CONFIRM_CANCEL = """<Response><Gather numDigits="1" action="/ivr/again"><Say>Tekrar 2</Say></Gather></Response>"""
DONE = "<Response><Say>Teşekkürler</Say><Hangup/></Response>"


def reference_signature(token: str, url: str, params: dict) -> str:
    """Twilio's documented algorithm, written independently of the simulator."""
    payload = url
    for name in sorted(params):
        payload += name + params[name]
    return base64.b64encode(hmac.new(token.encode(), payload.encode(), hashlib.sha1).digest()).decode()


def test_signature_matches_twilio_documented_example():
    # Example from Twilio's public signature-validation snippet (auth token 12345).
    params = {"CallSid": "CA1234567890ABCDE", "Caller": "+14158675310", "Digits": "1234",
              "From": "+14158675310", "To": "+18005551212"}
    url = "https://mycompany.com/myapp.php?foo=1&bar=2"
    assert twilio_signature("12345", url, params) == "GvWf1cFY/Q7PnoempGyD5oXAezc="
    assert reference_signature("12345", url, params) == "GvWf1cFY/Q7PnoempGyD5oXAezc="


@pytest.fixture
def sim():
    with TwilioSimulator(speed=1000) as s:
        s.set_customer_defaults(answer_delay=5, reply_delay=5)
        yield s


def api(sim, path):
    return f"{sim.base_url}/2010-04-01/Accounts/{SID}/{path}"


def place_call(sim, receiver, **extra):
    data = {"To": "+905321234567", "From": FROM, "Url": f"{receiver.url}/ivr/start?o=1042",
            "StatusCallback": f"{receiver.url}/status",
            "StatusCallbackEvent": "initiated ringing answered completed", **extra}
    return httpx.post(api(sim, "Calls.json"), data=data, auth=(SID, TOKEN))


def assert_signed(hit, token=TOKEN):
    params = {k: v[-1] for k, v in urllib.parse.parse_qs(hit["body"], keep_blank_values=True).items()}
    assert hit["headers"]["X-Twilio-Signature"] == reference_signature(token, hit["url"], params)


def test_call_fetches_twiml_and_posts_digits_to_gather_action(sim, receiver):
    receiver.reply("/ivr/start", (200, GATHER, "text/xml"))
    receiver.reply("/ivr/answer", (200, DONE, "text/xml"))
    sim.set_customer("+905321234567", call="confirm")
    resp = place_call(sim, receiver)
    assert resp.status_code == 201 and resp.json()["sid"].startswith("CA") and resp.json()["status"] == "queued"
    sim.wait_for(lambda: sim.calls()[0]["status"] == "completed")
    sim.wait_idle()
    start, answer = receiver.posts("/ivr/start")[0], receiver.posts("/ivr/answer")[0]
    assert answer["query"] == "o=1042"
    form = dict(urllib.parse.parse_qsl(answer["body"], keep_blank_values=True))
    assert form["Digits"] == "1" and form["CallSid"] == resp.json()["sid"] and form["CallStatus"] == "in-progress"
    assert_signed(start)
    assert_signed(answer)
    call = sim.calls()[0]
    assert [t["verb"] for t in call["transcript"]] == ["Say", "Gather", "Say", "Hangup"]
    statuses = [dict(urllib.parse.parse_qsl(h["body"]))["CallStatus"] for h in receiver.posts("/status")]
    assert statuses == ["initiated", "ringing", "in-progress", "completed"]
    for hit in receiver.posts("/status"):
        assert_signed(hit)
    last = dict(urllib.parse.parse_qsl(receiver.posts("/status")[-1]["body"]))
    assert last["SequenceNumber"] == "3" and int(last["CallDuration"]) >= 1


def test_two_gathers_get_the_digit_sequence(sim, receiver):
    receiver.reply("/ivr/start", (200, GATHER, "text/xml"))
    receiver.reply("/ivr/answer", (200, CONFIRM_CANCEL, "text/xml"))
    receiver.reply("/ivr/again", (200, DONE, "text/xml"))
    sim.set_customer("+905321234567", call="cancel_twice")
    place_call(sim, receiver)
    sim.wait_for(lambda: sim.calls()[0]["status"] == "completed")
    digits = [dict(urllib.parse.parse_qsl(h["body"]))["Digits"] for h in receiver.posts("/ivr/answer") + receiver.posts("/ivr/again")]
    assert digits == ["2", "2"]


def test_no_input_falls_through_to_next_verb(sim, receiver):
    receiver.reply("/ivr/start", (200, GATHER, "text/xml"))
    sim.set_customer("+905321234567", call="timeout")
    place_call(sim, receiver)
    sim.wait_for(lambda: sim.calls()[0]["status"] == "completed")
    assert receiver.posts("/ivr/answer") == []
    assert sim.calls()[0]["transcript"][-1]["text"] == "Görüşmek üzere"


@pytest.mark.parametrize("outcome,status", [("no_answer", "no-answer"), ("busy", "busy"), ("failed", "failed")])
def test_unanswered_call_final_status(sim, receiver, outcome, status):
    sim.set_customer("+905321234567", call=outcome)
    place_call(sim, receiver, StatusCallbackEvent="")
    sim.wait_for(lambda: receiver.posts("/status"))
    [hit] = receiver.posts("/status")  # only "completed" by default
    assert dict(urllib.parse.parse_qsl(hit["body"]))["CallStatus"] == status
    assert receiver.posts("/ivr/start") == []


def test_twiml_fetch_failure_records_11200(sim, receiver):
    receiver.reply("/ivr/start", (500, "boom"))
    sim.set_customer("+905321234567", call="confirm")
    place_call(sim, receiver)
    sim.wait_for(lambda: sim.calls()[0]["status"] == "completed")
    assert sim.calls()[0]["errors"][0]["code"] == 11200


def test_inline_twiml(sim, receiver):
    sim.set_customer("+905321234567", call="confirm")
    place_call(sim, receiver, Url="", Twiml="<Response><Say>Merhaba</Say></Response>")
    sim.wait_for(lambda: sim.calls()[0]["status"] == "completed")
    assert sim.calls()[0]["transcript"] == [{"verb": "Say", "text": "Merhaba"}]


def test_cancel_ringing_call(sim, receiver):
    sim.set_customer("+905321234567", call="confirm", answer_delay=10_000)
    sid = place_call(sim, receiver).json()["sid"]
    resp = httpx.post(api(sim, f"Calls/{sid}.json"), data={"Status": "canceled"}, auth=(SID, TOKEN))
    assert resp.json()["status"] == "canceled"
    assert httpx.get(api(sim, f"Calls/{sid}.json"), auth=(SID, TOKEN)).json()["status"] == "canceled"


@pytest.mark.parametrize("change,code,status", [
    ({"To": "0532"}, 21211, 400), ({"From": "+19999999999"}, 21212, 400), ({"Url": ""}, 21205, 400),
])
def test_call_validation_error_json(sim, receiver, change, code, status):
    resp = place_call(sim, receiver, **change)
    body = resp.json()
    assert resp.status_code == status and body["code"] == code and body["status"] == status
    assert body["more_info"] == f"https://www.twilio.com/docs/errors/{code}" and body["message"]


def test_auth_failure_20003(sim):
    resp = httpx.post(api(sim, "Calls.json"), data={}, auth=(SID, "wrong"))
    assert resp.status_code == 401 and resp.json()["code"] == 20003


def test_rate_limit_20429(sim, receiver):
    sim.set_rate_limit(rate=0.01, burst=1)
    place_call(sim, receiver)
    resp = place_call(sim, receiver)
    assert resp.status_code == 429 and resp.json()["code"] == 20429 and resp.headers["Retry-After"]


def test_server_error_fault_in_twilio_format(sim, receiver):
    sim.fail_next("503")
    resp = place_call(sim, receiver)
    assert resp.status_code == 503 and resp.json()["code"] == 20503


def test_message_status_callbacks_and_signed_inbound_reply(sim, receiver):
    sim.set_sms_url(f"{receiver.url}/sms-in")
    sim.set_customer("+905321234567", sms_reply="ıptal")
    resp = httpx.post(api(sim, "Messages.json"), auth=(SID, TOKEN), data={
        "To": "+905321234567", "From": FROM, "Body": "Sipariş 1042: EVET / IPTAL",
        "StatusCallback": f"{receiver.url}/dlr"})
    assert resp.status_code == 201 and resp.json()["sid"].startswith("SM")
    receiver.wait(1, "/sms-in")
    statuses = [dict(urllib.parse.parse_qsl(h["body"]))["MessageStatus"] for h in receiver.posts("/dlr")]
    assert statuses == ["queued", "sent", "delivered"]
    inbound = receiver.posts("/sms-in")[0]
    assert_signed(inbound)
    form = dict(urllib.parse.parse_qsl(inbound["body"]))
    assert (form["From"], form["To"], form["Body"]) == ("+905321234567", FROM, "ıptal")


def test_message_undelivered(sim, receiver):
    sim.set_customer("+905321234567", sms_delivery="undelivered")
    httpx.post(api(sim, "Messages.json"), auth=(SID, TOKEN), data={
        "To": "+905321234567", "From": FROM, "Body": "x", "StatusCallback": f"{receiver.url}/dlr"})
    receiver.wait(3, "/dlr")
    last = dict(urllib.parse.parse_qsl(receiver.posts("/dlr")[-1]["body"]))
    assert (last["MessageStatus"], last["ErrorCode"]) == ("undelivered", "30003")


@pytest.mark.parametrize("change,code", [({"To": "abc"}, 21211), ({"Body": ""}, 21602), ({"Body": "x" * 1601}, 21617),
                                         ({"From": "+1222"}, 21606)])
def test_message_validation(sim, change, code):
    data = {"To": "+905321234567", "From": FROM, "Body": "x", **change}
    resp = httpx.post(api(sim, "Messages.json"), auth=(SID, TOKEN), data=data)
    assert resp.status_code == 400 and resp.json()["code"] == code
