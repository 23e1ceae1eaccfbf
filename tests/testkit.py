"""Helpers shared by tests across packages (import as `from testkit import …`)."""

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


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
