"""The crash controller: SIGKILLs worker processes at chosen points of the COD flow, many times, and restarts them.

Kill points (each counted):
- `holding_attempt`: a worker holding a running `start_attempt` job (before or while it asks the provider);
- `answer_held`: the provider did the call/SMS and holds its answer (`fail_next("timeout", after=True)`):
  the worker that made that request is killed — "after the request, before storing";
- `history_write`: the shop's order_history table is locked, the worker writing an outcome blocks after
  its compare-and-set UPDATE and before the history INSERT (MyISAM: no transaction) and is killed there;
- `random`: any worker, any moment.
Between kills, lost answers (`fail_next("reset", after=True)`: the provider acted, the answer never came).
"""

from __future__ import annotations

import threading
import time
import traceback
from collections import Counter

from reliability.harness import process_of

MODES = ("holding_attempt", "answer_held", "history_write", "random", "answer_lost")


def _wait(pred, timeout: float, interval: float = 0.02):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        value = pred()
        if value:
            return value
        time.sleep(interval)
    return None


class Chaos(threading.Thread):
    """Runs beside the workers until `kills` kills were made; `counts` says which points were hit."""

    def __init__(self, bed, kills: int, rng, pause: tuple[float, float] = (0.3, 1.2)):
        super().__init__(name="chaos", daemon=True)
        self.bed, self.kills, self.rng, self.pause = bed, kills, rng, pause
        self.counts: Counter = Counter()
        self.stop_event = threading.Event()
        self.error = ""

    def run(self) -> None:
        from django.db import connections

        try:
            modes: list[str] = []
            while self.counts["kills"] < self.kills and not self.stop_event.is_set():
                if not modes:  # every point in turn, in a shuffled order each round
                    modes = self.rng.sample(MODES, len(MODES))
                self.stop_event.wait(self.rng.uniform(*self.pause))
                getattr(self, "_" + modes.pop())()
        except Exception:  # shown by the test: a broken controller must not pass as a quiet run
            self.error = traceback.format_exc()
        finally:
            connections.close_all()

    # kill points -----------------------------------------------------------------------------------
    def _kill_holder(self, claimed_by: str, why: str) -> bool:
        slot = self.bed.pool.holders().get(process_of(claimed_by))
        if slot is None:
            return False
        self.bed.pool.kill(slot)
        self.counts["kills"] += 1
        self.counts[f"kill_{why}"] += 1
        return True

    def _running(self, kind: str) -> list[str]:
        from ocbridge.core.models import Job

        live = self.bed.pool.holders()
        return [h for h in Job.objects.filter(state="running", kind=kind).values_list("claimed_by", flat=True) if process_of(h) in live]

    def _random(self) -> None:
        slot = self.rng.randrange(self.bed.pool.count)
        self.bed.pool.kill(slot)
        self.counts["kills"] += 1
        self.counts["kill_random"] += 1

    def _holding_attempt(self) -> None:
        holders = _wait(lambda: self._running("cod_confirm.start_attempt"), 2.0)
        if holders:
            self._kill_holder(self.rng.choice(holders), "holding_attempt")

    def _answer_held(self) -> None:
        from ocbridge.core.models import Exchange

        sim = self.bed.sim
        path = self.rng.choice(["/v1/calls", "/v1/sms"])
        seen = len([r for r in sim.requests(path) if r.fault == "timeout"])
        sim.fail_next("timeout", path=path, after=True, seconds=4)
        held = _wait(lambda: [r for r in sim.requests(path) if r.fault == "timeout"][seen:], 3.0)
        if not held:
            sim.clear_faults()
            return
        req = held[0]
        key = (req.json() or {}).get("idempotency_key") if req.method == "POST" else None
        if not key:
            return  # a held status lookup: no kill, the worker just times out and retries
        ex = _wait(lambda: Exchange.objects.filter(key=key, outcome="pending").select_related("job").last(), 1.0)
        if ex is not None and ex.job is not None and ex.job.claimed_by:
            self._kill_holder(ex.job.claimed_by, "answer_held")

    def _history_write(self) -> None:
        shop = self.bed.shop
        with shop.engine.connect() as conn:
            conn.exec_driver_sql(f"LOCK TABLES `{shop.prefix}order_history` WRITE")
            try:
                holders = _wait(lambda: self._running("cod_confirm.write_outcome"), 3.0)
                if holders:
                    time.sleep(0.2)  # let it reach the blocked INSERT
                    self._kill_holder(self.rng.choice(holders), "history_write")
            finally:
                conn.exec_driver_sql("UNLOCK TABLES")

    def _answer_lost(self) -> None:
        self.bed.sim.fail_next("reset", path=self.rng.choice(["/v1/calls", "/v1/sms"]), after=True)
        self.counts["answers_lost"] += 1

