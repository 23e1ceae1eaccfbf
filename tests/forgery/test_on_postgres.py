"""The forgery suite again with PostgreSQL as the hub database (per-store scoping, proxies, signing secrets, the
hostile MySQL server, webhooks bound to their store): the same answers on both hubs."""

from pathlib import Path

from testkit import pytest_on_postgres

HERE = Path(__file__).resolve().parent


def test_forgery_suite_on_postgres(postgres, tmp_path):
    files = sorted(p for p in HERE.glob("test_*.py") if p.name != Path(__file__).name)
    pytest_on_postgres(postgres, tmp_path, "ocbridge_forgery", files)
