"""Pure translation of a Decision into words (per language) and into each provider's answer format.

Verimor "Santral Programlama" (advisory_webhook.md): JSON with exactly one action; `phrase` and
`greet_phrase` at most 300 characters; TTS languages tr-TR, en-US, ar-XA only; dates as `15/11/2017` and
amounts as `73.56` are read out properly. Twilio: TwiML `<Say>` inside `<Gather>`, `<Dial>` for a person.
"""

from __future__ import annotations

import html
import re
from decimal import Decimal
from xml.sax.saxutils import escape, quoteattr

from ocbridge.integrations.order_lookup.config import OrderLookupConfig, digits
from ocbridge.integrations.order_lookup.rules import Decision, OrderView
from ocbridge.services.twilio import VOICES as TWILIO_VOICES

VERIMOR_LIMIT = 300
VERIMOR_LANGS = {"tr": "tr-TR", "en": "en-US"}  # no Russian TTS at Verimor
HANGUP_TARGET = "hangup/hangup"
PBX_TARGET = re.compile(r"(user|group|queue|ivr|voicemail|announcement)/\d+|external/\+?\d+|hangup/(hangup|busy)")

TEXTS: dict[str, dict[str, str]] = {
    "tr": {
        "order": "{label} numaralı siparişinizin durumu: {status}.",
        "total": "Tutar {total} {currency}.",
        "date": "Sipariş tarihi {date}.",
        "comment": "Son bilgi: {comment}.",
        "tracking": "{courier} ile gönderildi, takip kodu {code}.",
        "tracking_code": "Takip kodu {code}.",
        "menu_more": "Diğer siparişlerinizi dinlemek için 1'e, müşteri temsilcisine bağlanmak için 0'a basınız.",
        "menu_last": "Müşteri temsilcisine bağlanmak için 0'a basınız.",
        "none": "Telefon numaranıza kayıtlı sipariş bulamadık. Sipariş numaranızı tuşlayınız. "
                "Müşteri temsilcisi için 0'a basınız.",
        "transfer": "Sizi müşteri temsilcimize bağlıyoruz.",
        "goodbye": "Bizi aradığınız için teşekkür ederiz. İyi günler.",
    },
    "en": {
        "order": "Your order {label} is {status}.",
        "total": "Total {total} {currency}.",
        "date": "Ordered on {date}.",
        "comment": "Latest update: {comment}.",
        "tracking": "Sent with {courier}, tracking code {code}.",
        "tracking_code": "Tracking code {code}.",
        "menu_more": "To hear your other orders, press 1. To talk to a person, press 0.",
        "menu_last": "To talk to a person, press 0.",
        "none": "We found no order for your phone number. Please type your order number. To talk to a person, "
                "press 0.",
        "transfer": "Connecting you to a person.",
        "goodbye": "Thank you for calling. Goodbye.",
    },
    "ru": {
        "order": "Статус вашего заказа {label}: {status}.",
        "total": "Сумма {total} {currency}.",
        "date": "Дата заказа {date}.",
        "comment": "Последнее обновление: {comment}.",
        "tracking": "Отправлен службой {courier}, трек-номер {code}.",
        "tracking_code": "Трек-номер {code}.",
        "menu_more": "Чтобы услышать другие заказы, нажмите 1. Чтобы поговорить с оператором, нажмите 0.",
        "menu_last": "Чтобы поговорить с оператором, нажмите 0.",
        "none": "Мы не нашли заказов по вашему номеру. Введите номер заказа. Чтобы поговорить с оператором, "
                "нажмите 0.",
        "transfer": "Соединяем вас с оператором.",
        "goodbye": "Спасибо за звонок. До свидания.",
    },
}
CURRENCY_WORDS = {"tr": {"TRY": "TL"}, "en": {"TRY": "Turkish lira"}, "ru": {"RUB": "рублей", "TRY": "лир"}}


def clean_comment(text: str, limit: int = 160) -> str:
    """A history comment as speech: no markup, one line, short (it may hold a tracking number and a URL)."""
    text = html.unescape(re.sub(r"<[^>]+>", " ", text or ""))
    text = re.sub(r"https?://\S+", "", text)
    text = re.sub(r"\s+", " ", text).strip().rstrip(".")
    return text if len(text) <= limit else text[:limit - 1].rsplit(" ", 1)[0] + "…"


def spell(code: str) -> str:
    """A tracking code read out one character at a time (TTS would read "RM123" as a word and a number)."""
    return " ".join(ch for ch in code if ch.isalnum())


def order_parts(cfg: OrderLookupConfig, order: OrderView, lang: str) -> list[str]:
    """The order read out, most important first (later parts are dropped to fit a provider's limit)."""
    t = TEXTS[lang]
    status = cfg.status_phrase(order.status_id, lang) or order.status_name or str(order.status_id)
    parts = [t["order"].format(label=order.label, status=status.rstrip("."))]
    if order.tracking_code:  # first detail: the last one given up to fit a provider's limit
        code = spell(order.tracking_code)
        parts.append(t["tracking"].format(courier=order.courier, code=code) if order.courier
                     else t["tracking_code"].format(code=code))
    if cfg.read_total:
        amount = order.total.quantize(Decimal("0.01"))
        currency = CURRENCY_WORDS.get(lang, {}).get(order.currency, order.currency)
        parts.append(t["total"].format(total=f"{amount:.2f}", currency=currency))
    if cfg.read_date and order.date_added is not None:
        parts.append(t["date"].format(date=order.date_added.strftime("%d/%m/%Y")))
    if cfg.read_comment and clean_comment(order.comment):
        parts.append(t["comment"].format(comment=clean_comment(order.comment)))
    return parts


def say(cfg: OrderLookupConfig, decision: Decision, lang: str, shop: str, limit: int | None = None) -> str:
    """All of a decision's speech as one text; with `limit`, optional details give way first."""
    t = TEXTS[lang]
    head: list[str] = []
    tail: list[str] = []
    details: list[str] = []
    for s in decision.speech:
        if s.key == "greeting":
            head.append(cfg.greeting(lang).replace("{shop}", shop).strip())
        elif s.key == "order" and s.order is not None:
            first, *rest = order_parts(cfg, s.order, lang)
            head.append(first)
            details = rest
        else:
            tail.append(t[s.key])
    text = _join(head + details + tail)
    if limit is None:
        return text
    while len(text) > limit and details:
        details.pop()  # comment, then date, then total
        text = _join(head + details + tail)
    if len(text) > limit and head and decision.speech and decision.speech[0].key == "greeting":
        head.pop(0)  # the greeting is the least important sentence left
        text = _join(head + tail)
    return text if len(text) <= limit else text[:limit - 1].rsplit(" ", 1)[0] + "…"


def _join(parts: list[str]) -> str:
    return " ".join(p for p in parts if p)


# --- Verimor -----------------------------------------------------------------------------------------------


def verimor_target(rep_target: str) -> str:
    """The PBX target for a person: a target as configured, a phone number as `external/…`, else hang up."""
    value = (rep_target or "").strip()
    if PBX_TARGET.fullmatch(value):
        return value
    d = digits(value)
    if len(d) >= 7:
        return f"external/{d}"
    return HANGUP_TARGET


def verimor_answer(cfg: OrderLookupConfig, decision: Decision, lang: str, shop: str) -> dict:
    """The JSON the PBX expects: one of `prompt` / `transfer` (also used to say goodbye and hang up)."""
    tts_lang = VERIMOR_LANGS.get(lang, "tr-TR")
    phrase = say(cfg, decision, lang if lang in VERIMOR_LANGS else "tr", shop, VERIMOR_LIMIT)
    if decision.action == "prompt":
        return {"prompt": {"phrase": phrase, "lang": tts_lang, "min_digits": 1, "max_digits": decision.max_digits,
                           "retry_count": 1, "timeout": 6, "digit_timeout": 3 if decision.max_digits > 1 else 2}}
    target = verimor_target(cfg.rep_target) if decision.action == "transfer" else HANGUP_TARGET
    return {"transfer": {"target": target, "greet_phrase": phrase, "lang": tts_lang}}


# --- Twilio ------------------------------------------------------------------------------------------------


def twilio_dial_number(rep_target: str) -> str | None:
    """Twilio can dial a phone number only (no PBX queues): `+<digits>` or None."""
    value = (rep_target or "").strip()
    if value.startswith("external/"):
        value = value.split("/", 1)[1]
    d = digits(value)
    if len(d) < 7 or PBX_TARGET.fullmatch(value):
        return None
    if value.startswith("+"):
        return "+" + d
    if d.startswith("00"):
        return "+" + d[2:]
    if d.startswith("0") and len(d) == 11:
        return "+90" + d[1:]
    if len(d) == 10:
        return "+90" + d
    return "+" + d


def twiml(cfg: OrderLookupConfig, decision: Decision, lang: str, shop: str, action_url: str) -> str:
    """TwiML for a decision; prompts gather DTMF and always come back to `action_url` (even with no keys)."""
    text = say(cfg, decision, lang, shop)
    # A named voice always: without one Twilio uses the account default, which speaks few languages (§0).
    language, voice = TWILIO_VOICES.get(lang, TWILIO_VOICES["en"])
    spoken = f"<Say language={quoteattr(language)} voice={quoteattr(cfg.twilio_voice or voice)}>{escape(text)}</Say>"
    if decision.action == "prompt":
        keys = 'numDigits="1"' if decision.max_digits == 1 else 'finishOnKey="#"'
        body = (f'<Gather input="dtmf" {keys} timeout="6" action={quoteattr(action_url)} method="POST" '
                f'actionOnEmptyResult="true">{spoken}</Gather>')
    elif decision.action == "transfer" and twilio_dial_number(cfg.rep_target):
        body = f"{spoken}<Dial>{escape(twilio_dial_number(cfg.rep_target))}</Dial>"
    else:
        body = f"{spoken}<Hangup/>"
    return f'<?xml version="1.0" encoding="UTF-8"?><Response>{body}</Response>'
