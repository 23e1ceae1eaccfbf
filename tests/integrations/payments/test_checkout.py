"""At checkout: our OpenCart extension's catalog code (run by php-cli with our stubs) signs the hand-over, the hub
accepts exactly that URL, makes the order's payment from the shop's own amount and currency, and the customer pays
at APS and returns to the shop's success page. Forged, stale or foreign hand-overs are refused."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import httpx
import pytest

from ocbridge.core import clock
from ocbridge.integrations.payments.models import Payment
from ocbridge.opencart import extension

pytestmark = [pytest.mark.django_db(transaction=True),
              pytest.mark.skipif(shutil.which("php") is None, reason="php-cli is installed by scripts/system-deps.sh test")]
EXT = Path(__file__).resolve().parents[3] / "extension" / "opencart"


def _php_handover(layout: str, hub: str, store_key: int, secret: str, order_id: int) -> str:
    scenario = {"config": {"payment_ocbridge_status": 1, "payment_ocbridge_hub_url": hub,
                           "payment_ocbridge_store_key": str(store_key), "payment_ocbridge_secret": secret,
                           "payment_ocbridge_order_status_id": "1"},
                "session": {"order_id": order_id, "payment_method": {"code": "ocbridge" if layout == "oc3" else "ocbridge.ocbridge"}},
                "total": 1}
    out = subprocess.run(["php", str(EXT / "tests" / "harness.php"), layout, str(EXT / layout), json.dumps(scenario)],
                         capture_output=True, text=True, check=True)
    return json.loads(out.stdout)["json"]["redirect"]


@pytest.mark.parametrize("version,layout", [("3.0", "oc3"), ("4.0", "oc4")])
def test_checkout_hand_over_pays_and_returns_to_the_shops_success_page(aps_bed, version, layout):
    bed = aps_bed(version)
    bed.store.api_url = "https://api.shop.example/"  # the native API's address is not where the customer shops
    bed.store.save()
    secret = extension.secret_of(bed.store, create=True)
    bed.add_order(601, total="45.50", currency="SAR", store_url="https://shop.example/")  # OpenCart's store_url
    url = _php_handover(layout, bed.hub, bed.store.pk, secret, 601)
    back = bed.customer_pays(url)
    bed.settle()
    payment = Payment.objects.get(order_id=601)
    assert (payment.origin, payment.amount_minor, payment.currency, payment.state) == ("checkout", 4550, "SAR", "paid")
    assert "https://shop.example/index.php?route=checkout/success" in back.text
    assert bed.order_status(601) == 2
    # the same hand-over again (back button, double click) finds the same payment
    assert httpx.get(url).status_code in (200, 302) and Payment.objects.filter(order_id=601).count() == 1


def test_forged_stale_and_foreign_hand_overs_are_refused(aps_bed):
    bed = aps_bed("3.0")
    secret = extension.secret_of(bed.store, create=True)
    bed.add_order(602)
    good = _php_handover("oc3", bed.hub, bed.store.pk, secret, 602)
    forged = _php_handover("oc3", bed.hub, bed.store.pk, "x" * 48, 602)
    assert httpx.get(forged).status_code == 403
    other_order = good.replace("/602/", "/603/")
    assert httpx.get(other_order).status_code == 403
    ts = int(clock.now().timestamp()) - 2 * extension.MAX_AGE
    stale = f"{bed.hub}/pay/checkout/{bed.store.pk}/602/{ts}/{extension.sign(secret, bed.store.pk, 602, ts)}/"
    assert httpx.get(stale).status_code == 403
    assert not Payment.objects.exists()
    extension.new_secret(bed.store)  # the owner made a new secret: the old one stops working
    assert httpx.get(good).status_code == 403
