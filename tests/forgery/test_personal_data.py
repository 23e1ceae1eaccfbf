"""Customers' personal data in the hub's own tables (core.personal_data): masked in place after the store's period
by the hourly housekeeping job; a person's data found by phone, exported and erased by the store's owner (page) or
the administrator (`ocbridge personal-data`), each audited; risk tallies never hold the number. The shop's own
database is not touched (the stores here have none)."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.test import Client
from django.urls import reverse

pytestmark = pytest.mark.django_db

PHONE, OTHER = "+905321234567", "+905329876543"
NSN = "5321234567"


def _person(store, phone: str, n: int):
    """One customer's traces in every table that keeps personal data."""
    from ocbridge.core import clock
    from ocbridge.core.models import AuditEntry, Connection, Exchange, Integration, Job
    from ocbridge.integrations.cod_confirm import risk
    from ocbridge.integrations.cod_confirm.models import Attempt, Confirmation, OrderOutcome
    from ocbridge.integrations.order_lookup.models import LookupCall
    from ocbridge.opencart.models import ShopWrite

    conn = Connection.objects.get_or_create(store=store, service="sandbox", defaults={"base_url": "http://127.0.0.1:9"})[0]
    integ = Integration.objects.get_or_create(store=store, kind="cod_confirm")[0]
    national = "0" + phone[3:6] + " " + phone[6:9] + " " + phone[9:]
    c = Confirmation.objects.create(store=store, integration=integ, order_id=n, order_label=f"#{n}", status_at_start=1,
                                    customer_name="Ayşe Yılmaz", phone=phone, phone_raw=national, state="confirmed")
    Attempt.objects.create(confirmation=c, number=1, channel="sms", service="sandbox", key=f"k{store.pk}-{n}-1",
                           answer="Evet, ama adresim " + ("Moda Cad. 5" if phone == PHONE else "Bağdat Cad. 9"),
                           connection=conn)
    Attempt.objects.create(confirmation=c, number=2, channel="call", service="sandbox", key=f"k{store.pk}-{n}-2",
                           answer="1", connection=conn)
    OrderOutcome.objects.create(store=store, order_id=n, confirmation=c, phone=phone, outcome="delivered",
                                status_id=5, history_id=n)
    risk.record(store, phone, "delivered")
    Exchange.objects.create(store=store, service="netgsm", method="GET", level="warning",
                            url=f"https://api.netgsm.com.tr/sms/send/get?gsmno={phone[1:]}&msg=Merhaba",
                            request_body=f'{{"to": "{phone}", "text": "Merhaba Ayşe"}}',
                            response_body=f'{{"from": "0{phone[3:]}", "text": "evet"}}')
    LookupCall.objects.create(store=store, service="netgsm", call_id=f"call-{store.pk}-{n}", caller=phone,
                              caller_raw="0" + phone[3:], spoken="Siparişiniz #12 kargoda, Ayşe Hanım")
    first = phone == PHONE  # the two customers live apart: each one's traces are told from the other's
    address = {"shipping_address_1": "Moda Cad. 5" if first else "Bağdat Cad. 9", "shipping_city": "İstanbul"}
    ShopWrite.objects.create(key=f"w{store.pk}-{n}", store=store, kind="address", order_id=n, state="done",
                             request={"address": address, "expected": 1,
                                      "comment": "Before: " + ("Eski Sok. 1" if first else "Yeni Sok. 2")},
                             created=clock.now(), updated=clock.now())
    AuditEntry.objects.create(user="customer", action="cod_confirm.address", store=store,
                              data={"address": address, "remote": "203.0.113.9" if first else "198.51.100.7"})
    Job.objects.create(kind="cod_confirm.customer_page", key=f"j{store.pk}-{n}", store=store, state="done",
                       payload={"confirmation_id": c.pk, "address": address, "confirm": True})
    return c


def _dump(store) -> str:
    """Every registered table's rows of this store as text: where a number or a name could still be."""
    from ocbridge.core import personal_data

    out = []
    for table in personal_data.TABLES:
        out += [str(v) for v in table.model_class._default_manager.filter(**{table.store: store.pk}).values()]
    return "\n".join(out)


@pytest.fixture
def stores(db):
    from ocbridge.core.models import Store

    a = Store.objects.create(name="A", db_host="db", db_name="a")
    b = Store.objects.create(name="B", db_host="db", db_name="b", personal_data_days=365)
    return a, b


def _housekeeping():
    from ocbridge.core.housekeeping import schedule_housekeeping
    from ocbridge.core.jobs import run_until_idle

    schedule_housekeeping()
    run_until_idle()


def test_after_the_period_the_housekeeping_job_masks_in_place(stores):
    from ocbridge.core import clock
    from ocbridge.core.models import Job
    from ocbridge.integrations.cod_confirm import risk
    from ocbridge.integrations.cod_confirm.models import Confirmation, PhoneTally

    a, b = stores
    old_a, old_b = _person(a, PHONE, 1), _person(b, PHONE, 1)
    assert PHONE not in str(list(PhoneTally.objects.values_list("phone", flat=True)))  # tallies: only the key
    assert risk.lookup(a, PHONE).counts["delivered"] == 1

    clock.travel(timedelta(days=170).total_seconds())
    _person(a, OTHER, 2)  # recent: kept
    _housekeeping()
    assert "Ayşe" in _dump(a)  # 170 days < 180: nothing masked yet
    clock.travel(timedelta(days=11).total_seconds())
    _housekeeping()
    assert Job.objects.filter(kind="core.mask_personal_data", state="done").exists()

    old_a.refresh_from_db()
    assert (old_a.customer_name, old_a.phone, old_a.phone_raw) == ("", "", "")
    assert old_a.state == "confirmed" and old_a.order_id == 1  # the case itself stays: counts and charts hold
    text = _dump(a)
    for trace in (PHONE, PHONE[1:], NSN, "Moda Cad", "Eski Sok", "203.0.113.9"):
        assert trace not in text, trace
    assert "Ayşe" in text and OTHER in text  # the recent customer's rows (order 2) are whole
    recent = Confirmation.objects.get(store=a, order_id=2)
    assert recent.customer_name == "Ayşe Yılmaz" and recent.phone == OTHER
    assert risk.lookup(a, PHONE).counts["delivered"] == 1  # the score still counts the masked number's history
    old_b.refresh_from_db()
    assert old_b.phone == PHONE and "Moda Cad" in _dump(b)  # store B keeps 365 days
    _housekeeping()  # again: nothing left to do, nothing changes
    assert _dump(a) == text


def test_the_owner_exports_and_erases_one_persons_data_in_their_store_only(stores):
    from django.contrib.auth.models import User

    from ocbridge.core.models import AuditEntry, OptOut, StoreMember
    from ocbridge.integrations.cod_confirm import risk
    from ocbridge.integrations.cod_confirm.models import Confirmation

    a, b = stores
    _person(a, PHONE, 1), _person(a, OTHER, 2), _person(b, PHONE, 1)
    OptOut.objects.create(store=a, phone=PHONE, scope="all")
    owner = User.objects.create_user("owner-a", password="pw")
    StoreMember.objects.create(store=a, user=owner, role="owner")
    operator = User.objects.create_user("operator-a", password="pw")
    StoreMember.objects.create(store=a, user=operator, role="operator")
    c = Client()
    c.force_login(owner)
    url = reverse("dashboard:personal-data", args=[a.pk])

    resp = c.post(url, {"phone": "0532 123 45 67", "action": "export"})
    assert resp.status_code == 200 and resp["Content-Disposition"].startswith("attachment")
    data = json.loads(resp.content)["data"]
    assert [r["customer_name"] for r in data["cod_confirm.Confirmation"]] == ["Ayşe Yılmaz"]
    assert [r["caller"] for r in data["order_lookup.LookupCall"]] == [PHONE]
    assert len(data["core.Exchange"]) == 1 and len(data["cod_confirm.Attempt"]) == 1  # the SMS answer, not the call
    assert OTHER not in resp.content.decode()
    assert AuditEntry.objects.get(action="personal_data.export").data["phone"] == "+90532123****"

    assert c.post(url, {"phone": PHONE, "action": "erase"}).status_code == 400  # the box must be ticked
    assert Confirmation.objects.get(store=a, order_id=1).phone == PHONE
    resp = c.post(url, {"phone": PHONE, "action": "erase", "confirm": "on"})
    assert resp.status_code == 200
    text = _dump(a)
    assert PHONE not in text and NSN not in text and "Ayşe Yılmaz" in text  # order 2's customer stays
    assert risk.lookup(a, PHONE).counts["delivered"] == 0  # the tally is gone
    assert Confirmation.objects.get(store=b, order_id=1).phone == PHONE  # another store's data is not the owner's
    assert OptOut.objects.filter(store=a, phone=PHONE).exists()  # never contacted again
    entry = AuditEntry.objects.get(action="personal_data.erase")
    assert entry.store == a and entry.data["rows"]["cod_confirm.Confirmation"] == 1

    op = Client()
    op.force_login(operator)
    assert op.post(url, {"phone": OTHER, "action": "export"}).status_code == 403
    assert op.post(reverse("dashboard:personal-data", args=[b.pk]), {"phone": PHONE, "action": "erase",
                                                                    "confirm": "on"}).status_code == 404
    assert Confirmation.objects.get(store=b, order_id=1).phone == PHONE


def test_the_command_line_exports_and_erases_across_stores(stores, capsys):
    from ocbridge.core.models import AuditEntry
    from ocbridge.integrations.cod_confirm.models import Confirmation

    a, b = stores
    _person(a, PHONE, 1), _person(b, PHONE, 1)
    call_command("ocbridge_personal_data", "export", "05321234567")
    out = json.loads(capsys.readouterr().out)
    assert len(out["data"]["cod_confirm.Confirmation"]) == 2
    call_command("ocbridge_personal_data", "erase", PHONE, "--store", str(b.pk), "--yes")
    assert Confirmation.objects.get(store=b, order_id=1).phone == ""
    assert Confirmation.objects.get(store=a, order_id=1).phone == PHONE
    call_command("ocbridge_personal_data", "erase", PHONE, "--yes")
    assert not Confirmation.objects.filter(phone=PHONE).exists()
    assert [e.user for e in AuditEntry.objects.filter(action__startswith="personal_data.")] == ["cli"] * 3


def test_the_store_form_keeps_the_period_between_1_and_3650_days(stores, client):
    from django.contrib.auth.models import User

    a, _b = stores
    client.force_login(User.objects.create_superuser("root", password="pw"))
    form = {"name": "A", "db_host": "db", "db_port": "3306", "db_name": "a", "db_charset": "utf8mb4",
            "table_prefix": "oc_", "oc_store_id": "0", "timezone": "Europe/Istanbul", "language": "tr",
            "country": "TR", "currency": "TRY", "enabled": "on", "stock_source": "shop"}
    resp = client.post(reverse("dashboard:store-edit", args=[a.pk]), {**form, "personal_data_days": "0"})
    assert resp.status_code == 200 and "Between 1 and 3650 days" in resp.content.decode()
    assert client.post(reverse("dashboard:store-edit", args=[a.pk]), {**form, "personal_data_days": "30"}).status_code == 302
    a.refresh_from_db()
    assert a.personal_data_days == 30
