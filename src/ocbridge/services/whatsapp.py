"""WhatsApp Cloud API client (Meta Graph API, version pinned) for COD confirmation messages.

Facts and their sources: /work/shared/providers/whatsapp.md (§ numbers below). Bearer system-user token (§1);
template sends from the phone number id, templates on the WABA id (§1, §2, §3); webhooks signed with the app
secret as `X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of the raw body>` (§4). Meta has no idempotency key (§2):
our key rides in `biz_opaque_callback_data` and comes back in status webhooks; a send whose answer was lost is
never repeated (the Exchange stays PENDING and the next try raises UnknownOutcomeError).

Connection: credentials `access_token`, `app_secret`, `verify_token` (encrypted); options `phone_number_id`,
`waba_id`. Knows the protocol; knows nothing of stores or orders.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass, field

from django.utils.translation import gettext_noop

from ocbridge.core import ratelimit
from ocbridge.core.errors import RetryableError, TerminalError, rate_limited, server_error
from ocbridge.core.exchanges import ExchangeRecorder
from ocbridge.core.http import HttpClient, shared_client
from ocbridge.core.sentences import Sentence
from ocbridge.services.base import (
    Capabilities, UnreadableAnswerError, WebhookFormatError, bearer_json_call, check_e164, json_of,
    replay_or_recover,
)

GRAPH_URL = "https://graph.facebook.com"
# Pinned: without a version Meta uses its newest one (§1). v25.0 is available until 2028-07-29 (§1 [VER]);
# core/provider_methods.py carries that date, so a test fails before it is switched off.
GRAPH_VERSION = "v25.0"
LANGUAGES = ("tr", "ru", "en", "ar")  # template languages we create (§3 language codes)
TTL_RANGE = (30, 12 * 3600)  # utility templates: message_send_ttl_seconds 30 s … 12 h (§2)
RATE = 20.0  # requests/s per number: under the lowest throughput tier (20/s for Business-app numbers, §5)
PAIR_RETRY_SECONDS = 6.0  # 1 message per 6 s to the same user (§5, 131056)
# §5 "R" codes that mean Meta did not take the message: safe to send again later.
NOT_TAKEN_RETRY = {130429, 131056, 131057, 133004, 4, 80007}
# §5 "R" codes of a server failure: the message may have been taken — never sent blindly again.
MAYBE_TAKEN = {131000, 2, 131016}
RATE_LIMITS = {130429, 131056, 4, 80007}  # of those: throughput, pair rate, app and account rate limits (§5)
NOT_ON_WHATSAPP = 131026  # undeliverable: not on WhatsApp, terms not accepted, old app (§5, §7)
WINDOW_CLOSED = 131047  # more than 24 h since the customer's last message: only a template goes (§5)
TOKEN_EXPIRED = 190
NO_PHONE_NUMBER_ID = gettext_noop("the connection has no phone number id")


class MaybeSentError(RetryableError):
    """A server error or gateway 5xx on a send: the message may have been taken (DESIGN: 5xx = unknown)."""

    maybe_sent = True  # read by ExchangeHandle.fail: the Exchange stays PENDING, so the retry does not resend


class RecipientError(TerminalError):
    """This recipient cannot get WhatsApp messages (131026 and the like): the next channel, at once."""

    recipient = True


@dataclass
class MessageSent:
    provider_id: str  # wamid
    wa_id: str = ""


@dataclass
class WaMessage:
    """A customer wrote to us: a quick-reply tap (`payload`), an interactive reply, or free text."""

    event_id: str  # the inbound wamid
    from_number: str  # E.164 (+ and the wa_id digits)
    kind: str  # "button", "interactive", "text" or another Meta type
    payload: str = ""
    text: str = ""
    context_id: str = ""  # the wamid of our message it answers
    phone_number_id: str = ""
    # Meta's `messages[].timestamp` (Unix seconds, a string in the payload) — its own time for the message, kept when
    # Meta redelivers the webhook days later (§4). None when absent or unreadable.
    sent_at: int | None = None


@dataclass
class WaStatus:
    """What became of one of our messages: sent, delivered, read or failed (+ errors)."""

    event_id: str  # wamid:status — a status is the same event whenever Meta repeats it
    provider_id: str
    status: str
    callback_data: str = ""  # our biz_opaque_callback_data, echoed
    recipient: str = ""
    errors: list = field(default_factory=list)  # [(code, title)]
    phone_number_id: str = ""

    @property
    def not_on_whatsapp(self) -> bool:
        return any(code == NOT_ON_WHATSAPP for code, _ in self.errors)


@dataclass
class WaTemplateStatus:
    """message_template_status_update: APPROVED, REJECTED (+ reason), PAUSED, DISABLED…"""

    event_id: str
    template_id: str
    name: str
    language: str
    status: str
    reason: str = ""


class WhatsAppClient:
    service = "whatsapp"
    capabilities = Capabilities(can_call=False, can_sms=False, second_prompt=False, tts_languages=(),
                                inbound_sms="", signed_webhooks=True, can_whatsapp=True)

    def __init__(self, connection, *, http: HttpClient | None = None):
        self.connection = self._conn = connection
        creds = connection.credentials()  # decrypted here, never logged
        self._token = str(creds.get("access_token") or "")
        options = connection.options or {}
        self.phone_number_id = str(options.get("phone_number_id") or "")
        self.waba_id = str(options.get("waba_id") or "")
        base = (connection.base_url or GRAPH_URL).rstrip("/")
        self._http = http or shared_client(self.service, f"{base}/{GRAPH_VERSION}", timeout=15)
        self._rec = ExchangeRecorder(self.service, connection=connection,
                                     secrets=[self._token, str(creds.get("app_secret") or "")])

    # side effects ---------------------------------------------------------------------------------
    def send_template(self, *, to: str, template: str, language: str, params: dict[str, str],
                      button_payloads: list[str], key: str, ttl_seconds: int, reference: str = "") -> MessageSent:
        """A UTILITY template with named body parameters and quick-reply buttons carrying our payloads (§2).
        `reference` (the outbox's correlation number, else our key) rides in biz_opaque_callback_data."""
        if not self.phone_number_id:
            raise TerminalError(self.service, "config", Sentence(NO_PHONE_NUMBER_ID))
        components = [{"type": "body", "parameters": [
            {"type": "text", "parameter_name": name, "text": value} for name, value in params.items()]}]
        components += [{"type": "button", "sub_type": "quick_reply", "index": str(i),
                        "parameters": [{"type": "payload", "payload": p}]} for i, p in enumerate(button_payloads)]
        body = {"messaging_product": "whatsapp", "recipient_type": "individual", "to": check_e164(self.service, to),
                "type": "template", "biz_opaque_callback_data": reference or key,
                "template": {"name": template, "language": {"code": language}, "components": components}}
        ttl = min(max(int(ttl_seconds), TTL_RANGE[0]), TTL_RANGE[1])
        body["message_send_ttl_seconds"] = ttl  # §2 TTL: a stale confirmation never lands hours later
        return self._send(body, key=key, purpose="whatsapp.send_template")

    def send_text(self, *, to: str, text: str, key: str, reference: str = "") -> MessageSent:
        """A free-form text in the chat (§2 `text.body` ≤ 4096, links previewed). Meta takes it only inside the
        customer service window (24 h after the customer's last message, §2): outside it the message fails with
        131047, in the answer or in a `failed` status (§5). The caller checks the window first."""
        if not self.phone_number_id:
            raise TerminalError(self.service, "config", Sentence(NO_PHONE_NUMBER_ID))
        body = {"messaging_product": "whatsapp", "recipient_type": "individual", "to": check_e164(self.service, to),
                "type": "text", "biz_opaque_callback_data": reference or key,
                "text": {"body": text[:4096], "preview_url": True}}
        return self._send(body, key=key, purpose="whatsapp.send_text")

    def _send(self, body: dict, *, key: str, purpose: str) -> MessageSent:
        """One message to /messages, once per key. No way to ask Meta "did you get key K?": an earlier PENDING send
        makes this an UnknownOutcomeError."""
        done = replay_or_recover(self._rec, key, service=self.service, stored=_sent_from, ask=None)
        if done is not None:
            return done
        ratelimit.acquire((self.service, self._conn.pk, "api"), RATE)
        res = self._call("POST", f"/{self.phone_number_id}/messages", key=key, purpose=purpose, body=body)
        return _sent_from(json.dumps(res))

    def create_template(self, *, name: str, language: str, body: str, examples: dict[str, str],
                        buttons: list[str], key: str) -> dict:
        """Submit a UTILITY template for review (§3); the answer's status is usually PENDING."""
        if not self.waba_id:
            raise TerminalError(self.service, "config", Sentence(gettext_noop(
                "the connection has no WhatsApp Business Account id")))
        payload = {"name": name, "language": language, "category": "UTILITY", "parameter_format": "named",
                   "components": [
                       {"type": "body", "text": body, "example": {"body_text_named_params": [
                           {"param_name": k, "example": v} for k, v in examples.items()]}},
                       {"type": "buttons", "buttons": [{"type": "quick_reply", "text": b} for b in buttons]}]}
        return self._call("POST", f"/{self.waba_id}/message_templates", key=key, purpose="whatsapp.create_template",
                          body=payload)

    # reads ----------------------------------------------------------------------------------------
    def templates(self, name: str) -> list[dict]:
        """Every language of one template: [{id, name, language, status, category, rejected_reason}]."""
        res = self._call("GET", f"/{self.waba_id}/message_templates", purpose="whatsapp.templates",
                         params={"name": name, "fields": "id,name,language,status,category,rejected_reason"})
        return [t for t in res.get("data") or [] if isinstance(t, dict)]

    def check_credentials(self) -> Sentence:
        if not self.phone_number_id:  # else the check would read the API's root, not the number
            raise TerminalError(self.service, "config", Sentence(NO_PHONE_NUMBER_ID))
        res = self._call("GET", f"/{self.phone_number_id}", purpose="whatsapp.check",
                         params={"fields": "display_phone_number,verified_name"})
        return Sentence(gettext_noop("WhatsApp number {number} ({name}) answers"),
                        number=res.get("display_phone_number", "?"), name=res.get("verified_name", ""))

    # the one path to the network ----------------------------------------------------------------------
    def _call(self, method: str, path: str, *, key: str = "", purpose: str = "", body: dict | None = None,
              params: dict | None = None) -> dict:
        return bearer_json_call(self._http, self._rec, self._token, method, path,
                                lambda resp: self._classify(resp, side_effect=bool(key) and method == "POST"),
                                key=key, purpose=purpose, body=body, params=params)

    def _classify(self, resp, *, side_effect: bool) -> dict:
        """Graph errors are `{error: {message, type, code, error_data: {details}, fbtrace_id}}` (§5)."""
        try:
            data = resp.json()
        except ValueError:
            data = None
        err = data.get("error") if isinstance(data, dict) and isinstance(data.get("error"), dict) else None
        if err is None and 200 <= resp.status_code < 300:
            if not isinstance(data, dict):
                raise UnreadableAnswerError(self.service, resp.text, maybe_sent=side_effect)
            return data
        err = err or {}
        code = err.get("code") if isinstance(err.get("code"), int) else resp.status_code
        details = (err.get("error_data") or {}).get("details") if isinstance(err.get("error_data"), dict) else ""
        message = " ".join(str(x) for x in (err.get("message") or resp.text[:300], details) if x)
        if code in NOT_TAKEN_RETRY:
            wait = PAIR_RETRY_SECONDS if code == 131056 else 60.0 if code == 131057 else 1.0
            said = rate_limited(message) if code in RATE_LIMITS or resp.status_code == 429 else message
            raise RetryableError(self.service, code, said, retry_after=wait)
        if code in MAYBE_TAKEN or resp.status_code >= 500:
            said = server_error(resp.status_code, message) if resp.status_code >= 500 else message
            if side_effect:
                raise MaybeSentError(self.service, code, said)
            raise RetryableError(self.service, code, said)
        if code == NOT_ON_WHATSAPP:
            raise RecipientError(self.service, code, message)
        raise TerminalError(self.service, code, message)


def _sent_from(text: str) -> MessageSent:
    data = json.loads(text)
    messages, contacts = data.get("messages") or [{}], data.get("contacts") or [{}]
    wamid = str(messages[0].get("id") or "")
    if not wamid:
        raise UnreadableAnswerError("whatsapp", text, maybe_sent=True)
    return MessageSent(provider_id=wamid, wa_id=str(contacts[0].get("wa_id") or ""))


# --- webhooks (pure) -----------------------------------------------------------------------------------


def verify_signature(app_secret: str, body: bytes, header: str) -> bool:
    """`X-Hub-Signature-256: sha256=<hex HMAC-SHA256(app secret, raw body)>` over the bytes as received (§4:
    Meta signs the unicode-escaped payload, so re-serialised JSON would not match)."""
    if not app_secret:
        return False
    expected = "sha256=" + hmac.new(app_secret.encode("utf-8"), body or b"", hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, (header or "").strip())


def verify_handshake(verify_token: str, params: dict) -> str | None:
    """GET hub.mode=subscribe & hub.verify_token → the hub.challenge to echo, or None (§4)."""
    if params.get("hub.mode") != "subscribe" or not verify_token:
        return None
    if not hmac.compare_digest(str(params.get("hub.verify_token") or ""), verify_token):
        return None
    return str(params.get("hub.challenge") or "")


def parse_webhook(data) -> list:
    """Every event in one POST (up to 1000 per request, §4): WaMessage, WaStatus, WaTemplateStatus."""
    body = json_of(data)
    if body.get("object") != "whatsapp_business_account" or not isinstance(body.get("entry"), list):
        raise WebhookFormatError("not a whatsapp_business_account webhook")
    events: list = []
    for entry in body["entry"]:
        for change in (entry.get("changes") if isinstance(entry, dict) else None) or []:
            if not isinstance(change, dict) or not isinstance(change.get("value"), dict):
                raise WebhookFormatError("a change without a value object")
            value, kind = change["value"], change.get("field")
            if kind == "messages":
                events += _messages(value)
            elif kind == "message_template_status_update":
                events.append(_template_status(value))
    return events


def _str(obj: dict, name: str, where: str) -> str:
    value = obj.get(name)
    if isinstance(value, (dict, list)):
        raise WebhookFormatError(f"{where}'s {name!r} must be text")
    if value is None or value == "":
        raise WebhookFormatError(f"{where} has no {name!r}")
    return str(value)


def _messages(value: dict) -> list:
    pnid = str((value.get("metadata") or {}).get("phone_number_id") or "")
    out: list = []
    for m in value.get("messages") or []:
        kind = _str(m, "type", "message")
        ev = WaMessage(event_id=_str(m, "id", "message"), from_number="+" + _str(m, "from", "message").lstrip("+"),
                       kind=kind, context_id=str((m.get("context") or {}).get("id") or ""), phone_number_id=pnid,
                       sent_at=_unix_seconds(m.get("timestamp")))
        if kind == "button":  # a template's quick-reply tap: payload (or the label when none was sent, §4)
            button = m.get("button") or {}
            ev.payload, ev.text = str(button.get("payload") or ""), str(button.get("text") or "")
        elif kind == "interactive":
            reply = (m.get("interactive") or {}).get("button_reply") or {}
            ev.payload, ev.text = str(reply.get("id") or ""), str(reply.get("title") or "")
        elif kind == "text":
            ev.text = str((m.get("text") or {}).get("body") or "")
        out.append(ev)
    for s in value.get("statuses") or []:
        wamid, status = _str(s, "id", "status"), _str(s, "status", "status")
        errors = [(e.get("code"), str(e.get("title") or e.get("message") or "")) for e in s.get("errors") or []
                  if isinstance(e, dict)]
        out.append(WaStatus(event_id=f"{wamid}:{status}", provider_id=wamid, status=status,
                            callback_data=str(s.get("biz_opaque_callback_data") or ""),
                            recipient=str(s.get("recipient_id") or ""), errors=errors, phone_number_id=pnid))
    return out


def _unix_seconds(value) -> int | None:
    """A webhook's Unix-seconds timestamp ("1749416383"); None when absent or not a positive whole number."""
    text = str(value).strip() if isinstance(value, (str, int)) and not isinstance(value, bool) else ""
    return int(text) if text.isascii() and text.isdigit() and 0 < int(text) < 10 ** 11 else None


def _template_status(value: dict) -> WaTemplateStatus:
    tid = _str(value, "message_template_id", "template update")
    event = _str(value, "event", "template update")
    return WaTemplateStatus(event_id=f"tpl:{tid}:{event}", template_id=tid,
                            name=str(value.get("message_template_name") or ""),
                            language=str(value.get("message_template_language") or ""), status=event,
                            reason=str(value.get("reason") or ""))
