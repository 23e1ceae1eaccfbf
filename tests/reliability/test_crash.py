"""Crash suite: COD orders through two `ocbridge worker` processes that are SIGKILLed at chosen points, many times.

Afterwards: every order has exactly one outcome in OpenCart's history (or legitimately none), no
(order, attempt) was called or texted twice at the provider, no webhook answered 2xx was lost.
Sizes: CI (unmarked, ~60 orders) and full (`make soak`: 1,000 orders, 100 kills).
"""

import time

import pytest

from reliability.chaos import Chaos
from reliability.harness import (CI, FULL, SOAK, add_orders, audit, drive_to_completion, random_for,
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
