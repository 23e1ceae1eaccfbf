"""The order's page (Deliver 5 and 8): one order of a store with its shop data, every payment of it across the
store's gateways, each refund / capture / void (amount, reason, reference, state, who, its Exchanges), the actions
with the same keyed operations, and the totals — on a MariaDB shop with the APS and LatitudePay simulators."""

from __future__ import annotations

import re

import pytest
from django.contrib.auth.models import User
from django.urls import reverse

from ocbridge.core.models import Connection, Integration, StoreMember
from ocbridge.integrations.payments import links
from ocbridge.integrations.payments.models import Payment, PaymentOperation

pytestmark = pytest.mark.django_db(transaction=True)


def _paid(bed, order_id, total="20.00"):
    bed.add_order(order_id, total=total)
    payment = links.new_payment(bed.integration, order_id=order_id, amount=total, currency="AED",
                                email="layla@example.com", language="en")
    bed.customer_pays(links.url_for(payment))
    bed.settle()
    payment.refresh_from_db()
    assert payment.state == "paid"
    return payment


def _refund_form(page: str, payment: Payment) -> dict:
    form = re.search(rf'<form method="post" action="/payments/{payment.pk}/operate/" class="op-refund">(.*?)</form>',
                     page, re.S).group(1)
    fields = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', form))
    fields.pop("csrfmiddlewaretoken", None)
    return fields


@pytest.mark.parametrize("version", ["3.0", "4.0"])
def test_partial_then_full_refund_from_the_orders_page(aps_bed, admin_client, version):
    bed = aps_bed(version)
    payment = _paid(bed, 601)
    url = reverse("payments:order", args=[bed.store.pk, 601])
    page = admin_client.get(url).content.decode()
    # the order as the shop has it, read through the shop-read path
    assert "Layla Hassan" in page and "layla@example.com" in page and payment.reference in page
    assert "made on the dashboard" in page and "At the gateway → Paid" in page  # origin and history in words
    assert re.search(r'class="paid">20\.00<.*class="refunded">0\.00<.*class="refundable">20\.00<', page, re.S)
    hidden = _refund_form(page, payment)
    assert hidden == {"operation": "refund", "sequence": "1", "back": "order"}
    post = {**hidden, "amount": "7.50", "reason": "one mug broken"}
    r = admin_client.post(reverse("payments:operate", args=[payment.pk]), post)
    assert r.status_code == 302 and r["Location"] == url
    admin_client.post(reverse("payments:operate", args=[payment.pk]), post)  # the second click: the same key
    page = admin_client.get(url).content.decode()
    assert "under way" in page and 'class="refundable">12.50<' in page  # the refund in flight is not refundable twice
    bed.settle()
    refunds = [r for r in bed.sim.requests("/FortAPI/paymentApi") if (r.json() or {}).get("command") == "REFUND"]
    assert len(refunds) == 1 and refunds[0].json()["amount"] == "750"
    page = admin_client.get(url).content.decode()
    assert re.search(r'class="paid">20\.00<.*class="refunded">7\.50<.*class="refundable">12\.50<', page, re.S)
    op = PaymentOperation.objects.get(payment=payment)
    row = re.search(r'<tr class="op op-done">(.*?)</tr>', page, re.S).group(1)
    assert "7.50 AED" in row and "one mug broken" in row and "admin" in row and "Done" in row
    from ocbridge.core.models import SideEffect

    assert str(SideEffect.objects.get(key=op.key).correlation) in row  # the operation's reference at the gateway
    assert re.search(r'href="/log/\d+/"', row)  # its Exchange with the gateway
    # the shop's history names the amount and the reference
    assert any("7.50 AED" in c and payment.reference in c for _s, c in bed.history(601))
    # the rest, over the refundable amount first: refused before any call, the page says why
    hidden = _refund_form(page, payment)
    assert hidden["sequence"] == "2"
    r = admin_client.post(reverse("payments:operate", args=[payment.pk]),
                          {**hidden, "amount": "12.51", "reason": "all of it"}, follow=True)
    assert "At most 12.50 AED can still be refunded" in r.content.decode()
    admin_client.post(reverse("payments:operate", args=[payment.pk]), {**hidden, "amount": "12.50", "reason": "returned"})
    bed.settle()
    page = admin_client.get(url).content.decode()
    assert re.search(r'class="refunded">20\.00<.*class="refundable">0\.00<', page, re.S)
    assert 'class="op-refund"' not in page  # nothing left to refund: no form
    assert bed.order_status(601) == 11


def test_capture_void_and_check_from_the_orders_page_with_two_payments(aps_bed, admin_client):
    bed = aps_bed("3.0", command="AUTHORIZATION")
    bed.add_order(602, total="30.00")
    first = links.new_payment(bed.integration, order_id=602, amount="30.00", currency="AED", language="en", attempt=1)
    bed.customer_pays(links.url_for(first), "decline")
    second = links.new_payment(bed.integration, order_id=602, amount="30.00", currency="AED", language="en", attempt=2)
    bed.customer_pays(links.url_for(second))
    bed.settle()
    second.refresh_from_db()
    assert second.state == "authorised"
    url = reverse("payments:order", args=[bed.store.pk, 602])
    page = admin_client.get(url).content.decode()
    assert first.reference in page and second.reference in page  # the declined attempt and the authorised one
    assert re.search(r'class="paid">0\.00<.*class="held">30\.00<', page, re.S)
    assert 'class="op-void"' in page and 'class="op-refund"' not in page
    r = admin_client.post(reverse("payments:operate", args=[second.pk]),
                          {"operation": "capture", "sequence": "1", "amount": "10.00", "reason": "shipped part",
                           "back": "order"})
    assert r["Location"] == url
    bed.settle()
    second.refresh_from_db()
    assert second.state == "paid" and second.captured_minor == 1000
    page = admin_client.get(url).content.decode()
    assert re.search(r'class="paid">10\.00<.*class="held">0\.00<.*class="refundable">10\.00<', page, re.S)
    assert "shipped part" in page
    r = admin_client.post(reverse("payments:check", args=[second.pk]), {"back": "order"})
    assert r["Location"] == url


def test_pay_link_from_the_orders_page_once_per_attempt_and_mailed_once(aps_bed, admin_client, hub_mail):
    bed = aps_bed("3.0")
    bed.add_order(603, total="45.00")
    url = reverse("payments:order", args=[bed.store.pk, 603])
    page = admin_client.get(url).content.decode()
    assert "No payment yet" in page and 'name="attempt" value="1"' in page
    form = {"gateway": "aps", "order_id": "603", "attempt": "1", "back": "order", "mail": "1"}
    for _ in range(2):  # a double click
        r = admin_client.post(reverse("payments:link", args=[bed.store.pk]), form)
        assert r["Location"] == url
    bed.settle()
    payment = Payment.objects.get(order_id=603)
    assert payment.amount_minor == 4500 and len(hub_mail.messages) == 1
    assert hub_mail.messages[0]["To"] == "layla@example.com"
    page = admin_client.get(url).content.decode()
    assert links.url_for(payment) in page  # the open payment's link; no second link while it is open
    assert 'id="new-link"' not in page
    bed.customer_pays(links.url_for(payment), "decline")
    bed.settle()
    page = admin_client.get(url).content.decode()
    assert 'id="new-link"' in page and 'name="attempt" value="2"' in page  # declined: another try may be sent


def test_both_gateways_of_a_store_on_one_page_and_a_viewer_sees_no_actions(aps_bed, lat_bed, client):
    from ocbridge.simulators.latitudepay import LatitudeSimulator

    bed = aps_bed("3.0")
    payment = _paid(bed, 604)
    sim = LatitudeSimulator(speed=1000)
    sim.start()
    try:
        conn = Connection.objects.create(store=bed.store, service="latitudepay", base_url=sim.base_url,
                                         secret={"api_key": "k", "api_secret": "s"}, options={"currency": "AUD"})
        lat = Integration.objects.create(store=bed.store, kind="latitudepay", connection=conn, settings={})
        other = links.new_payment(lat, order_id=604, amount="20.00", currency="AUD", language="en", attempt=2)
        viewer = User.objects.create_user("viewer", password="pw")
        StoreMember.objects.create(user=viewer, store=bed.store, role="viewer")
        client.force_login(viewer)
        page = client.get(reverse("payments:order", args=[bed.store.pk, 604])).content.decode()
        assert payment.reference in page and other.reference in page and "LatitudePay" in page
        assert "AED" in page and "AUD" in page  # totals per currency
        assert "/operate/" not in page and "/link/" not in page and links.url_for(other) not in page
        r = client.post(reverse("payments:operate", args=[payment.pk]),
                        {"operation": "refund", "sequence": "1", "amount": "1", "reason": "x", "back": "order"})
        assert r.status_code == 403 and not PaymentOperation.objects.exists()
    finally:
        sim.stop()


def test_unknown_order_is_404_and_an_unreadable_shop_still_shows_the_payments(aps_bed, admin_client):
    bed = aps_bed("3.0")
    payment = _paid(bed, 605)
    assert admin_client.get(reverse("payments:order", args=[bed.store.pk, 999])).status_code == 404
    bed.store.db_name = "no_such_shop"
    bed.store.save()
    page = admin_client.get(reverse("payments:order", args=[bed.store.pk, 605]))
    assert page.status_code == 200
    text = page.content.decode()
    assert "The shop could not be read" in text and payment.reference in text


def test_an_order_of_another_store_in_the_same_shop_is_not_shown(aps_bed, client):
    from ocbridge.core.models import Store

    bed = aps_bed("3.0")
    bed.add_order(606)  # OpenCart store 0
    second = Store(name="Second shop front", oc_store_id=1)
    for name in ("db_engine", "db_host", "db_port", "db_user", "db_name", "db_charset", "table_prefix", "secret"):
        setattr(second, name, getattr(bed.store, name))
    second.save()
    Integration.objects.create(store=second, kind="aps", connection=bed.connection, settings={})
    user = User.objects.create_user("front", password="pw")
    StoreMember.objects.create(user=user, store=second, role="owner")
    client.force_login(user)
    assert client.get(reverse("payments:order", args=[second.pk, 606])).status_code == 404
    r = client.post(reverse("payments:link", args=[second.pk]), {"gateway": "aps", "order_id": "606", "back": "order"})
    assert r.status_code == 302 and not Payment.objects.exists()  # "Order 606 is not in the shop"
    client.force_login(User.objects.create_superuser("root", password="pw"))
    assert client.get(reverse("payments:order", args=[bed.store.pk, 606])).status_code == 200


def test_ask_the_gateway_now_queues_one_check_unless_one_is_due_or_running(aps_bed, admin_client):
    """"Ask the gateway now": two clicks at once are one check; a click after it ran asks again (it queued nothing
    when in the same 15 s slot as the first); a check scheduled for later (the 3-D Secure wait) does not take the
    click. The simulator is asked (CHECK_STATUS) once per check, and the page says which happened."""
    from django.contrib.messages import get_messages

    from ocbridge.core.models import Job
    from ocbridge.integrations.payments.jobs import schedule_check
    from ocbridge.integrations.payments.merchant_page import SECURE_3DS_WAIT

    bed = aps_bed("3.0")
    bed.add_order(605, total="12.00")
    payment = links.new_payment(bed.integration, order_id=605, amount="12.00", currency="AED", language="en")
    checks = Job.objects.filter(kind="payments.check", payload__payment_id=payment.pk)

    def click() -> str:
        r = admin_client.post(reverse("payments:check", args=[payment.pk]))
        assert r.status_code == 302
        [said] = [str(m) for m in get_messages(r.wsgi_request)]
        page = admin_client.get(r["Location"]).content.decode()  # shown there (and so gone from the next click's)
        assert said.replace("'", "&#x27;") in page
        return said

    def asked() -> int:
        return len([r for r in bed.sim.requests("/FortAPI/paymentApi")
                    if r.json().get("query_command") == "CHECK_STATUS"])

    assert "will be asked" in click()
    assert "already" in click() and checks.count() == 1  # the double click
    bed.settle()
    assert asked() == 1
    assert "will be asked" in click() and checks.count() == 2  # after the check ran, within the same 15 s
    bed.settle()
    assert asked() == 2

    schedule_check(payment, SECURE_3DS_WAIT)  # the customer is at their bank's 3-D Secure page
    later = checks.order_by("-pk").first()
    assert "will be asked" in click() and checks.count() == 4  # now, not in 15 minutes
    bed.settle()
    assert asked() == 3
    assert Job.objects.get(pk=later.pk).state == "queued"  # the later check still waits for its time
    payment.refresh_from_db()
    assert payment.state == "created"


def test_a_pay_link_with_no_mail_server_reads_in_each_readers_language(aps_bed, admin_client, settings):
    """"E-mail the link" with no mail server for the store or the hub (core.mail.MailNotSet): the payment's history
    says it was not e-mailed, and why, in the reader's language (the job run in a Turkish worker; before, the reason
    inside was English in every language)."""
    import html

    from django.utils import translation

    settings.EMAIL_HOST = ""
    bed = aps_bed("3.0")
    bed.add_order(604, total="45.00")
    admin_client.post(reverse("payments:link", args=[bed.store.pk]),
                      {"gateway": "aps", "order_id": "604", "attempt": "1", "back": "order", "mail": "1"})
    with translation.override("tr"):
        bed.settle()
    payment = Payment.objects.get(order_id=604)
    said = {"en": "not e-mailed (no SMTP server is set for this store or the hub): the link is on the payment's page",
            "tr": "e-postayla gönderilmedi (bu mağaza veya merkez için SMTP sunucusu ayarlanmamış): bağlantı ödemenin "
                  "sayfasında",
            "ru": "не отправлено по e-mail (для этого магазина или хаба не настроен SMTP-сервер): ссылка на странице "
                  "платежа"}
    assert payment.events.filter(what=said["en"]).exists()  # the stored text: English
    for lang in ("en", "tr", "ru"):
        admin_client.cookies["django_language"] = lang
        page = html.unescape(admin_client.get(reverse("payments:detail", args=[payment.pk])).content.decode())
        assert said[lang] in page, (lang, page[-3000:])
