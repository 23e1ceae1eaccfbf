"""Twilio simulator: Calls.json that fetch and follow our TwiML (<Say>, <Gather>, <Redirect>, <Hangup>),
signed status callbacks, Messages.json with delivery callbacks, signed inbound SMS, Twilio error JSON.

Signatures follow Twilio's documented scheme (X-Twilio-Signature = base64 HMAC-SHA1 with the Auth
Token over the full URL followed by every POST parameter name+value, sorted by name). Status
callbacks are not retried (Twilio's default without connection overrides); a TwiML fetch that fails
ends the call with error 11200 recorded on the call. Field lists follow Twilio's API reference as
summarised in our provider notes; error codes used: 20003 auth, 20404 not found, 20429 rate limit,
21211 invalid To, 21212 invalid From (voice), 21205 invalid Url, 21602 missing Body, 21606 From not
SMS-capable, 21617 body over 1600 chars, 30003 unreachable handset (DLR).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import threading
import time
import urllib.parse
import uuid
import xml.etree.ElementTree as ET
from email.utils import formatdate

from .base import HttpError, Request, Response, Simulator, key_presses

API = "/2010-04-01/Accounts/(?P<sid>AC\\w+)"
E164 = re.compile(r"\+[1-9]\d{7,14}")
UNANSWERED = {"no_answer": "no-answer", "busy": "busy", "failed": "failed"}
FINAL = ("completed", "busy", "no-answer", "failed", "canceled")


def twilio_signature(auth_token: str, url: str, params: dict | None = None) -> str:
    """X-Twilio-Signature for a request to `url` with form `params` (none for GET); a value may be a list (a
    repeated field). As twilio-python's RequestValidator computes it: names sorted, each name's distinct
    values sorted."""
    data = url
    for name in sorted(params or {}):
        values = params[name] if isinstance(params[name], (list, tuple)) else [params[name]]
        data += "".join(f"{name}{v}" for v in sorted(set(map(str, values))))
    return base64.b64encode(hmac.new(auth_token.encode("utf-8"), data.encode("utf-8"), hashlib.sha1).digest()).decode()


def with_port(url: str) -> str:
    """The URL with its default port written out: Twilio signs some requests this way (RequestValidator)."""
    parts = urllib.parse.urlsplit(url)
    if parts.port:
        return url
    port = 443 if parts.scheme == "https" else 80
    return urllib.parse.urlunsplit(parts._replace(netloc=f"{parts.netloc}:{port}"))


# Voices per language the simulator accepts (twilio.com/docs/voice/twiml/say, text-to-speech voice table);
# a <Say> naming another language's voice is an error, one without a voice in another language than English
# falls back to the account default (recorded as a warning: it may not speak the language).
VOICES = {"tr-TR": {"Polly.Filiz", "Google.tr-TR-Standard-A", "Google.tr-TR-Wavenet-A"},
          "ru-RU": {"Polly.Tatyana", "Polly.Maxim", "Google.ru-RU-Standard-A", "Google.ru-RU-Wavenet-A"},
          "en-US": {"Polly.Joanna", "Polly.Matthew", "alice", "man", "woman"},
          "de-DE": {"Polly.Marlene", "Polly.Hans"}, "arb": {"Polly.Zeina"}}
TWIML_LIMIT = 4000


def _rfc2822() -> str:
    return formatdate(time.time(), usegmt=True)


def _error(status: int, code: int, message: str, headers: dict | None = None) -> HttpError:
    return HttpError(Response.json({"code": code, "message": message,
                                    "more_info": f"https://www.twilio.com/docs/errors/{code}", "status": status},
                                   status, headers))


class TwilioSimulator(Simulator):
    """Twilio REST (2010-04-01) for calls and SMS, with a simulated callee/customer."""

    name = "twilio"
    retry_delays = ()
    routes = [
        ("GET", API + r"\.json", "get_account"),
        ("GET", API + r"/Balance\.json", "get_balance"),
        ("GET", API + r"/Calls\.json", "list_calls"),
        ("GET", API + r"/Messages\.json", "list_messages"),
        ("POST", API + r"/Calls\.json", "create_call"),
        ("GET", API + r"/Calls/(?P<call_sid>CA\w+)\.json", "get_call"),
        ("POST", API + r"/Calls/(?P<call_sid>CA\w+)\.json", "update_call"),
        ("POST", API + r"/Messages\.json", "create_message"),
        ("GET", API + r"/Messages/(?P<msg_sid>SM\w+)\.json", "get_message"),
    ]
    control_methods = Simulator.control_methods + ("calls", "messages", "inject_sms", "set_sms_url", "set_sign_with_port",
                                                    "debugger", "set_balance")

    def __init__(self, *, account_sid: str = "AC" + "0" * 31 + "1", auth_token: str = "twilio-auth-token",
                 numbers: tuple[str, ...] = ("+15005550006",), sms_url: str | None = None,
                 max_steps: int = 20, **kwargs):
        super().__init__(**kwargs)
        self.account_sid, self.auth_token = account_sid, auth_token
        self.numbers = list(numbers)
        self.sms_url = sms_url  # the number's "A message comes in" webhook
        self.max_steps = max_steps
        self.sign_with_port = False  # Twilio signs with or without the default port: tests try both
        self._st = threading.RLock()
        self.reset_state()

    def reset_state(self) -> None:
        with self._st:
            self._calls: dict[str, dict] = {}
            self._messages: dict[str, dict] = {}
            self._inbound_sids: set[str] = set()

    # inspection / control -----------------------------------------------------------------------
    def calls(self) -> list[dict]:
        with self._st:
            return [dict(c) for c in self._calls.values()]

    def messages(self) -> list[dict]:
        with self._st:
            return [dict(m) for m in self._messages.values()]

    def state(self) -> dict:
        return {**super().state(), "calls": self.calls(), "messages": self.messages()}

    def set_sms_url(self, url: str | None) -> None:
        self.sms_url = url

    def set_sign_with_port(self, on: bool = True) -> None:
        self.sign_with_port = bool(on)

    def sign(self, url: str, params: dict | None = None) -> str:
        return twilio_signature(self.auth_token, with_port(url) if self.sign_with_port else url, params)

    def debugger(self) -> list[dict]:
        """What Twilio's debugger would log for the inbound-SMS webhooks: an answer that is not TwiML
        (twilio.com/docs/usage/webhooks/sms-webhooks: reply with TwiML, `<Response/>` for no reply)."""
        found = []
        for a in self.sent_webhooks("webhook"):
            if a.event_id not in self._inbound_sids or a.status is None:
                continue
            ctype = {k.lower(): v for k, v in a.response_headers.items()}.get("content-type", "")
            if a.ok and not re.match(r"(text|application)/xml", ctype):
                found.append({"code": 12300, "message": f"Invalid Content-Type: {ctype}", "sid": a.event_id})
                continue
            try:
                root = ET.fromstring(a.response_body) if a.ok else None
            except ET.ParseError:
                root = None
            if a.ok and (root is None or root.tag != "Response"):
                found.append({"code": 12100, "message": "Document parse failure", "sid": a.event_id})
        return found

    # hooks --------------------------------------------------------------------------------------
    def rate_limited(self, req: Request, retry_after: int) -> Response:
        return _error(429, 20429, "Too Many Requests", {"Retry-After": str(retry_after)}).response

    def server_error(self, req: Request, status: int) -> Response:
        code, text = (20500, "Internal Server Error") if status == 500 else (20503, "Service Unavailable")
        return _error(status, code, text).response

    def not_found(self, req: Request) -> Response:
        return _error(404, 20404, f"The requested resource {req.path} was not found").response

    def _auth(self, req: Request, sid: str) -> None:
        if req.basic_auth() != (self.account_sid, self.auth_token) or sid != self.account_sid:
            raise _error(401, 20003, "Authenticate")

    # account, lists -------------------------------------------------------------------------------
    def get_account(self, req: Request, sid: str) -> Response:
        self._auth(req, sid)
        return Response.json({"sid": sid, "friendly_name": "Simulated account", "status": "active", "type": "Full",
                              "date_created": _rfc2822(), "uri": f"/2010-04-01/Accounts/{sid}.json"})

    def set_balance(self, balance: str, currency: str = "USD") -> None:
        self.balance = (str(balance), currency)

    def get_balance(self, req: Request, sid: str) -> Response:
        """Balance.json as the twilio package reads it (account_sid, balance as a string, currency)."""
        self._auth(req, sid)
        balance, currency = getattr(self, "balance", ("20.00", "USD"))
        return Response.json({"account_sid": sid, "balance": balance, "currency": currency})

    def _page(self, req: Request, sid: str, name: str, items: list[dict]) -> Response:
        """A list page (newest first), filtered by To; PageSize ≤ 1000 (Twilio's list paging)."""
        size = max(1, min(1000, int(req.arg("PageSize") or 50)))
        if req.arg("To"):
            items = [i for i in items if i["to"] == req.arg("To")]
        items = items[::-1][:size]
        uri = f"/2010-04-01/Accounts/{sid}/{name.title()}.json?PageSize={size}&Page=0"
        return Response.json({name: items, "end": max(0, len(items) - 1), "first_page_uri": uri,
                              "next_page_uri": None, "page": 0, "page_size": size, "previous_page_uri": None,
                              "start": 0, "uri": uri})

    def list_calls(self, req: Request, sid: str) -> Response:
        self._auth(req, sid)
        return self._page(req, sid, "calls", [self._public(c) for c in self.calls()])

    def list_messages(self, req: Request, sid: str) -> Response:
        self._auth(req, sid)
        return self._page(req, sid, "messages",
                          [{k: v for k, v in m.items() if k != "status_callback"} for m in self.messages()])

    # calls ----------------------------------------------------------------------------------------
    def create_call(self, req: Request, sid: str) -> Response:
        self._auth(req, sid)
        p = req.form()
        to, from_ = p.get("To", ""), p.get("From", "")
        if not E164.fullmatch(to):
            raise _error(400, 21211, f"Invalid 'To' Phone Number: {to}")
        if from_ not in self.numbers:
            raise _error(400, 21212, f"Invalid 'From' Phone Number: {from_}")
        url, twiml = p.get("Url"), p.get("Twiml")
        if not url and not twiml and not p.get("ApplicationSid"):
            raise _error(400, 21205, "Url parameter is required.")
        for name in ("Url", "StatusCallback"):
            if p.get(name) and not re.match(r"https?://", p[name]):
                raise _error(400, 21205, f"{name} is not a valid URL: {p[name]}")
        if twiml:
            if len(twiml) > TWIML_LIMIT:
                raise _error(400, 32018, f"Twiml exceeds {TWIML_LIMIT} characters")
            try:
                ET.fromstring(twiml)
            except ET.ParseError:
                raise _error(400, 12100, "Document parse failure") from None
        events = set((p.get("StatusCallbackEvent") or "completed").replace(",", " ").split()) | {"completed"}
        call = {
            "sid": "CA" + uuid.uuid4().hex, "account_sid": self.account_sid, "to": to, "from": from_,
            "status": "queued", "direction": "outbound-api", "api_version": "2010-04-01",
            "date_created": _rfc2822(), "start_time": None, "end_time": None, "duration": None,
            "answered_by": None, "uri": f"/2010-04-01/Accounts/{sid}/Calls/{{sid}}.json",
            # simulator-side details (not in Twilio's resource):
            "url": url, "method": (p.get("Method") or "POST").upper(), "twiml": twiml,
            "status_callback": p.get("StatusCallback"), "status_callback_method": (p.get("StatusCallbackMethod") or "POST").upper(),
            "status_callback_events": sorted(events), "timeout": int(p.get("Timeout") or 60),
            "transcript": [], "errors": [], "sequence": 0,
        }
        call["uri"] = call["uri"].replace("{sid}", call["sid"])
        with self._st:
            self._calls[call["sid"]] = call
            response = Response.json(self._public(call), 201)  # before the call starts moving
        self.spawn(self._run_call, call["sid"])
        return response

    @staticmethod
    def _public(call: dict) -> dict:
        keep = ("sid", "account_sid", "to", "from", "status", "direction", "api_version", "date_created",
                "start_time", "end_time", "duration", "answered_by", "uri")
        return {k: call[k] for k in keep}

    def get_call(self, req: Request, sid: str, call_sid: str) -> Response:
        self._auth(req, sid)
        call = self._calls.get(call_sid)
        if call is None:
            raise _error(404, 20404, f"The requested resource {req.path} was not found")
        return Response.json(self._public(call))

    def update_call(self, req: Request, sid: str, call_sid: str) -> Response:
        """Status=canceled (queued/ringing) or completed (in progress) ends the call."""
        self._auth(req, sid)
        status = req.form().get("Status")
        with self._st:
            call = self._calls.get(call_sid)
            if call is None:
                raise _error(404, 20404, f"The requested resource {req.path} was not found")
            if status not in ("canceled", "completed"):
                raise _error(400, 21220, "Invalid call state for update")
            if call["status"] not in FINAL:
                call.update(status="canceled" if call["status"] in ("queued", "ringing") else "completed",
                            end_time=_rfc2822())
                ended = True
            else:
                ended = False
            snapshot = self._public(call)
        if ended:
            self._status_callback(call, "completed")
        return Response.json(snapshot)

    def _set(self, call: dict, **changes) -> bool:
        """Apply unless the call already ended (canceled by us meanwhile)."""
        with self._st:
            if call["status"] in FINAL:
                return False
            call.update(changes)
            return True

    def _run_call(self, call_sid: str) -> None:
        call = self._calls.get(call_sid)
        if call is None:
            return
        outcome, customer = self.customers.next_call(call["to"])
        if not self.sleep(0.5) or not self._set(call, status="initiated"):
            return
        self._status_callback(call, "initiated")
        if not self.sleep(1) or not self._set(call, status="ringing"):
            return
        self._status_callback(call, "ringing")
        if not self.sleep(customer.answer_delay):
            return
        answered, presses = key_presses(outcome)
        if not answered:
            if self._set(call, status=UNANSWERED.get(outcome, "failed"), end_time=_rfc2822(), duration="0"):
                self._status_callback(call, "completed")
            return
        started = time.monotonic()
        if not self._set(call, status="in-progress", start_time=_rfc2822()):
            return
        self._status_callback(call, "answered")
        self._follow(call, presses)
        duration = str(max(1, round((time.monotonic() - started) * self.speed)))
        if self._set(call, status="completed", end_time=_rfc2822(), duration=duration):
            self._status_callback(call, "completed")

    def _call_params(self, call: dict) -> dict[str, str]:
        return {"AccountSid": self.account_sid, "ApiVersion": "2010-04-01", "CallSid": call["sid"],
                "CallStatus": call["status"], "Called": call["to"], "Caller": call["from"],
                "Direction": call["direction"], "From": call["from"], "To": call["to"]}

    def _fetch_twiml(self, call: dict, url: str, method: str, extra: dict | None = None) -> ET.Element | None:
        params = {**self._call_params(call), **(extra or {})}
        if method == "GET":
            full = url + ("&" if "?" in url else "?") + urllib.parse.urlencode(params)
            attempt = self.fetch("GET", full, headers={"X-Twilio-Signature": self.sign(full)})
        else:
            attempt = self.fetch("POST", url, form=params, headers={"X-Twilio-Signature": self.sign(url, params)})
        if attempt.status is None or not 200 <= attempt.status < 300:
            call["errors"].append({"code": 11200, "message": f"HTTP retrieval failure: {attempt.status or attempt.error}",
                                   "url": url})
            return None
        try:
            root = ET.fromstring(attempt.response_body)
        except ET.ParseError:
            call["errors"].append({"code": 12100, "message": "Document parse failure", "url": url})
            return None
        if root.tag != "Response":
            call["errors"].append({"code": 12100, "message": "Root element must be <Response>", "url": url})
            return None
        return root

    def _follow(self, call: dict, presses: list[str]) -> None:
        """Execute TwiML like Twilio: verbs in order; Gather/Redirect fetch the next document."""
        doc_url = call["url"]
        root = ET.fromstring(call["twiml"]) if call["twiml"] else self._fetch_twiml(call, doc_url, call["method"])
        steps = 0
        while root is not None and steps < self.max_steps:
            steps += 1
            next_doc = None
            for verb in root:
                if call["status"] in FINAL:
                    return
                tag = verb.tag
                if tag in ("Say", "Play"):
                    self._check_say(call, verb)
                    call["transcript"].append({"verb": tag, "text": (verb.text or "").strip(), **verb.attrib})
                elif tag == "Pause":
                    call["transcript"].append({"verb": "Pause", **verb.attrib})
                elif tag == "Gather":
                    for child in verb:
                        self._check_say(call, child)
                        call["transcript"].append({"verb": child.tag, "text": (child.text or "").strip(),
                                                   **child.attrib, "in": "Gather"})
                    digits = presses.pop(0) if presses else ""
                    call["transcript"].append({"verb": "Gather", "digits": digits, **verb.attrib})
                    if not self.sleep(3):
                        return
                    if not digits and verb.get("actionOnEmptyResult", "false").lower() != "true":
                        continue  # no input: Twilio falls through to the next verb
                    action = urllib.parse.urljoin(doc_url or "", verb.get("action") or doc_url or "")
                    extra = {"Digits": digits}
                    if digits:
                        extra["FinishedOnKey"] = ""
                    doc_url = action
                    next_doc = self._fetch_twiml(call, action, (verb.get("method") or "POST").upper(), extra)
                    break
                elif tag == "Redirect":
                    doc_url = urllib.parse.urljoin(doc_url or "", (verb.text or "").strip())
                    call["transcript"].append({"verb": "Redirect", "url": doc_url})
                    next_doc = self._fetch_twiml(call, doc_url, (verb.get("method") or "POST").upper())
                    break
                elif tag in ("Hangup", "Reject", "Dial", "Enqueue"):
                    call["transcript"].append({"verb": tag, "text": (verb.text or "").strip(), **verb.attrib})
                    return
                else:
                    call["errors"].append({"code": 12200, "message": f"Schema validation warning: <{tag}>"})
            root = next_doc

    def _check_say(self, call: dict, verb: ET.Element) -> None:
        if verb.tag != "Say":
            return
        language, voice = verb.get("language", "en-US"), verb.get("voice")
        if voice is None and not language.startswith("en"):
            call["errors"].append({"code": None, "message": f"<Say language={language}> without a voice: the account's "
                                                            "default voice may not speak it"})
        elif voice is not None and language in VOICES and voice not in VOICES[language]:
            call["errors"].append({"code": None, "message": f"Invalid voice {voice} for language {language}"})

    def _status_callback(self, call: dict, event: str) -> None:
        url = call["status_callback"]
        if not url or event not in call["status_callback_events"]:
            return
        with self._st:
            seq = call["sequence"]
            call["sequence"] += 1
        params = {**self._call_params(call), "CallbackSource": "call-progress-events", "SequenceNumber": str(seq),
                  "Timestamp": _rfc2822()}
        if event == "completed" or call["status"] in FINAL:
            params["CallDuration"] = call["duration"] or "0"
            params["Duration"] = str(-(-int(call["duration"] or 0) // 60))
        self._send_signed(url, params, call["status_callback_method"], f"{call['sid']}:{seq}")

    def _send_signed(self, url: str, params: dict, method: str = "POST", event_id: str | None = None) -> None:
        if method == "GET":
            full = url + ("&" if "?" in url else "?") + urllib.parse.urlencode(params)
            self.webhooks.send(full, body=b"", method="GET", event_id=event_id,
                               headers={"X-Twilio-Signature": self.sign(full)})
        else:
            self.webhooks.send(url, form=params, event_id=event_id,
                               headers={"X-Twilio-Signature": self.sign(url, params)})

    # messages --------------------------------------------------------------------------------------
    def create_message(self, req: Request, sid: str) -> Response:
        self._auth(req, sid)
        p = req.form()
        to, from_, body = p.get("To", ""), p.get("From", ""), p.get("Body", "")
        if not E164.fullmatch(to):
            raise _error(400, 21211, f"Invalid 'To' Phone Number: {to}")
        if not p.get("MessagingServiceSid") and from_ not in self.numbers:
            raise _error(400, 21606, f"The From phone number {from_} is not a valid, SMS-capable inbound phone "
                                     "number or short code for your account.")
        if not body and not p.get("MediaUrl"):
            raise _error(400, 21602, "Message body is required.")
        if len(body) > 1600:
            raise _error(400, 21617, "The concatenated message body exceeds the 1600 character limit.")
        if p.get("StatusCallback") and not re.match(r"https?://", p["StatusCallback"]):
            raise _error(400, 21609, f"Invalid StatusCallback: {p['StatusCallback']}")
        gsm = all(ord(ch) < 128 for ch in body)
        segments = 1 if len(body) <= (160 if gsm else 70) else -(-len(body) // (153 if gsm else 67))
        msg = {"sid": "SM" + uuid.uuid4().hex, "account_sid": self.account_sid, "to": to,
               "from": from_ or None, "messaging_service_sid": p.get("MessagingServiceSid"), "body": body,
               "status": "queued", "num_segments": str(segments), "num_media": "0", "direction": "outbound-api",
               "api_version": "2010-04-01", "date_created": _rfc2822(), "date_sent": None, "error_code": None,
               "error_message": None, "price": None, "price_unit": "USD",
               "uri": f"/2010-04-01/Accounts/{sid}/Messages/{{sid}}.json"}
        msg["uri"] = msg["uri"].replace("{sid}", msg["sid"])
        with self._st:
            self._messages[msg["sid"]] = {**msg, "status_callback": p.get("StatusCallback")}
        response = Response.json(msg, 201)  # msg is a copy the scenario never touches
        self.spawn(self._run_message, msg["sid"])
        return response

    def get_message(self, req: Request, sid: str, msg_sid: str) -> Response:
        self._auth(req, sid)
        msg = self._messages.get(msg_sid)
        if msg is None:
            raise _error(404, 20404, f"The requested resource {req.path} was not found")
        return Response.json({k: v for k, v in msg.items() if k != "status_callback"})

    def _run_message(self, msg_sid: str) -> None:
        msg = self._messages.get(msg_sid)
        if msg is None:
            return
        reply, customer = self.customers.next_sms_reply(msg["to"])
        self._message_status(msg, "queued")
        if not self.sleep(1):
            return
        self._message_status(msg, "sent", date_sent=_rfc2822())
        if not self.sleep(2):
            return
        if customer.sms_delivery != "delivered":
            self._message_status(msg, "undelivered", error_code=30003, error_message="Unreachable destination handset")
            return
        self._message_status(msg, "delivered")
        if reply is not None and self.sleep(customer.reply_delay):
            order = re.search(r"#?(\d{3,})", msg["body"])
            self.inject_sms(msg["to"], reply.replace("{order}", order.group(1) if order else "1234"),
                            to=msg["from"] or self.numbers[0])

    def _message_status(self, msg: dict, status: str, **changes) -> None:
        with self._st:
            msg.update(status=status, **changes)
        if not msg.get("status_callback"):
            return
        params = {"AccountSid": self.account_sid, "ApiVersion": "2010-04-01", "From": msg["from"] or "",
                  "MessageSid": msg["sid"], "MessageStatus": status, "SmsSid": msg["sid"], "SmsStatus": status,
                  "To": msg["to"]}
        if msg.get("error_code"):
            params["ErrorCode"] = str(msg["error_code"])
        self._send_signed(msg["status_callback"], params, event_id=f"{msg['sid']}:{status}")

    def inject_sms(self, sender: str, body: str, to: str | None = None, url: str | None = None) -> dict:
        """A customer texts our Twilio number: signed form POST to the number's SMS webhook."""
        sid = "SM" + uuid.uuid4().hex
        params = {"AccountSid": self.account_sid, "ApiVersion": "2010-04-01", "Body": body,
                  "From": sender, "FromCountry": "TR" if sender.startswith("+90") else "", "MessageSid": sid,
                  "NumMedia": "0", "NumSegments": "1", "SmsMessageSid": sid, "SmsSid": sid, "SmsStatus": "received",
                  "To": to or self.numbers[0], "ToCountry": "US"}
        with self._st:
            self._inbound_sids.add(sid)
        target = url or self.sms_url
        if target:
            self._send_signed(target, params, event_id=sid)
        return params
