"""LatitudePay / Genoapay API v3 simulator (both closed in 2023: built from payments.md Part B and Latitude's official
plugins; every shape here is "simulator only" where the plugins do not show it). Stdlib only, no ocbridge code.

- `POST /v3/token` (Basic api_key:api_secret) → `{"authToken", "expiryDate"}`; tokens live `token_ttl` seconds.
- `GET /v3/configuration` → `{name, description, minimumAmount, maximumAmount}`.
- `POST /v3/sale/online?signature=` (B2/B3): checks the signature over the body as sent; amount outside the range or
  a currency other than the account's → 400 with a message; → `{token, reference, message, paymentUrl, expiryDate}`.
- `GET /v3/pay/<token>` (the shopper's instalment page, simulator only) → an HTML page; `POST /v3/pay/<token>`
  with `decision=pay|decline` redirects (302) to successUrl / failUrl with `token, reference, message, result,
  signature` (B4) and calls the callbackUrl with the same query (GET).
- `GET /v3/sale/pos/<token>/status` → `{token, reference, status, amount, refundedAmount}` (simulator only).
- `POST /v3/sale/<token>/refund?signature=` (B5) → `{refundId, ...}`; over the remaining amount → 400; a refund
  `reference` seen before answers the first refund again (simulator only).
Control: `decide(token, decision)`, `sales()`, `expire_tokens()`, `forge_callback(token)`.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import itertools
import json
import re
import secrets
import threading
import urllib.parse

from .base import Request, Response, Simulator


def _scalar(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    text = json.dumps(value)  # ASCII-escaped, as PHP's json_encode
    if isinstance(value, str):
        text = text.replace("/", "\\/")
    return text.strip('"')


def sign(body, secret: str) -> str:
    parts: list[str] = []

    def walk(node):
        for key, value in (node.items() if isinstance(node, dict) else enumerate(node)):
            if isinstance(key, str):
                parts.append(key)
            walk(value) if isinstance(value, (dict, list)) else parts.append(_scalar(value))

    walk(body)
    text = re.sub(r"\s", "", "".join(parts))
    return hmac.new(secret.encode(), base64.b64encode(text.encode()), hashlib.sha256).hexdigest()


class LatitudeSimulator(Simulator):
    name = "latitudepay"
    routes = [
        ("POST", r"/v3/token", "handle_token"),
        ("GET", r"/v3/configuration", "handle_configuration"),
        ("POST", r"/v3/sale/online", "handle_sale"),
        ("GET", r"/v3/pay/(?P<token>[\w-]+)", "handle_page"),
        ("POST", r"/v3/pay/(?P<token>[\w-]+)", "handle_decide"),
        ("GET", r"/v3/sale/pos/(?P<token>[\w-]+)/status", "handle_status"),
        ("POST", r"/v3/sale/(?P<token>[\w-]+)/refund", "handle_refund"),
    ]
    control_methods = Simulator.control_methods + ("decide", "sales", "expire_tokens", "forge_callback")

    def __init__(self, *, api_key="lp-key", api_secret="lp-secret", currency="AUD", minimum=20, maximum=1500,
                 token_ttl=3600.0, **kw):
        super().__init__(**kw)
        self.api_key, self.api_secret, self.currency = api_key, api_secret, currency
        self.minimum, self.maximum, self.token_ttl = minimum, maximum, token_ttl
        self._state_lock = threading.RLock()
        self.reset_state()

    def reset_state(self) -> None:
        with getattr(self, "_state_lock", threading.RLock()):
            self._tokens: set[str] = set()
            self._sales: dict[str, dict] = {}
            self._refunds: dict[str, dict] = {}
            self._ids = itertools.count(1)

    def sales(self) -> dict:
        with self._state_lock:
            return {k: dict(v) for k, v in self._sales.items()}

    def expire_tokens(self) -> None:
        with self._state_lock:
            self._tokens.clear()

    # auth ---------------------------------------------------------------------------------------------------
    def handle_token(self, req: Request) -> Response:
        if req.basic_auth() != (self.api_key, self.api_secret):
            return Response.json({"error": "Unauthorized", "message": "Invalid API key or secret"}, 401)
        token = secrets.token_hex(16)
        with self._state_lock:
            self._tokens.add(token)
        return Response.json({"authToken": token, "expiryDate": "2099-01-01T00:00:00Z"})

    def _authorised(self, req: Request) -> bool:
        with self._state_lock:
            return req.bearer() in self._tokens

    def handle_configuration(self, req: Request) -> Response:
        if not self._authorised(req):
            return Response.json({"error": "Unauthorized", "message": "Invalid token"}, 401)
        return Response.json({"name": "LatitudePay", "description": "10 interest free payments",
                              "minimumAmount": self.minimum, "maximumAmount": self.maximum})

    # sale -----------------------------------------------------------------------------------------------------
    def handle_sale(self, req: Request) -> Response:
        if not self._authorised(req):
            return Response.json({"error": "Unauthorized", "message": "Invalid token"}, 401)
        body = req.json()
        if not isinstance(body, dict) or req.arg("signature") != sign(body, self.api_secret):
            return Response.json({"error": "Bad Request", "message": "Invalid signature"}, 400)
        total = body.get("totalAmount") or {}
        if total.get("currency") != self.currency:
            return Response.json({"error": "Bad Request", "message": f"Currency must be {self.currency}"}, 400)
        if not (self.minimum <= float(total.get("amount") or 0) <= self.maximum):
            return Response.json({"error": "Bad Request", "message": "Amount outside the allowed range"}, 400)
        token = f"lp{next(self._ids):06d}{secrets.token_hex(4)}"
        with self._state_lock:
            self._sales[token] = {"token": token, "reference": body.get("reference"), "status": "NEW", "body": body,
                                  "amount": round(float(total["amount"]) * 100), "refunded": 0}
        return Response.json({"token": token, "reference": body.get("reference"), "message": "Sale created",
                              "paymentUrl": f"{self.base_url}/v3/pay/{token}", "expiryDate": "2099-01-01T00:00:00Z"})

    def handle_page(self, req: Request, token: str) -> Response:
        if token not in self._sales:
            return Response.text("Not Found", 404)
        page = (f"<html><body><h1>LatitudePay (simulator)</h1><form method=post action=/v3/pay/{token}>"
                "<button name=decision value=pay>pay</button><button name=decision value=decline>decline</button>"
                "</form></body></html>")
        return Response(200, page.encode(), {"Content-Type": "text/html; charset=utf-8"})

    def handle_decide(self, req: Request, token: str) -> Response:
        if token not in self._sales:
            return Response.text("Not Found", 404)
        location = self.decide(token, req.form().get("decision", "pay"))
        return Response(302, b"", {"Location": location})

    def decide(self, token: str, decision: str = "pay") -> str:
        """The shopper's decision: the callback is called, the browser URL returned."""
        with self._state_lock:
            sale = self._sales[token]
            ok = decision == "pay"
            sale["status"] = "COMPLETED" if ok else "FAILED"
        query = self._redirect_params(sale, "COMPLETED" if ok else "FAILED",
                                      "Payment approved" if ok else "Payment declined")
        urls = sale["body"].get("returnUrls") or {}
        if urls.get("callbackUrl"):
            self.webhooks.send(_with(urls["callbackUrl"], query), body=b"", method="GET", event_id=token)
        return _with(urls.get("successUrl" if ok else "failUrl") or "", query)

    def forge_callback(self, token: str, url: str) -> None:
        sale = self._sales.get(token, {"token": token, "reference": "x"})
        query = {"token": token, "reference": sale["reference"], "message": "Payment approved", "result": "COMPLETED",
                 "signature": "0" * 64}
        self.webhooks.send(_with(url, query), body=b"", method="GET", event_id=token)

    def _redirect_params(self, sale: dict, result: str, message: str) -> dict:
        obj = {"token": sale["token"], "reference": sale["reference"], "message": message, "result": result}
        return {**obj, "signature": sign(obj, self.api_secret)}

    def handle_status(self, req: Request, token: str) -> Response:
        if not self._authorised(req):
            return Response.json({"error": "Unauthorized", "message": "Invalid token"}, 401)
        sale = self._sales.get(token)
        if sale is None:
            return Response.json({"error": "Not Found", "message": "Sale not found"}, 404)
        return Response.json({"token": token, "reference": sale["reference"], "status": sale["status"],
                              "amount": sale["amount"] / 100, "refundedAmount": sale["refunded"] / 100})

    def handle_refund(self, req: Request, token: str) -> Response:
        if not self._authorised(req):
            return Response.json({"error": "Unauthorized", "message": "Invalid token"}, 401)
        body = req.json()
        if not isinstance(body, dict) or req.arg("signature") != sign(body, self.api_secret):
            return Response.json({"error": "Bad Request", "message": "Invalid signature"}, 400)
        with self._state_lock:
            sale = self._sales.get(token)
            if sale is None or sale["status"] not in ("COMPLETED", "REFUNDED"):
                return Response.json({"error": "Bad Request", "message": "Sale cannot be refunded"}, 400)
            ref = str(body.get("reference") or "")
            if ref in self._refunds:
                return Response.json(self._refunds[ref])
            amount = round(float((body.get("amount") or {}).get("amount") or 0) * 100)
            if amount <= 0 or sale["refunded"] + amount > sale["amount"]:
                return Response.json({"error": "Bad Request", "message": "Refund amount exceeds the remaining balance"}, 400)
            sale["refunded"] += amount
            if sale["refunded"] == sale["amount"]:
                sale["status"] = "REFUNDED"
            answer = {"refundId": f"rf{next(self._ids):06d}", "reference": ref, "amount": body["amount"],
                      "message": "Refund processed"}
            self._refunds[ref] = answer
        return Response.json(answer)

    def state(self) -> dict:
        return {**super().state(), "sales": self.sales()}


def _with(url: str, query: dict) -> str:
    if not url:
        return ""
    sep = "&" if urllib.parse.urlsplit(url).query else "?"
    return url + sep + urllib.parse.urlencode(query)
