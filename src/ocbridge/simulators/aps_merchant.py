"""Amazon Payment Services simulator, merchant page part: TOKENIZATION in the iframe, PURCHASE / AUTHORIZATION with
the token host to host, 3-D Secure, and installment plans. Mixed into `aps.ApsSimulator`.

Written from the official PHP SDK payfort/payfort-php-sdk (Model/Payment/CCStandard*, Installments*,
Model/Maintenance/InstallmentsPlansModel.php, FrontEndAdapter/Response/*StandardResponse.php, APSSignature.php),
the official OpenCart 3 plugin payfort/opencart3-payfort (amazonpsorderpayment.php: merchantPageNotifyFort,
get_installment_plan, find_bin_in_plans) and APS's "Installments" guide (paymentservices.amazon.com/docs/EN/24c.html).
Marked "simulator only" where no public source shows the shape.

- `POST /FortAPI/paymentPage` with `service_command=TOKENIZATION` (signed; a wrong signature goes straight back to
  `return_url` with 00008): APS's card page, which the shop shows in an iframe. With `installments=STANDALONE`
  (+ amount, currency) the page also lists the plans of the issuers whose amount range fits.
- `POST /FortAPI/paymentPage/tokenize` (simulator only: stands for the shopper submitting APS's card form): a card
  failing the Luhn check or a past expiry → back to `return_url` with 18xxx "Invalid card" (simulator only code);
  otherwise 18000 with `token_name`, the masked `card_number`, `card_bin`, `expiry_date` and, for installments, the
  chosen `plan_code` and `issuer_code` (SDK InstallmentsCCStandardResponse reads them from this answer), signed with
  the response phrase, as a 302 to `return_url` (GET query).
- `POST /FortAPI/paymentApi` `command=PURCHASE|AUTHORIZATION` with `token_name` (SDK CCStandardPurchase): an
  unknown or used token, a repeated `merchant_reference` (simulator only: "duplicate order number" 00xxx), a
  missing required field or a plan that is not the card's → status 00 (not processed). `installments=YES` needs
  the plan chosen in the tokenization; `installments=HOSTED` a plan of the issuer whose `bins` the card's BIN
  starts with (plugin find_bin_in_plans). Test cards (simulator only): 4000000000000002 declined (13666 / 03666),
  4000000000009995 on hold (15777), 4000000000003220 needs 3-D Secure (20064 + `3ds_url`), any other valid card
  is paid / authorised at once. Final answers also go to the direct feedback URL.
- `GET /FortAPI/3ds/<fort_id>` and `POST …/decide` (simulator only: the issuer's 3-D Secure page): pass → paid,
  fail → declined; the feedback is sent and the browser goes to the PURCHASE's `return_url` with the signed result.
- `query_command=GET_INSTALLMENTS_PLANS` (SDK InstallmentsPlansModel; plugin get_installment_plan): 62000 with
  `installment_detail.issuer_detail[]` (issuer_code, issuer_name_en/ar, issuer_logo_en/ar, banking_system,
  terms_and_condition_en/ar, processing_fees_message_en/ar, confirmation_message_en/ar, bins[].bin,
  plan_details[] with plan_code, number_of_installment, amountPerMonth, fees_type, fee_display_value,
  currency_code) — `installment_detail` is not part of the signature (SDK APSSignature). Issuers whose range does
  not fit the amount are left out (the amount limits per issuer are simulator only).
"""

from __future__ import annotations

import html
import secrets
import urllib.parse

from .wire import Request, Response

DECLINE_CARD, HOLD_CARD, SECURE_3DS_CARD = "4000000000000002", "4000000000009995", "4000000000003220"

# simulator only: two issuers with their BIN prefixes, amount ranges (minor units) and plans
ISSUERS = (
    {"issuer_code": "zaQnN1", "issuer_name_en": "Gulf Bank", "issuer_name_ar": "بنك الخليج",
     "issuer_logo_en": "", "issuer_logo_ar": "", "banking_system": "Non Islamic",
     "terms_and_condition_en": "https://bank.example/terms", "terms_and_condition_ar": "https://bank.example/ar/terms",
     "processing_fees_message_en": "No processing fee", "processing_fees_message_ar": "بدون رسوم",
     "confirmation_message_en": "Your bank will split the amount", "confirmation_message_ar": "سيقسم البنك المبلغ",
     "bins": [{"bin": "411111"}, {"bin": "400555"}], "currencies": ("AED", "SAR"), "min": 50000, "max": 5000000,
     "plans": (("3MGB", 3, 0, "Percentage"), ("6MGB", 6, 250, "Percentage"))},
    {"issuer_code": "tRt8W2", "issuer_name_en": "Desert Islamic Bank", "issuer_name_ar": "مصرف الصحراء الإسلامي",
     "issuer_logo_en": "", "issuer_logo_ar": "", "banking_system": "Islamic",
     "terms_and_condition_en": "https://desert.example/terms", "terms_and_condition_ar": "https://desert.example/ar",
     "processing_fees_message_en": "AED 50 processing fee", "processing_fees_message_ar": "رسوم 50 درهم",
     "confirmation_message_en": "Profit rate applies", "confirmation_message_ar": "يطبق معدل الربح",
     "bins": [{"bin": "545454"}], "currencies": ("AED", "SAR", "EGP"), "min": 100000, "max": 10000000,
     "plans": (("12MDI", 12, 5000, "Fixed"),)},
)


def plans_for(amount: int, currency: str) -> list[dict]:
    """The issuers (with their plans) whose currency and amount range fit."""
    out = []
    for issuer in ISSUERS:
        if currency not in issuer["currencies"] or not issuer["min"] <= amount <= issuer["max"]:
            continue
        row = {k: v for k, v in issuer.items() if k not in ("currencies", "min", "max", "plans")}
        row["plan_details"] = [{"plan_code": code, "number_of_installment": months,
                                "amountPerMonth": f"{amount / 100 / months:.2f}", "fees_type": fees_type,
                                "fee_display_value": fee, "currency_code": currency}
                               for code, months, fee, fees_type in issuer["plans"]]
        out.append(row)
    return out


def plan_choices(form: dict) -> str:
    """The plan radio buttons of APS's page for a form asking for standalone installments ("" otherwise)."""
    if form.get("installments") != "STANDALONE":
        return ""
    amount, currency = int(form.get("amount") or 0), form.get("currency", "")
    options = [f'<label><input type=radio name=plan value="{i["issuer_code"]}:{p["plan_code"]}"> '
               f'{html.escape(i["issuer_name_en"])} {p["number_of_installment"]} x {p["amountPerMonth"]} '
               f'{html.escape(currency)}</label>' for i in plans_for(amount, currency) for p in i["plan_details"]]
    return "<fieldset><legend>Installment plans</legend>" + "".join(options) + "</fieldset>"


def plan_chosen(form: dict, choice: str) -> dict:
    """{issuer_code, plan_code} of the radio button picked ("<issuer>:<plan>"), {} for none."""
    if not choice or form.get("installments") != "STANDALONE":
        return {}
    issuer_code, _, plan_code = choice.partition(":")
    return {"issuer_code": issuer_code, "plan_code": plan_code}


class MerchantPageMixin:
    """Merchant page, 3-D Secure and installments for ApsSimulator (which provides signing, feedback, _tx)."""

    merchant_routes = [
        ("POST", r"/FortAPI/paymentPage/tokenize", "handle_tokenize"),
        ("GET", r"/FortAPI/3ds/(?P<fort_id>\d+)", "handle_3ds"),
        ("POST", r"/FortAPI/3ds/(?P<fort_id>\d+)/decide", "handle_3ds_decide"),
    ]

    def reset_merchant_state(self) -> None:
        self._tokens: dict[str, dict] = {}  # token_name → card (bin, last4, kind), plan chosen, used

    # tokenization ---------------------------------------------------------------------------------
    def tokenization_page(self, form: dict) -> Response:
        token = secrets.token_urlsafe(12)
        with self._state_lock:
            self._pages[token] = form
        page = ("<html><body><h1>Amazon Payment Services card page (simulator)</h1>"
                "<form method=post action=/FortAPI/paymentPage/tokenize>"
                f"<input type=hidden name=page value={token}>"
                "<input name=card_number placeholder='Card number'><input name=expiry_date placeholder=YYMM>"
                "<input name=card_security_code placeholder=CVV><input name=card_holder_name placeholder=Name>"
                f"{plan_choices(form)}<button type=submit>Pay</button></form></body></html>")
        return Response(200, page.encode(), {"Content-Type": "text/html; charset=utf-8"})

    def take_page(self, data: dict) -> dict | None:
        """The signed form behind a card page the shopper submitted (each page is used once)."""
        with self._state_lock:
            return self._pages.pop(data.get("page", ""), None)

    def handle_tokenize(self, req: Request) -> Response:
        data = req.form()
        form = self.take_page(data)
        if form is None:
            return Response.text("This payment page has expired.", 410)
        answer = self.tokenize(form, card_number=data.get("card_number", ""), expiry_date=data.get("expiry_date", ""),
                               plan=data.get("plan", ""))
        return _redirect(form.get("return_url", ""), answer)

    def tokenize(self, form: dict, *, card_number: str, expiry_date: str = "3012", plan: str = "") -> dict:
        """The shopper submitted APS's card form: the signed tokenization answer (also for direct use in tests)."""
        number = "".join(ch for ch in card_number if ch.isdigit())
        base = {k: form[k] for k in ("service_command", "access_code", "merchant_identifier", "merchant_reference",
                                     "language", "return_url") if k in form}
        if not (13 <= len(number) <= 19 and _valid_luhn(number)) or not _future(expiry_date):
            return self._signed({**base, "response_code": "18016", "status": "00",  # simulator only code
                                 "response_message": "Invalid card"})
        token_name = secrets.token_hex(16)
        chosen = plan_chosen(form, plan)
        with self._state_lock:
            self._tokens[token_name] = {"number": number, "bin": number[:6], "used": False, "plan": chosen,
                                        "merchant_reference": form.get("merchant_reference", "")}
        return self._signed({**base, "response_code": "18000", "status": "18", "response_message": "Success",
                             "token_name": token_name, "card_bin": number[:6], "expiry_date": expiry_date,
                             "card_number": number[:6] + "*" * (len(number) - 10) + number[-4:], **chosen})

    # host-to-host purchase -------------------------------------------------------------------------
    def token_purchase(self, base: dict, params: dict) -> dict:
        """PURCHASE / AUTHORIZATION with token_name (the caller has checked the request's signature)."""
        command, ref = params.get("command", ""), params.get("merchant_reference", "")
        refused = {**base, "status": "00"}
        missing = [f for f in ("merchant_reference", "amount", "currency", "language", "customer_email", "customer_ip",
                               "token_name") if not params.get(f)]
        if missing:  # SDK buildRequiredParameters for the standard (merchant page) commands
            return {**refused, "response_code": "00001", "response_message": f"Missing parameter {missing[0]}"}
        with self._state_lock:
            card = self._tokens.get(params["token_name"])
            if card is None or card["used"]:
                return {**refused, "response_code": "00039", "response_message": "Invalid token"}  # simulator only
            if ref in self._tx:
                return {**refused, "response_code": "00034", "response_message": "Duplicate order number"}  # sim only
            plan = self._plan_of(params, card)
            if plan is None:
                return {**refused, "response_code": "00040", "response_message": "Invalid installment plan"}  # sim only
            card["used"] = True
            kind = {DECLINE_CARD: "decline", HOLD_CARD: "hold", SECURE_3DS_CARD: "3ds"}.get(card["number"], "pay")
            form = {**base, "amount": params["amount"], "currency": params["currency"], "command": command,
                    "merchant_reference": ref}
            fort_id = str(next(self._fort_ids))
            if kind == "3ds":
                self._tx[ref] = {"command": command, "merchant_reference": ref, "fort_id": fort_id,
                                 "amount": int(params["amount"]), "currency": params["currency"],
                                 "response_code": "20064", "status": "20", "message": "Request needs 3-D Secure",
                                 "authorized": 0, "captured": 0, "refunded": 0, "voided": False, "form": form,
                                 "plan": plan, "return_url": params.get("return_url", "")}
                return {**base, "fort_id": fort_id, "response_code": "20064", "status": "20",
                        "response_message": "Request needs 3-D Secure",
                        "3ds_url": f"{self.base_url}/FortAPI/3ds/{fort_id}"}
        return self.pay(form, kind, fort_id=fort_id, plan=plan)

    def _plan_of(self, params: dict, card: dict) -> dict | None:
        """The installment plan the request names, {} for none, None when it is not one the card may use."""
        mode = params.get("installments", "")
        if not mode:
            return {}
        chosen = {"issuer_code": params.get("issuer_code", ""), "plan_code": params.get("plan_code", "")}
        if mode == "YES":  # merchant page standalone: the plan chosen on APS's page
            return chosen if card["plan"] and card["plan"] == chosen else None
        if mode == "HOSTED":  # the merchant's page chose it: the card must be the issuer's (plugin find_bin_in_plans)
            for issuer in plans_for(int(params.get("amount") or 0), params.get("currency", "")):
                if issuer["issuer_code"] == chosen["issuer_code"] and any(
                        card["bin"].startswith(b["bin"]) for b in issuer["bins"]) and any(
                        p["plan_code"] == chosen["plan_code"] for p in issuer["plan_details"]):
                    return chosen
        return None

    def handle_3ds(self, req: Request, fort_id: str) -> Response:
        page = (f"<html><body><h1>3-D Secure (simulator)</h1><form method=post action=/FortAPI/3ds/{fort_id}/decide>"
                "<button name=decision value=pass>pass</button><button name=decision value=fail>fail</button>"
                "</form></body></html>")
        return Response(200, page.encode(), {"Content-Type": "text/html; charset=utf-8"})

    def handle_3ds_decide(self, req: Request, fort_id: str) -> Response:
        with self._state_lock:
            tx = next((t for t in self._tx.values() if t["fort_id"] == fort_id and t["status"] == "20"), None)
        if tx is None:
            return Response.text("Unknown or finished 3-D Secure session", 410)
        decision = "pay" if req.form().get("decision") == "pass" else "decline"
        answer = self.pay(tx["form"], decision, fort_id=fort_id, plan=tx.get("plan") or {})
        return _redirect(tx.get("return_url", ""), answer)

    # installment plans ------------------------------------------------------------------------------
    def installment_plans(self, base: dict, params: dict) -> dict:
        issuers = plans_for(int(params.get("amount") or 0), params.get("currency", ""))
        return {**base, "response_code": "62000", "status": "62", "response_message": "Success",
                "installment_detail": {"issuer_detail": issuers}}


def _valid_luhn(number: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(number)):
        d = int(ch)
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def _future(expiry: str) -> bool:
    """YYMM (APS's expiry_date format) not before 2601 (simulator only: the simulator has no calendar)."""
    return len(expiry) == 4 and expiry.isdigit() and expiry >= "2601"


def _redirect(url: str, params: dict) -> Response:
    sep = "&" if urllib.parse.urlsplit(url).query else "?"
    return Response(302, b"", {"Location": url + sep + urllib.parse.urlencode(params)})
