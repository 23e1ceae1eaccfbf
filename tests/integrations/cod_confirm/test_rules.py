"""Pure rules: COD detection, skip reasons, channels, allowed hours, SMS replies in any casing, keypad intents."""

import datetime as dt
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from ocbridge.integrations.cod_confirm.config import CodConfirmConfig
from ocbridge.integrations.cod_confirm.mappers import TemplateError, check_template, fill
from ocbridge.integrations.cod_confirm.rules import (
    call_intent,
    is_cod,
    next_allowed,
    parse_reply,
    skip_reason,
    step_skip_reason,
)

CFG = CodConfirmConfig()
IST = ZoneInfo("Europe/Istanbul")


@pytest.mark.parametrize("code,expected", [("cod", True), ("cod.cod", True), ("COD", True), ("bank_transfer", False),
                                           ("", False), ("kapida_odeme", False)])
def test_cod_by_code_not_title(code, expected):
    assert is_cod(code, CFG) is expected


def test_owner_picked_third_party_code_counts():
    assert is_cod("kapida_odeme", CodConfirmConfig(cod_codes=["cod", "kapida_odeme"]))


def test_skip_reasons():
    cfg = CodConfirmConfig(min_total=Decimal("50"), max_total=Decimal("5000"), skip_after_completed_orders=3)
    assert "below" in skip_reason(total=Decimal("10"), completed_orders=0, cfg=cfg)
    assert "above" in skip_reason(total=Decimal("9000"), completed_orders=0, cfg=cfg)
    assert "completed" in skip_reason(total=Decimal("100"), completed_orders=3, cfg=cfg)
    assert skip_reason(total=Decimal("100"), completed_orders=2, cfg=cfg) is None


def test_whatsapp_is_off_for_russian_numbers_by_region_not_by_the_plus_7_prefix():
    russian, kazakh, turkish = "+79123456789", "+77011234567", "+905321234567"
    assert "RU" in step_skip_reason("whatsapp", russian, CFG)
    assert step_skip_reason("whatsapp", kazakh, CFG) is None  # +7 too, but Kazakhstan
    assert step_skip_reason("whatsapp", turkish, CFG) is None
    assert step_skip_reason("call", russian, CFG) is None and step_skip_reason("sms", russian, CFG) is None


def test_whatsapp_countries_chosen_by_the_store():
    only_tr = CodConfirmConfig(whatsapp_countries=["TR"])
    assert step_skip_reason("whatsapp", "+905321234567", only_tr) is None
    assert "KZ" in step_skip_reason("whatsapp", "+77011234567", only_tr)
    everywhere = CodConfirmConfig(whatsapp_off_countries=[])
    assert step_skip_reason("whatsapp", "+79123456789", everywhere) is None


def test_calls_and_sms_have_their_own_country_lists():
    only_tr_calls = CodConfirmConfig(call_countries=["TR"], sms_countries=["TR", "AZ"])
    assert step_skip_reason("call", "+905321234567", only_tr_calls) is None
    assert step_skip_reason("call", "+994501234567", only_tr_calls) == "calls are not made to numbers in AZ"
    assert step_skip_reason("sms", "+994501234567", only_tr_calls) is None
    assert step_skip_reason("sms", "+77011234567", only_tr_calls) == "SMS is not sent to numbers in KZ"


def test_night_order_waits_for_nine_in_the_store_time_zone():
    # 23:30 in Istanbul (UTC+3) on a Monday → 09:00 Tuesday local = 06:00 UTC
    late = dt.datetime(2026, 5, 4, 20, 30, tzinfo=dt.timezone.utc)
    assert next_allowed(late, CFG, IST) == dt.datetime(2026, 5, 5, 6, 0, tzinfo=dt.timezone.utc)
    inside = dt.datetime(2026, 5, 4, 12, 0, tzinfo=dt.timezone.utc)
    assert next_allowed(inside, CFG, IST) == inside


def test_closed_days_are_skipped():
    cfg = CodConfirmConfig(day_hours={**CodConfirmConfig().day_hours, "6": None})  # no calls on Sunday
    sunday_noon = dt.datetime(2026, 5, 10, 9, 0, tzinfo=dt.timezone.utc)
    assert next_allowed(sunday_noon, cfg, IST).date() == dt.date(2026, 5, 11)


@pytest.mark.parametrize("text", ["EVET", "Evet", "evet", "ONAY", "onaylıyorum", "1", " 1 ", "Evet teşekkürler 🙏",
                                  "да", "ДА", "Да!", "da", "yes", "OK.", "tamam", "dA"])
def test_confirm_replies(text):
    assert parse_reply(text)[0] == "confirm"


@pytest.mark.parametrize("text", ["İPTAL", "iptal", "IPTAL", "ıptal", "İptal", "iptal et", "hayır", "HAYIR", "hayir",
                                  "2", "нет", "НЕТ", "Нет.", "net", "no", "vazgeç", "нeт"])
def test_cancel_replies(text):
    assert parse_reply(text)[0] == "cancel"


@pytest.mark.parametrize("text", ["", "   ", "🙏", "merhaba", "evet iptal", "1 2", "ne zaman gelir?", "\x00\x01"])
def test_unclear_replies(text):
    assert parse_reply(text)[0] == "unknown"


@pytest.mark.parametrize("text", ["STOP", "stop", "Dur", "DUR!", "RET", "ret 1001", "СТОП", "стоп", "Стоп.", "توقف"])
def test_opt_out_replies(text):
    assert parse_reply(text)[0] == "stop"


@pytest.mark.parametrize("text", ["stop iptal", "evet dur", "durum ne?", "retro"])
def test_opt_out_mixed_with_another_answer_or_inside_a_word_is_for_a_person(text):
    assert parse_reply(text)[0] == "unknown"


def test_order_number_in_reply():
    assert parse_reply("#1234 iptal") == ("cancel", 1234)
    assert parse_reply("Evet 10057") == ("confirm", 10057)
    assert parse_reply("1") == ("confirm", None)


def test_keypad_intents():
    assert call_intent(["1"], reconfirm=True, second_prompt=True) == "confirm"
    assert call_intent(["2"], reconfirm=True, second_prompt=True) == "unknown"  # hung up before the second 2
    assert call_intent(["2", "2"], reconfirm=True, second_prompt=True) == "cancel"
    assert call_intent(["2", "1"], reconfirm=True, second_prompt=True) == "confirm"
    assert call_intent(["2"], reconfirm=True, second_prompt=False) == "cancel"  # single-key provider
    assert call_intent(["0"], reconfirm=True, second_prompt=True) == "agent"
    assert call_intent(["7"], reconfirm=True, second_prompt=True) == "unknown"
    assert call_intent([], reconfirm=True, second_prompt=True) == "unknown"


def test_templates():
    check_template("{name} {order_id} {total} {shop} {items}")
    with pytest.raises(TemplateError, match=r"\{price\}"):
        check_template("{name} {price}")
    with pytest.raises(TemplateError):
        check_template("{name")
    text = fill("{name}: {order_id} {total} ({items})", name="Ayşe", order_label="A-7", total=Decimal("1234.5"),
                currency="TRY", shop="S", items=3, language="tr")
    assert text == "Ayşe: A-7 1.234,50 TL (3)"  # an SMS: digits as Turkish writes them
    spoken = fill("{total}", name="", order_label="", total=Decimal("829.70"), currency="TRY", shop="", items=1,
                  language="tr", spoken=True)
    assert spoken == "sekiz yüz yirmi dokuz lira yetmiş kuruş"  # a call: words, never "829.70 TRY"


@pytest.mark.parametrize("total,currency,lang,words", [
    ("829.70", "TRY", "tr", "sekiz yüz yirmi dokuz lira yetmiş kuruş"),
    ("1001", "TRY", "tr", "bin bir lira"),
    ("2250000.05", "TRY", "tr", "iki milyon iki yüz elli bin lira beş kuruş"),
    ("829.70", "RUB", "ru", "восемьсот двадцать девять рублей семьдесят копеек"),
    ("829.70", "TRY", "ru", "восемьсот двадцать девять турецких лир семьдесят курушей"),
    ("21.01", "USD", "en", "twenty-one dollars one cent"),
    ("829.70", "TRY", "en", "eight hundred and twenty-nine lira and seventy kurus"),
    ("15", "SAR", "ar", "خمسة عشر ريال"),
])
def test_amounts_are_spoken_as_words_in_the_customers_language(total, currency, lang, words):
    from ocbridge.integrations.cod_confirm.amounts import spoken

    assert spoken(Decimal(total), currency, lang) == words


@pytest.mark.parametrize("lang,text", [("tr", "1.234,50 TL"), ("ru", "1\u00a0234,50 ₽"), ("en", "1,234.50 SAR")])
def test_amounts_are_written_the_languages_way(lang, text):
    from ocbridge.integrations.cod_confirm.amounts import written

    currency = {"tr": "TRY", "ru": "RUB", "en": "SAR"}[lang]
    assert written(Decimal("1234.5"), currency, lang) == text


@pytest.mark.parametrize("text,intent", [("نعم", "confirm"), ("لا", "cancel"), ("إلغاء", "cancel"), ("موافق", "confirm")])
def test_arabic_replies_are_understood(text, intent):
    from ocbridge.integrations.cod_confirm.rules import parse_reply

    assert parse_reply(text)[0] == intent


def test_arabic_customer_texts_exist_and_the_form_writes_them_right_to_left():
    from ocbridge.integrations.cod_confirm.config import CodConfirmConfig
    from ocbridge.integrations.cod_confirm.forms import CodConfirmForm

    cfg = CodConfirmConfig()
    for texts in (cfg.call_texts, cfg.sms_texts, cfg.reconfirm_texts, cfg.unclear_texts):
        assert texts.get("ar")
    html = str(CodConfirmForm()["sms_text_ar"])
    assert 'dir="rtl"' in html and 'lang="ar"' in html
