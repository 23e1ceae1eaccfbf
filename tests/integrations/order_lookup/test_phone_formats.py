"""Every phone format the seed generator writes into `order.telephone` is found from the caller's number."""

from __future__ import annotations

import random
import re

import pytest
from integrations.order_lookup.lookup_helpers import add_order, index, pbx_url

from ocbridge.integrations.order_lookup.choices import Reason
from ocbridge.integrations.order_lookup.models import LookupCall
from ocbridge.opencart import phones, seed

pytestmark = pytest.mark.django_db(transaction=True)


def seed_shapes() -> dict[str, list[str]]:
    """One example per distinct shape (digits → 9) the generator produces, per country."""
    out: dict[str, list[str]] = {"TR": [], "RU": []}
    for country, gen in (("TR", seed.phone_tr), ("RU", seed.phone_ru)):
        shapes: dict[str, str] = {}
        for i in range(3000):
            value = gen(random.Random(i))
            shapes.setdefault(re.sub(r"\d", "9", value), value)
        out[country] = sorted(shapes.values())
    return out


def verimor_cli(e164: str) -> str:
    """How Verimor's PBX sends a caller: 0 + 10 digits at home, 00 + country code from abroad."""
    return "0" + e164[3:] if e164.startswith("+90") else "00" + e164[1:]


@pytest.mark.parametrize("version", ["2.3", "3.0", "4.0"])
def test_every_seed_phone_format_finds_its_order(hub, verimor, opencart_db, make_store, make_line, version):
    h = opencart_db(version)
    tr = make_store(h)
    ru = make_store(h, name="Второй магазин", oc_store_id=1, country="RU", language="en")
    tr_line, ru_line = make_line(tr), make_line(ru)
    shapes = seed_shapes()
    assert len(shapes["TR"]) >= 8 and len(shapes["RU"]) >= 4  # the generator's forms, plus its broken ones
    expected = []
    order_id = 9000
    for country, store_id, values in (("TR", 0, shapes["TR"]), ("RU", 1, shapes["RU"])):
        for value in values:
            order_id += 1
            add_order(h, order_id, telephone=value, store_id=store_id, status=3)
            expected.append((country, value, order_id, phones.normalize(value, country)))
    index(tr)
    usable = [e for e in expected if e[3]]
    assert len(usable) >= 12
    for country, value, oid, e164 in usable:
        line = tr_line if country == "TR" else ru_line
        transcript = verimor.pbx_call(pbx_url(line), verimor_cli(e164))
        phrase = transcript[0]["response"]["prompt"]["phrase"]
        assert f"{oid}" in phrase, (country, value, e164, phrase)
    for country, value, oid, e164 in (e for e in expected if not e[3]):  # "", "123", "telefon yok", "нет"
        assert value == "" or not re.search(r"\d{7}", value)


def test_numbers_do_not_leak_between_stores_of_one_database(hub, verimor, opencart_db, make_store, make_line):
    h = opencart_db("3.0")
    tr = make_store(h)
    ru = make_store(h, name="Второй магазин", oc_store_id=1, country="RU", language="en")
    add_order(h, 9501, telephone="+90 532 123 45 67", store_id=1, status=3)
    index(tr)
    transcript = verimor.pbx_call(pbx_url(make_line(tr)), "05321234567", digits=["9501"])
    assert "9501" not in transcript[0]["response"]["prompt"]["phrase"]
    assert transcript[-1]["response"]["transfer"]["target"] == "queue/100"
    assert LookupCall.objects.get().reason == Reason.NOT_FOUND
    found = verimor.pbx_call(pbx_url(make_line(ru)), "05321234567")
    assert "9501" in found[0]["response"]["prompt"]["phrase"]
