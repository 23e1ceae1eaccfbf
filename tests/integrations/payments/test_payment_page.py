"""The payment's page: what a late run saw on the payment's outbox rows (core.outbox `late`, migration core 0031) is
shown there, in the reader's language, not only on the outbox's admin page."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db.models import TextField, Value
from django.db.models.functions import Concat
from django.urls import reverse

from ocbridge.core import clock, outbox
from ocbridge.core.models import Connection, Integration, SideEffect, Store
from ocbridge.integrations.payments.merchant_page import purchase_key
from ocbridge.integrations.payments.models import Payment, PaymentOperation

pytestmark = pytest.mark.django_db
SAW = "2026-12-07 12:00:00 run 1a2b3c4d: sent after another run took the row over; refused: (00) declined\n"


def _payment() -> Payment:
    store = Store.objects.create(name="S", db_url="sqlite:////nonexistent/payment-page.db")
    conn = Connection.objects.create(store=store, service="aps", base_url="http://127.0.0.1:9")
    integration = Integration.objects.create(store=store, kind="aps", connection=conn, settings={"paid_status_id": 15})
    return Payment.objects.create(store=store, integration=integration, gateway="aps", order_id=901, reference="R901",
                                  key="payments:901:1", amount_minor=4000, currency="AED",
                                  expires_at=clock.now() + timedelta(hours=48))


def _late(key: str, payment: Payment, text: str) -> SideEffect:
    effect = outbox.request(key, kind="payment", service="aps", store=payment.store)
    SideEffect.objects.filter(pk=effect.pk).update(state="sent", late=Concat("late", Value(text),
                                                                             output_field=TextField()))
    return effect


@pytest.mark.parametrize("language,heading,column", [("en", "Late runs", "What the late run saw"),
                                                     ("tr", "Geç kalan çalıştırmalar", "Geç kalan çalıştırmanın gördüğü"),
                                                     ("ru", "Запоздавшие запуски", "Что увидел запоздавший запуск")])
def test_what_a_late_run_saw_on_the_payments_outbox_rows_is_on_its_page(admin_client, language, heading, column):
    payment = _payment()
    refund = PaymentOperation.objects.create(payment=payment, operation="refund", amount_minor=750, sequence=1,
                                             key="payments:901:1:refund:750:1")
    _late(refund.key, payment, SAW)
    _late(purchase_key(payment), payment, SAW.replace("1a2b3c4d", "5e6f7a8b"))
    outbox.request("payments:other", kind="payment", service="aps", store=payment.store)  # not this payment's
    page = admin_client.get(reverse("payments:detail", args=[payment.pk]), HTTP_ACCEPT_LANGUAGE=language)
    html = page.content.decode()
    assert page.status_code == 200 and 'id="late-runs"' in html
    assert heading in html and column in html
    assert html.count('<pre class="late">') == 2 and "run 1a2b3c4d: sent after another run" in html
    assert "run 5e6f7a8b" in html and "7.50 AED" in html


def test_a_payment_without_late_runs_shows_no_such_section(admin_client):
    payment = _payment()
    outbox.request(purchase_key(payment), kind="payment", service="aps", store=payment.store)
    html = admin_client.get(reverse("payments:detail", args=[payment.pk])).content.decode()
    assert 'id="late-runs"' not in html and "Late runs" not in html
