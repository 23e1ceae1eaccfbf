"""Payment pages.

Customer's side (no login; the signed token is the key): `/pay/<token>` hands the customer to the gateway's
hosted page (the card is typed there, never here), `/pay/<token>/return` says what happened in the customer's
language (en, tr, ru, ar — Arabic right to left) and links back to the shop. The return page only shows: its
parameters are kept raw as an inbound Exchange, and a status check is asked for; notices and status checks decide.

Dashboard (store-scoped through core.access): the payments list with filters and totals, one payment with its
events and operations (capture / refund / void with a reason), a pay link for an order.
"""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal, InvalidOperation

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db.models import Count, Sum
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext as _, gettext_noop
from django.views.decorators.clickjacking import xframe_options_sameorigin
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from ocbridge.core import access, clock
from ocbridge.core.choices import ExchangeOutcome, Level, Role, Service
from ocbridge.core.errors import ConfigurationError, ServiceError
from ocbridge.core.exchanges import client_ip, close_inbound, inbound_exchange
from ocbridge.core.models import Integration, Job, SideEffect, Store
from ocbridge.core.sentences import Sentence
from ocbridge.integrations.payments import installments, ledger, links, merchant_page, operations
from ocbridge.integrations.payments.gateways import gateway_for
from ocbridge.integrations.payments.jobs import ask_now, schedule_check
from ocbridge.integrations.payments.models import (
    OPEN_STATES, Operation, Payment, PaymentState as S,
)
from ocbridge.integrations.payments.notices import params_of
from ocbridge.services.base import WebhookFormatError

GATEWAY_KINDS = ("aps", "latitudepay")


def _customer_page(request, payment: Payment | None, template: str, context: dict, status: int = 200) -> HttpResponse:
    lang = request.GET.get("lang") or (payment.language if payment else "en")
    lang = lang if lang in links.LANGUAGES else "en"
    with translation.override(lang):
        return render(request, template, {**context, "lang": lang, "rtl": lang == "ar", "payment": payment,
                                          "shop_url": _shop_url(payment), "retry": _retry_url(payment)}, status=status)


def _retry_url(payment: Payment | None) -> str:
    """"Try again" for a failed or cancelled payment whose link is still valid ("" otherwise)."""
    if payment is None or payment.state not in (S.FAILED, S.CANCELLED) or payment.expires_at <= clock.now():
        return ""
    return reverse("pay-retry", kwargs={"token": links.token_for(payment)})


def _shop_url(payment: Payment | None) -> str:
    """Back to the shop: the storefront the order was placed on (its store_url; the store's native-API address only
    for payments made before that was kept), its checkout success page when the customer came from its checkout."""
    url = ((payment.shop_url or payment.store.api_url) if payment else "") or ""
    if not url.startswith(("https://", "http://")):
        return ""
    if payment.origin == "checkout" and payment.state in (S.PAID, S.AUTHORISED, S.PENDING):
        return url.rstrip("/") + "/index.php?route=checkout/success"
    return url


def pay(request, token: str) -> HttpResponse:
    """The customer's pay link: a form that posts to the gateway's hosted page (or what became of the payment)."""
    try:
        payment = links.payment_of(token)
    except links.LinkRefused as exc:
        return _customer_page(request, exc.payment, "payments/customer.html", {"outcome": exc.reason},
                              status=410 if exc.reason == "expired" else 404)
    if payment.state not in OPEN_STATES or merchant_page.purchase_sent(payment) or merchant_page.purchase_pending(payment):
        return _customer_page(request, payment, "payments/customer.html", {"outcome": _outcome(payment)})
    try:
        gateway = gateway_for(payment.integration)
        if payment.gateway == "aps":
            context = _aps_pages(request, payment, gateway)
        else:
            context = {"pages": [gateway.hosted_page(payment, links.return_url(payment))]}
    except ConfigurationError:
        return _customer_page(request, payment, "payments/customer.html", {"outcome": "unavailable"}, status=503)
    except ServiceError as exc:  # the gateway refused to start the payment (amount out of range, down)
        ledger.note(payment, Sentence(gettext_noop("the gateway did not start the payment: {error}"),
                                      error=ledger.error_of(exc)), actor="link")
        return _customer_page(request, payment, "payments/customer.html", {"outcome": "unavailable"}, status=503)
    if payment.state == S.CREATED:
        ledger.move(payment, S.PENDING, what=Sentence(gettext_noop("the customer opened the pay link")), actor="link")
    pages = context["pages"]
    if len(pages) == 1 and not pages[0].fields:  # a gateway whose page is a plain address (Latitude's paymentUrl)
        return redirect(pages[0].url)
    return _customer_page(request, payment, "payments/hand_over.html", context)


def _aps_pages(request, payment: Payment, gateway) -> dict:
    """What the APS pay page shows: the redirection form(s), or the merchant page's card form in an iframe — and,
    when the order may be paid in installments, the choice (standalone: a second way; hosted: the banks' plans)."""
    from ocbridge.integrations.payments.config import PaymentConfig

    merchant = PaymentConfig.from_settings(payment.integration.settings).integration_type == "merchant_page"
    offer, way, plans, error = installments.offer(payment), request.GET.get("way", ""), [], ""
    if offer == "hosted":
        plans = installments.for_page(payment)  # never asks APS here: none kept → in full, and a fetch is queued
        if request.GET.get("plan") and way != "full":
            if installments.choose(payment, plans, request.GET["plan"]) is None:
                error = "plan"
    if way in ("full", "change"):  # paying in full, or back to the choice: a plan picked before no longer holds
        installments.clear(payment)
    chosen = installments.chosen(payment) if offer == "hosted" else {}
    if not merchant:
        pages = [gateway.hosted_page(payment, links.return_url(payment))]
        if offer == "standalone":
            pages.append(gateway.hosted_page(payment, links.return_url(payment), installments=True))
        return {"pages": pages, "offer": offer}
    card_url = links.card_url(payment)
    if offer == "standalone" and way == "installments":
        pages = [gateway.card_page(payment, card_url, installments=True)]
    elif way == "full" or chosen or not (offer == "standalone" or plans):
        pages = [gateway.card_page(payment, card_url)]
    else:  # the customer chooses first: in full, or in installments
        pages = []
    return {"pages": pages, "offer": offer, "plans": plans, "chosen": chosen, "way": way, "error": error,
            "choosing": not pages, "again": links.url_for(payment)}


@csrf_exempt  # APS's page in the iframe posts the customer here; its signature vouches for it
@xframe_options_sameorigin  # shown inside the pay page's own iframe
def pay_card(request, token: str) -> HttpResponse:
    """The merchant page's tokenization answer: verified, then the purchase host to host (once); the customer goes
    on to 3-D Secure or back to the pay page, which shows the outcome."""
    try:
        payment = links.payment_of(token, for_paying=False)
    except links.LinkRefused as exc:
        return _customer_page(request, None, "payments/customer.html", {"outcome": exc.reason}, status=404)
    exchange = inbound_exchange(request, service=payment.gateway, connection=payment.integration.connection,
                                purpose=f"{payment.gateway}.tokenization")
    exchange.order_id = payment.order_id
    try:
        params = params_of(request) if request.method == "POST" else {k: v for k, v in request.GET.items()}
        if payment.gateway != "aps":
            raise WebhookFormatError("only Amazon Payment Services has a merchant page")
    except WebhookFormatError as exc:
        close_inbound(exchange, status=400, outcome=ExchangeOutcome.REJECTED, level=Level.WARNING, error=str(exc))
        return _customer_page(request, payment, "payments/card_step.html", {"step": merchant_page.Step("refused")},
                              status=400)
    try:
        step = merchant_page.card_returned(payment, params, exchange=exchange, customer_ip=client_ip(request),
                                           return_url=links.return_url(payment))
    except ConfigurationError:
        step = merchant_page.Step("unavailable")
    return _card_step(request, payment, step)


def _card_step(request, payment: Payment, step) -> HttpResponse:
    return _customer_page(request, payment, "payments/card_step.html", {
        "step": step, "again": links.url_for(payment),
        "wait": reverse("pay-card-wait", kwargs={"token": links.token_for(payment)})},
        status=400 if step.kind == "refused" else 200)


@xframe_options_sameorigin  # the merchant page's iframe asks here until its purchase is decided
def pay_card_wait(request, token: str) -> HttpResponse:
    """The card step while the purchase is being sent (merchant_page.SendPurchase): "processing" again (the page
    re-asks by itself) until the job has decided, then that step (3-D Secure, the pay page, try again)."""
    try:
        payment = links.payment_of(token, for_paying=False)
    except links.LinkRefused as exc:
        return _customer_page(request, None, "payments/customer.html", {"outcome": exc.reason}, status=404)
    return _card_step(request, payment, merchant_page.step_now(payment))


def pay_checkout(request, store_pk: int, order_id: int, ts: int, sig: str) -> HttpResponse:
    """The OpenCart extension's hand-over at checkout: a signed (store, order, time) becomes the order's payment and
    the customer goes on to its pay page. The amount, currency and e-mail come from the shop, never from the URL."""
    from ocbridge import opencart
    from ocbridge.opencart import extension

    store = Store.objects.filter(pk=store_pk, enabled=True).first()
    why = extension.verify(store, order_id, ts, sig) if store is not None else "unknown store"
    order = opencart.read_order(store, order_id) if not why else None
    if not why and (order is None or order.store_id != store.oc_store_id):
        why = "the order is not in this store"
    integration = None if why else (Integration.objects.filter(store=store, kind__in=GATEWAY_KINDS, enabled=True)
                                    .select_related("connection").order_by("kind").first())
    if not why and integration is None:
        why = "no payment gateway is switched on for this store"
    exchange = inbound_exchange(request, service="opencart", store=store, purpose="payments.checkout")
    exchange.order_id = order_id
    close_inbound(exchange, status=303 if not why else 403, outcome=ExchangeOutcome.REJECTED if why else ExchangeOutcome.OK,
                  level=Level.WARNING if why else Level.INFO, error=why)
    if why:
        return _customer_page(request, None, "payments/customer.html", {"outcome": "invalid"}, status=403)
    payment = links.next_attempt(integration, order, language=opencart.order_language(store, order) or store.language,
                                 origin="checkout", actor="checkout")
    return redirect(links.url_for(payment), permanent=False)


@require_POST
def pay_retry(request, token: str) -> HttpResponse:
    """"Try again" after a failed or cancelled payment, while its link is valid: the order's next attempt (a second
    click finds the attempt the first made), then its pay page."""
    try:
        payment = links.payment_of(token)
    except links.LinkRefused as exc:
        return _customer_page(request, exc.payment, "payments/customer.html", {"outcome": exc.reason},
                              status=410 if exc.reason == "expired" else 404)
    if not _retry_url(payment):  # paid or still open: its own page says so; expired: the shop sends a new link
        return redirect(links.url_for(payment))
    try:
        again = links.retry(payment)
    except (links.LinkRefused, ValueError, ConfigurationError):
        return _customer_page(request, payment, "payments/customer.html", {"outcome": "unavailable"}, status=503)
    return redirect(links.url_for(again))


@csrf_exempt  # the gateway posts the customer back; its own signature, not a CSRF token, vouches for it
def pay_return(request, token: str) -> HttpResponse:
    """Where the gateway sends the customer back. Shows; never marks paid."""
    try:
        payment = links.payment_of(token, for_paying=False)
    except links.LinkRefused as exc:
        return _customer_page(request, None, "payments/customer.html", {"outcome": exc.reason}, status=404)
    connection = payment.integration.connection
    exchange = inbound_exchange(request, service=payment.gateway, connection=connection, purpose=f"{payment.gateway}.return")
    exchange.order_id = payment.order_id
    try:
        params = params_of(request) if request.method == "POST" else {k: v for k, v in request.GET.items() if k != "lang"}
        said_ok = gateway_for(payment.integration).verify(params)
    except (WebhookFormatError, ConfigurationError) as exc:
        params, said_ok = {}, False
        close_inbound(exchange, status=200, outcome=ExchangeOutcome.REJECTED, level=Level.WARNING, error=str(exc))
    else:
        close_inbound(exchange, status=200, outcome=ExchangeOutcome.OK if said_ok else ExchangeOutcome.REJECTED,
                      level=Level.INFO if said_ok else Level.WARNING,
                      error="" if said_ok else "return parameters not signed by the gateway: shown as unknown")
    if payment.state in OPEN_STATES:
        schedule_check(payment)  # the gateway decides; ask it now rather than wait for the next round
    outcome = _outcome(payment)
    if outcome == "pending" and said_ok:
        word = gateway_for(payment.integration).word(params)
        if word.reference == payment.reference and word.outcome in ("failed", "cancelled"):
            outcome = word.outcome  # shown only: the notice or the status check records it
    return _customer_page(request, payment, "payments/customer.html", {"outcome": outcome})


def _outcome(payment: Payment) -> str:
    outcome = {S.PAID: "paid", S.AUTHORISED: "paid", S.FAILED: "failed", S.CANCELLED: "cancelled",
               S.REFUNDED: "refunded", S.VOIDED: "cancelled"}.get(payment.state, "pending")
    said = (payment.gateway_data or {}).get("purchase") or {}
    if outcome == "pending" and said.get("status") and said["status"] not in ("14", "02", "15", "19", "20"):
        outcome = "failed"  # APS's signed answer to our purchase declined it; shown only, the feedback records it
    return outcome


# --- dashboard ------------------------------------------------------------------------------------------


def _back(request, payment: Payment) -> HttpResponse:
    """After an action: the order's page when it was asked from there, else the payment's page."""
    if request.POST.get("back") == "order":
        return redirect("payments:order", store_pk=payment.store_id, order_id=payment.order_id)
    return redirect("payments:detail", pk=payment.pk)


@login_required
def payment_list(request) -> HttpResponse:
    qs = access.scoped(Payment.objects.select_related("store"), request.user)
    f = {k: request.GET.get(k, "") for k in ("store", "state", "gateway", "order", "since", "until")}
    if f["store"].isdigit():
        qs = qs.filter(store_id=int(f["store"]))
    if f["state"] in S.values:
        qs = qs.filter(state=f["state"])
    if f["gateway"] in GATEWAY_KINDS:
        qs = qs.filter(gateway=f["gateway"])
    if f["order"].isdigit():
        qs = qs.filter(order_id=int(f["order"]))
    for name, lookup in (("since", "created__date__gte"), ("until", "created__date__lte")):
        if f[name]:
            try:
                qs = qs.filter(**{lookup: f[name]})
            except Exception:  # a malformed date is ignored, the filter box shows it
                f[name] = ""
    totals: dict[tuple, dict] = defaultdict(lambda: {"n": 0, "amount": Decimal(0), "refunded": Decimal(0)})
    for row in qs.values("currency", "state").annotate(n=Count("id"), amount=Sum("amount_minor"),
                                                       refunded=Sum("refunded_minor")):
        t = totals[(row["currency"], row["state"])]
        scale = Decimal(1).scaleb(-(3 if row["currency"] in ("JOD", "KWD", "OMR", "TND", "BHD", "LYD", "IQD") else 2))
        t.update(n=row["n"], amount=Decimal(row["amount"] or 0) * scale, refunded=Decimal(row["refunded"] or 0) * scale)
    labels = dict(S.choices)
    from ocbridge.integrations.payments.models import ReconciliationReport

    reports = [r for r in (access.scoped(ReconciliationReport.objects.select_related("store"), request.user)
                           .order_by("store_id", "-day").distinct()) if r.mismatches][:20]
    seen, latest = set(), []
    for r in reports:  # the newest report of each store
        if r.store_id not in seen:
            seen.add(r.store_id)
            latest.append(r)
    return render(request, "payments/list.html", {
        "reports": latest,
        "nav": "payments", "filters": f, "states": S.choices, "page": Paginator(qs, 50).get_page(request.GET.get("page")),
        "stores": access.scoped(Store, request.user), "labels": labels,
        "gateways": [(k, Service(k).label) for k in GATEWAY_KINDS],
        "totals": [(cur, labels.get(state, state), t) for (cur, state), t in sorted(totals.items())]})


@login_required
def payment_detail(request, pk: int) -> HttpResponse:
    payment = access.get_scoped(Payment.objects.select_related("store", "integration__connection"), request.user, pk=pk)
    can_act = access.can(request.user, payment.store, Role.OPERATOR)
    ops = list(payment.operations.all())
    return render(request, "payments/detail.html", {
        "nav": "payments", "payment": payment, "events": payment.events.select_related("exchange"),
        "ops": ops, "late": _late_runs(payment, ops), "can_act": can_act,
        "link": links.url_for(payment) if can_act else "",
        "seq": {op: operations.next_sequence(payment, op) for op in Operation.values},
        "captured": payment.money(payment.captured_minor), "refunded": payment.money(payment.refunded_minor),
        "refundable": payment.money(operations.refundable_now(payment)),
        "capturable": payment.money(payment.amount_minor - payment.captured_minor)})


def _late_runs(payment: Payment, ops: list) -> list[tuple[str, SideEffect]]:
    """The payment's outbox rows (its purchase, each operation) with a `late` record: what a run saw after another
    run had taken its claim over (core.outbox). Shown here too, not only on the outbox's admin page."""
    names = {merchant_page.purchase_key(payment): _("Purchase")}
    names.update({op.key: f"{op.get_operation_display()} {op.amount} {payment.currency}" for op in ops})
    return [(names[e.key], e) for e in SideEffect.objects.filter(key__in=list(names)).exclude(late="").order_by("pk")]


@login_required
@require_POST
def payment_operate(request, pk: int) -> HttpResponse:
    payment = access.get_scoped(Payment.objects.select_related("integration"), request.user, Role.OPERATOR, pk=pk)
    op = request.POST.get("operation", "")
    if op not in Operation.values:
        messages.error(request, _("Unknown operation."))
        return _back(request, payment)
    try:
        amount = Decimal(request.POST.get("amount") or "0") if op != Operation.VOID else payment.amount
        minor = int((amount * (10 ** payment.decimals)).to_integral_value())
        sequence = int(request.POST.get("sequence") or 0)
        if sequence <= 0:
            raise operations.OperationRefused(_("Reload the page and try again."))
        operations.request(payment, op, minor, sequence=sequence, reason=request.POST.get("reason", ""),
                           user=request.user.get_username())
    except (InvalidOperation, ValueError) as exc:
        messages.error(request, str(exc) if isinstance(exc, operations.OperationRefused) else _("Enter an amount."))
    else:
        messages.success(request, _("Sent to the gateway; the result appears below and in the order's history."))
    return _back(request, payment)


@login_required
@require_POST
def payment_link(request, store_pk: int) -> HttpResponse:
    """A pay link for an order of the store: the amount and currency are the order's own, read from the shop. The
    attempt number comes from the page that showed the form (a second click names the same attempt: one payment);
    "mail" e-mails the link to the order's address once (jobs.MailLink)."""
    from ocbridge import opencart
    from ocbridge.integrations.payments.jobs import MailLink

    store = access.get_scoped(Store, request.user, Role.OPERATOR, pk=store_pk)
    kind = request.POST.get("gateway", "")
    integration = Integration.objects.filter(store=store, kind=kind, enabled=True).select_related("connection").first()
    order_id = request.POST.get("order_id", "")
    attempt = request.POST.get("attempt", "")
    back = (redirect("payments:order", store_pk=store.pk, order_id=int(order_id))
            if request.POST.get("back") == "order" and order_id.isdigit() else redirect("payments:list"))
    if integration is None or not order_id.isdigit():
        messages.error(request, _("Choose a payment gateway switched on for this store and an order number."))
        return back
    order = opencart.read_order(store, int(order_id))
    if order is None or order.store_id != store.oc_store_id:
        messages.error(request, _("Order %(id)s is not in the shop.") % {"id": order_id})
        return back
    try:
        payment = links.new_payment(integration, order_id=order.order_id, currency=order.currency_code,
                                    amount=(order.total * (order.currency_value or 1)), email=order.email,
                                    language=opencart.order_language(store, order) or store.language,
                                    attempt=int(attempt) if attempt.isdigit() and int(attempt) > 0 else None,
                                    actor=request.user.get_username())
    except (ValueError, ConfigurationError) as exc:
        messages.error(request, str(exc))
        return back
    if request.POST.get("mail") and payment.state in OPEN_STATES:
        Job.objects.enqueue(MailLink, key=f"payments:{payment.pk}:mail-link", integration=integration,
                            payload={"payment_id": payment.pk, "actor": request.user.get_username()})
        messages.success(request, _("The pay link will be e-mailed to %(email)s.") % {"email": order.email})
    elif payment.state in OPEN_STATES and installments.offer(payment) == "hosted":  # MailLink fetches them itself
        installments.queue_fetch(payment)
    return back if request.POST.get("back") == "order" else redirect("payments:detail", pk=payment.pk)


@login_required
@require_POST
def payment_check(request, pk: int) -> HttpResponse:
    payment = access.get_scoped(Payment.objects.select_related("integration"), request.user, Role.OPERATOR, pk=pk)
    if ask_now(payment):
        messages.success(request, _("The gateway will be asked for this payment's state."))
    else:
        messages.info(request, _("The gateway is being asked for this payment's state already (a status check is "
                                 "due or running): no second check was queued."))
    return _back(request, payment)


@login_required
def extension_settings(request, store_pk: int) -> HttpResponse:
    """What the owner types into the OpenCart extension's settings: the hub address, the store number, the signing
    secret (made on first visit; "New secret" replaces it, audited)."""
    from django.conf import settings as dj_settings

    from ocbridge.dashboard.audit import audit
    from ocbridge.opencart import extension

    store = access.get_scoped(Store, request.user, Role.OWNER, pk=store_pk)
    if request.method == "POST":
        extension.new_secret(store)
        audit(request, "store.extension_secret", obj=store, store=store, reason="new extension signing secret")
        messages.success(request, _("A new signing secret was made: paste it into the extension's settings."))
        return redirect("payments:extension", store_pk=store.pk)
    return render(request, "payments/extension.html", {
        "nav": "stores", "store": store, "hub_url": dj_settings.PUBLIC_URL, "secret": extension.secret_of(store, create=True)})


@login_required
@require_POST
def gateway_test(request, integration_pk: int) -> HttpResponse:
    """Settings "Test": the credentials checked with a status check, nothing charged."""
    from ocbridge.integrations.payments.jobs import check_connection

    integration = access.get_scoped(Integration.objects.select_related("store", "connection"), request.user,
                                    Role.OWNER, pk=integration_pk, kind__in=GATEWAY_KINDS)
    if integration.connection is None:
        messages.error(request, _("Choose a connection first."))
    else:
        result = check_connection(integration.connection)
        (messages.success if result["ok"] else messages.error)(request, result["message"])
    return redirect("dashboard:integration", integration.store_id, integration.kind)
