"""Twilio: the official `twilio` package (PyPI, 9.13) is the reference.

- REST requests (Calls.json, Messages.json, list, account fetch): our client and the SDK call one loopback
  server (our Twilio simulator, which logs every request) for the same operation; the requests must be equal
  field by field, and the simulator must accept the SDK's.
- TwiML: ours parses to the same tree as the SDK's VoiceResponse / MessagingResponse builders.
- Webhook signatures: our check accepts exactly what twilio.request_validator.RequestValidator accepts (URL with
  and without port, repeated keys, GET and POST, SHA256 settings header, bodySHA256), and the simulator signs
  what the SDK accepts.
"""

from __future__ import annotations

import itertools
import json
import urllib.parse
import xml.etree.ElementTree as ET

import pytest
from django.http import QueryDict
from twilio.base.exceptions import TwilioRestException
from twilio.request_validator import RequestValidator
from twilio.rest import Client
from twilio.twiml.messaging_response import MessagingResponse
from twilio.twiml.voice_response import Gather, VoiceResponse

from contracts.conftest import assert_listed
from ocbridge.core.errors import TerminalError
from ocbridge.services import twilio
from ocbridge.services.twilio import TwilioClient, validate_signature
from ocbridge.simulators.twilio import TwilioSimulator, twilio_signature, with_port

pytestmark = pytest.mark.django_db
SID, TOKEN = "AC" + "2" * 32, "contract-auth-token"
FROM, PHONE = "+15005550006", "+905321234567"
DIGITS = {"1": "confirm", "2": "cancel", "0": "agent"}
HOOK = "https://hub.example.com/hooks/twilio/tok/call-result"


@pytest.fixture
def sim():
    with TwilioSimulator(account_sid=SID, auth_token=TOKEN, numbers=(FROM,), speed=500) as s:
        s.set_customer(PHONE, call="no_answer", sms_reply=None)
        yield s


@pytest.fixture
def ours(sim, make_conn):
    return TwilioClient(make_conn("twilio", sim.base_url, {"account_sid": SID, "auth_token": TOKEN},
                                  {"from_number": FROM}))


@pytest.fixture
def sdk(sim):
    client = Client(SID, TOKEN)
    client.api.base_url = sim.base_url  # the one loopback server both clients talk to
    return client


def _last(sim, method: str, suffix: str):
    return [r for r in sim.requests(method=method) if r.path.endswith(suffix)][-1]


def _same_request(a, b) -> None:
    """Method, path, query, form fields (every value) and the auth/content headers Twilio reads."""
    assert (a.method, a.path, a.query) == (b.method, b.path, b.query)
    assert a.form_lists() == b.form_lists()
    for name in ("authorization", "content-type") if a.body or b.body else ("authorization",):  # GET: no body
        assert (a.header(name) or "").split(";")[0] == (b.header(name) or "").split(";")[0], name


# --- REST: request equals the SDK's, simulator accepts both ----------------------------------------------


def test_call_request_equals_the_sdks(sim, ours, sdk):
    ours.start_confirmation_call(to=PHONE, text="Siparişiniz 1001. Onay için 1", digits=DIGITS, webhook_url=HOOK,
                                 key="k1", language="tr")
    mine = _last(sim, "POST", "/Calls.json")
    sent = mine.form()
    sdk.calls.create(to=sent["To"], from_=sent["From"], twiml=sent["Twiml"], status_callback=sent["StatusCallback"],
                     status_callback_event=["completed"], timeout=int(sent["Timeout"]))
    _same_request(mine, _last(sim, "POST", "/Calls.json"))
    assert [r.status for r in sim.requests(method="POST")] == [201, 201]
    assert_listed("twilio", sim.requests())


def test_message_request_equals_the_sdks(sim, ours, sdk):
    ours.send_sms(to=PHONE, text="Ваш заказ 1001: ответьте ДА", key="s1", webhook_url=HOOK)
    mine = _last(sim, "POST", "/Messages.json")
    sent = mine.form()
    sdk.messages.create(to=PHONE, from_=FROM, body=sent["Body"], status_callback=sent["StatusCallback"])
    _same_request(mine, _last(sim, "POST", "/Messages.json"))
    assert_listed("twilio", sim.requests())


def test_lookup_and_account_requests_equal_the_sdks(sim, ours, sdk):
    ours.check_credentials()
    sdk.api.v2010.accounts(SID).fetch()
    a, b = sim.requests(method="GET")
    _same_request(a, b)
    ours._call("GET", f"/2010-04-01/Accounts/{SID}/Calls.json", params={"To": PHONE, "PageSize": "50"})
    sdk.calls.list(to=PHONE, page_size=50, limit=50)
    a, b = sim.requests(path=f"/2010-04-01/Accounts/{SID}/Calls.json", method="GET")
    _same_request(a, b)
    assert_listed("twilio", sim.requests())


def test_twiml_over_4000_characters_is_refused_before_sending(sim, ours, sdk):
    with pytest.raises(TerminalError) as exc:
        ours.start_confirmation_call(to=PHONE, text="x" * 4100, digits=DIGITS, webhook_url=HOOK, key="k2", language="en")
    assert exc.value.code == 32018 and sim.requests() == []
    with pytest.raises(TwilioRestException) as refused:  # the simulator refuses it too (docs/api/errors/32018)
        sdk.calls.create(to=PHONE, from_=FROM, twiml="<Response><Say>" + "x" * 4100 + "</Say></Response>")
    assert refused.value.code == 32018


# --- TwiML: same tree as the SDK builds ---------------------------------------------------------------------


def _tree(xml: str):
    root = ET.fromstring(xml)
    return [(e.tag, dict(e.attrib), (e.text or "").strip()) for e in root.iter()]


def test_confirmation_twiml_is_what_the_sdk_builds():
    ours = twilio.confirmation_twiml(text="Siparişiniz 1001", language="tr-TR", voice="Polly.Filiz",
                                     action_url=HOOK + "?ocb_step=1")
    response, gather = VoiceResponse(), Gather(input="dtmf", num_digits=1, timeout=6, method="POST",
                                               action_on_empty_result=True, action=HOOK + "?ocb_step=1")
    gather.say("Siparişiniz 1001", language="tr-TR", voice="Polly.Filiz")
    response.append(gather)
    sdk = str(response).replace('actionOnEmptyResult="True"', 'actionOnEmptyResult="true"')  # SDK writes bools as True
    assert _tree(ours) == _tree(sdk)


def test_gather_answers_are_what_the_sdk_builds():
    hang = twilio.gather_reply_twiml({"CallSid": "CA1", "Digits": "1"}, HOOK)
    response = VoiceResponse()
    response.hangup()
    assert _tree(hang) == _tree(str(response))
    dial = twilio.gather_reply_twiml({"CallSid": "CA1", "Digits": "0", "ocb_agent": "0", "ocb_rep": "+902120000000"}, HOOK)
    response = VoiceResponse()
    response.dial("+902120000000")
    assert _tree(dial) == _tree(str(response))


def test_sms_webhook_answer_is_the_sdks_empty_messaging_response():
    assert _tree(twilio.EMPTY_TWIML) == _tree(str(MessagingResponse()))


def test_order_status_say_names_a_voice_for_turkish_and_russian():
    """twilio.com/docs/voice/twiml/say: without `voice` the account default speaks; it may not speak tr/ru."""
    from ocbridge.integrations.order_lookup import mappers
    from ocbridge.integrations.order_lookup.config import OrderLookupConfig
    from ocbridge.integrations.order_lookup.rules import Decision

    for lang, (language, voice) in (("tr", ("tr-TR", "Polly.Filiz")), ("ru", ("ru-RU", "Polly.Tatyana"))):
        xml = mappers.twiml(OrderLookupConfig(), Decision(action="hangup", reason="test"), lang, "Shop", HOOK)
        say = ET.fromstring(xml).find(".//Say")
        assert (say.get("language"), say.get("voice")) == (language, voice)


# --- webhook signatures: ours accepts exactly what RequestValidator accepts -------------------------------

URLS = ("https://hub.example.com/hooks/twilio/tok/sms", "https://hub.example.com:443/hooks/twilio/tok/sms",
        "https://hub.example.com/hooks/twilio/tok/sms?ocb_k=a%20b&x=1", "http://hub.example.com:8080/h?x=1")
FORMS = ("", "Body=EVET&From=%2B905321234567&MessageSid=SM1",
         "MediaUrl=https%3A%2F%2Fa&MediaUrl=https%3A%2F%2Fb&From=%2B90532",  # a repeated key
         "Body=b&Body=a&Body=b",  # repeated, one value twice
         "Digits=&CallSid=CA1")  # a blank value is signed too


def _cases():
    for signed_url, form in itertools.product(URLS, FORMS):
        params = QueryDict(form)
        for variant in dict.fromkeys((signed_url, with_port(signed_url), signed_url.replace(":443", ""))):
            yield signed_url, variant, form, RequestValidator(TOKEN).compute_signature(variant, params)
        yield signed_url, signed_url, form, "bm90IGEgc2lnbmF0dXJl"
        yield signed_url, signed_url, form, RequestValidator("other-token").compute_signature(signed_url, params)


@pytest.mark.parametrize(("url", "signed_as", "form", "signature"), list(_cases()))
def test_signature_check_agrees_with_request_validator(url, signed_as, form, signature):
    params = QueryDict(form)
    expected = RequestValidator(TOKEN).validate(url, params, signature)
    mine = validate_signature(TOKEN, url, {k: params.getlist(k) for k in params}, signature)
    assert mine == expected
    if signed_as in (url, with_port(url), url.replace(":443", "")) and "bm90" not in signature and \
            signature == RequestValidator(TOKEN).compute_signature(signed_as, params):
        assert mine, "Twilio signs with or without the port: both must pass"


def test_a_changed_or_dropped_repeated_value_is_refused_by_both():
    url = URLS[0]
    signed = QueryDict("MediaUrl=a&MediaUrl=b&From=x")
    signature = RequestValidator(TOKEN).compute_signature(url, signed)
    for tampered in ("MediaUrl=a&From=x", "MediaUrl=a&MediaUrl=c&From=x", "MediaUrl=b&From=x"):
        q = QueryDict(tampered)
        assert not RequestValidator(TOKEN).validate(url, q, signature)
        assert not validate_signature(TOKEN, url, {k: q.getlist(k) for k in q}, signature)


def test_get_webhooks_sign_the_query_only():
    url = "https://hub.example.com/hooks/twilio/tok/voice?CallSid=CA1&From=%2B90532&Digits=1"
    signature = RequestValidator(TOKEN).compute_signature(url, {})
    assert RequestValidator(TOKEN).validate(url, {}, signature) and validate_signature(TOKEN, url, {}, signature)
    moved = url.replace("Digits=1", "Digits=2")
    assert not RequestValidator(TOKEN).validate(moved, {}, signature) and not validate_signature(TOKEN, moved, {}, signature)


def test_sha256_settings_header_and_json_body_hash():
    url = "https://hub.example.com/hooks/twilio/tok/sms"
    params = QueryDict("Body=1&From=x")
    sig256 = RequestValidator(TOKEN).compute_signature(url, params, "HMAC_SHA256")
    algorithm = twilio.signature_algorithm("key=webhooks_sharedkey_1,algorithm=HMAC_SHA256")
    assert RequestValidator(TOKEN).validate(url, params, sig256, algorithm)
    assert validate_signature(TOKEN, url, {k: params.getlist(k) for k in params}, sig256, algorithm)
    assert not validate_signature(TOKEN, url, {k: params.getlist(k) for k in params}, sig256)  # as SHA1: no
    assert not validate_signature(TOKEN, url, {}, sig256, "HMAC_SHA512")  # unknown algorithm: refused, as the SDK
    assert not RequestValidator(TOKEN).validate(url, {}, sig256, "HMAC_SHA512")
    body = '{"a": 1}'
    hashed = url + "?bodySHA256=" + RequestValidator(TOKEN).compute_hash(body)
    signature = RequestValidator(TOKEN).compute_signature(hashed, {})
    for raw, ok in ((body, True), ('{"a": 2}', False)):
        assert RequestValidator(TOKEN).validate(hashed, raw, signature) is ok
        assert validate_signature(TOKEN, hashed, raw, signature) is ok


# --- the simulator signs what the SDK accepts, and reads what Twilio answers -------------------------------


@pytest.mark.parametrize("with_port_on", [False, True])
def test_simulator_signatures_pass_the_sdk_validator(with_port_on):
    sim = TwilioSimulator(account_sid=SID, auth_token=TOKEN)
    sim.set_sign_with_port(with_port_on)
    params = {"Body": "EVET", "From": PHONE, "MediaUrl": ["https://b", "https://a"]}
    url = URLS[2]
    signature = sim.sign(url, params)
    q = QueryDict(urllib.parse.urlencode(params, doseq=True))
    assert RequestValidator(TOKEN).validate(url, q, signature)
    assert validate_signature(TOKEN, url, params, signature)
    assert (signature == twilio_signature(TOKEN, url, params)) is not with_port_on


def test_simulator_logs_a_plain_text_sms_answer_as_twilio_does(sim, receiver_factory):
    plain = receiver_factory(lambda hit: (200, "OK", "text/html"))
    twiml = receiver_factory(lambda hit: (200, twilio.EMPTY_TWIML, "text/xml"))
    sim.inject_sms(PHONE, "EVET", url=plain.url + "/sms")
    sim.inject_sms(PHONE, "EVET", url=twiml.url + "/sms")
    assert sim.wait_idle(5)
    assert [e["code"] for e in sim.debugger()] == [12300]


# --- our webhook endpoints, as Twilio calls them ------------------------------------------------------------


def _post_signed(client, url: str, body: str, signed_url: str):
    signature = RequestValidator(TOKEN).compute_signature(signed_url, QueryDict(body))
    path = url.split("://", 1)[1].split("/", 1)[1]
    return client.post("/" + path, data=body, content_type="application/x-www-form-urlencoded",
                       HTTP_X_TWILIO_SIGNATURE=signature)


@pytest.mark.parametrize("port", [False, True])
def test_our_sms_webhook_accepts_port_signed_requests_and_answers_empty_twiml(client, make_conn, settings, port):
    """twilio.com/docs/usage/webhooks/sms-webhooks: answer TwiML; <Response/> sends no reply."""
    settings.PUBLIC_URL = "https://hub.example.com"
    conn = make_conn("twilio", "http://127.0.0.1:9", {"account_sid": SID, "auth_token": TOKEN})
    url = conn.webhook_url("sms")
    body = "Body=EVET&From=%2B905321234567&MessageSid=SM1&SmsStatus=received&To=%2B15005550006"
    resp = _post_signed(client, url, body, with_port(url) if port else url)
    assert resp.status_code == 200 and resp["Content-Type"].startswith("text/xml")
    assert _tree(resp.content.decode()) == _tree(str(MessagingResponse()))


def test_our_webhook_refuses_a_field_sent_twice_with_different_values(client, make_conn, settings):
    settings.PUBLIC_URL = "https://hub.example.com"
    conn = make_conn("twilio", "http://127.0.0.1:9", {"account_sid": SID, "auth_token": TOKEN})
    url = conn.webhook_url("sms")
    same = "Body=EVET&Body=EVET&From=%2B905321234567&MessageSid=SM2&SmsStatus=received"
    assert _post_signed(client, url, same, url).status_code == 200
    differ = "Body=EVET&Body=IPTAL&From=%2B905321234567&MessageSid=SM3&SmsStatus=received"
    resp = _post_signed(client, url, differ, url)
    assert resp.status_code == 400 and b"more than once" in resp.content


# --- the simulator's resources are the SDK's -------------------------------------------------------------


def _sdk_fields(instance_class) -> set[str]:
    """The resource fields twilio-python reads from an answer (`payload.get("…")` in the instance class)."""
    import inspect
    import re

    return set(re.findall(r'payload\.get\("(\w+)"\)', inspect.getsource(instance_class.__init__)))


def test_simulator_call_and_message_resources_have_only_the_sdks_fields(sim, ours):
    from twilio.rest.api.v2010.account.call import CallInstance
    from twilio.rest.api.v2010.account.message import MessageInstance

    ours.start_confirmation_call(to=PHONE, text="Onay için 1", digits=DIGITS, webhook_url=HOOK, key="r1", language="tr")
    ours.send_sms(to=PHONE, text="Test", key="r2", webhook_url=HOOK)
    call = json.loads(_last(sim, "POST", "/Calls.json").response)
    message = json.loads(_last(sim, "POST", "/Messages.json").response)
    assert set(call) <= _sdk_fields(CallInstance), set(call) - _sdk_fields(CallInstance)
    assert set(message) <= _sdk_fields(MessageInstance), set(message) - _sdk_fields(MessageInstance)
    values = lambda cls: {v for k, v in vars(cls).items() if not k.startswith("_")}  # noqa: E731
    assert call["status"] in values(CallInstance.Status) and message["status"] in values(MessageInstance.Status)
