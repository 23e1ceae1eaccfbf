"""Crash suite: COD orders through two `ocbridge worker` processes that are SIGKILLed at chosen points, many times.

Afterwards: every order has exactly one outcome in OpenCart's history (or legitimately none), no
(order, attempt) was called or texted twice at the provider, no webhook answered 2xx was lost.
Sizes: CI (unmarked, ~60 orders) and full (`make soak`: 1,000 orders, 100 kills).
"""

import time

import pytest

from reliability.chaos import Chaos
from reliability.harness import (CI, FULL, SOAK, add_orders, audit, drive_to_completion, e164_of, random_for,
                                 worker_count)

pytestmark = pytest.mark.django_db(transaction=True)

SIZES = [pytest.param(CI, id="ci"),
         pytest.param(FULL, id="full", marks=[pytest.mark.slow, pytest.mark.skipif(not SOAK, reason="full run: make soak")])]


@pytest.mark.parametrize("size", SIZES)
def test_killed_workers_never_call_twice_or_lose_an_answer(reliability_bed, size, capsys):
    bed = reliability_bed(workers=worker_count(size), threads=size.threads)
    # Every webhook three times, late (2 simulated minutes) and shuffled within 5-minute windows.
    bed.sim.set_webhook_behaviour(duplicate=3, delay=120, shuffle=True, shuffle_window=300)
    started = time.monotonic()
    order_ids = add_orders(bed.shop, 1001, size.orders)
    bed.pool.start()
    chaos = Chaos(bed, size.kills, random_for(f"crash-{size.name}"))
    chaos.start()
    final = drive_to_completion(bed.sim, bed.pool, size.orders, size.patience(), busy=chaos.is_alive)
    chaos.stop_event.set()
    chaos.join(10)
    result = audit(bed, order_ids)
    run = {"hub": bed.hub, "size": size.name, "seconds": round(time.monotonic() - started), "workers_spawned":
           bed.pool.spawned, **{k: v for k, v in final.items() if k in ("clock_moved_s", "stuck")}, **chaos.counts}
    with capsys.disabled():
        print("\n" + result.render(f"crash suite ({bed.hub}, {size.name})", run))
    assert not chaos.error, chaos.error
    assert not result.violations, result.render("crash suite", run) + "\n" + bed.pool.crashed_logs()
    assert chaos.counts["kills"] >= size.kills
    assert result.counts["history_written_once"] > size.orders // 2  # the run really decided most orders


class Killed(BaseException):
    """What SIGKILL does to a job, in-process: it stops mid-run, the runner records nothing, the claim stays."""


def _crash_once(monkeypatch, module, name):
    real, hit = getattr(module, name), []

    def crash(*args, **kwargs):
        if not hit:
            hit.append(name)
            raise Killed(name)
        return real(*args, **kwargs)

    monkeypatch.setattr(module, name, crash)
    return hit


def _run_killed_then_again(bed, hit):
    """Run due jobs until the kill; then past the dead claim's expiry, run again until quiet."""
    from ocbridge.core import clock
    from ocbridge.core.jobs import run_until_idle
    from ocbridge.core.polls import run_all as run_polls

    for _ in range(30):
        run_polls()
        try:
            run_until_idle()
        except Killed:
            break
        bed.sim.webhooks.flush()
        bed.sim.wait_idle(5)
        clock.travel(60)
    assert hit, "the kill point was never reached"
    for _ in range(12):
        clock.travel(200)  # the dead worker's claim expires
        run_polls()
        run_until_idle()
        bed.sim.webhooks.flush()
        bed.sim.wait_idle(5)


def test_worker_killed_between_answer_and_decision_keeps_the_answer(reliability_bed, monkeypatch):
    """The call result was recorded on the attempt, then the worker died before the decision: the retried job
    must still decide (it used to see an 'answered' attempt, call the result a repeat, and drop it)."""
    from ocbridge.integrations.cod_confirm import jobs
    from ocbridge.integrations.cod_confirm.models import Confirmation

    bed = reliability_bed()
    add_orders(bed.shop, 5001, 1)
    bed.sim.set_customer(e164_of(5001), call="confirm")
    hit = _crash_once(monkeypatch, jobs, "decide")
    _run_killed_then_again(bed, hit)
    assert Confirmation.objects.get(order_id=5001).state == "confirmed"
    assert bed.sim.calls() and len(bed.sim.calls()) == 1
    assert audit(bed, [5001]).violations == []


def test_worker_killed_between_decision_and_history_job_still_writes_history(reliability_bed, monkeypatch):
    """Decided, then the worker died before the history job was queued: the outcome must still reach OpenCart."""
    from ocbridge.integrations.cod_confirm import jobs

    bed = reliability_bed()
    add_orders(bed.shop, 5002, 1)
    bed.sim.set_customer(e164_of(5002), call="confirm")
    hit = _crash_once(monkeypatch, jobs, "enqueue_history")
    _run_killed_then_again(bed, hit)
    assert audit(bed, [5002]).violations == []


def test_worker_killed_after_marking_an_attempt_unanswered_still_schedules_the_next(reliability_bed, monkeypatch):
    """No reply in time → attempt marked unanswered, then the worker died before attempt 2 was queued."""
    from ocbridge.integrations.cod_confirm import jobs, plan
    from ocbridge.integrations.cod_confirm.models import Confirmation

    bed = reliability_bed()
    plan.replace(bed.integration, plan.default_steps(bed.connection, ("sms", "sms", "sms")))
    add_orders(bed.shop, 5003, 1)
    bed.sim.set_customer(e164_of(5003), sms_reply=[None, "EVET"])
    real, hits = jobs.schedule_attempt, []

    def crash_on_second(c, number, **kw):
        if number == 2 and not hits:
            hits.append(number)
            raise Killed("schedule_attempt")
        return real(c, number, **kw)

    monkeypatch.setattr(jobs, "schedule_attempt", crash_on_second)
    _run_killed_then_again(bed, hits)
    assert Confirmation.objects.get(order_id=5003).state == "confirmed"
    assert audit(bed, [5003]).violations == []


# --- exactly once under stalls, lost answers and late results (issue 13) ----------------------------------
# In-process, so each interleaving happens exactly where it must; on SQLite here and on PostgreSQL in the nested
# session of test_scale_out.py (it selects this module). The chaos run above covers several worker processes.


def _settle(bed, rounds: int = 12, travel: float = 200) -> None:
    """Poll, run what is due, let webhooks arrive, move the clock; until nothing is left."""
    from ocbridge.core import clock
    from ocbridge.core.jobs import run_until_idle
    from ocbridge.core.polls import run_all as run_polls

    for _ in range(rounds):
        run_polls()
        run_until_idle()
        bed.sim.webhooks.flush()
        bed.sim.wait_idle(5)
        clock.travel(travel)


def _calls_per_key(bed) -> dict:
    from collections import Counter

    return Counter(c["idempotency_key"] for c in bed.sim.calls())


@pytest.mark.parametrize("wakes", ["after_the_takeover_ran", "before_the_takeover_ran"])
def test_a_worker_stalled_past_its_claim_never_calls_a_second_time(reliability_bed, monkeypatch, wakes):
    """A worker stalls (GC or VM pause) after its checks, its claim expires and another worker takes the job.
    Whichever wakes first, the customer gets one call: the stalled run's writes are fenced by its claim token."""
    from ocbridge.core import clock
    from ocbridge.core.jobs import claim, requeue_expired, run_job
    from ocbridge.integrations.cod_confirm import jobs
    from ocbridge.integrations.cod_confirm.models import Confirmation

    bed = reliability_bed()
    add_orders(bed.shop, 6001, 1)
    bed.sim.set_customer(e164_of(6001), call="confirm")
    real, stalled = jobs.StartAttempt._still_pending, []

    def stall(c):
        ok = real(c)
        if not stalled:
            from ocbridge.core.jobs import current_job

            job = current_job.get()
            stalled.append(job.pk)
            clock.travel(jobs.StartAttempt.claim_seconds + 5)  # the pause outlasts the claim; no heartbeat beats
            assert requeue_expired() >= 1
            if wakes == "after_the_takeover_ran":
                assert run_job(job.pk) is not None  # another worker runs it to the end: the call goes out
            else:
                assert claim(job.pk) is not None  # another worker has claimed it but not run it yet
        return ok

    monkeypatch.setattr(jobs.StartAttempt, "_still_pending", staticmethod(stall))
    _settle(bed)
    assert stalled, "the stall point was never reached"
    assert list(_calls_per_key(bed).values()) == [1]
    assert Confirmation.objects.get(order_id=6001).state == "confirmed"
    assert audit(bed, [6001]).violations == []


def test_a_gateway_502_after_the_provider_acted_is_not_resent_and_its_late_result_is_applied(reliability_bed):
    """The provider placed the call but a gateway answered 502 and the lookup failed too: the attempt is
    "unknown" (never resent), and the customer's key press, matched by the key the provider echoes, decides."""
    from ocbridge.core.models import SideEffect
    from ocbridge.integrations.cod_confirm.models import Attempt, Confirmation

    bed = reliability_bed()
    bed.sim.fail_next("502", path="/v1/calls", after=True)  # the call is placed, the answer lost
    bed.sim.fail_next("503", path="/v1/calls")  # and asking "did you get it?" fails as well
    add_orders(bed.shop, 6002, 1)
    bed.sim.set_customer(e164_of(6002), call="confirm")
    _settle(bed)
    assert list(_calls_per_key(bed).values()) == [1]
    attempt = Attempt.objects.get(confirmation__order_id=6002)
    effect = SideEffect.objects.get(key=attempt.key)
    assert "502" in effect.error  # it went through "unknown"…
    assert effect.state == "sent" and effect.provider_id == attempt.provider_id != ""  # …and the result named it
    assert Confirmation.objects.get(order_id=6002).state == "confirmed"
    assert audit(bed, [6002]).violations == []


def test_a_gateway_504_with_a_provider_that_can_be_asked_is_sent_once(reliability_bed):
    from ocbridge.integrations.cod_confirm.models import Confirmation

    bed = reliability_bed()
    bed.sim.fail_next("504", path="/v1/calls", after=True)
    add_orders(bed.shop, 6003, 1)
    bed.sim.set_customer(e164_of(6003), call="confirm")
    _settle(bed)
    assert list(_calls_per_key(bed).values()) == [1]
    assert Confirmation.objects.get(order_id=6003).state == "confirmed"


def test_a_late_no_answer_of_an_earlier_attempt_does_not_move_the_case_back(reliability_bed):
    """Attempt 1's "no answer" arrives while attempt 2 is ringing: attempt 2 alone decides; no attempt 3."""
    from ocbridge.core.jobs import run_until_idle
    from ocbridge.core.models import Job
    from ocbridge.integrations.cod_confirm.models import Attempt, Confirmation

    bed = reliability_bed()
    add_orders(bed.shop, 6004, 1)
    bed.sim.set_customer(e164_of(6004), call=["no_answer", "confirm"])
    bed.sim.set_webhook_behaviour(duplicate=1, delay=0)
    _settle(bed, rounds=20)
    c = Confirmation.objects.get(order_id=6004)
    assert c.state == "confirmed" and [a.number for a in c.attempts.all()] == [1, 2]
    first = Attempt.objects.get(confirmation=c, number=1)
    late = Job.objects.filter(kind="cod_confirm.apply_call_result",
                              payload__event__provider_id=first.provider_id).first()
    assert late is not None
    # The same "no answer" again, now late: nothing moves, no third attempt is queued.
    Job.objects.filter(pk=late.pk).update(state="queued", key=late.key + ":late", next_run_at=late.created)
    run_until_idle()
    c.refresh_from_db()
    assert c.state == "confirmed" and c.attempts.count() == 2
    assert not Job.objects.filter(key__endswith=":attempt:3").exists()


def _read_inbox() -> int:
    """One poll of the inbox at its next slot. Netgsm allows 10 inbox reads a minute: the client's limiter waits in
    real time, which a slot a minute later would have passed, so it starts full as it would then."""
    from ocbridge.core import ratelimit
    from ocbridge.core.polls import run_all as run_polls
    from ocbridge.integrations.cod_confirm import jobs

    ratelimit.reset()
    return run_polls(jobs.INBOX_POLL)


def _netgsm_sms_bed(reliability_bed, netgsm):
    from ocbridge.core.models import Connection
    from ocbridge.integrations.cod_confirm import plan

    bed = reliability_bed()
    conn = Connection.objects.create(store=bed.store, service="netgsm", base_url=netgsm.base_url,
                                     secret={"usercode": netgsm.usercode, "password": netgsm.password},
                                     options={"msgheader": "OCBRIDGE"})
    plan.replace(bed.integration, plan.default_steps(conn, ("sms",), (0,)))
    return bed


def test_an_inbox_read_then_a_crash_loses_no_reply(reliability_bed, monkeypatch):
    """Netgsm's inbox lists each message once. The worker read it and died before storing the replies: the next
    poll asks for the same time range again (the read's time was noted in the lease store), and every customer's
    "EVET" is applied once."""
    from ocbridge.core.jobs import run_until_idle
    from ocbridge.core.models import Job
    from ocbridge.core.polls import run_all as run_polls
    from ocbridge.integrations.cod_confirm import jobs
    from ocbridge.integrations.cod_confirm.models import Confirmation
    from ocbridge.simulators.netgsm import NetgsmSimulator

    with NetgsmSimulator(speed=1000) as netgsm:
        bed = _netgsm_sms_bed(reliability_bed, netgsm)
        ids = add_orders(bed.shop, 6010, 3)
        for oid in ids:
            netgsm.set_customer(e164_of(oid), sms_reply="EVET")
        run_polls()
        run_until_idle()
        assert len(netgsm.sms_messages()) == 3
        deadline = time.monotonic() + 10
        while len(netgsm.state()["inbox"]) < 3 and time.monotonic() < deadline:
            time.sleep(0.05)
        real, crashed = jobs.store_replies, []

        def crash(integration, connection, messages):
            if not crashed:
                crashed.append(len(messages))
                raise Killed("after the inbox read")
            return real(integration, connection, messages)

        monkeypatch.setattr(jobs, "store_replies", crash)
        with pytest.raises(Killed):
            _read_inbox()
        assert crashed == [3] and netgsm.state()["inbox"] and all(m["read"] for m in netgsm.state()["inbox"])
        assert not Job.objects.filter(kind="cod_confirm.apply_sms_reply").exists()
        _read_inbox()  # the next slot: a ranged read of the dead poll's time
        _read_inbox()  # and the one after it reads the inbox as usual
        reads = netgsm.requests("/sms/rest/v2/inbox")
        assert ["startdate" in r.query for r in reads[-3:]] == [False, True, False]
        run_until_idle()
        assert sorted(Confirmation.objects.filter(order_id__in=ids).values_list("state", flat=True)) == ["confirmed"] * 3
        assert Job.objects.filter(kind="cod_confirm.apply_sms_reply").count() == 3


def test_an_empty_inbox_writes_nothing_and_a_reply_is_applied_once(reliability_bed):
    """The inbox is a routine poll (core.polls), not a Job a minute per account: reads that find nothing write
    nothing to the hub; a reply that arrives is stored as one job and applied once."""
    from testkit import HubWrites

    from ocbridge.core import clock
    from ocbridge.core.jobs import run_until_idle
    from ocbridge.core.models import Exchange, Job
    from ocbridge.core.polls import run_all as run_polls
    from ocbridge.integrations.cod_confirm import jobs
    from ocbridge.integrations.cod_confirm.models import Confirmation
    from ocbridge.simulators.netgsm import NetgsmSimulator

    with NetgsmSimulator(speed=1000) as netgsm:
        bed = _netgsm_sms_bed(reliability_bed, netgsm)
        [oid] = add_orders(bed.shop, 6030, 1)
        netgsm.set_customer(e164_of(oid), sms_reply=None)  # silent until the test texts for them
        run_polls()
        run_until_idle()
        assert len(netgsm.sms_messages()) == 1
        asked = len(netgsm.requests("/sms/rest/v2/inbox"))
        made, logged = Job.objects.count(), Exchange.objects.count()
        for _ in range(3):
            clock.travel(60)
            with HubWrites() as w:
                assert _read_inbox() == 1
            assert w.sql == [], "\n".join(w.sql)
        assert (Job.objects.count(), Exchange.objects.count()) == (made, logged)
        assert len(netgsm.requests("/sms/rest/v2/inbox")) == asked + 3  # the inbox was read at each slot
        netgsm.inject_sms(e164_of(oid), "EVET")
        _read_inbox()
        _read_inbox()
        run_until_idle()
        assert Confirmation.objects.get(order_id=oid).state == "confirmed"
        assert Job.objects.filter(kind="cod_confirm.apply_sms_reply").count() == 1
        assert Exchange.objects.filter(purpose="netgsm.inbox").count() == 1  # the read that found it, raw copy kept


def test_an_inbox_job_queued_before_the_upgrade_reads_its_dead_runs_time_range_again(reliability_bed):
    """A hub upgraded while a ReadInbox job had read the inbox and died: the job, run now, hands its read time to
    the poll, whose ranged read finds the reply the dead run took out of the inbox."""
    from datetime import timedelta

    from ocbridge.core import clock, ratelimit
    from ocbridge.core.jobs import run_until_idle
    from ocbridge.core.models import Connection, Job
    from ocbridge.core.polls import run_all as run_polls
    from ocbridge.integrations.cod_confirm import jobs
    from ocbridge.integrations.cod_confirm.models import Confirmation
    from ocbridge.services.netgsm import NetgsmClient
    from ocbridge.simulators.netgsm import NetgsmSimulator

    with NetgsmSimulator(speed=1000) as netgsm:
        bed = _netgsm_sms_bed(reliability_bed, netgsm)
        conn = Connection.objects.get(store=bed.store, service="netgsm")
        [oid] = add_orders(bed.shop, 6040, 1)
        netgsm.set_customer(e164_of(oid), sms_reply=None)
        run_polls()
        run_until_idle()
        netgsm.inject_sms(e164_of(oid), "EVET")
        read_at = clock.now() - timedelta(seconds=5)
        ratelimit.reset()
        assert len(NetgsmClient(conn).fetch_inbound_sms()) == 1  # the dead run's read: the inbox is empty now
        Job.objects.enqueue(jobs.ReadInbox, key="read-inbox-before-the-upgrade", integration=bed.integration,
                            payload={"connection_id": conn.pk, "read_at": read_at.isoformat()})
        ratelimit.reset()
        run_until_idle()
        assert Confirmation.objects.get(order_id=oid).state == "confirmed"
        assert Job.objects.filter(kind="cod_confirm.apply_sms_reply").count() == 1


def test_switching_off_pauses_queued_calls_and_switching_on_resumes_them_once(reliability_bed):
    from ocbridge.core import outbox
    from ocbridge.core.jobs import run_until_idle
    from ocbridge.core.models import Connection, SideEffect
    from ocbridge.core.watchdog import run_watchdog
    from ocbridge.integrations.cod_confirm.models import Confirmation
    from ocbridge.core.polls import run_all as run_polls

    bed = reliability_bed()
    ids = add_orders(bed.shop, 6020, 3)
    for oid in ids:
        bed.sim.set_customer(e164_of(oid), call="confirm")
    run_polls()
    Connection.objects.filter(pk=bed.connection.pk).update(enabled=False)  # the owner spots a wrong text
    run_until_idle()
    assert bed.sim.calls() == []
    assert set(SideEffect.objects.values_list("state", flat=True)) == {"paused"}
    assert any("paused" in t.reason for t in Confirmation.objects.get(order_id=ids[0]).transitions.all())
    assert run_watchdog()["resumed"] == 0  # still off: nothing resumes
    Connection.objects.filter(pk=bed.connection.pk).update(enabled=True)
    assert outbox.resume_switched_on() == (3, 0)
    _settle(bed)
    assert sorted(_calls_per_key(bed).values()) == [1, 1, 1]
    assert set(Confirmation.objects.filter(order_id__in=ids).values_list("state", flat=True)) == {"confirmed"}


def test_calls_paused_past_their_calling_day_go_to_a_person_not_to_the_customer(reliability_bed):
    from ocbridge.core import clock, outbox
    from ocbridge.core.jobs import run_until_idle
    from ocbridge.core.models import Integration
    from ocbridge.integrations.cod_confirm.models import Confirmation
    from ocbridge.core.polls import run_all as run_polls

    bed = reliability_bed()
    add_orders(bed.shop, 6030, 1)
    run_polls()  # the poll: the order is taken on and its first call queued
    Integration.objects.filter(pk=bed.integration.pk).update(enabled=False)
    run_until_idle()
    clock.travel(2 * 86400)  # switched on again two days later
    Integration.objects.filter(pk=bed.integration.pk).update(enabled=True)
    assert outbox.resume_switched_on() == (0, 1)
    run_until_idle()
    c = Confirmation.objects.get(order_id=6030)
    assert c.state == "needs_person" and bed.sim.calls() == []


def test_the_watchdog_resumes_a_case_left_with_no_job_and_a_job_a_bug_parked(reliability_bed, monkeypatch):
    from ocbridge.core import clock
    from ocbridge.core.jobs import run_until_idle
    from ocbridge.core.models import Job, Store
    from ocbridge.core.watchdog import run_watchdog, stuck_count
    from ocbridge.integrations.cod_confirm import jobs
    from ocbridge.integrations.cod_confirm.models import Confirmation
    from ocbridge.core.polls import run_all as run_polls

    bed = reliability_bed()
    add_orders(bed.shop, 6040, 2)
    for oid in (6040, 6041):
        bed.sim.set_customer(e164_of(oid), call="confirm")
    real, bugs = jobs.start_attempt, []

    def buggy(c, *args, **kwargs):
        if c.order_id == 6041 and not bugs:
            bugs.append(c.order_id)
            raise ZeroDivisionError("a bug, once")
        return real(c, *args, **kwargs)

    monkeypatch.setattr(jobs, "start_attempt", buggy)
    run_polls()  # the poll queues both first attempts
    lost = Job.objects.get(kind="cod_confirm.start_attempt", payload__confirmation_id=Confirmation.objects.get(
        order_id=6040).pk)
    lost.delete()  # a job row lost (a restore from an older backup, a hand edit): the case has nothing driving it
    run_until_idle()
    assert Job.objects.filter(kind="cod_confirm.start_attempt", state="errored").count() == 1
    clock.travel(600)  # past the grace a live worker may need between two steps
    assert stuck_count(Store.objects.all()) == 2  # both have no live job; the errored one is re-queued first
    counts = run_watchdog()
    assert counts["errored_requeued"] == 1 and counts["cod_confirm.resumed"] == 1
    _settle(bed)
    assert set(Confirmation.objects.values_list("state", flat=True)) == {"confirmed"}
    assert sorted(_calls_per_key(bed).values()) == [1, 1]


def test_a_worker_process_paused_past_its_claim_writes_nothing_when_it_wakes(reliability_bed):
    """Real worker processes: one holds the attempt and is SIGSTOPped (no heartbeat either) past its claim; the
    other takes the job over and calls; the paused one wakes and must neither call nor write."""
    import sqlalchemy as sa

    from ocbridge.core import clock
    from ocbridge.core.models import Job
    from ocbridge.integrations.cod_confirm import plan
    from ocbridge.integrations.cod_confirm.models import Confirmation
    from reliability.harness import process_of

    bed = reliability_bed(workers=2, threads=2)
    plan.replace(bed.integration, plan.default_steps(bed.connection, ("call",), (10,)))  # due 10 minutes later
    add_orders(bed.shop, 6050, 1)
    bed.sim.set_customer(e164_of(6050), call="confirm")
    bed.pool.start()
    attempt_jobs = Job.objects.filter(kind="cod_confirm.start_attempt")
    bed.pool.wait_for(attempt_jobs.exists, "the order polled and its attempt queued")
    lock = bed.shop.engine.connect()
    try:
        # Hold the order table: the worker that takes the attempt blocks on its re-read of the order's status.
        lock.exec_driver_sql(f"LOCK TABLES {bed.shop.prefix}order WRITE")
        clock.travel(11 * 60)
        bed.pool.wait_for(attempt_jobs.filter(state="running").exists, "a worker running the attempt")
        holder = attempt_jobs.get().claimed_by
        slot = bed.pool.holders()[process_of(holder)]
        bed.pool.pause(slot)
    finally:
        lock.exec_driver_sql("UNLOCK TABLES")
        lock.close()
    try:
        clock.travel(130)  # past the paused worker's claim: the other worker takes the job over
        bed.pool.wait_for(lambda: Confirmation.objects.get(order_id=6050).state == "confirmed",
                          "the other worker taking the attempt over and the customer confirming")
    finally:
        bed.pool.unpause(slot)
    bed.pool.finish(slot)  # the woken worker ends its stalled run: fenced out, it writes and calls nothing
    job = attempt_jobs.get()
    assert job.state == "done" and job.attempts == 2 and job.claimed_by != holder
    assert list(_calls_per_key(bed).values()) == [1]
    assert Confirmation.objects.get(order_id=6050).state == "confirmed"
    assert audit(bed, [6050]).violations == []
