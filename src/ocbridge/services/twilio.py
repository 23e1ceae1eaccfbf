"""Twilio client: confirmation calls with inline TwiML, SMS, signed webhooks (telephony-sms.md §3).

HTTP Basic (Account SID or API key SID + secret), form-encoded requests, JSON answers and errors
`{code, message, more_info, status}`. The call speaks the text in a <Gather>; the pressed key comes to
our webhook as the Gather action (Digits), the end of the call as the status callback. Markers of ours
ride in those URLs' query (`ocb_*`: step, key, second prompt): Twilio signs the full URL, so they cannot
be forged, and the webhook must merge the query into the form fields it hands to the parsers.
Twilio takes no idempotency key; after a lost answer we list the resources sent to the same number
since the pending request and accept a single unclaimed one (or one carrying our key).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from datetime import timedelta
from decimal import Decimal, InvalidOperation
from email.utils import parsedate_to_datetime
from urllib.parse import parse_qs, urlencode, urlsplit, urlunsplit
from xml.sax.saxutils import escape, quoteattr

from django.utils.translation import gettext_noop

from ocbridge.core import ratelimit
from ocbridge.core.choices import Direction, ExchangeOutcome
from ocbridge.core.errors import (
    RetryableError, TerminalError, UnknownOutcomeError, parse_retry_after, rate_limited, server_error,
)
from ocbridge.core.exchanges import ExchangeRecorder
from ocbridge.core.http import HttpClient, shared_client
from ocbridge.core.sentences import Sentence, ngettext_noop
from ocbridge.services.base import (
    E164, CallResult, CallStarted, Capabilities, DeliveryReport, InboundSms, SmsSent, UnreadableAnswerError,
    check_e164, form_of, outcome_for_digit, replay_or_recover, require, tts_language,
)

BASE_URL = "https://api.twilio.com"
# language → (Say language, voice). Polly voice names per Twilio's voice table — unverified (§3.1): test once
# per deploy; options["voices"] = {"tr": "Google.tr-TR-Standard-A"} overrides a voice.
VOICES = {"tr": ("tr-TR", "Polly.Filiz"), "en": ("en-US", "Polly.Joanna"), "ru": ("ru-RU", "Polly.Tatyana"),
          "de": ("de-DE", "Polly.Marlene"), "ar": ("arb", "Polly.Zeina")}
CALL_RATE, SMS_RATE = 1.0, 1.0  # Twilio's default: 1 call per second per account, 1 message/s per number
CALL_END = {"busy": "busy", "no-answer": "no_answer", "failed": "failed", "canceled": "failed", "completed": "unknown"}
DELIVERED = {"delivered": True, "read": True, "undelivered": False, "failed": False}
RETRY_CODES = {20429, 20500, 20503}


class TwilioClient:
    """Twilio voice + messaging. Knows the protocol; knows nothing of stores or orders."""

    service = "twilio"
    capabilities = Capabilities(can_call=True, can_sms=True, second_prompt=True, tts_languages=tuple(VOICES),
                                inbound_sms="push", signed_webhooks=True,
                                answer_window=300.0)  # Timeout 30 s of ringing, then the call itself

    def __init__(self, connection, *, http: HttpClient | None = None):
        self._conn = connection
        creds = connection.credentials()  # decrypted here, never logged
        self._sid = str(creds.get("account_sid") or "")
        self._token = str(creds.get("auth_token") or "")
        user, secret = creds.get("api_key_sid") or self._sid, creds.get("api_key_secret") or self._token
        self._auth = "Basic " + base64.b64encode(f"{user}:{secret}".encode()).decode("ascii")
        self._options = connection.options or {}
        self._api = f"/2010-04-01/Accounts/{self._sid}"
        self._http = http or shared_client(self.service, (connection.base_url or BASE_URL).rstrip("/"), timeout=15)
        self._rec = ExchangeRecorder(self.service, connection=connection, secrets=[self._token, str(secret)])

    # side effects ---------------------------------------------------------------------------------
    def start_confirmation_call(self, *, to: str, text: str, digits: dict, webhook_url: str, key: str,
                                language: str, caller_id: str | None = None, announcement_id: str | None = None,
                                second_prompt_text: str | None = None, rep_target: str | None = None,
                                reference: str = "") -> CallStarted:
        to = check_e164(self.service, to)
        lang = tts_language(self.service, language, VOICES)
        voice = (self._options.get("voices") or {}).get(lang[0][:2], lang[1])
        echo = {"ocb_k": key, **({"ocb_c": reference} if reference else {})}  # back in every callback URL
        markers = {"ocb_step": "1", **echo, "ocb_lang": lang[0], "ocb_voice": voice}
        if second_prompt_text:
            markers.update(ocb_twice=",".join(k for k, v in digits.items() if v == "cancel"), ocb_sp=second_prompt_text)
        agent = next((k for k, v in digits.items() if v == "agent"), None)
        if agent and rep_target and E164.fullmatch(rep_target.strip()):
            markers.update(ocb_agent=agent, ocb_rep=rep_target.strip())
        form = {"To": to, "From": caller_id or self._options.get("from_number") or "",
                "Twiml": confirmation_twiml(text=text, language=lang[0], voice=voice,
                                            action_url=with_query(webhook_url, markers)),
                "StatusCallback": with_query(webhook_url, echo), "StatusCallbackEvent": "completed",
                "Timeout": "30"}
        if len(form["Twiml"]) > TWIML_LIMIT:
            raise TerminalError(self.service, 32018, Sentence(*ngettext_noop(
                "the call's TwiML is {count} character; Twilio refuses more than {limit}: shorten the text",
                "the call's TwiML is {count} characters; Twilio refuses more than {limit}: shorten the text"),
                count=len(form["Twiml"]), limit=TWIML_LIMIT))
        done = replay_or_recover(self._rec, key, service=self.service, stored=_stored(CallStarted),
                                 ask=lambda row: self._find("Calls", "calls", row, to, key, CallStarted))
        if done is not None:
            return done
        ratelimit.acquire((self.service, self._conn.pk, "calls"), CALL_RATE)
        res = self._call("POST", f"{self._api}/Calls.json", key=key, purpose="twilio.start_call", form=form)
        return CallStarted(provider_id=str(require_sid(self.service, res)))

    def send_sms(self, *, to: str, text: str, key: str, webhook_url: str | None = None,
                 sender: str | None = None, reference: str = "") -> SmsSent:
        to = check_e164(self.service, to)
        form = {"To": to, "Body": text}
        if self._options.get("messaging_service_sid") and not sender:
            form["MessagingServiceSid"] = self._options["messaging_service_sid"]
        else:
            form["From"] = sender or self._options.get("from_number") or ""
        if webhook_url:
            form["StatusCallback"] = with_query(webhook_url, {"ocb_k": key, **({"ocb_c": reference} if reference else {})})
        done = replay_or_recover(self._rec, key, service=self.service, stored=_stored(SmsSent),
                                 ask=lambda row: self._find("Messages", "messages", row, to, key, SmsSent))
        if done is not None:
            return done
        ratelimit.acquire((self.service, self._conn.pk, "sms"), SMS_RATE)
        res = self._call("POST", f"{self._api}/Messages.json", key=key, purpose="twilio.send_sms", form=form)
        return SmsSent(provider_id=str(require_sid(self.service, res)))

    # reads ----------------------------------------------------------------------------------------
    def balance(self) -> tuple[Decimal, str]:
        """`GET /2010-04-01/Accounts/{Sid}/Balance.json` → `{"account_sid", "balance": "0.05", "currency": "USD"}`
        (the official twilio package, rest/api/v2010/account/balance.py)."""
        res = self._call("GET", f"{self._api}/Balance.json", purpose="twilio.balance")
        try:
            return Decimal(str(res.get("balance"))), str(res.get("currency") or "USD").upper()
        except InvalidOperation:
            raise UnreadableAnswerError(self.service, str(res)[:200], maybe_sent=False) from None

    def check_credentials(self) -> Sentence:
        res = self._call("GET", f"{self._api}.json", purpose="twilio.check")
        return Sentence(gettext_noop("Twilio account {name} ({status})"), name=res.get("friendly_name") or self._sid,
                        status=res.get("status") or Sentence(gettext_noop("unknown status")))

    # the one path to the network ----------------------------------------------------------------------
    def _find(self, resource: str, field: str, row, to: str, key: str, cls):
        """Resources sent to `to` since the pending request that no other Exchange of ours claims."""
        from ocbridge.core.models import Exchange

        res = self._call("GET", f"{self._api}/{resource}.json", params={"To": to, "PageSize": "50"},
                         purpose="twilio.lookup")
        since = row.created - timedelta(minutes=2)  # clocks differ a little
        mine, unclaimed = [], []
        for item in res.get(field) or []:
            try:
                created = parsedate_to_datetime(str(item.get("date_created")))
            except (TypeError, ValueError):
                continue
            if created < since or not item.get("sid"):
                continue
            if urlencode({"ocb_k": key}) in json.dumps(item):  # our key echoed in a callback URL
                mine.append(item)
            elif not Exchange.objects.filter(service=self.service, direction=Direction.OUT, outcome=ExchangeOutcome.OK,
                                             response_body__contains=item["sid"]).exclude(key="").exists():
                unclaimed.append(item)
        found = mine or unclaimed
        if not found:
            return None
        if len(found) > 1:
            lost = (ngettext_noop("{count} call to this number since the lost answer",
                                  "{count} calls to this number since the lost answer") if resource == "Calls" else
                    ngettext_noop("{count} message to this number since the lost answer",
                                  "{count} messages to this number since the lost answer"))
            raise UnknownOutcomeError(self.service, "unknown_outcome", Sentence(*lost, count=len(found)))
        return cls(provider_id=str(found[0]["sid"])), json.dumps(found[0])

    def _call(self, method: str, path: str, *, key: str = "", purpose: str = "", form: dict | None = None,
              params: dict | None = None) -> dict:
        headers = {"Authorization": self._auth, "Accept": "application/json"}
        content = None
        if form is not None:
            content = urlencode(form)
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        with self._rec.exchange(method, self._http.build_url(path, params), key=key, purpose=purpose,
                                request_body=content, request_headers=headers) as ex:
            resp = self._http.request(method, path, params=params, headers=headers,
                                      content=content.encode("utf-8") if content else None)
            ex.finish(resp)
            return self._classify(resp, side_effect=bool(key))

    def _classify(self, resp, *, side_effect: bool) -> dict:
        """The one place Twilio answers are read: JSON body, or errors with Twilio's code and message."""
        try:
            body = resp.json()
        except ValueError:
            body = None
        body = body if isinstance(body, dict) else None
        code = (body or {}).get("code")
        message = str((body or {}).get("message") or resp.text[:300])
        if resp.status_code == 429 or resp.status_code >= 500 or code in RETRY_CODES:
            said = rate_limited(message) if resp.status_code == 429 or code == 20429 \
                else server_error(resp.status_code, message) if resp.status_code >= 500 else message
            raise RetryableError(self.service, code or resp.status_code, said, retry_after=parse_retry_after(
                resp.headers.get("Retry-After"), 1.0 if resp.status_code == 429 else None))
        if resp.status_code >= 400:
            raise TerminalError(self.service, code or resp.status_code, message)
        if body is None:
            raise UnreadableAnswerError(self.service, resp.text, maybe_sent=side_effect)
        return body


def _stored(cls):
    return lambda text: cls(provider_id=str(json.loads(text)["sid"]))


def require_sid(service: str, res: dict) -> str:
    if not res.get("sid"):
        raise UnreadableAnswerError(service, json.dumps(res), maybe_sent=True)
    return res["sid"]


def with_query(url: str, params: dict) -> str:
    return url + ("&" if "?" in url else "?") + urlencode(params)


# --- TwiML (pure) ---------------------------------------------------------------------------------------

EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response></Response>'  # "no reply" to an SMS webhook
TWIML_LIMIT = 4000  # characters; longer TwiML is refused (Twilio error 32018)


def _say(text: str, language: str, voice: str) -> str:
    return f"<Say language={quoteattr(language)} voice={quoteattr(voice)}>{escape(text)}</Say>"


def _gather(inner: str, action_url: str) -> str:
    # actionOnEmptyResult: "no key" comes to the action too, so one place learns every answer.
    return (f'<Gather input="dtmf" numDigits="1" timeout="6" method="POST" actionOnEmptyResult="true" '
            f"action={quoteattr(action_url)}>{inner}</Gather>")


def confirmation_twiml(*, text: str, language: str, voice: str, action_url: str) -> str:
    """The call's first document: say the text, wait for one key, post it to the action URL."""
    return f'<?xml version="1.0" encoding="UTF-8"?><Response>{_gather(_say(text, language, voice), action_url)}</Response>'


def gather_reply_twiml(data: dict, action_url: str) -> str:
    """What to answer a Gather action with (`data` = form + query of that request, `action_url` = its URL):
    the second prompt after a key that must be pressed twice, a <Dial> to the representative for the agent
    key, else hang up. The decision itself is parse_call_result's business."""
    form = form_of(data)
    digit, step = form.get("Digits", ""), form.get("ocb_step", "1")
    lang, voice = form.get("ocb_lang", "tr-TR"), form.get("ocb_voice", VOICES["tr"][1])
    if step == "1" and digit and form.get("ocb_sp") and digit in form.get("ocb_twice", "").split(","):
        base = action_url.split("?", 1)[0]
        markers = {k: v for k, v in form.items() if k.startswith("ocb_") and k != "ocb_step"}
        nxt = with_query(base, {**markers, "ocb_step": "2", "ocb_first": digit})
        body = _gather(_say(form["ocb_sp"], lang, voice), nxt)
    elif digit and digit == form.get("ocb_agent") and form.get("ocb_rep"):
        body = f"<Dial>{escape(form['ocb_rep'])}</Dial>"
    else:
        body = "<Hangup/>"
    return f'<?xml version="1.0" encoding="UTF-8"?><Response>{body}</Response>'


# --- webhooks (pure) -------------------------------------------------------------------------------------


def validate_signature(auth_token: str, url: str, params, signature: str, algorithm: str | None = None) -> bool:
    """X-Twilio-Signature, checked as twilio-python's RequestValidator does (the contract tests hold us to it):
    base64 HMAC (SHA1 unless X-Twilio-Webhooks-Signature-Settings names another) with the Auth Token over the
    URL + every POST name and its distinct values, both sorted. Twilio signs the URL with or without the
    default port, so both are tried. `params`: {name: value or [values]} for a form POST, {} for GET, the raw
    body (str) for a JSON webhook whose URL carries bodySHA256."""
    hash_fn = SIGNATURE_HASHES.get((algorithm or "HMAC_SHA1").strip().upper())
    if not auth_token or not signature or hash_fn is None:
        return False
    body_ok = True
    if isinstance(params, (str, bytes)):
        raw = params.encode("utf-8") if isinstance(params, str) else params
        expected = parse_qs(urlsplit(url).query).get("bodySHA256", [None])[0]
        body_ok = expected is not None and hmac.compare_digest(hashlib.sha256(raw).hexdigest(), expected)
        params = {}
    parts = []
    for name in sorted(params or {}):
        values = params[name] if isinstance(params[name], (list, tuple)) else [params[name]]
        parts.extend(f"{name}{v}" for v in sorted(set(map(str, values))))
    signed = "".join(parts)
    for candidate in _with_and_without_port(url):
        digest = hmac.new(auth_token.encode("utf-8"), (candidate + signed).encode("utf-8"), hash_fn).digest()
        if hmac.compare_digest(base64.b64encode(digest).decode("ascii"), signature.strip()):
            return body_ok
    return False


SIGNATURE_HASHES = {"HMAC_SHA1": hashlib.sha1, "HMAC_SHA256": hashlib.sha256}


def signature_algorithm(settings_header: str | None) -> str:
    """The algorithm named in X-Twilio-Webhooks-Signature-Settings (`key=…,algorithm=…`); absent = HMAC_SHA1."""
    for part in (settings_header or "").split(","):
        name, sep, value = part.partition("=")
        if sep and name.strip() == "algorithm" and value.strip():
            return value.strip()
    return "HMAC_SHA1"


def _with_and_without_port(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    host = parts.hostname or ""
    host = f"[{host}]" if ":" in host else host
    userinfo = parts.netloc.rpartition("@")[0]
    netloc = (userinfo + "@" if userinfo else "") + host
    port = parts.port or (443 if parts.scheme == "https" else 80)
    return (urlunsplit(parts._replace(netloc=netloc)), urlunsplit(parts._replace(netloc=f"{netloc}:{port}")))


def webhook_params(request) -> dict[str, list[str]]:
    """The signed parameters of a Django request to a Twilio webhook: every value of every POST field."""
    return {name: request.POST.getlist(name) for name in request.POST} if request.method == "POST" else {}


def parse_call_result(data, content_type: str | None = None) -> CallResult | None:
    """Gather action (Digits) → the decision; status callback → how an undecided call ended.
    None: nothing to act on (the first key of a twice-pressed choice, or a progress status)."""
    form = form_of(data)
    if not form:
        return None
    sid = str(require(form, "CallSid", "Twilio callback"))
    if "Digits" in form:
        digit, step = form["Digits"].strip(), form.get("ocb_step", "1")
        if step == "2":
            first = form.get("ocb_first", "")
            pressed = [d for d in (first, digit) if d]
            outcome = "unknown" if not digit else outcome_for_digit(first if digit == first else digit)
        elif digit and form.get("ocb_sp") and digit in form.get("ocb_twice", "").split(","):
            return None  # the second prompt is playing; its action brings both keys
        else:
            pressed, outcome = ([digit], outcome_for_digit(digit)) if digit else ([], "no_answer")
        return CallResult(event_id=f"{sid}:gather:{step}", provider_id=sid, outcome=outcome, digits=pressed,
                          raw_status=f"gather step {step}", reference=_reference(form))
    status = str(require(form, "CallStatus", "Twilio callback"))
    if status not in CALL_END:
        return None  # queued / ringing / in-progress
    return CallResult(event_id=f"{sid}:{status}", provider_id=sid, outcome=CALL_END[status], digits=[],
                      raw_status=status + (f" ({form['ErrorCode']})" if form.get("ErrorCode") else ""),
                      reference=_reference(form))


def _reference(form: dict) -> str:
    """Our correlation number (ocb_c), else our key (ocb_k), from the callback URL's query we set."""
    return form.get("ocb_c") or form.get("ocb_k") or ""


def parse_inbound_sms(data, content_type: str | None = None) -> InboundSms | None:
    """A message to our Twilio number; a delivery report on the same URL → None."""
    form = form_of(data)
    if not form or (form.get("MessageStatus") or form.get("SmsStatus") or "received") != "received":
        return None
    return InboundSms(event_id=str(require(form, "MessageSid", "inbound SMS")),
                      from_number=str(require(form, "From", "inbound SMS")), to=form.get("To", ""),
                      text=form.get("Body", ""), received_at=None)


def parse_delivery_report(data, content_type: str | None = None) -> DeliveryReport | None:
    """Message status callback → delivered True/False, None while queued/sending/sent; inbound → None."""
    form = form_of(data)
    status = form.get("MessageStatus") or form.get("SmsStatus") or ""
    if not form or status == "received":
        return None
    sid = str(require(form, "MessageSid", "status callback"))
    status = str(require(form, "MessageStatus", "status callback"))
    return DeliveryReport(event_id=f"{sid}:{status}", provider_id=sid, delivered=DELIVERED.get(status),
                          status=status + (f" ({form['ErrorCode']})" if form.get("ErrorCode") else ""),
                          reference=_reference(form))
