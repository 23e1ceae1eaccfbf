"""APS merchant page and installments end to end on MariaDB 3.0 and 4.0 shops ↔ the APS simulator over HTTP ↔ the
hub's live server: the card typed on APS's page in the pay page's iframe, the signed tokenization answer at the
hub, the purchase host to host once (3-D Secure, declines, on hold, a lost answer), forged and replayed answers
refused; installments standalone (APS's page picks the plan) and hosted (the pay page lists the banks' plans), the
plan recorded and shown. Checked only against the simulator (tests/contracts/test_aps.py names the sources)."""

from __future__ import annotations

import re

import httpx
import pytest

from ocbridge.core.models import Exchange, Job, SideEffect
from ocbridge.integrations.payments import links
from ocbridge.integrations.payments.models import Payment, PaymentEvent

from paykit import hidden_fields, merchant_pays, top_url

pytestmark = pytest.mark.django_db(transaction=True)


def _link(bed, order_id, total="20.00", currency="AED", language="en"):
    bed.add_order(order_id, total=total, currency=currency)
    payment = links.new_payment(bed.integration, order_id=order_id, amount=total, currency=currency,
                                email="layla@example.com", language=language)
    return payment, links.url_for(payment)


def _pay_page_of(url: str) -> int:
    """The payment whose pay page `url` is (tokens carry their signing time, so compare what they name)."""
    return links.payment_of(re.search(r"/pay/([^/]+)/(\?|$)", url).group(1), for_paying=False).pk


def _card_answer(bed, web: httpx.Client, link: str) -> str:
    """The card typed on APS's page: the signed tokenization answer's URL at the hub, not yet opened."""
    page = web.get(link)
    card_page = web.post(bed.sim.base_url + "/FortAPI/paymentPage", data=hidden_fields(page.text))
    token = re.search(r"name=page value=([^\s>]+)>", card_page.text).group(1)
    back = web.post(bed.sim.base_url + "/FortAPI/paymentPage/tokenize",
                    data={"page": token, "card_number": "4111111111111111", "expiry_date": "3012"})
    return back.headers["location"]


def _purchases(bed) -> list[dict]:
    return [r.json() for r in bed.sim.requests("/FortAPI/paymentApi")
            if (r.json() or {}).get("command") in ("PURCHASE", "AUTHORIZATION")]


@pytest.mark.parametrize("version", ["3.0", "4.0"])
def test_paid_through_the_merchant_page_once(aps_bed, version):
    bed = aps_bed(version, integration_type="merchant_page")
    payment, link = _link(bed, 601)
    step = merchant_pays(bed, link)
    assert step.status_code == 200 and _pay_page_of(top_url(step)) == payment.pk  # to the pay page, out of the iframe
    assert step.headers.get("X-Frame-Options") == "SAMEORIGIN"  # shown inside the pay page's own iframe
    bed.settle()
    payment.refresh_from_db()
    assert payment.state == "paid" and payment.captured_minor == 2000 and bed.order_status(601) == 2
    purchase = _purchases(bed)
    assert len(purchase) == 1 and purchase[0]["merchant_reference"] == payment.reference
    assert purchase[0]["amount"] == "2000" and purchase[0]["customer_ip"] == "127.0.0.1"
    assert len([c for _s, c in bed.history(601) if c.startswith("Paid")]) == 1
    # the paid state came from the feedback or the status check, never from the purchase answer
    assert PaymentEvent.objects.get(payment=payment, to_state="paid").actor in ("gateway", "status check")
    assert SideEffect.objects.get(key=f"{payment.key}:purchase").state == "sent"
    # the pay page opened again only shows the outcome
    again = httpx.get(link)
    assert "Payment received" in again.text and "card-form" not in again.text
    # neither the token nor the card is kept anywhere
    tokenization = Exchange.objects.get(purpose="aps.tokenization")
    assert "token_name=%2A%2A" in tokenization.url and "card_number=%2A%2A" in tokenization.url
    assert not Exchange.objects.filter(request_body__contains="4111111111111111").exists()


def test_declined_card_fails_and_the_shop_is_untouched(aps_bed):
    bed = aps_bed("3.0", integration_type="merchant_page")
    payment, link = _link(bed, 602)
    step = merchant_pays(bed, link, card="4000000000000002")
    page = httpx.get(top_url(step))
    assert "did not go through" in page.text  # APS's answer shown; the feedback records it
    bed.settle()
    payment.refresh_from_db()
    assert payment.state == "failed" and bed.order_status(602) == 1 and bed.history(602) == [(1, "")]


def test_forged_and_replayed_tokenization_answers_send_nothing_more(aps_bed, client):
    from urllib.parse import urlencode

    from ocbridge.simulators.aps import sign

    bed = aps_bed("4.0", integration_type="merchant_page")
    payment, link = _link(bed, 603)
    token = links.token_for(payment)
    forged = {"service_command": "TOKENIZATION", "merchant_reference": payment.reference, "response_code": "18000",
              "status": "18", "token_name": "stolen", "access_code": bed.sim.access_code,
              "merchant_identifier": bed.sim.merchant_identifier, "language": "en"}
    forged["signature"] = sign(forged, "not-the-phrase")
    resp = client.post(f"/pay/{token}/card", data=urlencode(forged), content_type="application/x-www-form-urlencoded")
    assert resp.status_code == 400 and not _purchases(bed)
    rejected = Exchange.objects.get(purpose="aps.tokenization")
    assert rejected.outcome == "rejected" and "not signed" in rejected.error
    other = {**forged, "merchant_reference": "999"}  # APS-signed, but for another payment
    other["signature"] = sign(other, "RESP")
    assert client.post(f"/pay/{token}/card", data=urlencode(other),
                       content_type="application/x-www-form-urlencoded").status_code == 400
    with httpx.Client(timeout=10) as web:
        step = merchant_pays(bed, link, web=web)
        replay = web.get(step.answer_url)  # the same signed answer again (reload, or replayed)
    assert replay.status_code == 200 and 'id="processing"' not in replay.text and len(_purchases(bed)) == 1
    bed.settle()
    payment.refresh_from_db()
    assert payment.state == "paid" and len(_purchases(bed)) == 1


def test_three_d_secure_then_paid(aps_bed):
    bed = aps_bed("3.0", integration_type="merchant_page", command="AUTHORIZATION")
    payment, link = _link(bed, 604, language="ar")
    step = merchant_pays(bed, link, card="4000000000003220")
    url = top_url(step)
    assert url.startswith(bed.sim.base_url + "/FortAPI/3ds/")
    payment.refresh_from_db()
    assert payment.state == "pending"
    with httpx.Client(timeout=10) as web:
        web.get(url)
        back = web.post(url + "/decide", data={"decision": "pass"})
        location = back.headers["location"]
        assert back.status_code == 302 and "/return?" in location and _pay_page_of(location.replace("/return?", "/?")) == payment.pk
        shown = web.get(back.headers["location"])
    assert 'dir="rtl"' in shown.text
    bed.settle()
    payment.refresh_from_db()
    assert payment.state == "authorised" and bed.order_status(604) == 2 and len(_purchases(bed)) == 1


def test_lost_purchase_answer_is_asked_about_never_resent(aps_bed):
    bed = aps_bed("4.0", integration_type="merchant_page")
    payment, link = _link(bed, 605)
    bed.sim.configure(feedback_url="", notification_url="")  # only the status check can tell
    bed.sim.fail_next("500", path="/FortAPI/paymentApi", after=True)  # carried out, answer lost
    step = merchant_pays(bed, link)
    assert _pay_page_of(top_url(step)) == payment.pk
    assert SideEffect.objects.get(key=f"{payment.key}:purchase").state in ("sent", "unknown")
    bed.settle()
    payment.refresh_from_db()
    assert payment.state == "paid" and len(_purchases(bed)) == 1
    assert PaymentEvent.objects.get(payment=payment, to_state="paid").actor == "status check"


def test_on_hold_purchase_stays_pending_until_released(aps_bed):
    bed = aps_bed("3.0", integration_type="merchant_page")
    payment, link = _link(bed, 606)
    merchant_pays(bed, link, card="4000000000009995")
    bed.settle()
    payment.refresh_from_db()
    assert payment.state == "pending" and bed.order_status(606) == 1
    bed.sim.release(payment.reference, "pay")
    bed.settle()
    payment.refresh_from_db()
    assert payment.state == "paid" and bed.order_status(606) == 2


def test_card_refused_on_apss_page_can_be_typed_again(aps_bed):
    bed = aps_bed("3.0", integration_type="merchant_page")
    payment, link = _link(bed, 607)
    step = merchant_pays(bed, link, card="4111111111111112")  # not a card number
    assert "The card was not accepted" in step.text and not _purchases(bed)
    step = merchant_pays(bed, link)  # the pay page again: a fresh card form
    bed.settle()
    payment.refresh_from_db()
    assert payment.state == "paid" and len(_purchases(bed)) == 1


@pytest.mark.parametrize("version", ["3.0", "4.0"])
def test_standalone_installments_on_the_merchant_page(aps_bed, version):
    bed = aps_bed(version, integration_type="merchant_page", installments="standalone")
    payment, link = _link(bed, 611, total="2000.00")
    choice = httpx.get(link)
    assert 'id="pay-installments"' in choice.text and "card-form" not in choice.text  # the customer chooses first
    merchant_pays(bed, link, query="?way=installments", plan="zaQnN1:6MGB")
    purchase = _purchases(bed)[0]
    assert (purchase["command"], purchase["installments"], purchase["plan_code"], purchase["issuer_code"]) == (
        "PURCHASE", "YES", "6MGB", "zaQnN1")
    bed.settle()
    payment.refresh_from_db()
    assert payment.state == "paid" and bed.order_status(611) == 2
    assert payment.installment_plan == {"mode": "standalone", "plan_code": "6MGB", "issuer_code": "zaQnN1",
                                        "number_of_installments": "6"}
    shown = httpx.get(link)
    assert "Payment received" in shown.text and "6 monthly payments" in shown.text


def test_hosted_installments_plan_chosen_on_the_pay_page(aps_bed):
    from ocbridge.integrations.payments import installments

    bed = aps_bed("4.0", integration_type="merchant_page", installments="hosted")
    payment, link = _link(bed, 612, total="2000.00")
    installments.prefetch(payment)  # as the job that makes a link does
    choice = httpx.get(link)
    assert "Gulf Bank" in choice.text and "Desert Islamic Bank" in choice.text and "card-form" not in choice.text
    assert "3 monthly payments of 666.67 AED" in choice.text and "6 monthly payments of 333.33 AED" in choice.text
    plans = [r.json() for r in bed.sim.requests("/FortAPI/paymentApi")
             if r.json().get("query_command") == "GET_INSTALLMENTS_PLANS"]
    assert len(plans) == 1 and plans[0]["amount"] == "200000"
    # a card of another bank is refused before anything is sent
    step = merchant_pays(bed, link, card="5454545454545454", query="?plan=zaQnN1.6MGB")
    assert "not from the bank" in step.text and not _purchases(bed)
    merchant_pays(bed, link, query="?plan=zaQnN1.6MGB")
    purchase = _purchases(bed)
    assert len(purchase) == 1 and (purchase[0]["installments"], purchase[0]["plan_code"]) == ("HOSTED", "6MGB")
    bed.settle()
    payment.refresh_from_db()
    assert payment.state == "paid" and payment.installment_plan["months"] == 6
    assert payment.installment_plan["name_en"] == "Gulf Bank"
    assert "6 monthly payments of 333.33 AED" in httpx.get(link).text
    assert len([r for r in bed.sim.requests("/FortAPI/paymentApi")
                if r.json().get("query_command") == "GET_INSTALLMENTS_PLANS"]) == 1  # kept for a while


def test_redirection_offers_apss_standalone_installments_page(aps_bed):
    bed = aps_bed("3.0", installments="standalone", command="AUTHORIZATION")
    payment, link = _link(bed, 613, total="2000.00")
    page = httpx.get(link)
    forms = re.findall(r'<form method="post" action="([^"]+)" id="hand-over-(\w+)">(.*?)</form>', page.text, re.S)
    assert [f[1] for f in forms] == ["full", "installments"]
    full, inst = hidden_fields(forms[0][2]), hidden_fields(forms[1][2])
    assert full["command"] == "AUTHORIZATION" and "installments" not in full
    assert (inst["command"], inst["installments"]) == ("PURCHASE", "STANDALONE")
    with httpx.Client(timeout=10) as web:
        card_page = web.post(forms[1][0].replace("&amp;", "&"), data=inst)
        token = re.search(r"name=page value=([^\s>]+)>", card_page.text).group(1)
        back = web.post(bed.sim.base_url + "/FortAPI/paymentPage/decide",
                        data={"page": token, "decision": "pay", "plan": "tRt8W2:12MDI"})
        web.get(back.headers["location"])
    bed.settle()
    payment.refresh_from_db()
    assert payment.state == "paid"  # an installment purchase: paid, not authorised
    assert payment.installment_plan == {"plan_code": "12MDI", "issuer_code": "tRt8W2", "number_of_installments": "12"}


@pytest.mark.parametrize("total,currency", [("999.99", "AED"), ("5000.00", "KWD")])
def test_no_installments_under_the_minimum_or_in_other_currencies(aps_bed, total, currency):
    bed = aps_bed("3.0", integration_type="merchant_page", installments="standalone")
    _payment, link = _link(bed, 614, total=total, currency=currency)
    page = httpx.get(link)
    assert "card-form" in page.text and "pay-installments" not in page.text
    assert "installments" not in hidden_fields(page.text)
    assert Payment.objects.count() == 1


def test_tampered_card_form_comes_back_as_signature_mismatch_and_nothing_is_sent(aps_bed):
    """The card form altered in the browser: APS refuses it (00008, signed) and sends the iframe back; the hub shows
    the card form again and sends no purchase."""
    bed = aps_bed("3.0", integration_type="merchant_page")
    payment, link = _link(bed, 615)
    with httpx.Client(timeout=10) as web:
        page = web.get(link)
        fields = hidden_fields(page.text)
        fields["language"] = "ar"  # not what was signed
        back = web.post(bed.sim.base_url + "/FortAPI/paymentPage", data=fields)
        assert back.status_code == 302 and "response_code=00008" in back.headers["location"]
        step = web.get(back.headers["location"])
    assert "The card was not accepted" in step.text and "Signature mismatch" in step.text
    assert not _purchases(bed)
    assert PaymentEvent.objects.filter(payment=payment, what__contains="00008").exists()


def test_the_same_answer_twice_at_once_sends_one_purchase(aps_bed):
    """A double submit: the same signed tokenization answer reaches the hub twice at the same moment."""
    from concurrent.futures import ThreadPoolExecutor

    bed = aps_bed("4.0", integration_type="merchant_page")
    payment, link = _link(bed, 616)
    with httpx.Client(timeout=10) as web:
        answer_url = _card_answer(bed, web, link)
    with ThreadPoolExecutor(2) as pool:
        statuses = [r.status_code for r in pool.map(lambda _: httpx.get(answer_url, timeout=20), range(2))]
    assert statuses == [200, 200] and Job.objects.filter(kind="payments.send_purchase").count() == 1
    bed.settle()
    payment.refresh_from_db()
    assert payment.state == "paid" and len(_purchases(bed)) == 1


@pytest.mark.parametrize("carried_out", [True, False])
def test_purchase_without_an_answer_is_asked_about_first(aps_bed, carried_out):
    """The connection to APS drops without an answer (timeout fault): APS is asked (CHECK_STATUS) before anything
    else. Carried out → the payment goes on (never sent again); never arrived → the customer types the card again
    and only then is a purchase sent."""
    bed = aps_bed("3.0", integration_type="merchant_page")
    payment, link = _link(bed, 617)
    bed.sim.fail_next("timeout", path="/FortAPI/paymentApi", after=carried_out, seconds=0.2)
    step = merchant_pays(bed, link)
    asked = [r for r in bed.sim.requests("/FortAPI/paymentApi") if r.json().get("query_command") == "CHECK_STATUS"]
    assert len(_purchases(bed)) == 1 and len(asked) == 1
    if carried_out:
        assert _pay_page_of(top_url(step)) == payment.pk
    else:
        assert "Payments are not available right now" in step.text
        assert SideEffect.objects.get(key=f"{payment.key}:purchase").state == "requested"
        assert payment.reference not in bed.sim.transactions()
        merchant_pays(bed, link)
        assert len(_purchases(bed)) == 2  # the first never reached APS; the second is the only transaction
    bed.settle()
    payment.refresh_from_db()
    assert payment.state == "paid" and bed.sim.transactions()[payment.reference]["captured"] == 2000


def _plans_asked(bed) -> int:
    return len([r for r in bed.sim.requests("/FortAPI/paymentApi")
                if r.json().get("query_command") == "GET_INSTALLMENTS_PLANS"])


def test_the_pay_page_never_asks_apss_plans_it_offers_full_payment_and_queues_one_fetch(aps_bed):
    """No plans kept (no job fetched them: a link made before, or its job's fetch failed): the customer's page makes
    no call to APS (a slow outside call inside the customer's request) — it offers paying in full and queues one
    fetch job for the store and currency, however many customers and reloads ask meanwhile; the job asks APS once per
    payment without plans, and the next view lists them, still asking APS nothing. Before: the page asked APS itself."""
    bed = aps_bed("4.0", integration_type="merchant_page", installments="hosted")
    first, link = _link(bed, 620, total="2000.00")
    second, other = _link(bed, 621, total="3000.00")
    for url in (link, link, other):
        page = httpx.get(url)
        assert page.status_code == 200 and "card-form" in page.text and "Gulf Bank" not in page.text
    assert bed.sim.requests() == []  # nothing asked inside the customers' requests
    [job] = Job.objects.filter(kind="payments.fetch_plans")
    assert job.key.startswith(f"payments:{bed.store.pk}:plans:AED:") and job.payload == {"currency": "AED"}
    bed.settle()
    asked = [r.json() for r in bed.sim.requests("/FortAPI/paymentApi")]
    assert sorted(r["amount"] for r in asked) == ["200000", "300000"]  # once per payment, with its amount [PLANS]
    for url, per_month in ((link, "333.33"), (other, "500.00")):
        page = httpx.get(url)
        assert "Gulf Bank" in page.text and f"6 monthly payments of {per_month} AED" in page.text
    assert _plans_asked(bed) == 2 and Job.objects.filter(kind="payments.fetch_plans").count() == 1


def test_installment_plans_failing_is_noted_once_per_episode_not_per_view(aps_bed):
    """APS cannot list the plans (asked by the fetch job the page queued): the customer may pay in full; the
    payment's history gets one note for the whole episode (not one per reload), APS is not asked again at each
    reload, and a new failure after plans came back is a new episode."""
    from ocbridge.core import clock
    from ocbridge.integrations.payments import installments

    bed = aps_bed("4.0", integration_type="merchant_page", installments="hosted")
    payment, link = _link(bed, 618, total="2000.00")

    def notes() -> int:
        return PaymentEvent.objects.filter(payment=payment, what__startswith="installment plans not available").count()

    def view() -> str:
        text = httpx.get(link).text
        bed.settle()  # the fetch job the view queued, if any
        return text

    bed.sim.fail_next("503", count=2, path="/FortAPI/paymentApi")
    for _ in range(3):
        page = view()
        assert "card-form" in page and "Gulf Bank" not in page  # paying in full still works
    assert (_plans_asked(bed), notes()) == (1, 1)
    clock.travel(installments.PLANS_RETRY.total_seconds() + 1)
    view()  # asked again: still failing, the same episode
    assert (_plans_asked(bed), notes()) == (2, 1)
    clock.travel(installments.PLANS_RETRY.total_seconds() + 1)
    view()  # asked again by the job: back, the episode ends
    assert "Gulf Bank" in view() and (_plans_asked(bed), notes()) == (3, 1)
    clock.travel(installments.PLANS_KEPT.total_seconds() + 1)
    bed.sim.fail_next("503", path="/FortAPI/paymentApi")
    assert "Gulf Bank" not in view()  # a new failure after the plans came back: a new episode, one more note
    assert (_plans_asked(bed), notes()) == (4, 2)


def test_a_slow_purchase_never_holds_the_customers_page(aps_bed):
    """The purchase goes host to host from a job, not inside the customer's request (APS may take its 30 s timeout,
    then a status check): the card answer is answered at once with "processing", nothing sent yet; the pay page
    meanwhile says the payment is being confirmed (no second card form); the waiting page re-asks by itself until the
    job has decided; one purchase is sent, and the card token is not kept after it."""
    from paykit import card_step

    bed = aps_bed("3.0", integration_type="merchant_page")
    payment, link = _link(bed, 619)
    with httpx.Client(timeout=10) as web:
        answer_url = _card_answer(bed, web, link)
        waiting = web.get(answer_url)
        assert 'id="processing"' in waiting.text and 'http-equiv="refresh"' in waiting.text and not _purchases(bed)
        shown = web.get(link)
        assert "We are confirming your payment" in shown.text and "card-form" not in shown.text
        again = web.get(answer_url)  # the iframe reloaded: the same job, still processing
        assert 'id="processing"' in again.text and Job.objects.filter(kind="payments.send_purchase").count() == 1
        step = card_step(bed, web, waiting)
    assert _pay_page_of(top_url(step)) == payment.pk and step.headers.get("X-Frame-Options") == "SAMEORIGIN"
    assert len(_purchases(bed)) == 1
    assert "sealed" not in Job.objects.get(kind="payments.send_purchase").payload
    bed.settle()
    payment.refresh_from_db()
    assert payment.state == "paid" and len(_purchases(bed)) == 1


def test_plans_fetched_by_the_link_job_serve_the_pay_page_without_asking_aps(aps_bed, hub_mail):
    """The banks' plans are asked for when the link is made, by the job that makes it (here: the rule's link for a
    new order, e-mailed), not inside the customer's request: the customer opening the link hours later gets the
    plans listed while the page makes no call to APS at all."""
    from ocbridge import opencart
    from ocbridge.core import clock

    bed = aps_bed("3.0", integration_type="merchant_page", installments="hosted", link_payment_codes=["ocbridge"])
    opencart.poll_new_orders(bed.store)  # the feed's first poll only sets its position
    bed.add_order(640, total="2000.00", currency="AED")
    opencart.poll_new_orders(bed.store)
    bed.settle()
    payment = Payment.objects.get(order_id=640)
    asked = [r.json().get("query_command") for r in bed.sim.requests("/FortAPI/paymentApi")]
    assert asked == ["GET_INSTALLMENTS_PLANS"] and len(hub_mail.messages) == 1  # by the link's job, before the mail
    clock.travel(2 * 3600)  # the customer opens the e-mailed link two hours later
    before = len(bed.sim.requests())
    page = httpx.get(links.url_for(payment))
    assert page.status_code == 200 and "Gulf Bank" in page.text
    assert len(bed.sim.requests()) == before  # the page asked APS nothing


@pytest.mark.parametrize("mail", [True, False], ids=["e-mailed", "copied by hand"])
def test_a_link_made_on_the_dashboard_has_its_plans_fetched_by_a_job_not_by_the_customers_page(aps_bed, admin_client,
                                                                                              hub_mail, mail):
    """A link made on the order's page (the operator's request makes no call to APS): the job after it — the mail's,
    or one of its own when the operator copies the link — fetches the plans; the customer's page asks APS nothing."""
    from django.urls import reverse

    bed = aps_bed("3.0", integration_type="merchant_page", installments="hosted")
    bed.add_order(641, total="2000.00", currency="AED")
    form = {"gateway": "aps", "order_id": "641", "attempt": "1", "back": "order", **({"mail": "1"} if mail else {})}
    admin_client.post(reverse("payments:link", args=[bed.store.pk]), form)
    assert bed.sim.requests() == []  # nothing asked inside the operator's request
    bed.settle()
    payment = Payment.objects.get(order_id=641)
    assert [r.json().get("query_command") for r in bed.sim.requests("/FortAPI/paymentApi")] == ["GET_INSTALLMENTS_PLANS"]
    before = len(bed.sim.requests())
    page = httpx.get(links.url_for(payment))
    assert "Gulf Bank" in page.text and len(bed.sim.requests()) == before
