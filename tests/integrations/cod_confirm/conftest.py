"""A COD-confirmation test bed: an OpenCart shop on MariaDB, the Sandbox simulator, the hub's live server."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
import sqlalchemy as sa

from ocbridge.core.models import Connection, Integration, Store
from ocbridge.integrations.cod_confirm.config import CodConfirmConfig
from ocbridge.simulators.sandbox import SandboxSimulator
import testkit
from testkit import cod_integration

ALL_DAY = {d: ["00:00", "24:00"] for d in "0123456"}
TIMELINE = r'<ol class="timeline".*?</ol>'  # the confirmation page's history


@dataclass
class Bed:
    shop: object  # ShopHandle
    sim: SandboxSimulator
    store: Store
    connection: Connection
    integration: Integration

    def configure(self, **settings) -> None:
        cfg = CodConfirmConfig.from_settings({**self.integration.settings, **settings})
        self.integration.settings = cfg.to_settings()
        self.integration.save()

    def order_status(self, order_id: int) -> int:
        with self.shop.engine.connect() as conn:
            return conn.execute(sa.text(f"SELECT order_status_id FROM {self.shop.prefix}order WHERE order_id = :o"),
                                {"o": order_id}).scalar()

    def history(self, order_id: int) -> list[tuple[int, str]]:
        with self.shop.engine.connect() as conn:
            return [tuple(r) for r in conn.execute(sa.text(
                f"SELECT order_status_id, comment FROM {self.shop.prefix}order_history WHERE order_id = :o "
                "ORDER BY order_history_id"), {"o": order_id})]

    def assert_confirmation_reads(self, confirmation, said: dict, part: str = TIMELINE) -> None:
        """Each reader finds `said[lang]` in the confirmation's page (`part` of it: the timeline unless told)."""
        from django.urls import reverse

        testkit.assert_page_reads(reverse("dashboard:confirmation", args=[confirmation.pk]), said, part)

    def run(self, rounds: int = 8) -> None:
        """Poll, run due jobs, let the simulator's webhooks arrive, run again — until quiet."""
        from ocbridge.core.polls import run_all as run_polls

        testkit.settle(self.sim, rounds, each_round=run_polls)


@pytest.fixture
def cod_bed(opencart_db, live_server, settings, request):
    """Factory: cod_bed(version="3.0", channels=…, delays=…, window=…, **cod settings) → Bed with an enabled
    cod_confirm integration whose channel plan goes through the one Sandbox connection."""
    settings.PUBLIC_URL = live_server.url
    sims: list[SandboxSimulator] = []

    def make(version: str = "3.0", channels=("call", "call", "sms"), delays=(0, 30, 90), window=15, **cfg) -> Bed:
        shop = opencart_db(version)
        sim = SandboxSimulator(speed=2000, seed=7)
        sim.start()
        sims.append(sim)
        store = Store.objects.create(name="Demo Mağaza", db_url=shop.url, table_prefix=shop.prefix,
                                     timezone="Europe/Istanbul", country="TR", order_prefix="")
        conn = Connection.objects.create(store=store, service="sandbox", base_url=sim.base_url,
                                         secret={"token": "sandbox-token", "webhook_secret": "sandbox-webhook-secret"})
        settings_ = CodConfirmConfig(day_hours=ALL_DAY).to_settings()
        settings_.update(cfg)
        integration = cod_integration(store, conn, settings=CodConfirmConfig.from_settings(settings_).to_settings(),
                                      channels=channels, delays=delays, window=window)
        from ocbridge import opencart

        opencart.poll_new_orders(store)  # the first poll only sets the watermark: older orders are not called
        return Bed(shop, sim, store, conn, integration)

    yield make
    for sim in sims:
        sim.stop()
