"""Wiring of the live demo: the demo shop (OpenCart 3.0 layout in SQLite), the sandbox provider, hub rows."""

from __future__ import annotations

import logging
import random
import secrets
import threading
from pathlib import Path

from django.contrib.auth import get_user_model

from ocbridge import opencart
from ocbridge.core.models import Connection, Integration, Store
from ocbridge.integrations.cod_confirm import plan
from ocbridge.integrations.cod_confirm.config import CodConfirmConfig
from ocbridge.opencart import seed
from ocbridge.simulators.sandbox import SandboxSimulator
from ocbridge.simulators.whatsapp import WhatsAppSimulator

log = logging.getLogger(__name__)
STORE_NAME = "Demo Mağaza"
TOKEN, WEBHOOK_SECRET = "demo-sandbox-token", "demo-sandbox-webhook-secret"
WA_TOKEN, WA_SECRET, WA_VERIFY = "demo-wa-token", "demo-wa-app-secret", "demo-wa-verify"
# How the simulated customers behave: mostly confirm, some cancel, some never answer.
CALL_ODDS = {"confirm": 0.55, "cancel_twice": 0.15, "no_answer": 0.2, "busy": 0.05, "agent": 0.05}
SMS_ODDS = {"EVET": 0.3, "evet": 0.15, "Evet teşekkürler": 0.1, "İptal": 0.1, "ıptal": 0.05, "да": 0.05,
            "ne zaman gelir?": 0.05, "null": 0.2}


class DemoSetup:
    """Creates what the demo needs once and reuses it on the next start (data dir persists)."""

    def __init__(self, *, data_dir: Path, port: int, speed: float, whatsapp: bool = False):
        self.data_dir = Path(data_dir)
        self.port = port
        self.upgraded: list[str] = []  # tables ensure_shop added to a demo shop made by an older ocbridge
        self.sim = SandboxSimulator(token=TOKEN, webhook_secret=WEBHOOK_SECRET, speed=speed,
                                    seed=random.randrange(1 << 30))
        # --whatsapp: the WhatsApp Cloud API simulator answers first, then the sandbox calls and texts.
        self.wa = WhatsAppSimulator(token=WA_TOKEN, app_secret=WA_SECRET, speed=speed, review_delay=30,
                                    reply_delay=40, seed=random.randrange(1 << 30)) if whatsapp else None

    def start_simulator(self) -> str:
        url = self.sim.start()
        self.sim.set_odds(call=CALL_ODDS, sms_reply=SMS_ODDS)
        self.sim.set_customer_defaults(answer_delay=20, reply_delay=40)
        if self.wa is not None:
            self.wa.start()
        return url

    def stop(self) -> None:
        self.sim.stop()
        if self.wa is not None:
            self.wa.stop()

    def ensure_shop(self, *, orders: int) -> str:
        path = self.data_dir / "demo-shop.sqlite3"
        url = f"sqlite:///{path}"
        if not path.exists():
            report = seed.seed(url, version="3.0", orders=orders)
            log.info("demo shop: %s", report.summary())
        else:  # made by an older ocbridge: add the tables it lacks, keep its orders
            self.upgraded = seed.upgrade_shop(url, version="3.0")
        return url

    def ensure_user(self) -> tuple[str, str]:
        """The dashboard login. The password is made once and kept in the data dir (not a known default)."""
        path = self.data_dir / "demo-password"
        if not path.exists():
            path.write_text(secrets.token_urlsafe(9))
            path.chmod(0o600)
        password = path.read_text().strip()
        user, _ = get_user_model().objects.get_or_create(username="admin", defaults={"is_staff": True,
                                                                                      "is_superuser": True})
        user.set_password(password)
        user.save()
        return "admin", password

    def ensure_store(self, shop_url: str, sim_url: str) -> Store:
        store = Store.objects.filter(name=STORE_NAME).first() or Store(name=STORE_NAME)
        store.db_url = shop_url
        store.timezone, store.country, store.language, store.currency = "Europe/Istanbul", "TR", "tr", "TRY"
        store.version = "3.0"
        store.save()
        conn = Connection.objects.filter(store=store, service="sandbox").first() or Connection(store=store,
                                                                                                service="sandbox")
        conn.name, conn.base_url = "Sandbox", sim_url
        conn.secret = {"token": TOKEN, "webhook_secret": WEBHOOK_SECRET}
        conn.save()
        cfg = CodConfirmConfig(day_hours={d: ["00:00", "24:00"] for d in "0123456"},  # the demo runs at any hour
                               cod_codes=["cod", "kapida_odeme"], return_shipping_cost=75)
        integration, created = Integration.objects.get_or_create(
            store=store, kind="cod_confirm", defaults={"settings": cfg.to_settings()})
        steps = plan.default_steps(conn, delays=(0, 2, 3), window=3)  # call, call 2 min later, SMS 3 min after
        if self.wa is not None:
            steps = [plan.Step("whatsapp", self.ensure_whatsapp(store), 0, 3)] + steps[1:]
        current = plan.steps(integration)
        if created or not current or any(s.channel == "whatsapp" for s in current) != (self.wa is not None):
            plan.replace(integration, steps)
        opencart.poll_new_orders(store)  # first poll sets the watermark: seeded history is not called
        return store

    def ensure_whatsapp(self, store: Store) -> Connection:
        """A WhatsApp connection to the simulator, its webhook pointed at the demo hub, templates approved."""
        from django.urls import reverse

        from ocbridge.integrations.cod_confirm import whatsapp

        conn = Connection.objects.filter(store=store, service="whatsapp").first() or Connection(store=store,
                                                                                                  service="whatsapp")
        conn.name, conn.base_url = "WhatsApp (simulated)", self.wa.base_url
        conn.secret = {"access_token": WA_TOKEN, "app_secret": WA_SECRET, "verify_token": WA_VERIFY}
        conn.options = {"phone_number_id": self.wa.phone_number_id, "waba_id": self.wa.waba_id}
        conn.save()
        self.wa.set_webhook_url(f"http://127.0.0.1:{self.port}" + reverse("webhook", kwargs={
            "service": "whatsapp", "token": conn.webhook_token, "hook": "events"}))
        from ocbridge.core.models import Binding

        Binding.objects.filter(connection=conn, kind=whatsapp.BINDING_KIND).delete()
        whatsapp.create_templates(conn, "demo")
        self.wa.approve_all()
        whatsapp.refresh_templates(conn)
        return conn

    def place_orders_forever(self, shop_url: str, every: float, stop: threading.Event) -> None:
        rng = random.Random()
        while not stop.wait(every):
            try:
                seed.place_order(shop_url, version="3.0", rng=rng)
            except Exception:  # the demo goes on; the error is printed
                log.exception("could not place a demo order")
