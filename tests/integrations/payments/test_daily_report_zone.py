"""The payments' daily report is the store's yesterday (Store.timezone), not the UTC one: it is queued for the day
that just ended where the store is, and it covers the payments made in the store's last REPORT_DAYS days up to that
day's midnight — a payment ten minutes before the store's midnight is in it, one ten minutes after is not."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from ocbridge.core import clock
from ocbridge.core.jobs import run_job
from ocbridge.core.models import Job
from ocbridge.integrations.payments.jobs import REPORT_DAYS, daily_report
from ocbridge.integrations.payments.models import Payment, ReconciliationReport
from ocbridge.opencart import write_history

pytestmark = pytest.mark.django_db(transaction=True)
MINUTES_10 = dt.timedelta(minutes=10)


@pytest.mark.parametrize("zone, now_local", [
    ("Pacific/Auckland", dt.datetime(2026, 12, 10, 0, 30)),  # NZDT +13: 11:30 UTC on the 9th (UTC's yesterday the 8th)
    ("America/Los_Angeles", dt.datetime(2026, 12, 9, 23, 30)),  # PST -8: 07:30 UTC on the 10th (UTC's yesterday the 9th)
])
def test_the_report_is_the_stores_yesterday_and_its_payments(aps_bed, zone, now_local):
    bed = aps_bed("3.0")
    bed.store.timezone = zone
    bed.store.save(update_fields=["timezone"])
    tz = ZoneInfo(zone)
    midnight = dt.datetime.combine(now_local.date(), dt.time.min, tzinfo=tz)  # where the store's yesterday ended
    first = midnight - dt.timedelta(days=REPORT_DAYS)  # where the report's first day began
    made = {601: midnight - MINUTES_10, 602: midnight + MINUTES_10, 603: first + MINUTES_10, 604: first - MINUTES_10}
    for order_id, at in made.items():
        payment = bed.new_payment(order_id)  # never paid at the gateway…
        Payment.objects.filter(pk=payment.pk).update(created=at)
        write_history(bed.store, order_id, expected=1, new=2, comment="owner: paid by bank")  # …yet paid in the shop
    clock.travel((now_local.replace(tzinfo=tz) - clock.now()).total_seconds())

    daily_report()
    yesterday = now_local.date() - dt.timedelta(days=1)
    job = Job.objects.get(kind="payments.daily_report", store=bed.store)
    assert (job.key, job.payload["day"]) == (f"payments:report:{bed.store.pk}:{yesterday}", yesterday.isoformat())
    run_job(job.pk)
    report = ReconciliationReport.objects.get(store=bed.store)
    assert report.day == yesterday
    assert [r["order_id"] for r in report.shop_paid_gateway_unpaid] == [601, 603] and report.checked == 2
