"""Benchmark: what an idle `ocbridge worker` costs, and how soon it takes a queued job, by OCBRIDGE_WORKER_MAX_DELAY.

An idle huey worker thread looks at its queue, sleeps, and sleeps longer each time it finds nothing (from 0.1 s,
×1.15) up to the consumer's `max_delay`: ocbridge ships 1 s, huey's default is 10 s. For each delay asked
(default 1 and 10), one run on a fresh, migrated hub (SQLite, as shipped on one machine; no stores, so only the
worker's own cost is measured — the routine polls have their own bench, bench/agency.py):
  (1) the worker's CPU (user + system, from /proc) over --seconds of idleness after a warm-up that lets the
      threads' sleeps reach their maximum, as a share of one core;
  (2) the latency of a queued job: a job handed to huey after the worker has been idle long enough for its
      threads' sleeps to reach the maximum (the first), then --jobs more each after --gap idle seconds, from
      the commit of its row to its run's end (a no-op housekeeping job: what is timed is the pick-up).
The queue looks read huey's own file (huey.sqlite3), never the hub's database; with Redis (RedisHuey) the threads
block on the queue and this delay only bounds their wait.

    .venv/bin/python bench/idle_worker.py [--delays 1 10] [--seconds 60] [--jobs 3] [--gap 15]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))
TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process so far (its threads included)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def setup_django(tmp: str) -> None:
    mod = Path(tmp) / "bench_idle_settings.py"
    mod.write_text(textwrap.dedent("""
        from ocbridge.settings import *  # noqa
        LOGGING = {"version": 1, "disable_existing_loggers": False, "root": {"level": "ERROR"}}
    """))
    sys.path.insert(0, tmp)
    os.environ["DJANGO_SETTINGS_MODULE"] = "bench_idle_settings"
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def pick_up(key: str) -> float:
    """Seconds from a no-op job's commit (handed to huey at once) to the end of its run by the worker."""
    from ocbridge.core import housekeeping
    from ocbridge.core.choices import JobState
    from ocbridge.core.models import Job

    t = time.perf_counter()
    job = Job.objects.enqueue(housekeeping.PruneOldRows, key=key)  # autocommit: handed to huey on commit
    while Job.objects.filter(pk=job.pk).values_list("state", flat=True).first() != JobState.DONE:
        time.sleep(0.005)
        if time.perf_counter() - t > 60:
            raise SystemExit(f"job {key} not run within a minute: is the worker running?")
    return time.perf_counter() - t


def run(delay: float, args, tmp: str) -> dict:
    import ocbridge.core.tasks  # noqa: F401  (hands a committed job to huey at once, as the hub does)

    env = {**os.environ, "OCBRIDGE_WORKER_MAX_DELAY": str(delay),
           "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), tmp, os.environ.get("PYTHONPATH", "")])}
    worker = subprocess.Popen([sys.executable, "-m", "ocbridge", "worker"], env=env, cwd=ROOT,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        warm = 15.0 + delay * 7  # the sleeps grow 0.1 s × 1.15ⁿ: about 7 × max_delay of idleness reaches it
        print(f"max_delay {delay:g} s: worker {worker.pid}, warming up {warm:.0f} s …", flush=True)
        time.sleep(warm)
        c0, t0 = cpu_seconds(worker.pid), time.perf_counter()
        time.sleep(args.seconds)
        cpu = (cpu_seconds(worker.pid) - c0) / (time.perf_counter() - t0)
        waits = [pick_up(f"bench:idle:{delay}:0")]
        for i in range(1, args.jobs + 1):
            time.sleep(args.gap)
            waits.append(pick_up(f"bench:idle:{delay}:{i}"))
    finally:
        worker.terminate()
        try:
            worker.wait(timeout=20)
        except subprocess.TimeoutExpired:
            worker.kill()
    return {"delay": delay, "cpu": cpu, "first": waits[0], "median": statistics.median(waits), "max": max(waits)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--delays", type=float, nargs="+", default=[1.0, 10.0])
    ap.add_argument("--seconds", type=float, default=60.0, help="idle time measured for CPU")
    ap.add_argument("--jobs", type=int, default=3, help="jobs timed after the first, each after --gap idle seconds")
    ap.add_argument("--gap", type=float, default=15.0)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="ocb-idle-") as tmp:
        os.environ["OCBRIDGE_DATA_DIR"] = tmp
        setup_django(tmp)
        rows = [run(d, args, tmp) for d in args.delays]
    print(f"\nIdle worker ({os.environ.get('OCBRIDGE_WORKERS', '4')} threads, SQLite queue), "
          f"CPU over {args.seconds:g} s idle; a job's pick-up (commit → run done), {args.jobs + 1} jobs:")
    for r in rows:
        print(f"  max_delay {r['delay']:>4g} s: CPU {r['cpu'] * 100:5.2f} % of a core   pick-up: first "
              f"{r['first'] * 1000:6.0f} ms, median {r['median'] * 1000:6.0f} ms, max {r['max'] * 1000:6.0f} ms")


if __name__ == "__main__":
    main()
