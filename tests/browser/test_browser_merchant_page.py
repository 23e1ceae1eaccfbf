"""The APS merchant page in real Chromium: the pay page's script posts APS's signed card form into the iframe, the
card is typed on the (simulated) APS page inside it, the iframe comes back to the hub, which breaks out to the whole
window; hosted installments: the customer picks a bank's plan on the pay page first. The payment is decided by
APS's feedback or a status check, then the pay page shows it."""

import re

import pytest
from paykit import aps_bed  # noqa: F401  (the payments test bed: MariaDB shop + APS simulator + live server)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _type_card(page, number: str) -> None:
    frame = page.frame_locator("iframe[name=aps-card]")
    frame.locator("input[name=card_number]").fill(number)
    frame.locator("input[name=expiry_date]").fill("3012")
    frame.locator("input[name=card_security_code]").fill("123")
    frame.locator("button[type=submit]").click()


def _paid_page(page, bed, payment, link: str) -> None:
    from ocbridge.core.jobs import run_until_idle

    # the iframe waits ("processing", re-asking by itself) until the purchase job has run — the worker's part, played
    # here — then the hub's page in it sends the whole window back to the pay page
    page.frame_locator("iframe[name=aps-card]").locator("#processing").wait_for()
    run_until_idle()
    page.wait_for_function("() => !document.querySelector('iframe[name=aps-card]')")
    assert "/pay/" in page.url and "/card" not in page.url
    bed.settle()
    payment.refresh_from_db()
    assert payment.state == "paid"
    page.goto(link)
    assert "Payment received" in page.locator("h1").inner_text()


def test_card_typed_in_the_iframe_pays(page, aps_bed):  # noqa: F811
    from ocbridge.integrations.payments import links

    bed = aps_bed("4.0", integration_type="merchant_page")
    bed.add_order(801, total="40.00")
    payment = links.new_payment(bed.integration, order_id=801, amount="40.00", currency="AED", language="en")
    link = links.url_for(payment)
    page.goto(link)
    assert page.locator("#card-form input[name=service_command]").get_attribute("value") == "TOKENIZATION"
    assert page.locator("#card-form input[name=card_number]").count() == 0  # no card field on the hub's page
    _type_card(page, "4111111111111111")
    _paid_page(page, bed, payment, link)
    assert len([r for r in bed.sim.requests("/FortAPI/paymentApi") if r.json().get("command") == "PURCHASE"]) == 1
    assert page.errors == []


def test_hosted_installment_plan_then_card(page, aps_bed):  # noqa: F811
    from ocbridge.integrations.payments import installments, links

    bed = aps_bed("3.0", integration_type="merchant_page", installments="hosted")
    bed.add_order(802, total="2000.00")
    payment = links.new_payment(bed.integration, order_id=802, amount="2000.00", currency="AED", language="en")
    installments.prefetch(payment)  # as the job that makes a link does: the page itself never asks APS
    link = links.url_for(payment)
    page.goto(link)
    assert page.locator("iframe[name=aps-card]").count() == 0  # the customer chooses first
    page.click("text=6 monthly payments of 333.33 AED")
    page.wait_for_url(re.compile(r".*plan=zaQnN1\.6MGB.*"))
    assert "6 monthly payments of 333.33 AED" in page.locator("#installment-plan").inner_text()
    page.click("#change-way")  # the customer changes their mind: the choice again, no plan kept
    page.wait_for_selector("text=3 monthly payments of 666.67 AED")
    assert page.locator("#installment-plan").count() == 0 and page.locator("iframe[name=aps-card]").count() == 0
    page.click("text=6 monthly payments of 333.33 AED")
    page.wait_for_selector("iframe[name=aps-card]")
    _type_card(page, "4111111111111111")
    _paid_page(page, bed, payment, link)
    assert "6 monthly payments of 333.33 AED" in page.locator("#installment-plan").inner_text()
    payment.refresh_from_db()
    assert (payment.installment_plan["plan_code"], payment.installment_plan["mode"]) == ("6MGB", "hosted")
    assert page.errors == []
