"""One shape for every gateway: what the pay page posts, what a notice says, status checks and operations.

A gateway adapter turns its protocol (services/<gateway>.py) into `Word`s — what the gateway says about a
payment — and performs capture / refund / void calls for the outbox. The rest of the payments package knows
nothing of any one gateway, so a living gateway fits the same way.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.utils.translation import gettext_noop

from ocbridge.core.errors import ConfigurationError
from ocbridge.core.sentences import Sentence
from ocbridge.services import aps

# A gateway's "Test" that worked: what it answered, and that nothing was charged (said: core.sentences).
TEST_OK = gettext_noop("credentials accepted ({detail}); nothing was charged")


@dataclass
class Word:
    """What the gateway says about one payment. `outcome`: paid, authorised, failed, cancelled, pending (not final),
    captured, refunded, voided, or "" (nothing to apply, e.g. a status check that does not know the reference)."""

    reference: str
    outcome: str
    amount_minor: int | None = None
    currency: str = ""
    gateway_id: str = ""
    message: str = ""
    code: str = ""
    captured_minor: int | None = None  # totals a status check reports
    refunded_minor: int | None = None
    maintenance_reference: str = ""
    installments: dict = field(default_factory=dict)  # APS: the plan an installment purchase names
    params: dict = field(default_factory=dict)
    exchange: object = None  # the status check's Exchange, for the audit trail


@dataclass
class HostedPage:
    """Where the pay page sends the customer: a form POST (APS) or a plain redirect (fields empty). `frame`: the form
    is posted into an iframe on the pay page (APS merchant page); `way`: "full" or "installments"."""

    url: str
    fields: dict
    frame: bool = False
    way: str = "full"


class ApsGateway:
    """Amazon Payment Services through services.aps."""

    kind = "aps"
    operations = ("capture", "refund", "void")

    def __init__(self, connection):
        if connection is None or connection.service != "aps":
            raise ConfigurationError(Sentence(gettext_noop(
                "the payment integration has no Amazon Payment Services connection")))
        self.connection = connection
        self.client = aps.ApsClient(connection)

    def hosted_page(self, payment, return_url: str, *, installments: bool = False) -> HostedPage:
        """A4 redirection form; `installments`: APS's standalone installments page."""
        fields = self.client.page_form(command=payment.command, merchant_reference=payment.reference,
                                       amount_minor=payment.amount_minor, currency=payment.currency,
                                       email=payment.email or "customer@example.invalid", return_url=return_url,
                                       language="ar" if payment.language == "ar" else "en",
                                       description=f"Order {payment.order_id}", installments=installments)
        return HostedPage(self.client.page_url, fields, way="installments" if installments else "full")

    def card_page(self, payment, card_url: str, *, installments: bool = False) -> HostedPage:
        """Merchant page: the TOKENIZATION form posted into the pay page's iframe; its answer comes to `card_url`.
        `installments`: APS's page in the iframe also offers the plans (standalone)."""
        fields = self.client.tokenization_form(merchant_reference=payment.reference, return_url=card_url,
                                               language="ar" if payment.language == "ar" else "en",
                                               installments_minor=payment.amount_minor if installments else None,
                                               currency=payment.currency)
        return HostedPage(self.client.page_url, fields, frame=True, way="installments" if installments else "full")

    def purchase_with_token(self, payment, params: dict, *, customer_ip: str, return_url: str,
                            installments: dict | None, key: str) -> aps.Answer:
        """Merchant page, host to host: the payment's PURCHASE / AUTHORIZATION with the verified tokenization's
        token (installments: always a purchase, with the plan)."""
        return self.client.purchase(command=payment.command, merchant_reference=payment.reference,
                                    amount_minor=payment.amount_minor, currency=payment.currency,
                                    token_name=str(params.get("token_name") or ""),
                                    email=payment.email or "customer@example.invalid", customer_ip=customer_ip,
                                    return_url=return_url, language="ar" if payment.language == "ar" else "en",
                                    installments=installments, key=key, order_id=payment.order_id)

    def installment_plans(self, payment) -> list[dict]:
        """GET_INSTALLMENTS_PLANS for the payment's amount: [{issuer_code, name_en, name_ar, terms_en, terms_ar,
        fees_en, fees_ar, bins, plans: [{plan_code, months, per_month, fee, fee_type}]}], issuers without plans
        left out (the plugin's get_installment_plan does the same)."""
        answer = self.client.installment_plans(amount_minor=payment.amount_minor, currency=payment.currency,
                                               language="ar" if payment.language == "ar" else "en",
                                               order_id=payment.order_id)
        detail = answer.params.get("installment_detail")
        issuers = detail.get("issuer_detail") if isinstance(detail, dict) else None
        out = []
        for row in issuers if isinstance(issuers, list) else []:
            if not isinstance(row, dict) or not isinstance(row.get("plan_details"), list) or not row["plan_details"]:
                continue
            plans = [{"plan_code": str(p.get("plan_code") or ""), "months": _int(p.get("number_of_installment")),
                      "per_month": str(p.get("amountPerMonth") or ""), "fee": str(p.get("fee_display_value") or "0"),
                      "fee_type": str(p.get("fees_type") or "")}
                     for p in row["plan_details"] if isinstance(p, dict) and p.get("plan_code")]
            bins = [str(b.get("bin") or "") for b in row.get("bins") or [] if isinstance(b, dict) and b.get("bin")]
            out.append({"issuer_code": str(row.get("issuer_code") or ""), "bins": bins, "plans": plans,
                        **{f"{what}_{lang}": str(row.get(f"{src}_{lang}") or "") for lang in ("en", "ar")
                           for what, src in (("name", "issuer_name"), ("terms", "terms_and_condition"),
                                             ("fees", "processing_fees_message"))}})
        return [i for i in out if i["issuer_code"] and i["plans"]]

    def verify(self, params: dict) -> bool:
        return self.client.verify_feedback(params)

    def test(self) -> Sentence:
        """Credentials checked without charging: CHECK_STATUS of a reference that cannot exist (12036 = accepted)."""
        answer = self.client.check_status(f"ocbridge-test-{self.connection.pk}")
        return Sentence(TEST_OK, detail=f"{answer.code} {answer.message}")

    def word(self, params: dict) -> Word:
        """A6 feedback / notification / return parameters (already verified) as a Word."""
        status, code = aps.status_of(params), str(params.get("response_code") or "")
        outcome = {aps.PURCHASE_OK: "paid", aps.AUTHORIZATION_OK: "authorised", aps.CAPTURE_OK: "captured",
                   aps.REFUND_OK: "refunded", aps.VOID_OK: "voided"}.get(status)
        if outcome is None:
            if code == aps.CANCELLED_BY_CUSTOMER:
                outcome = "cancelled"
            elif status in aps.UNCERTAIN or code == "20064":  # on hold, or 3-D Secure still to come
                outcome = "pending"
            else:
                outcome = "failed"
        amount = params.get("amount")
        plan = {k: str(params[k]) for k in ("plan_code", "issuer_code", "number_of_installments") if params.get(k)}
        return Word(reference=str(params.get("merchant_reference") or ""), outcome=outcome, installments=plan,
                    amount_minor=int(amount) if str(amount or "").isdigit() else None,
                    currency=str(params.get("currency") or "").upper(), gateway_id=str(params.get("fort_id") or ""),
                    message=str(params.get("response_message") or ""), code=code,
                    maintenance_reference=str(params.get("maintenance_reference") or ""), params=params)

    def check(self, payment) -> Word:
        """A5 CHECK_STATUS as a Word: the original transaction's state with the captured and refunded totals."""
        answer = self.client.check_status(payment.reference, order_id=payment.order_id)
        p = answer.params
        if answer.code == aps.NOT_FOUND:
            return Word(payment.reference, "", message=answer.message, code=answer.code, params=p,
                        exchange=self.client.last_exchange)
        tx = self.word({"merchant_reference": payment.reference, "response_code": p.get("transaction_code") or "",
                        "status": p.get("transaction_status") or "", "fort_id": p.get("fort_id") or "",
                        "response_message": p.get("transaction_message") or ""})
        captured, refunded = _int(p.get("captured_amount")), _int(p.get("refunded_amount"))
        authorised = _int(p.get("authorized_amount"))
        if tx.outcome in ("captured", "refunded"):
            tx.outcome = "paid"  # a maintenance status on the original: money was taken
        tx.amount_minor = max(authorised or 0, captured or 0) or payment.amount_minor if tx.outcome in ("paid", "authorised") else None
        tx.currency = payment.currency  # CHECK_STATUS answers about our own reference; totals are in its currency
        tx.captured_minor, tx.refunded_minor = captured, refunded
        tx.exchange = self.client.last_exchange
        return tx

    # operations (called by the outbox: return the gateway's id, raise to fail) -------------------------------
    def operate(self, payment, operation: str, amount_minor: int, *, correlation: str, key: str) -> str:
        c = self.client
        if operation == "capture":
            answer = c.capture(payment.reference, amount_minor, payment.currency, maintenance_reference=correlation,
                               key=key, order_id=payment.order_id)
        elif operation == "refund":
            answer = c.refund(payment.reference, amount_minor, payment.currency, maintenance_reference=correlation,
                              key=key, order_id=payment.order_id)
        else:
            answer = c.void(payment.reference, maintenance_reference=correlation, key=key, order_id=payment.order_id)
        return answer.fort_id or correlation

    def carried_out(self, payment, operation: str, before_minor: int, amount_minor: int) -> str | None:
        """After a doubtful call: does the gateway have it? The totals of a status check against ours before the
        call. Returns an id when it does, None when it does not (then it may be sent)."""
        word = self.check(payment)
        if operation == "void":
            return payment.reference if word.outcome == "voided" else None
        total = word.captured_minor if operation == "capture" else word.refunded_minor
        return payment.reference if (total or 0) >= before_minor + amount_minor else None


class LatitudeGateway:
    """LatitudePay / Genoapay v3 through services.latitudepay (closed in 2023: documented protocol + simulator).
    A sale is made when the customer opens the link (its token is the transaction); only refunds are operations."""

    kind = "latitudepay"
    operations = ("refund",)

    def __init__(self, connection):
        from ocbridge.services import latitudepay

        if connection is None or connection.service != "latitudepay":
            raise ConfigurationError(Sentence(gettext_noop("the payment integration has no LatitudePay connection")))
        self.connection = connection
        self.lp = latitudepay
        self.currency = str((connection.options or {}).get("currency") or "AUD").upper()
        self.client = latitudepay.LatitudeClient(connection, currency=self.currency)

    def hosted_page(self, payment, return_url: str) -> HostedPage:
        if payment.gateway_data.get("paymentUrl") and payment.gateway_id:
            return HostedPage(payment.gateway_data["paymentUrl"], {})  # the same sale: one token per payment
        callback = self.connection.webhook_url("callback")
        answer = self.client.create_sale(self._sale_body(payment, return_url, callback), key=f"{payment.key}:sale",
                                         order_id=payment.order_id)
        token, url = str(answer.get("token") or ""), str(answer.get("paymentUrl") or "")
        if not token or not url:
            raise ConfigurationError(Sentence(gettext_noop("LatitudePay answered the sale without a token or paymentUrl")))
        type(payment).objects.filter(pk=payment.pk).update(gateway_id=token, gateway_data={"paymentUrl": url})
        payment.gateway_id, payment.gateway_data = token, {"paymentUrl": url}
        return HostedPage(url, {})

    def _sale_body(self, payment, return_url: str, callback: str) -> dict:
        """B2 fields in a fixed order (the signature covers them in the order sent)."""
        row = _order_row(payment)
        total = self.lp.money(payment.amount_minor, payment.currency)

        def address(side: str) -> dict:
            return {"addressLine1": row.get(f"{side}_address_1") or "", "suburb": row.get(f"{side}_address_2") or "",
                    "cityTown": row.get(f"{side}_city") or "", "postcode": row.get(f"{side}_postcode") or "",
                    "countryCode": "NZ" if payment.currency == "NZD" else "AU"}

        return {"customer": {"mobileNumber": row.get("telephone") or "", "firstName": row.get("firstname") or "",
                             "surname": row.get("lastname") or "", "email": payment.email or row.get("email") or ""},
                "shippingAddress": address("shipping"), "billingAddress": address("payment"),
                "products": [{"name": f"Order {payment.order_id}", "price": total, "sku": str(payment.order_id),
                              "quantity": 1, "taxIncluded": True}],
                "shippingLines": [], "taxAmount": self.lp.money(0, payment.currency),
                "reference": payment.reference, "totalAmount": total,
                "returnUrls": {"successUrl": return_url, "failUrl": return_url, "callbackUrl": callback}}

    def verify(self, params: dict) -> bool:
        return self.lp.verify_redirect(params, self.client._secret)

    def test(self) -> Sentence:
        cfg = self.client.configuration()
        return Sentence(TEST_OK, detail=f"{cfg.get('name')}: {cfg.get('minimumAmount')}–{cfg.get('maximumAmount')} "
                                        f"{self.currency}")

    def word(self, params: dict) -> Word:
        """B4: result COMPLETED = paid, FAILED = failed. The callback carries no amount: the sale's token binds it —
        a token that is not the one our payment created is nobody's payment."""
        from ocbridge.integrations.payments.models import Payment

        token, result = str(params.get("token") or ""), str(params.get("result") or "").upper()
        payment = Payment.objects.filter(gateway="latitudepay", gateway_id=token).first() if token else None
        outcome = "paid" if result in self.lp.PAID else "failed" if result in self.lp.FAILED else "pending"
        return Word(reference=payment.reference if payment else "", outcome=outcome, gateway_id=token,
                    amount_minor=payment.amount_minor if payment else None,
                    currency=payment.currency if payment else "", message=str(params.get("message") or ""),
                    code=result, params=params)

    def check(self, payment) -> Word:
        if not payment.gateway_id:  # the customer never opened the link: no sale exists
            return Word(payment.reference, "")
        answer = self.client.status(payment.gateway_id, order_id=payment.order_id)
        status = str(answer.get("status") or "").upper()
        outcome = ("paid" if status in self.lp.PAID or status == "REFUNDED" else "failed" if status in self.lp.FAILED
                   else "pending")
        refunded = answer.get("refundedAmount")
        return Word(payment.reference, outcome, amount_minor=payment.amount_minor, currency=payment.currency,
                    gateway_id=payment.gateway_id, code=status, message=status,
                    refunded_minor=int(round(float(refunded) * 100)) if refunded is not None else None,
                    exchange=self.client.last_exchange)

    def operate(self, payment, operation: str, amount_minor: int, *, correlation: str, key: str) -> str:
        if operation != "refund":
            raise ConfigurationError(Sentence(gettext_noop("LatitudePay has no {operation}"), operation=operation))
        answer = self.client.refund(payment.gateway_id, amount_minor, payment.currency, reason="refund",
                                    reference=correlation, key=key, order_id=payment.order_id)
        return str(answer.get("refundId") or correlation)

    def carried_out(self, payment, operation: str, before_minor: int, amount_minor: int) -> str | None:
        """The sale's status says how much is refunded (simulator only: the status shape is unverified)."""
        word = self.check(payment)
        return payment.gateway_id if (word.refunded_minor or 0) >= before_minor + amount_minor else None


def _order_row(payment) -> dict:
    import sqlalchemy as sa

    from ocbridge.opencart import shop_db

    shop = shop_db(payment.store)
    t = shop.t("order")
    with shop.engine.connect() as conn:
        row = conn.execute(sa.select(t).where(t.c.order_id == payment.order_id)).first()
    return dict(row._mapping) if row is not None else {}


def _int(value) -> int | None:
    text = str(value if value is not None else "").strip()
    return int(text) if text.isdigit() else None


GATEWAYS = {"aps": ApsGateway, "latitudepay": LatitudeGateway}


def gateway_for(integration):
    cls = GATEWAYS.get(integration.kind)
    if cls is None:
        raise ConfigurationError(Sentence(gettext_noop("{kind} is not a payment gateway"), kind=integration.kind))
    return cls(integration.connection)
