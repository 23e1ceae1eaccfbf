"""Reliability suites: the COD flow on a MariaDB shop, with real worker processes, the Sandbox simulator and chaos.

Fixture `reliability_bed(workers=2, threads=3)` → Bed (shop, sim, store, connection, integration, pool).
Runs on whatever hub database this session uses: SQLite by default; PostgreSQL + Redis in the nested
session that test_scale_out.py starts.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from reliability.harness import WorkerPool, hub_env
from ocbridge.core.models import Connection, Integration, Store
from ocbridge.integrations.cod_confirm.config import CodConfirmConfig
from ocbridge.simulators.sandbox import SandboxSimulator
from testkit import cod_integration

ALL_DAY = {d: ["00:00", "24:00"] for d in "0123456"}
SPEED = 1000  # simulated seconds per real second: a call takes ~20 ms, the provider's 5-min retry 0.3 s


@dataclass
class Bed:
    shop: object  # ShopHandle (tests/conftest_mariadb.py)
    sim: SandboxSimulator
    store: Store
    connection: Connection
    integration: Integration
    pool: WorkerPool
    hub: str  # "sqlite" or "postgresql"


@pytest.fixture
def reliability_bed(opencart_db, live_server, settings, tmp_path):
    """Factory: one shop, one Sandbox account, COD confirmation on (all day, cancel when attempts run out)."""
    from django.db import connection as hub_db
    from huey.contrib.djhuey import HUEY

    from ocbridge import opencart

    settings.PUBLIC_URL = live_server.url
    HUEY.flush()  # task ids left by earlier tests would only be no-ops, but they cost the workers time
    made: list[Bed] = []

    def make(workers: int = 2, threads: int = 3, version: str = "3.0") -> Bed:
        shop = opencart_db(version)
        sim = SandboxSimulator(speed=SPEED, seed=11, timeout_fault_seconds=2.0)
        sim.start()
        store = Store.objects.create(name="Reliability", db_url=shop.url, table_prefix=shop.prefix,
                                     timezone="Europe/Istanbul", country="TR")
        conn = Connection.objects.create(store=store, service="sandbox", base_url=sim.base_url,
                                         secret={"token": "sandbox-token", "webhook_secret": "sandbox-webhook-secret"})
        cfg = CodConfirmConfig(day_hours=ALL_DAY, on_exhausted="cancel")
        integration = cod_integration(store, conn, settings=cfg.to_settings())
        opencart.poll_new_orders(store)  # sets the watermark: only orders placed from now on are called
        pool = WorkerPool(hub_env(live_server.url), workers, tmp_path / "workers", threads=threads)
        bed = Bed(shop, sim, store, conn, integration, pool, hub_db.vendor)
        made.append(bed)
        return bed

    yield make
    for bed in made:
        bed.pool.stop()
        bed.sim.stop()
