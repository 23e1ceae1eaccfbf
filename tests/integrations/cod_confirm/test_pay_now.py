"""Pay now instead of at the door: key 3 in the call or "öde" in an SMS reply → one Payment through the store's
payment integration and one pay-link SMS (the COD connection, through the outbox), even when the provider delivers
its webhook twice; paid → confirmed with the payment integration's paid status in the shop; not paid in time → a
person. The gateway's own HTTP (hosted page, signed feedback) is covered by tests/integrations/payments; here the
gateway's verified word is applied through the same `notices.apply_word` its notice job calls."""

from contextlib import contextmanager

import pytest

from ocbridge.core import clock
from ocbridge.core.jobs import run_until_idle
from ocbridge.core.models import Connection, Integration, Job
from ocbridge.integrations.cod_confirm.models import Confirmation
from ocbridge.integrations.payments.gateways import Word
from ocbridge.integrations.payments.models import Payment
from ocbridge.integrations.payments.notices import apply_word
from opencart.opencart_helpers import add_order

pytestmark = pytest.mark.django_db(transaction=True)
PHONE = "0532 123 45 67"
E164 = "+905321234567"


def _gateway(bed, *, paid_status: int = 15) -> Integration:
    conn = Connection.objects.create(store=bed.store, service="aps", base_url="http://127.0.0.1:9",
                                     secret={"merchant_identifier": "m", "access_code": "a",
                                             "sha_request_phrase": "q", "sha_response_phrase": "r"})
    return Integration.objects.create(store=bed.store, kind="aps", connection=conn,
                                      settings={"paid_status_id": paid_status, "link_hours": 48})


@contextmanager
def _aps(bed, **integration_settings):
    """The APS simulator as the store's payment gateway (hosted page, signed feedback), stopped afterwards."""
    from integrations.payments.conftest import CREDS

    from ocbridge.simulators.aps import ApsSimulator

    aps = ApsSimulator(speed=1000)
    aps.start()
    try:
        conn = Connection.objects.create(store=bed.store, service="aps", base_url=aps.base_url, secret=dict(CREDS),
                                         options={"sha_type": "sha256"})
        Integration.objects.create(store=bed.store, kind="aps", connection=conn,
                                   settings={"paid_status_id": 15, "link_hours": 48, **integration_settings})
        yield aps, conn
    finally:
        aps.stop()


def _pay_links(bed) -> list[dict]:
    return [m for m in bed.sim.messages() if "/pay/" in (m.get("text") or "")]


def _paid(payment: Payment) -> None:
    apply_word(payment, Word(reference=payment.reference, outcome="paid", amount_minor=payment.amount_minor,
                             currency=payment.currency, gateway_id="fort-1"), actor="gateway")


def test_sms_reply_ode_sends_one_link_and_makes_one_payment_even_when_the_webhook_comes_twice(cod_bed):
    bed = cod_bed("3.0", channels=["sms"] * 3, pay_offer=True)
    _gateway(bed)
    bed.sim.set_webhook_behaviour(duplicate=2)
    add_order(bed.shop, 1201, telephone=PHONE)
    bed.sim.set_customer(E164, sms_reply="öde")
    bed.run()
    c = Confirmation.objects.get(order_id=1201)
    assert c.state == "awaiting_payment"
    first = [m for m in bed.sim.messages() if "/pay/" not in m["text"]][0]["text"]
    assert "ODE" in first  # the offer is in the confirmation SMS when it is on
    [payment] = Payment.objects.filter(order_id=1201)
    assert payment.origin == "cod" and str(payment.amount) == "229.90" and payment.currency == "TRY"
    assert len(_pay_links(bed)) == 1 and _pay_links(bed)[0]["to"] == E164
    assert Job.objects.filter(kind="cod_confirm.send_pay_link").count() == 1
    assert bed.order_status(1201) == 1 and bed.history(1201) == []  # nothing written while waiting
    _paid(payment)
    bed.run()
    c.refresh_from_db()
    assert c.state == "confirmed" and c.decided_by == "customer"
    assert bed.order_status(1201) == 15  # the payment integration's paid status, written once through writes
    assert [s for s, _ in bed.history(1201)].count(15) == 1 and len(bed.history(1201)) == 1
    assert len(_pay_links(bed)) == 1


def test_key_3_in_the_call_sends_one_link_and_makes_one_payment_even_when_the_webhook_comes_twice(cod_bed):
    bed = cod_bed("3.0", pay_offer=True)
    _gateway(bed)
    bed.sim.set_webhook_behaviour(duplicate=2, shuffle=True)
    add_order(bed.shop, 1202, telephone=PHONE)
    bed.sim.set_customer(E164, call="press:3")
    bed.run()
    [call] = bed.sim.calls()
    assert call["digits"].get("3") == "pay" and "3" in call["text"]
    c = Confirmation.objects.get(order_id=1202)
    assert c.state == "awaiting_payment"
    assert Payment.objects.filter(order_id=1202).count() == 1
    assert len(_pay_links(bed)) == 1
    assert c.transitions.filter(to_state="awaiting_payment", reason__contains="pay link for 229.90 TRY").count() == 1


def test_a_pay_link_sms_over_the_daily_sms_cap_goes_to_a_person(cod_bed):
    """core.spend: the confirmation SMS used the store's one SMS of the day; the pay link SMS is refused by the cap
    and the case goes to a person with the cap named — nothing sent, nothing dropped."""
    from ocbridge.core.models import SideEffect, SpendPolicy

    bed = cod_bed("3.0", channels=["sms"] * 3, pay_offer=True)
    _gateway(bed)
    SpendPolicy.objects.create(store=bed.store, sms_cap=1)
    add_order(bed.shop, 1207, telephone=PHONE)
    bed.sim.set_customer(E164, sms_reply="öde")
    bed.run()
    c = Confirmation.objects.get(order_id=1207)
    assert (c.state, c.needs_person_reason) == ("needs_person", "daily cap reached")
    assert c.transitions.filter(reason="pay link not sent: the store's daily cap is reached (the daily cap of 1 sms "
                                       "is reached)").count() == 1
    assert _pay_links(bed) == [] and SideEffect.objects.filter(kind="sms").count() == 1


def test_not_paid_in_time_goes_to_a_person(cod_bed):
    bed = cod_bed("3.0", channels=["sms"] * 3, pay_offer=True, pay_wait_hours=2)
    _gateway(bed)
    add_order(bed.shop, 1203, telephone=PHONE)
    bed.sim.set_customer(E164, sms_reply="KART")
    bed.run()
    c = Confirmation.objects.get(order_id=1203)
    assert c.state == "awaiting_payment"
    Job.objects.filter(kind="cod_confirm.pay_wait_over").update(next_run_at=clock.now())
    run_until_idle()
    c.refresh_from_db()
    assert (c.state, c.needs_person_reason) == ("needs_person", "not paid in time")
    assert bed.order_status(1203) == 1  # nothing written: a person decides
    _paid(Payment.objects.get(order_id=1203))  # paid late all the same: money taken confirms it
    bed.run()
    c.refresh_from_db()
    assert c.state == "confirmed" and bed.order_status(1203) == 15


def test_no_payment_integration_refuses_cleanly_to_a_person(cod_bed):
    bed = cod_bed("3.0", channels=["sms"] * 3, pay_offer=True)
    add_order(bed.shop, 1204, telephone=PHONE)
    bed.sim.set_customer(E164, sms_reply="ОПЛАТА")
    bed.run()
    c = Confirmation.objects.get(order_id=1204)
    assert (c.state, c.needs_person_reason) == ("needs_person", "no payment integration")
    assert not Payment.objects.exists() and _pay_links(bed) == []


def test_without_the_offer_pay_is_not_understood_and_not_mentioned(cod_bed):
    bed = cod_bed("3.0", channels=["sms"] * 3)
    _gateway(bed)
    add_order(bed.shop, 1205, telephone=PHONE)
    bed.sim.set_customer(E164, sms_reply="PAY")
    bed.run()
    c = Confirmation.objects.get(order_id=1205)
    assert c.state == "needs_person" and not Payment.objects.exists()
    assert "ODE" not in bed.sim.messages()[0]["text"]


def test_paid_at_the_gateway_end_to_end_confirms_the_order(cod_bed, settings):
    """The customer follows the texted link to the APS simulator's hosted page and pays; APS's signed feedback
    reaches the hub's webhook, the payment is paid, the COD case confirmed, the paid status written once."""
    from types import SimpleNamespace

    from integrations.payments.conftest import Bed as PayBed

    settings.SIMULATOR_HOSTS = ["127.0.0.1"]
    bed = cod_bed("3.0", channels=["sms"] * 3, pay_offer=True)
    with _aps(bed) as (aps, conn):
        aps.configure(feedback_url=conn.webhook_url("feedback"), notification_url=conn.webhook_url("notification"))
        add_order(bed.shop, 1206, telephone=PHONE)
        bed.sim.set_customer(E164, sms_reply="Öde")
        bed.run()
        [sms] = _pay_links(bed)
        link = sms["text"].split()[-1]
        back = PayBed.customer_pays(SimpleNamespace(sim=aps), link)
        assert back.status_code == 200
        for _ in range(10):
            run_until_idle()
            aps.webhooks.flush()
            aps.wait_idle(5)
            if Confirmation.objects.get(order_id=1206).state == "confirmed":
                break
        run_until_idle()
        assert Confirmation.objects.get(order_id=1206).state == "confirmed"
        assert Payment.objects.get(order_id=1206).state == "paid"
        assert bed.order_status(1206) == 15 and [s for s, _ in bed.history(1206)].count(15) == 1


def test_pay_link_with_hosted_installments_has_its_plans_fetched_by_the_link_job(cod_bed, settings):
    """Installments on (APS merchant page, hosted plans) and an order above the minimum: the pay link COD sends is
    made by its job with the banks' plans fetched there (GET_INSTALLMENTS_PLANS once, for the order's amount, before
    the SMS goes), so the customer's page lists them and asks APS nothing; a duplicated webhook fetches nothing more.
    Checked against the APS simulator (tests/contracts/test_aps.py [PLANS] names the sources)."""
    from decimal import Decimal

    import httpx

    settings.SIMULATOR_HOSTS = ["127.0.0.1"]
    bed = cod_bed("3.0", channels=["sms"] * 3, pay_offer=True)
    with _aps(bed, integration_type="merchant_page", installments="hosted") as (aps, _conn):
        bed.sim.set_webhook_behaviour(duplicate=2)
        add_order(bed.shop, 1207, telephone=PHONE, total=Decimal("2000.00"), currency_code="AED")
        bed.sim.set_customer(E164, sms_reply="öde")
        bed.run()
        [sms] = _pay_links(bed)
        asked = [r.json() for r in aps.requests("/FortAPI/paymentApi")]
        assert [(r["query_command"], r["amount"], r["currency"]) for r in asked] == [
            ("GET_INSTALLMENTS_PLANS", "200000", "AED")]
        before = len(aps.requests())
        page = httpx.get(sms["text"].split()[-1] + "?lang=en")  # the order's language is Turkish
        assert page.status_code == 200 and "Gulf Bank" in page.text and "6 monthly payments of 333.33 AED" in page.text
        assert len(aps.requests()) == before  # the customer's page asked APS nothing
        assert not Job.objects.filter(kind="payments.fetch_plans").exists()


def test_a_pay_link_that_cannot_be_made_reads_in_each_readers_language(cod_bed):
    """"öde" for an order with nothing to take (total 0): no payment, a person takes it, and the confirmation's
    timeline says "pay link not made: …" in the reader's language, the payments' reason inside too (the worker
    Turkish; before, the reason's detail was the worker's words in every language)."""
    from django.utils import translation

    bed = cod_bed("3.0", channels=["sms"] * 3, pay_offer=True)
    _gateway(bed)
    add_order(bed.shop, 1209, telephone=PHONE, total=0)
    bed.sim.set_customer(E164, sms_reply="öde")
    with translation.override("tr"):
        bed.run()
    c = Confirmation.objects.get(order_id=1209)
    assert c.state == "needs_person" and not Payment.objects.filter(order_id=1209).exists()
    assert c.transitions.filter(reason="pay link not made: a payment needs an amount above zero").exists()  # English
    said = {"en": "pay link not made: a payment needs an amount above zero",
            "tr": "ödeme linki oluşturulmadı: ödeme tutarı sıfırdan büyük olmalı",
            "ru": "ссылка на оплату не создана: сумма платежа должна быть больше нуля"}
    bed.assert_confirmation_reads(c, said)


@pytest.mark.parametrize("email, mail_server, said", [
    ("a@example.com", False, {"en": "pay link not sent: no SMTP server is set for this store or the hub",
                              "tr": "ödeme linki gönderilmedi: bu mağaza veya merkez için SMTP sunucusu ayarlanmamış",
                              "ru": "ссылка на оплату не отправлена: для этого магазина или хаба не настроен SMTP-сервер"}),
    ("not-an-address", True, {"en": "pay link not sent: not an e-mail address: ['not-an-address']",
                              "tr": "ödeme linki gönderilmedi: e-posta adresi değil: ['not-an-address']",
                              "ru": "ссылка на оплату не отправлена: не адрес электронной почты: ['not-an-address']"}),
])
def test_a_pay_link_that_cannot_be_mailed_reads_in_each_readers_language(cod_bed, settings, email, mail_server,
                                                                         said):
    """"öde" with the pay link to go by e-mail, but no mail server anywhere (core.mail.MailNotSet), or an order address
    no mail can go to: a person takes it, and the timeline says why in the reader's language, the mail's own reason
    inside too (the worker Turkish; before, that reason was English in every language)."""
    from django.utils import translation

    settings.EMAIL_HOST = "127.0.0.1" if mail_server else ""
    bed = cod_bed("3.0", channels=["sms"] * 3, pay_offer=True, pay_link_channel="email")
    _gateway(bed)
    add_order(bed.shop, 1210, telephone=PHONE, email=email)
    bed.sim.set_customer(E164, sms_reply="öde")
    with translation.override("tr"):
        bed.run()
    c = Confirmation.objects.get(order_id=1210)
    assert c.state == "needs_person" and c.transitions.filter(reason=said["en"]).exists()  # the stored reason: English
    bed.assert_confirmation_reads(c, said)
