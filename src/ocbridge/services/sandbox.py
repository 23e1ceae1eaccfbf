"""Sandbox provider client: our own small call/SMS protocol (see ocbridge.simulators.sandbox for the spec).

Bearer token auth, JSON both ways, errors as {"error": {code, message, field}}. The Sandbox takes our
idempotency key and can be asked "did you get key K?", so a crash after sending is always recoverable.
Webhooks are JSON events signed with HMAC-SHA256 over the raw body (X-Sandbox-Signature).
"""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import datetime

from django.utils.translation import gettext_noop

from ocbridge.core import ratelimit
from ocbridge.core.errors import (
    RetryableError, TerminalError, http_status, parse_retry_after, rate_limited, server_error,
)
from ocbridge.core.exchanges import ExchangeRecorder
from ocbridge.core.http import HttpClient, shared_client
from ocbridge.core.sentences import Sentence
from ocbridge.services.base import (
    CallResult, CallStarted, Capabilities, DeliveryReport, InboundSms, SmsSent, UnreadableAnswerError,
    WebhookFormatError, bearer_json_call, check_e164, json_of, replay_or_recover, require, text_of, tts_language,
)

LANGUAGES = {"tr": "tr-TR", "en": "en-US", "ru": "ru-RU", "ar": "ar-XA"}
RATE = 50.0  # requests per second per connection: our own ceiling (the Sandbox documents none), above a
# flash sale's order rate so the sandbox never adds a queue of its own
CALL_END = {"no_answer": "no_answer", "busy": "busy", "failed": "failed", "canceled": "failed"}
RESULT_OUTCOME = {"no_input": "no_answer", "invalid_key": "invalid", "not_repeated": "unknown"}


class SandboxClient:
    """Sandbox calls and SMS. Knows the protocol; knows nothing of stores or orders."""

    service = "sandbox"
    capabilities = Capabilities(can_call=True, can_sms=True, second_prompt=True, tts_languages=tuple(LANGUAGES),
                                inbound_sms="push", signed_webhooks=True,
                                answer_window=300.0)

    def __init__(self, connection, *, http: HttpClient | None = None):
        self._conn = connection
        creds = connection.credentials()  # decrypted here, never logged
        self._token = str(creds.get("token") or "")
        self._http = http or shared_client(self.service, connection.base_url.rstrip("/"), timeout=10)
        self._rec = ExchangeRecorder(self.service, connection=connection, secrets=[self._token])

    # side effects ---------------------------------------------------------------------------------
    def start_confirmation_call(self, *, to: str, text: str, digits: dict, webhook_url: str, key: str,
                                language: str, caller_id: str | None = None, announcement_id: str | None = None,
                                second_prompt_text: str | None = None, rep_target: str | None = None,
                                reference: str = "") -> CallStarted:
        body = {"to": check_e164(self.service, to), "text": text, "digits": dict(digits), "callback_url": webhook_url,
                "idempotency_key": key, "lang": tts_language(self.service, language, LANGUAGES)}
        if second_prompt_text:  # only cancelling is asked twice
            body["confirm_twice"] = [k for k, v in digits.items() if v == "cancel"]
            body["confirm_twice_text"] = second_prompt_text
        done = replay_or_recover(self._rec, key, service=self.service, stored=self._stored(CallStarted),
                                 ask=lambda row: self._ask("/v1/calls", key, CallStarted))
        if done is not None:
            return done
        res = self._call("POST", "/v1/calls", key=key, purpose="sandbox.start_call", body=body)
        return CallStarted(provider_id=str(res["id"]))

    def send_sms(self, *, to: str, text: str, key: str, webhook_url: str | None = None,
                 sender: str | None = None, reference: str = "") -> SmsSent:
        # The Sandbox wants a callback URL on every SMS; without one, the connection's report hook.
        body = {"to": check_e164(self.service, to), "text": text,
                "callback_url": webhook_url or self._conn.webhook_url("sms-report"), "idempotency_key": key}
        if sender:
            body["sender"] = sender
        done = replay_or_recover(self._rec, key, service=self.service, stored=self._stored(SmsSent),
                                 ask=lambda row: self._ask("/v1/sms", key, SmsSent))
        if done is not None:
            return done
        res = self._call("POST", "/v1/sms", key=key, purpose="sandbox.send_sms", body=body)
        return SmsSent(provider_id=str(res["id"]))

    # reads ----------------------------------------------------------------------------------------
    def fetch_inbound_sms(self, *, after: str = "") -> list[InboundSms]:
        """Pull safety net behind the push webhook: inbound messages after the given inbound id."""
        res = self._call("GET", "/v1/inbound", params={"after": after} if after else None, purpose="sandbox.inbound")
        return [_inbound(item, item.get("id", "")) for item in res.get("items") or []]

    def check_credentials(self) -> Sentence:
        self._call("GET", "/v1/inbound", purpose="sandbox.check")
        return Sentence(gettext_noop("Sandbox accepted the token"))

    # the one path to the network ----------------------------------------------------------------------
    def find_sent(self, channel: str, effect) -> str | None:
        """The provider id of a send whose answer was lost, or None: the Sandbox is asked by our key."""
        found = self._ask("/v1/calls" if channel == "call" else "/v1/sms", effect.key, CallStarted)
        return found[0].provider_id if found else None

    def _stored(self, cls):
        return lambda text: cls(provider_id=str(json.loads(text)["id"]))

    def _ask(self, path: str, key: str, cls):
        res = self._call("GET", path, params={"idempotency_key": key}, purpose="sandbox.lookup")
        items = res.get("items") or []
        return (cls(provider_id=str(items[0]["id"])), json.dumps(items[0])) if items else None

    def _call(self, method: str, path: str, *, key: str = "", purpose: str = "", body: dict | None = None,
              params: dict | None = None) -> dict:
        ratelimit.acquire((self.service, self._conn.pk, "api"), RATE)
        return bearer_json_call(self._http, self._rec, self._token, method, path,
                                lambda resp: self._classify(resp, side_effect=bool(key)), key=key, purpose=purpose,
                                body=body, params=params)

    def _classify(self, resp, *, side_effect: bool) -> dict:
        """The one place Sandbox answers are read: the body, or RetryableError / TerminalError."""
        try:
            data = resp.json()
        except ValueError:
            data = None
        err = data.get("error") if isinstance(data, dict) and isinstance(data.get("error"), dict) else {}
        message = str(err.get("message") or resp.text[:300])
        code = err.get("code") or resp.status_code
        if resp.status_code == 429:
            raise RetryableError(self.service, 429, rate_limited(message), retry_after=parse_retry_after(resp.headers.get("Retry-After"), 1.0))
        if resp.status_code >= 500:
            raise RetryableError(self.service, resp.status_code, server_error(resp.status_code, message), retry_after=parse_retry_after(resp.headers.get("Retry-After")))
        if resp.status_code >= 400:
            if not err:  # not Sandbox's own error: something in front of it (a firewall's bare 403)
                raise TerminalError(self.service, code, http_status(resp.status_code, resp.text[:300]))
            field = f" ({err['field']})" if err.get("field") else ""
            raise TerminalError(self.service, code, message + field)
        if not isinstance(data, dict):
            raise UnreadableAnswerError(self.service, resp.text, maybe_sent=side_effect)
        return data


# --- webhooks (pure) -----------------------------------------------------------------------------------


def verify_signature(webhook_secret: str, body: bytes, header: str) -> bool:
    """X-Sandbox-Signature is `sha256=<hex HMAC-SHA256(secret, raw body)>`; compared in constant time. An empty
    secret verifies nothing (anyone can sign with it)."""
    if not webhook_secret:
        return False
    expected = "sha256=" + hmac.new(webhook_secret.encode("utf-8"), body or b"", hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, (header or "").strip())


def _event(data, content_type: str | None) -> dict:
    event = json_of(data)
    require(event, "event_id", "event")
    require(event, "type", "event")
    if not isinstance(event.get("data"), dict):
        raise WebhookFormatError("event has no 'data' object")
    return event


def parse_call_result(data, content_type: str | None = None) -> CallResult | None:
    """call.completed → CallResult; ringing/answered are progress (None)."""
    event = _event(data, content_type)
    if event["type"] != "call.completed":
        return None
    call = event["data"]
    status = str(require(call, "status", "call"))
    digits = call.get("digits_pressed") or []
    if not isinstance(digits, list):
        raise WebhookFormatError(f"call's 'digits_pressed' must be a list, got {type(digits).__name__}")
    if any(isinstance(d, (dict, list)) for d in digits):
        raise WebhookFormatError("call's 'digits_pressed' must be a list of keys (strings)")
    pressed = [str(d) for d in digits]
    action, result = text_of(call, "action", "call"), text_of(call, "result", "call")
    if status == "completed":
        outcome = action or RESULT_OUTCOME.get(result, "unknown")
        if outcome not in ("confirm", "cancel", "agent", "no_answer", "invalid", "unknown"):
            outcome = "unknown"
    else:
        outcome = CALL_END.get(status, "unknown")
    raw = status + (f"/{result}" if result else "")
    return CallResult(event_id=str(event["event_id"]), provider_id=str(require(call, "id", "call")),
                      outcome=outcome, digits=pressed, raw_status=raw,
                      reference=text_of(call, "idempotency_key", "call"))  # the Sandbox echoes our key


def parse_inbound_sms(data, content_type: str | None = None) -> InboundSms | None:
    """sms.inbound → InboundSms; other events on the same URL → None."""
    event = _event(data, content_type)
    if event["type"] != "sms.inbound":
        return None
    return _inbound(event["data"], str(event["event_id"]))


def parse_delivery_report(data, content_type: str | None = None) -> DeliveryReport | None:
    """sms.status → DeliveryReport (delivered / undelivered / still under way); other events → None."""
    event = _event(data, content_type)
    if event["type"] != "sms.status":
        return None
    msg = event["data"]
    status = str(require(msg, "status", "message"))
    delivered = True if status == "delivered" else False if status == "undelivered" else None
    error_code = text_of(msg, "error_code", "message")
    if error_code:
        status += f" ({error_code})"
    return DeliveryReport(event_id=str(event["event_id"]), provider_id=str(require(msg, "id", "message")),
                          delivered=delivered, status=status,
                          reference=text_of(msg, "idempotency_key", "message"))


def _inbound(item: dict, event_id: str) -> InboundSms:
    received = item.get("received_at")
    try:
        when = datetime.fromisoformat(str(received).replace("Z", "+00:00")) if received else None
    except ValueError:
        raise WebhookFormatError(f"received_at is not ISO-8601: {received!r}") from None
    return InboundSms(event_id=event_id, from_number=str(require(item, "from", "message")), to=text_of(item, "to", "message"),
                      text=text_of(item, "text", "message"), received_at=when)

