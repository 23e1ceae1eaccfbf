"""Fixtures shared by the OpenCart tests."""

import pytest

from ocbridge.opencart import api
from ocbridge.simulators.opencart_api import OpenCartApiSimulator


@pytest.fixture
def api_simulator():
    """start(shop, version) → a started OpenCart API simulator over the shop's database, stopped after the test. The
    process's cached API sessions (opencart.api) are forgotten before and after: a loopback port can come round
    again, and a session of an earlier test's shop must not be sent to this one."""
    sims = []
    api.forget_sessions()

    def start(shop, version: str) -> OpenCartApiSimulator:
        sim = OpenCartApiSimulator(shop.url, version=version)
        sim.start()
        sims.append(sim)
        return sim

    yield start
    for sim in sims:
        sim.stop()
    api.forget_sessions()
