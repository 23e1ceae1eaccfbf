"""Shared pieces of the call/SMS clients: result dataclasses, capabilities, phone formats, exactly-once replay.

Only what every telephony client needs lives here; protocol details stay in each provider's module.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar
from urllib.parse import parse_qsl

from django.utils.translation import gettext_noop

from ocbridge.core.choices import ExchangeOutcome
from ocbridge.core.errors import RetryableError, TerminalError, UnknownOutcomeError, unreadable
from ocbridge.core.sentences import Sentence

T = TypeVar("T")
OUTCOMES = ("confirm", "cancel", "agent", "no_answer", "busy", "failed", "invalid", "unknown")
# What our confirmation menu means by each key; parsers use it to name the outcome of a single press.
DEFAULT_DIGITS = {"1": "confirm", "2": "cancel", "0": "agent"}
E164 = re.compile(r"\+[1-9]\d{7,14}")


@dataclass(frozen=True)
class Capabilities:
    """What a provider can do for COD confirmation; the integration chooses channels from this."""

    can_call: bool
    can_sms: bool
    second_prompt: bool  # "press 2 again to cancel" inside the same call
    tts_languages: tuple[str, ...]  # two-letter codes the robot can speak
    inbound_sms: str  # "push" (webhook), "poll" (fetch_inbound_sms) or "" (none)
    signed_webhooks: bool
    can_whatsapp: bool = False
    # Seconds after the provider accepted a call in which its result may still come (ring time, a voice
    # message's delivery window): no new attempt starts inside it (core.outbox answer_window).
    answer_window: float = 0.0


@dataclass
class CallStarted:
    """The provider accepted a confirmation call."""

    provider_id: str


@dataclass
class SmsSent:
    """The provider accepted an SMS."""

    provider_id: str


@dataclass
class CallResult:
    """How a confirmation call ended (one webhook event)."""

    event_id: str
    provider_id: str
    outcome: str  # one of OUTCOMES
    digits: list[str] = field(default_factory=list)
    raw_status: str = ""
    reference: str = ""  # what of ours the provider echoed (our correlation number or key): matches an unknown send


@dataclass
class InboundSms:
    """A customer's SMS to us."""

    event_id: str
    from_number: str  # E.164 where the provider's format allows it
    to: str
    text: str
    received_at: datetime | None = None


@dataclass
class DeliveryReport:
    """The fate of one SMS we sent: delivered True/False, or None while still under way."""

    event_id: str
    provider_id: str
    delivered: bool | None
    status: str
    reference: str = ""  # what of ours the provider echoed, as in CallResult


class WebhookFormatError(ValueError):
    """An inbound body we cannot read; the message says what is wrong (the raw request is kept elsewhere)."""


class UnreadableAnswerError(RetryableError):
    """A 2xx answer no parser accepts (a proxy in the way). For a side effect it may have been carried out."""

    def __init__(self, service: str, text: str, *, maybe_sent: bool):
        super().__init__(service, "garbage", unreadable(text))
        self.maybe_sent = maybe_sent  # read by ExchangeHandle.fail: PENDING, so the next try asks first


def bearer_json_call(http, recorder, token: str, method: str, path: str, classify: Callable[[Any], dict], *,
                     key: str = "", purpose: str = "", body: dict | None = None, params: dict | None = None) -> dict:
    """One JSON request with a bearer token (Sandbox, WhatsApp), recorded as an Exchange; `classify(response)` reads
    the answer inside the Exchange, so an error it raises is recorded on it."""
    headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
    content = None
    if body is not None:
        content = json.dumps(body, ensure_ascii=False)
        headers["Content-Type"] = "application/json; charset=utf-8"
    url = http.build_url(path, params)
    with recorder.exchange(method, url, key=key, purpose=purpose, request_body=content, request_headers=headers) as ex:
        resp = http.request(method, path, params=params, headers=headers,
                            content=content.encode("utf-8") if content else None)
        ex.finish(resp)
        return classify(resp)


# --- phone numbers: E.164 in, provider format out ---------------------------------------------------


def check_e164(service: str, number: str) -> str:
    """The number itself if it is E.164; a TerminalError before anything is sent otherwise."""
    number = (number or "").strip()
    if not E164.fullmatch(number):
        raise TerminalError(service, "invalid_number", Sentence(gettext_noop("not an E.164 phone number: {number}"),
                                                                number=repr(number)))
    return number


def digits_90(number: str) -> str:
    """Verimor's spelling: 905321234567 for Turkey, 0049… abroad (telephony-sms.md §4.1)."""
    digits = number.lstrip("+")
    return digits if digits.startswith("90") else "00" + digits


def national_tr(number: str) -> str:
    """Netgsm's spelling: 5321234567 (10 digits) for Turkey, 00… abroad."""
    digits = number.lstrip("+")
    return digits[2:] if digits.startswith("90") else "00" + digits


def to_e164(raw: str, default_cc: str = "90") -> str:
    """Best-effort E.164 from a provider's spelling (905…, 05…, 5…, 0049…, +…); raw digits if unsure."""
    s = re.sub(r"[^\d+]", "", raw or "")
    if s.startswith("+"):
        return s
    if s.startswith("00"):
        return "+" + s[2:]
    if default_cc == "90":
        if len(s) == 12 and s.startswith("90"):
            return "+" + s
        if len(s) == 11 and s.startswith("0"):
            return "+90" + s[1:]
        if len(s) == 10 and s[0] in "23458":
            return "+90" + s
    return s


def tts_language(service: str, language: str, table: dict[str, Any]) -> Any:
    """Look up a provider's language entry for "tr" / "tr-TR"; TerminalError if the robot cannot speak it."""
    code = (language or "tr").replace("_", "-").split("-")[0].lower()
    if code not in table:
        raise TerminalError(service, "unsupported_language", Sentence(
            gettext_noop("{service} text-to-speech cannot speak {language} (supported: {supported})"),
            service=service, language=repr(language), supported=", ".join(table)))
    return table[code]


def outcome_for_digit(digit: str, digits: dict[str, str] | None = None) -> str:
    return (digits or DEFAULT_DIGITS).get(digit, "invalid")


# --- webhook bodies --------------------------------------------------------------------------------


def form_of(data: dict | bytes | str | None) -> dict[str, str]:
    """Form fields from a dict (already parsed; a value may be a list of every value sent) or a raw urlencoded
    body. A field sent twice with different values is refused, never silently read as one of them."""
    if isinstance(data, dict):
        pairs = [(str(k), "" if v is None else str(v)) for k, vs in data.items()
                 for v in (vs if isinstance(vs, (list, tuple)) else [vs])]
    elif data is None:
        return {}
    else:
        text = data.decode("utf-8", "replace") if isinstance(data, bytes) else data
        try:
            pairs = parse_qsl(text, keep_blank_values=True, strict_parsing=bool(text.strip()))
        except ValueError as exc:
            raise WebhookFormatError(f"body is not form-encoded: {exc}") from None
    form: dict[str, str] = {}
    for name, value in pairs:
        if "\x00" in name or "\x00" in value:
            raise WebhookFormatError(f"form field {name!r} has a NUL character")
        if form.setdefault(name, value) != value:
            raise WebhookFormatError(f"form field {name!r} sent more than once with different values")
    return form


def json_of(data: dict | list | bytes | str | None) -> Any:
    """A JSON value from raw bytes (or an already parsed dict/list)."""
    if isinstance(data, (dict, list)):
        return data
    if data is None:
        raise WebhookFormatError("empty body, expected JSON")
    try:
        value = json.loads(data.decode("utf-8") if isinstance(data, bytes) else data)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise WebhookFormatError(f"body is not JSON: {exc}") from None
    _refuse_nul(value)
    return value


def _refuse_nul(value: Any) -> None:
    """A JSON string with \\u0000 in it: no provider sends one, and PostgreSQL stores no NUL in text or jsonb."""
    stack = [value]
    while stack:  # not recursive: json.loads accepts nesting deeper than our stack would
        item = stack.pop()
        if isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
        elif isinstance(item, str) and "\x00" in item:
            raise WebhookFormatError(f"a string in the body has a NUL character: {item[:40]!r}")


def require(obj: dict, name: str, where: str = "body") -> Any:
    """A required field, or WebhookFormatError naming it (never KeyError)."""
    if not isinstance(obj, dict):
        raise WebhookFormatError(f"{where} must be an object, got {type(obj).__name__}")
    value = obj.get(name)
    if value is None or value == "":
        raise WebhookFormatError(f"{where} has no {name!r}")
    if isinstance(value, (dict, list)):  # ids and codes are scalars; str() of a container would pass as one
        raise WebhookFormatError(f"{where}'s {name!r} must be text or a number, got {type(value).__name__}")
    return value


def text_of(obj: dict, name: str, where: str = "body") -> str:
    """An optional text field ("" when absent or null). An object or list is refused, naming the field: its
    str() would be a Python repr, and a repr of {"body": "evet"} reads as a reply."""
    value = obj.get(name)
    if value is None:
        return ""
    if isinstance(value, (dict, list)):
        raise WebhookFormatError(f"{where}'s {name!r} must be a string, got {type(value).__name__}")
    return str(value)


# --- exactly once ------------------------------------------------------------------------------------


def replay_or_recover(recorder, key: str, *, service: str, stored: Callable[[str], T],
                      ask: Callable[[Any], tuple[T, str] | None] | None) -> T | None:
    """Before a side effect under `key`: the earlier result, or None when it is safe to send.

    OK Exchange → parse its stored body (`stored`), no call. PENDING Exchange (crash, timeout, unreadable
    answer after sending) → `ask(row)` the provider; a found result is written onto the row so the next
    replay needs no question; "not there" → None (send). No way to ask → UnknownOutcomeError.
    """
    if not key:
        raise ValueError("a side effect needs an idempotency key")
    prev = recorder.previous(key)
    if prev is None or prev.outcome not in (ExchangeOutcome.OK, ExchangeOutcome.PENDING):
        return None
    if prev.outcome == ExchangeOutcome.OK:
        return stored(prev.response_body)
    if ask is not None:
        try:
            found = ask(prev)
        except TerminalError as exc:  # the provider cannot answer the question: we still do not know
            # the refusal's own Sentence kept (said where it was), its text otherwise
            raise UnknownOutcomeError(service, "unknown_outcome", Sentence(
                gettext_noop("asking {service} failed: {detail}"), service=service,
                detail=exc.said or exc.message)) from exc
        if found is None:
            return None
        result, body = found
        prev.outcome = ExchangeOutcome.OK
        prev.response_body = body
        prev.error = (prev.error + " | " if prev.error else "") + f"recovered: {service} has it"
        prev.save(update_fields=["outcome", "response_body", "error"])
        return result
    raise UnknownOutcomeError(service, "unknown_outcome", Sentence(
        gettext_noop("an earlier request (exchange #{exchange}) may have reached {service} and it cannot be asked"),
        exchange=prev.pk, service=service))
