"""The customer fixes their own delivery address from the link in the confirmation SMS: a signed, expiring hub page
in their language; the change goes to the shop through the journaled write (shipping_* and a history row naming
the old address), once, shows in the timeline and the audit log, and a "confirm" there is decided after it."""

import re

import pytest
import sqlalchemy as sa
from django.test import Client
from django.urls import reverse

from ocbridge.core import clock
from ocbridge.core.models import AuditEntry
from ocbridge.integrations.cod_confirm import address
from ocbridge.integrations.cod_confirm.models import Confirmation
from opencart.opencart_helpers import add_order, set_status

pytestmark = pytest.mark.django_db(transaction=True)
E164 = "+905321234567"
SMS = {"tr": "{shop}: {order_id} nolu siparisinizi onaylamak icin EVET yazin. Adres: {address_link}",
       "en": "{shop}: reply YES to confirm {order_id}. Address: {address_link}",
       "ru": "{shop}: ответьте ДА. Адрес: {address_link}", "ar": "{shop}: {address_link}"}
NEW = {"shipping_address_1": "Bağdat Cad. 12", "shipping_address_2": "Daire 3 & kat 2",
       "shipping_city": "Kadıköy", "shipping_postcode": "34728"}



def _path(url: str) -> str:
    return "/" + url.split("//", 1)[1].split("/", 1)[1]


def _shop_address(bed, order_id):
    with bed.shop.engine.connect() as conn:
        return tuple(conn.execute(sa.text("SELECT shipping_address_1, shipping_address_2, shipping_city, "
                                          "shipping_postcode FROM oc_order WHERE order_id = :o"), {"o": order_id}).one())


def _order(bed, order_id):
    add_order(bed.shop, order_id, telephone="0532 123 45 67", shipping_address_1="Eski Sok. 1",
              shipping_address_2="", shipping_city="Ankara", shipping_postcode="06000")


def test_the_customer_corrects_the_address_and_confirms_from_the_sms_link(cod_bed):
    bed = cod_bed("3.0", channels=("sms",), delays=(0,), window=60, sms_texts=SMS)
    bed.sim.set_customer(E164, sms_reply=None)  # the customer does not reply: they open the link
    _order(bed, 6001)
    bed.run()
    c = Confirmation.objects.get(order_id=6001)
    assert c.state == "sms_sent"
    text = bed.sim.messages()[-1]["text"]
    url = re.search(r"https?://\S+", text)[0]
    assert address.confirmation_of(url.rstrip("/").rsplit("/", 1)[1]) == c and len(url) < 90  # short, signed
    page = Client().get(_path(url))
    html = page.content.decode()
    assert page.status_code == 200 and 'lang="tr"' in html and "Eski Sok. 1" in html and "Siparişimi onayla" in html
    resp = Client().post(_path(url), {**NEW, "confirm": "1"})
    assert resp.status_code == 302
    Client().post(_path(url), {**NEW, "confirm": "1"})  # pressed twice: written once
    bed.run()
    c.refresh_from_db()
    assert _shop_address(bed, 6001) == ("Bağdat Cad. 12", "Daire 3 &amp; kat 2", "Kadıköy", "34728")
    assert bed.history(6001) == [
        (1, "Delivery address corrected by the customer (ocbridge). Before: Eski Sok. 1, Ankara, 06000"),
        (2, "COD confirmed by the customer (web).")]  # the address first, then the status
    assert c.state == "confirmed" and c.transitions.filter(reason__startswith="delivery address corrected",
                                                           channel="web").count() == 1
    assert AuditEntry.objects.filter(action="cod_confirm.address", store=bed.store).count() == 1
    detail = Client()
    from django.contrib.auth.models import User

    detail.force_login(User.objects.create_superuser("root", password="pw"))
    timeline = detail.get(reverse("dashboard:confirmation", args=[c.pk])).content.decode()
    assert "Bağdat Cad. 12" in timeline and "Eski Sok. 1, Ankara, 06000" in timeline
    again = Client().get(_path(url)).content.decode()
    assert "Bu sipariş burada artık değiştirilemez" in again  # decided: nothing more to change


def test_a_link_is_refused_when_forged_expired_or_the_order_left_pending(cod_bed, settings):
    bed = cod_bed("3.0", channels=("sms",), delays=(0,), window=60, sms_texts=SMS)
    bed.sim.set_customer(E164, sms_reply=None)
    _order(bed, 6002)
    bed.run()
    c = Confirmation.objects.get(order_id=6002)
    path = _path(address.url_for(c))
    forged = path.replace(f"/a/{c.pk}.", f"/a/{c.pk + 1}.")
    assert forged != path and Client().get(forged).status_code == 404
    set_status(bed.shop, 6002, 2)  # the shop moved it on
    resp = Client().post(path, {**NEW})
    assert resp.status_code == 200 and "Bu sipariş burada artık değiştirilemez" in resp.content.decode()
    set_status(bed.shop, 6002, 1)
    clock.travel(address.LINK_DAYS * 86400 + 60)
    assert Client().get(path).status_code == 410
    bed.run()
    assert _shop_address(bed, 6002)[0] == "Eski Sok. 1"


def test_the_page_speaks_the_customers_language_arabic_right_to_left(cod_bed):
    bed = cod_bed("3.0", channels=("sms",), delays=(0,), window=60, sms_texts=SMS)
    bed.sim.set_customer(E164, sms_reply=None)
    _order(bed, 6003)
    bed.run()
    c = Confirmation.objects.get(order_id=6003)
    for lang, words in (("ar", 'dir="rtl"'), ("ru", "Подтвердить заказ"), ("en", "Confirm my order")):
        html = Client().get(_path(address.url_for(c)) + f"?lang={lang}").content.decode()
        assert words in html, lang
    resp = Client().post(_path(address.url_for(c)) + "?lang=en", {"shipping_address_1": "", "shipping_city": "X"})
    assert resp.status_code == 400 and "This field is required." in resp.content.decode()
