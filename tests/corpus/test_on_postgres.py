"""The webhook-body and HTTP-envelope corpus again with PostgreSQL as the hub database: its text and jsonb
columns refuse NUL, which SQLite stores, so a NUL that reaches a row is a 500 there only.

pytest-django builds one test database per session, so the corpus runs in a nested pytest session pointed at a
throwaway server (ocbridge.testbed.postgres), as tests/reliability/test_scale_out.py does; skipped with the
package name where PostgreSQL is not installed.
"""

from pathlib import Path

from testkit import pytest_on_postgres

HERE = Path(__file__).resolve().parent


def test_webhook_corpus_on_postgres(postgres, tmp_path):
    pytest_on_postgres(postgres, tmp_path, "ocbridge_corpus",
                       [HERE / "test_webhook_bodies.py", HERE / "test_http_envelope.py"])
