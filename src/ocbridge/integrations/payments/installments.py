"""Installments at Amazon Payment Services: which payments may offer them, the banks' plans the pay page lists
(hosted), the customer's choice, and the plan a payment records.

APS's "Installments" guide (paymentservices.amazon.com/docs/EN/24c.html) and its OpenCart plugin define two ways:
standalone (APS's own page shows the plans; the plan comes back in the tokenization answer or the feedback) and
hosted (our page lists GET_INSTALLMENTS_PLANS; the card's BIN must be one of the chosen bank's — the plugin's
find_bin_in_plans). The plan is kept in `Payment.gateway_data["installments"]`: mode, plan_code, issuer_code and,
when known, months, amount per month and the bank's name.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.utils.translation import gettext_noop

from ocbridge.core import clock
from ocbridge.core.errors import ServiceError
from ocbridge.core.sentences import Sentence
from ocbridge.integrations.payments import ledger
from ocbridge.integrations.payments.config import PaymentConfig
from ocbridge.integrations.payments.models import Payment

PLANS_FRESH = timedelta(minutes=10)  # the banks' plans change rarely; a customer reloading is not asked again
PLANS_RETRY = timedelta(minutes=1)  # after a failure: a reload within this shows "in full" without asking APS again
# Plans fetched by the job that made the link serve the pay page this long: a customer opens an e-mailed or texted
# link minutes to hours later, and the page should not wait on APS then. Past it the page asks once more.
PLANS_FROM_LINK = timedelta(hours=24)


def offer(payment: Payment) -> str:
    """"standalone" / "hosted" when this payment may be paid in installments, else ""."""
    if payment.gateway != "aps":
        return ""
    return PaymentConfig.from_settings(payment.integration.settings).installments_for(payment.amount, payment.currency)


def _younger_than(stamp: dict, age: timedelta) -> bool:
    try:
        return clock.now() - datetime.fromisoformat(stamp["at"]) < age
    except (KeyError, TypeError, ValueError):
        return False


def plans(payment: Payment, gateway, *, by: str = "") -> list[dict]:
    """The banks' plans for this payment's amount (GET_INSTALLMENTS_PLANS), kept on the payment for a while
    (PLANS_FRESH; PLANS_FROM_LINK when the link's job fetched them, `by="link"`); [] when APS cannot list them
    (paying in full still works). A failure is noted once per episode — the first failure after plans were listed or
    never asked — and APS is not asked again for PLANS_RETRY, however often the customer reloads; the first success
    ends the episode."""
    cached = payment.gateway_data.get("plans") or {}
    if _younger_than(cached, PLANS_FROM_LINK if cached.get("by") == "link" else PLANS_FRESH):
        return cached["issuers"]
    failing = payment.gateway_data.get("plans_failed")
    if failing and _younger_than(failing, PLANS_RETRY):
        return []
    try:
        issuers = gateway.installment_plans(payment)
    except ServiceError as exc:
        if not failing:
            ledger.note(payment, Sentence(gettext_noop("installment plans not available: {error}"),
                                          error=ledger.error_of(exc)), actor="link")
        payment.keep(plans_failed={"at": clock.now().isoformat(), "error": str(exc)[:200]})
        return []
    payment.keep(plans={"at": clock.now().isoformat(), "issuers": issuers, **({"by": by} if by else {})},
                 plans_failed=None)
    return issuers


def prefetch(payment: Payment) -> None:
    """Fetch the banks' plans when the link is made, from the job that makes it, so the customer's pay page lists
    them without asking APS while the customer waits (the page asks only when none are kept). Nothing for a payment
    that offers no hosted plans, or inside a hub transaction (a call to APS must not hold the hub's write lock: the
    page asks instead); a failure is noted and paced as on the page."""
    from django.db import connection

    from ocbridge.integrations.payments.gateways import gateway_for

    if connection.in_atomic_block or offer(payment) != "hosted":
        return
    plans(payment, gateway_for(payment.integration), by="link")


def choose(payment: Payment, issuers: list[dict], choice: str) -> dict | None:
    """Record the plan the customer picked on the pay page ("<issuer_code>.<plan_code>"); None when it is not one
    of the listed plans."""
    issuer_code, _, plan_code = choice.partition(".")
    for issuer in issuers:
        if issuer["issuer_code"] != issuer_code:
            continue
        for plan in issuer["plans"]:
            if plan["plan_code"] == plan_code:
                chosen = {"mode": "hosted", "issuer_code": issuer_code, "plan_code": plan_code,
                          "months": plan["months"], "per_month": plan["per_month"], "bins": issuer["bins"],
                          "name_en": issuer["name_en"], "name_ar": issuer["name_ar"]}
                payment.keep(installments=chosen)
                return chosen
    return None


def clear(payment: Payment) -> None:
    """The customer went back to paying in full."""
    if payment.gateway_data.get("installments"):
        payment.keep(installments=None)


def chosen(payment: Payment) -> dict:
    return payment.installment_plan


def card_fits(plan: dict, card_bin: str) -> bool:
    """The card is one of the plan's bank (its BIN starts with one of the bank's BINs); a plan listing no BINs
    is left to APS to check."""
    bins = plan.get("bins") or []
    return not bins or any(card_bin.startswith(b) for b in bins)


def purchase_fields(payment: Payment, params: dict) -> dict | None:
    """The installment fields of the host-to-host purchase after the tokenization answer `params`: standalone —
    the plan APS's page returned (installments=YES, SDK InstallmentsCCStandardPurchase); hosted — the plan chosen
    on our page (installments=HOSTED, the plugin's merchantPageNotifyFort); None for paying in full."""
    if params.get("plan_code") and params.get("issuer_code"):
        plan = {"mode": "standalone", "plan_code": str(params["plan_code"]), "issuer_code": str(params["issuer_code"])}
        payment.keep(installments=plan)
        return {"mode": "YES", "plan_code": plan["plan_code"], "issuer_code": plan["issuer_code"]}
    plan = chosen(payment)
    if plan.get("mode") == "hosted":
        return {"mode": "HOSTED", "plan_code": plan["plan_code"], "issuer_code": plan["issuer_code"]}
    return None
