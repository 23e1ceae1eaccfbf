"""Test session wiring: data dir, shared clock, MariaDB plugin, helpers used across the suite."""

from pathlib import Path

import pytest

pytest_plugins = ["conftest_mariadb"] if (Path(__file__).parent / "conftest_mariadb.py").exists() else []


@pytest.fixture(autouse=True)
def _test_clock(settings):
    """Every test may move time; it starts at real time."""
    from ocbridge.core import clock

    settings.TEST_CLOCK = True
    clock.reset()
    yield
    clock.reset()
