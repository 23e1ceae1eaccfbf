"""A payment's history (PaymentEvent.what_said) and its operations' gateway messages (PaymentOperation.
gateway_message_said) read in each reader's language on the payment's page and the order's payments page: our framing
said, the gateway's own words inside it as they came. The real flow — a pay link paid at the APS simulator, a refund
that goes through and one a firewall in front of APS refuses (the simulator's "403" fault) — its jobs run in a Turkish
worker. Rows written before (text only) still show their text."""

from __future__ import annotations

import pytest
from django.urls import reverse
from django.utils import translation
from testkit import page_read

from ocbridge.integrations.payments import operations
from ocbridge.integrations.payments.models import OperationState, PaymentEvent

pytestmark = pytest.mark.django_db(transaction=True)

SAID = {  # each line of the history (or the operation's message), per reader
    "link": {"en": "link made for 20.00 AED", "tr": "20.00 AED için bağlantı oluşturuldu",
             "ru": "ссылка создана на 20.00 AED"},
    "asked": {"en": "refund of 5.00 AED asked: one mug broken", "tr": "5.00 AED iadesi istendi: one mug broken",
              "ru": "запрошен возврат 5.00 AED: one mug broken"},
    "refunded": {"en": "refunded 5.00 AED (part)", "tr": "5.00 AED iade edildi (kısmi)",
                 "ru": "возвращено 5.00 AED (частично)"},
    "refused": {"en": "refund of 3.00 AED refused: answered HTTP 403 without a body",
                "tr": "3.00 AED iadesi reddedildi: HTTP 403 ile yanıt verdi, yanıt gövdesi boş",
                "ru": "возврат 3.00 AED отклонён: ответил HTTP 403 с пустым телом ответа"},
    "op": {"en": "— answered HTTP 403 without a body", "tr": "— HTTP 403 ile yanıt verdi, yanıt gövdesi boş",
           "ru": "— ответил HTTP 403 с пустым телом ответа"},
}


def _pages(payment, lang: str) -> tuple[str, str]:
    """The payment's page and its order's payments page, as a reader in `lang` sees them."""
    return (page_read(reverse("payments:detail", args=[payment.pk]), lang),
            page_read(reverse("payments:order", args=[payment.store_id, payment.order_id]), lang))


def _refunded_in_part(bed, order_id: int):
    """A pay link for 20.00 AED paid at the gateway, then 5.00 AED of it refunded by the owner: the Payment."""
    payment = bed.paid_payment(order_id)
    operations.request(payment, "refund", 500, sequence=1, reason="one mug broken", user="owner")
    bed.settle()
    return payment


def test_a_payments_history_and_a_refused_refund_read_in_each_readers_language(aps_bed):
    bed = aps_bed("3.0")
    with translation.override("tr"):  # the worker's (and the link maker's) language must not matter
        payment = _refunded_in_part(bed, 640)
        bed.sim.fail_next("403", path="/FortAPI/paymentApi", count=5)  # a firewall in front of APS
        refused = operations.request(payment, "refund", 300, sequence=2, reason="late", user="owner")
        bed.settle()
    refused.refresh_from_db()
    assert refused.state == OperationState.FAILED and refused.gateway_message_said
    whats = list(PaymentEvent.objects.filter(payment=payment).values_list("what", flat=True))
    for key in ("link", "asked", "refunded", "refused"):
        assert SAID[key]["en"] in whats, (key, whats)  # the stored text, for logs and older readers: English
    for lang in ("en", "tr", "ru"):
        for page in _pages(payment, lang):
            for key, said in SAID.items():
                assert said[lang] in page, (lang, key, page[-3000:])
                for other in {"en", "tr", "ru"} - {lang}:
                    assert said[other] not in page, (lang, key)


def test_history_written_before_as_text_still_shows(aps_bed):
    """An event and an operation stored before they were said (text only, no *_said): shown as stored."""
    from ocbridge.integrations.payments.models import PaymentOperation

    payment = aps_bed("3.0").new_payment(641)
    PaymentEvent.objects.create(payment=payment, from_state="paid", to_state="paid", actor="owner",
                                what="refund of 2.00 AED asked: an old row")
    PaymentOperation.objects.create(payment=payment, operation="refund", amount_minor=200, sequence=1, key="old:1",
                                    state=OperationState.FAILED, gateway_message="aps: 00042 an old refusal")
    for lang in ("tr", "ru"):
        for page in _pages(payment, lang):
            assert "refund of 2.00 AED asked: an old row" in page and "aps: 00042 an old refusal" in page, lang


def test_a_payments_states_and_who_acted_read_in_each_readers_language(aps_bed):
    """The payment's page gives each history line's states and the "By" column as the order's page does: labels in
    the reader's language (Link made → At the gateway; the dashboard, the pay link), not the stored values (created →
    pending; dashboard, link). A user's name shows as it is."""
    import re

    bed = aps_bed("3.0")
    with translation.override("tr"):
        payment = _refunded_in_part(bed, 642)
    actors = set(PaymentEvent.objects.filter(payment=payment).values_list("actor", flat=True))
    assert {"dashboard", "link", "owner"} <= actors, actors  # and the gateway's notice or a status check
    said = {"en": ("Link made → At the gateway", "Pay link", "Dashboard"),
            "tr": ("Bağlantı oluşturuldu → Ödeme sağlayıcısında", "Ödeme linki", "Panel"),
            "ru": ("Ссылка создана → В платёжной системе", "Ссылка на оплату", "Панель управления")}
    for lang in ("en", "tr", "ru"):
        detail, order = _pages(payment, lang)
        cells = re.findall(r"<td>(.*?)</td>", detail)
        moved, link, check = said[lang]
        assert moved in cells and link in cells and check in cells and "owner" in cells, (lang, cells)
        assert not {"created → pending", "link", "status check", "dashboard", "gateway"} & set(cells), (lang, cells)
        order_cells = re.findall(r"<td>(.*?)</td>", order)
        assert link in order_cells and check in order_cells, (lang, order_cells)
        assert not {"link", "status check", "dashboard", "gateway"} & set(order_cells), (lang, order_cells)
