"""Twilio voice: the simulator signs and posts to our voice webhook and follows the TwiML we answer."""

from __future__ import annotations

import httpx
import pytest
from integrations.order_lookup.lookup_helpers import add_order, index, said, twilio_inbound

from ocbridge.core.choices import ExchangeOutcome
from ocbridge.core.models import Exchange
from ocbridge.integrations.order_lookup.choices import CallOutcome, Reason
from ocbridge.integrations.order_lookup.models import LookupCall

pytestmark = pytest.mark.django_db(transaction=True)
CALLER = "+905321234567"


@pytest.fixture
def line(twilio, make_line):
    def make(store, **settings):
        return make_line(store, "twilio", secret={"account_sid": twilio.account_sid, "auth_token": twilio.auth_token},
                         **settings)

    return make


def test_one_order_said_in_turkish_then_goodbye(hub, twilio, shop_db, make_store, line):
    store = make_store(shop_db)
    conn = line(store)
    add_order(shop_db, 1101, telephone="0532 123 45 67", status=3)
    index(store)
    call = twilio_inbound(twilio, conn.webhook_url("voice"), caller=CALLER)
    assert call["errors"] == []
    heard = said(call)
    assert "1101 numaralı siparişinizin durumu: Kargoya Verildi." in heard[0]
    assert [v["verb"] for v in call["transcript"]][-1] == "Hangup"
    gather = next(v for v in call["transcript"] if v["verb"] == "Gather")
    assert gather["action"] == conn.webhook_url("voice")
    assert next(v for v in call["transcript"] if v["verb"] == "Say")["language"] == "tr-TR"
    assert LookupCall.objects.get().outcome == CallOutcome.ANSWERED


def test_several_orders_then_zero_dials_the_representative(hub, twilio, shop_db, make_store, line):
    store = make_store(shop_db)
    conn = line(store, rep_target="0212 963 01 31")
    add_order(shop_db, 1201, telephone="+90 532 123 4567", status=5, days_ago=4)
    add_order(shop_db, 1202, telephone="0532 123 45 67", status=2, days_ago=1)
    index(store)
    call = twilio_inbound(twilio, conn.webhook_url("voice"), caller=CALLER, presses=["1", "0"])
    heard = said(call)
    assert "1202 numaralı" in heard[0] and "1201 numaralı" in heard[1] and "Tamamlandı" in heard[1]
    dial = call["transcript"][-1]
    assert (dial["verb"], dial["text"]) == ("Dial", "+902129630131")
    c = LookupCall.objects.get()
    assert (c.outcome, c.reason, c.order_id) == (CallOutcome.TRANSFERRED, Reason.REP_REQUESTED, 1201)


def test_keypad_order_of_another_phone_is_not_said(hub, twilio, shop_db, make_store, line):
    store = make_store(shop_db)
    conn = line(store)
    add_order(shop_db, 1301, telephone="0544 987 65 43", status=3)
    index(store)
    call = twilio_inbound(twilio, conn.webhook_url("voice"), caller=CALLER, presses=["1301#"])
    heard = " ".join(said(call))
    assert "1301" not in heard and "Kargo" not in heard
    assert call["transcript"][-1]["verb"] == "Dial"
    assert LookupCall.objects.get().reason == Reason.PHONE_MISMATCH


def test_keypad_order_of_the_callers_phone_is_said(hub, twilio, shop_db, make_store, line):
    store = make_store(shop_db)
    conn = line(store)
    index(store)
    add_order(shop_db, 1401, telephone="(532) 123-45-67", status=15)
    call = twilio_inbound(twilio, conn.webhook_url("voice"), caller=CALLER, presses=["1401", ""])
    heard = said(call)
    assert "bulamadık" in heard[0] and "1401 numaralı siparişinizin durumu: İşlendi." in heard[1]


def test_english_store_speaks_english(hub, twilio, opencart_db, make_store, line):
    h = opencart_db("4.0")
    store = make_store(h, language="en")
    conn = line(store, read_total=True)
    add_order(h, 1501, telephone="0532 123 45 67", status=3, total="102.45")
    index(store)
    call = twilio_inbound(twilio, conn.webhook_url("voice"), caller=CALLER)
    heard = said(call)
    assert "Your order 1501 is Shipped. Total 102.45 Turkish lira." in heard[0]
    assert call["transcript"][0]["language"] == "en-US"


def test_bad_signature_is_refused_with_403(hub, twilio, opencart_db, make_store, line):
    store = make_store(opencart_db("3.0"))
    conn = line(store)
    form = {"CallSid": "CA1", "From": CALLER, "To": "+15005550006"}
    resp = httpx.post(conn.webhook_url("voice"), data=form, headers={"X-Twilio-Signature": "bm90IGEgc2lnbmF0dXJl"})
    assert resp.status_code == 403
    assert httpx.post(conn.webhook_url("voice"), data=form).status_code == 403
    assert not LookupCall.objects.exists()
    assert Exchange.objects.filter(outcome=ExchangeOutcome.REJECTED).count() == 2
    good = httpx.post(conn.webhook_url("voice"), data=form,
                      headers={"X-Twilio-Signature": twilio.sign(conn.webhook_url("voice"), form)})
    assert good.status_code == 200 and good.text.startswith("<?xml") and "<Gather" in good.text


@pytest.mark.parametrize("caller", ["anonymous", "+266696687", ""])  # +266696687: how Twilio writes ANONYMOUS
def test_withheld_number_goes_to_the_representative(hub, twilio, opencart_db, make_store, line, caller):
    store = make_store(opencart_db("3.0"))
    conn = line(store)
    call = twilio_inbound(twilio, conn.webhook_url("voice"), caller=caller)
    assert call["transcript"][-1]["verb"] == "Dial"
    assert LookupCall.objects.get().reason == Reason.HIDDEN_CALLER
