"""Routine polls (core.polls): no Job rows, nothing written to the hub when idle, one run per slot across
dispatchers, a failing poll recorded with its back-off and its recovery once, the shop's poll interval per store;
a failing target waits out its back-off, and failing or slow targets run on a lane of their own."""

from __future__ import annotations

import datetime as dt
import re
import time

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from ocbridge.core import clock, polls
from ocbridge.core.models import Connection, Integration, Job, PollHealth, Store
from ocbridge.opencart.polling import POLL, shop_targets
from opencart.opencart_helpers import add_order
from opencart.writes_helpers import make_store
from testkit import cod_integration

pytestmark = pytest.mark.django_db
WRITE = re.compile(r"^\s*(INSERT|UPDATE|DELETE|REPLACE)\b", re.I)


@pytest.fixture(autouse=True)
def _english():
    """The texts are read in English whatever language an earlier test left active."""
    from django.utils import translation

    with translation.override("en"):
        yield


def _writes(ctx) -> list[str]:
    return [q["sql"] for q in ctx.captured_queries if WRITE.match(q["sql"])]


@pytest.fixture
def shop(opencart_db):
    """A MariaDB shop with COD confirmation and order lookup on one store (two consumers of its feed)."""
    h = opencart_db("3.0")
    add_order(h, 1)
    store = make_store(h)
    conn = Connection.objects.create(store=store, service="sandbox", base_url="http://127.0.0.1:9/",
                                     secret={"token": "t"})
    from ocbridge.integrations.cod_confirm.config import CodConfirmConfig

    cod_integration(store, conn, settings=CodConfirmConfig(day_hours={d: ["00:00", "24:00"] for d in "0123456"},
                                                           dry_run=True).to_settings())
    Integration.objects.create(store=store, kind="order_lookup", connection=conn)
    polls.run_all()  # first poll: positions start at the shop's newest order
    return h, store


def test_idle_polls_write_nothing_to_the_hub(shop):
    h, store = shop
    with CaptureQueriesContext(connection) as ctx:
        for _ in range(3):
            clock.travel(15)
            assert polls.run_all() >= 2  # the shop's poll and the watchdog
    assert _writes(ctx) == []
    assert not Job.objects.exists()  # a poll is not a Job
    add_order(h, 2)  # work: the poll writes (a confirmation, its job, the cursors)
    with CaptureQueriesContext(connection) as ctx:
        polls.run_all(POLL)
    assert _writes(ctx) and Job.objects.filter(kind="cod_confirm.start_attempt").count() == 1


def test_a_failing_shop_poll_is_recorded_with_its_back_off_and_its_recovery_once(shop):
    from ocbridge.core.attention import polls_failing
    from ocbridge.opencart.attention import shop_unreachable

    h, store = shop
    real_port = store.db_port
    Store.objects.filter(pk=store.pk).update(db_port=9)  # nothing listens there: the shop cannot be read
    with CaptureQueriesContext(connection) as ctx:
        polls.run_all(POLL)
    assert len(_writes(ctx)) >= 1
    row = PollHealth.objects.get(poll=POLL)
    assert row.failing_since and row.last_error.startswith("Shop database not reachable (connection refused") and row.store_id == store.pk
    assert row.failures == 1 and row.retry_at == row.failing_since + dt.timedelta(seconds=15)
    with CaptureQueriesContext(connection) as ctx:
        polls.run_all(POLL)  # still failing: one UPDATE of its row — the count, and the next try further off
    assert len(_writes(ctx)) == 1 and "core_pollhealth" in _writes(ctx)[0]
    row.refresh_from_db()
    assert row.failures == 2 and row.retry_at - clock.now() > dt.timedelta(seconds=29)
    [item] = shop_unreachable(Store.objects.all())  # the shop's own words for it (not the generic line too)
    assert item.store == store and item.since == row.failing_since
    assert "the shop database does not answer: Shop database not reachable (connection refused" in item.text
    assert polls_failing(Store.objects.all()) == []

    Store.objects.filter(pk=store.pk).update(db_port=real_port)
    add_order(h, 2)
    polls.run_all(POLL)
    row.refresh_from_db()
    assert row.failing_since is None and row.recovered_at is not None and row.failures == 0 and row.retry_at is None
    assert shop_unreachable(Store.objects.all()) == []
    assert Job.objects.filter(kind="cod_confirm.start_attempt").count() == 1  # the order that came meanwhile
    with CaptureQueriesContext(connection) as ctx:
        polls.run_all(POLL)
    assert _writes(ctx) == []


def test_another_process_recording_a_failure_is_cleared_by_this_one(shop):
    """Health is kept in each process's memory to write nothing when healthy; a dispatcher re-reads it, so a
    recovery seen here clears a failure another worker recorded."""
    h, store = shop
    [target] = shop_targets()
    PollHealth.objects.create(poll=POLL, key=target.key, store=store, failing_since=clock.now(),
                              last_error="OperationalError: seen by another worker", updated=clock.now())
    sched = polls.Scheduler(threads=0, leases=polls.FileLeases(_tmp_leases()))
    sched._refresh()
    polls.run_all(POLL)
    assert PollHealth.objects.get().failing_since is None


def _tmp_leases():
    import tempfile
    from pathlib import Path

    return Path(tempfile.mkdtemp(prefix="leases-"))


def test_the_shop_is_polled_at_the_shortest_interval_of_its_stores(shop):
    h, store = shop
    other = make_store(h, oc_store_id=1)
    Integration.objects.create(store=other, kind="order_lookup")
    Store.objects.filter(pk=other.pk).update(poll_seconds=7)
    [target] = shop_targets()
    assert (target.every, target.store_id) == (7, other.pk)
    Store.objects.filter(pk=other.pk).update(enabled=False)
    [target] = shop_targets()
    assert (target.every, target.store_id) == (15, store.pk)  # the default
    Store.objects.filter(pk=store.pk).update(enabled=False)
    assert shop_targets() == []


@pytest.mark.parametrize("value, ok", [(4, False), (5, True), (3600, True), (3601, False)])
def test_the_poll_interval_is_checked_in_the_store_form(value, ok):
    from ocbridge.dashboard.forms import StoreForm

    form = StoreForm({"name": "S", "db_host": "db.example.com", "db_port": 3306, "db_user": "u", "db_name": "oc",
                      "db_charset": "utf8mb4", "table_prefix": "oc_", "oc_store_id": 0, "timezone": "Europe/Istanbul",
                      "language": "tr", "country": "TR", "currency": "TRY", "poll_seconds": value, "enabled": "on"},
                     instance=Store())
    assert form.is_valid() is ok, form.errors
    assert ok or "poll_seconds" in form.errors


def test_any_other_failing_poll_gets_the_generic_line_hub_wide_ones_too(monkeypatch):
    from ocbridge.core import watchdog
    from ocbridge.core.attention import polls_failing

    def broken():
        raise RuntimeError("no such table: core_sideeffect")

    monkeypatch.setattr(watchdog, "run_watchdog", broken)
    polls.run_all("core.watchdog")
    [item] = polls_failing(Store.objects.none())  # no store: shown to everyone, like a stalled worker
    assert item.store is None and item.text.startswith("The watchdog (finds orders with nothing scheduled) keeps failing")
    assert "RuntimeError: no such table: core_sideeffect" in item.text
    monkeypatch.undo()
    polls.run_all("core.watchdog")
    assert polls_failing(Store.objects.none()) == []


# --- the scheduler: one run per slot across dispatchers ------------------------------------------------------


@pytest.fixture
def counted_poll(monkeypatch):
    """A registered poll of two targets (15 s and 60 s) that counts its runs."""
    ran: list[str] = []
    monkeypatch.setattr(polls, "_POLLS", {})
    polls.register_poll("test.count", targets=lambda: [polls.Target("a", 15), polls.Target("b", 60)],
                        label="counting")(lambda target: ran.append(target.key))
    return ran


def _settle(*schedulers) -> None:
    deadline = time.monotonic() + 10
    while not all(s.idle() for s in schedulers) and time.monotonic() < deadline:
        time.sleep(0.01)


def _leases(kind, tmp_path, redis_url):
    return polls.FileLeases(tmp_path / "leases") if kind == "file" else polls.RedisLeases(redis_url, prefix=f"t{time.time_ns()}:")


@pytest.fixture(scope="module")
def redis_url():
    from ocbridge.testbed.redis import RedisServer, RedisUnavailable

    try:
        server = RedisServer().start()
    except RedisUnavailable as exc:
        pytest.skip(str(exc))
    yield server.url()
    server.stop()


@pytest.mark.parametrize("kind", ["file", "redis"])
def test_of_several_dispatchers_one_runs_each_slot(counted_poll, tmp_path, request, kind):
    url = request.getfixturevalue("redis_url") if kind == "redis" else ""
    leases = _leases(kind, tmp_path, url)
    one, two = polls.Scheduler(threads=2, leases=leases), polls.Scheduler(threads=2, leases=leases)
    for _ in range(3):
        one.tick(), two.tick()
    _settle(one, two)
    assert sorted(counted_poll) == ["a", "b"]
    clock.travel(15)  # a's next slot; b's (60 s) not yet — unless its phase put a boundary in between
    for _ in range(3):
        two.tick(), one.tick()
    _settle(one, two)
    assert counted_poll.count("a") == 2 and counted_poll.count("b") in (1, 2)
    clock.travel(60)
    for _ in range(3):
        one.tick(), two.tick()
    _settle(one, two)
    assert counted_poll.count("a") == 3 and counted_poll.count("b") in (2, 3)


def test_tick_says_when_the_next_slot_begins(counted_poll, tmp_path):
    """The dispatcher wakes for the next slot boundary of any target (or the next re-read of the targets)."""
    sched = polls.Scheduler(threads=1, leases=polls.FileLeases(tmp_path))
    now = clock.now().timestamp()
    wait = sched.tick()

    def boundary(target):
        every, phase = polls._timing(target)
        return (polls.slot_of(target, now) + 1) * every - phase - now

    expected = min(polls.REFRESH_SECONDS, boundary(polls.Target("a", 15)), boundary(polls.Target("b", 60)))
    assert abs(wait - expected) < 0.05


def test_targets_are_spread_over_the_interval():
    phases = {polls._timing(polls.Target(f"shop{i}", 15))[1] for i in range(200)}
    assert len(phases) > 150 and min(phases) < 2 and max(phases) > 13


# --- what the dashboard is told ---------------------------------------------------------------------------------


def test_a_hub_whose_dispatchers_stopped_says_no_worker_runs(tmp_path, settings):
    import os

    from ocbridge.core.attention import worker_stalled

    if settings.REDIS_URL:
        pytest.skip("the file lease store is this test's (a Redis hub keeps the beat in Redis)")
    assert worker_stalled(Store.objects.all()) is None  # never ran here (a test, a fresh install): nothing to say
    leases = polls.default_leases()
    leases.beat()
    assert worker_stalled(Store.objects.all()) is None
    beat = leases._path(polls.BEAT_NAME)
    old = time.time() - 600
    os.utime(beat, (old, old))
    item = worker_stalled(Store.objects.all())
    assert item is not None and "No worker has run for 10 minutes" in item.text


# --- routine jobs that stay Jobs (periodic syncs; inbox reads queued before the Netgsm inbox became a poll) -------


def test_a_routine_job_whose_worker_keeps_dying_is_queued_again_never_parked():
    from datetime import timedelta

    from ocbridge.core.choices import JobState
    from ocbridge.core.jobs import requeue_expired
    from ocbridge.core.jobkinds import routine_kinds

    routine, business = "cod_confirm.read_inbox", "cod_confirm.start_attempt"
    assert routine in routine_kinds() and business not in routine_kinds()
    past = clock.now() - timedelta(minutes=10)
    for kind in (routine, business):
        Job.objects.create(kind=kind, key=kind, state=JobState.RUNNING, attempts=5, max_attempts=5,
                           claimed_by="dead:1:t", claim_token="x", claim_expires_at=past, next_run_at=past)
    requeue_expired()
    states = dict(Job.objects.values_list("kind", "state"))
    assert states == {routine: JobState.QUEUED, business: JobState.FAILED}


def test_back_off_doubles_up_to_ten_minutes():
    assert [polls.backoff(n, 15) for n in range(1, 8)] == [15, 30, 60, 120, 240, 480, 600]
    assert polls.backoff(1, 3600) == 3600 and polls.backoff(5, 3600) == 3600  # never shorter than the interval


@pytest.fixture
def flaky_poll(monkeypatch):
    """A poll of three targets: "down" always fails, "hangs" takes 1.5 s, "ok" is quick; records runs in order."""
    ran: list[str] = []
    monkeypatch.setattr(polls, "_POLLS", {})
    monkeypatch.setattr(polls, "SLOW_SECONDS", 1.0)

    def run(target):
        ran.append(target.key)
        if target.key == "down":
            raise RuntimeError("shop database not reachable")
        if target.key == "hangs":
            time.sleep(1.5)

    polls.register_poll("test.flaky", targets=lambda: [polls.Target(k, 15) for k in ("down", "hangs", "ok")],
                        label="flaky")(run)
    return ran


@pytest.mark.django_db(transaction=True)  # the poll threads record health through their own connections
def test_a_failing_target_waits_out_its_back_off_across_dispatchers(flaky_poll, tmp_path):
    leases = polls.FileLeases(tmp_path)
    one = polls.Scheduler(threads=2, leases=leases)
    one.tick()
    _settle(one)
    assert flaky_poll.count("down") == 1
    assert PollHealth.objects.get(key="down").failures == 1
    clock.travel(15)  # next slot: due again (first back-off = the interval)
    one.tick()
    _settle(one)
    assert flaky_poll.count("down") == 2 and flaky_poll.count("ok") == 2
    row = PollHealth.objects.get(key="down")
    assert row.failures == 2 and (row.retry_at - clock.now()).total_seconds() > 25  # 30 s after that failure
    two = polls.Scheduler(threads=2, leases=leases)  # another worker process: it reads the back-off from the row
    clock.travel(15)
    for s in (one, two):
        s.refreshed = float("-inf")
        s.tick()
    _settle(one, two)
    assert flaky_poll.count("down") == 2 and flaky_poll.count("ok") == 3  # skipped: its next try is later
    clock.travel(16)
    two.refreshed = float("-inf")
    two.tick()
    _settle(two)
    assert flaky_poll.count("down") == 3


@pytest.mark.django_db(transaction=True)
def test_failing_and_slow_targets_cannot_hold_the_healthy_ones_threads(flaky_poll, tmp_path):
    sched = polls.Scheduler(threads=1, slow_threads=1, leases=polls.FileLeases(tmp_path))
    sched.tick()
    _settle(sched)  # the first round: all on the one normal thread; "down" failed, "hangs" was slow
    assert set(sched.leases.slow_targets()) == {"test.flaky|down", "test.flaky|hangs"}
    PollHealth.objects.filter(key="down").update(retry_at=None)  # no back-off here: only the lanes are tested
    polls.reset()
    del flaky_poll[:]
    clock.travel(15)
    started = time.monotonic()
    sched.tick()
    while "ok" not in flaky_poll and time.monotonic() - started < 5:
        time.sleep(0.01)
    assert "ok" in flaky_poll and time.monotonic() - started < 1.0  # not queued behind the 1.5 s poll
    _settle(sched)
    assert sorted(flaky_poll) == ["down", "hangs", "ok"]


def _lane_round(sched, leases) -> dict:
    """One poll round 15 s later, every target due (no back-off: only the lane is tested); the slow-lane record."""
    PollHealth.objects.update(retry_at=None)
    polls.reset()
    clock.travel(15)
    sched.refreshed = float("-inf")
    sched.tick()
    _settle(sched)
    return leases.slow_targets()


@pytest.mark.parametrize("kind", ["file", "redis"])
@pytest.mark.django_db(transaction=True)
def test_the_slow_lane_is_recorded_for_the_dashboard_and_left_on_recovery(monkeypatch, tmp_path, request, kind):
    """A target on the slow lane is in the lease store's slow-lane record (since when, its last poll there: when,
    how long, whether it went well) — the dashboard's one read; it leaves the record when a poll goes well again,
    and a target that is gone leaves it at the next refresh."""
    monkeypatch.setattr(polls, "_POLLS", {})
    failing = {"a": True}
    keys = ["a", "b"]

    def run(target):
        if failing.get(target.key):
            raise RuntimeError("shop database not reachable")

    polls.register_poll("test.lane", targets=lambda: [polls.Target(k, 15, store_id=7) for k in keys], label="lane")(run)
    leases = _leases(kind, tmp_path, request.getfixturevalue("redis_url") if kind == "redis" else "")
    sched = polls.Scheduler(threads=1, slow_threads=1, leases=leases)

    def round_() -> dict:
        return _lane_round(sched, leases)

    sched.tick()
    _settle(sched)
    first = leases.slow_targets()
    assert set(first) == {"test.lane|a"} and first["test.lane|a"]["ok"] is False
    assert first["test.lane|a"]["store"] == 7
    second = round_()["test.lane|a"]
    assert second["since"] == first["test.lane|a"]["since"] and second["at"] > first["test.lane|a"]["at"]
    failing["a"] = False
    assert round_() == {}  # polled well again: off the lane and off the record
    failing["b"] = True
    assert set(round_()) == {"test.lane|b"}
    keys.remove("b")  # its store switched off: gone from the targets, gone from the record
    assert round_() == {}


@pytest.mark.parametrize("kind", ["file", "redis"])
@pytest.mark.django_db(transaction=True)
def test_the_slow_lane_keeps_its_since_across_a_restart_and_clears_it_on_recovery(monkeypatch, tmp_path, request,
                                                                                   kind):
    """A worker restart (a new Scheduler, a new lease-store client) keeps when a target went on the slow lane: the
    dashboard does not say "since 2 minutes ago" after a deploy for a shop slow for days. A target that was only slow
    (not failing, so not in PollHealth) and polls well after the restart leaves the record — before, the new process
    did not know it was on the lane and left it there for good."""
    monkeypatch.setattr(polls, "_POLLS", {})
    monkeypatch.setattr(polls, "SLOW_SECONDS", 0.2)
    failing, slow = {"down": True}, {"slow": True}

    def run(target):
        if failing.get(target.key):
            raise RuntimeError("shop database not reachable")
        if slow.get(target.key):
            time.sleep(0.3)

    polls.register_poll("test.lane", targets=lambda: [polls.Target(k, 15, store_id=7) for k in ("down", "slow")],
                        label="lane")(run)
    url = request.getfixturevalue("redis_url") if kind == "redis" else ""
    leases = _leases(kind, tmp_path, url)

    def round_(sched) -> dict:
        return _lane_round(sched, leases)

    first = round_(polls.Scheduler(threads=1, slow_threads=1, leases=leases))
    assert set(first) == {"test.lane|down", "test.lane|slow"}
    time.sleep(0.05)  # a since taken anew would differ
    again = (polls.FileLeases(tmp_path / "leases") if kind == "file"  # the new process's own client
             else polls.RedisLeases(url, prefix=leases.prefix))
    restarted = polls.Scheduler(threads=1, slow_threads=1, leases=again)
    slow["slow"] = False  # polls well from now on
    after = round_(restarted)
    assert set(after) == {"test.lane|down"}, (first, after)  # the recovered one is off the record
    assert after["test.lane|down"]["since"] == first["test.lane|down"]["since"]
    assert after["test.lane|down"]["at"] > first["test.lane|down"]["at"]
    failing["down"] = False
    assert round_(restarted) == {}  # recovered: off the record, and its since forgotten
    failing["down"] = True
    back = round_(restarted)["test.lane|down"]
    assert back["since"] > first["test.lane|down"]["since"]  # on the lane again: a new since


@pytest.mark.parametrize("kind", ["file", "redis"])
@pytest.mark.django_db(transaction=True)
def test_of_two_dispatchers_the_slow_lane_is_one_and_a_target_runs_at_one_at_a_time(monkeypatch, tmp_path, request,
                                                                                   kind):
    """Two dispatchers (worker processes: each its own lease-store client) share one slow lane: a target one saw slow
    runs on the slow lane at the other, both put it back on the healthy lane after its first good poll there, a poll
    that outlasts its slot is not started by the other meanwhile, the next slot after it ends is polled, and a
    dispatcher that died holding a target frees it after RUN_SECONDS. Before, each dispatcher kept its own set (the
    other's slow targets joined it only at its next refresh and left it only after a good poll of its own), and the
    slot lease alone let the other dispatcher start a second poll of a hung shop at each new slot."""
    import threading

    monkeypatch.setattr(polls, "_POLLS", {})
    monkeypatch.setattr(polls, "SLOW_SECONDS", 0.3)
    took, lanes, at_once = {"x": 0.5}, [], {"now": 0, "most": 0}
    guard = threading.Lock()

    def run(target):
        with guard:
            at_once["now"] += 1
            at_once["most"] = max(at_once["most"], at_once["now"])
        lanes.append("slow" if threading.current_thread().name.startswith("poll-slow") else "healthy")
        time.sleep(took["x"])
        with guard:
            at_once["now"] -= 1

    polls.register_poll("test.lanes", targets=lambda: [polls.Target("x", 15, store_id=7)], label="lanes")(run)
    url = request.getfixturevalue("redis_url") if kind == "redis" else ""
    leases = _leases(kind, tmp_path, url)

    def client():  # each worker process has its own
        return polls.FileLeases(tmp_path / "leases") if kind == "file" else polls.RedisLeases(url, prefix=leases.prefix)

    one = polls.Scheduler(threads=1, slow_threads=1, leases=client())
    two = polls.Scheduler(threads=1, slow_threads=1, leases=client())

    def next_slot(*schedulers, settle=True):
        clock.travel(15)
        for s in schedulers:
            s.tick()
        if settle:
            _settle(one, two)

    one.tick(), two.tick()  # both have read the targets (and the empty record) now; one takes the slot
    _settle(one, two)
    assert lanes == ["healthy"] and set(leases.slow_targets()) == {"test.lanes|x"}  # 0.5 s: slow
    took["x"] = 0.0
    next_slot(two)  # two takes the next slot: the lane one saw
    assert lanes[1:] == ["slow"] and leases.slow_targets() == {}  # polled well: off the record
    next_slot(one)  # one saw it slow itself; after two's good poll it is healthy for one too
    assert lanes[2:] == ["healthy"]

    took["x"] = 1.0  # hangs past its slot
    next_slot(one, settle=False)
    time.sleep(0.1)
    next_slot(two, one, settle=False)  # the slot after: x still runs at one
    _settle(one, two)
    assert lanes[3:] == ["healthy"] and at_once["most"] == 1  # started once, never twice at once
    took["x"] = 0.0
    next_slot(two)  # not starved: the next slot runs, on the lane one's slow poll put it on
    assert lanes[4:] == ["slow"]

    monkeypatch.setattr(polls, "RUN_SECONDS", 1.0)
    dead = client().take("test.lanes", "x", slot=-1, ttl=60, owner="a worker killed mid-poll")
    assert dead is not None and dead.lane is None
    next_slot(one, two)
    assert len(lanes) == 5  # held by the dead worker
    time.sleep(1.1)
    next_slot(one, two)
    assert lanes[5:] == ["healthy"] and at_once["most"] == 1


@pytest.mark.parametrize("kind", ["file", "redis"])
@pytest.mark.django_db(transaction=True)
def test_a_burst_of_wants_while_a_poll_runs_elsewhere_is_one_more_poll_after_it(monkeypatch, tmp_path, request, kind):
    """A target wanted now (opencart.push) 100 times while another dispatcher's poll of it runs: neither dispatcher
    starts a second poll meanwhile; the holder polls it once more when its poll ends (that poll may have read just
    before what the pushes announce), and that is all. Wanted while idle: polled at once, off its slot."""
    import threading

    monkeypatch.setattr(polls, "_POLLS", {})
    runs, at_once, guard, took = [], {"now": 0, "most": 0}, threading.Lock(), {"x": 0.5}

    def run(target):
        with guard:
            at_once["now"] += 1
            at_once["most"] = max(at_once["most"], at_once["now"])
        runs.append(time.monotonic())
        time.sleep(took["x"])
        with guard:
            at_once["now"] -= 1

    polls.register_poll("test.want", targets=lambda: [polls.Target("x", 3600)], label="want")(run)
    url = request.getfixturevalue("redis_url") if kind == "redis" else ""
    leases = _leases(kind, tmp_path, url)

    def client():  # each worker process has its own
        return polls.FileLeases(tmp_path / "leases") if kind == "file" else polls.RedisLeases(url, prefix=leases.prefix)

    one = polls.Scheduler(threads=1, leases=client())
    two = polls.Scheduler(threads=1, leases=client())
    one.tick(), two.tick()  # one takes the first slot: its 0.5 s poll runs
    while not runs:
        time.sleep(0.01)
    for _ in range(100):
        client().want("test.want", "x")
    claimed = [two.leases.wanted(), one.leases.wanted()]
    assert sum(map(len, claimed)) in (1, 100)  # one mark (files) or each push's (Redis): one dispatcher takes them
    two._start_wanted(claimed[0]), one._start_wanted(claimed[1])
    _settle(one, two)
    time.sleep(0.1)
    _settle(one, two)
    assert len(runs) == 2 and at_once["most"] == 1 and runs[1] - runs[0] >= 0.5  # after the first, not beside it
    took["x"] = 0.0
    client().want("test.want", "x")  # idle now, its next slot an hour away
    for s in (two, one):
        s._start_wanted(s.leases.wanted())
    _settle(one, two)
    assert len(runs) == 3 and at_once["most"] == 1


def test_an_idle_shop_poll_opens_no_transaction(shop):
    """On SQLite a transaction's BEGIN takes the hub's write lock: a thousand idle shops must not queue on it."""
    clock.travel(15)
    with CaptureQueriesContext(connection) as ctx:
        polls.run_all(POLL)
    assert [q["sql"] for q in ctx.captured_queries if q["sql"].startswith(("BEGIN", "SAVEPOINT"))] == []


def test_a_quiet_shop_polled_every_30_s_reads_nothing_from_the_hub_for_a_few_intervals(shop,
                                                                                        django_assert_num_queries):
    """The feed's memory of a quiet shop follows the shop's interval (opencart.feed.quiet_seconds): at 30 s the polls
    30, 60 and 90 s after a full one read nothing from the hub (a flat 60 s made every other poll a full one); once
    it runs out, the hub is read again and the shop remembered anew."""
    from ocbridge.opencart import feed, polling

    h, store = shop
    Store.objects.filter(pk=store.pk).update(poll_seconds=30)
    [target] = shop_targets()
    assert target.every == 30
    feed._quiet.pop(target.key, None)
    polling.poll_shop(target)  # a full poll: remembered
    memory = feed._quiet[target.key]
    for since in (30, 60, 90):
        memory.at = time.monotonic() - since - 0.5  # this long after the full poll (started half a second late)
        with django_assert_num_queries(0):
            polling.poll_shop(target)
    memory.at = time.monotonic() - 4 * 30
    with CaptureQueriesContext(connection) as ctx:
        polling.poll_shop(target)
    assert ctx.captured_queries and feed._quiet[target.key] is not memory


def test_an_integration_switched_off_without_the_orm_is_seen_at_the_next_listing(shop):
    """A queryset update sends no signal (core.config_cache keeps the quiet memory): the dispatcher's listing of
    the shops stamps each shop's integrations too, so the next poll after it reads the hub and marks the cursor off."""
    from ocbridge.opencart import polling
    from ocbridge.opencart.models import FeedCursor

    h, store = shop
    [target] = shop_targets()
    polling.poll_shop(target)
    polling.poll_shop(target)  # quiet
    lookup = Integration.objects.get(store=store, kind="order_lookup")
    Integration.objects.filter(pk=lookup.pk).update(enabled=False)
    [target] = shop_targets()
    polling.poll_shop(target)
    assert FeedCursor.objects.get(integration=lookup).off is True


@pytest.mark.django_db(transaction=True)
def test_a_shop_that_stops_answering_on_the_healthy_lane_gives_up_its_thread(flaky_poll, tmp_path, monkeypatch):
    """First round, nothing known yet: "hangs" takes the only healthy thread; past SLOW_SECONDS a new thread takes
    its place and "ok" is polled without waiting for it; the extra thread ends afterwards."""
    monkeypatch.setattr(polls, "SLOW_SECONDS", 0.3)
    monkeypatch.setattr(polls, "MOST_PER_BASE", 1)  # no thread added for the backlog: the relief alone is tested
    sched = polls.Scheduler(threads=1, slow_threads=1, leases=polls.FileLeases(tmp_path))
    sched.targets = [(polls._POLLS["test.flaky"], polls.Target(k, 15)) for k in ("hangs", "ok")]
    sched.refreshed = time.monotonic() + 3600  # keep this target list
    started = time.monotonic()
    sched.tick()
    while "ok" not in flaky_poll and time.monotonic() - started < 5:
        time.sleep(0.05)
        sched._relieve()  # what each dispatcher tick does
    assert flaky_poll[:2] == ["hangs", "ok"] and time.monotonic() - started < 1.2
    _settle(sched)
    time.sleep(0.1)
    assert sched.healthy_alive == 1 and not sched.relieved


def test_a_polls_requests_are_logged_only_when_it_found_work_or_failed():
    """core.exchanges.held: a routine poll's Exchanges (and its connection's "last OK") are kept in memory and
    saved when the poll returns that it found something or fails; an idle poll's are dropped. A connection that was
    failing is marked working again at once."""
    import httpx

    from ocbridge.core.exchanges import ExchangeRecorder
    from ocbridge.core.models import Exchange

    store = Store.objects.create(name="A", db_host="db.example.com", db_name="shop")
    conn = Connection.objects.create(store=store, service="sandbox", secret={"token": "t"})
    result = {"found": 0, "fail": False}

    def read(target):
        recorder = ExchangeRecorder("sandbox", connection=Connection.objects.get(pk=conn.pk))
        with recorder.exchange("GET", "https://example.com/changes") as ex:
            ex.finish(httpx.Response(200, content=b"[]"))
        if result["fail"]:
            raise RuntimeError("the answer made no sense")
        return result["found"]

    polls.register_poll("test.reads", targets=lambda: [polls.Target(key="t", every=15)], label="test")(read)
    try:
        polls.run_all("test.reads")  # first answer ever: "last OK" is written at once
        first_ok = Connection.objects.get(pk=conn.pk).last_ok_at
        assert first_ok is not None and Exchange.objects.count() == 0
        clock.travel(15)
        with CaptureQueriesContext(connection) as ctx:
            polls.run_all("test.reads")
        assert _writes(ctx) == [] and Connection.objects.get(pk=conn.pk).last_ok_at == first_ok
        result["found"] = 2
        polls.run_all("test.reads")
        assert Exchange.objects.count() == 1 and Connection.objects.get(pk=conn.pk).last_ok_at > first_ok
        result.update(found=0, fail=True)
        polls.run_all("test.reads")
        assert Exchange.objects.count() == 2 and PollHealth.objects.get(poll="test.reads").failing_since
        Connection.objects.filter(pk=conn.pk).update(last_error_at=clock.now(), last_error="refused")
        clock.travel(60)
        result["fail"] = False
        polls.run_all("test.reads")  # idle, but the connection was failing: its recovery is written
        c = Connection.objects.get(pk=conn.pk)
        assert c.last_ok_at > c.last_error_at and Exchange.objects.count() == 2
        assert PollHealth.objects.get(poll="test.reads").failing_since is None
    finally:
        polls._POLLS.pop("test.reads", None)


def test_an_idle_dispatcher_tick_writes_nothing_to_the_hub(shop):
    """The dispatcher ticks every second: with no claim expired, no job due and no schedule due, a tick only
    reads (its routine polls write nothing either, above)."""
    from ocbridge.core import jobs

    sent = []
    jobs._next_run.clear()
    jobs.dispatch_due(sent.append)  # every schedule is due once at start (housekeeping makes its job)
    jobs.run_until_idle()
    sent.clear()
    with CaptureQueriesContext(connection) as ctx:
        for _ in range(3):
            jobs.dispatch_due(sent.append)
    assert _writes(ctx) == [] and sent == []


@pytest.mark.django_db(transaction=True)
def test_polls_waiting_for_a_thread_get_one_and_the_extra_threads_end_when_idle(monkeypatch, tmp_path):
    """Eight shops that each take 0.3 s to answer, one thread to start with: as in the first round after a start
    (every shop due at once) or a thousand shops whose polls take longer than four threads can keep up with, the
    lane adds threads while polls wait (so the round takes about one poll's time, not eight); once there is
    nothing to do the added threads end."""
    monkeypatch.setattr(polls, "_POLLS", {})
    monkeypatch.setattr(polls, "IDLE_SECONDS", 0.5)
    ran: list[str] = []
    polls.register_poll("test.slowish", targets=lambda: [polls.Target(f"shop{i}", 15) for i in range(8)],
                        label="slowish")(lambda target: (time.sleep(0.3), ran.append(target.key)))
    sched = polls.Scheduler(threads=1, slow_threads=1, leases=polls.FileLeases(tmp_path))
    started = time.monotonic()
    while len(ran) < 8 and time.monotonic() - started < 5:
        sched.tick()  # what the poll loop does: it wakes at least once a second, ~33 times with 1,000 shops
        time.sleep(0.01)
    took = time.monotonic() - started
    assert len(ran) == 8 and took < 1.2, took  # one after another: 2.4 s
    assert 1 < sched.lane.size <= polls.MOST_PER_BASE and sched.healthy_alive == sched.lane.size
    deadline = time.monotonic() + 5
    while sched.healthy_alive > 1 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert sched.lane.size == 1 and sched.healthy_alive == 1


def test_a_tick_looks_only_at_the_due_targets(counted_poll, tmp_path, monkeypatch):
    """A thousand shops at 30 s wake the dispatcher ~33 times a second: a tick must not walk every target."""
    looked = []
    real = polls.slot_of
    monkeypatch.setattr(polls, "slot_of", lambda target, now: (looked.append(target.key), real(target, now))[1])
    sched = polls.Scheduler(threads=1, leases=polls.FileLeases(tmp_path))
    sched.tick()  # the first tick places every target
    _settle(sched)
    del looked[:]
    for _ in range(5):
        sched.tick()
    assert looked == []  # nothing due: nothing looked at
    clock.travel(15)
    sched.tick()
    _settle(sched)
    assert "a" in looked and counted_poll.count("a") == 2


@pytest.mark.django_db
def test_a_lease_store_that_goes_down_is_said_once_and_polls_go_on_when_it_answers(counted_poll, caplog):
    """The poll loop on a real password-protected redis-server, stopped for several slots: one masked warning line,
    no traceback per tick (before: "routine polls: tick failed" with a traceback at every slot), and the polls run
    again once it answers, said in one more line."""
    import logging
    import threading

    from ocbridge.testbed.redis import RedisServer, RedisUnavailable

    password = "pw-leases-4242"
    try:
        server = RedisServer(password=password).start()
    except RedisUnavailable as exc:
        pytest.skip(str(exc))
    caplog.set_level(logging.WARNING, logger="ocbridge.core.polls")
    sched = polls.Scheduler(threads=1, leases=polls.RedisLeases(server.url(), prefix=f"t{time.time_ns()}:"))
    stop = threading.Event()
    loop = threading.Thread(target=sched.loop, args=(stop,), daemon=True)
    loop.start()

    def said(start: str) -> list[logging.LogRecord]:
        return [r for r in caplog.records if r.getMessage().startswith(start)]

    def until(pred, seconds: float = 30) -> bool:
        end = time.monotonic() + seconds
        while not pred() and time.monotonic() < end:
            time.sleep(0.05)
        return pred()

    try:
        assert until(lambda: sorted(counted_poll) == ["a", "b"])
        server.stop()
        for _ in range(3):  # three of a's slots while Redis is down
            clock.travel(15)
            assert until(lambda: said("poll lease store unreachable"))
            time.sleep(1.2)
        assert counted_poll.count("a") == 1
        down = list(caplog.records)
        server = RedisServer(port=server.port, password=password).start()
        clock.travel(15)
        assert until(lambda: counted_poll.count("a") == 2 and said("poll lease store answers again"))
    finally:
        stop.set()
        loop.join(10)
        server.stop()
    [line] = [r for r in down if r.levelno >= logging.WARNING]
    assert line.getMessage().startswith("poll lease store unreachable (routine polls wait until it answers): ")
    assert "ConnectionError" in line.getMessage() and line.exc_info is None
    assert not said("routine polls: tick failed") and len(said("poll lease store answers again")) == 1
    assert not any(password in r.getMessage() for r in caplog.records)


def test_a_tick_against_a_hung_lease_store_waits_for_one_lease_not_one_per_due_target(monkeypatch):
    """Six targets due at once, the lease store on a Redis that accepts and never answers (testbed.redis.HungRedis):
    the first call that waits for it (the dispatcher's beat, 2 s) makes the rest of this tick and the next ticks skip
    it (core.redis_breaker) — each due slot skipped as when Redis is down, nothing polled. Before, each due target's
    lease waited its 2 s: the second tick took 12 s."""
    from ocbridge.core import redis_breaker
    from ocbridge.core.outage import broker_down
    from ocbridge.testbed.redis import HungRedis

    ran: list[str] = []
    monkeypatch.setattr(polls, "_POLLS", {})
    polls.register_poll("test.hung", targets=lambda: [polls.Target(f"t{i}", 15) for i in range(6)],
                        label="hung")(lambda target: ran.append(target.key))
    hung = HungRedis()
    redis_breaker.forget()
    sched = polls.Scheduler(threads=1, leases=polls.RedisLeases(hung.url(), prefix=f"t{time.time_ns()}:"))
    ticks = []
    try:
        for _ in range(3):
            started = time.monotonic()
            try:
                sched.tick()
            except Exception as exc:  # as Scheduler.loop: said once, the next tick goes on
                assert broker_down(exc)
            ticks.append(time.monotonic() - started)
    finally:
        hung.stop()
        redis_breaker.forget()
        polls._lease_outage.ok()
    assert sum(ticks) < 3.5, ticks  # one 2 s wait in all
    assert len(hung.accepted) == 1 and not ran and sorted(sched.seen) == [("test.hung", f"t{i}") for i in range(6)]


@pytest.mark.django_db(transaction=True)
def test_polls_whose_lease_store_is_down_keep_their_last_run_and_lane_in_one_line_without_a_traceback(
        monkeypatch, settings, caplog):
    """Polls that ran while their lease store (Redis) refuses: `run_once` cannot keep the last run and the lane
    record cannot be written. Before, each logged a traceback ("last run not kept", "slow lane not recorded"); now
    they are the poll loop's one line a minute (the first refused, the rest skipped by core.redis_breaker)."""
    import logging
    import socket

    from ocbridge.core import redis_breaker

    with socket.socket() as s:  # a port nobody listens on: refused at once
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monkeypatch.setattr(polls, "_POLLS", {})
    polls.register_poll("test.down", targets=lambda: [], label="down")(lambda target: None)
    poll = polls.registered()["test.down"]
    settings.REDIS_URL = f"redis://127.0.0.1:{port}/0"
    polls._leases.clear()
    redis_breaker.forget()
    sched = polls.Scheduler(threads=1, leases=polls.default_leases())
    caplog.set_level(logging.WARNING, logger="ocbridge.core.polls")
    try:
        for i in range(3):
            target = polls.Target(f"t{i}", 15, store_id=7)
            assert polls.run_once(poll, target) is True  # the poll ran: only its time is not kept
            sched._note_lane(target, (poll.name, target.key), True, 31.0, True, None)
        said = [r for r in caplog.records if r.name == "ocbridge.core.polls"]
    finally:
        settings.REDIS_URL = ""
        polls._leases.clear()
        redis_breaker.forget()
        polls._lease_outage.ok()
    [line] = said
    assert line.getMessage().startswith("poll lease store unreachable (routine polls wait until it answers): ")
    assert "ConnectionError" in line.getMessage() and line.exc_info is None
