"""Payment job kinds: apply a stored notice, check a payment's status with the gateway (reconciliation, with
back-off), write "paid" and operation comments to the shop, and carry out capture / refund / void once.

Flow: gateway notice or status check (decide) → Payment state (ledger) → shop history through the one
journaled write API (opencart.writes) with the owner's "paid" status.
"""

from __future__ import annotations

import datetime as dt
import logging
from datetime import timedelta

from django.db import transaction
from django.db.models import F, Q
from django.utils.translation import gettext_noop

from ocbridge import opencart
from ocbridge.core import clock, outbox
from ocbridge.core.choices import SideEffectState
from ocbridge.core.errors import ConfigurationError, RetryableError, TerminalError
from ocbridge.core.jobkinds import Defer, about_order
from ocbridge.core.jobs import JobKind, enqueue_unless_waiting, register_job_kind, register_schedule, slot_key
from ocbridge.core.registry import register_order_consumer, register_pay_link_maker
from ocbridge.core.models import Integration, Job, Store
from ocbridge.core.sentences import Sentence
from ocbridge.integrations.payments import installments, ledger, links
from ocbridge.integrations.payments.config import PaymentConfig
from ocbridge.integrations.payments.gateways import gateway_for
from ocbridge.integrations.payments.models import (
    MONEY_STATES, OPEN_STATES, Operation, OperationState, Payment, PaymentNotice, PaymentOperation, PaymentState as S,
)
from ocbridge.integrations.payments.notices import apply_word

log = logging.getLogger(__name__)

RECONCILE_EVERY = 60.0  # seconds between looks for payments due a status check
CHECK_BACKOFF = (60, 120, 300, 900, 1800, 3600, 3 * 3600, 6 * 3600)  # seconds after the n-th check without an answer
GIVE_UP_AFTER = timedelta(days=7)  # an open payment older than this is left to a person (the daily report lists it)
UNKNOWN_ASKS = 6  # status checks for an operation whose outcome is unknown, then a person looks


def no_order(order_id: int) -> Sentence:
    """A payment's order gone from the shop, said (core.sentences): its job row reads in each reader's language."""
    return Sentence(gettext_noop("Order {order} does not exist in the shop."), order=order_id)


def check_connection(connection) -> dict:
    """"Test" of a gateway Connection: a status check of a reference that cannot exist — good credentials get "not
    found", wrong ones a refused signature. Nothing is charged. {"ok", "message"} for the dashboard."""
    from ocbridge.core.errors import ServiceError
    from ocbridge.core.sentences import words
    from ocbridge.integrations.payments.gateways import GATEWAYS

    cls = GATEWAYS.get(connection.service)
    label = connection.get_service_display()
    try:
        said = cls(connection).test()
    except (ServiceError, ConfigurationError) as exc:
        return {"ok": False, "message": f"{label}: {words(exc)}"}  # in the reader's language where said
    return {"ok": True, "message": f"{label}: {said}"}


class PaymentJob(JobKind):
    max_attempts = 10


@register_job_kind
class ApplyNotice(PaymentJob):
    """Apply one stored, verified notice to its payment."""

    kind = "payments.apply_notice"

    def run(self, job) -> None:
        notices = PaymentNotice.objects.select_related("payment", "exchange")
        if "notice_id" in job.payload:  # queued by the request itself (before notices went through core.inbox)
            notice = notices.filter(pk=job.payload["notice_id"]).first()
        else:  # committed with the webhook that asked for this job: it exists
            notice = notices.get(dedupe=job.payload["dedupe"])
        if notice is None or notice.applied:
            return
        payment = notice.payment
        if payment is None:  # not ours (another hub on the same merchant account), or a forged reference
            PaymentNotice.objects.filter(pk=notice.pk).update(applied=True)
            return
        about_order(payment.order_id, exchange=notice.exchange)
        word = gateway_for(payment.integration).word(notice.params)
        with transaction.atomic():
            apply_word(payment, word, actor="gateway", exchange=notice.exchange)
            PaymentNotice.objects.filter(pk=notice.pk).update(applied=True)


@register_job_kind
class CheckPayment(PaymentJob):
    """Ask the gateway for one payment's state (APS CHECK_STATUS); no final answer → next check with back-off."""

    kind = "payments.check"

    def run(self, job) -> None:
        payment = Payment.objects.select_related("integration__connection", "store").get(pk=job.payload["payment_id"])
        if payment.state not in OPEN_STATES:
            return
        about_order(payment.order_id)
        word = gateway_for(payment.integration).check(payment)
        apply_word(payment, word, actor="status check", exchange=word.exchange)
        payment.refresh_from_db()
        if payment.state in OPEN_STATES:
            delay = CHECK_BACKOFF[min(payment.checks, len(CHECK_BACKOFF) - 1)]
            Payment.objects.filter(pk=payment.pk).update(checks=F("checks") + 1,
                                                         next_check_at=clock.now() + timedelta(seconds=delay))
        else:
            Payment.objects.filter(pk=payment.pk).update(next_check_at=None)


@register_schedule("payments.reconcile", RECONCILE_EVERY)
def reconcile() -> None:
    """Every payment without a final answer whose next check is due gets a status check job (one per slot)."""
    now = clock.now()
    due = Payment.objects.filter(state__in=OPEN_STATES, next_check_at__lte=now, created__gte=now - GIVE_UP_AFTER,
                                 integration__enabled=True, store__enabled=True)
    for payment in due.select_related("integration")[:500]:
        Job.objects.enqueue(CheckPayment, key=slot_key(f"payments:check:{payment.pk}", RECONCILE_EVERY),
                            integration=payment.integration, payload={"payment_id": payment.pk})


def schedule_check(payment: Payment, seconds: float = 0) -> None:
    """A status check soon (the customer came back, a link expired, an operation's outcome is unknown)."""
    Payment.objects.filter(pk=payment.pk).filter(Q(next_check_at__isnull=True) | Q(
        next_check_at__gt=clock.now() + timedelta(seconds=seconds))).update(
        next_check_at=clock.now() + timedelta(seconds=seconds))
    Job.objects.enqueue(CheckPayment, key=slot_key(f"payments:check:{payment.pk}:soon", 15.0),
                        integration=payment.integration, payload={"payment_id": payment.pk},
                        run_at=clock.now() + timedelta(seconds=seconds))


def ask_now(payment: Payment) -> bool:
    """The owner's "Ask the gateway now": a status check now, unless one is due or running (it is asking already). A
    check scheduled for later (the 3-D Secure wait) does not take the click. Keyed by the payment's last check: two
    clicks at once queue one, a click after that check was made queues the next. True when a check was queued."""
    last = (Job.objects.filter(integration=payment.integration, kind=CheckPayment.kind,
                               payload__payment_id=payment.pk).order_by("-pk").values_list("pk", flat=True).first())
    return enqueue_unless_waiting(CheckPayment, key=f"payments:check:{payment.pk}:ask-after:{last or 0}",
                                  integration=payment.integration, payload={"payment_id": payment.pk},
                                  waiting_payload={"payment_id": payment.pk}, due_only=True)


# --- writing to the shop ---------------------------------------------------------------------------------


def _write(payment: Payment, *, target: int, comment: str, key: str, notify: bool) -> None:
    """One history entry through opencart.writes: to `target` while the order still has the status it had when the
    payment began, else a comment at its current status (a late payment never pulls a shipped order back)."""
    store = payment.store
    current = opencart.order_status(store, payment.order_id)
    if current is None:
        raise TerminalError("opencart", "unknown_order", no_order(payment.order_id))
    new = target if target and current in (payment.shop_status, 0) else current
    if new <= 0:  # an order still at status 0 (checkout not finished): history needs a real status
        raise RetryableError("opencart", "status_0",
                             Sentence(gettext_noop("the order has no status yet; trying again later")))
    opencart.write_history(store, payment.order_id, expected=current, new=new, comment=comment, notify=notify, key=key)


@register_job_kind
class ShopPaid(PaymentJob):
    """The owner's "paid" status (or authorised) as a history entry, once per payment state."""

    kind = "payments.shop_paid"

    def run(self, job) -> None:
        payment = Payment.objects.select_related("store", "integration").get(pk=job.payload["payment_id"])
        if payment.state not in MONEY_STATES:
            return
        about_order(payment.order_id)
        cfg = PaymentConfig.from_settings(payment.integration.settings)
        label = "Paid" if payment.state == S.PAID else "Authorised"
        comment = (f"{label}: {payment.amount} {payment.currency} by {payment.integration.connection.get_service_display()}, "
                   f"reference {payment.reference}" + (f", transaction {payment.gateway_id}" if payment.gateway_id else ""))
        _write(payment, target=cfg.status_for(payment.state), comment=comment, key=job.key,
               notify=cfg.notify_customer)


# --- capture, refund, void ------------------------------------------------------------------------------


@register_job_kind
class Operate(PaymentJob):
    """Carry out one capture / refund / void through the outbox: sent once; a doubtful call (timeout, gateway 5xx,
    on hold) is settled by a status check, never re-sent blind."""

    kind = "payments.operate"

    def run(self, job) -> None:
        op = PaymentOperation.objects.select_related("payment__integration__connection", "payment__store").get(
            pk=job.payload["operation_id"])
        payment = op.payment
        if op.state in (OperationState.DONE, OperationState.FAILED):
            return
        about_order(payment.order_id)
        # One operation of a payment at the gateway at a time: asking about a doubtful one compares the gateway's
        # totals with ours before it, which only tells "carried out or not" when nothing else moved them meanwhile.
        if PaymentOperation.objects.filter(payment=payment, pk__lt=op.pk,
                                           state__in=(OperationState.REQUESTED, OperationState.UNKNOWN)).exists():
            raise Defer(5, Sentence(gettext_noop("waiting for an earlier operation of this payment")))
        gw = gateway_for(payment.integration)
        effect = outbox.request(op.key, kind="payment", service=payment.gateway, store=payment.store,
                                connection=payment.integration.connection, integration=payment.integration)
        if effect.state == SideEffectState.REQUESTED:  # not sent yet: its "before" is the confirmed total now
            payment.refresh_from_db()
            op.before_minor = payment.captured_minor if op.operation == Operation.CAPTURE else payment.refunded_minor
            PaymentOperation.objects.filter(pk=op.pk).update(before_minor=op.before_minor)

        def send(e):
            return gw.operate(payment, op.operation, op.amount_minor, correlation=str(e.correlation), key=op.key)

        def ask(e):
            return gw.carried_out(payment, op.operation, op.before_minor, op.amount_minor)

        # A run killed mid-send leaves the row sending (or unknown): once its claim has ended the gateway is asked and,
        # if it never got the operation, it is sent now with the same reference (APS's Refund API: the maintenance
        # reference "allows retry") — else a refund lost with its worker stayed "unknown" for good.
        effect = outbox.perform(effect, send, ask=ask, resend_absent=True)
        if effect.state == SideEffectState.UNKNOWN:  # not answered: ask the gateway (a notice may also tell us)
            found = ask(effect)
            if found:
                outbox.sent(effect, found)
        if effect.state == SideEffectState.SENT:
            finish(op, gateway_id=effect.provider_id)
        elif effect.state == SideEffectState.FAILED:
            if PaymentOperation.objects.filter(pk=op.pk, state__in=(OperationState.REQUESTED, OperationState.UNKNOWN)).update(
                    state=OperationState.FAILED, updated=clock.now(), **_gateway_message(effect)):
                ledger.note(payment, Sentence(REFUSED[op.operation], error=outbox.refusal(effect),
                                              amount=f"{payment.money(op.amount_minor)} {payment.currency}"),
                            actor="gateway")
        elif effect.state == SideEffectState.UNKNOWN:
            PaymentOperation.objects.filter(pk=op.pk, state=OperationState.REQUESTED).update(
                state=OperationState.UNKNOWN, updated=clock.now(), **_gateway_message(effect))
            if job.attempts < UNKNOWN_ASKS:
                raise Defer(min(60 * 2 ** job.attempts, 3600),
                            Sentence(gettext_noop("outcome unknown: asking the gateway again later")))


# The payment's history, said (core.sentences); the gateway's own words stay inside as they came.
REFUSED = {Operation.CAPTURE: gettext_noop("capture of {amount} refused: {error}"),
           Operation.REFUND: gettext_noop("refund of {amount} refused: {error}"),
           Operation.VOID: gettext_noop("void of {amount} refused: {error}")}
CAPTURED = gettext_noop("captured {amount}")
REFUNDED_IN_FULL = gettext_noop("refunded {amount} (in full)")
REFUNDED_PART = gettext_noop("refunded {amount} (part)")
RELEASED = gettext_noop("authorisation released")


def _gateway_message(effect) -> dict:
    """The operation row's gateway message from its outbox row: the English text, and what was said (our framing
    around the gateway's words) for its pages; the gateway's bare words stay text."""
    return {"gateway_message": effect.error[:255], "gateway_message_said": effect.error_said}


def finish(op: PaymentOperation, *, gateway_id: str = "") -> None:
    """The gateway carried the operation out: the payment's totals and state, once, and the shop's history."""
    payment = op.payment
    with transaction.atomic():
        if not PaymentOperation.objects.filter(pk=op.pk, state__in=(OperationState.REQUESTED, OperationState.UNKNOWN)
                                               ).update(state=OperationState.DONE, updated=clock.now()):
            return
        money = f"{payment.money(op.amount_minor)} {payment.currency}"
        if op.operation == Operation.CAPTURE:
            Payment.objects.filter(pk=payment.pk).update(captured_minor=F("captured_minor") + op.amount_minor)
            payment.refresh_from_db()
            ledger.move(payment, S.PAID, what=Sentence(CAPTURED, amount=money), actor=op.requested_by or "operator") or \
                ledger.note(payment, Sentence(CAPTURED, amount=money), actor=op.requested_by or "operator")
        elif op.operation == Operation.REFUND:
            Payment.objects.filter(pk=payment.pk).update(refunded_minor=F("refunded_minor") + op.amount_minor)
            payment.refresh_from_db()
            if payment.refunded_minor >= payment.captured_minor:
                ledger.move(payment, S.REFUNDED, what=Sentence(REFUNDED_IN_FULL, amount=money),
                            actor=op.requested_by or "operator")
            else:
                ledger.note(payment, Sentence(REFUNDED_PART, amount=money), actor=op.requested_by or "operator")
        else:
            ledger.move(payment, S.VOIDED, what=Sentence(RELEASED), actor=op.requested_by or "operator")
        Job.objects.enqueue(ShopNote, key=f"{op.key}:shop", integration=payment.integration,
                            payload={"operation_id": op.pk, "gateway_id": gateway_id})


@register_job_kind
class ShopNote(PaymentJob):
    """The history comment for a done capture / refund / void, naming the amount and reference; a full refund
    sets the owner's refunded status when one is chosen."""

    kind = "payments.shop_note"

    def run(self, job) -> None:
        op = PaymentOperation.objects.select_related("payment__store", "payment__integration").get(
            pk=job.payload["operation_id"])
        payment = op.payment
        about_order(payment.order_id)
        cfg = PaymentConfig.from_settings(payment.integration.settings)
        words = {Operation.CAPTURE: "Captured", Operation.REFUND: "Refunded", Operation.VOID: "Authorisation released"}
        comment = (f"{words[op.operation]}: {payment.money(op.amount_minor)} {payment.currency}, reference "
                   f"{payment.reference}" + (f" ({op.reason})" if op.reason else ""))
        target = cfg.refunded_status_id if (op.operation == Operation.REFUND and payment.state == S.REFUNDED) else 0
        current = opencart.order_status(payment.store, payment.order_id)
        if current is None:
            raise ConfigurationError(no_order(payment.order_id))
        opencart.write_history(payment.store, payment.order_id, expected=current, new=target or current,
                               comment=comment, notify=False, key=job.key)


# --- the daily reconciliation report -----------------------------------------------------------------------

REPORT_EVERY = 3600.0  # looked at hourly; each store's report is made once per day (its key)
REPORT_DAYS = 7  # payments of the last week are compared


@register_schedule("payments.daily_report", REPORT_EVERY)
def daily_report() -> None:
    """Yesterday's report for every store with a payment gateway switched on (one job per store and day): the
    store's own yesterday (Store.zone), so a store far from UTC gets it in the first hour after its midnight."""
    from ocbridge.integrations.payments.views import GATEWAY_KINDS

    now = clock.now()
    stores = Store.objects.filter(pk__in=Integration.objects.filter(
        kind__in=GATEWAY_KINDS, enabled=True, store__enabled=True).values("store_id"))
    days = {s: now.astimezone(s.zone).date() - timedelta(days=1) for s in stores}
    keys = {f"payments:report:{s.pk}:{day.isoformat()}": (s, day) for s, day in days.items()}
    # The other 23 hourly runs of a day read which reports are queued already and write nothing.
    made = set()
    names = list(keys)
    for n in range(0, len(names), 500):
        made |= set(Job.objects.filter(key__in=names[n:n + 500]).values_list("key", flat=True))
    for key, (store, day) in keys.items():
        if key not in made:
            Job.objects.enqueue(DailyReport, key=key, store=store, payload={"day": day.isoformat()})


def report_window(store: Store, day: dt.date) -> tuple[dt.datetime, dt.datetime]:
    """The REPORT_DAYS store days ending with `day` (Store.zone), as aware instants [since, until): a payment made a
    minute before the store's midnight is in that day's report, one a minute after in the next one's."""
    zone = store.zone
    return (dt.datetime.combine(day - timedelta(days=REPORT_DAYS - 1), dt.time.min, tzinfo=zone),
            dt.datetime.combine(day + timedelta(days=1), dt.time.min, tzinfo=zone))


@register_job_kind
class DailyReport(PaymentJob):
    """Orders the shop thinks unpaid though the gateway was paid, and the reverse: orders at the owner's paid status
    (or our extension's orders in a processing/complete status) whose payments the gateway never confirmed."""

    kind = "payments.daily_report"

    def run(self, job) -> None:
        from ocbridge.integrations.payments.models import ReconciliationReport

        store = job.store
        day = dt.date.fromisoformat(job.payload["day"])
        since, until = report_window(store, day)
        rows = build_report(store, since=since, until=until)
        ReconciliationReport.objects.update_or_create(store=store, day=day, defaults={
            "gateway_paid_shop_unpaid": rows["gateway_paid_shop_unpaid"],
            "shop_paid_gateway_unpaid": rows["shop_paid_gateway_unpaid"], "checked": rows["checked"],
            "created": clock.now()})


def build_report(store: Store, *, since: dt.datetime, until: dt.datetime) -> dict:
    """Compare the payments made in [since, until) with the shop's order statuses (read by primary key)."""
    import sqlalchemy as sa

    from ocbridge.opencart import shop_db, statuses

    payments = list(Payment.objects.filter(store=store, created__gte=since, created__lt=until)
                    .select_related("integration"))
    by_order: dict[int, list[Payment]] = {}
    for p in payments:
        by_order.setdefault(p.order_id, []).append(p)
    shop = shop_db(store)
    live = statuses.read_settings(shop, store.oc_store_id).live
    t = shop.t("order")
    found: dict[int, int] = {}
    ids = sorted(by_order)
    with shop.engine.connect() as conn:
        for start in range(0, len(ids), 500):
            chunk = ids[start:start + 500]
            found.update(conn.execute(sa.select(t.c.order_id, t.c.order_status_id).where(t.c.order_id.in_(chunk))).all())
    gateway_paid, shop_paid = [], []
    for order_id, pays in sorted(by_order.items()):
        status = found.get(order_id)
        if status is None:
            continue
        money = [p for p in pays if p.state in MONEY_STATES]
        cfgs = {PaymentConfig.from_settings(p.integration.settings).paid_status_id for p in pays}
        # the owner's paid status, or any live status the order reached after its payment began (shipped…)
        paid_in_shop = status in cfgs or (status in live and status not in {p.shop_status for p in pays})
        if money and not paid_in_shop:
            p = money[-1]
            gateway_paid.append({"order_id": order_id, "reference": p.reference, "amount": str(p.amount),
                                 "currency": p.currency, "status": status})
        elif not money and status in cfgs and not any(p.state in (S.REFUNDED, S.VOIDED) for p in pays):
            p = pays[-1]
            shop_paid.append({"order_id": order_id, "reference": p.reference, "state": p.state, "status": status})
    return {"gateway_paid_shop_unpaid": gateway_paid, "shop_paid_gateway_unpaid": shop_paid, "checked": len(by_order)}


# --- pay by link by rule: new orders with the owner's payment methods get a link by e-mail ------------------


def on_new_order(integration: Integration, order) -> None:
    """The shared order feed hands every new order (past checkout) here; orders paid by one of the owner's payment
    method codes get a pay link (keyed by the order: once)."""
    codes = PaymentConfig.from_settings(integration.settings).link_payment_codes
    if codes and (order.payment_code or "").lower() in codes:
        Job.objects.enqueue(RuleLink, key=f"payments:rule:{integration.store_id}:order-{order.order_id}",
                            integration=integration, payload={"order_id": order.order_id})


for _kind in ("aps", "latitudepay"):
    register_order_consumer(_kind)(on_new_order)
    register_pay_link_maker(_kind)(links.pay_link)


@register_job_kind
class RuleLink(PaymentJob):
    """Make the order's payment and e-mail its link in the order's language (core.mail: one mail per payment)."""

    kind = "payments.rule_link"

    def run(self, job) -> None:
        integration, order_id = job.integration, int(job.payload["order_id"])
        if integration is None or not integration.enabled:
            return
        store = integration.store
        order = opencart.read_order(store, order_id)
        if order is None:
            raise TerminalError("opencart", "unknown_order", no_order(order_id))
        about_order(order_id)
        language = opencart.order_language(store, order) or store.language
        payment = links.new_payment(integration, order_id=order_id, amount=order.total * (order.currency_value or 1),
                                    currency=order.currency_code, email=order.email, language=language,
                                    origin="rule", attempt=1, actor="rule")
        installments.prefetch(payment)  # before the mail: the customer's page then lists them without asking APS
        mail_link(payment, order, actor="rule")


def mail_link(payment: Payment, order, *, actor: str) -> None:
    """E-mail the payment's link to the order's address in the payment's language (core.mail: once per payment);
    no address or no mail server: noted on the payment, whose page shows the link."""
    from django.utils import translation
    from django.utils.translation import gettext as _

    from ocbridge.core import mail

    store = payment.store
    if not order.email:
        ledger.note(payment, Sentence(gettext_noop("no e-mail address on the order: the link is on the payment's page")),
                    actor=actor)
        return
    with translation.override(payment.language if payment.language in links.LANGUAGES else "en"):
        subject = _("Pay for order %(order)s") % {"order": payment.order_shown}
        values = {"name": order.firstname, "amount": payment.amount, "currency": payment.currency,
                  "order": payment.order_shown, "until": payment.expires_at.strftime("%Y-%m-%d %H:%M")}
        body = "\n\n".join([  # one message per line: the catalogs keep no line breaks
            _("Hello %(name)s,") % values,
            _("you can pay %(amount)s %(currency)s for order %(order)s on the payment provider's secure page:")
            % values + "\n" + links.url_for(payment),
            _("The link works until %(until)s (UTC).") % values])
    try:
        mail.queue(f"payments:{payment.pk}:link-mail", to=order.email, subject=subject, body=body, store=store)
    except (mail.MailNotSet, ValueError) as exc:  # no server, or not a usable address: a person sends it
        ledger.note(payment, Sentence(gettext_noop("not e-mailed ({error}): the link is on the payment's page"),
                                      error=ledger.error_of(exc)), actor=actor)
        return
    ledger.note(payment, Sentence(gettext_noop("pay link e-mailed to {email}"), email=order.email), actor=actor)


@register_job_kind
class MailLink(PaymentJob):
    """A pay link made on the order's page, e-mailed to the order's address (the order re-read from the shop)."""

    kind = "payments.mail_link"

    def run(self, job) -> None:
        payment = Payment.objects.select_related("store").filter(pk=job.payload["payment_id"]).first()
        if payment is None or payment.state not in OPEN_STATES:
            return
        about_order(payment.order_id)
        order = opencart.read_order(payment.store, payment.order_id)
        if order is None:
            raise TerminalError("opencart", "unknown_order", no_order(payment.order_id))
        installments.prefetch(payment)
        mail_link(payment, order, actor=job.payload.get("actor") or "operator")


@register_job_kind
class FetchPlans(PaymentJob):
    """The banks' installment plans for a store's open payments in one currency that have none kept (queued by the
    customer's pay page, which never asks APS itself, and after a link made on the dashboard)."""

    kind = "payments.fetch_plans"

    def run(self, job) -> None:
        integration = job.integration
        if integration is None or not integration.enabled:
            return
        currency = job.payload.get("currency")
        if currency is None:  # queued by an older hub for one payment
            payment = Payment.objects.filter(pk=job.payload.get("payment_id")).first()
            if payment is None:
                return
            currency = payment.currency
        installments.fetch_missing(integration, currency)
