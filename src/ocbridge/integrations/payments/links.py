"""Pay by link: a Payment for an order, and its signed, expiring hub URL `/pay/<token>`.

The token is signed with the hub's secret (django.core.signing, own salt): it names the payment and cannot be
guessed or altered. The expiry is the payment's own (`expires_at`, from the store's setting), so the owner's
setting holds even for links already sent. The payment's reference is the outbox correlation number of the
attempt (DESIGN.md: APS `merchant_reference` ≤ 40 alphanumerics).
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from django.conf import settings
from django.core import signing
from django.db import transaction
from django.urls import reverse
from django.utils.translation import gettext_noop

from ocbridge.core import clock, outbox
from ocbridge.core.errors import ConfigurationError
from ocbridge.core.sentences import Sentence
from ocbridge.integrations.payments import ledger
from ocbridge.integrations.payments.config import PaymentConfig
from ocbridge.integrations.payments.models import Payment, PaymentState
from ocbridge.services.aps import to_minor

SALT = "ocbridge.payments.link"
LANGUAGES = ("en", "tr", "ru", "ar")  # the customer's pages


def new_payment(integration, *, order_id: int, amount: Decimal | str, currency: str, email: str = "",
                language: str = "en", origin: str = "dashboard", attempt: int | None = None, actor: str = "") -> Payment:
    """The Payment for one attempt at an order's money (idempotent per (store, order, attempt)). A new attempt
    number makes a new reference; the same one returns the existing Payment."""
    if integration.connection_id is None:
        raise ConfigurationError("the payment integration has no connection")
    cfg = PaymentConfig.from_settings(integration.settings)
    store = integration.store
    amount_minor = to_minor(amount, currency)
    if amount_minor <= 0:
        raise ValueError(Sentence(gettext_noop("a payment needs an amount above zero")))
    if attempt is None:
        attempt = Payment.objects.filter(store=store, order_id=order_id).count() + 1
    key = f"payments:{store.pk}:order-{order_id}:attempt-{attempt}"
    existing = Payment.objects.filter(key=key).first()
    if existing is not None:
        return existing
    from ocbridge import opencart

    face = opencart.customer_face(store, order_id)
    if face is None:
        raise ValueError(Sentence(gettext_noop("order {order} is not in the shop"), order=order_id))
    label = store.order_label(order_id)
    with transaction.atomic():
        effect = outbox.request(key, kind="payment", service=integration.kind, store=store,
                                connection=integration.connection, integration=integration)
        payment, created = Payment.objects.get_or_create(key=key, defaults={
            "store": store, "integration": integration, "gateway": integration.kind, "order_id": order_id,
            "reference": str(effect.correlation), "command": cfg.command, "amount_minor": amount_minor,
            "currency": currency.upper(), "email": email, "origin": origin, "shop_status": face.status,
            "order_label": (f"{label} ({face.invoice})" if face.invoice else label)[:64], "shop_url": face.store_url[:255],
            "language": language if language in LANGUAGES else "en",
            "expires_at": clock.now() + timedelta(hours=cfg.link_hours)})
        if created:
            ledger.note(payment, Sentence(gettext_noop("link made for {amount}"),
                                          amount=f"{payment.amount} {payment.currency}"), actor=actor or origin)
    return payment


def token_for(payment: Payment) -> str:
    return signing.dumps(payment.pk, salt=SALT, compress=False)


def url_for(payment: Payment) -> str:
    return settings.PUBLIC_URL + reverse("pay", kwargs={"token": token_for(payment)})


def return_url(payment: Payment) -> str:
    return settings.PUBLIC_URL + reverse("pay-return", kwargs={"token": token_for(payment)})


def card_url(payment: Payment) -> str:
    """Where APS's merchant page (in the pay page's iframe) sends its tokenization answer."""
    return settings.PUBLIC_URL + reverse("pay-card", kwargs={"token": token_for(payment)})


class LinkRefused(Exception):
    """The link is not (or no longer) good: `reason` is one of "invalid", "expired"."""

    def __init__(self, reason: str, payment: Payment | None = None):
        super().__init__(reason)
        self.reason, self.payment = reason, payment


def payment_of(token: str, *, for_paying: bool = True) -> Payment:
    """The payment a token names; LinkRefused when the token was not made by this hub or (for paying) expired.
    An expired link still shows its payment's outcome on the return page."""
    try:
        pk = signing.loads(token, salt=SALT)
    except signing.BadSignature:
        raise LinkRefused("invalid") from None
    payment = Payment.objects.select_related("store", "integration__connection").filter(pk=pk).first()
    if payment is None:
        raise LinkRefused("invalid")
    if for_paying and payment.expires_at <= clock.now() and payment.state in (PaymentState.CREATED, PaymentState.PENDING):
        raise LinkRefused("expired", payment)
    return payment


def next_attempt(integration, order, *, language: str, origin: str, actor: str) -> Payment:
    """The order's payment for the customer now: its latest one (the customer came back or clicked twice; a paid one
    is returned as is), else — the latest failed or was cancelled — a new attempt with a new reference."""
    latest = Payment.objects.filter(store=integration.store, order_id=order.order_id).order_by("-id").first()
    if latest is not None and latest.state not in (PaymentState.FAILED, PaymentState.CANCELLED):
        return latest
    attempt = Payment.objects.filter(store=integration.store, order_id=order.order_id).count() + 1
    return new_payment(integration, order_id=order.order_id, amount=order.total * (order.currency_value or 1),
                       currency=order.currency_code, email=order.email, language=language, origin=origin,
                       attempt=attempt, actor=actor)


def retry(payment: Payment) -> Payment:
    """"Try again" on the return page of a failed or cancelled payment: the next attempt for its order, in the same
    language and from the same origin, for the order's amount as the shop has it now."""
    from ocbridge import opencart

    order = opencart.read_order(payment.store, payment.order_id)
    if order is None or order.store_id != payment.store.oc_store_id:
        raise LinkRefused("invalid", payment)
    return next_attempt(payment.integration, order, language=payment.language, origin=payment.origin, actor="customer")


def pay_link(integration, order_id: int, *, origin: str, actor: str = ""):
    """Another integration's request for a pay link (core.registry.pay_link_makers): the order's open payment of
    that origin again (a retried job, a repeated answer), else a new attempt for the order's total."""
    from ocbridge import opencart
    from ocbridge.core.registry import PayLink

    payment = (Payment.objects.filter(store=integration.store, order_id=order_id, origin=origin)
               .exclude(state__in=(PaymentState.FAILED, PaymentState.CANCELLED)).order_by("-id").first())
    if payment is None:
        order = opencart.read_order(integration.store, order_id)
        if order is None:
            raise ValueError(Sentence(gettext_noop("order {order} is not in the shop"), order=order_id))
        language = opencart.order_language(integration.store, order) or integration.store.language
        payment = new_payment(integration, order_id=order_id, amount=order.total * (order.currency_value or 1),
                              currency=order.currency_code, email=order.email or "", language=language,
                              origin=origin, actor=actor or origin)
    from ocbridge.integrations.payments import installments

    installments.prefetch(payment)  # called from the asking feature's job (COD's SendPayLink), outside a transaction
    return PayLink(payment_id=payment.pk, reference=payment.reference, url=url_for(payment),
                   expires_at=payment.expires_at, amount=f"{payment.amount} {payment.currency}")
