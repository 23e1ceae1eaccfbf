"""Pay by link end to end on MariaDB 3.0 and 4.0 shops ↔ jobs ↔ the APS simulator over HTTP ↔ the hub's live
server: paid, declined, cancelled, on hold then released; forged and replayed feedback refused; the return page
never decides; 3-decimal currencies in minor units; refunds (part, full, over the captured amount), capture and
void, each made once — also when the gateway's answer is lost."""

from __future__ import annotations

import pytest

from ocbridge.core.models import Exchange, Job, SideEffect
from ocbridge.integrations.payments import links, operations
from ocbridge.integrations.payments.models import OperationState, Payment, PaymentEvent, PaymentNotice

pytestmark = pytest.mark.django_db(transaction=True)


def _link(bed, order_id, total="20.00", currency="AED", **kw):
    bed.add_order(order_id, total=total, currency=currency)
    payment = links.new_payment(bed.integration, order_id=order_id, amount=total, currency=currency,
                                email="layla@example.com", language=kw.pop("language", "ar"), **kw)
    return payment, links.url_for(payment)


@pytest.mark.parametrize("version", ["3.0", "4.0"])
def test_paid_by_link_sets_the_owners_paid_status_once(aps_bed, version):
    bed = aps_bed(version)
    payment, link = _link(bed, 501)
    back = bed.customer_pays(link)
    assert back.status_code == 200 and 'dir="rtl"' in back.text and 'lang="ar"' in back.text
    assert "تم استلام الدفعة" in back.text or "نقوم بتأكيد دفعتك" in back.text  # paid, or still being confirmed
    bed.settle()
    payment.refresh_from_db()
    assert payment.state == "paid" and payment.amount_minor == 2000 and payment.captured_minor == 2000
    assert bed.order_status(501) == 2
    paid = [c for s, c in bed.history(501) if "Paid" in c]
    assert len(paid) == 1 and payment.reference in paid[0] and "20.00 AED" in paid[0]
    tx = bed.sim.transactions()[payment.reference]
    assert tx["amount"] == 2000 and tx["form"]["merchant_reference"] == payment.reference
    assert len(payment.reference) <= 40 and payment.reference.isalnum()
    assert SideEffect.objects.get(key=payment.key).correlation == int(payment.reference)
    # every state change audited, the paid one linked to the Exchange that decided it: the inbound feedback, or
    # the status check the return page asked for (whichever came first)
    ev = PaymentEvent.objects.get(payment=payment, to_state="paid")
    assert (ev.actor, ev.exchange.direction, ev.exchange.purpose) in (
        ("gateway", "in", "aps.feedback"), ("status check", "out", "aps.check_status"))
    # the link opened again shows the outcome and hands nobody to the gateway a second time
    import httpx

    pages = len(bed.sim.requests("/FortAPI/paymentPage"))
    again = httpx.get(link + "?lang=en")
    assert again.status_code == 200 and "Payment received" in again.text and "Continue to payment" not in again.text
    assert len(bed.sim.requests("/FortAPI/paymentPage")) == pages


def test_declined_and_cancelled_payments_are_recorded_and_the_shop_is_untouched(aps_bed):
    bed = aps_bed("3.0")
    p1, l1 = _link(bed, 502, language="en")
    p2, l2 = _link(bed, 503, language="tr")
    r1 = bed.customer_pays(l1, "decline")
    r2 = bed.customer_pays(l2, "cancel")
    bed.settle()
    p1.refresh_from_db(), p2.refresh_from_db()
    assert (p1.state, p2.state) == ("failed", "cancelled")
    assert "did not go through" in r1.text and 'lang="tr"' in r2.text
    assert bed.order_status(502) == 1 and bed.history(502) == [(1, "")]


def test_forged_and_replayed_feedback_are_refused_and_never_mark_paid(aps_bed):
    bed = aps_bed("3.0")
    payment, link = _link(bed, 504)
    bed.customer_pays(link, "decline")
    bed.settle()
    bed.sim.forge_feedback(payment.reference, "14000", amount=2000)
    bed.settle()
    payment.refresh_from_db()
    assert payment.state == "failed"
    forged = Exchange.objects.filter(direction="in", purpose="aps.feedback", outcome="rejected")
    assert forged.count() >= 1  # APS sends again after a refusal; each attempt is refused
    assert all(x.status == 400 and "signature" in x.error for x in forged)
    bed.sim.replay_feedback(payment.reference)
    bed.sim.replay_feedback(payment.reference)
    bed.settle()
    assert PaymentNotice.objects.filter(payment=payment).count() == 1  # replays stored once, as the same notice
    replays = Exchange.objects.filter(direction="in", purpose="aps.feedback", response_body="duplicate")
    assert replays.count() == 2
    # stored with the job they ask for (core.inbox); the worker found it made already: noted on each, applied once
    assert all(x.error == "1 duplicate delivery: already queued" and x.job_id for x in replays)
    notice_job = Job.objects.get(key=f"payments:notice:{PaymentNotice.objects.get(payment=payment).dedupe}")
    assert {x.job_id for x in replays} == {notice_job.pk} and notice_job.attempts == 1


def test_an_apply_job_queued_by_the_request_before_the_webhook_queue_still_applies_its_notice(aps_bed):
    """Before notices went through core.inbox the request queued the apply job itself, naming the notice by id
    (payload notice_id): such a job still queued at an upgrade applies its notice, once."""
    bed = aps_bed("3.0")
    payment, link = _link(bed, 506)
    bed.customer_pays(link)
    bed.sim.webhooks.flush()
    bed.sim.wait_idle(5)
    stored = Exchange.objects.get(direction="in", purpose="aps.feedback")
    notice = PaymentNotice.objects.get(payment=payment)
    assert stored.pending_jobs and notice.exchange_id == stored.pk
    Exchange.objects.filter(pk=stored.pk).update(pending_jobs=None)  # as before: no job waits in the row ...
    old = Job.objects.enqueue("payments.apply_notice", key=f"payments:notice:{notice.pk}",  # ... the request made it
                              integration=bed.integration, payload={"notice_id": notice.pk})
    bed.settle()
    old.refresh_from_db(), notice.refresh_from_db(), payment.refresh_from_db()
    assert (old.state, old.attempts, notice.applied, payment.state) == ("done", 1, True, "paid")
    assert not Job.objects.filter(kind="payments.apply_notice").exclude(pk=old.pk).exists()
    assert PaymentEvent.objects.filter(payment=payment, to_state="paid").count() == 1


def test_feedback_with_another_amount_is_refused(aps_bed, client):
    """A correctly signed feedback for our reference but another amount (a tampered form) never marks paid."""
    from ocbridge.simulators.aps import sign

    bed = aps_bed("3.0")
    payment, _link_url = _link(bed, 505)
    params = {"command": "PURCHASE", "merchant_reference": payment.reference, "amount": "100", "currency": "AED",
              "response_code": "14000", "status": "14", "fort_id": "99", "response_message": "Success",
              "access_code": "SILgpo7pWbmzuURp2qri", "merchant_identifier": "MxvOupuG"}
    params["signature"] = sign(params, "RESP")
    from urllib.parse import urlencode

    resp = client.post(f"/hooks/aps/{bed.connection.webhook_token}/feedback", data=urlencode(params),
                       content_type="application/x-www-form-urlencoded")
    assert resp.status_code == 200
    bed.settle()
    payment.refresh_from_db()
    assert payment.state == "created" and bed.order_status(505) == 1
    assert PaymentEvent.objects.filter(payment=payment, what__startswith="refused").exists()


def test_return_page_alone_never_marks_paid_the_status_check_does(aps_bed):
    """The direct feedback is lost (our endpoint down): the return page asks for a status check, which decides."""
    bed = aps_bed("4.0")
    payment, link = _link(bed, 506)
    bed.sim.configure(feedback_url="", notification_url="")  # nothing reaches the hub but the browser
    back = bed.customer_pays(link)
    payment.refresh_from_db()
    assert payment.state == "pending"  # the signed return parameters alone decide nothing
    assert "confirming" in back.text or "تأكيد" in back.text or back.status_code == 200
    bed.settle()
    payment.refresh_from_db()
    assert payment.state == "paid" and bed.order_status(506) == 2
    assert PaymentEvent.objects.get(payment=payment, to_state="paid").actor == "status check"


def test_on_hold_payment_stays_pending_until_the_notification(aps_bed):
    bed = aps_bed("3.0")
    payment, link = _link(bed, 507)
    bed.customer_pays(link, "hold")
    bed.settle()
    payment.refresh_from_db()
    assert payment.state == "pending" and bed.order_status(507) == 1
    bed.sim.release(payment.reference, "pay")
    bed.settle()
    payment.refresh_from_db()
    assert payment.state == "paid" and bed.order_status(507) == 2


def test_three_decimal_currency_in_minor_units(aps_bed):
    bed = aps_bed("3.0")
    payment, link = _link(bed, 508, total="12.3456", currency="KWD")
    assert payment.amount_minor == 12346
    bed.customer_pays(link)
    bed.settle()
    payment.refresh_from_db()
    assert payment.state == "paid" and bed.sim.transactions()[payment.reference]["amount"] == 12346
    assert any("12.346 KWD" in c for _s, c in bed.history(508))


def test_expired_and_altered_links_are_refused(aps_bed):
    from datetime import timedelta

    import httpx

    from ocbridge.core import clock

    bed = aps_bed("3.0")
    payment, link = _link(bed, 509)
    assert httpx.get(link[:-3] + "abc/").status_code == 404
    Payment.objects.filter(pk=payment.pk).update(expires_at=clock.now() - timedelta(seconds=1))
    resp = httpx.get(link)
    assert resp.status_code == 410 and not bed.sim.requests("/FortAPI/paymentPage")


def test_refunds_part_then_full_and_over_captured_refused_before_any_call(aps_bed):
    bed = aps_bed("4.0")
    payment = bed.paid_payment(510)
    operations.request(payment, "refund", 500, sequence=1, reason="one mug broken", user="owner")
    operations.request(payment, "refund", 500, sequence=1, reason="one mug broken", user="owner")  # double click
    bed.settle()
    payment.refresh_from_db()
    assert payment.refunded_minor == 500 and payment.state == "paid"
    calls = [r for r in bed.sim.requests("/FortAPI/paymentApi") if (r.json() or {}).get("command") == "REFUND"]
    assert len(calls) == 1
    with pytest.raises(operations.OperationRefused):
        operations.request(payment, "refund", 1501, sequence=2, reason="too much", user="owner")
    assert len([r for r in bed.sim.requests("/FortAPI/paymentApi") if (r.json() or {}).get("command") == "REFUND"]) == 1
    operations.request(payment, "refund", 1500, sequence=2, reason="customer returned the rest", user="owner")
    bed.settle()
    payment.refresh_from_db()
    assert payment.state == "refunded" and payment.refunded_minor == 2000
    assert bed.sim.transactions()[payment.reference]["refunded"] == 2000
    comments = [c for _s, c in bed.history(510) if c.startswith("Refunded")]
    assert len(comments) == 2 and "5.00 AED" in comments[0] and payment.reference in comments[0]
    assert bed.order_status(510) == 11  # the owner's refunded status after the full refund


def test_an_operation_waiting_for_an_earlier_one_says_so_in_each_readers_language(aps_bed):
    """Two refunds of one payment: the second one's job, run first, waits for the first (one operation of a payment
    at the gateway at a time); its row on the jobs list and its page say why in the reader's language. A Turkish
    worker."""
    from django.utils import translation

    from testkit import assert_job_reads
    from ocbridge.core.jobs import run_job

    bed = aps_bed("3.0")
    payment = bed.paid_payment(513)
    operations.request(payment, "refund", 500, sequence=1, reason="one mug broken", user="owner")
    second = operations.request(payment, "refund", 500, sequence=2, reason="another mug broken", user="owner")
    with translation.override("tr"):
        job = run_job(Job.objects.get(key=second.key).pk)
    assert job.state == "queued" and job.attempts == 0
    assert_job_reads(job, {"en": "waiting for an earlier operation of this payment",
                           "tr": "bu ödemenin önceki bir işlemi bekleniyor",
                           "ru": "ожидание более ранней операции этого платежа"})


def test_refund_whose_answer_is_lost_is_asked_about_not_resent(aps_bed):
    bed = aps_bed("3.0")
    payment = bed.paid_payment(511)
    bed.sim.fail_next("500", path="/FortAPI/paymentApi", after=True)  # carried out, answer lost
    op = operations.request(payment, "refund", 700, sequence=1, reason="late delivery", user="owner")
    bed.settle()
    op.refresh_from_db(), payment.refresh_from_db()
    assert op.state == OperationState.DONE and payment.refunded_minor == 700
    assert bed.sim.transactions()[payment.reference]["refunded"] == 700  # once at the gateway
    refunds = [r for r in bed.sim.requests("/FortAPI/paymentApi") if (r.json() or {}).get("command") == "REFUND"]
    assert len(refunds) == 1


class Killed(BaseException):
    """What SIGKILL does to a run, in-process: it stops where it is, records nothing, its claim stays."""


def test_refund_whose_worker_died_before_its_request_left_is_asked_about_then_sent_once(aps_bed, monkeypatch):
    """The crash run's case: a worker killed after it began the refund (outbox row "sending") but before the request
    reached APS. Once the dead run's claim has ended, the next run asks APS (CHECK_STATUS), learns it never arrived
    and sends it — once, with the same maintenance reference — instead of leaving the refund unknown for good."""
    from ocbridge.core import clock
    from ocbridge.core.jobs import JobKind, run_until_idle
    from ocbridge.integrations.payments.gateways import ApsGateway

    bed = aps_bed("3.0")
    payment = bed.paid_payment(512)
    real, hit = ApsGateway.operate, []

    def dies_before_sending(self, *args, **kwargs):
        if not hit:
            hit.append(1)
            raise Killed()
        return real(self, *args, **kwargs)

    monkeypatch.setattr(ApsGateway, "operate", dies_before_sending)
    op = operations.request(payment, "refund", 700, sequence=1, reason="late delivery", user="owner")
    with pytest.raises(Killed):
        run_until_idle()
    assert SideEffect.objects.get(key=op.key).state == "sending"
    bed.settle()  # the dead run still holds its claim: nothing is sent meanwhile
    assert not [r for r in bed.sim.requests("/FortAPI/paymentApi") if (r.json() or {}).get("command") == "REFUND"]
    clock.travel(JobKind.claim_seconds + 1)
    bed.settle()
    op.refresh_from_db(), payment.refresh_from_db()
    assert op.state == OperationState.DONE and payment.refunded_minor == 700
    assert bed.sim.transactions()[payment.reference]["refunded"] == 700
    refunds = [r for r in bed.sim.requests("/FortAPI/paymentApi") if (r.json() or {}).get("command") == "REFUND"]
    assert len(refunds) == 1 and refunds[0].json()["maintenance_reference"] == str(SideEffect.objects.get(
        key=op.key).correlation)
    assert len([c for _s, c in bed.history(512) if c.startswith("Refunded")]) == 1


def test_authorisation_capture_part_and_void(aps_bed):
    bed = aps_bed("3.0", command="AUTHORIZATION")
    p1, l1 = _link(bed, 512)
    p2, l2 = _link(bed, 513)
    bed.customer_pays(l1)
    bed.customer_pays(l2)
    bed.settle()
    p1.refresh_from_db(), p2.refresh_from_db()
    assert (p1.state, p2.state) == ("authorised", "authorised")
    assert bed.order_status(512) == 2
    operations.request(p1, "capture", 1200, sequence=1, reason="shipped part", user="op")
    operations.request(p2, "void", 0, sequence=1, reason="out of stock", user="op")
    bed.sim.hold_next_maintenance()  # the first answer says "uncertain" though APS carried it out
    bed.settle()
    p1.refresh_from_db(), p2.refresh_from_db()
    assert p1.state == "paid" and p1.captured_minor == 1200
    assert p2.state == "voided"
    assert bed.sim.transactions()[p1.reference]["captured"] == 1200
    captures = [r for r in bed.sim.requests("/FortAPI/paymentApi") if (r.json() or {}).get("command") == "CAPTURE"]
    assert len(captures) == 1
    with pytest.raises(operations.OperationRefused):
        operations.request(p1, "refund", 1300, sequence=1, reason="more than captured", user="op")


def test_settings_test_checks_credentials_without_charging(aps_bed):
    from ocbridge.integrations.payments.jobs import check_connection

    bed = aps_bed("3.0")
    result = check_connection(bed.connection)
    assert result["ok"] and "12036" in result["message"] and not bed.sim.transactions()
    bed.connection.secret = {**bed.connection.secret, "sha_request_phrase": "WRONG"}
    bed.connection.save()
    result = check_connection(bed.connection)
    assert not result["ok"] and "Signature mismatch" in result["message"]


def test_daily_report_lists_both_kinds_of_mismatch(aps_bed, admin_client):
    """Deliver 6: gateway paid but the shop not (the owner set the order back), and the reverse (the owner marked an
    order paid whose payment failed)."""
    from ocbridge.core import clock
    from ocbridge.core.jobs import run_job
    from ocbridge.core.models import Job
    from ocbridge.integrations.payments.jobs import DailyReport
    from ocbridge.integrations.payments.models import ReconciliationReport
    from ocbridge.opencart import write_history

    bed = aps_bed("3.0")
    p1, l1 = _link(bed, 520)
    p2, l2 = _link(bed, 521)
    p3, l3 = _link(bed, 522)
    bed.customer_pays(l1)
    bed.customer_pays(l2, "decline")
    bed.customer_pays(l3)
    bed.settle()
    assert bed.order_status(520) == 2 and bed.order_status(522) == 2
    write_history(bed.store, 520, expected=2, new=1, comment="owner: back to pending")
    write_history(bed.store, 521, expected=1, new=2, comment="owner: paid by bank, he says")
    today = clock.now().astimezone(bed.store.zone).date()  # the store's day the payments were made in
    job = Job.objects.enqueue(DailyReport, key="test:report", store=bed.store, payload={"day": today.isoformat()})
    run_job(job.pk)
    report = ReconciliationReport.objects.get(store=bed.store)
    assert [r["order_id"] for r in report.gateway_paid_shop_unpaid] == [520]
    assert [r["order_id"] for r in report.shop_paid_gateway_unpaid] == [521]
    assert report.checked == 3
    page = admin_client.get("/payments/").content.decode()
    assert "Order 520: 20.00 AED" in page and f"Order 521, reference {p2.reference}" in page


def test_rule_new_bank_transfer_orders_get_a_pay_link_by_mail_once(aps_bed, hub_mail):
    """Deliver 2, "by a rule such as payment method X": the shared order feed hands a new order paid by a chosen
    method to payments, which makes its payment and e-mails the link (once, however often the feed repeats)."""
    from ocbridge import opencart

    bed = aps_bed("3.0", link_payment_codes=["ocbridge"])
    opencart.poll_new_orders(bed.store)  # the feed's first poll only sets its position
    bed.add_order(530, total="75.00", currency="AED")
    opencart.poll_new_orders(bed.store)
    bed.settle()
    opencart.poll_new_orders(bed.store)
    bed.settle()
    payment = Payment.objects.get(order_id=530)
    assert (payment.origin, payment.amount_minor) == ("rule", 7500)
    assert len(hub_mail.messages) == 1
    import re

    msg = hub_mail.messages[0]
    body = msg.get_payload(decode=True).decode() if not msg.is_multipart() else msg.get_body().get_content()
    assert msg["To"] == "layla@example.com" and "75.00 AED" in body
    link = re.search(r"(http\S+/pay/\S+/)", body).group(1)
    assert links.payment_of(link.split("/pay/")[1].rstrip("/")) == payment  # the mailed link is this payment's
    bed.customer_pays(link)
    bed.settle()
    payment.refresh_from_db()
    assert payment.state == "paid" and bed.order_status(530) == 2


def test_an_idle_status_check_round_writes_nothing(aps_bed):
    """The reconcile round (every payment without a final answer whose next check is due gets a status check) runs
    often: while no check is due it only reads; a due one becomes one job, once per slot."""
    from datetime import timedelta

    from testkit import HubWrites

    from ocbridge.core import clock
    from ocbridge.core.models import Job
    from ocbridge.integrations.payments import jobs

    bed = aps_bed("3.0")
    payment, _ = _link(bed, 520)
    Payment.objects.filter(pk=payment.pk).update(next_check_at=clock.now() + timedelta(minutes=5))
    Job.objects.all().delete()
    with HubWrites() as w:
        jobs.reconcile()
        jobs.reconcile()
    assert w.sql == [] and not Job.objects.exists()
    clock.travel(301)
    jobs.reconcile()
    jobs.reconcile()
    assert Job.objects.filter(kind=jobs.CheckPayment.kind).count() == 1


def test_try_again_after_a_declined_card_makes_the_next_attempt_once(aps_bed):
    """Seen on a real OpenCart checkout: the return page said "try again with the same link", but the link of a failed
    payment only showed the failure again. "Try again" (a form on that page, CSRF-protected) makes the order's next
    attempt — one, however often it is clicked — and hands the customer to the gateway again."""
    import re

    import httpx

    bed = aps_bed("3.0")
    payment, link = _link(bed, 540, language="en")
    bed.customer_pays(link, "decline")
    bed.settle()
    payment.refresh_from_db()
    assert payment.state == "failed"
    page = httpx.get(link)  # the same link again: the failure, and the way out of it
    assert "did not go through" in page.text and 'id="try-again"' in page.text
    action = re.search(r'<form method="post" action="([^"]+)" id="try-again">', page.text).group(1)
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)
    with httpx.Client(base_url=bed.hub, cookies=page.cookies) as web:
        assert web.post(action).status_code == 403  # no CSRF token: refused
        first = web.post(action, data={"csrfmiddlewaretoken": token})
        second = web.post(action, data={"csrfmiddlewaretoken": token})  # a second click
    assert first.status_code == second.status_code == 302
    again = Payment.objects.get(order_id=540, state="created")
    for answer in (first, second):  # both clicks lead to the one new attempt (a token carries its signing time)
        assert links.payment_of(answer.headers["location"].rstrip("/").rsplit("/", 1)[1]) == again
    assert again.reference != payment.reference and again.amount_minor == 2000 and again.origin == payment.origin
    assert Payment.objects.filter(order_id=540).count() == 2
    bed.customer_pays(first.headers["location"])
    bed.settle()
    again.refresh_from_db()
    assert again.state == "paid" and bed.order_status(540) == 2


def test_no_try_again_once_the_link_expired(aps_bed):
    import datetime as dt

    import httpx

    bed = aps_bed("3.0")
    payment, link = _link(bed, 541, language="en")
    bed.customer_pays(link, "cancel")
    bed.settle()
    Payment.objects.filter(pk=payment.pk).update(expires_at=payment.created - dt.timedelta(hours=1))
    page = httpx.get(link)
    assert "cancelled" in page.text and 'id="try-again"' not in page.text and "ask the shop for a new link" in page.text
    from django.test import Client

    r = Client().post(link.replace(bed.hub, "") + "again")
    assert r.status_code == 302 and Payment.objects.filter(order_id=541).count() == 1


@pytest.mark.parametrize("version", ["3.0", "4.0"])
def test_customer_pages_name_the_order_as_the_customer_knows_it_and_link_to_its_storefront(aps_bed, version):
    """The order's number as the store labels it (with the invoice number once the shop made one), and "Back to the
    shop" to the storefront the order was placed on (OpenCart's order.store_url), never the native API's address."""
    import httpx

    bed = aps_bed(version)
    bed.store.order_prefix, bed.store.api_url = "GS-", "https://api.gulf-shop.example/"
    bed.store.save()
    bed.add_order(531, store_url="https://second-store.example/", invoice=("INV-2026-00", 7))
    payment = links.new_payment(bed.integration, order_id=531, amount="20.00", currency="AED", language="en")
    link = links.url_for(payment)
    assert "Order GS-531 (INV-2026-007): 20.00 AED" in httpx.get(link).text
    back = bed.customer_pays(link + "?lang=en")
    assert 'href="https://second-store.example/"' in back.text and "api.gulf-shop" not in back.text
    bed.settle()
    assert "Order GS-531 (INV-2026-007) is paid" in httpx.get(link + "?lang=en").text
