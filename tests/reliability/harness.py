"""The reliability test bed: a MariaDB shop, the Sandbox simulator, the live hub, real `ocbridge worker` processes.

Pieces the crash and outage suites share: `Sizes` (CI or full, chosen by OCBRIDGE_SOAK), `WorkerPool`
(start, SIGKILL, restart worker processes; which worker holds which Job), `drive_to_completion` (moves the
shared clock while nothing is due, until every confirmation is decided and every job finished) and `audit`
(the counts the issue asks for, and the list of violations).
"""

from __future__ import annotations

import os
import random
import signal
import socket
import subprocess
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import sqlalchemy as sa

from ocbridge.testbed.patience import Patience
from testkit import PYTHON, WORKER_DEADLINE, wait_until, worker_env

SOAK = os.environ.get("OCBRIDGE_SOAK") == "1"
# Set in the nested pytest session that runs these suites on PostgreSQL + Redis (see test_scale_out.py).
INNER = os.environ.get("OCBRIDGE_RELIABILITY_INNER") == "1"
PENDING = 1  # the shop's pending status (reference data); the COD integration's default start status
PHONE_BASE = 5320000000  # national significant number of order 0; each order gets its own customer


@dataclass(frozen=True)
class Sizes:
    """How big one run is: CI keeps under a minute or two on 2 cores, full is what `make soak` runs. A run fails
    as hung after `stall_seconds` without progress or `cap_seconds` in all (`Patience`)."""

    name: str
    orders: int
    kills: int
    workers: int
    threads: int
    shop_down_seconds: float
    hub_lock_seconds: float
    stall_seconds: float
    cap_seconds: float

    def patience(self) -> Patience:
        return Patience(self.stall_seconds, self.cap_seconds)


CI = Sizes("ci", orders=60, kills=6, workers=2, threads=3, shop_down_seconds=3, hub_lock_seconds=2,
           stall_seconds=120, cap_seconds=600)
FULL = Sizes("full", orders=1000, kills=100, workers=2, threads=4, shop_down_seconds=60, hub_lock_seconds=25,
             stall_seconds=600, cap_seconds=7200)


def worker_count(size: Sizes) -> int:
    """Scale-out (PostgreSQL + RedisHuey) runs one worker process more than the single-machine setup."""
    from django.db import connection

    return size.workers + (1 if connection.vendor == "postgresql" else 0)


def phone_of(order_id: int) -> str:
    return f"0{PHONE_BASE + order_id}"


def e164_of(order_id: int) -> str:
    return f"+90{PHONE_BASE + order_id}"


def worker_id(pid: int) -> str:
    """The process part of the claim mark a worker writes on its jobs (core.jobs.worker_id(): host:pid:thread)."""
    return f"{socket.gethostname()[:30]}:{pid}"


def process_of(claimed_by: str) -> str:
    """host:pid of a claim mark (its thread name dropped)."""
    return ":".join(claimed_by.split(":")[:2])


class WorkerPool:
    """`ocbridge worker` subprocesses sharing the test's hub database, huey queue and clock."""

    def __init__(self, env: dict, count: int, log_dir: Path, threads: int = 3):
        self.env = {**env, "OCBRIDGE_WORKERS": str(threads)}
        self.count = count
        self.log_dir = log_dir
        self.procs: list[subprocess.Popen | None] = [None] * count
        self.spawned = 0
        self.killed = 0

    def start(self) -> "WorkerPool":
        self.log_dir.mkdir(parents=True, exist_ok=True)
        for i in range(self.count):
            self._spawn(i)
        return self

    def _spawn(self, i: int) -> None:
        self.spawned += 1
        log = open(self.log_dir / f"worker{i}-{self.spawned}.log", "wb")
        self.procs[i] = subprocess.Popen([PYTHON, "-m", "ocbridge", "worker", "--tick", "0.2"], env=self.env,
                                         stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        log.close()

    def holders(self) -> dict[str, int]:
        """Claim mark → worker slot, for the live processes."""
        return {worker_id(p.pid): i for i, p in enumerate(self.procs) if p is not None and p.poll() is None}

    def kill(self, i: int, *, restart: bool = True) -> None:
        """SIGKILL: no cleanup, no finally blocks, claims left behind (what a power cut or OOM kill does)."""
        p = self.procs[i]
        if p is not None and p.poll() is None:
            os.kill(p.pid, signal.SIGKILL)
            p.wait()  # SIGKILL cannot be caught: the wait ends once the kernel has reaped it
            self.killed += 1
        if restart:
            self._spawn(i)

    def pause(self, i: int) -> None:
        """SIGSTOP: the whole process stops, heartbeat included (a VM or GC pause); SIGCONT resumes it."""
        os.kill(self.procs[i].pid, signal.SIGSTOP)

    def unpause(self, i: int) -> None:
        os.kill(self.procs[i].pid, signal.SIGCONT)

    def finish(self, i: int) -> None:
        """SIGINT, huey's graceful stop: the process exits once the job its threads are running has ended."""
        p = self.procs[i]
        p.send_signal(signal.SIGINT)
        wait_until(lambda: p.poll() is not None, f"worker {i} finishing its running job", log=self.crashed_logs)

    def wait_for(self, pred, what: str, deadline: float = WORKER_DEADLINE):
        """Poll `pred` until it holds (testkit.wait_until); fails early when every worker process has exited."""
        return wait_until(pred, what, deadline=deadline, log=self.crashed_logs,
                          died=lambda: "" if self.holders() else "no worker is running")

    def ensure_running(self) -> None:
        for i, p in enumerate(self.procs):
            if p is None or p.poll() is not None:
                self._spawn(i)

    def stop(self) -> None:
        for p in self.procs:
            if p is not None and p.poll() is None:
                p.terminate()
        for p in self.procs:
            if p is None:
                continue
            try:
                p.wait(15)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait(5)

    def crashed_logs(self) -> str:
        """Tracebacks the workers printed (for the failure message)."""
        out = []
        for path in sorted(self.log_dir.glob("worker*.log")):
            text = path.read_text(errors="replace")
            if "Traceback" in text:
                out.append(f"--- {path.name}\n{text[-3000:]}")
        return "\n".join(out[-5:])


def hub_env(live_url: str, **extra) -> dict:
    """Worker environment: the test's database and clock, and the live server as the public URL for webhooks."""
    return worker_env(OCBRIDGE_PUBLIC_URL=live_url, OCBRIDGE_LOG_LEVEL="ERROR", **extra)


def add_orders(shop, first: int, count: int) -> list[int]:
    """COD orders at the pending status, each with its own customer's phone number and, as checkout leaves
    it, a first order_history row at that status (the history writer's crash recovery relies on it)."""
    import datetime as dt

    from opencart.opencart_helpers import add_order
    from ocbridge.opencart.reference import complete_row

    ids = list(range(first, first + count))
    history = shop.t("order_history")
    for oid in ids:
        add_order(shop, oid, telephone=phone_of(oid))
    with shop.engine.begin() as conn:
        conn.execute(sa.insert(history), [complete_row(history, {
            "order_id": oid, "order_status_id": PENDING, "notify": 0, "comment": "",
            "date_added": dt.datetime(2024, 5, 1, 10)}) for oid in ids])
    return ids


# --- driving the run to its end -----------------------------------------------------------------------


def _state(live_holders: set[str]) -> dict:
    from ocbridge.core import clock
    from ocbridge.core.choices import JobState
    from ocbridge.core.models import Exchange, Job
    from ocbridge.integrations.cod_confirm.choices import ROBOT_DONE
    from ocbridge.integrations.cod_confirm.models import Confirmation

    now = clock.now()
    active = Job.objects.filter(state__in=[JobState.QUEUED, JobState.RUNNING])
    nxt = active.filter(state=JobState.QUEUED).order_by("next_run_at").values_list("next_run_at", flat=True).first()
    holders = [process_of(h) for h in active.filter(state=JobState.RUNNING).values_list("claimed_by", flat=True)]
    return {
        "confirmations": Confirmation.objects.count(),
        "open": Confirmation.objects.exclude(state__in=ROBOT_DONE).count(),
        "done": Job.objects.filter(state=JobState.DONE).count(),
        "active": active.count(),
        # webhooks answered and stored, whose jobs the dispatcher has not made yet (core.inbox): work on its way
        "stored": Exchange.objects.filter(pending_jobs__isnull=False).count(),
        "running_live": sum(1 for h in holders if h in live_holders),
        "running_dead": sum(1 for h in holders if h not in live_holders),
        "due": active.filter(state=JobState.QUEUED, next_run_at__lte=now).count(),
        "next_in": (nxt - now).total_seconds() if nxt else None,
    }


# Orders open with nothing queued or running for this long, while a worker's dispatcher is alive (four polls of a
# shop at the default 15 s), means work was lost. A worker still starting (a minute at load 25) does not count.
STUCK_SECONDS = 60.0
DISPATCHER_ALIVE = 15.0  # a dispatcher beats every 5 s (core.polls.REFRESH_SECONDS); three missed: none is running


def drive_to_completion(sim, pool: WorkerPool, expected: int, patience: Patience, *, settle: int = 5,
                        busy=lambda: False, hold_clock=lambda: False) -> dict:
    """Let the workers finish; when nothing is due, move the shared clock to the next due job.

    Time moves only while no job is due or running on a live worker and no webhook is on its way, so the
    test's own clock jumps never overtake work in progress; claims of killed workers are let expire.
    `busy()` true (a chaos or outage thread still at work) keeps the run from settling; `hold_clock()` true
    (an outage in progress) keeps time real, so retries are spaced as they would be in production.
    """
    from django.db import close_old_connections

    from ocbridge.core import clock
    from ocbridge.core.polls import dispatcher_seen

    quiet, stuck_since, moved, st, hung = 0, None, 0.0, {}, ""
    while not hung:
        if not busy():
            pool.ensure_running()
        close_old_connections()
        st = _state(set(pool.holders()))
        hung = patience.hung((st["confirmations"], st["open"], st["done"]))
        webhooks = sim.webhooks.pending()
        idle = st["active"] == 0 and st["stored"] == 0 and webhooks == 0
        if st["confirmations"] >= expected and st["open"] == 0 and idle and not busy():
            quiet += 1
            if quiet >= settle:
                st["clock_moved_s"] = round(moved)
                return st
        else:
            quiet = 0
        if idle and not busy() and (st["open"] or st["confirmations"] < expected):
            beat = dispatcher_seen()
            if beat is None or beat > DISPATCHER_ALIVE:
                stuck_since = None  # no worker is polling yet: nothing can have been lost
            stuck_since = stuck_since or time.monotonic()
            if time.monotonic() - stuck_since > STUCK_SECONDS:  # nothing left to run, yet orders are open: lost
                st["stuck"], st["clock_moved_s"] = True, round(moved)
                return st  # the audit says which
        else:
            stuck_since = None
        if st["due"] == 0 and st["stored"] == 0 and webhooks == 0 and st["running_live"] == 0 and not hold_clock():
            if st["running_dead"]:
                step = 125.0  # claims of killed workers: let them expire (claim_seconds is 120)
            elif st["next_in"] is not None:
                step = min(max(st["next_in"] + 1, 1), 1800)
            else:
                step = 0
            if step:
                clock.travel(step)
                moved += step
        time.sleep(0.15)
    raise AssertionError(f"run did not settle, {hung}: {st}, webhooks pending {sim.webhooks.pending()}\n"
                         f"{pool.crashed_logs()}")


# --- the audit ------------------------------------------------------------------------------------------


@dataclass
class Audit:
    """The counts the issue asks for, and every violation found (empty = the run kept its promises)."""

    counts: Counter = field(default_factory=Counter)
    states: Counter = field(default_factory=Counter)
    jobs: Counter = field(default_factory=Counter)
    levels: Counter = field(default_factory=Counter)
    violations: list[str] = field(default_factory=list)

    def fail(self, text: str) -> None:
        if len(self.violations) < 200:
            self.violations.append(text)
        self.counts["violations"] += 1

    def render(self, title: str, extra: dict | None = None) -> str:
        lines = [f"== {title}"]
        for name, counter in (("run", Counter(extra or {})), ("counts", self.counts), ("confirmations", self.states),
                              ("jobs", self.jobs), ("exchange levels", self.levels)):
            lines.append(f"   {name}: " + ", ".join(f"{k}={v}" for k, v in sorted(counter.items())))
        if self.violations:
            lines.append("   VIOLATIONS:\n     " + "\n     ".join(self.violations[:40]))
        return "\n".join(lines)


HISTORY_STATUS = {"confirmed": 2, "cancelled": 7, "expired": 7}
NO_HISTORY = {"needs_person", "failed"}  # decided by a person later, or refused by the provider: nothing written


def audit(bed, order_ids: list[int], *, may_fail: tuple[str, ...] = ()) -> Audit:
    """Exactly one outcome per order, no (order, attempt) sent twice, no 2xx-answered webhook lost."""
    from ocbridge.core.choices import Direction
    from ocbridge.core.models import Exchange, Job
    from ocbridge.integrations.cod_confirm.models import Attempt, Confirmation

    a = Audit()
    shop, prefix = bed.shop, bed.shop.prefix
    with shop.engine.connect() as conn:
        history = Counter()
        history_status: dict[int, set] = {}
        for oid, status in conn.execute(sa.text(f"SELECT order_id, order_status_id FROM {prefix}order_history "
                                                f"WHERE order_status_id <> {PENDING}")):  # outcomes, not checkout's row
            history[oid] += 1
            history_status.setdefault(oid, set()).add(status)
        status_of = dict(conn.execute(sa.text(f"SELECT order_id, order_status_id FROM {prefix}order")).all())

    # 1. every order has exactly one outcome (or legitimately none)
    confs = {c.order_id: c for c in Confirmation.objects.filter(store=bed.store)}
    a.counts["orders"] = len(order_ids)
    for oid in order_ids:
        c = confs.get(oid)
        if c is None:
            a.fail(f"order {oid}: no confirmation (lost)")
            continue
        a.states[c.state] += 1
        want = HISTORY_STATUS.get(c.state)
        if want is not None:
            if history[oid] != 1 or history_status.get(oid) != {want} or status_of.get(oid) != want:
                a.fail(f"order {oid} {c.state}: {history[oid]} history rows {history_status.get(oid)}, status {status_of.get(oid)}")
            else:
                a.counts["history_written_once"] += 1
        elif c.state in NO_HISTORY:
            if history[oid] or status_of.get(oid) != PENDING:
                a.fail(f"order {oid} {c.state}: {history[oid]} history rows, status {status_of.get(oid)}")
            a.counts["no_outcome_legitimately"] += 1
        else:
            a.fail(f"order {oid}: ended in {c.state!r} ({c.transitions.last().reason if c.transitions.exists() else ''})")
    a.counts["unknown_attempts"] = Attempt.objects.filter(confirmation__store=bed.store, state="unknown").count()

    # 2. no (order, attempt) called or texted twice at the provider
    calls, messages = bed.sim.calls(), bed.sim.messages()
    per_attempt = Counter()
    known = set(Attempt.objects.filter(confirmation__store=bed.store).values_list("key", flat=True))
    for res in calls + messages:
        key = res["idempotency_key"]
        parts = key.split(":")
        if key.endswith(":polite-reply"):
            a.counts["polite_replies"] += 1
            continue
        order, number = parts[2], parts[4]
        per_attempt[(order, number)] += 1
        if key not in known:
            a.fail(f"{key}: sent but no Attempt row in the hub")
    a.counts["calls_placed"], a.counts["sms_sent"] = len(calls), len(messages)
    for (order, number), n in per_attempt.items():
        if n != 1:
            a.fail(f"order {order} attempt {number}: {n} calls/SMS at the provider")
    by_phone = Counter(r["to"] for r in calls + messages if not r["idempotency_key"].endswith(":polite-reply"))
    a.counts["max_sends_per_phone"] = max(by_phone.values(), default=0)
    posts = Counter()
    for r in bed.sim.requests(method="POST"):
        if r.path in ("/v1/calls", "/v1/sms"):
            try:
                posts[r.json()["idempotency_key"]] += 1
            except (ValueError, KeyError, TypeError):
                pass
    a.counts["provider_posts"] = sum(posts.values())
    a.counts["provider_lookups"] = len([r for r in bed.sim.requests(method="GET") if r.arg("idempotency_key")])
    a.counts["posts_repeated_same_key"] = sum(n - 1 for n in posts.values() if n > 1)

    # 3. no webhook answered 2xx was lost: each such event has its job, and the job is done
    # the provider's event id ends the key ("<service>-event:<what>:<id>"); WhatsApp's status ids hold a ":"
    # themselves ("<service>-event:<wamid>:<status>"), so both readings are kept
    done_keys = {}
    for k, s in Job.objects.filter(key__contains="-event:").values_list("key", "state"):
        done_keys[k.rsplit(":", 1)[1]] = done_keys[k.split("-event:", 1)[1]] = s
    delivered = [w for w in bed.sim.sent_webhooks("webhook") if w.ok]
    a.counts["webhook_deliveries_2xx"] = len(delivered)
    a.counts["webhook_deliveries_failed"] = len([w for w in bed.sim.sent_webhooks("webhook") if not w.ok])
    events = set()
    for w in delivered:
        kind = (w.json() or {}).get("type", "")
        if kind in ("call.ringing", "call.answered"):
            continue  # progress pings: answered, nothing to do
        events.add(w.event_id)
    a.counts["webhook_events_2xx"] = len(events)
    for ev in sorted(events):
        state = done_keys.get(ev)
        if state != "done":
            a.fail(f"webhook event {ev} answered 2xx but its job is {state or 'missing'}")
    for ex in Exchange.objects.filter(direction=Direction.IN, status__gte=200, status__lt=300).exclude(event_id=""):
        for ev in ex.event_id.split(","):
            if done_keys.get(ev) != "done":
                a.fail(f"inbound exchange {ex.pk} ({ev}) answered {ex.status} but its job is {done_keys.get(ev)}")

    # 4. jobs and the log
    for state, n in Counter(Job.objects.values_list("state", flat=True)).items():
        a.jobs[state] = n
    for job in Job.objects.filter(state__in=["errored", "failed"]).exclude(state="failed", kind__in=may_fail)[:20]:
        a.fail(f"job {job.kind} {job.key} {job.state}: {job.last_error.strip().splitlines()[-1:] if job.last_error else ''}")
    for level, n in Counter(Exchange.objects.values_list("level", flat=True)).items():
        a.levels[level] = n

    # 5. routine polls (no Job rows): every one that failed meanwhile has recovered
    from ocbridge.core.models import PollHealth

    a.counts["polls_failed_meanwhile"] = PollHealth.objects.count()
    for row in PollHealth.objects.filter(failing_since__isnull=False):
        a.fail(f"poll {row.poll} {row.key} still failing: {row.last_error}")
    return a


def random_for(name: str) -> random.Random:
    """Seeded per suite (OCBRIDGE_SOAK_SEED overrides), so a failing run can be repeated."""
    return random.Random(f"{os.environ.get('OCBRIDGE_SOAK_SEED', '1')}:{name}")
