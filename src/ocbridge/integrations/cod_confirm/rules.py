"""Pure decisions for COD confirmation: no I/O here, so every rule is tested offline."""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from decimal import Decimal

from ocbridge.integrations.cod_confirm.choices import Channel, Intent
from ocbridge.integrations.cod_confirm.config import CodConfirmConfig

# --- which orders -----------------------------------------------------------------------------------


def is_cod(payment_code: str, cfg: CodConfirmConfig) -> bool:
    """By payment *code* (normalized, part before the first dot), never by its display title."""
    code = (payment_code or "").split(".", 1)[0].strip().lower()
    return bool(code) and code in {c.split(".", 1)[0].strip().lower() for c in cfg.cod_codes}


def skip_reason(*, total: Decimal, completed_orders: int, cfg: CodConfirmConfig) -> str | None:
    """Why this COD order is not confirmed automatically (None = confirm it)."""
    if cfg.min_total is not None and total < cfg.min_total:
        return f"total {total} is below the minimum {cfg.min_total}"
    if cfg.max_total is not None and total > cfg.max_total:
        return f"total {total} is above the maximum {cfg.max_total}"
    if cfg.skip_after_completed_orders and completed_orders >= cfg.skip_after_completed_orders:
        return f"customer has {completed_orders} completed orders"
    return None


# --- when and how ------------------------------------------------------------------------------------


NOT_USED = {  # stored English, translated by reasons.py
    Channel.WHATSAPP: "WhatsApp is not used for numbers in {region}",
    Channel.CALL: "calls are not made to numbers in {region}",
    Channel.SMS: "SMS is not sent to numbers in {region}",
}


def step_skip_reason(channel: str, phone: str, cfg: CodConfirmConfig) -> str | None:
    """Why a plan step does not apply to this customer's number (None = use it). Decided by the number's region
    as `phonenumbers` places it (a +7 number may be Russian or Kazakh), against the channel's country lists."""
    used, off = cfg.countries(channel)
    if not used and not off:
        return None
    region = phone_region(phone)
    if region in off or (used and region not in used):
        return NOT_USED[Channel(channel)].format(region=region or "an unknown region")
    return None


def phone_region(phone: str) -> str:
    import phonenumbers

    try:
        return phonenumbers.region_code_for_number(phonenumbers.parse(phone, None)) or ""
    except phonenumbers.NumberParseException:
        return ""


def _at(date: dt.date, hhmm: str, zone: dt.tzinfo) -> dt.datetime:
    """A local time on a date; "24:00" is the end of that day."""
    h, m = (int(x) for x in hhmm.split(":"))
    return dt.datetime.combine(date, dt.time(0, 0), zone) + dt.timedelta(hours=h, minutes=m)


def next_allowed(when: dt.datetime, cfg: CodConfirmConfig, zone: dt.tzinfo) -> dt.datetime | None:
    """The first moment at or after `when` inside the allowed hours, in the store's time zone (`Store.zone`; UTC back)."""
    local = when.astimezone(zone)
    for day in range(8):
        date = (local + dt.timedelta(days=day)).date()
        hours = cfg.day_hours.get(str(date.weekday()))
        if not hours:
            continue
        start, end = _at(date, hours[0], zone), _at(date, hours[1], zone)
        candidate = max(start, local) if day == 0 else start
        if candidate < end:
            return candidate.astimezone(dt.timezone.utc)
    return None  # no allowed hours at all


# --- what the customer said --------------------------------------------------------------------------

# Compared after folding (see `fold`): upper-case ASCII, Turkish letters and Cyrillic transliterated.
CONFIRM_WORDS = frozenset({"1", "EVET", "E", "ONAY", "ONAYLA", "ONAYLIYORUM", "ONAYLADIM", "TAMAM", "OK", "OKAY", "YES",
                           "Y", "DA", "CONFIRM", "PODTVERZHDAYU", "نعم", "موافق", "تأكيد", "اكيد", "أكيد"})
CANCEL_WORDS = frozenset({"2", "HAYIR", "H", "IPTAL", "VAZGEC", "NO", "N", "NET", "CANCEL", "OTMENA", "OTMENIT", "لا", "إلغاء", "الغاء", "ألغ"})
AGENT_WORDS = frozenset({"0"})
# "Do not call or text me again" (core.optouts): DUR (Turkish "stop"), RET (the word İYS asks Turkish senders to
# accept for opting out), СТОП (folds to STOP), Arabic "stop". Alone, or with an order number; with any other
# keyword the reply is not clear and a person reads it.
STOP_WORDS = frozenset({"STOP", "DUR", "RET", "UNSUBSCRIBE", "OTPISATSYA", "OTPISKA", "توقف", "ايقاف", "إيقاف"})
# "Pay now by card" (offered only when the store's COD settings say so): Turkish ÖDE/KART (never ÖDEME: "kapıda
# ödeme" is cash at the door), Russian ОПЛАТА/ОПЛАТИТЬ, English PAY. Without the offer a person reads the reply.
PAY_WORDS = frozenset({"ODE", "KART", "KARTLA", "OPLATA", "OPLATIT", "PAY", "ادفع"})
# "iptal etmeyin" / "don't cancel" / "не отменяйте": a negated keyword must not act; a person reads it.
NEGATIONS = frozenset({"ETME", "ETMEYIN", "ETMEYINIZ", "ETMIYORUM", "ETMEYECEGIM", "DEGIL", "DON", "DONT", "NOT",
                       "NE", "NIE"})

_CYRILLIC = dict(zip("АБВГДЕЁЖЗИЙКЛМНОПРСТУФХЦЧШЩЪЫЬЭЮЯ",
                     ["A", "B", "V", "G", "D", "E", "E", "ZH", "Z", "I", "I", "K", "L", "M", "N", "O", "P", "R", "S", "T",
                      "U", "F", "KH", "TS", "CH", "SH", "SHCH", "", "Y", "", "E", "YU", "YA"]))
_TURKISH = str.maketrans({"ı": "I", "İ": "I", "i": "I", "ş": "S", "Ş": "S", "ğ": "G", "Ğ": "G", "ü": "U", "Ü": "U",
                          "ö": "O", "Ö": "O", "ç": "C", "Ç": "C"})
_TOKEN = re.compile(r"#?\w+")


def fold(text: str) -> str:
    """Upper-case ASCII fold that treats İ/ı/i alike and Cyrillic as its Latin spelling (homoglyphs too)."""
    text = unicodedata.normalize("NFC", text).translate(_TURKISH)
    # Cyrillic before NFKD: Й/Ё would otherwise lose their marks into other letters.
    text = "".join(_CYRILLIC.get(ch, ch) for ch in text.upper())
    text = "".join(ch for ch in unicodedata.normalize("NFKD", text) if not unicodedata.combining(ch))
    return text.upper()


def parse_reply(text: str) -> tuple[str, int | None]:
    """(intent, order number named in the reply). Conflicting or no keywords, or two different order
    numbers → UNKNOWN (a person reads it). Keywords glued to other words or the order number, as shops'
    SMS modules ask for them (`siparisonay`, `Onay 1001`, `ONAY1001`, `1001iptal`), and common spellings
    (`evt`, `tmm`, `eveeet`, `istemiyorum`) are read."""
    orders: list[int] = []
    intents: list[str] = []
    for token in _TOKEN.findall(fold(text or "")):
        for part in _PARTS.findall(token.strip("_")):  # letters and digits glued together are two words
            bare = part.lstrip("#")
            if not bare:
                continue
            if bare.isdigit():
                if part.startswith("#") or len(bare) >= 3:
                    orders.append(int(bare))
                    continue
            word = _word(bare)
            if word is None:
                continue
            if word == NEGATED:
                return Intent.UNKNOWN, orders[0] if orders else None
            intents.append(word)
    order_no = orders[0] if orders else None
    if len(set(intents)) != 1 or len(set(orders)) > 1:
        return Intent.UNKNOWN, order_no
    return intents[0], order_no


NEGATED = "negated"
# What shops put in front of the keyword (`siparisonay`, `SiparişOnay`, `заказ отмена` written together).
_PREFIXES = ("SIPARISIMI", "SIPARISIM", "SIPARISI", "SIPARIS", "SIPARISLERIMI", "ZAKAZ")
# Keyword stems and the endings people add to them (`onaylıyorum`, `iptal ediyorum`, `tamamdır`).
_STEMS = {"ONAY": Intent.CONFIRM, "EVET": Intent.CONFIRM, "TAMAM": Intent.CONFIRM, "CONFIRM": Intent.CONFIRM,
          "PODTVERZHDA": Intent.CONFIRM, "IPTAL": Intent.CANCEL, "HAYIR": Intent.CANCEL, "VAZGEC": Intent.CANCEL,
          "CANCEL": Intent.CANCEL, "OTMEN": Intent.CANCEL}
_ENDINGS = ("", "LA", "LAYIN", "LAYINIZ", "LIYORUM", "LIYOM", "LADIM", "DIR", "DR", "IM", "ET", "EDIN", "EDINIZ",
            "EDIYORUM", "EDIYOM", "ETTIM", "YU", "YA", "IT", "A", "LED", "ED", "ELLED")
_NEGATED_ENDINGS = ("ETME", "ETMEYIN", "ETMEYINIZ", "ETMIYORUM", "ETMEYECEGIM", "LAMA", "LAMIYORUM", "LAMAYIN")
_SPELLINGS = {"EVT": Intent.CONFIRM, "EWET": Intent.CONFIRM, "TMM": Intent.CONFIRM, "TAMM": Intent.CONFIRM,
              "OKEY": Intent.CONFIRM, "OKE": Intent.CONFIRM, "ONY": Intent.CONFIRM, "IPTL": Intent.CANCEL,
              "ISTEMIYORUM": Intent.CANCEL, "ISTEMIYOM": Intent.CANCEL, "ISTEMIYORUZ": Intent.CANCEL,
              "HAYR": Intent.CANCEL, "YOK": Intent.CANCEL}
_PARTS = re.compile(r"#?\d+|[^\W\d_]+")


def _word(token: str) -> str | None:
    """The intent of one word (NEGATED for a negation), or None for any other word."""
    if token in NEGATIONS:
        return NEGATED
    for words, intent in ((CONFIRM_WORDS, Intent.CONFIRM), (CANCEL_WORDS, Intent.CANCEL), (AGENT_WORDS, Intent.AGENT),
                          (STOP_WORDS, Intent.STOP), (PAY_WORDS, Intent.PAY), (_SPELLINGS, None)):
        if token in words:
            return intent or _SPELLINGS[token]
    if len(token) < 4:
        return None
    for candidate in (token, re.sub(r"(.)\1+", r"\1", token)):  # `eveeet`, `onayyy`
        if candidate in CONFIRM_WORDS | CANCEL_WORDS or candidate in _SPELLINGS:
            return _word(candidate)
        rests = [candidate] + [candidate[len(p):] for p in _PREFIXES if candidate.startswith(p)]
        for rest in rests:  # `SIPARISIPTAL` is SIPARIS + IPTAL, not SIPARISI + PTAL
            for stem, intent in _STEMS.items():
                if rest.startswith(stem):
                    ending = rest[len(stem):]
                    if ending in _NEGATED_ENDINGS:
                        return NEGATED
                    if ending in _ENDINGS:
                        return intent
    return None


def call_intent(digits: list[str], *, reconfirm: bool, second_prompt: bool, pay: bool = False) -> str:
    """What the pressed keys mean. With a second prompt, cancelling needs 2 then 2 again; 3 is "pay now by card"
    only when the store offers it."""
    keys = [d for d in digits if d]
    if not keys:
        return Intent.UNKNOWN
    first = keys[0]
    if first == "3" and pay:
        return Intent.PAY
    if first == "1":
        return Intent.CONFIRM
    if first == "0":
        return Intent.AGENT
    if first == "2":
        if reconfirm and second_prompt:
            if len(keys) < 2:
                return Intent.UNKNOWN  # hung up before confirming the cancel
            return {"2": Intent.CANCEL, "1": Intent.CONFIRM, "0": Intent.AGENT}.get(keys[1], Intent.UNKNOWN)
        return Intent.CANCEL
    return Intent.UNKNOWN


def target_status(intent: str, cfg: CodConfirmConfig) -> int | None:
    return {Intent.CONFIRM: cfg.confirmed_status_id, Intent.CANCEL: cfg.cancelled_status_id}.get(intent)
