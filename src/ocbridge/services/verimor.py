"""Verimor client: Bulutsantralim IVR campaigns (robot confirmation call) and SMS API v2 (telephony-sms.md §1).

Two hosts, two credentials: the PBX API key (`key`, in the body or query) and the SMS account
(`username` + `password`, likewise). Answers are plain text: an ID on success, a human-readable
message with HTTP 400 on failure — kept verbatim as the TerminalError message. One campaign per call
keeps cancelling simple (delete the campaign). SMS sends carry our idempotency key as `custom_id`, so
after a crash `/v2/status?custom_id=` tells whether the SMS exists; campaigns cannot be searched, so a
call whose answer was lost is an UnknownOutcomeError.
"""

from __future__ import annotations

import json
import re
import unicodedata
from datetime import datetime
from decimal import Decimal, InvalidOperation
from zoneinfo import ZoneInfo

from django.utils.translation import gettext_noop

from ocbridge.core import ratelimit
from ocbridge.core.errors import (
    RetryableError, TerminalError, http_status, parse_retry_after, rate_limited, server_error,
)
from ocbridge.core.exchanges import ExchangeRecorder
from ocbridge.core.http import HttpClient, shared_client
from ocbridge.core.sentences import Sentence, listed
from ocbridge.services.base import (
    CallResult, CallStarted, Capabilities, DeliveryReport, InboundSms, SmsSent, UnreadableAnswerError,
    WebhookFormatError, check_e164, digits_90, form_of, json_of, outcome_for_digit, replay_or_recover, require,
    text_of, to_e164, tts_language,
)

PBX_URL = "https://api.bulutsantralim.com"
SMS_URL = "https://sms.verimor.com.tr"
LANGUAGES = {"tr": "tr-TR", "en": "en-US", "ar": "ar-XA"}  # campaign TTS: no Russian (§1.6)
DIGIT_FIELD = {**{str(d): f"digit_target_{d}" for d in range(10)}, "*": "digit_target_star", "#": "digit_target_square"}
TARGET = re.compile(r"(restart|hangup/(hangup|busy)|(user|group|queue|ivr|voicemail|announcement)/\d+|external/\d+)")
# Documented ceilings (§1.1, §1.8): campaigns ≈2/s (unverified), SMS sends 240/min, reports 20/min.
CAMPAIGN_RATE, SMS_RATE, REPORT_RATE = 2.0, 4.0, 20 / 60
NOT_DELIVERED = {"NOT_DELIVERED", "EXPIRED", "INVALID_DESTINATION_ADDRESS", "REJECTED", "DOUBLE_SEND_ERROR",
                 "BLACKLISTED_DESTINATION_ADDRESS", "NOT_ALLOWED_BY_IYS", "MISSING_TARIFF", "ROUTE_NOT_AVAILABLE",
                 "NETWORK_NOTCOVERED", "SEND_ERROR", "INTERNATIONAL_DENIED"}
LOCAL_TZ = ZoneInfo("Europe/Istanbul")  # push timestamps carry no zone; Turkish local time assumed (unverified)


class VerimorClient:
    """Verimor PBX campaigns + SMS. Knows the protocol; knows nothing of stores or orders."""

    service = "verimor"
    capabilities = Capabilities(can_call=True, can_sms=True, second_prompt=False, tts_languages=tuple(LANGUAGES),
                                inbound_sms="push", signed_webhooks=False,
                                answer_window=600.0)  # ring 25–60 s, one menu replay, queueing in the PBX

    def __init__(self, connection, *, http: HttpClient | None = None, sms_http: HttpClient | None = None):
        self._conn = connection
        creds = connection.credentials()  # decrypted here, never logged
        self._key = str(creds.get("key") or "")
        self._user, self._password = str(creds.get("username") or ""), str(creds.get("password") or "")
        options = connection.options or {}
        self._sender = options.get("sender") or ""
        base = connection.base_url.rstrip("/")
        sms_base = (options.get("sms_base_url") or base or SMS_URL).rstrip("/")  # one simulator serves both
        self._pbx = http or shared_client(self.service, base or PBX_URL, timeout=15)
        shared = http if not options.get("sms_base_url") else None
        self._sms = sms_http or shared or shared_client(self.service, sms_base, timeout=15)
        self._rec = ExchangeRecorder(self.service, connection=connection, secrets=[self._key, self._password])

    # side effects ---------------------------------------------------------------------------------
    def start_confirmation_call(self, *, to: str, text: str, digits: dict, webhook_url: str, key: str,
                                language: str, caller_id: str | None = None, announcement_id: str | None = None,
                                second_prompt_text: str | None = None, rep_target: str | None = None,
                                reference: str = "") -> CallStarted:
        """One IVR campaign for one number; the webhook reports the key pressed (second prompt: not supported)."""
        # The campaign name comes back in every webhook (ivr_campaign_name): our reference matches a lost answer.
        body = {"key": self._key, "name": (reference or key)[:100], "call_type": "ivr", "webhook_url": webhook_url,
                "phone_list": [{"phone": digits_90(check_e164(self.service, to)), "phrase": text,
                                "lang": tts_language(self.service, language, LANGUAGES)}],
                "timeout_target": "hangup/hangup", "invalid_target": "hangup/hangup", "digit_retries": 1}
        for digit, action in digits.items():  # the webhook is the truth; the target only ends the call politely
            body[DIGIT_FIELD[digit]] = self._rep(rep_target) if action == "agent" else "hangup/hangup"
        if caller_id:
            body["cli"] = digits_90(caller_id) if caller_id.startswith("+") else re.sub(r"\D", "", caller_id)
        if announcement_id:
            body["welcome_announcement_id"] = announcement_id
        done = replay_or_recover(self._rec, key, service=self.service, ask=None,
                                 stored=lambda text: CallStarted(provider_id=text.strip()))
        if done is not None:
            return done
        ratelimit.acquire((self.service, self._conn.pk, "campaign"), CAMPAIGN_RATE)
        cid = self._call(self._pbx, "POST", "/ivr_campaigns.json", key=key, purpose="verimor.start_call",
                         json_body=body, expect="id")
        return CallStarted(provider_id=cid)

    def send_sms(self, *, to: str, text: str, key: str, webhook_url: str | None = None,
                 sender: str | None = None, reference: str = "") -> SmsSent:
        """Reports arrive at the push URL set in OİM, not per message: `webhook_url` is not sent."""
        to = check_e164(self.service, to)
        custom_id = reference or key  # echoed as campaign_custom_id in delivery reports; /v2/status finds it
        body = {"username": self._user, "password": self._password, "custom_id": custom_id,
                "messages": [{"msg": text, "dest": digits_90(to)}]}
        coding = datacoding(text, domestic=to.startswith("+90"))
        if coding is not None:
            body["datacoding"] = coding
        if sender or self._sender:
            body["source_addr"] = sender or self._sender
        done = replay_or_recover(self._rec, key, service=self.service, ask=lambda row: self._find_sms(custom_id),
                                 stored=lambda text: SmsSent(provider_id=text.strip()))
        if done is not None:
            return done
        ratelimit.acquire((self.service, self._conn.pk, "sms"), SMS_RATE)
        cid = self._call(self._sms, "POST", "/v2/send.json", key=key, purpose="verimor.send_sms", json_body=body,
                         expect="id")
        return SmsSent(provider_id=cid)

    # reads ----------------------------------------------------------------------------------------
    def fetch_inbound_sms(self, *, after: str = "") -> list[InboundSms]:
        """Pull safety net behind the push (§1.8): inbound messages with message_id greater than `after`."""
        params = {"username": self._user, "password": self._password, **({"greater_than": after} if after else {})}
        ratelimit.acquire((self.service, self._conn.pk, "report"), REPORT_RATE)
        items = self._call(self._sms, "GET", "/v2/inbound_messages", params=params, purpose="verimor.inbound",
                           expect="json")
        return [_inbound(item) for item in items or []]

    def balance(self) -> tuple[Decimal, str]:
        """The SMS account's remaining credit: `GET /v2/balance?username&password` → `200` and a bare number
        ("123"), `401 Geçersiz kullanıcı adı/şifre` (verimor/SMS-API user_guide.md, "SMS KALAN KREDİ SORGULAMA").
        Counted in SMS credits, not money."""
        if not self._user:
            raise TerminalError(self.service, "no_sms_account",
                                Sentence(gettext_noop("no SMS account (username) is set")))
        text = self._call(self._sms, "GET", "/v2/balance", purpose="verimor.balance",
                          params={"username": self._user, "password": self._password}, expect="text").strip()
        try:
            return Decimal(text.replace(",", ".")), "credits"
        except InvalidOperation:
            raise UnreadableAnswerError(self.service, text, maybe_sent=False) from None

    def check_credentials(self) -> Sentence | str:
        """Balance with the SMS account, a one-row CDR query with the PBX key (whichever are configured)."""
        if not (self._key or self._user):
            raise TerminalError(self.service, "no_credentials",
                                Sentence(gettext_noop("neither a PBX key nor an SMS account is set")))
        found = []
        if self._user:
            credit = self._call(self._sms, "GET", "/v2/balance", purpose="verimor.check",
                                params={"username": self._user, "password": self._password}, expect="text")
            found.append(Sentence(gettext_noop("SMS account OK, balance {balance}"), balance=credit.strip()))
        if self._key:
            self._call(self._pbx, "GET", "/cdrs", params={"key": self._key, "limit": 10}, purpose="verimor.check",
                       expect="json")
            found.append(Sentence(gettext_noop("PBX key OK")))
        return listed(found)

    # the one path to the network ----------------------------------------------------------------------
    def _rep(self, target: str | None) -> str:
        """Key 0: a PBX target as is, a phone number as external/…; nothing configured → hang up."""
        target = (target or "").strip()
        if TARGET.fullmatch(target):
            return target
        if re.fullmatch(r"\+?\d{7,15}", target):
            return "external/" + (digits_90(target) if target.startswith("+") else target)
        return "hangup/hangup"

    def find_sent(self, channel: str, effect) -> str | None:
        """The provider id of a send whose answer was lost, or None (campaigns cannot be searched: calls → None)."""
        if channel != "sms" or not self._user:
            return None
        found = self._find_sms(str(effect.correlation))
        return found[0].provider_id if found else None

    def _find_sms(self, key: str):
        ratelimit.acquire((self.service, self._conn.pk, "report"), REPORT_RATE)
        try:
            rows = self._call(self._sms, "GET", "/v2/status", purpose="verimor.lookup", expect="json",
                              params={"username": self._user, "password": self._password, "custom_id": key})
        except TerminalError as exc:
            if exc.code == 404:  # "Bu idye sahip kampanya bulunamadı": it never arrived
                return None
            raise
        if not rows:
            return None
        cid = str(rows[0].get("campaign_id"))
        return SmsSent(provider_id=cid), cid

    def _call(self, http: HttpClient, method: str, path: str, *, key: str = "", purpose: str = "",
              json_body: dict | None = None, params: dict | None = None, expect: str = "text"):
        content = json.dumps(json_body, ensure_ascii=False) if json_body is not None else None
        headers = {"Content-Type": "application/json; charset=utf-8"} if content else {}
        with self._rec.exchange(method, http.build_url(path, params), key=key, purpose=purpose,
                                request_body=content, request_headers=headers) as ex:
            resp = http.request(method, path, params=params, headers=headers,
                                content=content.encode("utf-8") if content else None)
            ex.finish(resp)
            return self._classify(resp, expect=expect, side_effect=bool(key))

    def _classify(self, resp, *, expect: str, side_effect: bool):
        """The one place Verimor answers are read. Error bodies are plain human text: kept verbatim."""
        text = resp.text.strip()
        if resp.status_code == 429:
            raise RetryableError(self.service, 429, rate_limited(text[:300]),
                                 retry_after=parse_retry_after(resp.headers.get("Retry-After"), 60.0))
        if resp.status_code >= 500:
            raise RetryableError(self.service, resp.status_code, server_error(resp.status_code, text[:300]),
                                 retry_after=parse_retry_after(resp.headers.get("Retry-After")))
        if resp.status_code >= 400:  # 400 validation / unknown campaign, 401 credentials or IP not allowed
            raise TerminalError(self.service, resp.status_code, text[:500] or http_status(resp.status_code))
        if expect == "id":
            if not re.fullmatch(r"\d+", text):
                raise UnreadableAnswerError(self.service, text, maybe_sent=side_effect)
            return text
        if expect == "json":
            try:
                return resp.json()
            except ValueError:
                raise UnreadableAnswerError(self.service, text, maybe_sent=side_effect) from None
        return text


# --- webhooks (pure) -----------------------------------------------------------------------------------


def _fold(text: str) -> str:
    """ASCII lower-case for comparing Turkish status labels (Cevapsız, Meşgul…)."""
    text = text.replace("ı", "i").replace("İ", "I")
    return "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c)).lower()


def parse_call_result(data, content_type: str | None = None) -> CallResult | None:
    """IVR campaign webhook (form). The empty POST Verimor sends to validate the URL → None."""
    form = form_of(data)
    if not any(v for v in form.values()):
        return None
    digit = form.get("digit")
    if digit is None:
        raise WebhookFormatError("campaign webhook has no 'digit' field")
    status = form.get("status", "")
    if digit == "":  # never connected: the Turkish status label says why
        label = _fold(status)
        outcome = "no_answer" if "cevaps" in label else "busy" if ("mesgul" in label or "redded" in label) else "failed"
        pressed: list[str] = []
    elif digit == "-":
        outcome, pressed = "no_answer", []
    elif digit.startswith("!"):  # a key with no target was pressed
        outcome, pressed = "invalid", [digit[1:]]
    else:
        outcome, pressed = outcome_for_digit(digit), [digit]
    return CallResult(event_id=str(require(form, "notification_id", "campaign webhook")),
                      provider_id=str(require(form, "ivr_campaign_id", "campaign webhook")),
                      outcome=outcome, digits=pressed, raw_status=status,
                      reference=form.get("ivr_campaign_name", ""))


def parse_sms_push(data, content_type: str | None = None) -> list[InboundSms | DeliveryReport]:
    """The OİM push URL gets both kinds in JSON arrays: every item, in order."""
    if not data or (isinstance(data, bytes) and not data.strip()):
        return []
    items = json_of(data)
    if isinstance(items, dict):
        items = [items]
    if not isinstance(items, list):
        raise WebhookFormatError("push body must be a JSON array")
    out: list[InboundSms | DeliveryReport] = []
    for item in items:
        kind = require(item, "type", "push item")
        if kind == "inbound":
            out.append(_inbound(item))
        elif kind == "outbound":
            out.append(_report(item))
    return out


def parse_inbound_sms(data, content_type: str | None = None) -> InboundSms | None:
    """The first inbound item of a push (Verimor sends one per request); a delivery report → None."""
    return next((x for x in parse_sms_push(data, content_type) if isinstance(x, InboundSms)), None)


def parse_delivery_report(data, content_type: str | None = None) -> DeliveryReport | None:
    """The first outbound item of a push (one message per campaign here); an inbound SMS → None."""
    return next((x for x in parse_sms_push(data, content_type) if isinstance(x, DeliveryReport)), None)


def _report(item: dict) -> DeliveryReport:
    status = str(require(item, "status", "report"))
    delivered = True if status == "DELIVERED" else False if status in NOT_DELIVERED else None
    gsm = text_of(item, "gsm_error", "report") or "0"
    return DeliveryReport(event_id=f"{require(item, 'message_id', 'report')}:{status}",
                          provider_id=str(require(item, "campaign_id", "report")), delivered=delivered,
                          status=status + (f" (gsm_error {gsm})" if gsm != "0" else ""),
                          reference=text_of(item, "campaign_custom_id", "report"))


def _inbound(item: dict) -> InboundSms:
    when = item.get("received_at")
    try:
        received = received_at(str(when)) if when else None
    except ValueError:
        raise WebhookFormatError(f"received_at is neither 'YYYY-MM-DD HH:MM:SS' nor ISO 8601: {when!r}") from None
    return InboundSms(event_id=str(require(item, "message_id", "inbound SMS")),
                      from_number=to_e164(str(require(item, "source_addr", "inbound SMS"))),
                      to=text_of(item, "destination_addr", "inbound SMS"), text=text_of(item, "content", "inbound SMS"),
                      received_at=received)


def received_at(text: str) -> datetime:
    """The push sends `2017-01-01 09:00:00` (Turkish local time), the pull `2017-01-01T10:00:00.000+03:00`
    (user_guide.md, "Gelen SMS"): both are read."""
    value = datetime.fromisoformat(text.strip())
    return value if value.tzinfo else value.replace(tzinfo=LOCAL_TZ)


TURKISH_ONLY = set("ŞşĞğçıİ")  # the only letters that need datacoding 1 (user_guide.md, Not-2)
GSM_7BIT = set("@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZ"
               "ÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà^{}\\[]~|€")


def datacoding(text: str, *, domestic: bool) -> str | None:
    """`datacoding` for a send: 0 GSM, 1 Turkish, 2 Unicode (user_guide.md, send). Left out, Verimor picks 1 or 0
    only, so Cyrillic and other scripts must say 2. Abroad the guide says not to send it (GET: never 1), so
    there it is sent only when Unicode is needed (unverified on a real account)."""
    if all(ch in GSM_7BIT for ch in text):
        return "0" if domestic else None
    if all(ch in GSM_7BIT or ch in TURKISH_ONLY for ch in text):
        return "1" if domestic else "2"
    return "2"
