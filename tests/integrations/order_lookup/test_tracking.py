"""Order status by phone reads the tracking code and courier a fulfilment integration (Despatch Cloud) sent, in
the caller's language; through a real Verimor PBX call on MariaDB 2.3, 3.0 and 4.0, and per language in the text."""

from __future__ import annotations

from decimal import Decimal

import pytest
from integrations.order_lookup.lookup_helpers import add_order, index, pbx_url

from ocbridge.core.models import Binding, Connection
from ocbridge.integrations.order_lookup import mappers
from ocbridge.integrations.order_lookup.config import OrderLookupConfig
from ocbridge.integrations.order_lookup.rules import OrderView

CALLER = "05321234567"


def despatched(store, order_id: int, code: str, courier: str) -> None:
    conn = Connection.objects.create(store=store, service="despatch", base_url="https://acme.despatchcloud.co.uk",
                                     secret={"email": "a@b.c", "password": "p"})
    Binding.objects.create(connection=conn, kind="despatch.order", local_id=str(order_id), external_id="1001",
                           data={"state": "despatched", "tracking": [code], "courier": courier})


@pytest.mark.django_db(transaction=True)
def test_verimor_call_speaks_tracking_code_and_courier(hub, verimor, shop_db, make_store, make_line):
    store = make_store(shop_db)
    conn = make_line(store)
    add_order(shop_db, 1001, telephone="0532 123 45 67", status=3)
    index(store)
    despatched(store, 1001, "RM12GB", "Royal Mail")
    transcript = verimor.pbx_call(pbx_url(conn), CALLER, digits=[""])
    first = next(iter(transcript[0]["response"].values()))
    assert "Royal Mail ile gönderildi, takip kodu R M 1 2 G B." in (first.get("phrase") or first.get("greet_phrase"))


@pytest.mark.parametrize("lang,text", [
    ("tr", "Royal Mail ile gönderildi, takip kodu R M 1 2 G B."),
    ("en", "Sent with Royal Mail, tracking code R M 1 2 G B."),
    ("ru", "Отправлен службой Royal Mail, трек-номер R M 1 2 G B."),
])
def test_tracking_sentence_in_the_callers_language(lang, text):
    view = OrderView(order_id=1, label="1", status_id=3, status_name="Shipped", phone=None, total=Decimal("1"),
                     currency="GBP", tracking_code="RM-12 GB", courier="Royal Mail")
    assert mappers.order_parts(OrderLookupConfig(), view, lang)[1] == text


def test_without_courier_only_the_code_and_it_is_the_last_detail_dropped():
    view = OrderView(order_id=1, label="1", status_id=3, status_name="Shipped", phone=None, total=Decimal("10"),
                     currency="GBP", tracking_code="X1")
    parts = mappers.order_parts(OrderLookupConfig(read_total=True), view, "en")
    assert parts[1] == "Tracking code X 1." and parts[-1].startswith("Total")
