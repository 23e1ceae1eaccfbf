"""The webhook-body and HTTP-envelope corpus again with PostgreSQL as the hub database: its text and jsonb
columns refuse NUL, which SQLite stores, so a NUL that reaches a row is a 500 there only.

pytest-django builds one test database per session, so the corpus runs in a nested pytest session pointed at a
throwaway server (ocbridge.testbed.postgres), as tests/reliability/test_scale_out.py does; skipped with the
package name where PostgreSQL is not installed.
"""

import os
import subprocess
from pathlib import Path

import pytest

from testkit import PYTHON, ROOT

HERE = Path(__file__).resolve().parent


@pytest.fixture(scope="module")
def postgres():
    from ocbridge.testbed.postgres import PostgresServer, PostgresUnavailable

    try:
        server = PostgresServer().start()
    except PostgresUnavailable as exc:
        pytest.skip(str(exc))
    yield server
    server.stop()


def test_webhook_corpus_on_postgres(postgres, tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    env.update(OCBRIDGE_DATABASE_URL=postgres.create_database("ocbridge_corpus"), OCBRIDGE_DATA_DIR=str(tmp_path / "data"))
    files = [str(HERE / "test_webhook_bodies.py"), str(HERE / "test_http_envelope.py")]
    done = subprocess.run([PYTHON, "-m", "pytest", "-q", "-p", "no:cacheprovider", *files], env=env, cwd=ROOT,
                          capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stdout[-8000:] + done.stderr[-3000:]
    assert "passed" in done.stdout.splitlines()[-1] and "failed" not in done.stdout.splitlines()[-1]
