"""Waking the dispatcher (core.wake): a web process's committed job is handed out at once, with no second durable
write; the dispatcher's sweep is the net when nobody listens — a webhook stored while no worker runs is processed
once when one starts, and webhooks stored around a killed worker are each handled once after its restart (stored
webhooks are the queue: core.inbox).

Redis down right after a commit (core.jobkinds.hand_over_on_commit): a webhook stored while the broker cannot be
reached is still answered 2xx — a 500 would only make the provider deliver it again — the outage is one masked log
line a minute (not one per webhook), and the event is handled exactly once when a worker on Redis looks; the same
for a job handed over on commit.
Real redis-server, real `ocbridge worker` on it; the web side enqueues with the huey tasks `core.tasks` binds when
OCBRIDGE_REDIS_URL is set (this test process runs on huey's SQLite queue, so it binds them on a RedisHuey of its own)."""

import hashlib
import hmac
import json
import logging
import threading
import time

import pytest

from ocbridge.core import clock, inbox, jobkinds, jobs, tasks, wake
from ocbridge.core.choices import JobState
from ocbridge.core.models import Connection, Exchange, Job, Store
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
    assert inbox._waker == [wake.send]  # a stored webhook wakes the dispatcher, which queues its jobs
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


def _cod_setup(n: int):
    """A store whose COD confirmation has n calls in flight (call_0 … call_n-1), and its connection."""
    store = Store.objects.create(name="Wake", db_url="sqlite:////nonexistent-wake.db")
    conn = Connection.objects.create(store=store, service="sandbox", base_url="http://127.0.0.1:9",
                                     secret={"token": "t", "webhook_secret": SECRET})
    integration = cod_integration(store, conn, settings={})
    for i in range(n):
        c = Confirmation.objects.create(store=store, integration=integration, order_id=7 + i, order_label=str(7 + i),
                                        status_at_start=1, state="calling", phone="+905321234567")
        Attempt.objects.create(confirmation=c, number=1, channel="call", service="sandbox", key=f"k-wake-{i}",
                               state="in_flight", provider_id=f"call_{i}")
    return conn


def _deliver(client, conn, i: int) -> None:
    body = json.dumps({"event_id": f"evt_{i}", "type": "call.completed", "sequence": 2,
                       "created_at": "2026-01-01T00:00:00Z", "data": {"id": f"call_{i}", "status": "no_answer"}}).encode()
    sig = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    resp = client.post(f"/hooks/sandbox/{conn.webhook_token}/call-result", data=body,
                       content_type="application/json", HTTP_X_SANDBOX_SIGNATURE=sig)
    assert resp.status_code == 200


def _warm(client) -> None:
    """The webhook path's first request in this process imports and compiles what it uses (over a second on a loaded
    machine): done before a test times one. An unknown token: nothing is stored."""
    assert client.post("/hooks/sandbox/no-such-token/call-result", data=b"{}",
                       content_type="application/json").status_code == 404


def _all_handled(n: int) -> bool:
    return (not Exchange.objects.filter(pending_jobs__isnull=False).exists()
            and Job.objects.filter(kind="cod_confirm.apply_call_result", state=JobState.DONE).count() == n)


def _handled_once(n: int, deliveries: int) -> None:
    """Every event one job, run to its end; every delivery kept, the repeats noted; every call's result applied."""
    assert Job.objects.filter(kind="cod_confirm.apply_call_result").count() == n
    stored = Exchange.objects.filter(direction="in")
    assert stored.count() == deliveries and not stored.filter(pending_jobs__isnull=False).exists()
    assert stored.filter(error__contains="duplicate deliver").count() == deliveries - n
    assert not Attempt.objects.filter(state="in_flight", number=1).exists()


@pytest.mark.django_db(transaction=True)
def test_a_webhook_stored_while_no_worker_runs_is_processed_once_when_one_starts(client, tmp_path):
    conn = _cod_setup(1)
    for _ in range(2):  # delivered twice: one job
        _deliver(client, conn, 0)
    time.sleep(0.5)
    assert Exchange.objects.filter(pending_jobs__isnull=False).count() == 2 and not Job.objects.exists()  # stored

    with WorkerProcess(tmp_path / "worker.log") as worker:
        worker.wait_for(lambda: _all_handled(1), "the started worker never handled the stored webhook")
    job = Job.objects.get(kind="cod_confirm.apply_call_result")
    assert job.attempts == 1, (job.last_error, worker.stderr_tail())
    _handled_once(1, 2)


@pytest.mark.django_db(transaction=True)
def test_webhooks_stored_around_a_killed_worker_are_each_handled_once_after_the_restart(client, tmp_path):
    n = 12
    conn = _cod_setup(n)
    with WorkerProcess(tmp_path / "first.log") as first:
        for i in range(n // 2):
            _deliver(client, conn, i)
            _deliver(client, conn, i)  # every event delivered twice
        first.wait_for(lambda: Job.objects.filter(kind="cod_confirm.apply_call_result").exists(),
                       "the first worker never queued a stored webhook")
        first.kill()  # SIGKILL: wherever it was (queuing, running a job), it is gone
    for i in range(n // 2, n):  # more arrive while no worker runs
        _deliver(client, conn, i)
        _deliver(client, conn, i)
    clock.travel(300)  # past any claim the killed worker held
    with WorkerProcess(tmp_path / "second.log") as second:
        second.wait_for(lambda: _all_handled(n), "the restarted worker never handled every stored webhook")
    _handled_once(n, 2 * n)


@pytest.fixture
def redis_tasks():
    """A throwaway Redis, and the web process's hand-overs bound to it as core.tasks binds them on Redis."""
    from ocbridge.testbed.redis import RedisServer, RedisUnavailable

    try:
        server = RedisServer().start()
    except RedisUnavailable as exc:
        pytest.skip(str(exc))
    huey = _hub_huey(server.url())
    waker, sender = list(inbox._waker), list(jobkinds._sender)
    _bind(huey)
    try:
        yield server, huey
    finally:
        inbox._waker[:], jobkinds._sender[:] = waker, sender
        server.stop()
        _outages_over()


def _outages_over() -> None:
    """What a test left of a Redis outage in this process forgotten: the hand-over's line is said again by the next
    outage, and no address is skipped (core.redis_breaker)."""
    from ocbridge.core import redis_breaker

    jobkinds._hand_over_outage.ok()
    redis_breaker.forget()


def _hub_huey(url: str):
    """The huey a hub with OCBRIDGE_REDIS_URL=url runs on: settings.py's HUEY for it, built as huey.contrib.djhuey
    builds it (this test process's own huey is on SQLite)."""
    import os
    import runpy
    from unittest import mock

    from django.utils.module_loading import import_string

    import ocbridge.settings

    with mock.patch.dict(os.environ, OCBRIDGE_REDIS_URL=url):
        config = dict(runpy.run_path(ocbridge.settings.__file__)["HUEY"])
    config.pop("consumer", None)
    return import_string(config.pop("huey_class"))(config.pop("name"), **config)


def _bind(huey) -> None:
    """The web process's hand-overs on `huey`, as core.tasks binds them on Redis."""
    inbox.set_waker(huey.task()(tasks.queue_stored_task.func))
    jobkinds.set_sender(huey.task()(tasks.run_job_task.func))


def _failures(caplog) -> list[logging.LogRecord]:
    return [r for r in caplog.records if "not handed over now" in r.getMessage()]


def _queue_down(caplog) -> list[logging.LogRecord]:
    """The web process's line for hand-overs Redis did not take (core.jobkinds: one a minute, not one each)."""
    return [r for r in caplog.records if r.name == "ocbridge.core.jobkinds" and r.getMessage().startswith(
        "job queue unreachable (stored webhooks and jobs are queued by the dispatcher's next look): ")]


@pytest.mark.django_db(transaction=True)
def test_a_webhook_stored_while_redis_is_down_is_answered_and_handled_once_when_a_worker_looks(
        client, redis_tasks, tmp_path, caplog):
    from ocbridge.testbed.redis import RedisServer

    server, huey = redis_tasks
    caplog.set_level(logging.WARNING, logger="ocbridge.core.jobkinds")
    conn = _cod_setup(2)
    _deliver(client, conn, 0)  # Redis up: its wake-up is queued in Redis
    assert len(huey) == 1 and not _failures(caplog)

    server.stop()  # the broker goes down right after the first commit
    for _ in range(2):
        _deliver(client, conn, 1)  # answered 200 (asserted inside), not 500: stored all the same
    [line] = _queue_down(caplog)  # one line for both webhooks (before: a line each)
    assert line.exc_info is None and "\n" not in line.getMessage() and "ConnectionError" in line.getMessage()
    assert not _failures(caplog)
    assert Exchange.objects.filter(pending_jobs__isnull=False).count() == 3 and not Job.objects.exists()

    server = RedisServer(port=server.port).start()  # back, empty: the lost wake-ups are not in it
    try:
        with WorkerProcess(tmp_path / "worker.log", OCBRIDGE_REDIS_URL=server.url()) as worker:
            worker.wait_for(lambda: _all_handled(2), "the worker on Redis never handled the stored webhooks")
        _handled_once(2, 3)
        assert {j.attempts for j in Job.objects.filter(kind="cod_confirm.apply_call_result")} == {1}
    finally:
        server.stop()


@pytest.mark.django_db(transaction=True)
def test_a_job_handed_over_on_commit_while_redis_is_down_is_committed_and_left_due(redis_tasks, caplog):
    from django.db import transaction

    server, _huey = redis_tasks
    server.stop()
    caplog.set_level(logging.WARNING, logger="ocbridge.core.jobkinds")
    with transaction.atomic():
        job = Job.objects.enqueue("cod_confirm.apply_call_result", key="k-broker-down", payload={})
    assert Job.objects.filter(pk=job.pk).exists()  # committed; the dispatcher's next look hands it out
    assert job.pk in jobs.due_job_ids()
    [line] = _queue_down(caplog)
    assert "ConnectionError" in line.getMessage() and not _failures(caplog)


@pytest.mark.parametrize("redis_error", [False, True], ids=["other", "redis-down"])
@pytest.mark.django_db(transaction=True)
def test_a_failed_hand_over_is_one_log_line_without_the_redis_password(settings, caplog, redis_error):
    """Any failure of a hand-over: one masked line naming the work; Redis unreachable: the outage's one line a minute
    for every hand-over it meets, said again only when it answered meanwhile."""
    import redis

    settings.REDIS_URL = "redis://:pw-s3cret-77@10.0.0.1:6380/0"
    error = redis.exceptions.ConnectionError if redis_error else ConnectionError

    def broker_down():
        raise error(f"Error connecting to {settings.REDIS_URL}.\n  Connection refused.")

    caplog.set_level(logging.WARNING, logger="ocbridge.core.jobkinds")
    try:
        for n in (7, 8):
            jobkinds.hand_over_on_commit(broker_down, f"webhook {n}")  # no transaction: runs now, must not raise
    finally:
        _outages_over()
    said = [r.getMessage() for r in caplog.records]
    if redis_error:
        assert len(said) == 2 and said[1].startswith("job queue answers again after 0 s (2 failed attempts)")
        assert said[0].startswith("job queue unreachable (stored webhooks and jobs are queued by the dispatcher's ")
    else:
        assert [line.split(" (")[0] for line in said] == ["webhook 7 stored but not handed over now",
                                                          "webhook 8 stored but not handed over now"]
    assert "ConnectionError" in said[0] and not any("pw-s3cret-77" in line or "\n" in line for line in said)



# --- Redis down under a running worker, and under a settings save: one line, not a traceback per attempt ----------

PASSWORD = "pw-outage-5150"


def _lines(log_text: str, start: str) -> list[str]:
    return [line for line in log_text.splitlines() if line.startswith(start)]


@pytest.mark.django_db(transaction=True)
def test_a_worker_whose_redis_goes_down_says_so_once_and_hands_out_again_when_it_answers(client, tmp_path):
    """A real worker on a real redis-server with a password, stopped mid-run: its dispatcher's hand-out fails every
    tick (0.2 s) meanwhile — said in one masked line, no traceback — and the job it could not hand over runs once
    Redis is back, said in one more line. Before, every tick logged "dispatcher tick failed" with a traceback."""
    from ocbridge.testbed.redis import RedisServer, RedisUnavailable

    try:
        server = RedisServer(password=PASSWORD).start()
    except RedisUnavailable as exc:
        pytest.skip(str(exc))
    conn = _cod_setup(2)
    try:
        with WorkerProcess(tmp_path / "worker.log", OCBRIDGE_REDIS_URL=server.url()) as worker:
            _deliver(client, conn, 0)
            worker.wait_for(lambda: _all_handled(1), "the worker on Redis never handled the first webhook")
            server.stop()
            _deliver(client, conn, 1)  # stored; the worker makes its job and cannot hand it to huey
            waiting = Job.objects.filter(kind="cod_confirm.apply_call_result", state=JobState.QUEUED)
            worker.wait_for(lambda: waiting.exists(), "the worker never made the stored webhook's job")
            worker.wait_for(lambda: _lines(worker.log_path.read_text(), "job queue unreachable"),
                            "the worker never said the job queue is unreachable")
            job = waiting.get()
            time.sleep(4)  # ~20 more ticks, each failing to hand the job out
            down = worker.log_path.read_text()
            assert Job.objects.get(pk=job.pk).state == JobState.QUEUED  # not lost, not failed: waiting
            server = RedisServer(port=server.port, password=PASSWORD).start()  # back, empty
            worker.wait_for(lambda: _all_handled(2), "the job was not handed out after Redis came back")
            worker.wait_for(lambda: _lines(worker.log_path.read_text(), "job queue answers again"),
                            "the worker never said the job queue answers again")
            assert worker.proc.poll() is None  # kept running throughout
            log_text = worker.log_path.read_text()
    finally:
        server.stop()
    [unreachable] = _lines(down, "job queue unreachable")
    assert "ConnectionError" in unreachable and "due jobs wait in the job table" in unreachable
    assert "dispatcher tick failed" not in down and "dispatcher hand-out failed" not in down
    assert len(_lines(log_text, "job queue unreachable")) == 1 and not _lines(log_text, "job queue still unreachable")
    [back] = _lines(log_text, "job queue answers again")
    assert "failed attempts" in back
    assert PASSWORD not in log_text and "redis.exceptions" not in log_text  # no traceback of ours or huey's
    assert Job.objects.get(pk=job.pk).attempts == 1
    _handled_once(2, 2)


@pytest.mark.django_db(transaction=True)
def test_settings_saved_while_redis_is_down_say_so_once_and_move_the_stamp_again_when_it_answers(settings, caplog):
    """core.config_cache on a real redis-server with a password, stopped: every save (and every look at the stamp)
    fails to reach it — one masked warning line for all of them, no traceback; the first save after it is back
    moves the stamp and says so once. Before, each save and each look logged a traceback."""
    from ocbridge.core import config_cache
    from ocbridge.testbed.redis import RedisServer, RedisUnavailable

    try:
        server = RedisServer(password=PASSWORD).start()
    except RedisUnavailable as exc:
        pytest.skip(str(exc))
    settings.REDIS_URL = server.url()
    config_cache._state["redis"] = None  # a client for this server
    caplog.set_level(logging.WARNING, logger="ocbridge.core.config_cache")
    try:
        store = Store.objects.create(name="Stamp", db_url="sqlite:////nonexistent-stamp.db")
        before = config_cache.read_stamp()
        assert before is not None and not caplog.records
        server.stop()
        for n in range(5):
            store.name = f"Stamp {n}"
            store.save()  # saved all the same
            config_cache.clear()
            config_cache.generation()  # a look at the stamp
        assert Store.objects.get(pk=store.pk).name == "Stamp 4"
        down = [r for r in caplog.records]
        server = RedisServer(port=server.port, password=PASSWORD).start()  # back, empty
        store.name = "Stamp back"
        store.save()
        assert config_cache.read_stamp() is not None  # moved on the new server
        back = caplog.records[len(down):]
    finally:
        server.stop()
        config_cache._state["redis"] = None
    [line] = [r.getMessage() for r in down]
    assert line.startswith("config stamp unreachable (") and "ConnectionError" in line and "\n" not in line
    assert all(r.exc_info is None for r in caplog.records)
    assert [r.getMessage().split(" after")[0] for r in back] == ["config stamp answers again"]
    assert not any(PASSWORD in r.getMessage() for r in caplog.records)


def test_an_outage_is_said_again_only_after_its_repeat_interval_and_its_end_once(caplog):
    """core.outage.Outage with a 0.5 s interval in place of the minute, fed the error a real Redis client raises for
    a port nobody listens on: the start, one reminder per interval with the count, the end once."""
    import redis

    from ocbridge.core.outage import Outage
    from ocbridge.testbed.process import free_port

    from redis.backoff import NoBackoff
    from redis.retry import Retry

    client = redis.Redis(host="127.0.0.1", port=free_port(), password=PASSWORD, socket_connect_timeout=1,
                         retry=Retry(NoBackoff(), 0))  # each ping one attempt: the test times the interval
    outage = Outage(logging.getLogger("test.outage"), "thing", "work waits", repeat=0.5)
    caplog.set_level(logging.WARNING, logger="test.outage")
    outage.ok()  # nothing failed: says nothing

    def fail() -> None:
        with pytest.raises(redis.exceptions.ConnectionError) as caught:
            client.ping()
        outage.failed(caught.value)

    for _ in range(5):  # within the interval: the first line only
        fail()
    assert len(caplog.records) == 1
    time.sleep(0.6)
    fail()  # past it: one reminder, then quiet again
    fail()
    assert len(caplog.records) == 2
    outage.ok()
    outage.ok()
    said = [r.getMessage() for r in caplog.records]
    assert said[0].startswith("thing unreachable (work waits): ConnectionError: ")
    assert said[1].startswith("thing still unreachable after 0 s (6 failed attempts; work waits): ConnectionError")
    assert said[2] == "thing answers again after 0 s (7 failed attempts)" and len(said) == 3
    assert not any(PASSWORD in s for s in said)


# --- a Redis that is stopped or hangs: nothing a request waits for stalls on it (core.redis_clients) -------------
# A stopped redis-server is refused at once; a hung one (testbed.redis.HungRedis: accepts, never answers) held
# every config-stamp look 2 s, every read of the poll lease store and every hand-over to huey 5 s (redis-py's waits).
# Bounds: well above what the new clients wait (0.25 s) on a loaded machine, well below the old waits. After one
# such wait the process skips that Redis for a few seconds (core.redis_breaker): the HungRedis's count of accepted
# connections tells how many calls reached it.


@pytest.fixture
def hung_redis():
    from ocbridge.testbed.redis import HungRedis

    hung = HungRedis()
    yield hung
    hung.stop()
    _outages_over()


@pytest.fixture
def fresh_clients(settings):
    """This process's Redis clients built anew for the settings.REDIS_URL the test sets; outages it leaves closed."""
    from ocbridge.core import config_cache, polls
    from ocbridge.core.outage import job_queue

    def forget() -> None:
        from ocbridge.core import redis_breaker

        config_cache._state["redis"] = None
        config_cache.clear()
        polls._leases.clear()
        redis_breaker.forget()

    forget()
    yield forget
    settings.REDIS_URL = ""
    forget()
    for outage in (config_cache._stamp_outage, polls._lease_outage, polls._page_outage, job_queue):
        outage.ok()


def _timed(fn) -> float:
    started = time.monotonic()
    fn()
    return time.monotonic() - started


@pytest.mark.django_db(transaction=True)
def test_a_config_stamp_look_at_a_stopped_or_hung_redis_gives_up_at_once_and_reads_the_database(
        settings, fresh_clients, hung_redis, monkeypatch, caplog):
    """Each look at the stamp (every request, at most every CHECK_SECONDS): Redis stopped or hung, it gives up within
    the bound and the settings are read from the database each time, said in one line. Stopped took 0.01 s before
    too; hung took 2.0 s a look before (socket_timeout=2). The second look at each skips it (core.redis_breaker)."""
    from ocbridge.core import config_cache
    from ocbridge.testbed.redis import RedisServer, RedisUnavailable

    try:
        stopped = RedisServer().start()
    except RedisUnavailable as exc:
        pytest.skip(str(exc))
    stopped.stop()
    store = Store.objects.create(name="Stamp", db_url="sqlite:////nonexistent-stamp.db")
    monkeypatch.setattr(config_cache, "CHECK_SECONDS", 0.0)  # every call looks
    caplog.set_level(logging.WARNING, logger="ocbridge.core.config_cache")
    loads = []

    def load():
        loads.append(1)
        return Store.objects.get(pk=store.pk).name

    for url in (stopped.url(), hung_redis.url()):
        settings.REDIS_URL = url
        fresh_clients()
        for _ in range(2):
            assert _timed(lambda: config_cache.cached(("stamp-test",), load)) < 1.0
    assert len(loads) == 4  # no stamp: read from the database every time
    assert len(hung_redis.accepted) == 1  # the hung one was reached and held the first look; the second skipped it
    [line] = [r.getMessage() for r in caplog.records]  # one outage, stopped then hung
    assert line.startswith("config stamp unreachable (") and "ConnectionError" in line


@pytest.mark.django_db(transaction=True)
def test_a_store_page_is_served_at_once_while_redis_hangs(client, settings, fresh_clients, hung_redis, monkeypatch):
    """The store page reads the poll lease store twice (slow lane, last read): each read held it 5 s on a hung Redis
    before the clients' timeouts, 0.25 s after them. Now the first read's wait makes the second skip Redis: the page
    costs one wait, ~0.25 s more than the same page without Redis; the next page within the skip period none."""
    from django.contrib.auth.models import User
    from django.urls import reverse

    from ocbridge.core import redis_breaker

    store = Store.objects.create(name="Hung", db_url="sqlite:////nonexistent-hung.db")
    client.force_login(User.objects.create_superuser("admin-hung", password="pw"))
    url = reverse("dashboard:store", args=[store.pk])
    page = []
    for _ in range(2):  # without Redis, warm: what the page costs by itself
        without = _timed(lambda: page.append(client.get(url)))
    settings.REDIS_URL = hung_redis.url()
    fresh_clients()
    reads = []
    check = redis_breaker.check
    monkeypatch.setattr(redis_breaker, "check", lambda *a: reads.append(a) or check(*a))
    hung = _timed(lambda: page.append(client.get(url)))
    assert page[-1].status_code == 200 and b"Hung" in page[-1].content
    assert len(hung_redis.accepted) == 1  # only the first read reached Redis
    assert hung - without < 0.5, (hung, without)  # one 0.25 s wait (two before)
    assert len(reads) == 2  # the page read it twice: slow lane and last read
    again = _timed(lambda: page.append(client.get(url)))
    assert again - without < 0.25 and len(hung_redis.accepted) == 1, (again, without)


@pytest.mark.django_db(transaction=True)
def test_store_pages_while_redis_hangs_say_so_in_one_line_without_a_traceback(
        client, settings, fresh_clients, hung_redis, caplog):
    """Each store page reads the lease store twice (slow lane, last read); the first read waits for the hung Redis,
    the others are skipped (core.redis_breaker). Before, every failed or skipped read logged "poll leases
    unreadable" with a traceback: two per page. Now all pages' reads are one line (core.outage.Outage)."""
    from django.contrib.auth.models import User
    from django.urls import reverse

    store = Store.objects.create(name="Hung", db_url="sqlite:////nonexistent-hung.db")
    client.force_login(User.objects.create_superuser("admin-hung-log", password="pw"))
    url = reverse("dashboard:store", args=[store.pk])
    settings.REDIS_URL = hung_redis.url()
    fresh_clients()
    caplog.set_level(logging.WARNING, logger="ocbridge.core.polls")
    for _ in range(4):
        assert client.get(url).status_code == 200
    [line] = [r for r in caplog.records if r.name == "ocbridge.core.polls"]
    assert line.getMessage().startswith("poll lease store unreachable (pages leave out ") and line.exc_info is None
    assert "TimeoutError" in line.getMessage()


@pytest.mark.django_db(transaction=True)
def test_a_webhook_and_a_job_handed_over_to_a_hung_redis_are_answered_at_once_and_queued_by_the_dispatcher(
        client, hung_redis, caplog):
    """The hand-over after the commit (core.jobkinds.hand_over_on_commit) to the hub's huey on a Redis that accepts
    and never answers: the webhook is answered 200 within the bound (5 s before: redis-py's default wait), one line
    says it, and the dispatcher's next look queues the stored row and hands its job out. A job enqueued in a
    transaction right after: committed, due, and handed over without asking the Redis that just timed out (0.25 s
    before core.redis_breaker)."""
    from django.db import transaction

    caplog.set_level(logging.WARNING, logger="ocbridge.core.jobkinds")
    conn = _cod_setup(1)
    waker, sender = list(inbox._waker), list(jobkinds._sender)
    _bind(_hub_huey(hung_redis.url()))
    _warm(client)
    try:
        assert _timed(lambda: _deliver(client, conn, 0)) < 1.5  # answered 200 (asserted inside)
        started = time.monotonic()
        with transaction.atomic():  # handed over as it commits
            job = Job.objects.enqueue("cod_confirm.apply_call_result", key="k-hung", payload={})
        assert time.monotonic() - started < 0.25  # before: 0.25 s at least (REQUEST's wait)
    finally:
        inbox._waker[:], jobkinds._sender[:] = waker, sender
    assert len(hung_redis.accepted) == 1  # reached, and held the webhook's hand-over; the job's skipped it
    [line] = _queue_down(caplog)  # one line for both
    assert "TimeoutError" in line.getMessage() and not _failures(caplog)
    assert Exchange.objects.filter(pending_jobs__isnull=False).count() == 1 and job.pk in jobs.due_job_ids()

    sent = []
    jobs.hand_out(sent.append)  # the dispatcher's next look, with a queue that answers
    made = Job.objects.get(kind="cod_confirm.apply_call_result", key__startswith="cod_confirm:")
    assert not Exchange.objects.filter(pending_jobs__isnull=False).exists() and made.pk in sent


@pytest.mark.django_db(transaction=True)
def test_webhooks_after_the_first_that_met_a_hung_redis_do_not_wait_for_it(
        client, settings, fresh_clients, hung_redis, monkeypatch, caplog):
    """A web process whose Redis hangs, with the config stamp and huey's queue on it, each webhook looking at the
    stamp: the first webhook waits once (0.25 s), and the next ones skip that Redis — the stamp look reads the
    database, the hand-over is left to the dispatcher — so they are answered at once; the webhooks are stored, and
    each outage is one line. Before: 0.25 s a stamp look and 0.25 s a hand-over, every webhook."""
    from ocbridge.core import config_cache

    conn = _cod_setup(4)
    _warm(client)
    settings.REDIS_URL = hung_redis.url()
    fresh_clients()
    monkeypatch.setattr(config_cache, "CHECK_SECONDS", 0.0)  # every webhook looks at the stamp
    caplog.set_level(logging.WARNING, logger="ocbridge")
    waker, sender = list(inbox._waker), list(jobkinds._sender)
    _bind(_hub_huey(hung_redis.url()))
    try:
        took = [_timed(lambda: _deliver(client, conn, i)) for i in range(4)]  # answered 200 (asserted inside)
    finally:
        inbox._waker[:], jobkinds._sender[:] = waker, sender
    assert took[0] < 1.5 and max(took[1:]) < 0.4, took  # 0.04-0.2 s (loaded machine); before at least 2 × 0.25 s
    assert len(hung_redis.accepted) == 1  # the first webhook's stamp look; nothing after it reached Redis
    assert Exchange.objects.filter(pending_jobs__isnull=False).count() == 4  # stored: the dispatcher queues them
    said = [r.getMessage() for r in caplog.records if r.name.startswith("ocbridge") and r.levelno >= logging.WARNING]
    assert len(said) == 2 and len(_queue_down(caplog)) == 1 and said[0].startswith("config stamp unreachable (")
    assert "TimeoutError" in said[0] and "Skipped" in _queue_down(caplog)[0].getMessage()


@pytest.mark.django_db(transaction=True)
def test_a_workers_own_jobs_the_queue_cannot_take_are_one_line_a_minute_and_left_due(redis_tasks, caplog):
    """`ocbridge worker` hands the jobs its jobs make to huey at once (core.jobs.worker_sender); with Redis stopped
    each one was a line of its own before. Now job_queue's one line says them all, and each stays due."""
    from django.db import transaction

    from ocbridge.core.outage import job_queue

    server, _huey = redis_tasks
    jobkinds.set_sender(jobs.worker_sender(jobkinds._sender[0]))  # huey's task on it, as `ocbridge worker` wraps it
    server.stop()
    caplog.set_level(logging.WARNING)
    try:
        made = []
        for n in range(3):
            with transaction.atomic():
                made.append(Job.objects.enqueue("cod_confirm.apply_call_result", key=f"k-own-{n}", payload={}))
    finally:
        job_queue.ok()
    said = [r.getMessage() for r in caplog.records if r.name in ("ocbridge.core.jobs", "ocbridge.core.jobkinds")]
    assert said[0].startswith("job queue unreachable (due jobs wait in the job table") and "ConnectionError" in said[0]
    assert len(said) == 2 and said[1].startswith("job queue answers again")  # the ok() above; no line per job
    assert set(jobs.due_job_ids()) == {j.pk for j in made}
