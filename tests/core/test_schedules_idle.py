"""The schedules that stay schedules (core.jobs.register_schedule) write nothing to the hub when nothing is due:
the payments' daily report is queued once per store and day (its other hourly runs only read), and the phone
index's back-fill once a minute only for a shop database that has been read and is not back-filled yet."""

from __future__ import annotations

import pytest
from testkit import HubWrites

from ocbridge.core import clock
from ocbridge.core.models import Integration, Job, Store

pytestmark = pytest.mark.django_db


def test_the_daily_report_is_queued_once_per_store_and_day_and_the_other_hourly_runs_write_nothing():
    from ocbridge.integrations.payments.jobs import daily_report

    for n in range(3):
        Integration.objects.create(store=Store.objects.create(name=f"Shop {n}"), kind="aps")
    daily_report()
    assert Job.objects.filter(kind="payments.daily_report").count() == 3
    for _ in range(2):
        with HubWrites() as w:
            daily_report()
        assert w.sql == [], w.sql
    assert Job.objects.filter(kind="payments.daily_report").count() == 3


def test_the_phone_backfill_is_queued_only_while_a_read_shop_is_not_back_filled():
    from ocbridge.integrations.order_lookup.jobs import schedule_backfill
    from ocbridge.integrations.order_lookup.models import IndexBackfill
    from ocbridge.opencart.models import PollState

    store = Store.objects.create(name="Shop", db_url="mysql://u:p@127.0.0.1:9/shop")
    Integration.objects.create(store=store, kind="order_lookup")
    with HubWrites() as w:
        schedule_backfill()
    assert w.sql == []  # never read (a dead shop): no Job a minute that could only wait for the first poll
    PollState.objects.create(store_db_key=store.db_key, last_order_id=10)
    schedule_backfill()
    assert Job.objects.filter(kind="order_lookup.backfill_phones").count() == 1
    IndexBackfill.objects.create(store_db_key=store.db_key, next_below=0, done=True)
    clock.travel(120)
    with HubWrites() as w:
        schedule_backfill()
    assert w.sql == []
