"""The order's page in real Chromium: an order paid through the APS simulator, a partial refund typed on the page
(with a reason), the refund carried out once at the gateway, and the page's totals and operation row after it."""

import re

import pytest
from paykit import aps_bed  # noqa: F401  (the payments test bed: MariaDB shop + APS simulator + live server)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_partial_refund_from_the_orders_page(logged_in, aps_bed):  # noqa: F811
    from ocbridge.integrations.payments import links
    from ocbridge.integrations.payments.models import PaymentOperation

    page = logged_in
    bed = aps_bed("3.0")
    bed.add_order(701, total="40.00")
    payment = links.new_payment(bed.integration, order_id=701, amount="40.00", currency="AED", language="en")
    bed.customer_pays(links.url_for(payment))
    bed.settle()
    payment.refresh_from_db()
    assert payment.state == "paid"
    # from the payments list to the order's page, as the owner finds it
    page.goto(page.base + "/payments/")
    page.click(f"a[href='/payments/stores/{bed.store.pk}/orders/701/']")
    page.wait_for_url(re.compile(r".*/orders/701/$"))
    assert "Layla Hassan" in page.locator("#shop-order").inner_text()
    totals = page.locator("#totals")
    assert totals.locator("td.refundable").inner_text() == "40.00"
    form = page.locator(f"#payment-{payment.pk} form.op-refund")
    form.locator("input[name=amount]").fill("15.25")
    form.locator("input[name=reason]").fill("two cups arrived broken")
    form.locator("button").click()
    page.wait_for_url(re.compile(r".*/orders/701/$"))
    assert "Sent to the gateway" in page.content()
    assert "under way" in page.locator("#totals").inner_text()
    bed.settle()
    page.reload()
    assert page.locator("#totals td.refunded").inner_text() == "15.25"
    assert page.locator("#totals td.refundable").inner_text() == "24.75"
    row = page.locator(f"#payment-{payment.pk} tr.op-done").inner_text()
    assert "15.25 AED" in row and "two cups arrived broken" in row and "owner" in row
    assert page.locator(f"#payment-{payment.pk} .state").inner_text() == "Paid"  # a partial refund keeps it paid
    assert bed.sim.transactions()[payment.reference]["refunded"] == 1525
    assert PaymentOperation.objects.filter(payment=payment).count() == 1
    assert any("15.25 AED" in c and payment.reference in c for _s, c in bed.history(701))
    assert page.errors == []
