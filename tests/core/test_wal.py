"""The hub's SQLite log is checkpointed by the worker, not inside requests (core.wal): a committing web process
leaves the log alone well past SQLite's default 1,000 pages, a real worker copies it back within seconds, and a hub
with no worker still keeps the log bounded (settings.SQLITE_WAL_PAGES). Real SQLite files and real processes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest
from testkit import ROOT, WorkerProcess

PAGE = 4096


def _write(cursor, commits: int, size: int) -> None:
    for _ in range(commits):  # autocommit: one commit each, as a request's
        cursor.execute("INSERT INTO wal_probe (b) VALUES (randomblob(%s))", [size])


def _nice_of_threads(pid: int) -> dict[int, int]:
    """Each thread of process `pid` → its nice value (Linux keeps one per thread; field 19 of its stat)."""
    out = {}
    for task in os.listdir(f"/proc/{pid}/task"):
        with open(f"/proc/{pid}/task/{task}/stat") as f:
            out[int(task)] = int(f.read().rsplit(")", 1)[1].split()[16])
    return out


@pytest.mark.django_db(transaction=True)
def test_commits_leave_the_log_to_the_worker_which_copies_it_back(tmp_path):
    from django.conf import settings
    from django.db import connection

    db = connection.settings_dict["NAME"]
    assert settings.SQLITE_WAL_PAGES > 1000
    with connection.cursor() as cur:
        cur.execute("PRAGMA wal_autocheckpoint")
        assert cur.fetchone()[0] == settings.SQLITE_WAL_PAGES
        cur.execute("CREATE TABLE wal_probe (b BLOB)")
    try:
        with connection.cursor() as cur:
            cur.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            before = os.path.getsize(db)
            _write(cur, 60, 100_000)  # ~1,500 pages: SQLite's default would have checkpointed in a commit
        wal = os.path.getsize(db + "-wal")
        assert wal > 1200 * PAGE
        assert os.path.getsize(db) == before  # nothing copied back by the committing process
        with WorkerProcess(tmp_path / "worker.log") as worker:
            worker.wait_for(lambda: os.path.getsize(db) >= before + 5_000_000, "the worker never checkpointed the log")
            # The copy is background work: its thread runs 10 below the worker's priority, the worker's own threads not.
            nice = _nice_of_threads(worker.proc.pid)
            assert nice[worker.proc.pid] + 10 in nice.values() and nice[worker.proc.pid] < 19, nice
        with connection.cursor() as cur:
            cur.execute("PRAGMA wal_checkpoint(PASSIVE)")
            busy, in_log, copied = cur.fetchone()
        assert busy == 0 and in_log == copied  # everything in the log is in the database file
    finally:
        with connection.cursor() as cur:
            cur.execute("DROP TABLE wal_probe")


def test_without_a_worker_the_log_stops_at_the_configured_size(tmp_path):
    """No worker: a commit checkpoints once the log holds OCBRIDGE_SQLITE_WAL_PAGES pages, and the next one starts it
    over, so the log file never grows far past that."""
    script = textwrap.dedent("""
        import json, os, django
        django.setup()
        from django.db import connection
        db = connection.settings_dict["NAME"]
        sizes = []
        with connection.cursor() as cur:
            cur.execute("CREATE TABLE wal_probe (b BLOB)")
            for _ in range(150):
                cur.execute("INSERT INTO wal_probe (b) VALUES (randomblob(40000))")
                sizes.append(os.path.getsize(db + "-wal"))
        print(json.dumps({"wal_max": max(sizes), "db": os.path.getsize(db)}))
    """)
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "ocbridge.settings", "OCBRIDGE_DATA_DIR": str(tmp_path),
           "OCBRIDGE_DATABASE_URL": f"sqlite:///{tmp_path / 'hub.sqlite3'}", "OCBRIDGE_SQLITE_WAL_PAGES": "200",
           "PYTHONPATH": str(ROOT / "src")}
    out = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    got = json.loads(out.stdout.strip().splitlines()[-1])
    # 150 commits of ~10 pages: 1,500 pages written; the log never held much more than 200 of them
    assert got["wal_max"] < 260 * (PAGE + 24)
    assert got["db"] > 1_000 * PAGE  # the rest was copied into the database file
