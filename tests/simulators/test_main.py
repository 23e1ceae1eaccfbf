"""`python -m ocbridge.simulators`: standalone process, driven through the /_sim/ control API."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from ocbridge.simulators import SIMULATORS, load
from ocbridge.simulators.base import RemoteSimulator

SRC = Path(__file__).resolve().parents[2] / "src"


@pytest.mark.parametrize("name", sorted(SIMULATORS))
def test_every_registered_simulator_loads(name):
    assert load(name).name == name


def test_standalone_process_prints_url_and_obeys_control_api():
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    proc = subprocess.Popen([sys.executable, "-m", "ocbridge.simulators", "sandbox", "--speed", "50", "--seed", "3",
                             "-o", "token=demo-token"], stdout=subprocess.PIPE, env=env, text=True)
    try:
        line = json.loads(proc.stdout.readline())
        assert line["simulator"] == "sandbox"
        remote = RemoteSimulator(line["base_url"])
        assert remote.health() == {"simulator": "sandbox", "base_url": line["base_url"], "speed": 50.0, "seed": 3}
        remote.fail_next(kind="503", path="/v1/sms")
        resp = httpx.post(f"{line['base_url']}/v1/sms", json={}, headers={"Authorization": "Bearer demo-token"})
        assert resp.status_code == 503
        resp = httpx.post(f"{line['base_url']}/v1/sms", json={}, headers={"Authorization": "Bearer demo-token"})
        assert resp.status_code == 422  # token option reached the constructor
    finally:
        proc.terminate()
        proc.wait(timeout=5)
