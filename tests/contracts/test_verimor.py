"""Verimor: no SDK; samples are written field by field from Verimor's own documents, each test naming one:

- PBX: github verimor/Bulutsantralim-API — ivr_campaigns.md (campaign request, "BİLDİRİM ÖRNEĞİ" webhook),
  cdrs.md ("BAŞARILI CEVAP"), advisory_webhook.md (Santral Programlama query).
- SMS: github verimor/SMS-API user_guide.md — send.json, status, DLR push, inbound push and pull, datacoding table.

Our client's requests must use only documented fields with documented values; our parsers must read the
documented samples; our simulator's answers must have exactly the documented fields and formats.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

import httpx
import pytest

from contracts.conftest import assert_listed
from ocbridge.services import verimor
from ocbridge.services.verimor import VerimorClient
from ocbridge.simulators.verimor import TARGET, VerimorSimulator

pytestmark = pytest.mark.django_db
KEY, USER, PASSWORD = "K12345678-1234-5678-4321-123456789012", "908501234567", "sms-pass"
PHONE = "+905321234567"
TR = timezone(timedelta(hours=3))

# ivr_campaigns.md, request fields listed under the "OTOMATİK ARAMA KAMPANYASI BAŞLATMA" sample and its field list
CAMPAIGN_FIELDS = {"key", "call_type", "name", "date_range_begin", "date_range_end", "time_range_begin", "time_range_end",
                   "active_days", "max_thread_count", "ring_timeout", "cli", "welcome_announcement_id", "call_retries",
                   "webhook_url", *(f"digit_target_{d}" for d in range(10)), "digit_target_star", "digit_target_square",
                   "timeout_target", "invalid_target", "digit_retries", "digit_timeout", "is_commercial",
                   "iys_recipient_type", "iys_brand_code", "recording_enabled", "phone_list", "queue_number",
                   "thread_multiplier"}
# ivr_campaigns.md, "BİLDİRİM ÖRNEĞİ" (form POST)
CAMPAIGN_WEBHOOK = ("notification_id=5&notification_date=2017-05-10 13:18:56 UTC&domain_id=429&ivr_campaign_id=131"
                    "&ivr_campaign_name=Memnuniyet anketi&ivr_lead_id=1878&phone=905321234567&digit=2&status=Başarılı"
                    "&call_uuid=aacdb242-364b-11e7-8bed-c9aec7093786")
# user_guide.md, send.json sample and field list
SEND_FIELDS = {"username", "password", "source_addr", "valid_for", "send_at", "custom_id", "datacoding", "is_commercial",
               "iys_recipient_type", "messages"}
# user_guide.md, "PUSH ile Gelen SMS Alımı" (times without zone) and "HTTP GET ile Gelen SMS Alımı" (ISO 8601)
INBOUND_PUSH = {"message_id": 1234, "type": "inbound", "created_at": "2017-01-01 09:00:00", "network": "TURKCELL",
                "source_addr": "905319876543", "destination_addr": "908501234567", "keyword": "",
                "content": "verimor deneme", "received_at": "2017-01-01 09:00:00"}
INBOUND_PULL = {"message_id": 1235, "created_at": "2017-01-01T09:00:00.000+03:00", "network": "VODAFONE",
                "source_addr": "905444876543", "destination_addr": "908501234567", "keyword": "",
                "content": "1234 numaralı siparişim kargoya verildi mi?", "received_at": "2017-01-01T10:00:00.000+03:00"}
# user_guide.md, "PUSH ile Gönderim Raporu Alımı"
DLR_PUSH = {"type": "outbound", "campaign_id": 20121, "campaign_custom_id": "123456789", "message_id": "13582303",
            "message_custom_id": "1235", "dest": "905319876544", "size": 1, "international_multiplier": 1, "credits": 1,
            "status": "DELIVERED", "gsm_error": "0", "sent_at": "2015-02-20 16:06:00", "done_at": "2015-02-20 16:06:00"}
# cdrs.md, "BAŞARILI CEVAP"
CDR_FIELDS = {"start_stamp", "direction", "caller_id_number", "caller_id_name", "destination_number", "destination_name",
              "duration", "talk_duration", "queue_wait_seconds", "queue", "result", "missed", "return_uuid",
              "recording_present", "sip_hangup_disposition", "call_uuid", "answer_stamp", "end_stamp"}


@pytest.fixture
def sim():
    with VerimorSimulator(api_key=KEY, sms_username=USER, sms_password=PASSWORD, speed=500) as s:
        s.set_customer(PHONE, call="confirm", sms_reply=None, answer_delay=1)
        yield s


@pytest.fixture
def ours(sim, make_conn):
    return VerimorClient(make_conn("verimor", sim.base_url, {"key": KEY, "username": USER, "password": PASSWORD}))


def test_campaign_request_uses_only_documented_fields(sim, ours, receiver_factory):
    """ivr_campaigns.md: field list, target syntax, phone_list items {phone, phrase, lang}, lang tr-TR/en-US/ar-XA."""
    hook = receiver_factory(lambda hit: (200, "", "text/plain"))
    ours.start_confirmation_call(to=PHONE, text="Siparişiniz 1001 toplam 102.45", language="tr", key="c1",
                                 digits={"1": "confirm", "2": "cancel", "0": "agent"}, webhook_url=hook.url + "/c",
                                 rep_target="queue/201")
    body = sim.requests(path="/ivr_campaigns.json")[0].json()
    assert set(body) <= CAMPAIGN_FIELDS
    assert body["call_type"] == "ivr" and isinstance(body["digit_retries"], int)
    for name, value in body.items():
        if name.endswith("_target") or name.startswith("digit_target_"):
            assert TARGET.fullmatch(value), (name, value)
    (item,) = body["phone_list"]
    assert set(item) <= {"phone", "phrase", "lang"} and item["lang"] in ("tr-TR", "en-US", "ar-XA")
    assert re.fullmatch(r"90\d{10}", item["phone"])
    assert hook.hits[0]["body"] == b""  # the empty POST that validates webhook_url before the campaign is made
    assert_listed("verimor", sim.requests())


def test_campaign_webhook_sample_is_read():
    result = verimor.parse_call_result(CAMPAIGN_WEBHOOK.encode(), "application/x-www-form-urlencoded")
    assert (result.event_id, result.provider_id, result.outcome, result.digits) == ("5", "131", "cancel", ["2"])
    assert verimor.parse_call_result(b"", "application/x-www-form-urlencoded") is None  # the validation POST


def test_simulator_campaign_webhook_has_the_documented_fields(sim, ours, receiver_factory):
    hook = receiver_factory(lambda hit: (200, "", "text/plain"))
    ours.start_confirmation_call(to=PHONE, text="Onay için 1", language="tr", key="c2", digits={"1": "confirm"},
                                 webhook_url=hook.url + "/c")
    sim.wait_for(lambda: [h for h in hook.hits if h["body"]], timeout=10)
    sent = httpx.QueryParams([h for h in hook.hits if h["body"]][0]["body"].decode())
    sample = httpx.QueryParams(CAMPAIGN_WEBHOOK)
    assert set(sent.keys()) == set(sample.keys())
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC", sent["notification_date"])
    assert sent["digit"] == "1" and sent["phone"] == "905321234567"


@pytest.mark.parametrize(("text", "coding", "shown_as_sent"), [
    ("Order 1001 confirmed", "0", True),
    ("Siparişiniz 1001 onaylandı", "1", True),  # Ş ş Ğ ğ ç ı İ need 1 (datacoding table, Not-2)
    ("Ürün gönderildi", "0", True),  # Ö ö Ü ü Ç fit GSM
    ("Ваш заказ 1001 подтверждён", "2", True),  # Unicode: left out, Verimor would store GSM
])
def test_sms_send_sets_datacoding_as_documented(sim, ours, text, coding, shown_as_sent):
    ours.send_sms(to=PHONE, text=text, key=f"s-{coding}-{len(text)}")
    body = sim.requests(path="/v2/send.json")[-1].json()
    assert set(body) <= SEND_FIELDS and body["datacoding"] == coding
    assert all(set(m) <= {"msg", "dest", "id"} for m in body["messages"])
    assert (sim.sms_messages()[-1]["shown"] == text) is shown_as_sent
    assert_listed("verimor", sim.requests())


def test_without_datacoding_verimor_stores_cyrillic_as_gsm(sim):
    """user_guide.md: "Boş ise ... türkçe harf varsa 1, yoksa 0" — never 2 on its own (the simulator follows it)."""
    httpx.post(sim.base_url + "/v2/send.json", json={"username": USER, "password": PASSWORD, "messages": [
        {"msg": "Ваш заказ", "dest": "905321234567"}]}).raise_for_status()
    row = sim.sms_messages()[-1]
    assert (row["datacoding"], row["shown"]) == (0, "??? ?????")


def test_inbound_push_and_pull_samples_are_read():
    (push,) = verimor.parse_sms_push([INBOUND_PUSH], "application/json")
    assert push.received_at == datetime(2017, 1, 1, 9, 0, tzinfo=TR)
    pulled = verimor._inbound(INBOUND_PULL)
    assert (pulled.event_id, pulled.from_number, pulled.received_at) == (
        "1235", "+905444876543", datetime(2017, 1, 1, 10, 0, tzinfo=TR))
    (report,) = verimor.parse_sms_push([DLR_PUSH], "application/json")
    assert (report.provider_id, report.delivered, report.event_id) == ("20121", True, "13582303:DELIVERED")


def test_simulator_inbound_pull_and_push_have_the_documented_shapes(sim, ours, receiver_factory):
    push = receiver_factory(lambda hit: (200, "", "text/plain"))
    sim.set_sms_push_url(push.url + "/push")
    sim.inject_sms("05321234567", "evet 1001")
    got = ours.fetch_inbound_sms()
    raw = httpx.get(sim.base_url + "/v2/inbound_messages", params={"username": USER, "password": PASSWORD}).json()
    assert [set(m) for m in raw] == [set(INBOUND_PULL)]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+03:00", raw[0]["received_at"])
    assert got[0].received_at is not None and got[0].text == "evet 1001"
    sim.wait_for(lambda: push.hits, timeout=5)
    (item,) = httpx.Response(200, content=push.hits[0]["body"]).json()
    assert set(item) == set(INBOUND_PUSH)
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", item["received_at"])
    assert_listed("verimor", sim.requests())


def test_simulator_status_and_dlr_have_the_documented_fields(sim, ours, receiver_factory):
    push = receiver_factory(lambda hit: (200, "", "text/plain"))
    sim.set_sms_push_url(push.url + "/push")
    ours.send_sms(to=PHONE, text="Test", key="s-dlr")
    sim.wait_for(lambda: push.hits, timeout=10)
    (report,) = httpx.Response(200, content=push.hits[0]["body"]).json()
    assert set(report) == set(DLR_PUSH)
    status = httpx.get(sim.base_url + "/v2/status", params={"custom_id": "s-dlr", "username": USER,
                                                             "password": PASSWORD}).json()
    assert [set(r) for r in status] == [set(DLR_PUSH) - {"type"}]  # status rows: the push fields without `type`


def test_check_credentials_and_the_simulators_cdrs(sim, ours, receiver_factory):
    assert "PBX key OK" in str(ours.check_credentials())
    hook = receiver_factory(lambda hit: (200, "", "text/plain"))
    ours.start_confirmation_call(to=PHONE, text="Onay", language="tr", key="c3", digits={"1": "confirm"},
                                 webhook_url=hook.url + "/c")
    body = httpx.get(sim.base_url + "/cdrs", params={"key": KEY}).json()
    assert set(body) == {"cdrs", "pagination"} and set(body["pagination"]) == {"page", "total_count", "total_pages", "limit"}
    assert [set(c) for c in body["cdrs"]] == [CDR_FIELDS]
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d \+0300", body["cdrs"][0]["start_stamp"])
    assert httpx.get(sim.base_url + "/cdrs", params={"key": "K0"}).text.startswith("Gecersiz anahtar")
    assert_listed("verimor", [r for r in sim.requests() if r.method == "GET"])


def test_simulator_advisory_query_has_the_documented_parameters(sim, receiver_factory):
    """advisory_webhook.md: GET ?uuid=…&cli=…&cld=…&step=N; answer one action object."""
    pbx = receiver_factory(lambda hit: (200, '{"transfer": {"target": "queue/201"}}', "application/json"))
    steps = sim.pbx_call(pbx.url + "/decide", caller="05301234567", called="08505321234")
    query = httpx.URL(pbx.hits[0]["path"]).params
    assert set(query.keys()) == {"uuid", "cli", "cld", "step"} and query["step"] == "1"
    assert steps[-1]["action"] == "transfer" and steps[-1]["problems"] == []
