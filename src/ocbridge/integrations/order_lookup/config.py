"""`OrderLookupConfig`: the settings of one Store's order_lookup Integration, with safe defaults."""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass, field

LANGS = ("tr", "en", "ru")


def _greetings() -> dict[str, str]:
    return {
        "tr": "{shop} sipariş bilgi hattına hoş geldiniz.",
        "en": "Welcome to the {shop} order line.",
        "ru": "Вас приветствует служба заказов {shop}.",
    }


@dataclass
class OrderLookupConfig:
    """Parsed from Integration.settings; `to_settings()` writes it back. Unknown keys are ignored."""

    lines: list[str] = field(default_factory=list)  # called numbers (digits) answered; empty = every line
    language: str = ""  # tr / en / ru; empty = the Store's language
    greetings: dict[str, str] = field(default_factory=_greetings)
    # Statuses we may read out (empty = every status); own phrases per status id and language, else the
    # OpenCart status name in the store language is spoken.
    spoken_statuses: list[int] = field(default_factory=list)
    status_phrases: dict[str, dict[str, str]] = field(default_factory=dict)
    read_total: bool = False
    read_date: bool = True
    read_comment: bool = False  # latest order-history comment (tracking number, carrier)
    days_back: int = 90
    max_orders: int = 3  # how many of the caller's orders "press 1 for the others" walks through
    rep_target: str = ""  # PBX target (queue/100, user/1001, external/90…) or a phone number, for 0 and failures
    twilio_voice: str = ""  # e.g. Google.tr-TR-Standard-A; empty = our voice for the language (services.twilio.VOICES)
    netgsm_answer: str = "sms"  # Netgsm cannot speak into the call: "sms" or "voice" (a text-to-speech call-back)
    rate_limit: int = 5  # DESIGN Decisions: at most 5 lookups per caller number per 10 minutes
    rate_window_minutes: int = 10

    @classmethod
    def from_settings(cls, data: dict | None) -> OrderLookupConfig:
        names = {f.name for f in dataclasses.fields(cls)}
        values = {k: v for k, v in (data or {}).items() if k in names}
        cfg = cls(**values)
        cfg.lines = [digits(x) for x in cfg.lines if digits(x)]
        cfg.spoken_statuses = [int(x) for x in cfg.spoken_statuses]
        return cfg

    def to_settings(self) -> dict:
        return dataclasses.asdict(self)

    def language_for(self, store_language: str) -> str:
        lang = (self.language or store_language or "tr")[:2].lower()
        return lang if lang in LANGS else "en"

    def answers_line(self, called: str) -> bool:
        """Whether the called number is one of ours; numbers compare on their last 10 digits (090…, 90…, 0…)."""
        if not self.lines:
            return True
        d = digits(called)
        return bool(d) and any(d[-10:] == line[-10:] for line in self.lines)

    def may_speak(self, status_id: int) -> bool:
        return not self.spoken_statuses or status_id in self.spoken_statuses

    def status_phrase(self, status_id: int, lang: str) -> str:
        return (self.status_phrases.get(str(status_id)) or {}).get(lang, "")

    def greeting(self, lang: str) -> str:
        return self.greetings.get(lang) or self.greetings.get("en") or ""


def digits(value: str | None) -> str:
    return re.sub(r"\D", "", value or "")
