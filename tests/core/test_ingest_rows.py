"""A webhook's rows (issue 23): one event is one Job and one Exchange, each written once, the Exchange linked to the
job that finds it; the log's partial indexes still serve every lookup that used their full versions."""

import hashlib
import hmac
import json

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from ocbridge.core import clock
from ocbridge.core.choices import Direction, JobState
from ocbridge.core.exchanges import inbound_of
from ocbridge.core.models import Connection, Exchange, Job, Store
from testkit import cod_integration

pytestmark = pytest.mark.django_db
SECRET = "whsec-rows"


def _post(client, conn, event_id: str):
    body = json.dumps({"event_id": event_id, "type": "call.completed", "sequence": 2,
                       "created_at": "2026-01-01T00:00:00Z", "data": {"id": "call_rows", "status": "no_answer"}}).encode()
    sig = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    return client.post(f"/hooks/sandbox/{conn.webhook_token}/call-result", data=body, content_type="application/json",
                       HTTP_X_SANDBOX_SIGNATURE=sig)


def test_one_event_is_one_job_and_one_exchange_written_once_and_a_repeat_is_linked_to_the_same_job(client):
    store = Store.objects.create(name="Rows")
    conn = Connection.objects.create(store=store, service="sandbox", base_url="http://127.0.0.1:9",
                                     secret={"token": "t", "webhook_secret": SECRET})
    cod_integration(store, conn, settings={})
    with CaptureQueriesContext(connection) as queries:
        assert _post(client, conn, "evt_rows").status_code == 200
    writes = [q["sql"].split("(")[0].strip() for q in queries.captured_queries
              if q["sql"].startswith(("INSERT", "UPDATE", "DELETE"))]
    assert writes == ['INSERT INTO "core_job"', 'INSERT INTO "core_exchange"'], writes  # no UPDATE of the Exchange

    job = Job.objects.get(kind="cod_confirm.apply_call_result")
    first = Exchange.objects.get()
    assert (first.job_id, first.status, first.direction, first.event_id) == (job.pk, 200, Direction.IN, "evt_rows")
    assert "exchange_id" not in job.payload and inbound_of(job) == first

    assert _post(client, conn, "evt_rows").status_code == 200  # delivered again: the same job, noted as a repeat
    assert Job.objects.filter(kind="cod_confirm.apply_call_result").count() == 1
    repeat = Exchange.objects.exclude(pk=first.pk).get()
    assert repeat.job_id == job.pk and "1 duplicate delivery" in repeat.error
    assert inbound_of(job) == first  # the job still reads the delivery that queued it

    older = Job.objects.create(kind="cod_confirm.apply_call_result", key="older", payload={"exchange_id": repeat.pk})
    assert inbound_of(older) == repeat  # a job queued before (or for several events) names its Exchange


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
