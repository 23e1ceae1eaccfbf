"""The log's partial indexes (issue 23) still serve every lookup that used their full versions. A webhook's own rows:
tests/core/test_inbox.py."""

import pytest
from django.db import connection

from ocbridge.core import clock
from ocbridge.core.choices import JobState
from ocbridge.core.models import Exchange, Job

pytestmark = pytest.mark.django_db


def _plan(qs) -> str:
    return qs.explain()


@pytest.mark.skipif(connection.vendor != "sqlite", reason="SQLite's planner matches partial indexes by term")
def test_the_lookups_of_the_partial_indexes_use_them():
    from testkit import without_statistics

    without_statistics()  # as a hub plans before its first upkeep (a worker of an earlier test may have analyzed)
    now = clock.now()
    assert "exchange_key" in _plan(Exchange.objects.keyed("k").order_by("-id")[:1])
    assert "exchange_key" in _plan(Exchange.objects.keyed(["k", "l"]).order_by("id"))
    assert "exchange_order" in _plan(Exchange.objects.filter(store_id=1, order_id=5).order_by("-pk")[:100])
    assert "exchange_order" in _plan(Exchange.objects.filter(order_id__in=[5, 6]))
    assert "exchange_store_time" in _plan(Exchange.objects.filter(store_id=1).order_by("-created", "-id")[:50])
    assert "job_claims" in _plan(Job.objects.filter(state=JobState.RUNNING, claim_expires_at__lt=now))


def test_keyed_finds_rows_by_key_and_never_the_rows_without_one():
    a = Exchange.objects.create(service="sandbox", key="k-1")
    Exchange.objects.create(service="sandbox", key="")
    assert list(Exchange.objects.keyed("k-1")) == [a]
    assert list(Exchange.objects.keyed(["k-1", "k-2"])) == [a]
    assert not Exchange.objects.keyed("").exists() and not Exchange.objects.keyed([]).exists()
