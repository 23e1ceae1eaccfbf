"""Order lookup's jobs as the dashboard shows them."""

from __future__ import annotations

import pytest
from django.utils import translation

from testkit import assert_job_reads
from ocbridge.core.jobs import run_job
from ocbridge.core.models import Job, Store
from ocbridge.integrations.order_lookup.jobs import BackfillPhones

pytestmark = pytest.mark.django_db


def test_a_backfill_before_the_shops_first_poll_says_why_it_waits_in_each_readers_language(make_line):
    """The phone index back-fill queued before the shop database's first poll fixed where new orders start: the job
    waits, and its row on the jobs list and its page say why in the reader's language. A Turkish worker."""
    store = Store.objects.create(name="Demo Mağaza", db_url="mysql+pymysql://oc:pw@127.0.0.1:3306/never_polled",
                                 table_prefix="oc_", country="TR", language="tr", timezone="UTC")
    integration = make_line(store).integrations.get()
    job = Job.objects.enqueue(BackfillPhones, key="order_lookup:backfill:test", integration=integration,
                              payload={"db_key": store.db_key})
    with translation.override("tr"):
        job = run_job(job.pk)
    assert job.state == "queued" and job.attempts == 0
    assert_job_reads(job, {"en": "waiting for the first poll of this shop database",
                           "tr": "bu mağaza veritabanının ilk okunması bekleniyor",
                           "ru": "ожидание первого чтения этой базы данных магазина"})
