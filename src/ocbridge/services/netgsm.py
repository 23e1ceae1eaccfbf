"""Netgsm client: SMS REST v2 (send, read-once inbox) and voice SMS with one key press (telephony-sms.md §2).

SMS: HTTP Basic (usercode:password), JSON; API errors come as `{code, description}` with HTTP 200 *or*
406, so the code decides, not the status. Voice SMS: an XML body with the credentials inside, a plain
text answer (`00 <bulkid>` or an error code) and a JSON webhook per number. Netgsm takes no key of ours
it can be searched by (reports need the jobid/bulkid we never received), so a request whose answer was
lost is an UnknownOutcomeError. Inbound SMS are polled: the inbox lists each message once only, and the
Exchange row of that request keeps the only other copy.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import re
import xml.etree.ElementTree as ET
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from zoneinfo import ZoneInfo

from django.utils.translation import gettext_noop

from ocbridge.core import clock, ratelimit
from ocbridge.core.choices import ExchangeOutcome, Level
from ocbridge.core.errors import (
    RetryableError, TerminalError, credentials_refused, parse_retry_after, rate_limited, server_error,
)
from ocbridge.core.exchanges import ExchangeRecorder
from ocbridge.core.http import HttpClient, shared_client
from ocbridge.core.sentences import Sentence
from ocbridge.services.base import (
    CallResult, CallStarted, Capabilities, InboundSms, SmsSent, UnreadableAnswerError, WebhookFormatError,
    check_e164, json_of, national_tr, outcome_for_digit, replay_or_recover, require, text_of, to_e164,
    tts_language,
)

log = logging.getLogger(__name__)
BASE_URL = "https://api.netgsm.com.tr"
NETSANTRAL_URL = "http://crmsntrl.netgsm.com.tr:9111"  # plain HTTP with credentials in the query (§2.3)
LANGUAGES = {"tr": "tr-TR"}  # voice SMS TTS reads Turkish; other languages unverified (§2.2)
TZ = ZoneInfo("Europe/Istanbul")  # Netgsm dates are Turkish local time; options["timezone"] overrides
RETRY_CODES = {"80": 60.0, "85": 60.0, "100": 30.0, "101": 30.0}  # rate limit, same-number flood, system error
VOICE_OK = ("00", "01", "02")  # 01/02: a start/stop date was corrected by Netgsm, the job was accepted
VOICE_STATE = {"2": "no_answer", "3": "failed", "7": "busy"}
# The shortest delivery window Netgsm allows for a voice message (1–21 h, §2.2): the message may ring until its end,
# so it is also how long a call's result may still come.
VOICE_WINDOW = timedelta(hours=1)
KEY_REPLY = "Teşekkür ederiz."  # what the robot says after a key; options["key_reply_text"] overrides
SMS_RATE, VOICE_RATE, INBOX_RATE = 5.0, 1.0, 10 / 60  # reports/inbox: 10 per minute (§2.1)
PBX_RATE = 1.0  # call-control commands: no documented limit, one a second per account


class NetgsmClient:
    """Netgsm SMS and voice SMS. Knows the protocol; knows nothing of stores or orders."""

    service = "netgsm"
    capabilities = Capabilities(can_call=True, can_sms=True, second_prompt=False, tts_languages=tuple(LANGUAGES),
                                inbound_sms="poll", signed_webhooks=False,
                                answer_window=VOICE_WINDOW.total_seconds() + 120)

    def __init__(self, connection, *, http: HttpClient | None = None):
        self._conn = connection
        creds = connection.credentials()  # decrypted here, never logged
        self._user, self._password = str(creds.get("usercode") or ""), str(creds.get("password") or "")
        self._options = connection.options or {}
        self._http = http or shared_client(self.service, (connection.base_url or BASE_URL).rstrip("/"), timeout=15)
        # Netsantral call control lives on its own host; a simulator serves both on the connection's base URL.
        self._pbx = shared_client(self.service, (connection.base_url or NETSANTRAL_URL).rstrip("/"), timeout=10)
        self._rec = ExchangeRecorder(self.service, connection=connection, secrets=[self._password])
        self._tz = ZoneInfo(self._options["timezone"]) if self._options.get("timezone") else TZ

    # side effects ---------------------------------------------------------------------------------
    def start_confirmation_call(self, *, to: str, text: str, digits: dict, webhook_url: str, key: str,
                                language: str, caller_id: str | None = None, announcement_id: str | None = None,
                                second_prompt_text: str | None = None, rep_target: str | None = None,
                                reference: str = "") -> CallStarted:
        """Voice SMS waiting for one key; the webhook reports it. No second prompt, no transfer to a person."""
        tts_language(self.service, language, LANGUAGES)
        return self._voice(to=to, text=text, key=key, keys=sorted(digits), webhook_url=webhook_url,
                           announcement_id=announcement_id, purpose="netgsm.start_call", reference=reference)

    def send_voice_message(self, *, to: str, text: str, key: str, language: str = "tr",
                           reference: str = "") -> CallStarted:
        """A voice SMS that only speaks `text` (text to speech, no key): the order-status call-back."""
        tts_language(self.service, language, LANGUAGES)
        return self._voice(to=to, text=text, key=key, keys=[], webhook_url=None, announcement_id=None,
                           purpose="netgsm.voice_message", reference=reference)

    def transfer_call(self, *, unique_id: str, to: str, key: str, reference: str = "") -> str:
        """Blind transfer of a live Netsantral call to `to` (an extension or a phone number): call control
        `GET /<usercode>/xfer?username&password&exten&unique_id&crm_id` on port 9111, plain HTTP, as
        github netgsm/netsantral src/Package.php cagritransfer() sends it. Answer: JSON {crm_id, response,
        status: Success|Error, message}. Whether it reaches a call still ringing in the PBX is unverified."""
        params = {"username": self._user, "password": self._password, "exten": to, "unique_id": unique_id,
                  "crm_id": reference or relation_id(key)}  # echoed in the answer
        done = replay_or_recover(self._rec, key, service=self.service, ask=None, stored=lambda stored: stored)
        if done is not None:
            return done
        ratelimit.acquire((self.service, self._conn.pk, "pbx"), PBX_RATE)
        return self._call("GET", f"/{self._user}/xfer", params=params, key=key, purpose="netgsm.transfer",
                          kind="pbx", http=self._pbx)

    def _voice(self, *, to: str, text: str, key: str, keys: list[str], webhook_url: str | None,
               announcement_id: str | None, purpose: str, reference: str = "") -> CallStarted:
        number = national_tr(check_e164(self.service, to))
        start = clock.now().astimezone(self._tz)
        stop = start + VOICE_WINDOW
        root = ET.Element("mainbody")
        header = ET.SubElement(root, "header")
        for name, value in (("usercode", self._user), ("password", self._password),
                            ("startdate", start.strftime("%d%m%Y")), ("starttime", start.strftime("%H%M")),
                            ("stopdate", stop.strftime("%d%m%Y")), ("stoptime", stop.strftime("%H%M")),
                            ("key", "1" if keys else "0"), ("ringtime", "30"), ("url", webhook_url),
                            ("relationid", reference or relation_id(key))):  # echoed: matches a lost answer
            if value is not None:
                ET.SubElement(header, name).text = value
        body = ET.SubElement(root, "body")
        if announcement_id:
            ET.SubElement(body, "audioid").text = str(announcement_id)
        else:
            ET.SubElement(body, "text").text = text
        ET.SubElement(body, "no").text = number
        for digit in keys:  # one <keys> per key, as Netgsm's own package writes them (voicemail Package.php)
            detail = ET.SubElement(ET.SubElement(body, "keys"), "keydetail")
            ET.SubElement(detail, "keyinfo").text = digit
            ET.SubElement(detail, "text").text = self._options.get("key_reply_text") or KEY_REPLY
        xml = '<?xml version="1.0" encoding="UTF-8"?>' + ET.tostring(root, encoding="unicode")
        done = replay_or_recover(self._rec, key, service=self.service, ask=None,
                                 stored=lambda stored: CallStarted(provider_id=stored.split()[1]))
        if done is not None:
            return done
        ratelimit.acquire((self.service, self._conn.pk, "voice"), VOICE_RATE)
        answer = self._call("POST", "/voicesms/send", key=key, purpose=purpose, content=xml,
                            headers={"Content-Type": "text/xml; charset=utf-8"}, kind="voice")
        return CallStarted(provider_id=answer.split()[1])

    def send_sms(self, *, to: str, text: str, key: str, webhook_url: str | None = None,
                 sender: str | None = None, reference: str = "") -> SmsSent:
        """Delivery is learnt by polling reports; `webhook_url` is not part of Netgsm's send call."""
        payload = {"msgheader": sender or self._options.get("msgheader") or "",
                   "messages": [{"msg": text, "no": national_tr(check_e164(self.service, to))}]}
        if TURKISH_LETTERS.intersection(text):  # only then: it makes each part shorter (netgsm-sms Encoding.TR)
            payload["encoding"] = "tr"
        if self._options.get("appname"):
            payload["appname"] = self._options["appname"]
        done = replay_or_recover(self._rec, key, service=self.service, ask=None,
                                 stored=lambda stored: SmsSent(provider_id=str(json.loads(stored)["jobid"])))
        if done is not None:
            return done
        ratelimit.acquire((self.service, self._conn.pk, "sms"), SMS_RATE)
        body = self._call("POST", "/sms/rest/v2/send", key=key, purpose="netgsm.send_sms",
                          content=json.dumps(payload, ensure_ascii=False), headers={"Content-Type": "application/json"})
        return SmsSent(provider_id=str(require_answer(self.service, body, "jobid")))

    # reads ----------------------------------------------------------------------------------------
    def fetch_inbound_sms(self, *, start: datetime | None = None, stop: datetime | None = None) -> list[InboundSms]:
        """The inbox. Without a date range each message comes back once only: persist what this returns."""
        params = {}
        if start or stop:
            params = {k: v.astimezone(self._tz).strftime("%d%m%Y%H%M%S")  # as netgsm-sms get_inbox sends them
                      for k, v in (("startdate", start), ("stopdate", stop)) if v}
        ratelimit.acquire((self.service, self._conn.pk, "inbox"), INBOX_RATE)
        body = self._call("GET", "/sms/rest/v2/inbox", params=params or None, purpose="netgsm.inbox", empty_codes=("40",))
        items = [_inbox_item(m, self._tz) for m in body.get("messages") or [] if isinstance(m, dict)]
        return [m for m in items if m is not None]

    def balance(self) -> tuple[Decimal, str]:
        """The account's credit in Turkish lira: `POST /balance` with usercode, password and `stip` 2 in a JSON body
        (the official netgsm-sms-js `checkBalance`, BalanceType.CREDIT) → `{"code": "00", "balance": "57,860"}`
        (a decimal comma); errors as `{code, description}` with HTTP 406 like the SMS API."""
        content = json.dumps({"usercode": self._user, "password": self._password, "stip": 2})
        body = self._call("POST", "/balance", content=content, headers={"Content-Type": "application/json"},
                          purpose="netgsm.balance", kind="balance")
        text = str(body.get("balance") or "").strip().replace(".", "").replace(",", ".")
        try:
            return Decimal(text), "TRY"
        except InvalidOperation:
            raise UnreadableAnswerError(self.service, str(body.get("balance")), maybe_sent=False) from None

    def check_credentials(self) -> Sentence:
        body = self._call("GET", "/sms/rest/v2/msgheader", purpose="netgsm.check")
        return Sentence(gettext_noop("Netgsm accepted the account; sender names: {names}"),
                        names=", ".join(map(str, body.get("msgheaders") or [])))

    # the one path to the network ----------------------------------------------------------------------
    def _call(self, method: str, path: str, *, key: str = "", purpose: str = "", content: str | None = None,
              headers: dict | None = None, params: dict | None = None, kind: str = "rest", empty_codes: tuple = (),
              http: HttpClient | None = None):
        headers = {**(headers or {})}
        http = http or self._http
        if kind == "rest":  # voice SMS and call control carry the credentials in the body or query instead
            headers["Authorization"] = self._basic()
        with self._rec.exchange(method, http.build_url(path, params), key=key, purpose=purpose,
                                request_body=content, request_headers=headers) as ex:
            resp = http.request(method, path, params=params, headers=headers,
                                content=content.encode("utf-8") if content is not None else None)
            try:
                if kind == "voice":
                    result = self._classify_voice(resp, bool(key))
                elif kind == "pbx":
                    result = self._classify_pbx(resp, bool(key))
                else:
                    result = self._classify(resp, bool(key), empty_codes)
            except Exception:
                ex.finish(resp)
                raise
            ex.finish(resp, outcome=ExchangeOutcome.OK, level=Level.INFO)  # a 406 with code 40 (empty inbox) is fine
            return result

    def _basic(self) -> str:
        return "Basic " + base64.b64encode(f"{self._user}:{self._password}".encode()).decode("ascii")

    def _transport(self, resp) -> None:
        if resp.status_code == 429:
            raise RetryableError(self.service, 429, rate_limited(resp.text[:300]), retry_after=parse_retry_after(resp.headers.get("Retry-After"), 60.0))
        if resp.status_code >= 500:
            raise RetryableError(self.service, resp.status_code, server_error(resp.status_code, resp.text[:300]),
                                 retry_after=parse_retry_after(resp.headers.get("Retry-After")))

    def _classify(self, resp, side_effect: bool, empty_codes: tuple = ()) -> dict:
        """The one place Netgsm REST answers are read: `code` decides (HTTP 200 and 406 alike)."""
        self._transport(resp)
        try:
            body = resp.json()
        except ValueError:
            body = None
        if not isinstance(body, dict) or "code" not in body:
            if resp.status_code in (200, 406):
                raise UnreadableAnswerError(self.service, resp.text, maybe_sent=side_effect)
            raise TerminalError(self.service, resp.status_code, resp.text[:500])
        code = str(body.get("code"))
        if code == "00" or code in empty_codes:
            return body if code == "00" else {}
        message = str(body.get("description") or "")
        if code in RETRY_CODES:
            raise RetryableError(self.service, code, code_said(code, message), retry_after=parse_retry_after(
                resp.headers.get("Retry-After"), RETRY_CODES[code]))
        if code == "30":  # Netgsm's own words are Turkish: say what it means in each reader's language
            raise TerminalError(self.service, code, credentials_refused(
                gettext_noop("user code or password (or the user's API access)"), message))
        raise TerminalError(self.service, code, code_said(code, message))

    def _classify_voice(self, resp, side_effect: bool) -> str:
        """Voice SMS answers plain text: `00 <bulkid>` or an error code (30 credentials, 40 no audio,
        45 no number, 70 bad parameter, 80 limit)."""
        self._transport(resp)
        text = resp.text.strip()
        parts = text.split()
        if len(parts) >= 2 and parts[0] in VOICE_OK:
            return f"00 {parts[1]}"
        if re.fullmatch(r"\d{2,3}", text):
            if text in RETRY_CODES:
                raise RetryableError(self.service, text, code_said(text), retry_after=RETRY_CODES[text])
            raise TerminalError(self.service, text, code_said(text, voice=True))
        raise UnreadableAnswerError(self.service, text, maybe_sent=side_effect)

    def _classify_pbx(self, resp, side_effect: bool) -> str:
        """Call control answers JSON {crm_id, response, status: Success|Error, message} (netsantral README)."""
        self._transport(resp)
        try:
            body = resp.json()
        except ValueError:
            body = None
        if not isinstance(body, dict) or "status" not in body:
            raise UnreadableAnswerError(self.service, resp.text, maybe_sent=side_effect)
        if str(body["status"]).lower() != "success":
            raise TerminalError(self.service, "pbx_error", str(body.get("message") or resp.text[:300]))
        return json.dumps(body, ensure_ascii=False)


TURKISH_LETTERS = set("çğıöşüÇĞİÖŞÜ")


def relation_id(key: str) -> str:
    """`relationid`: a number in Netgsm's documents ("random sayı", voicemail README), echoed in the webhook and
    reports. Derived from our idempotency key so a retry sends the same one, when no outbox correlation number
    (`reference`) is given."""
    return str(int(hashlib.sha256(key.encode("utf-8")).hexdigest()[:12], 16))


# What Netgsm's result codes mean (its own descriptions are Turkish, netgsm.com.tr/dokuman "Hata kodları"): said
# (core.sentences) so each reader reads the meaning in their language, Netgsm's words after it.
CODES = {
    "20": gettext_noop("the message text has a problem or is longer than the maximum"),
    "30": gettext_noop("invalid user code or password, no API access, or the IP address is not allowed"),
    "40": gettext_noop("the sender name (message header) is not defined at Netgsm"),
    "41": gettext_noop("the sender name (message header) is not defined at Netgsm"),
    "50": gettext_noop("the account cannot send messages checked against İYS"),
    "51": gettext_noop("no İYS brand is defined for the account"),
    "60": gettext_noop("Netgsm has no such job"),
    "70": gettext_noop("a parameter is wrong or a required one is missing"),
    "80": gettext_noop("Netgsm's sending limit was reached"),
    "85": gettext_noop("more than 20 messages to the same number within a minute"),
    "100": gettext_noop("Netgsm system error"),
    "101": gettext_noop("Netgsm system error"),
}
VOICE_CODES = {"40": gettext_noop("no audio or text"), "45": gettext_noop("no phone number to call")}


def code_said(code: str, words: str = "", *, voice: bool = False) -> Sentence:
    """A Netgsm result code other than success, said: what it means, then Netgsm's own words (if any)."""
    meaning = (voice and VOICE_CODES.get(code)) or CODES.get(code)
    if meaning is None:
        return Sentence(gettext_noop("Netgsm refused it (code {code}): {detail}"), code=code, detail=words or "—")
    return Sentence(gettext_noop("{meaning} (code {code}): {detail}") if words else
                    gettext_noop("{meaning} (code {code})"), meaning=Sentence(meaning), code=code, detail=words)


def require_answer(service: str, body: dict, name: str):
    if not body.get(name):
        raise UnreadableAnswerError(service, json.dumps(body), maybe_sent=True)
    return body[name]


# --- parsing (pure) ------------------------------------------------------------------------------------


def parse_call_result(data, content_type: str | None = None) -> CallResult:
    """Voice SMS webhook (JSON, one per number). Netgsm gives no event id: bulkid + callee is the key."""
    event = json_of(data)
    bulkid = str(require(event, "bulkid", "voice webhook"))
    callee = str(require(event, "callee", "voice webhook"))
    state = str(require(event, "state", "voice webhook"))
    detail = event.get("detail") if isinstance(event.get("detail"), dict) else {}
    push = text_of(detail, "push_button", "voice webhook's detail")
    push = None if push in ("", "NULL", "null") else push
    if state == "1":  # answered: the key decides; NULL = hung up before the key phase, -1 = no key in time
        outcome, pressed = (outcome_for_digit(push), [push]) if push not in (None, "-1") else ("no_answer", [])
    else:
        outcome, pressed = VOICE_STATE.get(state, "unknown"), []
    return CallResult(event_id=f"{bulkid}:{callee}", provider_id=bulkid, outcome=outcome, digits=pressed,
                      raw_status=f"state {state}" + (f", key {push}" if push else ""),
                      reference=text_of(event, "relationid", "voice webhook"))


def _inbox_item(m: dict, tz: ZoneInfo = TZ) -> InboundSms | None:
    """An inbox row has no id: sender + time + text identify it. None for a row we cannot read (a field that is
    an object, or text with NUL): the inbox is read once, so one bad row must not fail the others; it stays
    in the inbox read's Exchange."""
    try:
        sender, when, text = (text_of(m, name, "inbox row") for name in ("sender", "datetime", "message"))
        receiver = text_of(m, "receiver", "inbox row")
    except WebhookFormatError as exc:
        log.warning("Netgsm inbox row skipped: %s", exc)
        return None
    if "\x00" in sender + when + text + receiver:
        log.warning("Netgsm inbox row skipped: NUL character in %r", m)
        return None
    received = None
    for fmt in ("%d.%m.%Y %H:%M:%S", "%Y-%m-%d %H:%M:%S", "%d%m%Y%H%M"):  # the format is not documented
        try:
            received = datetime.strptime(when, fmt).replace(tzinfo=tz)
            break
        except ValueError:
            continue
    event_id = hashlib.sha256(f"{sender}|{when}|{text}".encode()).hexdigest()[:24]
    return InboundSms(event_id=event_id, from_number=to_e164(sender), to=receiver, text=text,
                      received_at=received)
