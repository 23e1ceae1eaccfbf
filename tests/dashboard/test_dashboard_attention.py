"""The owner's "needs attention" query, the overview's "N orders need you" box, bulk actions and phone correction."""

import datetime as dt

import pytest
from django.urls import reverse

from ocbridge.core import attention, clock
from testkit import cod_integration

pytestmark = pytest.mark.django_db


@pytest.fixture
def integ(store, connection):
    return cod_integration(store, connection)


def _case(integ, n, state="needs_person", phone="+905321234567", **kw):
    from ocbridge.integrations.cod_confirm.models import Confirmation

    return Confirmation.objects.create(store=integ.store, integration=integ, order_id=n, order_label=f"A-{n}",
                                       customer_name=f"Customer {n}", phone=phone, phone_raw=phone or "12",
                                       status_at_start=1, state=state, **kw)


def test_contributors_feed_one_query_and_orders_add_up(store, integ, connection):
    from ocbridge.core.models import Job, Store

    _case(integ, 1)
    _case(integ, 2)
    _case(integ, 3, state="calling")
    connection.mark_error("verimor: 401 Incorrect API Key!")
    Job.objects.create(kind="core.probe", key="late", store=store, state="queued",
                       next_run_at=clock.now() - dt.timedelta(minutes=10))
    items = attention.needs_attention(Store.objects.all())
    by_key = {a.key: a for a in items}
    assert by_key["cod_confirm.needs_person"].count == 2 and by_key["cod_confirm.needs_person"].orders
    assert "Incorrect API Key!" in by_key["core.connections_failing"].text  # the provider's own words stay readable
    assert by_key["core.worker_stalled"].severity == attention.ERROR
    assert attention.orders_needing_you(items) == 2  # connections and the worker are lines, not orders
    other = Store.objects.create(name="Other", version="3.0")
    assert attention.needs_attention(Store.objects.filter(pk=other.pk)) == []  # scoped by the stores given


def test_a_broken_contributor_is_a_line_not_a_crash(store):
    from ocbridge.core.models import Store

    @attention.register_attention("test.broken", order=1)
    def broken(stores):
        raise RuntimeError("boom")

    try:
        items = attention.needs_attention(Store.objects.all())
        assert [a.key for a in items if a.severity == attention.ERROR] == ["test.broken"]
    finally:
        attention._contributors.pop("test.broken")


def test_overview_box_lists_orders_and_bulk_confirm_is_audited(client_in, integ):
    from ocbridge.core.models import AuditEntry, Job

    a, b, c = _case(integ, 11), _case(integ, 12), _case(integ, 13)
    html = client_in.get(reverse("dashboard:home")).content.decode()
    assert "3 orders need you" in html and "A-11" in html and "3 COD orders need a person" in html
    resp = client_in.post(reverse("dashboard:confirmations-bulk"),
                          {"action": "confirm", "reason": "called them myself", "ids": [a.pk, b.pk], "next": "/"})
    assert resp.status_code == 302 and resp["Location"] == "/"
    for x in (a, b, c):
        x.refresh_from_db()
    assert (a.state, b.state, c.state) == ("confirmed", "confirmed", "needs_person")
    assert AuditEntry.objects.filter(action="cod_confirm.confirm").count() == 2
    assert Job.objects.filter(key__contains=":history:").count() >= 2  # the shop writes follow, one per order
    html = client_in.get(reverse("dashboard:home")).content.decode()
    assert "1 order needs you" in html


def test_bulk_without_reason_or_ticks_changes_nothing(client_in, integ):
    a = _case(integ, 21)
    client_in.post(reverse("dashboard:confirmations-bulk"), {"action": "cancel", "reason": "", "ids": [a.pk]})
    client_in.post(reverse("dashboard:confirmations-bulk"), {"action": "cancel", "reason": "x"})
    a.refresh_from_db()
    assert a.state == "needs_person"


def test_call_again_is_refused_without_a_usable_phone_and_a_person_corrects_it(client_in, integ):
    from ocbridge.core.models import AuditEntry, Job

    bad = _case(integ, 31, phone="")
    resp = client_in.post(reverse("dashboard:confirmation-act", args=[bad.pk]), {"action": "call", "reason": "retry"})
    assert resp.status_code == 400 and "correct the phone first" in resp.content.decode()
    client_in.post(reverse("dashboard:confirmations-bulk"), {"action": "call", "reason": "retry", "ids": [bad.pk]})
    bad.refresh_from_db()
    assert bad.state == "needs_person" and not Job.objects.filter(key__contains=":manual:").exists()

    resp = client_in.post(reverse("dashboard:confirmation-phone", args=[bad.pk]), {"phone-phone": "12", "phone-reason": "typo"})
    assert resp.status_code == 400
    resp = client_in.post(reverse("dashboard:confirmation-phone", args=[bad.pk]),
                          {"phone-phone": "0532 765 43 21", "phone-reason": "customer wrote to us"})
    assert resp.status_code == 302
    bad.refresh_from_db()
    assert bad.phone == "+905327654321"
    entry = AuditEntry.objects.get(action="cod_confirm.phone_corrected")
    assert entry.data["new_phone"] == "+905327654321" and entry.reason == "customer wrote to us"
    resp = client_in.post(reverse("dashboard:confirmation-act", args=[bad.pk]), {"action": "call", "reason": "retry"})
    assert resp.status_code == 302 and Job.objects.filter(key__contains=":manual:").count() == 1
