"""Scale-out: the reliability suites again with PostgreSQL as the hub database and RedisHuey, several workers.

pytest-django builds one test database per session, so the suites run in a nested pytest session whose
environment points the hub at throwaway PostgreSQL and Redis servers started here (Debian packages
`postgresql` and `redis-server`; skipped with that name when missing). The nested session prints the same
counts; they are shown here.
"""

import os
import subprocess
from pathlib import Path

import pytest

from reliability.harness import FULL, INNER, SOAK
from testkit import PYTHON, ROOT

HERE = Path(__file__).resolve().parent
SIZES = [pytest.param("ci", id="ci"),
         pytest.param("full", id="full", marks=[pytest.mark.slow, pytest.mark.skipif(not SOAK, reason="full run: make soak")])]


@pytest.fixture(scope="module")
def pg_and_redis():
    if INNER:
        pytest.skip("already inside the PostgreSQL + Redis session")
    from ocbridge.testbed.postgres import PostgresServer, PostgresUnavailable
    from ocbridge.testbed.redis import RedisServer, RedisUnavailable

    try:
        pg = PostgresServer().start()
    except PostgresUnavailable as exc:
        pytest.skip(str(exc))
    try:
        redis = RedisServer().start()
    except RedisUnavailable as exc:
        pg.stop()
        pytest.skip(str(exc))
    yield pg, redis
    redis.stop()
    pg.stop()


@pytest.mark.parametrize("size", SIZES)
def test_reliability_suites_on_postgres_and_redis(pg_and_redis, size, tmp_path, capsys):
    pg, redis = pg_and_redis
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "OCBRIDGE_SOAK"))}
    env.update(OCBRIDGE_DATABASE_URL=pg.create_database(f"ocbridge_{size}"), OCBRIDGE_REDIS_URL=redis.url(),
               OCBRIDGE_RELIABILITY_INNER="1", OCBRIDGE_DATA_DIR=str(tmp_path / "data"))
    if size == "full":
        env["OCBRIDGE_SOAK"] = "1"
    # CI: the crash suite and the claim tests on PostgreSQL + Redis (the outage suite there runs in `make soak`).
    select = ["-m", "slow"] if size == "full" else ["-m", "not slow", "-k", "test_crash or test_claims"]
    # a hang guard only: each driven run inside fails on its own once it stops moving (harness.Patience); the
    # full session is three such runs (crash, outage, payments), each allowed its cap
    timeout = 3 * FULL.cap_seconds if size == "full" else 7200
    done = subprocess.run([PYTHON, "-m", "pytest", "-q", "-p", "no:cacheprovider", *select, str(HERE)],
                          env=env, cwd=ROOT, capture_output=True, text=True, timeout=timeout)
    report = [line for line in done.stdout.splitlines() if line.startswith(("==", "   "))]
    with capsys.disabled():
        print("\n" + "\n".join(report))
    assert done.returncode == 0, done.stdout[-8000:] + done.stderr[-3000:]
    assert "passed" in done.stdout.splitlines()[-1]
