"""Benchmark: an agency's shops on one hub — seen-lag against the poll interval, worker CPU and memory, hub writes
per idle poll, jobs per second, and the same with shops dead or slow.

N shop databases (OpenCart 2.3 / 3.0 / 4.0 layouts in turn) on throwaway MariaDB servers with their table and
file limits raised, plus `--big` shops of `--big-orders` orders kept between runs in `--big-dir` (built once,
reused: that build takes minutes). Every shop is a Store with COD confirmation on the Sandbox simulator; the hub
is served by gunicorn (2 workers) and worked by `ocbridge worker` processes, each instrumented to count its hub
database writes by table and its polls (with their duration).

Phases (each prints its figures):
  steady   COD orders at the agency's evening-peak rate (`--per-day` orders per shop a day, shops of very
           different sizes) for `--minutes`: order INSERT → seen by the hub (its Confirmation), p50/p99/max with
           the count against the poll interval; worker CPU and memory; jobs per second; poll duration, small vs big
           shops. Fewer shops than an agency's bring few orders in a few minutes: the orders then come faster, so
           that at least `--min-orders` are placed (printed with the factor; 200 by default on PostgreSQL).
  idle     once the orders before are worked off (no job due or running) and read back (every shop polled twice
           since: the hub's own status writes are shop changes, not idle polls), no orders for two poll intervals:
           hub writes per idle poll (target 0) over every routine poll, by table and by poll, and the shop polls'
           writes apart by whether the poll found anything in the shop: the shops' polls; the Netgsm inbox and balance polls of the `--netgsm` shops whose SMS step
           goes to a Netgsm account (simulator; in the bench's workers both run every poll interval instead of
           every minute and half hour, so the idle window sees each); and the checks of the outgoing syncs of the
           `--synced` shops that also send their stock and catalogue to Despatch Cloud, OneBox and Ozon.
  trouble  `--dead` shops whose server stops answering (SIGSTOP: connections hang) and `--slow` shops behind a
           proxy that holds each answer back `--slow-delay` s; the same order stream: seen-lag of the healthy
           shops must not grow.
  burst    `--burst` orders at once: jobs per second until the backlog is worked off (and over the busy window,
           first job done to last), CPU split by process group and the machine's total (the ceiling: 200 %).
With `--hub postgres` the hub runs on PostgreSQL + Redis and `--procs 1,2` repeats the burst with 1 and 2 worker
processes. Every phase ends with the audit: nothing missed, nothing doubled. The bench's waits (gunicorn's start, the
workers' first round, orders seen or decided, the idle phase's settling) end when what they wait for is done, and
give up only after `--stall-minutes` without progress or `--cap-minutes` in all (testbed.patience, as the
reliability tests): a slow run on a loaded machine is reported slow, not as missing orders.

    .venv/bin/python bench/agency.py [--shops 30] [--minutes 2] [--hub sqlite|postgres] [--procs 1,2]
    make soak (OCBRIDGE_SOAK=1) runs it at 1,000 shops through tests/reliability/test_agency.py
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

from benchkit import pct

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))
SOAK = os.environ.get("OCBRIDGE_SOAK") == "1"


def args_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--shops", type=int, default=1000 if SOAK else 30, help="small shops (empty but for new orders)")
    ap.add_argument("--servers", type=int, default=2 if SOAK else 1, help="MariaDB servers for the small shops")
    ap.add_argument("--big", type=int, default=2 if SOAK else 0, help="shops with --big-orders orders each")
    ap.add_argument("--big-orders", type=float, default=1e6)
    ap.add_argument("--big-dir", default=str(ROOT / "var" / "bench" / "big-shops"),
                    help="kept between runs: the big shops are built once")
    ap.add_argument("--shops-dir", default=str(ROOT / "var" / "bench" / "agency-shops"),
                    help="kept between runs: the small shops' servers (building 1,000 shops takes 15-25 min); '' for "
                         "throwaway servers")
    ap.add_argument("--per-day", type=float, default=40, help="orders per shop a day (average)")
    ap.add_argument("--hour", type=int, default=21, help="local hour whose rate is played (21 = evening peak)")
    ap.add_argument("--speed", type=float, default=1.0, help="orders come this many times faster than real")
    ap.add_argument("--min-orders", type=int, default=None,
                    help="the steady phase places at least this many orders (faster than the rhythm when it would "
                         "bring fewer; printed); default 200 with --hub postgres, else 0")
    ap.add_argument("--netgsm", type=int, default=10, help="shops whose SMS step goes to a Netgsm account "
                    "(simulator): their inbox and balance polls run beside the shops' polls")
    ap.add_argument("--minutes", type=float, default=10 if SOAK else 1.5, help="length of the steady and trouble phases")
    ap.add_argument("--interval", type=int, default=30, help="each store's poll interval in seconds (Store.poll_seconds)")
    ap.add_argument("--dead", type=int, default=10)
    ap.add_argument("--slow", type=int, default=10)
    ap.add_argument("--slow-delay", type=float, default=2.0)
    ap.add_argument("--burst", type=int, default=300)
    ap.add_argument("--hub", default="sqlite", choices=["sqlite", "postgres"])
    ap.add_argument("--procs", default="1", help="worker processes for the burst, e.g. 1,2 (postgres hub)")
    ap.add_argument("--threads", type=int, default=4, help="threads per worker process")
    ap.add_argument("--build-only", action="store_true",
                    help="build the kept shops (--shops-dir, --big-dir) and stop: a measurement later starts at once")
    ap.add_argument("--synced", type=int, default=2, help="shops that also sync stock and catalogue out to Despatch "
                    "Cloud, OneBox and Ozon (simulators; orders stay with COD)")
    ap.add_argument("--stall-minutes", type=float, default=5, help="a wait (gunicorn's start, the workers' first "
                    "round, orders seen or decided) gives up after this long without progress…")
    ap.add_argument("--cap-minutes", type=float, default=60, help="…or after this long in all (testbed.patience)")
    ap.add_argument("--worker-child", action="store_true", help=argparse.SUPPRESS)
    return ap


def patience():
    """How long a wait of the bench lasts on a loaded machine: until nothing moved for --stall-minutes, or
    --cap-minutes in all (set by main; fixed waits reported slow runs as missing orders)."""
    from ocbridge.testbed.patience import Patience

    return Patience(PATIENCE[0] * 60, PATIENCE[1] * 60)


PATIENCE = [5.0, 60.0]  # minutes: (without progress, in all)


def wait_for(progress, done, what: str) -> str:
    """Call `progress()` (what has happened so far) until `done(it)`; "" then, else why the wait gave up (printed:
    a figure after it counts what was there when the bench stopped waiting)."""
    guard = patience()
    while True:
        mark = progress()
        if done(mark):
            return ""
        why = guard.hung(mark)
        if why:
            print(f"  gave up waiting for {what}: {why} ({load()})", flush=True)
            return why
        time.sleep(0.5)


# --- the instrumented worker ----------------------------------------------------------------------------------


def worker_child() -> None:
    """`ocbridge worker`, counting its hub database writes by table and its polls; counts go to a JSON file."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ocbridge.settings")
    import django

    django.setup()
    import re

    from django.core.management import call_command
    from django.db.backends.signals import connection_created

    from ocbridge.opencart import feed

    out = Path(os.environ["AGENCY_COUNTS"]) / f"worker-{os.getpid()}.json"
    lock = threading.Lock()
    counts = {"writes": Counter(), "polls": 0, "poll_ms": [], "poll_ms_by_key": {}, "runs": Counter(),
              "poll_writes": Counter(), "found": 0, "found_writes": 0, "quiet_writes": 0, "quiet_samples": [],
              "upkeep_runs": 0, "upkeep_tables": 0}
    current = threading.local()  # the routine poll this thread runs (its writes are counted under its name)
    table = re.compile(r'^\s*(INSERT\s+INTO|UPDATE|DELETE\s+FROM|REPLACE\s+INTO)\s+"?(\w+)"?', re.I)

    def count_writes(execute, sql, params, many, context):
        m = table.match(sql)
        if m:  # by the polls' own threads (core.polls names them poll-…), apart from the jobs' work
            where = "poll" if threading.current_thread().name.startswith("poll") else "jobs"
            with lock:
                counts["writes"][f"{where}:{m.group(2)}"] += 1
                if where == "poll":
                    counts["poll_writes"][getattr(current, "name", None) or "?"] += 1
                    current.wrote = getattr(current, "wrote", []) + [m.group(2)]
        return execute(sql, params, many, context)

    def on_connect(sender, connection, **kwargs):
        if connection.alias == "default" and count_writes not in connection.execute_wrappers:
            connection.execute_wrappers.append(count_writes)

    connection_created.connect(on_connect, weak=False)
    real_poll = feed.poll_shop

    def poll_shop(key, *a, **kw):
        t = time.perf_counter()
        current.wrote, summary = [], None
        try:
            summary = real_poll(key, *a, **kw)
            return summary
        finally:
            ms = (time.perf_counter() - t) * 1000
            # What the poll found in the shop (new orders, order_history rows — the hub's own status writes read
            # back too): a poll that found something moves positions; one that found nothing must write nothing.
            found = bool(summary and (summary.new_orders or summary.events or summary.missed or summary.orders))
            with lock:
                counts["polls"] += 1
                counts["poll_ms"].append(ms)
                counts["poll_ms_by_key"].setdefault(key, []).append(ms)
                counts["found"] += found
                counts["found_writes" if found else "quiet_writes"] += len(current.wrote)
                if current.wrote and not found:
                    counts["quiet_samples"] = (counts["quiet_samples"] + [[key, current.wrote]])[-20:]

    feed.poll_shop = poll_shop
    from ocbridge.core import polls
    from ocbridge.integrations.cod_confirm import balances, jobs

    # The Netgsm inbox (every minute) and balance (every half hour) polls at the shops' interval, so that the idle
    # window sees each of them run (their targets() read these at each refresh).
    jobs.INBOX_EVERY = balances.EVERY = float(os.environ["AGENCY_INTERVAL"])
    real_run_once = polls.run_once

    def run_once(poll, target):  # every routine poll, by name (the scheduler looks run_once up at each call)
        current.name = poll.name
        try:
            return real_run_once(poll, target)
        finally:
            current.name = None
            with lock:
                counts["runs"][poll.name] += 1

    polls.run_once = run_once
    from ocbridge.core import jobs as core_jobs

    # The hub's statistics upkeep (core.upkeep: ANALYZE of the tables that changed a lot, a write of sqlite_stat1) at
    # the shops' interval instead of hourly, so the idle window sees it run: when nothing changed it analyzes nothing.
    upkeep = core_jobs._SCHEDULES["core.upkeep"]
    real_upkeep, upkeep.every = upkeep.fn, float(os.environ["AGENCY_INTERVAL"])

    def upkeep_counted():
        analyzed = real_upkeep()
        with lock:
            counts["upkeep_runs"] += 1
            counts["upkeep_tables"] += len(analyzed)
        return analyzed

    upkeep.fn = upkeep_counted

    def dump() -> None:
        while True:
            time.sleep(1)
            names = [t.name for t in threading.enumerate()]
            with lock:  # poll threads now (the lanes grow while polls wait for a thread)
                counts["poll_threads"] = sum(n.startswith("poll-") and n[5:].isdigit() for n in names)
                counts["slow_threads"] = sum(n.startswith("poll-slow-") for n in names)
                data = {**counts, "writes": dict(counts["writes"]), "runs": dict(counts["runs"]),
                        "poll_writes": dict(counts["poll_writes"])}
                text = json.dumps(data)
            tmp = out.with_suffix(".tmp")
            tmp.write_text(text)
            tmp.replace(out)

    threading.Thread(target=dump, daemon=True).start()
    call_command("ocbridge_worker", tick=0.5)


def read_counts(directory: Path, pids=None) -> dict:
    """Sum of every worker's counts so far (or of the workers `pids`)."""
    total = {"writes": Counter(), "polls": 0, "poll_ms": [], "poll_ms_by_key": {}, "runs": Counter(),
             "poll_writes": Counter(), "found": 0, "found_writes": 0, "quiet_writes": 0, "quiet_samples": [],
             "upkeep_runs": 0, "upkeep_tables": 0}
    paths = directory.glob("worker-*.json") if pids is None else [directory / f"worker-{p}.json" for p in pids]
    for path in paths:
        try:
            data = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        total["writes"].update(data["writes"])
        total["runs"].update(data.get("runs") or {})
        total["poll_writes"].update(data.get("poll_writes") or {})
        total["polls"] += data["polls"]
        for k in ("found", "found_writes", "quiet_writes", "upkeep_runs", "upkeep_tables"):
            total[k] += data.get(k, 0)
        total["quiet_samples"] += data.get("quiet_samples", [])
        total["threads"] = total.get("threads", "") + f" {data.get('poll_threads', '?')}+{data.get('slow_threads', '?')}"
        total["poll_ms"] += data["poll_ms"]
        for k, v in data["poll_ms_by_key"].items():
            total["poll_ms_by_key"].setdefault(k, []).extend(v)
    return total


class Processes:
    """gunicorn and the workers, each in its own process group (CPU and memory are read per group)."""

    def __init__(self, env: dict, port: int, counts_dir: Path, interval: float):
        self.env, self.port, self.counts_dir, self.interval = env, port, counts_dir, interval
        self.web: subprocess.Popen | None = None
        self.workers: list[subprocess.Popen] = []

    def start_web(self) -> None:
        from ocbridge.core.management.commands.ocbridge_serve import gunicorn_args  # as `ocbridge serve --production`

        self.web = subprocess.Popen([sys.executable, "-m", "gunicorn", *gunicorn_args(f"127.0.0.1:{self.port}", 2),
                                     "--log-level", "error"], env=self.env, start_new_session=True)
        import httpx

        def answers() -> bool | str:
            if self.web.poll() is not None:
                return f"exited with {self.web.returncode}"
            try:
                httpx.get(f"http://127.0.0.1:{self.port}/login/", timeout=5)
                return True
            except httpx.HTTPError:
                return False

        started = wait_for(answers, lambda up: up is not False, "gunicorn to answer")
        if started or answers() is not True:
            raise SystemExit(f"gunicorn did not come up: {started or answers()}")

    def start_workers(self, count: int, threads: int) -> None:
        env = {**self.env, "OCBRIDGE_WORKERS": str(threads), "OCBRIDGE_WORKER_PROCESSES": str(count),
               "AGENCY_COUNTS": str(self.counts_dir), "AGENCY_INTERVAL": str(self.interval)}
        for _ in range(count):
            self.workers.append(subprocess.Popen([sys.executable, __file__, "--worker-child"], env=env,
                                                 start_new_session=True, stdout=subprocess.DEVNULL))

    def stop_workers(self) -> None:
        for p in self.workers:
            p.terminate()
        for p in self.workers:
            try:
                p.wait(20)
            except subprocess.TimeoutExpired:
                p.kill()
        self.workers = []

    def stop(self) -> None:
        self.stop_workers()
        if self.web:
            self.web.terminate()
            self.web.wait(20)


class Usage:
    """CPU seconds and peak memory of process groups between start() and stop()."""

    def __init__(self, groups: dict[str, list[int]]):
        self.groups = groups
        self.start_cpu = {name: cpu for name, (cpu, _rss) in self.read().items()}
        self.start_machine = machine_cpu()
        self.peak_rss = Counter()
        self.t0 = time.monotonic()
        self.done = threading.Event()
        threading.Thread(target=self._sample, daemon=True).start()

    def read(self) -> dict[str, tuple[float, int]]:
        """CPU seconds and memory of each named set of process groups now."""
        from ocbridge.testbed.agency import groups_usage

        by_group = groups_usage({g for pgids in self.groups.values() for g in pgids})
        return {name: (sum(by_group[g][0] for g in pgids), sum(by_group[g][1] for g in pgids))
                for name, pgids in self.groups.items()}

    def _sample(self) -> None:
        while not self.done.wait(1):
            for name, (_cpu, rss) in self.read().items():
                self.peak_rss[name] = max(self.peak_rss[name], rss)

    def stop(self) -> str:
        self.done.set()
        took = time.monotonic() - self.t0
        parts, ours = [], 0.0
        now = self.read()
        for name in self.groups:
            cpu = now[name][0] - self.start_cpu[name]
            ours += cpu
            parts.append(f"{name} {cpu / took * 100:.0f}% CPU, {self.peak_rss[name] / 2**20:.0f} MB")
        busy, cores = (b - a for a, b in zip(self.start_machine, machine_cpu()))
        return ("; ".join(parts) + f"; together {ours / took * 100:.0f}% — the machine {busy / took * 100:.0f}% busy "
                f"of {cores / took * 100:.0f}% (over {took:.0f} s; {load()})")


def machine_cpu() -> tuple[float, float]:
    """CPU seconds the machine has been busy (all but idle and iowait) and CPU seconds elapsed (cores × time), from
    /proc/stat: how near the cores are to saturation, whoever used them."""
    with open("/proc/stat") as f:
        fields = [int(v) for v in f.readline().split()[1:9]]  # user nice system idle iowait irq softirq steal
    tick = os.sysconf("SC_CLK_TCK")
    total = sum(fields) / tick
    return total - (fields[3] + fields[4]) / tick, total


def load() -> str:
    """The machine's load average, printed beside each figure (other work on the machine moves them all)."""
    one, five, _ = os.getloadavg()
    return f"load average {one:.1f} (5 min {five:.1f})"


# --- phases ---------------------------------------------------------------------------------------------------


def lag_line(label: str, lags: list[float], missing: int, interval: float) -> str:
    if not lags:
        return f"  {label}: nothing seen ({missing} orders missing)"
    return (f"  {label}: {len(lags)} orders, insert → seen p50 {statistics.median(lags):.1f} s  p99 {pct(lags, 99):.1f} s"
            f"  max {max(lags):.1f} s  (poll interval {interval:g} s; target p99 < {interval + 1:g} s)"
            + (f"; NOT SEEN {missing}" if missing else ""))


def jobs_done_between(t0: float, t1: float) -> int:
    return _jobs_done(t0, t1).count()


def busy_window(t0: float, t1: float) -> float:
    """Seconds from the first job done after t0 to the last before t1: the jobs' own pace, without the wait for the
    shops' next poll at the start (a burst's orders are seen over one poll interval)."""
    from django.db.models import Max, Min

    got = _jobs_done(t0, t1).aggregate(first=Min("finished_at"), last=Max("finished_at"))
    return (got["last"] - got["first"]).total_seconds() if got["first"] else 0.0


def _jobs_done(t0: float, t1: float):
    from datetime import datetime, timezone

    from ocbridge.core.models import Job

    lo, hi = (datetime.fromtimestamp(t, timezone.utc) for t in (t0, t1))
    return Job.objects.filter(state="done", finished_at__gte=lo, finished_at__lt=hi).exclude(kind="opencart.poll_shop")


def wait_seen(shops, placed) -> None:
    """Until every order in `placed` is seen by the hub, or nothing more is seen for a while (`patience`)."""
    from ocbridge.testbed.agency import seen_lags

    wait_for(lambda: seen_lags(shops, placed)[1], lambda missing: missing == 0, f"{len(placed)} orders to be seen")


def warm_up(shops, counts_dir: Path, interval: float, workers) -> None:
    """Until the workers started last have polled every shop once (their first poll of a shop opens its pool, detects
    its layout and compiles its statements: the cold round, measured apart from the steady state)."""
    keys = {s.store.db_key for s in shops if not s.trouble}
    t0 = time.monotonic()
    polled = set()

    def progress() -> int:
        nonlocal polled
        polled = keys & set(read_counts(counts_dir, [p.pid for p in workers])["poll_ms_by_key"])
        return len(polled)

    wait_for(progress, lambda n: n == len(keys), "the workers' first round")
    print(f"  workers' first round (every shop polled once by them): {time.monotonic() - t0:.0f} s "
          f"({len(polled)} of {len(keys)} shops; {load()})", flush=True)
    time.sleep(interval)  # one steady round before the clock starts


def steady(args, label: str, shops, healthy, interval: float, groups, counts_dir) -> list:
    from ocbridge.testbed.agency import OrderStream, rate_per_second, seen_lags

    rhythm = rate_per_second(shops, args.per_day, args.hour)
    rate = rhythm * args.speed
    at_least = args.min_orders / (args.minutes * 60)
    faster = ""
    if rate < at_least:  # too few orders for a percentile: the same shops, busier
        rate = at_least
        faster = (f"; ×{rate / rhythm:.1f} that rhythm so that at least {args.min_orders} orders are placed (the "
                  f"evening peak of {len(shops) * rate / rhythm:,.0f} such shops)")
    print(f"\n[{label}] {rate * 3600:,.0f} orders an hour ({args.per_day:g} a shop a day at {args.hour}:00"
          f"{f', ×{args.speed:g}' if args.speed != 1 else ''}{faster}) for {args.minutes:g} min", flush=True)
    before = read_counts(counts_dir)
    usage = Usage(groups)
    t0 = time.time()
    stream = OrderStream(shops, rate, seed=len(label)).start()
    time.sleep(args.minutes * 60)
    while len(stream.placed) < args.min_orders and stream.thread.is_alive():  # a Poisson count can fall short
        time.sleep(0.2)
    placed = stream.stop()
    wait_seen(healthy, [p for p in placed if p[0] in {s.index for s in healthy}])
    t1 = time.time()
    cpu = usage.stop()
    ok = {s.index for s in healthy}
    lags, missing = seen_lags(shops, [p for p in placed if p[0] in ok])
    print(lag_line("healthy shops", lags, missing, interval))
    troubled = [p for p in placed if p[0] not in ok]
    if troubled:
        t_lags, t_missing = seen_lags(shops, troubled)
        print(lag_line("slow shops", t_lags, t_missing, interval))
    after = read_counts(counts_dir)
    polls = after["polls"] - before["polls"]
    times = after["poll_ms"][len(before["poll_ms"]):]
    print(f"  polls: {polls} ({polls / (t1 - t0):.1f}/s); poll duration p50 {statistics.median(times or [0]):.1f} ms"
          f" p99 {pct(times or [0], 99):.1f} ms; jobs done {jobs_done_between(t0, t1) / (t1 - t0):.1f}/s"
          f"; order errors {dict(stream.errors) or 0}; poll threads (healthy+slow lane) at the end:{after.get('threads', '')}"
          f"; {load()}")
    print(f"  {cpu}")
    return placed


def idle(interval: float, counts_dir: Path, expected=()) -> None:
    """Hub writes by the routine polls while no orders come: every poll the workers ran (the shops', the Netgsm
    inbox and balance polls, the outgoing syncs' checks, the watchdog…), by table and by poll. `expected`: polls that
    must have run (a figure that left them out would say nothing about them)."""
    print(f"\n[idle] no orders for {2 * interval + 5:g} s", flush=True)
    settle(counts_dir)
    before = read_counts(counts_dir)
    time.sleep(2 * interval + 5)
    after = read_counts(counts_dir)
    writes = after["writes"] - before["writes"]
    by_table = Counter({t.split(":", 1)[1]: n for t, n in writes.items() if t.startswith("poll:")})
    jobs = sum(n for t, n in writes.items() if t.startswith("jobs:"))
    total = sum(by_table.values())
    runs, by_name = after["runs"] - before["runs"], after["poll_writes"] - before["poll_writes"]
    count = sum(runs.values())
    print(f"  {count} routine polls, {total} hub database writes by them: {total / max(count, 1):.3f} writes per idle "
          f"poll (target 0){'; by table: ' + ', '.join(f'{t} {n}' for t, n in by_table.most_common(6)) if total else ''}"
          f"  (meanwhile {jobs} writes by jobs still working off the orders before)")
    found, quiet = after["found"] - before["found"], after["quiet_writes"] - before["quiet_writes"]
    samples = [s for s in after["quiet_samples"] if s not in before["quiet_samples"]]
    print(f"  shop polls that found something in the shop (orders, history rows): {found}, "
          f"{after['found_writes'] - before['found_writes']} writes by them; writes by shop polls that found nothing: "
          f"{quiet} (target 0){f' — {samples[:5]}' if quiet else ''}; the hub's statistics upkeep (core.upkeep) ran "
          f"{after['upkeep_runs'] - before['upkeep_runs']} times and analyzed {after['upkeep_tables'] - before['upkeep_tables']} "
          f"tables (target 0 when idle: each is a write of sqlite_stat1)")
    names = sorted(set(runs) | set(expected), key=lambda n: (-runs[n], n))
    print("  by poll (target 0 writes each): " + "; ".join(
        f"{name} {runs[name]} runs, {by_name[name]} writes" + (" — NOT RUN" if not runs[name] else "")
        for name in names))


def settle(counts_dir: Path) -> None:
    """Until the orders before are worked off (no job due or running) and every shop has been polled twice since —
    so the second poll began after the hub's last status write to its shop, and reads it back before the window: a
    write read back is the shop changing, not an idle poll. (A fixed wait of one poll interval let a decision written
    near its end be read back inside the window: 2 writes, a cursor and a shop position, over 2,294 polls.)"""
    from django.db.models import Q
    from django.utils import timezone

    from ocbridge.core.models import Job

    t0 = time.monotonic()
    busy = Job.objects.filter(Q(state="running") | Q(state="queued", next_run_at__lte=timezone.now()))
    wait_for(lambda: (busy.count(), Job.objects.filter(state="done").count()), lambda m: m[0] == 0,
             "the orders' jobs to finish")
    worked = time.monotonic() - t0
    base = {k: len(v) for k, v in read_counts(counts_dir)["poll_ms_by_key"].items()}

    def behind() -> int:
        now = read_counts(counts_dir)["poll_ms_by_key"]
        return sum(len(now.get(k, ())) - n < 2 for k, n in base.items())

    wait_for(behind, lambda n: n == 0, "every shop to be polled twice")
    print(f"  settled: jobs done {worked:.0f} s after the orders, every shop polled twice since "
          f"{time.monotonic() - t0 - worked:.0f} s later ({load()})", flush=True)


SYNC_CHECKS = ("despatch.stock", "onebox.catalog", "ozon.sync")  # core.polls names of the outgoing syncs' checks


def add_syncs(stores) -> list:
    """Stock and catalogue out to Despatch Cloud, OneBox and Ozon for `stores` (their simulators, started here;
    returned to be stopped). Orders are left to COD: DC takes none, OneBox's order flows and Ozon's reads are off."""
    from ocbridge.core.models import Connection, Integration
    from ocbridge.simulators.despatch import DespatchSimulator
    from ocbridge.simulators.onebox import OneBoxSimulator
    from ocbridge.simulators.ozon import OzonSimulator

    dc, ob, oz = DespatchSimulator(), OneBoxSimulator(), OzonSimulator()
    for sim in (dc, ob, oz):
        sim.start()
    off = {k: "off" for k in ("order", "history", "status", "contact", "contact_group")}
    for store in stores:
        for kind, sim, secret, settings in (
                ("despatch", dc, {"email": "api@shop.example", "password": "secret"},
                 {"ready_status_ids": [], "stock_direction": "shop_to_dc"}),
                ("onebox", ob, {"login": "api@box.example", "password": "api-pass"}, {"workflow_id": 1, "flows": off}),
                ("ozon", oz, {"client_id": "123456", "api_key": "00000000-0000-4000-8000-00000000a11e"},
                 {"warehouse_ids": [1020000000001], "currency": "TRY", "orders_in": False, "returns_in": False,
                  "sync_every_minutes": 1})):
            conn = Connection.objects.create(store=store, service=kind, base_url=sim.base_url, secret=secret)
            Integration.objects.create(store=store, kind=kind, connection=conn, settings=settings)
    return [dc, ob, oz]


def add_netgsm(stores):
    """A Netgsm account (its simulator, started here and returned to be stopped) for each of `stores`, taking their
    plan's SMS step (calls stay on the Sandbox): each account's inbox and balance are read by routine polls."""
    from ocbridge.core.models import Connection, Integration
    from ocbridge.integrations.cod_confirm import plan
    from ocbridge.simulators.netgsm import NetgsmSimulator

    sim = NetgsmSimulator()
    sim.start()
    for store in stores:
        conn = Connection.objects.create(store=store, service="netgsm", base_url=sim.base_url,
                                         secret={"usercode": sim.usercode, "password": sim.password},
                                         options={"msgheader": "OCBRIDGE"})
        integration = Integration.objects.get(store=store, kind="cod_confirm")
        plan.replace(integration, [plan.Step(s.channel, conn if s.channel == "sms" else s.connection, s.delay_minutes,
                                             s.window_minutes) for s in plan.steps(integration)])
    return sim


def poll_by_size(shops, big, counts_dir) -> None:
    if not big:
        return
    by_key = read_counts(counts_dir)["poll_ms_by_key"]
    small = [ms for s in shops if s not in big for ms in by_key.get(s.store.db_key, [])]
    for s in big:
        ms = by_key.get(s.store.db_key, [])
        if ms and small:
            print(f"  poll of {s.store.name}: p50 {statistics.median(ms):.1f} ms p99 {pct(ms, 99):.1f} ms "
                  f"(small shops: p50 {statistics.median(small):.1f} ms p99 {pct(small, 99):.1f} ms)")


def burst(args, shops, healthy, procs: Processes, count: int, groups_of, interval: float, counts_dir) -> list:
    from ocbridge.testbed.agency import place_burst, seen_lags

    print(f"\n[burst] {args.burst} orders at once, {count} worker process(es) × {args.threads} threads", flush=True)
    procs.start_workers(count, args.threads)
    warm_up(shops, counts_dir, interval, procs.workers)
    usage = Usage(groups_of())
    t0 = time.time()
    placed = place_burst(healthy, args.burst, random.Random(count))
    wait_decided(shops, placed)
    t1 = time.time()
    cpu = usage.stop()
    lags, missing = seen_lags(shops, placed)
    done, window = jobs_done_between(t0, t1), busy_window(t0, t1)
    print(f"  every order called and decided in {t1 - t0:.1f} s: {done} jobs ({done / len(placed):.1f} an order), "
          f"{done / (t1 - t0):.1f} jobs/s (polls not counted); {done / max(window, 0.001):.1f} jobs/s from the first "
          f"job done to the last ({window:.1f} s); orders seen p50 {statistics.median(lags or [0]):.1f} s, the last "
          f"after {max(lags or [0]):.1f} s{f', NOT SEEN {missing}' if missing else ''}; {load()}")
    print(f"  {cpu}")
    procs.stop_workers()
    return placed


def wait_decided(shops, placed) -> None:
    """Until every placed order's confirmation is decided (customers answer at once in the simulator), or nothing
    more is decided for a while (`patience`)."""
    from ocbridge.integrations.cod_confirm.choices import ROBOT_DONE
    from ocbridge.integrations.cod_confirm.models import Confirmation

    stores = {s.index: s.store.pk for s in shops}
    want = {(stores[i], oid) for i, oid, _ in placed}

    def decided() -> int:
        return len(want & set(Confirmation.objects.filter(
            store_id__in=list({s for s, _ in want}), state__in=ROBOT_DONE,
            order_id__in=[o for _, o in want]).values_list("store_id", "order_id")))

    wait_for(decided, lambda n: n == len(want), f"{len(want)} orders to be decided")


def big_shops(args, first: int):
    """Shops of --big-orders orders, built once into --big-dir and reused (the server keeps its data there)."""
    from ocbridge.opencart.seed import seed
    from ocbridge.testbed.agency import LAYOUTS, Shop, server_args
    from ocbridge.testbed.mariadb import MariaDBServer

    if not args.big:
        return None, []
    Path(args.big_dir).mkdir(parents=True, exist_ok=True)
    server = MariaDBServer(args.big_dir, extra_args=server_args(args.big)).start(timeout=120)
    out = []
    n = int(args.big_orders)
    for k in range(args.big):
        version = LAYOUTS[k % len(LAYOUTS)]
        name = f"big_{version.replace('.', '')}_{n}_{k}"
        conn = server.connect()
        with conn.cursor() as cur:
            have = cur.execute("SHOW DATABASES LIKE %s", (name,))
        conn.close()
        url = server.url(name)
        built = Path(args.big_dir) / f"{name}.built"  # written when its build ended: a build cut short is redone
        if not (have and built.exists()):
            print(f"Building {name} ({n:,} orders, OpenCart {version}; once, kept in {args.big_dir}) …", flush=True)
            conn = server.connect()
            with conn.cursor() as cur:
                cur.execute(f"DROP DATABASE IF EXISTS `{name}`")
                cur.execute(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4")
            conn.close()
            t = time.perf_counter()
            seed(url, version=version, orders=n)
            built.touch()
            print(f"  built in {time.perf_counter() - t:.0f} s", flush=True)
        out.append(Shop(first + k, version, url, url, weight=20))
    return server, out


def main() -> None:
    args = args_parser().parse_args()
    if args.worker_child:
        return worker_child()
    if args.min_orders is None:
        args.min_orders = 200 if args.hub == "postgres" else 0
    PATIENCE[:] = [args.stall_minutes, args.cap_minutes]
    for directory in (args.shops_dir, args.big_dir if args.big else ""):
        if directory:
            hold(directory)
    tmp = Path(tempfile.mkdtemp(prefix="ocb-agency-"))
    counts_dir = tmp / "counts"
    counts_dir.mkdir()
    port = 19000 + os.getpid() % 1000
    env = dict(os.environ, OCBRIDGE_DATA_DIR=str(tmp), OCBRIDGE_PUBLIC_URL=f"http://127.0.0.1:{port}",
               OCBRIDGE_LOG_LEVEL="ERROR", PYTHONPATH=os.pathsep.join([str(ROOT / "src"), str(ROOT / "bench")]),
               OCBRIDGE_SIMULATOR_HOSTS="127.0.0.1",  # the Sandbox simulator is a provider address we allow
               DJANGO_SETTINGS_MODULE="ocbridge.settings")
    hub_servers = []
    if args.hub == "postgres":
        from ocbridge.testbed.postgres import PostgresServer
        from ocbridge.testbed.redis import RedisServer

        pg, redis = PostgresServer().start(), RedisServer().start()
        hub_servers = [pg, redis]
        env.update(OCBRIDGE_DATABASE_URL=pg.create_database("agency"), OCBRIDGE_REDIS_URL=redis.url())
    os.environ.update(env)
    import django

    django.setup()
    from django.core.management import call_command

    from ocbridge.simulators.sandbox import SandboxSimulator
    from ocbridge.testbed.agency import SlowProxy, add_stores, audit, create_shops, start_servers

    call_command("migrate", verbosity=0)
    servers, procs, proxies, sim, big_server, sync_sims = [], None, [], None, None, []
    try:
        t = time.perf_counter()
        kept = args.shops_dir or None
        servers = start_servers(args.servers, args.shops, kept)
        shops = create_shops(servers, args.shops, reuse=bool(kept),
                             progress=lambda d, n: print(f"  shops {d}/{n}", end="\r", flush=True))
        # Troubled shops on servers of their own: one that stops answering, one read through a slow proxy.
        dead_server = start_servers(1, args.dead, kept, name="dead")[0] if args.dead else None
        slow_server = start_servers(1, args.slow, kept, name="slow")[0] if args.slow else None
        servers += [s for s in (dead_server, slow_server) if s]
        dead = create_shops([dead_server], args.dead, first=len(shops), reuse=bool(kept)) if args.dead else []
        slow = create_shops([slow_server], args.slow, first=len(shops) + len(dead), reuse=bool(kept)) if args.slow else []
        for s in dead:
            s.trouble = "dead"
        for s in slow:  # the hub reads them through a proxy; orders are placed straight into the server
            proxy = SlowProxy(slow_server.port)
            proxies.append(proxy)
            s.url, s.trouble = proxy.url(s.direct_url), "slow"
        shops += dead + slow
        big_server, big = big_shops(args, len(shops))
        shops += big
        print(f"\n{len(shops)} shops ({Counter(s.version for s in shops)}) on {len(servers) + bool(big_server)} "
              f"MariaDB servers, built in {time.perf_counter() - t:.0f} s", flush=True)
        if args.build_only:
            return
        sim = SandboxSimulator(webhook_secret="agency-secret", speed=1000, seed=5)
        sim.start()
        sim.set_odds(call={"confirm": 0.7, "cancel_twice": 0.3})
        t = time.perf_counter()
        add_stores(shops, sim, progress=lambda d, n: print(f"  stores {d}/{n}", end="\r", flush=True))
        from ocbridge.core.models import Store

        Store.objects.update(poll_seconds=args.interval)
        sync_sims = add_syncs([s.store for s in shops if not s.trouble][:args.synced]) if args.synced else []
        if args.netgsm:
            sync_sims.append(add_netgsm([s.store for s in shops if not s.trouble][-args.netgsm:]))
        print(f"\n  {len(shops)} stores set up in {time.perf_counter() - t:.0f} s", flush=True)
        interval = poll_interval()
        procs = Processes(env, port, counts_dir, interval)
        procs.start_web()
        procs.start_workers(1, args.threads)
        warm_up(shops, counts_dir, interval, procs.workers)

        def groups():
            g = {"worker": [p.pid for p in procs.workers], "web": [procs.web.pid],
                 "mariadb": [s.proc.pid for s in servers + ([big_server] if big_server else [])],
                 "bench (orders, simulator)": [os.getpgid(0)]}
            for s in hub_servers:
                g[s.program] = [s.proc.pid]
            return g

        healthy = [s for s in shops if not s.trouble]
        placed = steady(args, "steady", shops, shops, interval, groups(), counts_dir)
        poll_by_size(shops, big, counts_dir)
        from ocbridge.integrations.cod_confirm import balances, jobs

        idle(interval, counts_dir, expected=(SYNC_CHECKS if args.synced else ())
             + ((jobs.INBOX_POLL, balances.POLL) if args.netgsm else ()))
        if dead or slow:
            for proxy in proxies:
                proxy.delay = args.slow_delay
            if dead_server:
                dead_server.pause()
            placed += steady(args, f"trouble: {args.dead} dead, {args.slow} slow ({args.slow_delay:g} s a reply)",
                             shops, healthy, interval, groups(), counts_dir)
            if dead_server:
                dead_server.resume()
            for proxy in proxies:
                proxy.delay = 0
        procs.stop_workers()
        for count in [int(c) for c in args.procs.split(",")] if args.burst else []:
            placed += burst(args, shops, healthy, procs, count, groups, interval, counts_dir)
        procs.start_workers(1, args.threads)
        wait_seen(shops, placed)
        result = audit(shops, placed, sim)
        print(f"\n[audit] {result['placed']} orders placed: missed {result['missed']}, seen twice {result['doubled']}, "
              f"unexpected {result['unexpected']} {result['unexpected_sample'] or ''}; {result['sends']} calls/SMS, attempts sent twice "
              f"{result['sent_twice']}; states {dict(result['states'])}")
    finally:
        if procs:
            procs.stop()
        if sim:
            sim.stop()
        for s in sync_sims:
            s.stop()
        for p in proxies:
            p.close()
        for s in servers + hub_servers:
            s.stop()  # a server in a kept directory keeps its data
        if big_server:
            big_server.stop(remove=False)


def hold(directory: str) -> None:
    """One bench at a time on a kept directory: two servers on one data directory would corrupt it."""
    import fcntl

    Path(directory).mkdir(parents=True, exist_ok=True)
    fd = os.open(Path(directory) / ".lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        raise SystemExit(f"{directory} is in use by another agency bench (pass another directory)") from None
    _held.append(fd)  # the lock lasts as long as this process


_held: list[int] = []


def poll_interval() -> float:
    """The poll interval the hub uses for these stores (Store.poll_seconds: the shortest set, else its default)."""
    from ocbridge.core.models import Store

    default = Store._meta.get_field("poll_seconds").default
    return float(min(Store.objects.values_list("poll_seconds", flat=True).distinct(), default=default))


if __name__ == "__main__":
    main()
