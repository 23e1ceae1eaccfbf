"""`ocbridge demo` (what `make demo` runs): a demo shop, the sandbox provider, the worker and the dashboard.

Everything is embedded and on loopback: an OpenCart 3.0 shop in SQLite with a few hundred seeded orders,
the sandbox simulator playing the customers, a worker process, the web server, and a thread that places a
new cash-on-delivery order every few seconds so calls and confirmations can be watched live. Ctrl-C stops
all of it.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError


class Command(BaseCommand):
    help = "Run the live demo: demo shop, sandbox provider, worker and dashboard."

    def add_arguments(self, parser):
        parser.add_argument("--port", type=int, default=8000, help="port of the dashboard on 127.0.0.1 (default 8000)")
        parser.add_argument("--orders", type=int, default=300, help="orders seeded into a new demo shop")
        parser.add_argument("--every", type=float, default=6.0, help="seconds between new live orders")
        parser.add_argument("--speed", type=float, default=20.0, help="sandbox customers' time acceleration")
        parser.add_argument("--whatsapp", action="store_true",
                            help="ask first by WhatsApp (the Cloud API simulator), then call and text")

    def handle(self, *args, port, orders, every, speed, whatsapp=False, **opts):
        from ocbridge.demo import guard

        data = Path(settings.DATA_DIR)
        try:
            guard.check(data, port)  # before anything is migrated, started or re-pointed
        except guard.DemoBlocked as exc:
            raise CommandError(str(exc)) from None
        guard.claim(data, port)
        try:
            self._run(data, port, orders, every, speed, whatsapp)
        finally:
            guard.release(data)

    def _run(self, data: Path, port: int, orders: int, every: float, speed: float, whatsapp: bool = False) -> None:
        from ocbridge.demo.setup import DemoSetup

        signal.signal(signal.SIGTERM, _interrupt)  # `kill` stops the demo as cleanly as Ctrl-C
        call_command("migrate", verbosity=0, interactive=False)
        demo = DemoSetup(data_dir=data, port=port, speed=speed, whatsapp=whatsapp)
        sim_url = demo.start_simulator()
        shop_url = demo.ensure_shop(orders=orders)
        if demo.upgraded:
            self.stdout.write(f"The demo shop in {data} was made by an older ocbridge: added the tables it lacked "
                              f"({', '.join(demo.upgraded)}); its orders and customers are kept.")
        login, password = demo.ensure_user()
        demo.ensure_store(shop_url, sim_url)

        # the demo's shop and simulators live on loopback: the administrator's allowance (core.outbound)
        env = dict(os.environ, OCBRIDGE_DATA_DIR=str(data), OCBRIDGE_PUBLIC_URL=f"http://127.0.0.1:{port}",
                   OCBRIDGE_SIMULATOR_HOSTS="127.0.0.1")
        procs = [
            subprocess.Popen([sys.executable, "-m", "ocbridge", "worker", "--tick", "0.5"], env=env),
            subprocess.Popen([sys.executable, "-m", "ocbridge", "serve", "--bind", f"127.0.0.1:{port}"], env=env),
        ]
        stop = threading.Event()
        placer = threading.Thread(target=demo.place_orders_forever, args=(shop_url, every, stop), daemon=True)
        placer.start()
        self.stdout.write(self.style.SUCCESS(
            f"\nocbridge demo is running: http://127.0.0.1:{port}/\n  login: {login}\n  password: {password}\n"
            f"A new cash-on-delivery order arrives every {every:g} s; the sandbox customers answer by phone and SMS.\n"
            "Press Ctrl-C to stop.\n"))
        try:
            while all(p.poll() is None for p in procs):
                time.sleep(0.5)
        except KeyboardInterrupt:
            pass
        finally:
            stop.set()
            for p in procs:
                if p.poll() is None:
                    p.send_signal(signal.SIGINT)
            for p in procs:
                try:
                    p.wait(10)
                except subprocess.TimeoutExpired:
                    p.kill()
            demo.stop()
            self.stdout.write("demo stopped")


def _interrupt(signum, frame):
    raise KeyboardInterrupt
