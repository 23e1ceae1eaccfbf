"""Job claiming under concurrency: N processes never run one job twice (SQLite here; PostgreSQL via test_scale_out).

The claim is one conditional UPDATE (`… WHERE state='queued' AND next_run_at <= now`). On PostgreSQL a
second UPDATE of the same row waits for the first to commit and then re-checks the WHERE clause against the
new row (READ COMMITTED), so it matches nothing: atomic without FOR UPDATE SKIP LOCKED, which would only
save the waiting.
"""

import json
import subprocess
import time

import pytest

from reliability.harness import WorkerPool, hub_env
from testkit import PYTHON, wait_until, worker_env

pytestmark = pytest.mark.django_db(transaction=True)

STORM = """
import json, os, sys, time
import django
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ocbridge.settings")
django.setup()
from ocbridge.core.jobs import claim
ids = json.loads(sys.argv[1])
go = sys.argv[2]
open(go + ".ready." + str(os.getpid()), "w").close()
while not os.path.exists(go):
    time.sleep(0.005)
won = []
for pk in ids:  # a breath between claims: on a busy machine one process must not finish before the others start
    if claim(pk) is not None:
        won.append(pk)
    time.sleep(0.002)
print(json.dumps(won))
"""


def test_processes_claiming_the_same_jobs_at_once_each_get_a_disjoint_share(tmp_path):
    from ocbridge.core.models import Job

    jobs = [Job.objects.create(kind="core.probe", key=f"storm-{i}", payload={}) for i in range(150)]
    ids = [j.pk for j in jobs]
    go = tmp_path / "go"
    env = worker_env()
    procs = [subprocess.Popen([PYTHON, "-c", STORM, json.dumps(ids if n % 2 else ids[::-1]), str(go)], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for n in range(6)]
    # every process must have imported Django before the start signal, or they would not compete
    wait_until(lambda: len(list(tmp_path.glob("go.ready.*"))) == len(procs), "every claiming process ready",
               died=lambda: "a process exited" if any(p.poll() is not None for p in procs) else "")
    go.touch()
    shares = []
    for p in procs:
        out, err = p.communicate(timeout=120)
        assert p.returncode == 0, err[-2000:]
        shares.append(json.loads(out.strip().splitlines()[-1]))
    claimed = [pk for share in shares for pk in share]
    assert sorted(claimed) == sorted(ids), "every job claimed exactly once"
    assert sum(1 for share in shares if share) >= 2, "the processes really competed"
    assert set(Job.objects.values_list("state", flat=True)) == {"running"}
    assert set(Job.objects.values_list("attempts", flat=True)) == {1}


def test_several_workers_run_each_of_many_jobs_exactly_once(tmp_path, live_server):
    """Workers get every job twice over (huey task on commit + dispatcher); each job's side effect happens once."""
    from django.db import connection

    from ocbridge.core.models import AuditEntry, Job

    count = 200
    probes = Job.objects.filter(kind="core.probe")  # the workers' schedules add a few jobs of their own
    workers = 3 if connection.vendor == "postgresql" else 2
    pool = WorkerPool(hub_env(live_server.url), workers, tmp_path / "workers", threads=4).start()
    try:
        for i in range(count):
            Job.objects.enqueue("core.probe", key=f"probe-many-{i}", payload={"seconds": 0.01})
        pool.wait_for(lambda: probes.filter(state="done").count() >= count, f"{count} probe jobs done")
    finally:
        pool.stop()
    runs = list(AuditEntry.objects.filter(action="worker.probe").values_list("object_id", flat=True))
    assert probes.filter(state="done").count() == count, pool.crashed_logs()
    assert len(runs) == count and len(set(runs)) == count, "a job ran twice"
    assert set(probes.values_list("attempts", flat=True)) == {1}
    holders = set(probes.values_list("claimed_by", flat=True))
    assert holders == {""}  # claims released on finish
