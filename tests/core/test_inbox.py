"""Stored webhooks are the queue (core.inbox, issue 23): a webhook is one Exchange row and one commit; the worker's
dispatcher makes its jobs exactly once — after a crash before its commit, with several dispatchers at once, and with
repeated deliveries (noted as duplicates). Run on SQLite here, on PostgreSQL by the nested session at the end. The
real-worker cases (a stored webhook while no worker runs, a worker killed mid-burst) are in tests/core/test_wake.py."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import threading
from datetime import timedelta
from pathlib import Path

import pytest
from django.db import connection, connections, transaction
from django.test.utils import CaptureQueriesContext

from ocbridge.core import clock, inbox
from ocbridge.core.choices import Direction, ExchangeOutcome, Level
from ocbridge.core.exchanges import inbound_of
from ocbridge.core.housekeeping import LOG_DAYS, PruneOldRows
from ocbridge.core.jobs import run_job
from ocbridge.core.models import Connection, Exchange, Job, Store
from testkit import cod_integration

pytestmark = pytest.mark.django_db(transaction=True)
SECRET = "whsec-inbox"
KIND = "cod_confirm.apply_call_result"


@pytest.fixture
def conn():
    store = Store.objects.create(name="Inbox")
    conn = Connection.objects.create(store=store, service="sandbox", base_url="http://127.0.0.1:9",
                                     secret={"token": "t", "webhook_secret": SECRET})
    cod_integration(store, conn, settings={})
    return conn


def _post(client, conn, event_id: str):
    body = json.dumps({"event_id": event_id, "type": "call.completed", "sequence": 2,
                       "created_at": "2026-01-01T00:00:00Z", "data": {"id": "call_inbox", "status": "no_answer"}}).encode()
    sig = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    return client.post(f"/hooks/sandbox/{conn.webhook_token}/call-result", data=body, content_type="application/json",
                       HTTP_X_SANDBOX_SIGNATURE=sig)


def test_a_webhook_is_one_row_and_the_worker_makes_its_job_once_and_notes_a_repeat(client, conn):
    with CaptureQueriesContext(connection) as queries:
        assert _post(client, conn, "evt_1").status_code == 200
    writes = [q["sql"].split("(")[0].strip() for q in queries.captured_queries
              if q["sql"].startswith(("INSERT", "UPDATE", "DELETE"))]
    assert writes == ['INSERT INTO "core_exchange"'], writes  # no Job row, no UPDATE: one write
    first = Exchange.objects.get()
    assert (first.status, first.direction, first.event_id, first.outcome) == (200, Direction.IN, "evt_1", "ok")
    assert [j["kind"] for j in first.pending_jobs] == [KIND] and not Job.objects.exists()

    assert inbox.queue_stored() == 1
    job = Job.objects.get()
    first.refresh_from_db()
    assert (job.kind, job.payload["exchange_id"], first.job_id, first.pending_jobs) == (KIND, first.pk, job.pk, None)
    assert inbound_of(job) == first and first.error == ""
    assert inbox.queue_stored() == 0  # nothing left: an empty look writes nothing

    assert _post(client, conn, "evt_1").status_code == 200  # delivered again
    assert _post(client, conn, "evt_2").status_code == 200
    assert inbox.queue_stored() == 2
    repeat = Exchange.objects.filter(event_id="evt_1").exclude(pk=first.pk).get()
    assert (repeat.job_id, repeat.error, repeat.pending_jobs) == (job.pk, "1 duplicate delivery: already queued", None)
    assert Job.objects.filter(kind=KIND).count() == 2  # evt_1 once, evt_2 once
    assert inbound_of(job) == first  # the job still reads the delivery that queued it


def test_a_crash_before_the_worker_commits_leaves_the_webhook_stored_and_it_is_queued_once_later(client, conn):
    assert _post(client, conn, "evt_crash").status_code == 200
    with pytest.raises(RuntimeError), transaction.atomic():  # the worker dies before its commit
        assert inbox.queue_stored() == 1
        raise RuntimeError("killed")
    stored = Exchange.objects.get()
    assert stored.pending_jobs and stored.job_id is None and not Job.objects.exists()  # nothing half-done
    assert inbox.queue_stored() == 1 and inbox.queue_stored() == 0
    assert Job.objects.count() == 1 and Exchange.objects.get().error == ""  # not a "duplicate" of its own crash


def test_dispatchers_looking_at_once_queue_each_webhook_once(client, conn):
    for i in range(12):
        assert _post(client, conn, f"evt_{i % 8}").status_code == 200  # 8 events, 4 of them delivered twice
    counts, errors, barrier = [], [], threading.Barrier(4)

    def look():
        try:
            barrier.wait()
            counts.append(inbox.queue_stored())
        except Exception as exc:  # noqa: BLE001 - collected for the assertion
            errors.append(repr(exc))
        finally:
            connections.close_all()

    threads = [threading.Thread(target=look) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == [] and sum(counts) == 12, (counts, errors)
    assert Job.objects.count() == 8 and not Exchange.objects.filter(pending_jobs__isnull=False).exists()
    notes = sorted(Exchange.objects.values_list("error", flat=True))
    assert notes == [""] * 8 + ["1 duplicate delivery: already queued"] * 4  # each repeat noted once, no more


def test_a_stored_row_that_cannot_be_queued_is_shown_failed_and_the_others_go_on(client, conn):
    assert _post(client, conn, "evt_ok").status_code == 200
    bad = Exchange.objects.create(service="sandbox", direction=Direction.IN, status=200, outcome=ExchangeOutcome.OK,
                                  pending_jobs=[inbox.job("no.such_kind", key="k-bad", store_id=None,
                                                          integration_id=None, payload={})])
    assert _post(client, conn, "evt_after").status_code == 200
    assert inbox.queue_stored() == 2
    bad.refresh_from_db()
    assert (bad.outcome, bad.level, bad.pending_jobs) == (ExchangeOutcome.FAILED, Level.ERROR, None)
    assert "could not be queued" in bad.error and "no.such_kind" in bad.error
    assert Job.objects.count() == 2 and inbox.queue_stored() == 0  # shown once, not retried at every look


def test_housekeeping_keeps_a_stored_webhook_however_old(client, conn):
    assert _post(client, conn, "evt_old").status_code == 200
    assert _post(client, conn, "evt_old_done").status_code == 200
    old = clock.now() - timedelta(days=LOG_DAYS + 1)
    Exchange.objects.update(created=old)
    Exchange.objects.filter(event_id="evt_old_done").update(pending_jobs=None)  # queued long ago
    run_job(Job.objects.enqueue(PruneOldRows, key="prune-inbox").pk)
    assert list(Exchange.objects.filter(direction=Direction.IN).values_list("event_id", flat=True)) == ["evt_old"]


@pytest.mark.skipif(connection.vendor != "sqlite", reason="SQLite's planner matches partial indexes by term")
def test_the_look_for_stored_webhooks_reads_its_partial_index():
    plan = Exchange.objects.filter(pending_jobs__isnull=False).order_by("id").values_list("pk")[:200].explain()
    assert "exchange_inbox" in plan, plan


@pytest.mark.skipif(connection.vendor != "sqlite", reason="SQLite's index definitions are read")
def test_a_webhook_is_one_statement_and_its_row_writes_five_index_entries(client, conn):
    """A webhook's row is info, tied to no job, order or key yet: it has an entry in the time, connection, (store, time),
    (service, time) and stored-webhook indexes, none in the level or job index (core 0034: before, 7 entries — each
    a page of SQLite's log per webhook, written before the answer)."""
    assert _post(client, conn, "evt_warm").status_code == 200  # the connection and integration cached
    with CaptureQueriesContext(connection) as queries:
        assert _post(client, conn, "evt_entries").status_code == 200
    assert [q["sql"].split("(")[0].strip() for q in queries.captured_queries] == ['INSERT INTO "core_exchange"']
    pk = Exchange.objects.get(event_id="evt_entries").pk
    with connection.cursor() as cur:
        cur.execute("SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'core_exchange'")
        indexes = cur.fetchall()
        entries = set()
        for name, sql in indexes:
            where = sql.split(" WHERE ", 1)[1] if sql and " WHERE " in sql else "1"
            cur.execute(f'SELECT EXISTS (SELECT 1 FROM "core_exchange" WHERE "id" = %s AND ({where}))', [pk])
            if cur.fetchone()[0]:
                entries.add(name)
    assert {n for n in entries if not n.startswith("core_exchange_")} == {"exchange_store_time", "exchange_service_time",
                                                                          "exchange_inbox"}, entries
    assert sorted(n.rsplit("_", 1)[0] for n in entries if n.startswith("core_exchange_")) == \
        ["core_exchange_connection_id", "core_exchange_created"], entries


@pytest.mark.skipif(os.environ.get("OCBRIDGE_DATABASE_URL", "").startswith("postgres"), reason="the nested run")
def test_the_same_on_postgres(postgres, tmp_path):
    from testkit import pytest_on_postgres

    pytest_on_postgres(postgres, tmp_path, "ocbridge_inbox", [Path(__file__).resolve()])
