"""Test session wiring: data dir, shared clock, MariaDB plugin, helpers used across the suite."""

import os
import sys
from pathlib import Path

import pytest

pytest_plugins = ["conftest_mariadb"] if (Path(__file__).parent / "conftest_mariadb.py").exists() else []

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def _test_clock(settings):
    """Every test may move time; it starts at real time."""
    from ocbridge.core import clock

    settings.TEST_CLOCK = True
    clock.reset()
    yield
    clock.reset()


def worker_env(**extra) -> dict:
    """Environment for a worker/server subprocess that shares this test's database and clock."""
    from django.conf import settings
    from django.db import connection

    env = dict(os.environ)
    env["OCBRIDGE_DATA_DIR"] = str(settings.DATA_DIR)
    env["OCBRIDGE_TEST_CLOCK"] = "1"
    env["OCBRIDGE_SECRET_KEY"] = settings.SECRET_KEY
    db = connection.settings_dict
    if db["ENGINE"].endswith("sqlite3"):
        env["OCBRIDGE_DATABASE_URL"] = f"sqlite:///{db['NAME']}"
    else:
        env["OCBRIDGE_DATABASE_URL"] = f"postgres://{db['USER']}:{db['PASSWORD']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT / "src"), env.get("PYTHONPATH", "")])
    env.update(extra)
    return env


PYTHON = sys.executable
