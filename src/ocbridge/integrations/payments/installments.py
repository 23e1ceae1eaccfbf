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

PLANS_RETRY = timedelta(minutes=1)  # after a failure: APS is not asked again for this payment within this
# Plans a job fetched serve the pay page this long: a customer opens an e-mailed or texted link minutes to hours later,
# and the page never waits on APS. Past it (or with none kept) the page offers paying in full and queues a fetch.
PLANS_KEPT = timedelta(hours=24)
FETCH_MOST = 20  # APS calls one fetch job makes at most (the newest payments first)


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


def kept(payment: Payment) -> list[dict] | None:
    """The banks' plans a job fetched for this payment within PLANS_KEPT, else None. Never asks APS."""
    cached = payment.gateway_data.get("plans") or {}
    return cached["issuers"] if _younger_than(cached, PLANS_KEPT) else None


def _failing(payment: Payment) -> bool:
    failing = payment.gateway_data.get("plans_failed")
    return bool(failing) and _younger_than(failing, PLANS_RETRY)


def for_page(payment: Payment) -> list[dict]:
    """The plans the customer's pay page lists: those kept, never asked of APS inside the customer's request (a slow
    outside call). None kept: [] (the page offers paying in full) and one fetch job queued, so the next view has
    them."""
    issuers = kept(payment)
    if issuers is None:
        if not _failing(payment):
            queue_fetch(payment)
        return []
    return issuers


def queue_fetch(payment: Payment) -> bool:
    """Queue one FetchPlans job for the payment's store and currency; none while one is queued or running (it takes
    this payment too), and at most one a PLANS_RETRY slot however many customers reload. True when queued."""
    from ocbridge.core.jobs import enqueue_unless_waiting
    from ocbridge.integrations.payments.jobs import FetchPlans

    currency = payment.currency.upper()
    slot = int(clock.now().timestamp() // PLANS_RETRY.total_seconds())
    return enqueue_unless_waiting(FetchPlans, key=f"payments:{payment.store_id}:plans:{currency}:{slot}",
                                  integration=payment.integration, payload={"currency": currency},
                                  waiting_payload={"currency": currency})


def fetch(payment: Payment, gateway) -> list[dict]:
    """Ask APS (GET_INSTALLMENTS_PLANS) for the banks' plans for this payment's amount and keep them on the payment
    (PLANS_KEPT); [] when APS cannot list them (paying in full still works). Called by jobs only. A failure is noted
    once per episode — the first failure after plans were listed or never asked — and APS is not asked again for
    PLANS_RETRY; the first success ends the episode."""
    if _failing(payment):
        return []
    failing = payment.gateway_data.get("plans_failed")
    try:
        issuers = gateway.installment_plans(payment)
    except ServiceError as exc:
        if not failing:
            ledger.note(payment, Sentence(gettext_noop("installment plans not available: {error}"),
                                          error=ledger.error_of(exc)), actor="link")
        payment.refresh_from_db(fields=["gateway_data"])  # the customer's page may have changed it meanwhile
        payment.keep(plans_failed={"at": clock.now().isoformat(), "error": str(exc)[:200]})
        return []
    payment.refresh_from_db(fields=["gateway_data"])
    payment.keep(plans={"at": clock.now().isoformat(), "issuers": issuers}, plans_failed=None)
    return issuers


def prefetch(payment: Payment) -> None:
    """Fetch the banks' plans when the link is made, from the job that makes it, so the customer's pay page lists
    them. Nothing for a payment that offers no hosted plans, already has some kept, or inside a hub transaction (a
    call to APS must not hold the hub's write lock: the page's first view queues a fetch instead)."""
    from django.db import connection

    from ocbridge.integrations.payments.gateways import gateway_for

    if connection.in_atomic_block or offer(payment) != "hosted" or kept(payment) is not None:
        return
    fetch(payment, gateway_for(payment.integration))


def fetch_missing(integration, currency: str) -> int:
    """FetchPlans: plans for the open payments of this integration and currency that offer hosted plans and have
    none kept (newest first, at most FETCH_MOST). Returns how many were asked for."""
    from ocbridge.integrations.payments.gateways import gateway_for
    from ocbridge.integrations.payments.models import OPEN_STATES

    rows = (Payment.objects.select_related("integration").filter(
        integration=integration, currency=currency.upper(), state__in=OPEN_STATES, expires_at__gt=clock.now())
        .order_by("-id"))
    gateway, asked = None, 0
    for payment in rows.iterator():
        if asked >= FETCH_MOST:
            break
        if offer(payment) != "hosted" or kept(payment) is not None or _failing(payment):
            continue
        gateway = gateway or gateway_for(integration)
        fetch(payment, gateway)
        asked += 1
    return asked


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
