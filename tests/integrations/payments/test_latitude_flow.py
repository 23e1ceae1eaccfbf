"""LatitudePay v3 end to end (closed in 2023: its documented protocol against our simulator) on MariaDB 3.0 and 4.0
shops: pay by link, declined, forged and replayed callbacks, refunds part and full, over-refund refused, a refund
whose answer is lost asked about, not resent; capture and void refused (Latitude has none)."""

from __future__ import annotations

import pytest

from ocbridge.core.models import Exchange
from ocbridge.integrations.payments import links, operations
from ocbridge.integrations.payments.models import OperationState, PaymentNotice

from .conftest import latitude_pays

pytestmark = pytest.mark.django_db(transaction=True)


def _link(bed, order_id, total="120.00"):
    bed.add_order(order_id, total=total, currency="AUD")
    payment = links.new_payment(bed.integration, order_id=order_id, amount=total, currency="AUD",
                                email="sam@example.com.au", language="en")
    return payment, links.url_for(payment)


@pytest.mark.parametrize("version", ["3.0", "4.0"])
def test_paid_by_link_then_refunded_in_part_and_in_full(lat_bed, version):
    bed = lat_bed(version)
    payment, link = _link(bed, 701)
    back = latitude_pays(bed, link)
    assert back.status_code == 200
    bed.settle()
    payment.refresh_from_db()
    assert payment.state == "paid" and payment.captured_minor == 12000 and bed.order_status(701) == 2
    sale = bed.sim.sales()[payment.gateway_id]
    assert sale["reference"] == payment.reference and sale["body"]["totalAmount"] == {"amount": 120.0, "currency": "AUD"}
    operations.request(payment, "refund", 2000, sequence=1, reason="one item missing", user="owner")
    bed.settle()
    payment.refresh_from_db()
    assert payment.refunded_minor == 2000 and payment.state == "paid"
    with pytest.raises(operations.OperationRefused):
        operations.request(payment, "refund", 10001, sequence=2, reason="too much", user="owner")
    operations.request(payment, "refund", 10000, sequence=2, reason="the rest", user="owner")
    bed.settle()
    payment.refresh_from_db()
    assert payment.state == "refunded" and bed.sim.sales()[payment.gateway_id]["refunded"] == 12000
    assert len([c for _s, c in bed.history(701) if c.startswith("Refunded")]) == 2 and bed.order_status(701) == 11
    for op in ("capture", "void"):
        with pytest.raises(operations.OperationRefused):
            operations.request(payment, op, 100, sequence=1, reason="x", user="owner")


def test_declined_forged_and_replayed_callbacks(lat_bed):
    import httpx

    bed = lat_bed("3.0")
    payment, link = _link(bed, 702)
    latitude_pays(bed, link, "decline")
    bed.settle()
    payment.refresh_from_db()
    assert payment.state == "failed" and bed.order_status(702) == 1
    bed.sim.forge_callback(payment.gateway_id, bed.connection.webhook_url("callback"))
    bed.settle()
    payment.refresh_from_db()
    assert payment.state == "failed"
    assert Exchange.objects.filter(direction="in", purpose="latitudepay.callback", outcome="rejected").exists()
    # the genuine callback replayed (same signed query) is recognised as the same notice
    genuine = next(a for a in bed.sim.sent_webhooks() if "signature=0000" not in a.url)
    assert httpx.get(genuine.url).status_code == 200
    assert PaymentNotice.objects.filter(payment=payment).count() == 1


def test_refund_whose_answer_is_lost_is_not_resent(lat_bed):
    bed = lat_bed("4.0")
    payment, link = _link(bed, 703)
    latitude_pays(bed, link)
    bed.settle()
    payment.refresh_from_db()
    bed.sim.fail_next("500", path=f"/v3/sale/{payment.gateway_id}/refund", after=True)
    op = operations.request(payment, "refund", 5000, sequence=1, reason="late", user="owner")
    bed.settle()
    op.refresh_from_db(), payment.refresh_from_db()
    assert op.state == OperationState.DONE and payment.refunded_minor == 5000
    assert bed.sim.sales()[payment.gateway_id]["refunded"] == 5000
    assert len(bed.sim.requests(f"/v3/sale/{payment.gateway_id}/refund")) == 1


def test_settings_test_checks_credentials_without_charging(lat_bed):
    from ocbridge.integrations.payments.jobs import check_connection

    bed = lat_bed("3.0")
    assert check_connection(bed.connection)["ok"]
    assert not bed.sim.sales()
    bed.connection.secret = {"api_key": "lp-key", "api_secret": "wrong"}
    bed.connection.save()
    from ocbridge.services import latitudepay

    latitudepay.forget_tokens()
    result = check_connection(bed.connection)
    assert not result["ok"] and "refused" in result["message"]
