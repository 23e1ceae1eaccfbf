"""Sandbox provider: our own small call/SMS protocol, served with a simulated customer behind it.

Protocol (version 1)
--------------------
Auth: `Authorization: Bearer <token>` on every /v1 request. JSON in, JSON out (UTF-8).

Errors: `{"error": {"code": "<code>", "message": "<text>", "field": "<name or null>"}}` with
401 `unauthorized` · 400 `invalid_json` · 422 `validation_error` (with `field`) · 404 `not_found` ·
409 `idempotency_conflict` (same key, different body) / `not_cancelable` · 429 `rate_limited`
(+ `Retry-After` seconds) · 500/503 `server_error`.

POST /v1/calls   {to, text, digits, callback_url, idempotency_key, lang?, confirm_twice?, confirm_twice_text?}
  to            E.164 (`+905321234567`)
  text          what the robot says (≤ 1000 chars)
  digits        key → action, e.g. {"1": "confirm", "2": "cancel", "0": "agent"}; keys 0-9 * #
  confirm_twice keys that need a second press ("press 2 again to cancel"), e.g. ["2"]
  → 201 call resource. The same idempotency_key with the same body → 200 and the existing resource
    (never a second call); with a different body → 409.
POST /v1/sms     {to, text, callback_url, idempotency_key, sender?}  → 201 message resource (same rules)
GET  /v1/calls?idempotency_key=K · GET /v1/sms?idempotency_key=K → {"items": [resource]} (0 or 1 item):
  "did you already get this?" after a timeout.
GET  /v1/calls/{id} · GET /v1/sms/{id} → resource; DELETE /v1/calls/{id} → cancels a call not yet
  finished (200 resource with status `canceled`; 409 `not_cancelable` once it ended).
GET  /v1/inbound?after=<inbound id> → {"items": [inbound message…]} (pull safety net, oldest first).

Call resource: {id, status, to, text, lang, digits, confirm_twice, confirm_twice_text, callback_url,
  idempotency_key, created_at, answered_at, ended_at, answered, digits_pressed: [..], action, result, duration}
  (webhook `data` is the same without callback_url)
  status: queued → ringing → in_progress → completed | no_answer | busy | failed | canceled
  result (when completed): `ok` (action set) · `no_input` · `invalid_key` · `not_repeated`
  (a confirm_twice key was not pressed again; action null).
Message resource: {id, status, to, sender, text, callback_url, idempotency_key, created_at, error_code}
  status: queued → sent → delivered | undelivered (error_code `unreachable`).

Webhooks: JSON POST to the resource's callback_url; inbound SMS go to the account's inbound URL
(`set_inbound_url`), else to the callback_url of the last SMS sent to that number.
  {"event_id": "evt_…", "type": T, "created_at": ISO-8601 UTC, "sequence": n, "data": {...}}
  T = call.ringing | call.answered | call.completed (data = call resource) ·
      sms.status (data = message resource) ·
      sms.inbound (data = {id, from, to, text, received_at, in_reply_to})
  `sequence` grows per resource (order events by it; delivery order is not guaranteed).
  Header `X-Sandbox-Signature: sha256=<hex HMAC-SHA256(webhook_secret, raw body)>`, `X-Sandbox-Event-Id`.
  Non-2xx or no answer → retried after 5, 30, 120, 600, 1800 s (simulated), then dropped.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import threading
import time
import uuid
from datetime import datetime, timezone
from .base import HttpError, Request, Response, Simulator, key_presses

E164 = re.compile(r"\+[1-9]\d{7,14}")
KEYS = set("0123456789*#")
LANGS = ("tr-TR", "en-US", "ru-RU", "ar-XA")
CALL_FINAL = ("completed", "no_answer", "busy", "failed", "canceled")
UNANSWERED_STATUS = {"no_answer": "no_answer", "busy": "busy", "failed": "failed"}


def _now_iso() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def _error(status: int, code: str, message: str, field: str | None = None, headers: dict | None = None) -> HttpError:
    return HttpError(Response.json({"error": {"code": code, "message": message, "field": field}}, status, headers))


class SandboxSimulator(Simulator):
    """The Sandbox provider with simulated customers (see module docstring for the protocol)."""

    name = "sandbox"
    retry_delays = (5, 30, 120, 600, 1800)
    routes = [
        ("POST", r"/v1/calls", "create_call"),
        ("GET", r"/v1/calls", "find_calls"),
        ("GET", r"/v1/calls/(?P<call_id>[\w-]+)", "get_call"),
        ("DELETE", r"/v1/calls/(?P<call_id>[\w-]+)", "cancel_call"),
        ("POST", r"/v1/sms", "create_sms"),
        ("GET", r"/v1/sms", "find_sms"),
        ("GET", r"/v1/sms/(?P<sms_id>[\w-]+)", "get_sms"),
        ("GET", r"/v1/inbound", "list_inbound"),
    ]
    control_methods = Simulator.control_methods + ("set_inbound_url", "inject_sms", "calls", "messages", "inbound")

    def __init__(self, *, token: str = "sandbox-token", tokens: dict[str, str] | None = None,
                 webhook_secret: str = "sandbox-webhook-secret", number: str = "+908500000000",
                 inbound_url: str | None = None, ring_delay: float = 1.0, **kwargs):
        super().__init__(**kwargs)
        self.tokens = dict(tokens or {token: "sandbox"})  # bearer token → account name
        self.webhook_secret = webhook_secret
        self.number = number
        self.inbound_url = inbound_url
        self.ring_delay = ring_delay
        self._state_lock = threading.RLock()
        self.reset_state()

    # state ----------------------------------------------------------------------------------------
    def reset_state(self) -> None:
        with self._state_lock:
            self._calls: dict[str, dict] = {}
            self._sms: dict[str, dict] = {}
            self._by_key: dict[tuple[str, str, str], str] = {}  # (account, kind, idempotency key) → id
            self._bodies: dict[str, dict] = {}
            self._inbound: list[dict] = []
            self._last_sms_url: dict[str, str] = {}
            self._seq: dict[str, int] = {}

    def calls(self) -> list[dict]:
        with self._state_lock:
            return [dict(c) for c in self._calls.values()]

    def messages(self) -> list[dict]:
        with self._state_lock:
            return [dict(m) for m in self._sms.values()]

    def inbound(self) -> list[dict]:
        with self._state_lock:
            return [dict(m) for m in self._inbound]

    def state(self) -> dict:
        return {**super().state(), "calls": self.calls(), "messages": self.messages(), "inbound": self.inbound()}

    def set_inbound_url(self, url: str | None) -> None:
        self.inbound_url = url

    # hooks ----------------------------------------------------------------------------------------
    def account_of(self, req: Request) -> str | None:
        return self.tokens.get(req.bearer() or "")

    def rate_limited(self, req: Request, retry_after: int) -> Response:
        return _error(429, "rate_limited", "Too many requests", headers={"Retry-After": str(retry_after)}).response

    def server_error(self, req: Request, status: int) -> Response:
        return _error(status, "server_error", "Temporary failure, try again").response

    def not_found(self, req: Request) -> Response:
        return _error(404, "not_found", f"No route for {req.method} {req.path}").response

    def _auth(self, req: Request) -> str:
        if req.account is None:
            raise _error(401, "unauthorized", "Missing or invalid bearer token")
        return req.account

    def _body(self, req: Request) -> dict:
        try:
            data = req.json()
        except ValueError:
            raise _error(400, "invalid_json", "Body is not valid JSON") from None
        if not isinstance(data, dict):
            raise _error(400, "invalid_json", "Body must be a JSON object")
        return data

    # validation -----------------------------------------------------------------------------------
    @staticmethod
    def _require_str(data: dict, name: str, max_len: int) -> str:
        value = data.get(name)
        if not isinstance(value, str) or not value.strip():
            raise _error(422, "validation_error", f"{name} is required", name)
        if len(value) > max_len:
            raise _error(422, "validation_error", f"{name} is longer than {max_len} characters", name)
        return value

    def _common(self, data: dict, max_text: int) -> None:
        to = data.get("to")
        if not isinstance(to, str) or not E164.fullmatch(to):
            raise _error(422, "validation_error", "to must be an E.164 number like +905321234567", "to")
        self._require_str(data, "text", max_text)
        url = self._require_str(data, "callback_url", 2000)
        if not re.match(r"https?://", url):
            raise _error(422, "validation_error", "callback_url must be an http(s) URL", "callback_url")
        self._require_str(data, "idempotency_key", 200)

    def _replay(self, account: str, kind: str, data: dict) -> Response | None:
        """Same key: same body → the existing resource (200); different body → 409."""
        with self._state_lock:
            existing = self._by_key.get((account, kind, data["idempotency_key"]))
            if existing is None:
                return None
            if self._bodies[existing] != data:
                raise _error(409, "idempotency_conflict", "idempotency_key was used with a different body",
                             "idempotency_key")
            store = self._calls if kind == "call" else self._sms
            return Response.json(self._public(store[existing]), 200)

    # calls ------------------------------------------------------------------------------------------
    def create_call(self, req: Request) -> Response:
        account = self._auth(req)
        data = self._body(req)
        self._common(data, 1000)
        digits = data.get("digits")
        if not isinstance(digits, dict) or not digits:
            raise _error(422, "validation_error", "digits must map at least one key to an action", "digits")
        for key, action in digits.items():
            if key not in KEYS or not isinstance(action, str) or not action:
                raise _error(422, "validation_error", f"digits: bad entry {key!r}", "digits")
        twice = data.get("confirm_twice") or []
        if not isinstance(twice, list) or any(k not in digits for k in twice):
            raise _error(422, "validation_error", "confirm_twice must list keys present in digits", "confirm_twice")
        lang = data.get("lang", "tr-TR")
        if lang not in LANGS:
            raise _error(422, "validation_error", f"lang must be one of {', '.join(LANGS)}", "lang")
        replay = self._replay(account, "call", data)
        if replay:
            return replay
        call = {
            "id": f"call_{uuid.uuid4().hex[:16]}", "status": "queued", "to": data["to"], "text": data["text"],
            "lang": lang, "digits": digits, "confirm_twice": twice, "confirm_twice_text": data.get("confirm_twice_text"),
            "callback_url": data["callback_url"], "idempotency_key": data["idempotency_key"],
            "created_at": _now_iso(), "answered_at": None, "ended_at": None, "answered": False,
            "digits_pressed": [], "action": None, "result": None, "duration": 0, "account": account,
        }
        with self._state_lock:
            self._calls[call["id"]] = call
            self._by_key[(account, "call", data["idempotency_key"])] = call["id"]
            self._bodies[call["id"]] = data
            response = Response.json(self._public(call), 201)  # before the call starts moving
        self.spawn(self._run_call, call["id"])
        return response

    def find_calls(self, req: Request) -> Response:
        return self._find(req, "call", self._calls)

    def get_call(self, req: Request, call_id: str) -> Response:
        return self._get(req, self._calls, call_id)

    def cancel_call(self, req: Request, call_id: str) -> Response:
        account = self._auth(req)
        with self._state_lock:
            call = self._calls.get(call_id)
            if call is None or call["account"] != account:
                raise _error(404, "not_found", f"No call {call_id}")
            if call["status"] in CALL_FINAL:
                raise _error(409, "not_cancelable", f"Call already {call['status']}")
            call.update(status="canceled", ended_at=_now_iso())
            snapshot = dict(call)
        self._emit(snapshot["callback_url"], "call.completed", snapshot["id"], snapshot)
        return Response.json(self._public(snapshot))

    def _set_call(self, call_id: str, **changes) -> dict | None:
        """Apply changes unless the call was canceled meanwhile; returns a snapshot or None."""
        with self._state_lock:
            call = self._calls.get(call_id)
            if call is None or call["status"] == "canceled":
                return None
            call.update(changes)
            return dict(call)

    def _run_call(self, call_id: str) -> None:
        call = self._calls.get(call_id)
        if call is None:  # reset meanwhile
            return
        outcome, customer = self.customers.next_call(call["to"])
        if not self.sleep(self.ring_delay):
            return
        snap = self._set_call(call_id, status="ringing")
        if snap is None:
            return
        self._emit(snap["callback_url"], "call.ringing", call_id, snap)
        if not self.sleep(customer.answer_delay):
            return
        keys = {intent: key for key, intent in call["digits"].items()}
        answered, presses = key_presses(outcome, keys)
        if not answered:
            snap = self._set_call(call_id, status=UNANSWERED_STATUS.get(outcome, "no_answer"), ended_at=_now_iso())
            if snap:
                self._emit(snap["callback_url"], "call.completed", call_id, snap)
            return
        started = time.monotonic()
        snap = self._set_call(call_id, status="in_progress", answered=True, answered_at=_now_iso())
        if snap is None:
            return
        self._emit(snap["callback_url"], "call.answered", call_id, snap)
        pressed, action, result = self._interpret(call, presses)
        if not self.sleep(6 + 3 * len(pressed)):  # the robot speaks, the customer presses
            return
        duration = max(1, round((time.monotonic() - started) * self.speed))
        snap = self._set_call(call_id, status="completed", ended_at=_now_iso(), digits_pressed=pressed,
                              action=action, result=result, duration=duration)
        if snap:
            self._emit(snap["callback_url"], "call.completed", call_id, snap)

    @staticmethod
    def _interpret(call: dict, presses: list[str]) -> tuple[list[str], str | None, str]:
        """Which keys the IVR collected and what they mean under this call's digit map."""
        if not presses:
            return [], None, "no_input"
        first = presses[0]
        if first not in call["digits"]:
            return [first], None, "invalid_key"
        if first in call["confirm_twice"]:  # second prompt: "press it again to confirm your choice"
            second = presses[1:2]
            if second == [first]:
                return [first, first], call["digits"][first], "ok"
            return [first, *second], None, "not_repeated"
        return [first], call["digits"][first], "ok"

    # sms --------------------------------------------------------------------------------------------
    def create_sms(self, req: Request) -> Response:
        account = self._auth(req)
        data = self._body(req)
        self._common(data, 1600)
        sender = data.get("sender", "OCBRIDGE")
        if not isinstance(sender, str) or not 1 <= len(sender) <= 11:
            raise _error(422, "validation_error", "sender must be 1-11 characters", "sender")
        replay = self._replay(account, "sms", data)
        if replay:
            return replay
        msg = {
            "id": f"sms_{uuid.uuid4().hex[:16]}", "status": "queued", "to": data["to"], "sender": sender,
            "text": data["text"], "callback_url": data["callback_url"], "idempotency_key": data["idempotency_key"],
            "created_at": _now_iso(), "error_code": None, "account": account,
        }
        with self._state_lock:
            self._sms[msg["id"]] = msg
            self._by_key[(account, "sms", data["idempotency_key"])] = msg["id"]
            self._bodies[msg["id"]] = data
            self._last_sms_url[msg["to"]] = msg["callback_url"]
            response = Response.json(self._public(msg), 201)
        self.spawn(self._run_sms, msg["id"])
        return response

    def find_sms(self, req: Request) -> Response:
        return self._find(req, "sms", self._sms)

    def get_sms(self, req: Request, sms_id: str) -> Response:
        return self._get(req, self._sms, sms_id)

    def list_inbound(self, req: Request) -> Response:
        self._auth(req)
        after = req.arg("after")
        with self._state_lock:
            items = list(self._inbound)
        if after:
            ids = [m["id"] for m in items]
            items = items[ids.index(after) + 1:] if after in ids else items
        return Response.json({"items": items[:100]})

    def _run_sms(self, sms_id: str) -> None:
        msg = self._sms.get(sms_id)
        if msg is None:  # reset meanwhile
            return
        reply, customer = self.customers.next_sms_reply(msg["to"])
        if not self.sleep(1):
            return
        self._update_sms(sms_id, status="sent")
        if not self.sleep(2):
            return
        if customer.sms_delivery != "delivered":
            self._update_sms(sms_id, status="undelivered", error_code="unreachable")
            return
        self._update_sms(sms_id, status="delivered")
        if reply is None or not self.sleep(customer.reply_delay):
            return
        order = re.search(r"#?(\d{3,})", msg["text"])
        text = reply.replace("{order}", order.group(1) if order else "1234")
        self.inject_sms(sender=msg["to"], text=text, to=self.number, in_reply_to=sms_id)

    def _update_sms(self, sms_id: str, **changes) -> None:
        with self._state_lock:
            if sms_id not in self._sms:
                return
            self._sms[sms_id].update(changes)
            snap = dict(self._sms[sms_id])
        self._emit(snap["callback_url"], "sms.status", sms_id, snap)

    def inject_sms(self, sender: str, text: str, to: str | None = None, in_reply_to: str | None = None,
                   url: str | None = None) -> dict:
        """A customer texts us (a reply, or out of the blue). Delivered as an sms.inbound webhook."""
        item = {"id": f"in_{uuid.uuid4().hex[:16]}", "from": sender, "to": to or self.number, "text": text,
                "received_at": _now_iso(), "in_reply_to": in_reply_to}
        with self._state_lock:
            self._inbound.append(item)
            target = url or self.inbound_url or self._last_sms_url.get(sender)
        if target:
            self._emit(target, "sms.inbound", item["id"], item)
        return item

    # shared -------------------------------------------------------------------------------------------
    @staticmethod
    def _public(resource: dict) -> dict:
        """The resource as the API shows it (without our bookkeeping)."""
        return {k: v for k, v in resource.items() if k != "account"}

    def _find(self, req: Request, kind: str, store: dict) -> Response:
        account = self._auth(req)
        key = req.arg("idempotency_key")
        if not key:
            raise _error(422, "validation_error", "idempotency_key query parameter is required", "idempotency_key")
        with self._state_lock:
            found = self._by_key.get((account, kind, key))
            items = [self._public(store[found])] if found else []
        return Response.json({"items": items})

    def _get(self, req: Request, store: dict, obj_id: str) -> Response:
        account = self._auth(req)
        with self._state_lock:
            obj = store.get(obj_id)
            if obj is None or obj["account"] != account:
                raise _error(404, "not_found", f"No resource {obj_id}")
            return Response.json(self._public(obj))

    def _emit(self, url: str, event_type: str, resource_id: str, data: dict) -> None:
        with self._state_lock:
            seq = self._seq[resource_id] = self._seq.get(resource_id, 0) + 1
        data = {k: v for k, v in data.items() if k not in ("account", "callback_url")}
        event = {"event_id": f"evt_{uuid.uuid4().hex[:16]}", "type": event_type, "created_at": _now_iso(),
                 "sequence": seq, "data": data}
        body = json.dumps(event, ensure_ascii=False).encode("utf-8")
        self.webhooks.send(url, body=body, event_id=event["event_id"], headers={
            "Content-Type": "application/json; charset=utf-8",
            "X-Sandbox-Event-Id": event["event_id"],
            "X-Sandbox-Signature": "sha256=" + sign_body(self.webhook_secret, body),
        })


def sign_body(secret: str, body: bytes) -> str:
    """Hex HMAC-SHA256 of the raw body (what X-Sandbox-Signature carries after `sha256=`)."""
    return hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()

