"""Payments: one Payment per attempt to take an order's money at a gateway, its audited state changes, the
gateway's notices (stored raw, de-duplicated) and the operations on it (capture, refund, void).

    created ──▶ pending ──▶ paid / failed / cancelled
                   └──────▶ authorised ──▶ paid (captured) / voided
    paid ──▶ refunded (when refunds reach the captured amount; partial refunds keep "paid")

Card data never reaches the hub: the gateway's own hosted page takes it.
"""

from __future__ import annotations

from decimal import Decimal

from django.db import models
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from ocbridge.core import clock
from ocbridge.core.models import Exchange, Integration, Store
from ocbridge.core.sentences import shown


class PaymentState(models.TextChoices):
    CREATED = "created", _("Link made")
    PENDING = "pending", _("At the gateway")
    AUTHORISED = "authorised", _("Authorised")
    PAID = "paid", _("Paid")
    FAILED = "failed", _("Failed")
    CANCELLED = "cancelled", _("Cancelled by the customer")
    VOIDED = "voided", _("Authorisation released")
    REFUNDED = "refunded", _("Refunded")


class Actor(models.TextChoices):
    """The role words PaymentEvent.actor and PaymentOperation.requested_by hold besides a user's name: labelled on the
    pages (a user name shows as it is)."""

    GATEWAY = "gateway", pgettext_lazy("payment actor", "Gateway")
    CUSTOMER = "customer", pgettext_lazy("payment actor", "Customer")
    LINK = "link", pgettext_lazy("payment actor", "Pay link")
    OPERATOR = "operator", pgettext_lazy("payment actor", "Operator")
    RULE = "rule", pgettext_lazy("payment actor", "Rule")
    CHECKOUT = "checkout", pgettext_lazy("payment actor", "Checkout")
    STATUS_CHECK = "status check", pgettext_lazy("payment actor", "Status check")
    RECONCILIATION = "reconciliation", pgettext_lazy("payment actor", "Reconciliation")
    COD = "cod confirmation", pgettext_lazy("payment actor", "COD confirmation")
    COD_ORIGIN = "cod", pgettext_lazy("payment actor", "COD confirmation")  # a link made without an actor: its origin
    DASHBOARD = "dashboard", pgettext_lazy("payment actor", "Dashboard")


def actor_label(value: str) -> str:
    return str(dict(Actor.choices).get(value, value))


OPEN_STATES = (PaymentState.CREATED, PaymentState.PENDING)  # no final answer yet: reconciliation asks
MONEY_STATES = (PaymentState.AUTHORISED, PaymentState.PAID)  # the shop gets its "paid" status


class Payment(models.Model):
    """One attempt to take an order's money. `reference` is our idempotency key at the gateway (APS
    `merchant_reference`, Latitude `reference`): the outbox correlation number of the attempt."""

    store = models.ForeignKey(Store, on_delete=models.CASCADE, related_name="payments")
    integration = models.ForeignKey(Integration, on_delete=models.PROTECT, related_name="payments")
    gateway = models.CharField(_("gateway"), max_length=20)
    order_id = models.BigIntegerField(_("order"), db_index=True)
    reference = models.CharField(_("reference"), max_length=40, unique=True)
    key = models.CharField(max_length=255, unique=True, help_text="our idempotency key of the attempt")
    command = models.CharField(max_length=20, default="PURCHASE")
    amount_minor = models.BigIntegerField(help_text="in the currency's minor units")
    currency = models.CharField(_("currency"), max_length=3)
    captured_minor = models.BigIntegerField(default=0)
    refunded_minor = models.BigIntegerField(default=0)
    state = models.CharField(_("state"), max_length=12, choices=PaymentState.choices, default=PaymentState.CREATED,
                             db_index=True)
    gateway_id = models.CharField(max_length=128, blank=True, help_text="the gateway's transaction id (APS fort_id)")
    gateway_message = models.CharField(max_length=255, blank=True)
    gateway_data = models.JSONField(default=dict, blank=True, help_text="what the hosted page needs again (Latitude's paymentUrl)")
    language = models.CharField(max_length=8, default="en")
    email = models.CharField(max_length=96, blank=True)
    shop_status = models.IntegerField(null=True, blank=True,
                                      help_text="the order's status when the payment began: the paid status replaces only it")
    origin = models.CharField(max_length=16, default="dashboard", help_text="dashboard, rule, cod, checkout")
    # What the customer's pages show: the order as the customer knows it (the store's order number, the invoice once
    # the shop made one) and the storefront it was placed on (the order's store_url). Read with the order's status.
    order_label = models.CharField(max_length=64, blank=True, default="")
    shop_url = models.CharField(max_length=255, blank=True, default="")
    expires_at = models.DateTimeField()
    created = models.DateTimeField(default=clock.now, db_index=True)
    updated = models.DateTimeField(default=clock.now)
    checks = models.PositiveIntegerField(default=0, help_text="status checks made without a final answer")
    next_check_at = models.DateTimeField(null=True, blank=True, db_index=True)

    class Meta:
        ordering = ["-id"]
        verbose_name = _("payment")
        verbose_name_plural = _("payments")

    def __str__(self) -> str:
        return f"{self.gateway} {self.reference} order {self.order_id} ({self.state})"

    @property
    def decimals(self) -> int:
        from ocbridge.services.aps import decimals

        return decimals(self.currency)

    def money(self, minor: int) -> Decimal:
        return Decimal(int(minor)).scaleb(-self.decimals)

    @property
    def amount(self) -> Decimal:
        return self.money(self.amount_minor)

    @property
    def refundable_minor(self) -> int:
        return self.captured_minor - self.refunded_minor

    @property
    def order_shown(self) -> str:
        """The order's number on the customer's pages: the store's label of it, with the invoice number if any."""
        return self.order_label or self.store.order_label(self.order_id)

    @property
    def installment_plan(self) -> dict:
        """The installment plan chosen (APS): mode, plan_code, issuer_code and, when known, months, per_month, name."""
        return (self.gateway_data or {}).get("installments") or {}

    def keep(self, **values) -> None:
        """Set (None: remove) keys of `gateway_data`, saved at once."""
        data = dict(self.gateway_data or {})
        for key, value in values.items():
            if value is None:
                data.pop(key, None)
            else:
                data[key] = value
        type(self).objects.filter(pk=self.pk).update(gateway_data=data)
        self.gateway_data = data


class PaymentEvent(models.Model):
    """One state change of a Payment (the audit trail), linked to the Exchange that caused it."""

    payment = models.ForeignKey(Payment, on_delete=models.CASCADE, related_name="events")
    created = models.DateTimeField(default=clock.now)
    from_state = models.CharField(max_length=12, blank=True)
    to_state = models.CharField(max_length=12)
    what = models.CharField(max_length=255)
    what_said = models.JSONField(null=True, blank=True)  # as said (core.sentences); None: text only (older rows)
    actor = models.CharField(max_length=150, help_text="a user name, or gateway / reconciliation / link")
    exchange = models.ForeignKey(Exchange, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")

    store_path = "payment__store"

    class Meta:
        ordering = ["id"]

    @property
    def what_shown(self) -> str:
        """What happened, in the reader's language where it was said; else as stored."""
        return shown(self.what_said, self.what)

    @property
    def actor_shown(self) -> str:
        return actor_label(self.actor)

    @property
    def from_state_shown(self) -> str:
        return str(dict(PaymentState.choices).get(self.from_state, self.from_state))

    @property
    def to_state_shown(self) -> str:
        return str(dict(PaymentState.choices).get(self.to_state, self.to_state))


class PaymentNotice(models.Model):
    """A gateway's word about a payment (direct feedback, notification, callback, status check), stored raw and
    once: `dedupe` is the digest of what it says, so a resent or replayed notice is recognised."""

    payment = models.ForeignKey(Payment, on_delete=models.CASCADE, null=True, blank=True, related_name="notices")
    store = models.ForeignKey(Store, on_delete=models.CASCADE, null=True, blank=True, related_name="+")
    exchange = models.ForeignKey(Exchange, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    source = models.CharField(max_length=16, help_text="feedback, notification, callback, status")
    dedupe = models.CharField(max_length=64, unique=True)
    params = models.JSONField(default=dict)
    applied = models.BooleanField(default=False)
    created = models.DateTimeField(default=clock.now)


class Operation(models.TextChoices):
    CAPTURE = "capture", _("Capture")
    REFUND = "refund", _("Refund")
    VOID = "void", _("Void")


class OperationState(models.TextChoices):
    REQUESTED = "requested", _("Requested")
    DONE = "done", _("Done")
    FAILED = "failed", _("Refused by the gateway")
    UNKNOWN = "unknown", _("Unknown: being checked with the gateway")


class PaymentOperation(models.Model):
    """A capture, refund or void asked for on the dashboard: keyed (payment, operation, amount, sequence); its
    call goes through the outbox under that key, so it is made once."""

    payment = models.ForeignKey(Payment, on_delete=models.CASCADE, related_name="operations")
    operation = models.CharField(max_length=8, choices=Operation.choices)
    amount_minor = models.BigIntegerField()
    sequence = models.PositiveIntegerField()
    key = models.CharField(max_length=255, unique=True)
    reason = models.CharField(max_length=255, blank=True)
    state = models.CharField(max_length=10, choices=OperationState.choices, default=OperationState.REQUESTED)
    requested_by = models.CharField(max_length=150, blank=True)
    before_minor = models.BigIntegerField(default=0, help_text="the gateway's total for this operation before it")
    gateway_message = models.CharField(max_length=255, blank=True)
    # The refusal or doubt as said (core.sentences): our framing in the reader's language, the gateway's own words
    # inside it as they came. None: text only (older rows, or a gateway's bare message).
    gateway_message_said = models.JSONField(null=True, blank=True)
    created = models.DateTimeField(default=clock.now)
    updated = models.DateTimeField(default=clock.now)

    store_path = "payment__store"

    class Meta:
        ordering = ["id"]
        constraints = [models.UniqueConstraint(fields=["payment", "operation", "sequence"], name="payment_op_seq")]

    @property
    def requested_by_shown(self) -> str:
        return actor_label(self.requested_by)

    @property
    def gateway_message_shown(self) -> str:
        return shown(self.gateway_message_said, self.gateway_message)

    @property
    def amount(self) -> Decimal:
        return self.payment.money(self.amount_minor)


class ReconciliationReport(models.Model):
    """One store's daily comparison of the gateway's word and the shop's statuses (jobs.DailyReport)."""

    store = models.ForeignKey(Store, on_delete=models.CASCADE, related_name="payment_reports")
    day = models.DateField()
    created = models.DateTimeField(default=clock.now)
    gateway_paid_shop_unpaid = models.JSONField(default=list, help_text="[{order_id, reference, amount, status}]")
    shop_paid_gateway_unpaid = models.JSONField(default=list, help_text="[{order_id, reference, state, status}]")
    checked = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-day"]
        constraints = [models.UniqueConstraint(fields=["store", "day"], name="payment_report_day")]

    @property
    def mismatches(self) -> int:
        return len(self.gateway_paid_shop_unpaid) + len(self.shop_paid_gateway_unpaid)
