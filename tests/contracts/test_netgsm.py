"""Netgsm.

SMS REST v2: the official `netgsm-sms` package (PyPI, 1.1.2) is the reference. Our client and the SDK send the
same operation to one loopback server (our Netgsm simulator, which logs every request); the requests must be
equal field by field and the simulator must accept the SDK's.

Voice SMS ("sesli mesaj") has no Python SDK: the XML is written field by field from Netgsm's own PHP package
(github netgsm/voicemail, src/Package.php, the `key=1` send with `url`) and its README ("Sesli Mesaj Webhook").
Netsantral events follow github netgsm/netsantral README ("Webhook Santral Dinleme").
"""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from netgsm import Netgsm, NotAcceptableException

from contracts.conftest import assert_listed
from ocbridge.services import netgsm
from ocbridge.services.netgsm import NetgsmClient
from ocbridge.simulators.netgsm import NetgsmSimulator

pytestmark = pytest.mark.django_db
USER, PASSWORD, HEADER = "8503001122", "contract-pass", "SHOP"
PHONE = "+905321234567"
TR = ZoneInfo("Europe/Istanbul")


@pytest.fixture
def sim():
    with NetgsmSimulator(usercode=USER, password=PASSWORD, msgheaders=(HEADER,), speed=500) as s:
        s.set_customer(PHONE, sms_reply=None, call="no_answer")
        yield s


@pytest.fixture
def ours(sim, make_conn):
    return NetgsmClient(make_conn("netgsm", sim.base_url, {"usercode": USER, "password": PASSWORD},
                                  {"msgheader": HEADER}))


@pytest.fixture
def sdk(sim):
    return Netgsm(USER, PASSWORD, api_url=sim.base_url)


def _pair(sim, path: str):
    a, b = sim.requests(path=path)[-2:]
    assert a.header("authorization") == b.header("authorization")
    return a, b


@pytest.mark.parametrize(("text", "encoding"), [
    ("Order 1001 confirmed. Reply 1 to confirm", None),  # ASCII: no `encoding` (SDK docstring: only for Turkish)
    ("Siparişiniz 1001 onaylandı. Onay için 1", "tr"),
    ("Sipariş: Ürün gönderildi", "tr"),
])
def test_send_equals_the_sdks(sim, ours, sdk, text, encoding):
    ours.send_sms(to=PHONE, text=text, key=f"k-{len(text)}")
    sdk.sms.send(msgheader=HEADER, messages=[{"msg": text, "no": "5321234567"}], encoding=encoding)
    a, b = _pair(sim, "/sms/rest/v2/send")
    assert a.json() == b.json()
    assert ("encoding" in a.json()) is (encoding is not None)
    assert [r.status for r in sim.requests()] == [200, 200]
    assert_listed("netgsm", sim.requests())


def test_inbox_by_dates_and_headers_equal_the_sdks(sim, ours, sdk):
    start, stop = datetime(2026, 12, 1, 9, 30, tzinfo=TR), datetime(2026, 12, 1, 10, 0, 5, tzinfo=TR)
    ours.fetch_inbound_sms(start=start, stop=stop)
    with pytest.raises(NotAcceptableException):  # HTTP 406, code 40: "no messages to display" (the SDK's text)
        sdk.sms.get_inbox(startdate=start.strftime("%d%m%Y%H%M%S"), stopdate=stop.strftime("%d%m%Y%H%M%S"))
    a, b = _pair(sim, "/sms/rest/v2/inbox")
    assert (a.method, a.query) == (b.method, b.query) == ("GET", {"startdate": ["01122026093000"],
                                                                  "stopdate": ["01122026100005"]})
    ours.check_credentials()
    sdk.sms.get_headers()
    a, b = _pair(sim, "/sms/rest/v2/msgheader")
    assert (a.method, a.query) == (b.method, b.query)
    assert_listed("netgsm", [r for r in sim.requests() if r.status != 406])


def test_simulator_answers_fit_the_sdks_documented_shapes(sim, sdk):
    """netgsm-sms: send → {code, description, jobid}; msgheader → {code, msgheaders}; inbox → {code, messages[]}."""
    sent = sdk.sms.send(msgheader=HEADER, messages=[{"msg": "Test", "no": "5321234567"}])
    assert (sent["code"], set(sent)) == ("00", {"code", "description", "jobid"})
    assert set(sdk.sms.get_headers()) == {"code", "description", "msgheaders"}
    sim.inject_sms("05321234567", "evet 1001")
    now = datetime.now(TR)
    inbox = sdk.sms.get_inbox((now - timedelta(minutes=5)).strftime("%d%m%Y%H%M%S"),
                              (now + timedelta(minutes=1)).strftime("%d%m%Y%H%M%S"))
    assert inbox["code"] == "00" and [set(m) for m in inbox["messages"]] == [{"message", "sender", "receiver", "datetime"}]


def test_turkish_letters_without_encoding_reach_the_phone_as_latin(sim, sdk):
    """Simulator: what `encoding` changes for the customer (Netgsm documents only 'use tr for Turkish')."""
    sdk.sms.send(msgheader=HEADER, messages=[{"msg": "Siparişiniz", "no": "5321234567"}])
    sdk.sms.send(msgheader=HEADER, messages=[{"msg": "Siparişiniz", "no": "5321234568"}], encoding="tr")
    assert [m["shown"] for m in sim.sms_messages()] == ["Siparisiniz", "Siparişiniz"]


# --- voice SMS: the body Netgsm's package writes (netgsm/voicemail src/Package.php) ----------------------


def test_voice_body_is_the_official_packages_shape(sim, ours):
    ours.start_confirmation_call(to=PHONE, text="Siparişiniz 1001 & <onay>", digits={"1": "confirm", "2": "cancel"},
                                 webhook_url="https://hub.example.com/hooks/netgsm/t/call-result", key="ck-1",
                                 language="tr")
    req = sim.requests(path="/voicesms/send")[0]
    assert req.header("content-type").startswith("text/xml")
    root = ET.fromstring(req.body)
    assert root.tag == "mainbody" and [c.tag for c in root] == ["header", "body"]
    header = {c.tag: c.text for c in root.find("header")}
    # Package.php header, in its order; `relationid` is the README's "random number" (the package sets it but
    # never writes it into the XML — we send it so the webhook can echo it).
    assert list(header)[:10] == ["usercode", "password", "startdate", "starttime", "stopdate", "stoptime",
                                 "key", "ringtime", "url", "relationid"]
    assert re.fullmatch(r"\d{8}", header["startdate"]) and re.fullmatch(r"\d{4}", header["starttime"])
    assert header["key"] == "1" and header["relationid"].isdigit() and 10 <= int(header["ringtime"]) <= 30
    body = root.find("body")
    assert [c.tag for c in body] == ["text", "no", "keys", "keys"]  # start text, numbers, one <keys> per key
    assert body.findtext("text") == "Siparişiniz 1001 & <onay>" and body.findtext("no") == "5321234567"
    for keys, digit in zip(body.findall("keys"), ("1", "2")):
        (detail,) = list(keys)
        assert detail.tag == "keydetail" and [c.tag for c in detail] == ["keyinfo", "text"]
        assert detail.findtext("keyinfo") == digit
    assert sim.requests()[0].text.strip() and req.status == 200
    assert_listed("netgsm", sim.requests())


def test_simulator_refuses_keys_in_one_element_and_a_text_relationid(sim):
    """Our simulator holds the documented shape: anything else answers 70 (bad parameter)."""
    def send(keys: str, relation: str = "123456") -> str:
        xml = (f"<mainbody><header><usercode>{USER}</usercode><password>{PASSWORD}</password><startdate>01012030"
               f"</startdate><starttime>1000</starttime><stopdate>01012030</stopdate><stoptime>1200</stoptime>"
               f"<key>1</key><ringtime>30</ringtime><relationid>{relation}</relationid></header><body>"
               f"<text>Merhaba</text><no>5321234567</no>{keys}</body></mainbody>")
        import httpx

        return httpx.post(sim.base_url + "/voicesms/send", content=xml.encode()).text
    one = "<keys><keydetail><keyinfo>1</keyinfo><text>a</text></keydetail></keys>"
    two = "<keys><keydetail><keyinfo>2</keyinfo><text>b</text></keydetail></keys>"
    assert send(one + two).startswith("00 ")
    assert send(one.replace("</keys>", "") + two.replace("<keys>", "")) == "70"
    assert send(one + two, relation="order-1001") == "70"


# Sample written field by field from github netgsm/voicemail README.md, "Sesli Mesaj Webhook" (times
# `yyyy-MM-dd HH:mm:ss.SSS`; state 1/2/3/7; type 1-4; detail.push_button NULL or -1 or the key).
VOICE_WEBHOOK = {"bulkid": "118470375", "caller": "8503000000", "callee": "5321234567", "state": 1, "type": 3,
                 "name": "", "creation_time": "2026-12-06 10:00:00.120", "start_time": "2026-12-06 10:00:05.000",
                 "answer_time": "2026-12-06 10:00:10.500", "hangup_time": "2026-12-06 10:00:30.250", "bilsec": 20,
                 "relationid": "229755815861723", "detail": {"push_button": "2", "survey_push_button_desc": "",
                                                             "survey_taskid": "", "record_link": ""}}


@pytest.mark.parametrize(("state", "push", "outcome"), [(1, "1", "confirm"), (1, "2", "cancel"), (1, "-1", "no_answer"),
                                                        (1, None, "no_answer"), (2, None, "no_answer"), (7, None, "busy")])
def test_voice_webhook_sample_is_read(state, push, outcome):
    event = {**VOICE_WEBHOOK, "state": state, "detail": {**VOICE_WEBHOOK["detail"], "push_button": push}}
    result = netgsm.parse_call_result(json.dumps(event).encode(), "application/json")
    assert (result.outcome, result.event_id) == (outcome, "118470375:5321234567")


def test_simulator_voice_webhook_has_the_readme_fields(sim, ours, receiver_factory):
    hook = receiver_factory(lambda hit: (200, "OK", "text/plain"))
    sim.set_customer(PHONE, call="confirm", answer_delay=1)
    ours.start_confirmation_call(to=PHONE, text="Onay için 1", digits={"1": "confirm"}, key="ck-2", language="tr",
                                 webhook_url=hook.url + "/voice")
    sim.wait_for(lambda: hook.hits, timeout=10)
    event = json.loads(hook.hits[0]["body"])
    assert set(event) == set(VOICE_WEBHOOK)
    assert set(event["detail"]) == set(VOICE_WEBHOOK["detail"])
    assert event["relationid"] == netgsm.relation_id("ck-2") and event["state"] in (1, 2, 3, 7)
    for name in ("creation_time", "start_time", "answer_time", "hangup_time"):
        assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}", event[name]), name


# --- Netsantral (github netgsm/netsantral README.md, src/Package.php) ------------------------------------

# README "Servisten Alınan Örnek Cevap : Inbound Çağrılar"
INBOUND_CALL = {"pbx_num": "101", "unique_id": "1428481992.3556", "scenario": "Inbound_call",
                "customer_num": "90312911XXXX", "timestamp": "1652080580926"}


def test_simulator_inbound_call_event_is_the_readme_sample_shape(sim, receiver_factory):
    hook = receiver_factory(lambda hit: (200, "OK", "text/plain"))
    sim.inbound_call(hook.url + "/pbx", "05321234567")
    sim.wait_for(lambda: hook.hits, timeout=5)
    event = json.loads(hook.hits[0]["body"])
    assert set(event) == set(INBOUND_CALL) and event["scenario"] == "Inbound_call"
    assert event["timestamp"].isdigit() and len(event["timestamp"]) == 13  # "Milisaniye cinsinden Unix timestamp"


def test_transfer_is_the_packages_request_and_reads_its_answer(sim, ours, receiver_factory):
    """Package.php cagritransfer(): GET http://crmsntrl.netgsm.com.tr:9111/<username>/<type>?username&password
    &exten&unique_id&crm_id; README answer {crm_id, response, status, message}."""
    hook = receiver_factory(lambda hit: (200, "OK", "text/plain"))
    event = sim.inbound_call(hook.url + "/pbx", "05321234567")
    ours.transfer_call(unique_id=event["unique_id"], to="1001", key="xfer-1")
    req = sim.requests(path=f"/{USER}/xfer")[0]
    assert req.method == "GET" and set(req.query) == {"username", "password", "exten", "unique_id", "crm_id"}
    assert (req.arg("username"), req.arg("exten"), req.arg("unique_id")) == (USER, "1001", event["unique_id"])
    assert req.arg("crm_id").isdigit()
    assert set(json.loads(req.response)) == {"crm_id", "response", "status", "message"}
    assert sim.transfers()[0]["exten"] == "1001"
    assert_listed("netgsm", sim.requests(path=f"/{USER}/"))


def test_voice_message_is_the_packages_key_0_body(sim, ours):
    """Package.php with key=0 and no url: no <keys>, no <url>."""
    ours.send_voice_message(to=PHONE, text="Siparişiniz 1001 kargoya verildi.", key="vm-1")
    root = ET.fromstring(sim.requests(path="/voicesms/send")[0].body)
    header = {c.tag: c.text for c in root.find("header")}
    assert header["key"] == "0" and "url" not in header and header["relationid"].isdigit()
    assert [c.tag for c in root.find("body")] == ["text", "no"]
