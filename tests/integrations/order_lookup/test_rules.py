"""Pure decisions and texts: the call flow, privacy, the Verimor 300-character limit, TwiML."""

from __future__ import annotations

import datetime as dt
import json
import xml.etree.ElementTree as ET
from decimal import Decimal

from ocbridge.integrations.order_lookup import mappers, rules
from ocbridge.integrations.order_lookup.choices import CallOutcome, Reason
from ocbridge.integrations.order_lookup.config import OrderLookupConfig
from ocbridge.integrations.order_lookup.rules import OrderView
from ocbridge.simulators.verimor import check_decision

ME = "+905321234567"


def order(order_id=42, status=3, phone=ME, **kw) -> OrderView:
    return OrderView(order_id=order_id, label=str(order_id), status_id=status, status_name="Kargoya Verildi",
                     phone=phone, total=Decimal("102.45"), currency="TRY", date_added=dt.datetime(2026, 11, 15, 10),
                     **kw)


def test_guard_order_unknown_line_hidden_then_rate_limit():
    cfg = OrderLookupConfig(lines=["908501234567"])
    assert rules.guard(cfg, called="02129999999", caller=ME, recent_lookups=0) == Reason.UNKNOWN_LINE
    assert rules.guard(cfg, called="0850 123 45 67", caller=None, recent_lookups=0) == Reason.HIDDEN_CALLER
    assert rules.guard(cfg, called="908501234567", caller=ME, recent_lookups=5) == Reason.RATE_LIMITED
    assert rules.guard(cfg, called="908501234567", caller=ME, recent_lookups=4) is None


def test_keypad_order_is_spoken_only_for_the_same_phone():
    cfg = OrderLookupConfig()
    assert rules.after_order_number(cfg, ME, order(phone="+905449876543")).reason == Reason.PHONE_MISMATCH
    assert rules.after_order_number(cfg, ME, order(phone=None)).reason == Reason.PHONE_MISMATCH
    assert rules.after_order_number(cfg, ME, None).reason == Reason.NOT_FOUND
    ok = rules.after_order_number(cfg, ME, order())
    assert (ok.action, ok.order_id, ok.outcome) == ("prompt", 42, CallOutcome.IN_PROGRESS)


def test_status_outside_the_spoken_list_goes_to_a_person():
    cfg = OrderLookupConfig(spoken_statuses=[3, 5])
    assert rules.after_phone_lookup(cfg, order(status=7), 1).reason == Reason.STATUS_NOT_SPOKEN
    assert rules.after_phone_lookup(cfg, order(status=3), 1).action == "prompt"


def test_menu_keys():
    cfg = OrderLookupConfig()
    assert rules.after_menu(cfg, "0", None, 0).reason == Reason.REP_REQUESTED
    assert rules.after_menu(cfg, "1", order(7), 0).order_id == 7
    assert rules.after_menu(cfg, "", None, 0).outcome == CallOutcome.ANSWERED
    assert rules.parse_order_number("1234#") == 1234 and rules.parse_order_number("12a") is None
    assert rules.parse_order_number("0") is None and rules.parse_order_number("1" * 11) is None


def test_own_phrase_and_details_in_order():
    cfg = OrderLookupConfig(read_total=True, read_date=True, read_comment=True,
                            status_phrases={"3": {"tr": "kargoya verildi, yarın elinizde"}})
    text = mappers.say(cfg, rules.speak(cfg, order(comment="<b>Yurtiçi</b> takip 123456 https://x.y/z"), more=0),
                       "tr", "Demo")
    assert text == ("42 numaralı siparişinizin durumu: kargoya verildi, yarın elinizde. Tutar 102.45 TL. "
                    "Sipariş tarihi 15/11/2026. Son bilgi: Yurtiçi takip 123456. "
                    "Müşteri temsilcisine bağlanmak için 0'a basınız.")


def test_verimor_phrase_fits_300_characters_dropping_details_first():
    cfg = OrderLookupConfig(read_total=True, read_date=True, read_comment=True,
                            greetings={"tr": "Çok uzun bir karşılama " * 8})
    d = rules.speak(cfg, order(comment="takip numarası " * 20), more=2, greet=True)
    answer = mappers.verimor_answer(cfg, d, "tr", "Demo")
    assert check_decision(answer) == ("prompt", [])
    phrase = answer["prompt"]["phrase"]
    assert len(phrase) <= 300 and "42 numaralı siparişinizin durumu" in phrase and "1'e" in phrase


def test_verimor_targets_and_russian_falls_back_to_turkish_speech():
    assert mappers.verimor_target("queue/100") == "queue/100"
    assert mappers.verimor_target("0212 963 01 31") == "external/02129630131"
    assert mappers.verimor_target("") == "hangup/hangup"
    answer = mappers.verimor_answer(OrderLookupConfig(), rules.transfer(Reason.DB_DOWN), "ru", "Demo")
    assert answer["transfer"]["lang"] == "tr-TR" and check_decision(answer)[1] == []


def test_twiml_prompt_gathers_and_comes_back_even_without_keys():
    cfg = OrderLookupConfig(twilio_voice="Polly.Filiz")
    xml = mappers.twiml(cfg, rules.after_phone_lookup(cfg, None, 0), "tr", "A & B", "https://hub/x?a=1&b=2")
    root = ET.fromstring(xml.split("?>", 1)[1])
    gather = root.find("Gather")
    assert gather.get("action") == "https://hub/x?a=1&b=2" and gather.get("actionOnEmptyResult") == "true"
    assert gather.get("finishOnKey") == "#" and gather.find("Say").get("voice") == "Polly.Filiz"
    assert "A & B" in gather.find("Say").text


def test_twilio_dials_phone_numbers_only():
    assert mappers.twilio_dial_number("0212 963 01 31") == "+902129630131"
    assert mappers.twilio_dial_number("external/905321234567") == "+905321234567"
    assert mappers.twilio_dial_number("queue/100") is None
    xml = mappers.twiml(OrderLookupConfig(rep_target="queue/100"), rules.transfer(Reason.DB_DOWN), "en", "S", "")
    assert "<Hangup/>" in xml and "<Dial>" not in xml


def test_config_round_trip_ignores_unknown_keys():
    cfg = OrderLookupConfig.from_settings({"lines": ["0850 123 45 67"], "spoken_statuses": ["3"], "junk": 1})
    assert cfg.lines == ["08501234567"] and cfg.spoken_statuses == [3]
    assert OrderLookupConfig.from_settings(json.loads(json.dumps(cfg.to_settings()))) == cfg
    assert cfg.answers_line("908501234567") and not cfg.answers_line("")
