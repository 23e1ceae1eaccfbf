"""Amazon Payment Services (formerly PayFort): signatures, amounts, the hosted page's form, the maintenance API.

Knows the protocol (shared/providers/payments.md Part A; the official PHP SDK payfort/payfort-php-sdk) and nothing
of stores, orders or which feature calls it.

- Signature (A2; SDK `APSSignature::calculateSignature`): every parameter except `signature`, sorted by name in
  byte order, concatenated `name=value` with no separator, wrapped in the phrase on both sides, hashed (SHA-256 /
  SHA-512, or HMAC keyed with the same phrase). Requests use the request phrase, answers and feedback the
  response phrase.
- Amounts (A3): integer minor units, 3 decimals for JOD, KWD, OMR, TND, BHD, LYD, IQD, else 2.
- Hosted page (A4 "Redirection"): the browser POSTs the signed form to `…/FortAPI/paymentPage`; card data never
  reaches the hub.
- Merchant page (A4 "Merchant Page"; SDK `CCStandardTokenization`, `FrontEndAdapter/Templates/standard.html`): the
  browser POSTs a signed TOKENIZATION form into an iframe on our page; APS's own page in the iframe takes the card
  and sends the browser back to our return URL with a signed `token_name`. We then PURCHASE / AUTHORIZE with that
  token host-to-host (SDK `CCStandardPurchase`: command, merchant_reference, amount, currency, language,
  customer_email, customer_ip, token_name; optional return_url, eci …); 20064 + `3ds_url` sends the customer to
  3-D Secure first.
- Installments (APS "Installments" guide, paymentservices.amazon.com/docs/EN/24c.html; SDK `Installments*`
  models; plugin payfort/opencart3-payfort `amazonpsorderpayment.php`): STANDALONE — APS's own pages show the
  plans (redirection: `installments=STANDALONE` with PURCHASE; merchant page: TOKENIZATION with
  `installments=STANDALONE`, amount, currency, then PURCHASE with `installments=YES`, the `plan_code` and
  `issuer_code` the tokenization returned); HOSTED — our page shows the plans of GET_INSTALLMENTS_PLANS (62000)
  and PURCHASE carries `installments=HOSTED`, plan_code, issuer_code. Installments are always PURCHASE.
- Server API (A4, A5): JSON POST to `…/FortAPI/paymentApi` — PURCHASE / AUTHORIZATION with a token,
  CHECK_STATUS, CAPTURE, REFUND, VOID_AUTHORIZATION, GET_INSTALLMENTS_PLANS. Every answer's signature is checked
  with the response phrase; a mismatch is refused (never trusted).
"""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal

from django.utils.translation import gettext_noop

from ocbridge.core import outbound
from ocbridge.core.errors import (
    ConfigurationError, RetryableError, TerminalError, http_status, rate_limited, server_error, unreadable,
)
from ocbridge.core.exchanges import ExchangeRecorder
from ocbridge.core.http import HttpClient, shared_client
from ocbridge.core.sentences import Sentence

SERVICE = "aps"
PAGE_PATH = "/FortAPI/paymentPage"
API_PATH = "/FortAPI/paymentApi"
HOSTS = {  # A4
    False: ("https://checkout.payfort.com", "https://paymentservices.payfort.com"),
    True: ("https://sbcheckout.payfort.com", "https://sbpaymentservices.payfort.com"),
}
SHA_TYPES = ("sha256", "sha512", "hmac_sha256", "hmac_sha512")
THREE_DECIMALS = frozenset({"JOD", "KWD", "OMR", "TND", "BHD", "LYD", "IQD"})  # A3

# A5: two-digit `status` at the start of `response_code`.
PURCHASE_OK, AUTHORIZATION_OK, CAPTURE_OK, REFUND_OK, VOID_OK, CHECK_OK = "14", "02", "04", "06", "08", "12"
TOKENIZATION_OK, PLANS_OK, INVALID_REQUEST = "18", "62", "00"
SECURE_3DS = "20064"  # A5: 3-D Secure check requested, the customer goes to `3ds_url` (not final)
NOT_SIGNED = frozenset({"installment_detail"})  # SDK APSSignature::implodeParamsToString leaves it out
UNCERTAIN = ("15", "19", "20")  # uncertain / pending / on hold: reconcile with CHECK_STATUS
NOT_FOUND = "12036"  # CHECK_STATUS: no such merchant_reference
CANCELLED_BY_CUSTOMER = "00072"
SIGNATURE_MISMATCH = "00008"


def decimals(currency: str) -> int:
    return 3 if currency.upper() in THREE_DECIMALS else 2


def to_minor(amount: Decimal | str, currency: str) -> int:
    """A3: round to the currency's decimals first, then scale (AED 20.00 → 2000, KWD 1.2345 → 1235)."""
    places = decimals(currency)
    value = Decimal(str(amount)).quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)
    return int(value.scaleb(places))


def from_minor(minor: int, currency: str) -> Decimal:
    return Decimal(int(minor)).scaleb(-decimals(currency))


def _text(value) -> str:
    if isinstance(value, bool):
        raise TypeError("APS parameters are text or integers")
    return str(value)


def unknown_sha_type(sha_type: str) -> Sentence:
    """A SHA type APS does not have (the connection's option), said (core.sentences)."""
    return Sentence(gettext_noop("unknown APS SHA type {sha_type} (one of {choices})"), sha_type=repr(sha_type),
                    choices=", ".join(SHA_TYPES))


def signature(params: dict, phrase: str, sha_type: str = "sha256") -> str:
    """A2: the signature of `params` (any `signature` key is left out)."""
    if sha_type not in SHA_TYPES:
        raise ConfigurationError(unknown_sha_type(sha_type))
    body = "".join(f"{k}={_text(params[k])}" for k in sorted(params) if k != "signature" and k not in NOT_SIGNED)
    wrapped = f"{phrase}{body}{phrase}".encode("utf-8")
    algo = sha_type.removeprefix("hmac_")
    if sha_type.startswith("hmac_"):
        return hmac.new(phrase.encode("utf-8"), wrapped, algo).hexdigest()
    return hashlib.new(algo, wrapped).hexdigest()


def verify(params: dict, phrase: str, sha_type: str = "sha256") -> bool:
    """A2/A6: the answer or feedback was signed with `phrase` (constant-time, case-insensitive)."""
    given = str(params.get("signature") or "").lower()
    return bool(given) and hmac.compare_digest(given, signature(params, phrase, sha_type))


def status_of(params: dict) -> str:
    """The two-digit status (A5: the first two digits of `response_code`; `status` when sent)."""
    return str(params.get("status") or str(params.get("response_code") or "")[:2])


@dataclass
class Credentials:
    merchant_identifier: str
    access_code: str
    request_phrase: str
    response_phrase: str
    sha_type: str = "sha256"
    language: str = "en"

    @classmethod
    def of(cls, connection) -> Credentials:
        creds, opts = connection.credentials(), connection.options or {}
        out = cls(merchant_identifier=str(creds.get("merchant_identifier") or ""),
                  access_code=str(creds.get("access_code") or ""),
                  request_phrase=str(creds.get("sha_request_phrase") or ""),
                  response_phrase=str(creds.get("sha_response_phrase") or ""),
                  sha_type=str(opts.get("sha_type") or "sha256"), language=str(opts.get("language") or "en"))
        missing = [n for n in ("merchant_identifier", "access_code", "request_phrase", "response_phrase")
                   if not getattr(out, n)]
        if missing:
            raise ConfigurationError(Sentence(gettext_noop("the APS connection needs {fields}"),
                                              fields=", ".join(missing)))
        if out.sha_type not in SHA_TYPES:
            raise ConfigurationError(unknown_sha_type(out.sha_type))
        return out


def endpoints(connection) -> tuple[str, str]:
    """(hosted page URL, server API URL): APS's own hosts (sandbox by the connection's option), or one base URL the
    hub's administrator allows (a simulator) serving both."""
    if connection.base_url:
        base = outbound.check_base_url(SERVICE, connection.base_url).rstrip("/")
        return base + PAGE_PATH, base + API_PATH
    page, api = HOSTS[bool((connection.options or {}).get("sandbox"))]
    return page + PAGE_PATH, api + API_PATH


@dataclass
class Answer:
    """A verified answer of the server API."""

    params: dict
    status: str = ""
    code: str = ""
    message: str = ""
    fort_id: str = ""
    extra: dict = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.code[2:] == "000"


class ApsClient:
    """One APS merchant account (Connection): the signed hosted-page form and the server API."""

    service = SERVICE

    def __init__(self, connection, *, http: HttpClient | None = None, timeout: float = 30.0):
        self.creds = Credentials.of(connection)
        self.page_url, self.api_url = endpoints(connection)
        self._http = http or shared_client(SERVICE, "", timeout=timeout)  # one TLS context per process
        c = self.creds
        self._recorder = ExchangeRecorder(SERVICE, connection=connection,
                                          secrets=[c.request_phrase, c.response_phrase])
        self.last_exchange = None  # the Exchange row of the latest server API call (audit trails link to it)

    # hosted page ---------------------------------------------------------------------------------
    def page_form(self, *, command: str, merchant_reference: str, amount_minor: int, currency: str, email: str,
                  return_url: str, language: str = "", description: str = "", installments: bool = False) -> dict:
        """A4 redirection: the fields the browser POSTs to `page_url`, signed with the request phrase.
        `installments`: APS's standalone installments page (`installments=STANDALONE`, always PURCHASE)."""
        if command not in ("PURCHASE", "AUTHORIZATION"):
            raise ConfigurationError(f"APS command must be PURCHASE or AUTHORIZATION, not {command!r}")
        if installments:
            command = "PURCHASE"
        fields = {"command": command, "access_code": self.creds.access_code,
                  "merchant_identifier": self.creds.merchant_identifier, "merchant_reference": merchant_reference,
                  "amount": str(int(amount_minor)), "currency": currency.upper(),
                  "language": language if language in ("en", "ar") else self.creds.language,
                  "customer_email": email, "return_url": return_url}
        if description:
            fields["order_description"] = description[:150]
        if installments:
            fields["installments"] = "STANDALONE"
        fields["signature"] = signature(fields, self.creds.request_phrase, self.creds.sha_type)
        return fields

    def tokenization_form(self, *, merchant_reference: str, return_url: str, language: str = "",
                          installments_minor: int | None = None, currency: str = "") -> dict:
        """Merchant page: the signed TOKENIZATION form the browser POSTs into the iframe (SDK CCStandardTokenization:
        service_command, merchant_reference, language; optional return_url). With `installments_minor` APS's page in
        the iframe also shows the installment plans (SDK InstallmentsCCStandardTokenization: installments=STANDALONE,
        amount, currency). Card fields are typed on APS's page, never here."""
        fields = {"service_command": "TOKENIZATION", "access_code": self.creds.access_code,
                  "merchant_identifier": self.creds.merchant_identifier, "merchant_reference": merchant_reference,
                  "language": language if language in ("en", "ar") else self.creds.language, "return_url": return_url}
        if installments_minor is not None:
            fields.update(installments="STANDALONE", amount=str(int(installments_minor)), currency=currency.upper())
        fields["signature"] = signature(fields, self.creds.request_phrase, self.creds.sha_type)
        return fields

    def verify_feedback(self, params: dict) -> bool:
        return verify(params, self.creds.response_phrase, self.creds.sha_type)

    # server API ----------------------------------------------------------------------------------
    def check_status(self, merchant_reference: str, *, order_id: int | None = None) -> Answer:
        """A5 CHECK_STATUS: the transaction's state and its authorised / captured / refunded totals. An unknown
        reference answers 12036 (returned, not raised: "never arrived" is an answer)."""
        answer = self._call({"query_command": "CHECK_STATUS", "merchant_reference": merchant_reference},
                            purpose="aps.check_status", order_id=order_id)
        if answer.status != CHECK_OK and answer.code != NOT_FOUND:
            raise TerminalError(SERVICE, answer.code, answer.message)
        return answer

    def purchase(self, *, command: str, merchant_reference: str, amount_minor: int, currency: str, token_name: str,
                 email: str, customer_ip: str, return_url: str, language: str = "", installments: dict | None = None,
                 key: str = "", order_id: int | None = None) -> Answer:
        """Merchant page, host to host: PURCHASE / AUTHORIZATION with the tokenization's `token_name` (SDK
        CCStandardPurchase / CCStandardAuthorization; installments: InstallmentsCCStandardPurchase adds
        installments=YES, plan_code, issuer_code; the plugin's HOSTED flow sends installments=HOSTED). Any signed
        answer is returned — paid, declined, on hold, or 20064 with `3ds_url`; a request APS refused to process
        (status 00: bad signature, invalid token) is a TerminalError."""
        if command not in ("PURCHASE", "AUTHORIZATION"):
            raise ConfigurationError(f"APS command must be PURCHASE or AUTHORIZATION, not {command!r}")
        params = {"command": "PURCHASE" if installments else command, "merchant_reference": merchant_reference,
                  "amount": str(int(amount_minor)), "currency": currency.upper(), "customer_email": email,
                  "customer_ip": customer_ip, "token_name": token_name, "return_url": return_url, "eci": "ECOMMERCE"}
        if language in ("en", "ar"):
            params["language"] = language
        if installments:
            params.update(installments=installments["mode"], plan_code=installments["plan_code"],
                          issuer_code=installments["issuer_code"])
        # token_name and card fields are masked by name in every stored body (core.masking)
        answer = self._call(params, purpose=f"aps.{params['command'].lower()}", key=key, order_id=order_id)
        if answer.status == INVALID_REQUEST:
            raise TerminalError(SERVICE, answer.code, answer.message)
        answer.extra = {"3ds_url": str(answer.params.get("3ds_url") or "")}
        return answer

    def installment_plans(self, *, amount_minor: int, currency: str, language: str = "",
                          order_id: int | None = None) -> Answer:
        """GET_INSTALLMENTS_PLANS (SDK InstallmentsPlansModel: query_command; optional amount, currency, language,
        issuer_code): 62000 with `installment_detail.issuer_detail[]` — each issuer's code, names, logos, terms,
        `bins[].bin` and `plan_details[]` (plan_code, number_of_installment, amountPerMonth, fees_type,
        fee_display_value, currency_code). The nested detail is left out of the signature (SDK)."""
        params = {"query_command": "GET_INSTALLMENTS_PLANS", "amount": str(int(amount_minor)),
                  "currency": currency.upper()}
        if language in ("en", "ar"):
            params["language"] = language
        answer = self._call(params, purpose="aps.installment_plans", order_id=order_id)
        if answer.status != PLANS_OK:
            raise TerminalError(SERVICE, answer.code, answer.message)
        return answer

    def capture(self, merchant_reference: str, amount_minor: int, currency: str, *, maintenance_reference: str,
                key: str, order_id: int | None = None) -> Answer:
        return self._maintenance("CAPTURE", CAPTURE_OK, merchant_reference, maintenance_reference, key, order_id,
                                 amount=str(int(amount_minor)), currency=currency.upper())

    def refund(self, merchant_reference: str, amount_minor: int, currency: str, *, maintenance_reference: str,
               key: str, order_id: int | None = None) -> Answer:
        return self._maintenance("REFUND", REFUND_OK, merchant_reference, maintenance_reference, key, order_id,
                                 amount=str(int(amount_minor)), currency=currency.upper())

    def void(self, merchant_reference: str, *, maintenance_reference: str, key: str,
             order_id: int | None = None) -> Answer:
        return self._maintenance("VOID_AUTHORIZATION", VOID_OK, merchant_reference, maintenance_reference, key,
                                 order_id)

    def _maintenance(self, command, ok_status, reference, maintenance_reference, key, order_id, **more) -> Answer:
        answer = self._call({"command": command, "merchant_reference": reference,
                             "maintenance_reference": maintenance_reference, **more},
                            purpose=f"aps.{command.lower()}", key=key, order_id=order_id)
        if answer.status in UNCERTAIN:  # APS may still carry it out: ask later, never resend blind
            err = RetryableError(SERVICE, answer.code,
                                 Sentence(gettext_noop("on hold: {detail}"), detail=answer.message))
            err.maybe_sent = True  # the outbox asks (CHECK_STATUS) before anything is sent again
            raise err
        if answer.status != ok_status:
            raise TerminalError(SERVICE, answer.code, answer.message)
        return answer

    def _call(self, params: dict, *, purpose: str, key: str = "", order_id: int | None = None) -> Answer:
        c = self.creds
        body = {"access_code": c.access_code, "merchant_identifier": c.merchant_identifier, "language": c.language,
                **params}
        body["signature"] = signature(body, c.request_phrase, c.sha_type)
        text = json.dumps(body)
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        with self._recorder.exchange("POST", self.api_url, key=key, purpose=purpose, order_id=order_id,
                                     request_body=text, request_headers=headers) as ex:
            self.last_exchange = ex.row
            resp = self._http.request("POST", self.api_url, content=text.encode("utf-8"), headers=headers)
            ex.finish(resp)
            return self._classify(resp)

    def _classify(self, resp) -> Answer:
        if resp.status_code == 429:
            raise RetryableError(SERVICE, 429, rate_limited(resp.reason_phrase or resp.text[:200]))
        if resp.status_code >= 500:
            raise RetryableError(SERVICE, resp.status_code, server_error(resp.status_code,
                                                                         resp.reason_phrase or resp.text[:200]))
        if resp.status_code >= 400:  # APS answers its own errors in a 200: this is something in front of it
            raise TerminalError(SERVICE, resp.status_code, http_status(resp.status_code, resp.text[:300]))
        try:
            params = resp.json()
        except ValueError:
            params = None
        if not isinstance(params, dict):
            err = RetryableError(SERVICE, "garbage", unreadable(resp.text))
            err.maybe_sent = True  # a 2xx we cannot read: it may have been carried out
            raise err
        params = {str(k): v for k, v in params.items()}
        if not self.verify_feedback(params):
            err = RetryableError(SERVICE, "signature", Sentence(gettext_noop(
                "the answer's signature does not match the SHA response phrase")))
            err.maybe_sent = True  # not trusted either way: ask again with CHECK_STATUS
            raise err
        return Answer(params=params, status=status_of(params), code=str(params.get("response_code") or ""),
                      message=str(params.get("response_message") or ""), fort_id=str(params.get("fort_id") or ""))
