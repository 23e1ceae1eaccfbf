"""LatitudePay (AU) / Genoapay (NZ) API v3: token, sale, redirect/callback signature, status, refunds.

Both brands closed in 2023 (payments.md Part B status warning): this client is built from their documented v3
protocol — payments.md Part B and Latitude's official plugins (WooCommerce `woocommerce-latitudepay-genoapay`,
its PrestaShop module's `Base::recursiveImplode`) — and checked against our simulator only.

- Auth (B1): `POST /v3/token` with Basic api_key:api_secret → `authToken`; every other call Bearer. A 401/403 on a
  call renews the token once.
- Signature (B3): walk the JSON body in field order; append each key (object keys only) and each scalar as PHP's
  `json_encode` writes it with the surrounding quotes trimmed; remove all whitespace; base64; HMAC-SHA256 keyed
  with the API secret, lower-case hex; sent as `?signature=` on `sale/online` and refunds.
- Amounts (B2): decimals with 2 places in `{amount, currency}` (AUD LatitudePay, NZD Genoapay).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import threading
import time
from decimal import Decimal

from django.utils.translation import gettext_noop

from ocbridge.core import outbound
from ocbridge.core.errors import (
    ConfigurationError, RetryableError, TerminalError, credentials_refused, rate_limited, server_error, unreadable,
)
from ocbridge.core.exchanges import ExchangeRecorder
from ocbridge.core.http import HttpClient, shared_client
from ocbridge.core.sentences import Sentence

SERVICE = "latitudepay"
HOSTS = {  # B1
    ("AUD", False): "https://api.latitudepay.com", ("AUD", True): "https://api.uat.latitudepay.com",
    ("NZD", False): "https://api.genoapay.com", ("NZD", True): "https://api.uat.genoapay.com",
}
PAID = ("COMPLETED", "SUCCESSFUL", "APPROVED", "AUTHORISED")
FAILED = ("FAILED", "DECLINED", "BLOCKED", "EXPIRED", "ERROR")
TOKEN_TTL = 600.0  # seconds we reuse an authToken (its expiry field's name is unverified); a 401 renews it

_tokens: dict[tuple, tuple[str, float]] = {}
_lock = threading.Lock()


def _php_scalar(value) -> str:
    """A scalar as PHP's json_encode writes it (slashes and non-ASCII escaped), quotes trimmed."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, Decimal):
        value = float(value)
    if isinstance(value, float) and value.is_integer():
        value = int(value)  # PHP writes 10.0 as 10 (no JSON_PRESERVE_ZERO_FRACTION)
    text = json.dumps(value, ensure_ascii=True)
    if isinstance(value, str):
        text = text.replace("/", "\\/")
    return text.strip('"')


def signature_string(body) -> str:
    """B3 steps 1–2: keys and values in field order, no separators, all whitespace removed."""
    parts: list[str] = []

    def walk(node):
        items = node.items() if isinstance(node, dict) else enumerate(node)
        for key, value in items:
            if isinstance(key, str):
                parts.append(key)
            if isinstance(value, (dict, list)):
                walk(value)
            else:
                parts.append(_php_scalar(value))

    walk(body)
    return re.sub(r"\s", "", "".join(parts))


def signature(body, secret: str) -> str:
    """B3: HMAC-SHA256 (key: API secret) of the base64 of the signature string, lower-case hex."""
    encoded = base64.b64encode(signature_string(body).encode("utf-8"))
    return hmac.new(secret.encode("utf-8"), encoded, hashlib.sha256).hexdigest()


def verify_redirect(params: dict, secret: str) -> bool:
    """B4: the signature over the ordered object {token, reference, message, result}."""
    body = {k: str(params.get(k) or "") for k in ("token", "reference", "message", "result")}
    given = str(params.get("signature") or "").lower()
    return bool(given) and hmac.compare_digest(given, signature(body, secret))


def money(amount_minor: int, currency: str) -> dict:
    return {"amount": float(Decimal(int(amount_minor)).scaleb(-2)), "currency": currency.upper()}


def base_url(connection, currency: str) -> str:
    if connection.base_url:
        return outbound.check_base_url(SERVICE, connection.base_url).rstrip("/")
    key = (currency.upper(), bool((connection.options or {}).get("sandbox")))
    if key not in HOSTS:
        raise ConfigurationError(Sentence(gettext_noop("LatitudePay takes AUD, Genoapay NZD only")))
    return HOSTS[key]


class LatitudeClient:
    """One LatitudePay / Genoapay merchant account (Connection)."""

    service = SERVICE

    def __init__(self, connection, *, currency: str = "AUD", http: HttpClient | None = None, timeout: float = 30.0):
        creds = connection.credentials()
        self._key, self._secret = str(creds.get("api_key") or ""), str(creds.get("api_secret") or "")
        if not self._key or not self._secret:
            raise ConfigurationError(Sentence(gettext_noop(
                "the LatitudePay connection needs the API key and API secret")))
        self.base = base_url(connection, currency)
        self._http = http or shared_client(SERVICE, "", timeout=timeout)  # one TLS context per process
        self._scope = (connection.pk, self.base, hashlib.sha256(f"{self._key}:{self._secret}".encode()).hexdigest()[:16])
        self._recorder = ExchangeRecorder(SERVICE, connection=connection, secrets=[self._secret])
        self.last_exchange = None

    # auth ---------------------------------------------------------------------------------------------------
    def _token(self, fresh: bool = False) -> str:
        with _lock:
            cached = _tokens.get(self._scope)
        if cached and cached[1] > time.monotonic() and not fresh:
            return cached[0]
        basic = base64.b64encode(f"{self._key}:{self._secret}".encode()).decode()
        body = self._send("POST", "/v3/token", headers={"Authorization": f"Basic {basic}"}, payload={},
                          purpose="latitudepay.token", auth=False)
        token = str(body.get("authToken") or "")
        if not token:
            raise TerminalError(SERVICE, "token", Sentence(gettext_noop("LatitudePay answered without an authToken")))
        with _lock:
            _tokens[self._scope] = (token, time.monotonic() + TOKEN_TTL)
        return token

    # calls ----------------------------------------------------------------------------------------------------
    def configuration(self) -> dict:
        """B1 `GET /v3/configuration`: the account's name and amount range (the settings "Test": nothing charged)."""
        return self._call("GET", "/v3/configuration", purpose="latitudepay.configuration")

    def create_sale(self, body: dict, *, key: str, order_id: int | None = None) -> dict:
        """B2 `POST /v3/sale/online?signature=…` → {token, paymentUrl, …}."""
        return self._call("POST", "/v3/sale/online", payload=body, signed=True, key=key, order_id=order_id,
                          purpose="latitudepay.sale")

    def status(self, token: str, *, order_id: int | None = None) -> dict:
        """B4 status of a sale (method and shape unverified: simulator only)."""
        return self._call("GET", f"/v3/sale/pos/{token}/status", purpose="latitudepay.status", order_id=order_id)

    def refund(self, token: str, amount_minor: int, currency: str, *, reason: str, reference: str, key: str,
               order_id: int | None = None) -> dict:
        """B5 `POST /v3/sale/{token}/refund?signature=…` {amount, reason, reference} → {refundId}."""
        body = {"amount": money(amount_minor, currency), "reason": reason[:100] or "refund", "reference": reference}
        return self._call("POST", f"/v3/sale/{token}/refund", payload=body, signed=True, key=key, order_id=order_id,
                          purpose="latitudepay.refund")

    def _call(self, method, path, *, payload=None, signed=False, key="", order_id=None, purpose="") -> dict:
        for fresh in (False, True):
            token = self._token(fresh=fresh)
            try:
                return self._send(method, path, payload=payload, signed=signed, key=key, order_id=order_id,
                                  purpose=purpose, headers={"Authorization": f"Bearer {token}"})
            except _TokenRefused as exc:
                if fresh:
                    raise TerminalError(SERVICE, exc.code, Sentence(gettext_noop("a fresh token was refused: {detail}"),
                                                                    detail=exc.message)) from None
        raise AssertionError("unreachable")

    def _send(self, method, path, *, payload=None, signed=False, key="", order_id=None, purpose="", headers=None,
              auth=True) -> dict:
        text = json.dumps(payload, ensure_ascii=False, separators=(",", ":")) if payload is not None else None
        params = {"signature": signature(payload, self._secret)} if signed else None
        hdrs = {"Accept": "application/json", **({"Content-Type": "application/json"} if text is not None else {}),
                **(headers or {})}
        url = self._http.build_url(self.base + path, params)
        with self._recorder.exchange(method, url, key=key, purpose=purpose, order_id=order_id, request_body=text,
                                     request_headers=hdrs) as ex:
            self.last_exchange = ex.row
            resp = self._http.request(method, self.base + path, params=params, headers=hdrs,
                                      content=text.encode("utf-8") if text is not None else None)
            ex.finish(resp)
            return self._classify(resp, auth=auth)

    def _classify(self, resp, *, auth: bool) -> dict:
        try:
            body = resp.json()
        except ValueError:
            body = None
        message = (body.get("message") or body.get("error") or "") if isinstance(body, dict) else ""
        message = str(message or resp.reason_phrase or resp.text[:200])
        if resp.status_code == 429:
            raise RetryableError(SERVICE, 429, rate_limited(message))
        if resp.status_code >= 500:
            raise RetryableError(SERVICE, resp.status_code, server_error(resp.status_code, message))
        if resp.status_code in (401, 403):
            if not auth:
                raise TerminalError(SERVICE, resp.status_code, credentials_refused(gettext_noop("API key or secret"),
                                                                                   message))
            raise _TokenRefused(SERVICE, resp.status_code, message)
        if resp.status_code >= 400:
            raise TerminalError(SERVICE, resp.status_code, message)
        if not isinstance(body, dict):
            err = RetryableError(SERVICE, "garbage", unreadable(resp.text))
            err.maybe_sent = True
            raise err
        return body


class _TokenRefused(TerminalError):
    """401/403 with a token: renew it once."""


def forget_tokens() -> None:
    with _lock:
        _tokens.clear()
