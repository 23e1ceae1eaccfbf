"""Verimor simulator: IVR campaigns + webhook, PBX decision queries, SMS API v2 and pushes."""

from __future__ import annotations

import json
import urllib.parse

import httpx
import pytest

from ocbridge.simulators.verimor import VerimorSimulator, sms_parts

KEY = "K12345678-1234-5678-4321-123456789012"
CREDS = {"username": "908501234567", "password": "sms-secret"}


@pytest.fixture
def sim():
    with VerimorSimulator(speed=1000) as s:
        s.set_customer_defaults(answer_delay=5, reply_delay=5)
        yield s


def campaign(sim, receiver, phone="05321234567", **extra):
    body = {"key": KEY, "call_type": "ivr", "name": "COD 1042", "webhook_url": f"{receiver.url}/ivr",
            "digit_target_1": "announcement/421", "digit_target_2": "announcement/422", "digit_target_0": "queue/200",
            "timeout_target": "announcement/423", "phone_list": [{"phone": phone, "phrase": "#429 1042 #430 102.45"}],
            **extra}
    return httpx.post(f"{sim.base_url}/ivr_campaigns.json", json=body)


def results(receiver):
    return [f for f in receiver.forms("/ivr") if f]  # the empty POST is the URL check


@pytest.mark.parametrize("outcome,digit,status", [
    ("confirm", "1", "Cevaplandı"), ("cancel", "2", "Cevaplandı"), ("agent", "0", "Cevaplandı"),
    ("timeout", "-", "Cevaplandı"), ("invalid", "!7", "Cevaplandı"),
    ("no_answer", "", "Cevapsız"), ("busy", "", "Meşgul"), ("failed", "", "Hatalı Numara"),
])
def test_campaign_webhook_per_outcome(sim, receiver, outcome, digit, status):
    sim.set_customer("05321234567", call=outcome)
    resp = campaign(sim, receiver)
    assert resp.status_code == 200 and resp.text.isdigit()
    sim.wait_for(lambda: results(receiver))
    [form] = results(receiver)
    assert set(form) == {"notification_id", "notification_date", "domain_id", "ivr_campaign_id", "ivr_campaign_name",
                         "ivr_lead_id", "phone", "digit", "status", "call_uuid"}
    assert (form["digit"], form["status"], form["phone"]) == (digit, status, "905321234567")
    assert form["ivr_campaign_id"] == resp.text and form["notification_date"].endswith(" UTC")
    assert receiver.posts("/ivr")[0]["body"] == ""  # URL validated with an empty POST first


def test_call_retries_redial_after_no_answer(sim, receiver):
    sim.set_customer("05321234567", call=["no_answer", "confirm"])
    campaign(sim, receiver, call_retries=1)
    sim.wait_for(lambda: len(results(receiver)) == 2)
    assert [f["digit"] for f in results(receiver)] == ["", "1"]


def test_webhook_url_must_answer_200(sim, receiver):
    receiver.reply("/ivr", (404, "nope"))
    resp = campaign(sim, receiver)
    assert resp.status_code == 400 and "webhook_url" in resp.text
    assert sim.campaigns() == []


@pytest.mark.parametrize("change,message", [
    ({"key": "Kbad"}, "Gecersiz anahtar: Kbad"), ({"name": ""}, "name can't be blank"),
    ({"phone_list": []}, "phone_list can't be blank"), ({"phone_list": [{"phone": "12"}]}, "phone is invalid: 12"),
    ({"ring_timeout": 10}, "ring_timeout must be between 25 and 60"), ({"digit_target_1": "nowhere/1"}, "target is invalid"),
    ({"is_commercial": True}, "iys_recipient_type is invalid"),
])
def test_campaign_validation_plain_text_400(sim, receiver, change, message):
    resp = campaign(sim, receiver, **change)
    assert resp.status_code == 400 and resp.headers["content-type"].startswith("text/plain")
    assert message in resp.text


def test_invalid_json(sim):
    resp = httpx.post(f"{sim.base_url}/ivr_campaigns.json", content=b"{x", headers={"Content-Type": "application/json"})
    assert (resp.status_code, resp.text) == (400, "INVALID_JSON")


def test_delete_campaign_stops_the_call(sim, receiver):
    sim.set_customer("05321234567", call="confirm", answer_delay=10_000)
    cid = campaign(sim, receiver).text
    assert httpx.delete(f"{sim.base_url}/ivr_campaigns/{cid}", params={"key": KEY}).text == "OK"
    again = httpx.delete(f"{sim.base_url}/ivr_campaigns/{cid}", params={"key": KEY})
    assert (again.status_code, again.text) == (400, f"Cannot find ivr_campaign with ID {cid}")
    assert sim.wait_idle(0.5) and results(receiver) == []


def test_pause_and_resume(sim, receiver):
    sim.set_customer("05321234567", call="confirm", answer_delay=200)
    cid = campaign(sim, receiver).text
    assert httpx.patch(f"{sim.base_url}/ivr_campaigns/{cid}", data={"key": KEY, "status": "off"}).text == "OK"
    assert sim.campaigns()[0]["status"] == "off"
    assert httpx.patch(f"{sim.base_url}/ivr_campaigns/{cid}", data={"key": KEY, "status": "on"}).text == "OK"
    sim.wait_for(lambda: results(receiver))


def test_pbx_call_follows_prompt_then_transfer(sim, receiver):
    receiver.reply("/decide", (200, json.dumps({"prompt": {"phrase": "Sipariş numaranızı girin", "min_digits": 3,
                                                           "max_digits": 8, "retry_count": 2}}), "application/json"),
                   (200, json.dumps({"transfer": {"target": "announcement/5", "greet_phrase": "Siparişiniz kargoda"}}),
                    "application/json"))
    transcript = sim.pbx_call(f"{receiver.url}/decide?t=secret", caller="05301234567", digits=["1042"])
    assert [(e["step"], e["action"], e["problems"]) for e in transcript] == [(1, "prompt", []), (2, "transfer", [])]
    q1, q2 = (dict(urllib.parse.parse_qsl(h["query"])) for h in receiver.posts("/decide"))
    assert q1["cli"] == "05301234567" and q1["step"] == "1" and q1["t"] == "secret"
    assert q2["uuid"] == q1["uuid"] and q2["step"] == "2" and q2["digits"] == "1042"


def test_pbx_call_reports_bad_answers(sim, receiver):
    receiver.reply("/decide", (200, json.dumps({"transfer": {"target": "x", "greet_phrase": "a" * 301}}),
                               "application/json"))
    [entry] = sim.pbx_call(f"{receiver.url}/decide", caller="05301234567")
    assert "transfer needs a valid target" in entry["problems"]
    assert "greet_phrase longer than 300 characters" in entry["problems"]


def send_sms(sim, messages, **extra):
    return httpx.post(f"{sim.base_url}/v2/send.json", json={**CREDS, "source_addr": "OCBRIDGE", "messages": messages,
                                                           **extra})


def test_sms_send_dlr_and_inbound_push(sim, receiver):
    sim.set_sms_push_url(f"{receiver.url}/push")
    sim.set_odds(sms_reply={"null": 1})  # the second number never answers (by default a random customer may)
    sim.set_customer("905321234567", sms_reply="Evet teşekkürler 🙏")
    resp = send_sms(sim, [{"msg": "Sipariş 1042 onay: EVET", "dest": "905321234567,905551112233", "id": "a1,a2"}],
                    custom_id="c-1")
    assert resp.status_code == 200 and resp.text.isdigit()
    receiver.wait(2, "/push")
    # The delivery report and the customer's reply are separate pushes; Verimor promises no order between them
    # (nor does the simulator's delivery pool), so each is told by its type.
    bodies = receiver.json_bodies("/push")
    [dlr] = [b for b in bodies if b[0]["type"] == "outbound"]
    [inbound] = [b for b in bodies if b[0]["type"] == "inbound"]
    assert {r["message_custom_id"] for r in dlr} == {"a1", "a2"} and {r["status"] for r in dlr} == {"DELIVERED"}
    assert dlr[0]["type"] == "outbound" and dlr[0]["campaign_custom_id"] == "c-1"
    assert inbound == [{**inbound[0], "type": "inbound", "source_addr": "905321234567", "content": "Evet teşekkürler 🙏"}]
    status = httpx.get(f"{sim.base_url}/v2/status", params={**CREDS, "custom_id": "c-1", "dest": "905551112233"}).json()
    assert [s["message_custom_id"] for s in status] == ["a2"]
    pulled = httpx.get(f"{sim.base_url}/v2/inbound_messages", params={**CREDS, "greater_than": 0}).json()
    assert pulled[0]["content"] == "Evet teşekkürler 🙏"


def test_double_send_same_day_is_reported(sim, receiver):
    sim.set_sms_push_url(f"{receiver.url}/push")
    sim.set_odds(sms_reply={"null": 1})
    for _ in range(2):
        send_sms(sim, [{"msg": "same text", "dest": "905321234567"}])
    receiver.wait(2, "/push")
    assert sorted(b[0]["status"] for b in receiver.json_bodies("/push")) == ["DELIVERED", "DOUBLE_SEND_ERROR"]


@pytest.mark.parametrize("messages,extra,code", [
    ([], {}, "MISSING_MESSAGE"), ([{"msg": "x", "dest": ""}], {}, "MISSING_DESTINATION_ADDRESS"),
    ([{"msg": "x", "dest": "12ab"}], {}, "INVALID_DESTINATION_ADDRESS"),
    ([{"msg": "ş" * 1100, "dest": "905321234567"}], {}, "MESSAGE_TOO_LONG"),
    ([{"msg": "x", "dest": "905321234567"}], {"source_addr": "OTHER"}, "INVALID_SOURCE_ADDRESS"),
    ([{"msg": "x", "dest": "905321234567"}], {"valid_for": "49:00"}, "INVALID_PERIOD"),
    ([{"msg": "x", "dest": "905321234567"}], {"datacoding": "5"}, "INVALID_DATACODING"),
])
def test_sms_send_errors(sim, messages, extra, code):
    resp = send_sms(sim, messages, **extra)
    assert (resp.status_code, resp.text) == (400, code)


def test_sms_auth_ip_and_credits(sim):
    bad = httpx.post(f"{sim.base_url}/v2/send.json", json={**CREDS, "password": "x", "messages": []})
    assert (bad.status_code, bad.text) == (401, "Geçersiz kullanıcı adı/şifre")
    sim.set_ip_allowed(False)
    assert send_sms(sim, [{"msg": "x", "dest": "905321234567"}]).text == "Hesabınızda izinli IP ayarları yapılmamış"
    sim.set_ip_allowed(True)
    sim.set_credits(0)
    assert send_sms(sim, [{"msg": "x", "dest": "905321234567"}]).text == "INSUFFICIENT_CREDITS"
    assert httpx.get(f"{sim.base_url}/v2/balance", params=CREDS).text == "0"
    assert httpx.get(f"{sim.base_url}/v2/headers", params=CREDS).json() == ["OCBRIDGE"]


def test_status_unknown_campaign_404(sim):
    resp = httpx.get(f"{sim.base_url}/v2/status", params={**CREDS, "id": "999"})
    assert (resp.status_code, resp.text) == (404, "Bu idye sahip kampanya bulunamadı")


def test_sms_rate_limit_429(sim):
    sim.set_rate_limit(rate=150 / 60, burst=1)
    codes = [send_sms(sim, [{"msg": f"m{n}", "dest": "905321234567"}]).status_code for n in range(2)]
    assert codes == [200, 429]


def test_push_retried_three_times_five_minutes_apart(sim, receiver):
    sim.set_sms_push_url(f"{receiver.url}/push")
    receiver.reply("/push", default=(500, "down"))
    sim.inject_sms("905321234567", "iptal")
    receiver.wait(4, "/push", timeout=3)  # 3 × 300 s at speed 1000 ≈ 0.9 s
    assert sim.wait_idle(1) and len(receiver.posts("/push")) == 4


def test_garbage_fault_is_not_a_campaign_id(sim, receiver):
    sim.fail_next("garbage", path="/ivr_campaigns")
    resp = campaign(sim, receiver)
    assert resp.status_code == 200 and not resp.text.strip().isdigit()


def test_sms_parts_table():
    assert [sms_parts("a" * n, 0) for n in (160, 161, 306, 307, 1071)] == [1, 2, 2, 3, 7]
    assert [sms_parts("ş" * n, 1) for n in (155, 156, 298, 1043)] == [1, 2, 2, 7]
    assert [sms_parts("я" * n, 2) for n in (70, 71, 134, 469)] == [1, 2, 2, 7]
    assert sms_parts("{" * 80, 0) == 1 and sms_parts("{" * 81, 0) == 2
