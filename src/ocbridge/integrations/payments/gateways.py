"""One shape for every gateway: what the pay page posts, what a notice says, status checks and operations.

A gateway adapter turns its protocol (services/<gateway>.py) into `Word`s — what the gateway says about a
payment — and performs capture / refund / void calls for the outbox. The rest of the payments package knows
nothing of any one gateway, so a living gateway fits the same way.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ocbridge.core.errors import ConfigurationError
from ocbridge.services import aps


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
    params: dict = field(default_factory=dict)
    exchange: object = None  # the status check's Exchange, for the audit trail


@dataclass
class HostedPage:
    """Where the pay page sends the customer: a form POST (APS) or a plain redirect (fields empty)."""

    url: str
    fields: dict


class ApsGateway:
    """Amazon Payment Services through services.aps."""

    kind = "aps"
    currencies = None  # any ISO currency the merchant account accepts

    def __init__(self, connection):
        if connection is None or connection.service != "aps":
            raise ConfigurationError("the payment integration has no Amazon Payment Services connection")
        self.connection = connection
        self.client = aps.ApsClient(connection)

    def hosted_page(self, payment, return_url: str) -> HostedPage:
        fields = self.client.page_form(command=payment.command, merchant_reference=payment.reference,
                                       amount_minor=payment.amount_minor, currency=payment.currency,
                                       email=payment.email or "customer@example.invalid", return_url=return_url,
                                       language="ar" if payment.language == "ar" else "en",
                                       description=f"Order {payment.order_id}")
        return HostedPage(self.client.page_url, fields)

    def verify(self, params: dict) -> bool:
        return self.client.verify_feedback(params)

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
        return Word(reference=str(params.get("merchant_reference") or ""), outcome=outcome,
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


def _int(value) -> int | None:
    text = str(value if value is not None else "").strip()
    return int(text) if text.isdigit() else None


GATEWAYS = {"aps": ApsGateway}


def gateway_for(integration):
    cls = GATEWAYS.get(integration.kind)
    if cls is None:
        raise ConfigurationError(f"{integration.kind} is not a payment gateway")
    return cls(integration.connection)
