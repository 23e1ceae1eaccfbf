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


def _plans_of(run, wanted) -> list[str]:
    """The plans of the statements `run` sends that `wanted(sql)` picks, with their bound values (as they ran)."""
    seen = []

    def keep(execute, sql, params, many, context):
        if wanted(sql):
            seen.append((sql, params))
        return execute(sql, params, many, context)

    with connection.execute_wrapper(keep):
        run()
    plans = []
    for sql, params in seen:
        with connection.cursor() as cur:
            cur.execute("EXPLAIN QUERY PLAN " + sql, params)
            plans.append(" | ".join(row[-1] for row in cur.fetchall()))
    assert plans, "no statement seen"
    return plans


@pytest.mark.skipif(connection.vendor != "sqlite", reason="SQLite's planner matches partial indexes by term")
def test_a_jobs_rows_and_old_info_rows_are_still_read_through_an_index():
    """core 0034: the job index holds only rows linked to a job, (level, created) only warnings and errors. A job's
    rows (its inbound webhook, the log filtered by job, SET NULL when housekeeping deletes old jobs) are read through
    `exchange_job`; housekeeping's old info rows through `created` — no statement scans the log."""
    import re

    from ocbridge.core.exchanges import inbound_of
    from ocbridge.core.housekeeping import PruneOldRows
    from ocbridge.core.models import Store
    from testkit import without_statistics

    without_statistics()
    store = Store.objects.create(name="s")
    job = Job.objects.create(kind="core.prune", key="j-1", store=store, payload={})
    Exchange.objects.create(service="sandbox", direction="in", job=job)
    on_job = re.compile(r"INDEX exchange_job\b")
    assert on_job.search(_plan(Exchange.objects.filter(job_id=job.pk).order_by("-created", "-id")[:50]))
    for plan in _plans_of(lambda: inbound_of(job), lambda sql: "core_exchange" in sql):
        assert on_job.search(plan), plan
    for plan in _plans_of(lambda: Job.objects.filter(pk=job.pk).delete(),
                          lambda sql: sql.startswith('UPDATE "core_exchange"')):
        assert on_job.search(plan), plan
    for plan in _plans_of(lambda: PruneOldRows().run(job),
                          lambda sql: 'FROM "core_exchange"' in sql and '"level"' in sql):
        assert "INDEX core_exchange_created" in plan and "SCAN" not in plan, plan
