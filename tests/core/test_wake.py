"""Waking the dispatcher (core.wake): a web process's committed job is handed out at once, with no second durable
write; the dispatcher's sweep is the net when nobody listens — a webhook stored while no worker runs is processed
once when one starts."""

import hashlib
import hmac
import json
import threading
import time

import pytest

from ocbridge.core import jobkinds, jobs, wake
from ocbridge.core.choices import JobState
from ocbridge.core.models import Connection, Job, Store
from ocbridge.integrations.cod_confirm.models import Attempt, Confirmation
from testkit import WorkerProcess, cod_integration

SECRET = "whsec-wake"


def _wait(pred, timeout=60.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if pred():
            return True
        time.sleep(0.1)
    return False


def test_a_wake_reaches_the_one_listening_dispatcher_and_nothing_fails_without_one():
    wake.send()  # nobody listens: no error, no wait
    first, second = wake.Listener(), wake.Listener()
    try:
        assert not first.wait(0) and not second.wait(0)  # both tried to bind: one got the address
        listening, other = (first, second) if first.sock is not None else (second, first)
        assert other.sock is None
        for _ in range(50):  # many wake-ups before it looks are one
            wake.send()
        assert listening.wait(5)
        assert not listening.wait(0.05)
        listening.close()  # its process died: the other takes the address over at its next look
        assert not other.wait(0) and other.sock is not None
        wake.send()
        assert other.wait(5)
    finally:
        first.close()
        second.close()


def test_the_web_process_wakes_the_dispatcher_instead_of_writing_to_the_queue():
    from ocbridge.core import tasks

    assert jobkinds._sender == [wake.send]  # SQLite queue: no enqueue into huey's file from a request
    assert tasks.run_job_task is not None


@pytest.mark.django_db(transaction=True)
def test_a_woken_dispatcher_hands_the_job_out_before_its_next_tick(monkeypatch):
    handed, ticks = [], []
    monkeypatch.setattr(jobs, "dispatch_due", lambda send, polls=None: ticks.append(1) or 3600.0)
    monkeypatch.setattr(jobs, "hand_out", lambda send: handed.append(time.monotonic()))
    stop = threading.Event()
    loop = threading.Thread(target=jobs.dispatcher_loop, args=(stop, lambda pk: None, 30.0), daemon=True)
    loop.start()
    try:
        assert _wait(lambda: ticks, 10)
        time.sleep(0.2)  # listening
        sent = time.monotonic()
        wake.send()
        assert _wait(lambda: handed, 10), "the wake-up was not heard"
        assert handed[0] - sent < 5 and len(ticks) == 1  # handed out at once, not at the next (30 s) tick
    finally:
        stop.set()
        loop.join(5)


@pytest.mark.django_db(transaction=True)
def test_a_webhook_stored_while_no_worker_runs_is_processed_once_when_one_starts(client, tmp_path):
    store = Store.objects.create(name="Wake", db_url="sqlite:////nonexistent-wake.db")
    conn = Connection.objects.create(store=store, service="sandbox", base_url="http://127.0.0.1:9",
                                     secret={"token": "t", "webhook_secret": SECRET})
    integration = cod_integration(store, conn, settings={})
    c = Confirmation.objects.create(store=store, integration=integration, order_id=7, order_label="7",
                                    status_at_start=1, state="calling", phone="+905321234567")
    attempt = Attempt.objects.create(confirmation=c, number=1, channel="call", service="sandbox", key="k-wake",
                                     state="in_flight", provider_id="call_wake")
    body = json.dumps({"event_id": "evt_wake", "type": "call.completed", "sequence": 2,
                       "created_at": "2026-01-01T00:00:00Z", "data": {"id": "call_wake", "status": "no_answer"}}).encode()
    sig = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    for _ in range(2):  # delivered twice: one job
        resp = client.post(f"/hooks/sandbox/{conn.webhook_token}/call-result", data=body,
                           content_type="application/json", HTTP_X_SANDBOX_SIGNATURE=sig)
        assert resp.status_code == 200
    job = Job.objects.get(kind="cod_confirm.apply_call_result")
    time.sleep(0.5)
    job.refresh_from_db()
    assert job.state == JobState.QUEUED and job.attempts == 0  # stored; nothing ran it

    with WorkerProcess(tmp_path / "worker.log") as worker:
        worker.wait_for(lambda: Job.objects.get(pk=job.pk).state not in (JobState.QUEUED, JobState.RUNNING),
                        "the started worker never ran the stored job")
    job.refresh_from_db()
    assert job.state == JobState.DONE and job.attempts == 1, (job.last_error, worker.stderr_tail())
    attempt.refresh_from_db()
    assert attempt.state != "in_flight"  # the call's result was applied
    assert Job.objects.filter(kind="cod_confirm.apply_call_result").count() == 1
