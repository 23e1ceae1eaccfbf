"""Amazon Payment Services simulator: the hosted payment page (redirection), direct transaction feedback and
notification feedback, and the server API's maintenance commands.

Written from shared/providers/payments.md Part A and the APS signature examples (the official PHP SDK
payfort/payfort-php-sdk for parameter lists); stdlib only, no ocbridge code, so tests of our client against it
prove something. Shapes no public source shows are marked "simulator only".

- `POST /FortAPI/paymentPage` (A4 redirection): the signed form. A wrong signature → straight back to `return_url`
  with `00008` "Signature mismatch" (A2); otherwise an HTML card page whose buttons post to
  `/FortAPI/paymentPage/decide` (the decide route is simulator only: it stands for the shopper on APS's page).
  The decision is one of `pay`, `decline`, `cancel` (00072), `hold` (15777, uncertain); the simulator sends the
  signed **direct transaction feedback** (A6) to the configured feedback URL and answers 302 to `return_url` with
  the same signed parameters in the query.
- `POST /FortAPI/paymentApi` (JSON, A5): `CHECK_STATUS` (query_command; 12000 with transaction_status / code /
  message and authorized / captured / refunded amounts, 12036 unknown reference), `CAPTURE` (04000),
  `REFUND` (06000), `VOID_AUTHORIZATION` (08000). A wrong request signature → 00008. A refund over the captured
  amount → 07xxx (simulator-only message); capture over the authorised amount → 05xxx. A repeated
  `maintenance_reference` answers the first result again without acting twice (simulator only: APS documents
  the field as the merchant's unique operation reference). After each maintenance command a signed
  **notification feedback** goes to the notification URL.
- Merchant page (TOKENIZATION in an iframe, PURCHASE / AUTHORIZATION with the token, 3-D Secure) and installments
  (STANDALONE plans on the card page, GET_INSTALLMENTS_PLANS, HOSTED by BIN): `aps_merchant.MerchantPageMixin`.
- Control (`/_sim/…` too): `configure(feedback_url, notification_url, feedback_format)`, `release(reference,
  outcome)` (an on-hold payment becomes final, notified), `transactions()`, `forge_feedback(...)` (a feedback with
  a wrong signature), `replay_feedback(reference)`, `hold_next_maintenance()` (the next maintenance command
  answers 15777 but is carried out — the on-hold case).
"""

from __future__ import annotations

import hashlib
import hmac
import html
import itertools
import secrets
import threading
import time
import urllib.parse

from .aps_merchant import MerchantPageMixin, plan_choices, plan_chosen, plans_for
from .base import Request, Response, Simulator

OK_CODES = {"PURCHASE": "14000", "AUTHORIZATION": "02000"}
FAIL_CODES = {"PURCHASE": "13666", "AUTHORIZATION": "03666"}  # simulator only: the plugin's "failed" message code


def sign(params: dict, phrase: str, sha_type: str = "sha256") -> str:
    """APS signature pattern: sorted name=value pairs, no separator, wrapped in the phrase, hashed; the nested
    `installment_detail` of GET_INSTALLMENTS_PLANS is not signed (SDK APSSignature::implodeParamsToString)."""
    text = phrase + "".join(f"{k}={params[k]}" for k in sorted(params)
                            if k not in ("signature", "installment_detail")) + phrase
    algo = sha_type.replace("hmac_", "")
    if sha_type.startswith("hmac_"):
        return hmac.new(phrase.encode(), text.encode(), algo).hexdigest()
    return hashlib.new(algo, text.encode()).hexdigest()


class ApsSimulator(MerchantPageMixin, Simulator):
    """One APS merchant account."""

    name = "aps"
    routes = [
        ("POST", r"/FortAPI/paymentPage", "handle_page"),
        ("POST", r"/FortAPI/paymentPage/decide", "handle_decide"),
        ("POST", r"/FortAPI/paymentApi", "handle_api"),
        *MerchantPageMixin.merchant_routes,
    ]
    retry_delays = (2.0, 5.0, 10.0)  # simulator only: APS's feedback retry spacing is unpublished
    control_methods = Simulator.control_methods + (
        "configure", "release", "transactions", "forge_feedback", "replay_feedback", "hold_next_maintenance", "pay",
        "hold_answers", "tokenize",
    )

    def __init__(self, *, merchant_identifier="MxvOupuG", access_code="SILgpo7pWbmzuURp2qri",
                 request_phrase="PASS", response_phrase="RESP", sha_type="sha256", **kw):
        super().__init__(**kw)
        self.merchant_identifier, self.access_code = merchant_identifier, access_code
        self.request_phrase, self.response_phrase, self.sha_type = request_phrase, response_phrase, sha_type
        self._state_lock = threading.RLock()
        self.feedback_url = self.notification_url = ""
        self.feedback_format = "form"
        self.reset_state()

    def reset_state(self) -> None:
        with getattr(self, "_state_lock", threading.RLock()):
            self._tx: dict[str, dict] = {}  # merchant_reference → transaction
            self._pages: dict[str, dict] = {}  # page token → signed form
            self._maint: dict[str, dict] = {}  # maintenance_reference → the answer given
            self._fort_ids = itertools.count(169996200000000001)
            self._hold_next = 0
            self._answer_delay = 0.0
            self.reset_merchant_state()

    def configure(self, feedback_url: str = "", notification_url: str = "", feedback_format: str = "form") -> None:
        """Technical settings in APS's back office: where direct and notification feedback go (A6)."""
        self.feedback_url, self.notification_url, self.feedback_format = feedback_url, notification_url, feedback_format

    def transactions(self) -> dict:
        with self._state_lock:
            return {k: dict(v) for k, v in self._tx.items()}

    def hold_answers(self, seconds: float = 0.0) -> None:
        """Maintenance commands are carried out at once, their answer sent `seconds` (real) later: a worker killed
        meanwhile made the refund but never heard of it (the crash suite's "answer held" point)."""
        self._answer_delay = float(seconds)

    def hold_next_maintenance(self, count: int = 1) -> None:
        self._hold_next = int(count)

    # signing -------------------------------------------------------------------------------------
    def _signed(self, params: dict) -> dict:
        params = {k: v if isinstance(v, (dict, list)) else str(v) for k, v in params.items() if k != "signature"}
        params["signature"] = sign(params, self.response_phrase, self.sha_type)
        return params

    def _valid(self, params: dict) -> bool:
        given = str(params.get("signature") or "").lower()
        return bool(given) and hmac.compare_digest(given, sign(params, self.request_phrase, self.sha_type))

    def _account_ok(self, params: dict) -> bool:
        return params.get("access_code") == self.access_code and params.get("merchant_identifier") == self.merchant_identifier

    # hosted page ---------------------------------------------------------------------------------
    def handle_page(self, req: Request) -> Response:
        form = req.form()
        return_url = form.get("return_url", "")
        if not self._valid(form) or not self._account_ok(form):
            answer = self._signed({**_echo(form), "response_code": "00008", "status": "00",
                                   "response_message": "Signature mismatch"})
            return _redirect(return_url, answer) if return_url else Response.text("Signature mismatch", 400)
        if form.get("service_command") == "TOKENIZATION":
            return self.tokenization_page(form)
        token = secrets.token_urlsafe(12)
        with self._state_lock:
            self._pages[token] = form
        buttons = "".join(f'<button name="decision" value="{d}">{d}</button>' for d in ("pay", "decline", "cancel", "hold"))
        plans = plan_choices(form)  # simulator only: APS's standalone installments page
        page = (f"<html><body><h1>Amazon Payment Services (simulator)</h1><p>{html.escape(form.get('amount', ''))} "
                f"{html.escape(form.get('currency', ''))}</p><form method=post action=/FortAPI/paymentPage/decide>"
                f"<input type=hidden name=page value={token}>{plans}{buttons}</form></body></html>")
        return Response(200, page.encode(), {"Content-Type": "text/html; charset=utf-8"})

    def handle_decide(self, req: Request) -> Response:
        data = req.form()
        form = self.take_page(data)
        if form is None:
            return Response.text("This payment page has expired.", 410)
        answer = self.pay(form, data.get("decision", "pay"), plan=plan_chosen(form, data.get("plan", "")))
        return _redirect(form.get("return_url", ""), answer)

    def pay(self, form: dict, decision: str = "pay", *, fort_id: str = "", plan: dict | None = None) -> dict:
        """The shopper's decision on the hosted page (or the outcome of a token purchase): the transaction, its direct
        feedback; returns the signed answer. An installment purchase's answer names its plan (simulator only:
        plan_code, issuer_code, number_of_installments in the feedback)."""
        command, ref = form.get("command", "PURCHASE"), form.get("merchant_reference", "")
        fort_id = fort_id or str(next(self._fort_ids))
        code, message = {"pay": (OK_CODES.get(command, "14000"), "Success"),
                         "decline": (FAIL_CODES.get(command, "13666"), "Transaction declined"),
                         "cancel": ("00072", "Transaction has been cancelled by the Consumer"),
                         "hold": ("15777", "Transaction is uncertain")}[decision]
        amount = int(form.get("amount") or 0)
        tx = {"command": command, "merchant_reference": ref, "fort_id": fort_id, "amount": amount,
              "currency": form.get("currency", ""), "response_code": code, "status": code[:2], "message": message,
              "authorized": amount if code[:2] in ("14", "02") else 0, "captured": amount if code[:2] == "14" else 0,
              "refunded": 0, "voided": False, "form": form, "plan": plan or {}}
        with self._state_lock:
            self._tx[ref] = tx
        months = {p["plan_code"]: p["number_of_installment"] for i in plans_for(amount, tx["currency"])
                  for p in i["plan_details"]}
        plan_fields = {**plan, "number_of_installments": months.get(plan["plan_code"], "")} if plan else {}
        answer = self._signed({**_echo(form), "fort_id": fort_id, "response_code": code, "status": code[:2],
                               "response_message": message, "payment_option": "VISA", "eci": "ECOMMERCE",
                               **plan_fields,
                               **({"authorization_code": "123456"} if code[:2] in ("14", "02") else {})})
        tx["answer"] = answer
        self._feedback(self.feedback_url, answer)
        return answer

    def release(self, reference: str, outcome: str = "pay") -> dict:
        """An uncertain payment becomes final at APS; the notification URL hears of it (A6)."""
        with self._state_lock:
            tx = self._tx[reference]
            ok = outcome == "pay"
            code = OK_CODES.get(tx["command"], "14000") if ok else FAIL_CODES.get(tx["command"], "13666")
            tx.update(response_code=code, status=code[:2], message="Success" if ok else "Transaction declined",
                      authorized=tx["amount"] if ok else 0, captured=tx["amount"] if ok and tx["command"] == "PURCHASE" else 0)
        answer = self._signed({**_echo(tx["form"]), "fort_id": tx["fort_id"], "response_code": code, "status": code[:2],
                               "response_message": tx["message"]})
        self._feedback(self.notification_url, answer)
        return answer

    def forge_feedback(self, reference: str, response_code: str = "14000", amount: int | None = None,
                       url: str = "") -> None:
        """A feedback signed with the wrong phrase (an attacker's)."""
        tx = self._tx.get(reference, {"form": {"merchant_reference": reference, "amount": str(amount or 0)}})
        params = {**_echo(tx["form"]), "response_code": response_code, "status": response_code[:2],
                  "response_message": "Success", "fort_id": "1"}
        if amount is not None:
            params["amount"] = str(amount)
        params["signature"] = sign(params, "not-the-phrase", self.sha_type)
        self._feedback(url or self.feedback_url, params)

    def replay_feedback(self, reference: str) -> None:
        """The same signed direct feedback again (APS retries; an attacker replays)."""
        self._feedback(self.feedback_url, dict(self._tx[reference]["answer"]))

    def _feedback(self, url: str, params: dict) -> None:
        if not url:
            return
        if self.feedback_format == "json":
            self.webhooks.send(url, json_body=params, event_id=params.get("fort_id"))
        else:
            self.webhooks.send(url, form=params, event_id=params.get("fort_id"))

    # server API ----------------------------------------------------------------------------------
    def handle_api(self, req: Request) -> Response:
        try:
            params = req.json()
        except ValueError:
            return Response.text("Bad Request", 400)
        if not isinstance(params, dict):
            return Response.text("Bad Request", 400)
        params = {k: str(v) for k, v in params.items()}
        base = _echo(params)
        if not self._valid(params) or not self._account_ok(params):
            return Response.json(self._signed({**base, "response_code": "00008", "status": "00",
                                                "response_message": "Signature mismatch"}))
        if params.get("query_command") == "CHECK_STATUS":
            return Response.json(self._signed(self._check_status(base, params)))
        if params.get("query_command") == "GET_INSTALLMENTS_PLANS":
            return Response.json(self._signed(self.installment_plans(base, params)))
        command = params.get("command", "")
        if command in ("PURCHASE", "AUTHORIZATION"):
            return Response.json(self._signed(self.token_purchase(base, params)))
        if command not in ("CAPTURE", "REFUND", "VOID_AUTHORIZATION"):
            return Response.json(self._signed({**base, "response_code": "00002", "status": "00",
                                                "response_message": "Invalid command"}))
        mref = params.get("maintenance_reference", "")
        with self._state_lock:
            if mref and mref in self._maint:
                return Response.json(self._maint[mref])
            answer = self._signed(self._maintain(command, base, params))
            if mref and answer["status"] not in ("00",):
                self._maint[mref] = answer
            held = self._hold_next > 0 and answer["response_code"][2:] == "000"
            if held:
                self._hold_next -= 1
        if answer["response_code"][2:] == "000":
            self._feedback(self.notification_url, answer)
        if self._answer_delay:
            time.sleep(self._answer_delay)
        if held:  # carried out, but the answer says "uncertain"
            return Response.json(self._signed({**answer, "response_code": "15777", "status": "15",
                                                "response_message": "Transaction is uncertain"}))
        return Response.json(answer)

    def _check_status(self, base: dict, params: dict) -> dict:
        tx = self._tx.get(params.get("merchant_reference", ""))
        if tx is None:
            return {**base, "response_code": "12036", "status": "12", "response_message": "Order not found"}
        return {**base, "response_code": "12000", "status": "12", "response_message": "Success",
                "fort_id": tx["fort_id"], "transaction_status": tx["status"], "transaction_code": tx["response_code"],
                "transaction_message": tx["message"], "authorized_amount": str(tx["authorized"]),
                "captured_amount": str(tx["captured"]), "refunded_amount": str(tx["refunded"])}

    def _maintain(self, command: str, base: dict, params: dict) -> dict:
        tx = self._tx.get(params.get("merchant_reference", ""))
        fail = {"CAPTURE": "05", "REFUND": "07", "VOID_AUTHORIZATION": "09"}[command]
        if tx is None or tx["status"] not in ("14", "02", "04", "06"):
            return {**base, "response_code": fail + "036", "status": fail, "response_message": "Order not found"}
        amount = int(params.get("amount") or 0)
        if command == "CAPTURE":
            if tx["voided"] or amount <= 0 or tx["captured"] + amount > tx["authorized"]:
                return {**base, "response_code": "05080", "status": "05", "response_message": "Amount exceeds authorized amount"}
            tx["captured"] += amount
        elif command == "REFUND":
            if amount <= 0 or tx["refunded"] + amount > tx["captured"]:
                return {**base, "response_code": "07080", "status": "07", "response_message": "Amount exceeds captured amount"}
            tx["refunded"] += amount
        else:
            if tx["captured"] or tx["voided"]:
                return {**base, "response_code": "09081", "status": "09", "response_message": "Transaction already captured"}
            tx["voided"] = True
            tx["authorized"] = 0
        code = {"CAPTURE": "04000", "REFUND": "06000", "VOID_AUTHORIZATION": "08000"}[command]
        # CHECK_STATUS then reports the latest operation (unverified: simulator only)
        tx.update(status=code[:2], response_code=code, message="Success")
        return {**base, "response_code": code, "status": code[:2], "response_message": "Success", "fort_id": tx["fort_id"]}

    def state(self) -> dict:
        return {**super().state(), "transactions": self.transactions()}


def _echo(params: dict) -> dict:
    """The request's own fields APS returns in its answer (never the signature or card data)."""
    keep = ("command", "query_command", "service_command", "access_code", "merchant_identifier", "merchant_reference",
            "amount", "currency", "language", "customer_email", "customer_ip", "order_description",
            "maintenance_reference", "installments", "plan_code", "issuer_code", "return_url", "eci")
    return {k: params[k] for k in keep if k in params}


def _redirect(url: str, params: dict) -> Response:
    sep = "&" if urllib.parse.urlsplit(url).query else "?"
    return Response(302, b"", {"Location": url + sep + urllib.parse.urlencode(params)})
