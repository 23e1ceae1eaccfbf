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
    final = drive_to_completion(bed.sim, bed.pool, size.orders, size.timeout_seconds, busy=chaos.is_alive)
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
    from ocbridge.opencart.jobs import schedule_polls

    for _ in range(30):
        schedule_polls()
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
        schedule_polls()
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
