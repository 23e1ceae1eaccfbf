"""NetgsmClient against the Netgsm simulator over real HTTP: SMS, voice SMS, inbox, faults, exactly-once."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from ocbridge.core import clock
from ocbridge.core.choices import ExchangeOutcome, Level
from ocbridge.core.errors import RetryableError, TerminalError, UnknownOutcomeError
from ocbridge.core.models import Exchange
from ocbridge.services import netgsm
from ocbridge.services.base import WebhookFormatError
from ocbridge.services.netgsm import NetgsmClient
from ocbridge.simulators.netgsm import NetgsmSimulator

pytestmark = pytest.mark.django_db
USER, PASSWORD = "8503001122", "netgsm-pass-5678"
PHONE = "+905321234567"
DIGITS = {"1": "confirm", "2": "cancel", "0": "agent"}


@pytest.fixture
def sim():
    with NetgsmSimulator(usercode=USER, password=PASSWORD, msgheaders=("SHOP",), speed=200) as s:
        yield s


@pytest.fixture
def conn(sim, make_conn):
    return make_conn("netgsm", sim.base_url, {"usercode": USER, "password": PASSWORD}, {"msgheader": "SHOP"})


@pytest.fixture(autouse=True)
def _fast_inbox(monkeypatch):
    monkeypatch.setattr(netgsm, "INBOX_RATE", 100.0)  # 10/min in production; tests read the inbox back to back


def sms(client, key="s1", **kw):
    return client.send_sms(**{"to": PHONE, "text": "Sipariş 1001: EVET / HAYIR", "key": key, **kw})


def call(client, url="http://127.0.0.1:9/hook", key="c1", **kw):
    return client.start_confirmation_call(**{"to": PHONE, "text": "Siparişiniz 1001", "digits": DIGITS,
                                             "webhook_url": url, "key": key, "language": "tr", **kw})


def test_sms_happy_path(sim, conn, assert_masked):
    sent = sms(NetgsmClient(conn))
    row = sim.sms_messages()[0]
    assert (sent.provider_id, row["number"], row["msgheader"]) == (row["jobid"], "5321234567", "SHOP")
    assert sim.requests("/sms/rest/v2/send")[0].basic_auth() == (USER, PASSWORD)
    ex = Exchange.objects.get()
    assert (ex.outcome, ex.level, ex.key) == (ExchangeOutcome.OK, Level.INFO, "s1")
    assert_masked(PASSWORD)


def test_same_key_twice_is_one_sms(sim, conn):
    client = NetgsmClient(conn)
    assert sms(client) == sms(client)
    assert len(sim.requests("/sms/rest/v2/send")) == 1


def test_lost_answer_is_unknown_outcome(sim, conn, quick_http):
    sim.fail_next("timeout", seconds=2, after=True)
    with pytest.raises(RetryableError):
        sms(NetgsmClient(conn, http=quick_http("netgsm", sim.base_url)))
    with pytest.raises(UnknownOutcomeError):
        sms(NetgsmClient(conn))
    assert len(sim.requests("/sms/rest/v2/send")) == 1


@pytest.mark.parametrize("fault", ["500", "503"])
def test_5xx_is_retryable(sim, conn, fault):
    sim.fail_next(fault)
    with pytest.raises(RetryableError):
        sms(NetgsmClient(conn))
    assert (Exchange.objects.get().level, Exchange.objects.get().outcome) == (Level.WARNING, ExchangeOutcome.FAILED)


def test_rate_limit_code_80_is_retryable_after_a_minute(sim, conn):
    sim.fail_next("429")  # Netgsm's own answer: HTTP 406 {"code": "80"}
    with pytest.raises(RetryableError) as exc:
        sms(NetgsmClient(conn))
    assert (exc.value.code, exc.value.retry_after) == ("80", 60.0)
    assert Exchange.objects.get().level == Level.WARNING


def test_garbage_is_retryable_and_pending(sim, conn):
    sim.fail_next("garbage")
    with pytest.raises(RetryableError):
        sms(NetgsmClient(conn))
    assert Exchange.objects.get().outcome == ExchangeOutcome.PENDING


def test_bad_password_is_terminal_with_netgsms_text(sim, conn, assert_masked):
    conn.secret = {"usercode": USER, "password": "wrong-pass-000"}
    conn.save()
    with pytest.raises(TerminalError) as exc:
        sms(NetgsmClient(conn))
    assert exc.value.code == "30" and "Geçersiz kullanıcı adı" in exc.value.message
    assert Exchange.objects.get().level == Level.ERROR
    assert_masked("wrong-pass-000")
    # Netgsm's own words are Turkish: what they mean is said (core.sentences) for a reader of any language
    from django.utils import translation

    from ocbridge.core.sentences import words

    assert exc.value.message.startswith("user code or password (or the user's API access) refused: Geçersiz")
    with translation.override("ru"):
        assert words(exc.value).startswith("отклонено — код пользователя или пароль (или доступ пользователя к API): ")
    with translation.override("en"):  # the inbox poll's refusal, as the store page shows it
        with pytest.raises(TerminalError) as inbox:
            NetgsmClient(conn).fetch_inbound_sms()
        assert words(inbox.value).startswith("user code or password (or the user's API access) refused: Geçersiz")


def test_unknown_sender_name_is_terminal(sim, conn):
    with pytest.raises(TerminalError) as exc:
        sms(NetgsmClient(conn), sender="OTHER")
    assert exc.value.code == "40"


# --- voice SMS -------------------------------------------------------------------------------------------


def test_voice_call_and_its_webhook(sim, conn, receiver, assert_masked):
    sim.set_customer(PHONE, call="cancel", answer_delay=1)
    started = call(NetgsmClient(conn), url=receiver.url + "/voice")
    job = sim.voice_calls()[0]
    assert (started.provider_id, job["numbers"], job["relationid"], sorted(job["keys"])) == (
        job["bulkid"], ["5321234567"], netgsm.relation_id("c1"), ["0", "1", "2"])
    assert job["relationid"].isdigit()
    assert job["text"] == "Siparişiniz 1001"
    sim.wait_for(lambda: receiver.bodies("/voice"), timeout=10)
    result = netgsm.parse_call_result(receiver.bodies("/voice")[0], "application/json")
    assert (result.provider_id, result.outcome, result.digits, result.event_id) == (
        started.provider_id, "cancel", ["2"], f"{started.provider_id}:5321234567")
    assert_masked(PASSWORD)


def test_voice_bad_credentials_is_terminal(sim, conn):
    conn.secret = {"usercode": USER, "password": "nope-nope"}
    conn.save()
    with pytest.raises(TerminalError) as exc:
        call(NetgsmClient(conn))
    assert exc.value.code == "30"


def test_voice_garbage_then_unknown_outcome(sim, conn):
    sim.fail_next("garbage")
    with pytest.raises(RetryableError):
        call(NetgsmClient(conn))
    with pytest.raises(UnknownOutcomeError):
        call(NetgsmClient(conn))


def test_voice_same_key_twice_is_one_job(sim, conn):
    client = NetgsmClient(conn)
    assert call(client) == call(client)
    assert len(sim.voice_calls()) == 1


def test_voice_only_speaks_turkish(sim, conn):
    with pytest.raises(TerminalError):
        call(NetgsmClient(conn), language="ru")
    assert sim.requests() == []


# --- inbox and checks ------------------------------------------------------------------------------------


def test_inbox_is_read_once_and_rereadable_by_date(sim, conn):
    client = NetgsmClient(conn)
    assert client.fetch_inbound_sms() == []  # code 40: nothing to show
    sim.inject_sms("05321234567", "evet 1001")
    first = client.fetch_inbound_sms()
    assert [(m.from_number, m.text) for m in first] == [(PHONE, "evet 1001")]
    assert first[0].received_at is not None
    assert client.fetch_inbound_sms() == []
    again = client.fetch_inbound_sms(start=clock.now() - timedelta(minutes=5), stop=clock.now() + timedelta(minutes=1))
    assert [m.event_id for m in again] == [first[0].event_id]
    assert all(ex.level == Level.INFO for ex in Exchange.objects.all())


def test_inbox_row_with_object_or_nul_text_is_skipped_not_read_as_its_repr(sim, conn):
    sim.inject_sms("05321234567", {"body": "evet"})  # str() would give "{'body': 'evet'}", read as a yes
    sim.inject_sms("05321234568", "iptal\x00")  # PostgreSQL stores no NUL in the job's payload
    sim.inject_sms("05321234569", "evet 1002")
    assert [m.text for m in NetgsmClient(conn).fetch_inbound_sms()] == ["evet 1002"]


def test_check_credentials_lists_sender_names(sim, conn):
    assert "SHOP" in str(NetgsmClient(conn).check_credentials())


# --- parser ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("state,push,outcome,digits", [
    (1, "1", "confirm", ["1"]), (1, 0, "agent", ["0"]), (1, "-1", "no_answer", []), (1, None, "no_answer", []),
    (1, "5", "invalid", ["5"]), (2, None, "no_answer", []), (3, None, "failed", []), (7, None, "busy", []),
])
def test_voice_webhook_outcomes(state, push, outcome, digits):
    body = json.dumps({"bulkid": "123", "callee": "5321234567", "state": state, "detail": {"push_button": push}})
    res = netgsm.parse_call_result(body.encode(), "application/json")
    assert (res.outcome, res.digits, res.provider_id) == (outcome, digits, "123")


@pytest.mark.parametrize("body", [b"", b"<xml/>", b"[]", b'{"callee": "5", "state": 1}', b'{"bulkid": "1", "state": 1}'])
def test_malformed_voice_webhook(body):
    with pytest.raises(WebhookFormatError):
        netgsm.parse_call_result(body, "application/json")


def test_no_push_parsers_for_sms():
    assert not hasattr(netgsm, "parse_inbound_sms") and not hasattr(netgsm, "parse_delivery_report")


def test_our_reference_is_the_relationid_and_comes_back_in_the_webhook(sim, conn, receiver):
    """Netgsm echoes `relationid` (a number, voicemail README) in the voice webhook: our correlation number."""
    sim.set_customer(PHONE, call="confirm", answer_delay=1)
    call(NetgsmClient(conn), url=receiver.url + "/voice", reference="123456789012")
    assert sim.voice_calls()[0]["relationid"] == "123456789012"
    sim.wait_for(lambda: receiver.bodies("/voice"), timeout=10)
    assert netgsm.parse_call_result(receiver.bodies("/voice")[0], "application/json").reference == "123456789012"
    assert NetgsmClient.capabilities.answer_window >= 3600  # a voice message may ring for its whole 1 h window
