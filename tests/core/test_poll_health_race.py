"""Poll health under load (core.polls._record): dispatchers recording failures of one target at once lose no
count and make one row; a store deleted while its poll fails is no error (under load this surfaced as
`PollHealth.DoesNotExist` in the traceback of a FOREIGN KEY IntegrityError from get_or_create). Run with threads
on SQLite, and on PostgreSQL by the nested session at the end."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest
from django.db import connections

from ocbridge.core import polls
from ocbridge.core.models import PollHealth, Store

pytestmark = pytest.mark.django_db(transaction=True)
THREADS = 6


def at_once(fn, n: int = THREADS) -> list[str]:
    """Run fn(i) on n threads released together; the errors they raised."""
    barrier, errors = threading.Barrier(n), []

    def run(i):
        try:
            barrier.wait()
            fn(i)
        except Exception as exc:  # noqa: BLE001 - collected for the assertion
            errors.append(repr(exc))
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return errors


def test_first_failures_recorded_at_once_make_one_row_and_count_each():
    store = Store.objects.create(name="A", db_host="db.example.com", db_name="shop")
    target = polls.Target(key="shop-a", every=15, store_id=store.pk)

    def fail(i):
        polls.reset()  # each as another dispatcher: none knows the target is failing
        polls._record("test.poll", target, f"refused {i}")

    assert at_once(fail) == []
    row = PollHealth.objects.get(poll="test.poll", key="shop-a")
    assert row.failures == THREADS and row.failing_since is not None and row.store_id == store.pk
    assert (row.retry_at - row.updated).total_seconds() == polls.backoff(THREADS, 15)


def test_failures_and_recoveries_at_once_leave_one_consistent_row():
    store = Store.objects.create(name="A", db_host="db.example.com", db_name="shop")
    target = polls.Target(key="shop-a", every=15, store_id=store.pk)
    assert at_once(lambda i: polls._record("test.poll", target, None if i % 2 else "refused")) == []
    row = PollHealth.objects.get(poll="test.poll", key="shop-a")
    assert (row.failing_since is None) == (row.failures == 0) == (row.retry_at is None)


def test_a_store_deleted_while_its_poll_fails_is_no_error():
    stores = [Store.objects.create(name=f"S{i}", db_host="db.example.com", db_name=f"shop{i}") for i in range(3)]
    targets = [polls.Target(key=f"shop-{s.pk}", every=15, store_id=s.pk) for s in stores]
    Store.objects.filter(pk=stores[0].pk).delete()  # gone before its first failure is recorded

    def work(i):
        if i == 0:
            Store.objects.filter(pk=stores[1].pk).delete()  # gone while its failure is being recorded
        else:
            polls._record("test.poll", targets[i % 3], "the shop database does not answer")

    assert polls._record("test.poll", targets[0], "refused") is False
    assert at_once(work) == []
    assert not PollHealth.objects.filter(store_id__in=[stores[0].pk, stores[1].pk]).exists()
    assert PollHealth.objects.get(key=targets[2].key).failures == (THREADS - 1) // 3 + 1


@pytest.mark.skipif(os.environ.get("OCBRIDGE_DATABASE_URL", "").startswith("postgres"), reason="the nested run")
def test_the_same_on_postgres(postgres, tmp_path):
    from testkit import pytest_on_postgres

    pytest_on_postgres(postgres, tmp_path, "ocbridge_poll_health", [Path(__file__).resolve()])
