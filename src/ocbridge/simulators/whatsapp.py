"""WhatsApp Cloud API (Meta Graph API) simulator, written from /work/shared/providers/whatsapp.md (§ numbers).

Endpoints (`/vNN.N/…`, versions in `VERSIONS`; others answer error 2635, deprecated version):
  POST /{phone-number-id}/messages           send (§2): template (must exist APPROVED in that language, 132001;
                                             named body parameters must match, 132000; quick-reply payloads per
                                             button index), interactive/text only inside the customer service
                                             window (else a `failed` status with 131047, §5). 200 =
                                             `{messaging_product, contacts:[{input, wa_id}], messages:[{id}]}`.
  POST /{waba-id}/message_templates          create (§3): name [a-z0-9_], category, components; quick-reply
                                             label ≤ 25 chars, ≤ 10 buttons; body may not start or end with a
                                             variable (2388299); 100 creations an hour. → `{id, status:
                                             "PENDING", category}`; review after `review_delay` simulated
                                             seconds → `message_template_status_update` webhook (APPROVED, or what
                                             `set_template_review` says: REJECTED + reason, or MARKETING category).
  GET  /{waba-id}/message_templates?name=    `{data:[{id, name, language, status, category, rejected_reason}]}`
  GET  /{phone-number-id}                    `{display_phone_number, verified_name, id}`
Auth: `Authorization: Bearer <token>`; unknown → 401 code 190 (`expire_token()` makes the token expire).
Errors: `{error: {message: "(#code) title", type, code, error_data: {messaging_product, details}, fbtrace_id}}`.
Limits: throughput per account → 130429 (`set_rate_limit`); one message per 6 s to the same recipient (small
burst) → 131056 (§5 pair rate).

Webhooks (§4): POST to `webhook_url`, JSON serialised with \\uXXXX escapes as Meta sends it, signed
`X-Hub-Signature-256: sha256=<hex HMAC-SHA256(app_secret, raw body)>`; non-200 → redelivered (`retry_delays`);
duplicates and reordering through the base sender (`set_webhook_behaviour`). `GET webhook_url?hub.mode=…`
(`verify_webhook()`) performs the subscription handshake.
Statuses for each accepted message, `biz_opaque_callback_data` echoed, `pricing` with sent/delivered/read
(§4): sent → delivered → read, or as the customer is set (`set_wa_customer`): not on WhatsApp (failed
131026, with or without a `sent` first), read without delivered, no final status (TTL drop). Inbound: a
quick-reply tap (`type: button`, `button{payload, text}`, `context.id` = our wamid), free text, opens a 24 h
customer service window.
Meta's clock (`now()`): every `timestamp` it writes (inbound messages, statuses) and the customer service window
(24 h from the customer's message, checked when our message is taken) follow it, unscaled by `speed`. By default it
is the wall clock; tests give the clock the hub runs on — `clock` (a callable → Unix seconds, in-process) or
`clock_file` (a file holding an offset in seconds added to the wall clock, as the hub's test clock keeps it: another
process) — so a window opens and closes when the test moves time, never because the run was slow.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import random
import re
import threading
import time
import uuid
import urllib.parse
from collections.abc import Callable
from pathlib import Path

from .base import HttpError, Request, Response, Simulator, http_call, phone_key

VERSIONS = ("v24.0", "v25.0", "v26.0")
NAME = re.compile(r"[a-z0-9_]{1,512}")
PARAM = re.compile(r"\{\{([a-z_][a-z0-9_]*|\d+)\}\}")
# Button index 0, 1, 2, 3 (our templates put them in this order; "pay" only on the pay templates).
REPLIES = ("confirm", "cancel", "agent", "pay")
DEFAULT_REPLY_ODDS = {"confirm": 0.65, "cancel": 0.15, "agent": 0.05, None: 0.15}
PAIR_BURST, PAIR_SECONDS = 3, 6.0


def _error(status: int, code: int, title: str, details: str = "", headers: dict | None = None) -> HttpError:
    return HttpError(Response.json({"error": {
        "message": f"(#{code}) {title}", "type": "OAuthException", "code": code,
        "error_data": {"messaging_product": "whatsapp", "details": details or title},
        "fbtrace_id": uuid.uuid4().hex[:22]}}, status, headers))


def sign(app_secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(app_secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


class WhatsAppSimulator(Simulator):
    name = "whatsapp"
    retry_delays = (5, 30, 120, 600, 3600)  # "decreasing frequency for up to 7 days" (§4), compressed
    routes = [
        ("POST", r"/(?P<version>v[\d.]+)/(?P<node>\d+)/messages", "send"),
        ("POST", r"/(?P<version>v[\d.]+)/(?P<node>\d+)/message_templates", "create_template"),
        ("GET", r"/(?P<version>v[\d.]+)/(?P<node>\d+)/message_templates", "list_templates"),
        ("GET", r"/(?P<version>v[\d.]+)/(?P<node>\d+)", "get_number"),
    ]
    control_methods = Simulator.control_methods + (
        "set_wa_customer", "set_template_review", "approve_all", "expire_token", "messages", "templates",
        "set_webhook_url", "tap", "write", "verify_webhook")

    def __init__(self, *, token: str = "wa-token", app_secret: str = "wa-app-secret", phone_number_id: str = "1055",
                 waba_id: str = "2077", display_number: str = "+90 850 000 00 00", webhook_url: str | None = None,
                 review_delay: float = 60.0, status_delay: float = 2.0, reply_delay: float = 20.0,
                 clock: Callable[[], float] | None = None, clock_file: str | None = None, **kwargs):
        super().__init__(**kwargs)
        self.clock, self.clock_file = clock, clock_file
        self.token, self.app_secret = token, app_secret
        self.phone_number_id, self.waba_id, self.display_number = phone_number_id, waba_id, display_number
        self.webhook_url = webhook_url
        self.review_delay, self.status_delay, self.reply_delay = review_delay, status_delay, reply_delay
        self._state_lock = threading.RLock()
        self.reset_state()

    # state ----------------------------------------------------------------------------------------
    def reset_state(self) -> None:
        with self._state_lock:
            self._expired = False
            self._messages: dict[str, dict] = {}
            self._templates: dict[tuple[str, str], dict] = {}
            self._review = {"status": "APPROVED", "reason": "NONE", "category": None}
            self._wa: dict[str, dict] = {}
            self._pair: dict[str, list[float]] = {}
            self._created_at: list[float] = []
            self._csw: dict[str, float] = {}  # phone key → window end (Unix seconds on now())
            self._rng = random.Random(self.seed)

    def set_webhook_url(self, url: str | None) -> None:
        self.webhook_url = url

    def now(self) -> float:
        """Meta's clock, Unix seconds: `clock()`, else the wall clock plus the offset in `clock_file` (none: 0)."""
        if self.clock is not None:
            return float(self.clock())
        offset = 0.0
        if self.clock_file:
            try:
                offset = float(Path(self.clock_file).read_text().strip() or 0)
            except (OSError, ValueError):
                offset = 0.0
        return time.time() + offset

    def set_wa_customer(self, phone: str, *, on_whatsapp: bool = True, reply=None, text: str | None = None,
                        statuses: str = "read", sent_before_failure: bool = True,
                        reply_delay: float | None = None) -> None:
        """How one recipient behaves: `reply` confirm/cancel/agent/pay (a button tap; a button the message does
        not have is typed instead, as a person would) or None; `text` a typed
        reply instead; `statuses` "read" (sent, delivered, read), "read_only" (sent, read: delivered and read
        at once), "delivered", "none" (no final status: dropped at the TTL)."""
        with self._state_lock:
            self._wa[phone_key(phone)] = {"on": on_whatsapp, "reply": reply, "text": text, "statuses": statuses,
                                          "sent_first": sent_before_failure,
                                          "delay": self.reply_delay if reply_delay is None else reply_delay}

    def set_template_review(self, status: str = "APPROVED", reason: str = "NONE", category: str | None = None) -> None:
        """What the next reviews decide (APPROVED / REJECTED + reason; category MARKETING re-categorises)."""
        with self._state_lock:
            self._review = {"status": status, "reason": reason, "category": category}

    def approve_all(self) -> int:
        """Finish every pending review now (as `set_template_review` says)."""
        with self._state_lock:
            pending = [t["id"] for t in self._templates.values() if t["status"] == "PENDING"]
        for tid in pending:
            self._finish_review(tid)
        return len(pending)

    def expire_token(self) -> None:
        self._expired = True

    def messages(self) -> list[dict]:
        with self._state_lock:
            return [dict(m) for m in self._messages.values()]

    def templates(self) -> list[dict]:
        with self._state_lock:
            return [dict(t) for t in self._templates.values()]

    def state(self) -> dict:
        return {**super().state(), "messages": self.messages(), "templates": self.templates()}

    # hooks ----------------------------------------------------------------------------------------
    def account_of(self, req: Request) -> str | None:
        auth = req.header("authorization") or ""
        return "business" if auth == f"Bearer {self.token}" else None

    def rate_limited(self, req: Request, retry_after: int) -> Response:
        return _error(400, 130429, "Rate limit hit", "Cloud API message throughput has been reached.").response

    def server_error(self, req: Request, status: int) -> Response:
        return _error(status, 131000, "Something went wrong").response

    def not_found(self, req: Request) -> Response:
        return _error(400, 100, "Invalid parameter", f"Unknown path components: {req.path}").response

    def _auth(self, req: Request, version: str) -> None:
        if req.account is None or self._expired:
            raise _error(401, 190, "Error validating access token", "Session has expired" if self._expired else
                         "Invalid OAuth access token - Cannot parse access token")
        if version not in VERSIONS:
            raise _error(400, 2635, "You are calling a deprecated version of the Graph API",
                         f"{version} is not available; use one of {', '.join(VERSIONS)}")

    def _json(self, req: Request) -> dict:
        try:
            data = req.json()
        except ValueError:
            data = None
        if not isinstance(data, dict):
            raise _error(400, 100, "Invalid parameter", "The request body is not a JSON object")
        return data

    # sending ---------------------------------------------------------------------------------------
    def get_number(self, req: Request, version: str, node: str) -> Response:
        self._auth(req, version)
        if node != self.phone_number_id:
            raise _error(400, 100, "Invalid parameter", f"Unsupported get request. Object with ID '{node}' "
                                                         "does not exist")
        return Response.json({"display_phone_number": self.display_number, "verified_name": "Demo Mağaza",
                              "id": node})

    def send(self, req: Request, version: str, node: str) -> Response:
        self._auth(req, version)
        if node != self.phone_number_id:
            raise _error(400, 100, "Invalid parameter", f"Object with ID '{node}' does not exist")
        data = self._json(req)
        if data.get("messaging_product") != "whatsapp":
            raise _error(400, 100, "Invalid parameter", "messaging_product must be 'whatsapp'")
        to = data.get("to")
        if not isinstance(to, str) or not re.fullmatch(r"\+?[1-9]\d{6,14}", to):
            raise _error(400, 100, "Invalid parameter", "Parameter 'to' is not a phone number")
        wa_id = to.lstrip("+")  # without +, Meta would prepend our own country code (§7); we send with +
        kind = data.get("type", "text")
        callback = data.get("biz_opaque_callback_data")
        if callback is not None and (not isinstance(callback, str) or len(callback) > 512):
            raise _error(400, 100, "Invalid parameter", "biz_opaque_callback_data must be text up to 512 chars")
        payloads: list[str] = []
        if kind == "template":
            payloads = self._check_template(data.get("template"))
        elif kind == "interactive":
            self._check_interactive(data.get("interactive"))
        elif kind == "text":
            body = (data.get("text") or {}).get("body")
            if not isinstance(body, str) or not 1 <= len(body) <= 4096:
                raise _error(400, 100, "Invalid parameter", "text.body must be 1-4096 characters")
        else:
            raise _error(400, 131051, "Unsupported message type", f"type {kind!r}")
        self._check_pair(wa_id)
        wamid = "wamid." + uuid.uuid4().hex.upper()
        msg = {"id": wamid, "to": to, "wa_id": wa_id, "type": kind, "callback": callback, "payloads": payloads,
               "body": data, "statuses": [], "received_at": self.now()}
        with self._state_lock:
            self._messages[wamid] = msg
        self.spawn(self._run_message, wamid)
        return Response.json({"messaging_product": "whatsapp", "contacts": [{"input": to, "wa_id": wa_id}],
                              "messages": [{"id": wamid}]})

    def _check_template(self, tpl) -> list[str]:
        if not isinstance(tpl, dict) or not isinstance(tpl.get("name"), str):
            raise _error(400, 100, "Invalid parameter", "template.name is required")
        lang = (tpl.get("language") or {}).get("code") if isinstance(tpl.get("language"), dict) else None
        with self._state_lock:
            stored = self._templates.get((tpl["name"], lang or ""))
        if stored is None or stored["status"] != "APPROVED":
            raise _error(404, 132001, "Template name does not exist in the translation",
                         f"template name ({tpl['name']}) does not exist in {lang}")
        wanted = set(stored["params"])
        given, payloads = set(), []
        for comp in tpl.get("components") or []:
            if comp.get("type") == "body":
                for p in comp.get("parameters") or []:
                    if p.get("type") != "text" or not isinstance(p.get("text"), str) or not p["text"].strip():
                        raise _error(400, 132012, "Parameter format does not match format in the created template")
                    given.add(p.get("parameter_name"))
            elif comp.get("type") == "button" and comp.get("sub_type") == "quick_reply":
                index = int(comp.get("index", -1))
                if not 0 <= index < len(stored["buttons"]):
                    raise _error(400, 131008, "Required parameter is missing", f"no button at index {index}")
                payload = ((comp.get("parameters") or [{}])[0] or {}).get("payload")
                if not isinstance(payload, str) or not payload:
                    raise _error(400, 131009, "Parameter value is not valid", "quick_reply payload missing")
                payloads.append(payload)
        if given != wanted:
            raise _error(400, 132000, "Number of parameters does not match the expected number of params",
                         f"expected {sorted(wanted)}, got {sorted(x or '' for x in given)}")
        return payloads

    def _check_interactive(self, inter) -> None:
        buttons = ((inter or {}).get("action") or {}).get("buttons") if isinstance(inter, dict) else None
        if not isinstance(buttons, list) or not 1 <= len(buttons) <= 3:
            raise _error(400, 131009, "Parameter value is not valid", "1-3 reply buttons")
        titles = [((b.get("reply") or {}).get("title") or "") for b in buttons]
        if any(not t or len(t) > 20 for t in titles) or len(set(titles)) != len(titles):
            raise _error(400, 131009, "Parameter value is not valid", "button titles: unique, 1-20 characters")

    def _check_pair(self, wa_id: str) -> None:
        """One message per 6 s to the same user, small bursts borrowed (§5): 131056 over it. Real seconds, as
        the base simulator's rate limits (a limit is about our request rate, not the simulated customer)."""
        now = time.monotonic()
        with self._state_lock:
            recent = [t for t in self._pair.get(wa_id, []) if now - t < PAIR_SECONDS * PAIR_BURST]
            if len(recent) >= PAIR_BURST:
                raise _error(400, 131056, "(Business Account, Consumer Account) pair rate limit hit",
                             "Message failed to send because there were too many messages sent from this phone "
                             "number to the same phone number in a short period of time.")
            self._pair[wa_id] = recent + [now]

    # what happens to a message ---------------------------------------------------------------------
    def _customer(self, wa_id: str) -> dict:
        with self._state_lock:
            c = self._wa.get(phone_key(wa_id))
            if c is None:  # seeded default: on WhatsApp, reads, answers by the odds
                rng = random.Random(f"{self.seed}:{phone_key(wa_id)}")
                reply = rng.choices(list(DEFAULT_REPLY_ODDS), list(DEFAULT_REPLY_ODDS.values()))[0]
                c = {"on": True, "reply": reply, "text": None, "statuses": "read", "sent_first": True,
                     "delay": self.reply_delay}
            return dict(c)

    def _run_message(self, wamid: str) -> None:
        msg = self._messages.get(wamid)
        if msg is None:
            return
        c = self._customer(msg["wa_id"])
        template = msg["type"] == "template"
        if not self.sleep(self.status_delay):
            return
        if not c["on"]:  # undeliverable: a failed status, with or without `sent` before it (§4, [JAAL])
            if c["sent_first"]:
                self._status(msg, "sent")
            self._status(msg, "failed", errors=[{"code": 131026, "title": "Message undeliverable",
                                                 "message": "Message undeliverable",
                                                 "error_data": {"details": "Message Undeliverable."}}])
            return
        if not template and self._csw.get(phone_key(msg["wa_id"]), 0) < msg["received_at"]:  # window shut when taken
            self._status(msg, "failed", errors=[{"code": 131047, "title": "Re-engagement message",
                                                 "message": "Re-engagement message",
                                                 "error_data": {"details": "More than 24 hours have passed since "
                                                                           "the recipient last replied."}}])
            return
        self._status(msg, "sent")
        if c["statuses"] == "none":
            return  # never delivered: the sender must assume it dropped at the TTL (§2)
        if not self.sleep(self.status_delay):
            return
        if c["statuses"] != "read_only":
            self._status(msg, "delivered")
        if c["statuses"] in ("read", "read_only"):
            self._status(msg, "read")
        if not template or (c["reply"] is None and c["text"] is None) or not self.sleep(c["delay"]):
            return
        if c["text"] is not None:
            self.write(msg["to"], c["text"])
        else:
            try:
                self.tap(wamid, c["reply"])
            except ValueError:  # no such button on this template: typed instead
                self.write(msg["to"], c["reply"].upper())

    def tap(self, wamid: str, reply: str = "confirm", payload: str | None = None, age: float = 0.0) -> dict:
        """The customer taps a quick-reply button of our message (or sends `payload` as if it were one). `age`:
        seconds on Meta's clock (`now()`) since the tap when its webhook goes out now (Meta redelivering one the
        receiver missed, §4): the message keeps its own `timestamp`, and the window it opened counts from then."""
        msg = self._messages[wamid]
        index = REPLIES.index(reply) if reply in REPLIES else 0
        sent = msg["payloads"][index] if index < len(msg["payloads"]) else None
        template = msg["body"].get("template") or {}
        with self._state_lock:
            stored = self._templates.get((template.get("name"), (template.get("language") or {}).get("code")))
        if stored and index >= len(stored["buttons"]):
            raise ValueError(f"template {template.get('name')} has no button {index} ({reply})")
        label = stored["buttons"][index] if stored and index < len(stored["buttons"]) else reply
        inbound = {"context": {"from": self.display_digits, "id": wamid}, "from": msg["wa_id"],
                   "id": "wamid." + uuid.uuid4().hex.upper(), "timestamp": str(int(self.now() - age)),
                   "type": "button", "button": {"payload": payload if payload is not None else (sent or label),
                                                "text": label}}
        self._inbound(msg["wa_id"], inbound, age)
        return inbound

    def write(self, phone: str, text: str, age: float = 0.0) -> dict:
        """The customer types a message to our number (`age`: as for `tap`)."""
        wa_id = phone.lstrip("+")
        inbound = {"from": wa_id, "id": "wamid." + uuid.uuid4().hex.upper(),
                   "timestamp": str(int(self.now() - age)), "type": "text", "text": {"body": text}}
        self._inbound(wa_id, inbound, age)
        return inbound

    @property
    def display_digits(self) -> str:
        return re.sub(r"\D", "", self.display_number)

    def _inbound(self, wa_id: str, message: dict, age: float = 0.0) -> None:
        with self._state_lock:  # inbound opens the CSW (§8), from when it was sent; a later one never shortens it
            key = phone_key(wa_id)
            self._csw[key] = max(self._csw.get(key, 0.0), int(message["timestamp"]) + 24 * 3600)
        self._emit_messages({"contacts": [{"profile": {"name": "Müşteri"}, "wa_id": wa_id}], "messages": [message]})

    def _status(self, msg: dict, status: str, errors: list | None = None) -> None:
        item = {"id": msg["id"], "status": status, "timestamp": str(int(self.now())), "recipient_id": msg["wa_id"]}
        if msg.get("callback"):
            item["biz_opaque_callback_data"] = msg["callback"]
        if status in ("sent", "delivered", "read") and msg["type"] == "template":
            item["pricing"] = {"billable": True, "pricing_model": "PMP", "type": "regular", "category": "utility"}
        if errors:
            item["errors"] = errors
        with self._state_lock:
            msg["statuses"].append(status)
        self._emit_messages({"statuses": [item]})

    def _emit_messages(self, value: dict) -> None:
        value = {"messaging_product": "whatsapp",
                 "metadata": {"display_phone_number": self.display_digits, "phone_number_id": self.phone_number_id},
                 **value}
        self._emit("messages", value)

    def _emit(self, field_name: str, value: dict) -> None:
        if not self.webhook_url:
            return
        envelope = {"object": "whatsapp_business_account",
                    "entry": [{"id": self.waba_id, "changes": [{"value": value, "field": field_name}]}]}
        body = json.dumps(envelope, ensure_ascii=True).encode("ascii")  # Meta escapes non-ASCII as \uXXXX (§4)
        self.webhooks.send(self.webhook_url, body=body, headers={
            "Content-Type": "application/json", "X-Hub-Signature-256": sign(self.app_secret, body)})

    def verify_webhook(self, verify_token: str, challenge: str = "1158201444") -> dict:
        """Meta's subscription handshake against `webhook_url` (§4): {status, body}."""
        query = urllib.parse.urlencode({"hub.mode": "subscribe", "hub.verify_token": verify_token,
                                        "hub.challenge": challenge})
        sep = "&" if "?" in self.webhook_url else "?"
        status, body, _, _ = http_call("GET", f"{self.webhook_url}{sep}{query}", None, {}, self.webhook_timeout)
        return {"status": status, "body": body}

    # templates -------------------------------------------------------------------------------------
    def create_template(self, req: Request, version: str, node: str) -> Response:
        self._auth(req, version)
        if node != self.waba_id:
            raise _error(400, 100, "Invalid parameter", f"Object with ID '{node}' does not exist")
        data = self._json(req)
        name, lang, category = data.get("name"), data.get("language"), data.get("category")
        if not isinstance(name, str) or not NAME.fullmatch(name):
            raise _error(400, 100, "Invalid parameter", "name: lowercase letters, digits and underscores")
        if not isinstance(lang, str) or not re.fullmatch(r"[a-z]{2}(_[A-Z]{2})?", lang):
            raise _error(400, 100, "Invalid parameter", "language must be a supported code")
        if category not in ("MARKETING", "UTILITY", "AUTHENTICATION"):
            raise _error(400, 100, "Invalid parameter", "category must be MARKETING, UTILITY or AUTHENTICATION")
        body, buttons = "", []
        for comp in data.get("components") or []:
            if comp.get("type") == "body":
                body = comp.get("text") or ""
            elif comp.get("type") == "buttons":
                buttons = [b.get("text") or "" for b in comp.get("buttons") or [] if b.get("type") == "quick_reply"]
        if not body.strip():
            raise _error(400, 100, "Invalid parameter", "a body component with text is required")
        if PARAM.match(body.strip()) or re.search(r"\{\{[^}]+\}\}$", body.strip()):
            raise _error(400, 2388299, "Variables can't be at the start or end of the template",
                         "Move the variable away from the start and the end of the body.")
        if len(buttons) > 10 or any(not b or len(b) > 25 for b in buttons):
            raise _error(400, 100, "Invalid parameter", "quick-reply buttons: at most 10, 1-25 characters each")
        now = time.monotonic()
        with self._state_lock:
            self._created_at = [t for t in self._created_at if now - t < self.real(3600)]
            if len(self._created_at) >= 100:
                raise _error(400, 4, "Application request limit reached", "100 template creations an hour")
            if (name, lang) in self._templates:
                raise _error(400, 100, "Invalid parameter",
                             f"Content in this language already exists for template {name}")
            self._created_at.append(now)
            tid = str(self._rng.randrange(10 ** 14, 10 ** 15))
            self._templates[(name, lang)] = {"id": tid, "name": name, "language": lang, "status": "PENDING",
                                             "category": category, "params": PARAM.findall(body),
                                             "buttons": buttons, "rejected_reason": "NONE", "body": body}
        self.spawn(self._review_later, tid)
        return Response.json({"id": tid, "status": "PENDING", "category": category})

    def list_templates(self, req: Request, version: str, node: str) -> Response:
        self._auth(req, version)
        name = req.arg("name")
        with self._state_lock:
            items = [{k: t[k] for k in ("id", "name", "language", "status", "category", "rejected_reason")}
                     for t in self._templates.values() if name is None or t["name"] == name]
        return Response.json({"data": items, "paging": {"cursors": {"before": "", "after": ""}}})

    def _review_later(self, tid: str) -> None:
        if self.sleep(self.review_delay):
            self._finish_review(tid)

    def _finish_review(self, tid: str) -> None:
        with self._state_lock:
            t = next((t for t in self._templates.values() if t["id"] == tid and t["status"] == "PENDING"), None)
            if t is None:
                return
            t["status"] = self._review["status"]
            t["rejected_reason"] = self._review["reason"] if t["status"] == "REJECTED" else "NONE"
            if self._review["category"]:
                t["category"] = self._review["category"]
            snap = dict(t)
        self._emit("message_template_status_update", {
            "event": snap["status"], "message_template_id": int(snap["id"]),
            "message_template_name": snap["name"], "message_template_language": snap["language"],
            "reason": snap["rejected_reason"] if snap["status"] == "REJECTED" else None})
