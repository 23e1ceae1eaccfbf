"""Simulated customers: how a phone number answers a call or an SMS, scripted per number or drawn
from seeded odds (deterministic for a seed, whatever the thread timing)."""

from __future__ import annotations

import dataclasses
import random
import re
import threading
from dataclasses import dataclass, field
from typing import Any

CALL_OUTCOMES = ("confirm", "cancel", "cancel_twice", "agent", "no_answer", "busy", "failed", "timeout", "invalid", "hangup")
ANSWERED_OUTCOMES = ("confirm", "cancel", "cancel_twice", "agent", "timeout", "invalid", "hangup")
DEFAULT_CALL_ODDS = {"confirm": 0.6, "cancel": 0.1, "cancel_twice": 0.1, "no_answer": 0.1, "busy": 0.05, "agent": 0.05}
DEFAULT_KEYS = {"confirm": "1", "cancel": "2", "agent": "0"}

# Replies real customers send (Turkish dotted/dotless I, Russian, emoji, order number, noise).
SMS_REPLY_VARIANTS = (
    "EVET", "evet", "İPTAL", "ıptal", "iptal", "да", "нет", "1", "Evet teşekkürler 🙏", "#{order} iptal", "asdf??",
)
DEFAULT_SMS_REPLY_ODDS = {"EVET": 0.3, "evet": 0.15, "1": 0.1, "Evet teşekkürler 🙏": 0.1, "iptal": 0.05, "İPTAL": 0.05,
                          "ıptal": 0.05, "да": 0.04, "нет": 0.03, "#{order} iptal": 0.03, "asdf??": 0.05, None: 0.05}


def phone_key(phone: str) -> str:
    """Same person however the number is written: compare the last 10 digits."""
    digits = re.sub(r"\D", "", phone or "")
    return digits[-10:] if len(digits) >= 10 else digits


@dataclass
class Customer:
    """Scripted behaviour of one phone number. Empty scripts fall back to the seeded odds."""

    calls: list[str] = field(default_factory=list)  # outcomes, consumed in order; the last one repeats
    sms_replies: list[str | None] = field(default_factory=list)
    answer_delay: float = 5.0  # simulated seconds from dial to answer / final state
    reply_delay: float = 20.0  # simulated seconds from SMS delivery to the reply
    sms_delivery: str = "delivered"  # or "undelivered"
    calls_made: int = 0
    sms_received: int = 0


class CustomerBook:
    """Simulated customers by phone number; deterministic for a given seed (independent of thread timing)."""

    def __init__(self, seed: int = 0, call_odds: dict | None = None, sms_reply_odds: dict | None = None):
        self.seed = seed
        self.call_odds = dict(call_odds or DEFAULT_CALL_ODDS)
        self.sms_reply_odds = dict(sms_reply_odds or DEFAULT_SMS_REPLY_ODDS)
        self.defaults: dict[str, Any] = {}
        self._customers: dict[str, Customer] = {}
        self._lock = threading.Lock()

    def get(self, phone: str) -> Customer:
        with self._lock:
            key = phone_key(phone)
            if key not in self._customers:
                self._customers[key] = Customer(**self.defaults)
            return self._customers[key]

    def set(self, phone: str, *, call: str | list | None = None, sms_reply: Any = "__keep__",
            answer_delay: float | None = None, reply_delay: float | None = None, sms_delivery: str | None = None) -> Customer:
        c = self.get(phone)
        with self._lock:
            if call is not None:
                c.calls = [call] if isinstance(call, str) else list(call)
                for outcome in c.calls:
                    check_outcome(outcome)
                c.calls_made = 0
            if sms_reply != "__keep__":
                c.sms_replies = sms_reply if isinstance(sms_reply, list) else [sms_reply]
                c.sms_received = 0
            if answer_delay is not None:
                c.answer_delay = float(answer_delay)
            if reply_delay is not None:
                c.reply_delay = float(reply_delay)
            if sms_delivery is not None:
                c.sms_delivery = sms_delivery
        return c

    def next_call(self, phone: str) -> tuple[str, Customer]:
        c = self.get(phone)
        with self._lock:
            n = c.calls_made
            c.calls_made += 1
            if c.calls:
                return c.calls[min(n, len(c.calls) - 1)], c
            return self._draw(self.call_odds, f"call:{phone_key(phone)}:{n}"), c

    def next_sms_reply(self, phone: str) -> tuple[str | None, Customer]:
        c = self.get(phone)
        with self._lock:
            n = c.sms_received
            c.sms_received += 1
            if c.sms_replies:
                return c.sms_replies[min(n, len(c.sms_replies) - 1)], c
            return self._draw(self.sms_reply_odds, f"sms:{phone_key(phone)}:{n}"), c

    def _draw(self, odds: dict, salt: str) -> Any:
        rng = random.Random(f"{self.seed}:{salt}")
        items = list(odds.items())
        total = sum(w for _, w in items) or 1.0
        x = rng.random() * total
        for value, weight in items:
            x -= weight
            if x < 0:
                return value
        return items[-1][0]

    def reset(self) -> None:
        with self._lock:
            self._customers.clear()

    def to_dict(self) -> dict:
        with self._lock:
            return {"seed": self.seed, "call_odds": self.call_odds,
                    "sms_reply_odds": {("null" if k is None else k): v for k, v in self.sms_reply_odds.items()},
                    "customers": {k: dataclasses.asdict(v) for k, v in self._customers.items()}}


def check_outcome(outcome: str) -> None:
    if outcome not in CALL_OUTCOMES and not outcome.startswith("press:"):
        raise ValueError(f"unknown call outcome {outcome!r}; use one of {CALL_OUTCOMES} or 'press:1,2'")


def key_presses(outcome: str, keys: dict[str, str] | None = None) -> tuple[bool, list[str]]:
    """(answered, keys pressed) for an outcome; `keys` maps intent → key for this call."""
    keys = {**DEFAULT_KEYS, **(keys or {})}
    if outcome.startswith("press:"):
        return True, [k for k in outcome[6:].split(",") if k]
    if outcome not in ANSWERED_OUTCOMES:
        return False, []
    if outcome == "cancel_twice":
        return True, [keys["cancel"], keys["cancel"]]
    if outcome in ("confirm", "cancel", "agent"):
        return True, [keys[outcome]]
    if outcome == "invalid":
        used = set(keys.values())
        return True, [next(k for k in "7893456" if k not in used)]
    return True, []  # timeout / hangup: answered, nothing pressed
