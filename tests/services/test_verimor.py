"""VerimorClient against the Verimor simulator over real HTTP: campaigns, SMS, faults, exactly-once, pushes."""

from __future__ import annotations

import json

import pytest

from ocbridge.core.choices import Direction, ExchangeOutcome, Level
from ocbridge.core.errors import RetryableError, TerminalError, UnknownOutcomeError
from ocbridge.core.models import Exchange
from ocbridge.services import verimor
from ocbridge.services.base import DeliveryReport, InboundSms, WebhookFormatError
from ocbridge.services.verimor import VerimorClient
from ocbridge.simulators.base import Response
from ocbridge.simulators.verimor import VerimorSimulator

pytestmark = pytest.mark.django_db
KEY = "K12345678-aaaa-bbbb-cccc-123456789012"
USER, PASSWORD = "908501234567", "sms-pass-1234"
PHONE = "+905321234567"
DIGITS = {"1": "confirm", "2": "cancel", "0": "agent"}


class VerimorWithCdrs(VerimorSimulator):
    """The simulator plus GET /cdrs (the PBX key check), which the shared simulator does not serve yet."""

    routes = VerimorSimulator.routes + [("GET", r"/cdrs", "cdrs")]

    def cdrs(self, req):
        self._check_key(req.arg("key"))
        return Response.json({"cdrs": [], "pagination": {"page": 1, "total_count": 0, "total_pages": 0, "limit": 10}})


@pytest.fixture
def sim():
    with VerimorWithCdrs(api_key=KEY, sms_username=USER, sms_password=PASSWORD, speed=200) as s:
        yield s


@pytest.fixture
def conn(sim, make_conn):
    return make_conn("verimor", sim.base_url, {"key": KEY, "username": USER, "password": PASSWORD})


def call(client, url, key="k1", **kw):
    args = dict(to=PHONE, text="Siparişiniz 1001 toplam 102.45", digits=DIGITS, webhook_url=url, key=key,
                language="tr", rep_target="queue/100")
    return client.start_confirmation_call(**{**args, **kw})


def test_campaign_happy_path(sim, conn, receiver, assert_masked):
    started = call(VerimorClient(conn), receiver.url + "/call", caller_id="+902129630131")
    campaign = sim.campaigns()[0]
    assert started.provider_id == str(campaign["id"])
    req = campaign["request"]
    assert (req["name"], req["phone_list"][0]["phone"], req["phone_list"][0]["lang"]) == ("k1", "905321234567", "tr-TR")
    assert (req["digit_target_1"], req["digit_target_2"], req["digit_target_0"]) == ("hangup/hangup", "hangup/hangup", "queue/100")
    assert req["cli"] == "902129630131"
    assert Exchange.objects.get().level == Level.INFO
    assert_masked(KEY)


def test_webhook_of_a_real_campaign_parses(sim, conn, receiver):
    sim.set_customer(PHONE, call="confirm", answer_delay=1)
    started = call(VerimorClient(conn), receiver.url + "/call")
    sim.wait_for(lambda: len(receiver.bodies("/call")) >= 1, timeout=10)
    result = verimor.parse_call_result(receiver.bodies("/call")[0], "application/x-www-form-urlencoded")
    assert (result.provider_id, result.outcome, result.digits, result.raw_status) == (
        started.provider_id, "confirm", ["1"], "Cevaplandı")
    assert verimor.parse_call_result({}, "application/x-www-form-urlencoded") is None  # the URL validation POST


def test_same_key_twice_is_one_campaign(sim, conn, receiver):
    client = VerimorClient(conn)
    assert call(client, receiver.url) == call(client, receiver.url)
    assert len(sim.requests("/ivr_campaigns.json")) == 1


def test_lost_answer_for_a_campaign_is_unknown_outcome(sim, conn, receiver, quick_http):
    sim.fail_next("timeout", seconds=2, after=True)
    with pytest.raises(RetryableError):
        call(VerimorClient(conn, http=quick_http("verimor", sim.base_url)), receiver.url)
    assert Exchange.objects.get().outcome == ExchangeOutcome.PENDING
    with pytest.raises(UnknownOutcomeError):
        call(VerimorClient(conn), receiver.url)
    assert len(sim.requests("/ivr_campaigns.json")) == 1


@pytest.mark.parametrize("fault", ["500", "503"])
def test_5xx_is_retryable(sim, conn, receiver, fault):
    sim.fail_next(fault)
    with pytest.raises(RetryableError):
        call(VerimorClient(conn), receiver.url)
    assert Exchange.objects.get().level == Level.WARNING


def test_429_is_retryable_with_retry_after(sim, conn, receiver):
    sim.fail_next("429", retry_after=4)
    with pytest.raises(RetryableError) as exc:
        call(VerimorClient(conn), receiver.url)
    assert exc.value.retry_after == 4


def test_garbage_is_retryable_and_pending(sim, conn, receiver):
    sim.fail_next("garbage")
    with pytest.raises(RetryableError):
        call(VerimorClient(conn), receiver.url)
    assert (Exchange.objects.get().outcome, Exchange.objects.get().level) == (ExchangeOutcome.PENDING, Level.WARNING)


def test_bad_key_is_terminal_with_verimors_text_and_key_masked(sim, conn, receiver, assert_masked):
    conn.secret = {"key": "K99999999-wrong-key-000"}
    conn.save()
    with pytest.raises(TerminalError) as exc:
        call(VerimorClient(conn), receiver.url)
    assert exc.value.message.startswith("Gecersiz anahtar")
    assert Exchange.objects.get().level == Level.ERROR
    assert_masked("K99999999-wrong-key-000")


def test_webhook_url_refused_is_terminal_with_message(sim, conn):
    with pytest.raises(TerminalError) as exc:
        call(VerimorClient(conn), "http://127.0.0.1:9/hooks/x")
    assert "webhook_url did not answer 200" in exc.value.message


def test_russian_is_refused_before_sending(sim, conn, receiver):
    with pytest.raises(TerminalError) as exc:
        call(VerimorClient(conn), receiver.url, language="ru")
    assert exc.value.code == "unsupported_language" and sim.requests() == []


# --- SMS -----------------------------------------------------------------------------------------------


def test_sms_happy_path_carries_custom_id(sim, conn, assert_masked):
    sent = VerimorClient(conn).send_sms(to=PHONE, text="Sipariş 1001: EVET/HAYIR", key="s1")
    row = sim.sms_messages()[0]
    assert (sent.provider_id, row["campaign_custom_id"], row["dest"]) == (str(row["campaign_id"]), "s1", "905321234567")
    assert_masked(PASSWORD)


def test_sms_lost_answer_is_recovered_by_custom_id(sim, conn, quick_http, assert_masked):
    sim.fail_next("timeout", seconds=2, after=True, path="/v2/send.json")
    with pytest.raises(RetryableError):
        VerimorClient(conn, http=quick_http("verimor", sim.base_url)).send_sms(to=PHONE, text="t", key="s1")
    sent = VerimorClient(conn).send_sms(to=PHONE, text="t", key="s1")
    assert sent.provider_id == str(sim.sms_messages()[0]["campaign_id"])
    assert len(sim.requests("/v2/send.json")) == 1
    assert sim.requests("/v2/status")[0].arg("custom_id") == "s1"
    assert_masked(PASSWORD)  # the status query carries the password in its URL


def test_sms_pending_row_unknown_to_verimor_is_sent(sim, conn):
    Exchange.objects.create(service="verimor", direction=Direction.OUT, key="s1", outcome=ExchangeOutcome.PENDING)
    VerimorClient(conn).send_sms(to=PHONE, text="t", key="s1")
    assert len(sim.sms_messages()) == 1


def test_sms_ip_not_allowed_is_terminal(sim, conn, assert_masked):
    sim.set_ip_allowed(False)
    with pytest.raises(TerminalError) as exc:
        VerimorClient(conn).send_sms(to=PHONE, text="t", key="s1")
    assert "izinli IP" in exc.value.message
    assert_masked(PASSWORD)


def test_sms_provider_code_is_terminal(sim, conn):
    sim.set_credits(0)
    with pytest.raises(TerminalError) as exc:
        VerimorClient(conn).send_sms(to=PHONE, text="t", key="s1")
    assert exc.value.message == "INSUFFICIENT_CREDITS"


def test_check_credentials_both_parts(sim, conn):
    assert str(VerimorClient(conn).check_credentials()) == "SMS account OK, balance 10000; PBX key OK"
    conn.secret = {"key": "K0-bad"}
    conn.save()
    with pytest.raises(TerminalError):
        VerimorClient(conn).check_credentials()


def test_pushes_of_a_real_sms_parse(sim, conn, receiver):
    sim.set_sms_push_url(receiver.url + "/push")
    sim.set_customer(PHONE, sms_reply="evet", reply_delay=1)
    sent = VerimorClient(conn).send_sms(to=PHONE, text="Sipariş 1001", key="s1")
    sim.wait_for(lambda: len(receiver.bodies("/push")) >= 2, timeout=10)
    events = [e for body in receiver.bodies("/push") for e in verimor.parse_sms_push(body)]
    report = next(e for e in events if isinstance(e, DeliveryReport))
    inbound = next(e for e in events if isinstance(e, InboundSms))
    assert (report.provider_id, report.delivered, report.status) == (sent.provider_id, True, "DELIVERED")
    assert (inbound.from_number, inbound.text) == (PHONE, "evet")
    assert [m.text for m in VerimorClient(conn).fetch_inbound_sms()] == ["evet"]


@pytest.mark.parametrize("digit,status,outcome,digits", [
    ("", "Cevapsız", "no_answer", []), ("", "Meşgul", "busy", []), ("", "Reddedildi", "busy", []),
    ("", "Hatalı Numara", "failed", []), ("-", "Cevaplandı", "no_answer", []), ("!4", "Cevaplandı", "invalid", ["4"]),
    ("2", "Cevaplandı", "cancel", ["2"]), ("0", "Cevaplandı", "agent", ["0"]),
])
def test_campaign_webhook_outcomes(digit, status, outcome, digits):
    form = {"notification_id": "7", "ivr_campaign_id": "20212", "phone": "905321234567", "digit": digit,
            "status": status}
    res = verimor.parse_call_result(form, "application/x-www-form-urlencoded")
    assert (res.event_id, res.provider_id, res.outcome, res.digits) == ("7", "20212", outcome, digits)


@pytest.mark.parametrize("form", [{"digit": "1", "ivr_campaign_id": "1"}, {"notification_id": "1", "digit": "1"},
                                  {"notification_id": "1", "ivr_campaign_id": "1"}])
def test_campaign_webhook_missing_fields(form):
    with pytest.raises(WebhookFormatError):
        verimor.parse_call_result(form, "application/x-www-form-urlencoded")


@pytest.mark.parametrize("body", [b"not json", b'"x"', b'[{"message_id": 1}]', b'[{"type": "inbound"}]',
                                  json.dumps([{"type": "inbound", "message_id": 1, "source_addr": "905321234567",
                                               "received_at": "yesterday"}]).encode()])
def test_malformed_push_raises_webhook_format_error(body):
    with pytest.raises(WebhookFormatError):
        verimor.parse_sms_push(body, "application/json")


def test_report_statuses_and_empty_push():
    item = {"type": "outbound", "campaign_id": 5, "message_id": "9", "status": "NOT_DELIVERED", "gsm_error": "27"}
    report = verimor.parse_delivery_report(json.dumps([item]).encode(), "application/json")
    assert (report.event_id, report.delivered, report.status) == ("9:NOT_DELIVERED", False, "NOT_DELIVERED (gsm_error 27)")
    waiting = verimor.parse_delivery_report(json.dumps([{**item, "status": "WAITING"}]).encode(), "application/json")
    assert waiting.delivered is None
    assert verimor.parse_inbound_sms(json.dumps([item]).encode(), "application/json") is None
    assert verimor.parse_sms_push(b"", "application/json") == []


def test_our_reference_comes_back_in_the_campaign_webhook_and_the_sms_report(sim, conn, receiver):
    """The outbox's correlation number rides in the campaign name and the SMS custom_id; Verimor echoes both
    (ivr_campaign_name, campaign_custom_id), so a result still matches an attempt whose answer was lost."""
    sim.set_customer(PHONE, call="confirm", answer_delay=1)
    call(VerimorClient(conn), receiver.url + "/call", reference="123456789012")
    assert sim.campaigns()[0]["name"] == "123456789012"
    sim.wait_for(lambda: len(receiver.bodies("/call")) >= 1, timeout=10)
    result = verimor.parse_call_result(receiver.bodies("/call")[0], "application/x-www-form-urlencoded")
    assert result.reference == "123456789012"
    report = verimor.parse_delivery_report([{"type": "outbound", "campaign_id": 9, "message_id": 1, "status": "UNDELIVERED",
                                             "campaign_custom_id": "123456789013"}], "application/json")
    assert report.reference == "123456789013"
