"""Times on dashboard pages are in the store's own time zone (a row without a store: the active one, UTC), with the
zone named on the page; the confirmations text search is bounded by a window it shows and can widen."""

import datetime as dt

import pytest
import time_machine
from django.apps import apps
from django.urls import reverse
from testkit import cod_integration

pytestmark = pytest.mark.django_db
NOW = dt.datetime(2026, 3, 10, 9, 0, tzinfo=dt.UTC)
INSTANT = dt.datetime(2026, 3, 9, 22, 30, tzinfo=dt.UTC)  # 10 March 01:30 in Istanbul (UTC+3), 9 March in UTC
LOCAL, UTC_TEXT = "10 Mar 2026 01:30", "09 Mar 2026 22:30"  # Turkish short date-time format (lists)
LOCAL_LONG, UTC_LONG = "10 Mart 2026 01:30", "09 Mart 2026 22:30"  # and the long one (detail pages)


@pytest.fixture
def ist(store):
    store.timezone = "Europe/Istanbul"
    store.save()
    return store


def _get(client, url, **params):
    resp = client.get(url, params, HTTP_ACCEPT_LANGUAGE="tr")
    assert resp.status_code == 200
    return resp.content.decode()


@time_machine.travel(NOW, tick=False)
def test_exchange_log_and_detail_show_the_stores_local_time(client_in, ist):
    from ocbridge.core.models import Exchange

    ex = Exchange.objects.create(service="netgsm", store=ist, method="POST", url="https://x.example/", created=INSTANT)
    html = _get(client_in, reverse("dashboard:exchanges"))
    assert LOCAL in html and UTC_TEXT not in html
    assert "Europe/Istanbul" in html
    html = _get(client_in, reverse("dashboard:exchange", args=[ex.pk]))
    assert LOCAL_LONG in html and UTC_LONG not in html and "Europe/Istanbul" in html


@time_machine.travel(NOW, tick=False)
def test_exchange_without_a_store_is_shown_in_the_active_zone(client_in, ist):
    from ocbridge.core.models import Exchange

    Exchange.objects.create(service="netgsm", method="POST", url="https://x.example/", created=INSTANT)
    html = _get(client_in, reverse("dashboard:exchanges"))
    assert UTC_TEXT in html and LOCAL not in html and "UTC" in html


@time_machine.travel(NOW, tick=False)
def test_exchange_log_reads_from_and_to_in_the_filtered_stores_zone(client_in, ist):
    from ocbridge.core.models import Exchange

    before = Exchange.objects.create(service="netgsm", store=ist, created=dt.datetime(2026, 3, 10, 5, 30, tzinfo=dt.UTC))
    after = Exchange.objects.create(service="netgsm", store=ist, created=dt.datetime(2026, 3, 10, 6, 30, tzinfo=dt.UTC))
    resp = client_in.get(reverse("dashboard:exchanges"), {"store": ist.pk, "start": "2026-03-10T09:00"})
    # 09:00 in Istanbul is 06:00 UTC: only the later one.
    assert [e.pk for e in resp.context["page"].rows] == [after.pk] and before.pk
    assert "(Europe/Istanbul)" in resp.content.decode()


@time_machine.travel(NOW, tick=False)
def test_job_list_and_detail_show_the_stores_local_time(client_in, ist):
    from ocbridge.core.models import Job

    job = Job.objects.create(kind="core.probe", key="tz", store=ist, next_run_at=INSTANT, created=INSTANT,
                             state="failed", finished_at=INSTANT)
    html = _get(client_in, reverse("dashboard:jobs"))
    assert LOCAL in html and UTC_TEXT not in html and "Europe/Istanbul" in html
    html = _get(client_in, reverse("dashboard:job", args=[job.pk]))
    assert html.count(LOCAL_LONG) >= 3 and UTC_LONG not in html and "Europe/Istanbul" in html


@time_machine.travel(NOW, tick=False)
def test_store_page_overview_and_order_lookup_calls_show_local_time(client_in, ist, connection):
    from ocbridge.core.models import Connection
    from ocbridge.integrations.order_lookup.models import LookupCall

    Connection.objects.filter(pk=connection.pk).update(last_ok_at=INSTANT)
    html = _get(client_in, reverse("dashboard:store", args=[ist.pk]))
    assert LOCAL in html and UTC_TEXT not in html
    html = _get(client_in, reverse("dashboard:home"), store=ist.pk)
    assert LOCAL in html and UTC_TEXT not in html and "Europe/Istanbul" in html
    LookupCall.objects.create(store=ist, service="sandbox", call_id="c1", outcome="answered", created=INSTANT)
    html = _get(client_in, reverse("order_lookup:calls"))
    assert LOCAL in html and UTC_TEXT not in html and "Europe/Istanbul" in html


needs_cod = pytest.mark.skipif(not apps.is_installed("ocbridge.integrations.cod_confirm"),
                               reason="ocbridge.integrations.cod_confirm is not in INSTALLED_APPS")


@needs_cod
@time_machine.travel(NOW, tick=False)
def test_confirmation_search_is_bounded_by_a_shown_window_that_can_be_widened(client_in, ist, connection):
    from ocbridge.core.models import Integration
    from ocbridge.integrations.cod_confirm.models import Confirmation

    integ = cod_integration(ist, connection)

    def conf(n, name, days_ago):
        return Confirmation.objects.create(store=ist, integration=integ, order_id=n, order_label=str(n),
                                           customer_name=name, status_at_start=1,
                                           created=NOW - dt.timedelta(days=days_ago))

    recent, old = conf(1, "Zeynep Kaya", 3), conf(2, "Zeynep Demir", 60)
    url = reverse("dashboard:confirmations")
    resp = client_in.get(url, {"q": "zeynep", "store": ist.pk}, HTTP_ACCEPT_LANGUAGE="tr")
    assert [c.pk for c in resp.context["page"].rows] == [recent.pk]
    search = resp.context["search"]
    assert (search["start"], search["end"], search["zone"]) == (dt.date(2026, 2, 9), dt.date(2026, 3, 10),
                                                                  "Europe/Istanbul")
    html = resp.content.decode()
    assert 'id="search-window"' in html and "09 Şub 2026" in html and "10 Mar 2026" in html
    assert "start=2025-12-11" in html and "start=2025-03-11" in html  # 90 days, a year
    resp = client_in.get(url, {"q": "zeynep", "store": ist.pk, "start": "2025-12-11"})
    assert [c.pk for c in resp.context["page"].rows] == [old.pk, recent.pk]
    assert [n for n, _since in resp.context["search"]["wider"]] == [365]
    # Without a search the list is not bounded: the old order is listed.
    assert old.pk in [c.pk for c in client_in.get(url).context["page"].rows]
    assert "Europe/Istanbul" in client_in.get(url).content.decode()
