"""Benchmark: a caller's number → the spoken answer, over HTTP, at 1,000,000 orders; beside the naive LIKE scan.

Builds an N-order OpenCart shop (default 1,000,000, layout 3.0) in a throwaway MariaDB, fills the hub's
phone index the way the integration does (first poll + back-fill by primary-key ranges), serves the hub
over HTTP on loopback and plays Verimor's PBX asking our decision URL for step 1 of a call from a
different real customer each time. Measured per request: the whole HTTP round trip (rate-limit check,
phone index, order read by primary key, status name, phrase, Exchange and LookupCall rows written).
In the same run, the query Verimor's own module runs — `telephone LIKE '%<last 10 digits>'` — is timed
on the same shop. Target: p99 < 20 ms for ours.

    .venv/bin/python bench/lookup.py [--orders 1000000] [--version 3.0] [--calls 500]
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import textwrap
import threading
import time
from pathlib import Path

from benchkit import build_shop, pct

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))


def row(name: str, ms: list[float]) -> str:
    return f"  {name:<52} p50 {statistics.median(ms):8.2f} ms   p99 {pct(ms, 99):8.2f} ms   (n={len(ms)})"


def setup_django(tmp: str) -> None:
    """Project settings with order_lookup installed (whether or not the project lists it yet)."""
    mod = Path(tmp) / "bench_lookup_settings.py"
    mod.write_text(textwrap.dedent("""
        from ocbridge.settings import *  # noqa
        if "ocbridge.integrations.order_lookup" not in INSTALLED_APPS:
            INSTALLED_APPS = [*INSTALLED_APPS, "ocbridge.integrations.order_lookup"]
        DEBUG = False
        ALLOWED_HOSTS = ["*"]
        LOGGING = {"version": 1, "disable_existing_loggers": False, "root": {"level": "ERROR"}}
    """))
    sys.path.insert(0, tmp)
    os.environ["OCBRIDGE_DATA_DIR"] = tmp
    os.environ["OCBRIDGE_SIMULATOR_HOSTS"] = "127.0.0.1"  # the simulators and the shop's API on loopback
    os.environ["DJANGO_SETTINGS_MODULE"] = "bench_lookup_settings"
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def serve(tmp: str, server: str) -> tuple[str, object]:
    """The hub over HTTP on a loopback port: gunicorn as `ocbridge serve --production` runs it (default),
    or Django's threaded development server in this process."""
    import socket
    import subprocess

    if server == "dev":
        from django.core.servers.basehttp import ThreadedWSGIServer, WSGIRequestHandler
        from django.core.wsgi import get_wsgi_application

        class Quiet(WSGIRequestHandler):
            def log_message(self, *args):
                pass

        httpd = ThreadedWSGIServer(("127.0.0.1", 0), Quiet)
        httpd.set_app(get_wsgi_application())
        threading.Thread(target=httpd.serve_forever, daemon=True).start()
        return f"http://127.0.0.1:{httpd.server_address[1]}", httpd.shutdown
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([tmp, str(ROOT / "src")])}
    proc = subprocess.Popen([sys.executable, "-m", "gunicorn", "ocbridge.wsgi:application", "--bind",
                             f"127.0.0.1:{port}", "--workers", "2", "--log-level", "warning"], env=env)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            time.sleep(0.1)
    return f"http://127.0.0.1:{port}", lambda: (proc.terminate(), proc.wait(10))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--orders", type=float, default=1e6)
    ap.add_argument("--version", default="3.0", choices=["2.3", "3.0", "4.0"])
    ap.add_argument("--calls", type=int, default=500, help="calls to our URL, each from another customer")
    ap.add_argument("--naive", type=int, default=15, help="runs of the naive LIKE query")
    ap.add_argument("--server", default="gunicorn", choices=["gunicorn", "dev"],
                    help="gunicorn, 2 workers (production), or Django's development server")
    args = ap.parse_args()
    n = int(args.orders)
    tmp = tempfile.mkdtemp(prefix="ocbridge-bench-lookup-")
    setup_django(tmp)

    import httpx
    import sqlalchemy as sa
    from django.conf import settings

    from ocbridge import opencart
    from ocbridge.core.models import Connection, Integration, Store
    from ocbridge.integrations.order_lookup.jobs import backfill_index
    from ocbridge.integrations.order_lookup.models import LookupCall
    from ocbridge.opencart import phones
    from ocbridge.opencart.models import PhoneIndex
    from ocbridge.testbed.mariadb import start_server

    server = start_server()
    stop_hub = None
    try:
        url, _ = build_shop(server, version=args.version, orders=n)

        store = Store.objects.create(name="Demo Mağaza", db_url=url, table_prefix="oc_", country="TR",
                                     language="tr", timezone="Europe/Istanbul")
        conn = Connection.objects.create(store=store, service="verimor", secret={"key": "K1"})
        Integration.objects.create(store=store, kind="order_lookup", connection=conn, settings={
            "rep_target": "queue/100", "days_back": 100000, "read_date": True, "rate_limit": 10**9})

        print("Filling the phone index (first poll, then back-fill by primary-key ranges) …", flush=True)
        t = time.perf_counter()
        opencart.poll_new_orders(store, limit=500)
        bf = backfill_index(store, days_back=100000, batches=10**9)
        took = time.perf_counter() - t
        print(f"  {bf.indexed:,} numbers indexed in {took:.1f}s ({n / took:,.0f} orders/s; once per shop)")

        callers = list(PhoneIndex.objects.filter(store_db_key=store.db_key, store_id=0, e164__startswith="+90")
                       .order_by("?").values_list("e164", flat=True).distinct()[:args.calls + 20])
        random.Random(7).shuffle(callers)
        settings.PUBLIC_URL, stop_hub = serve(tmp, args.server)
        decision_url = conn.webhook_url("call-decision")
        client = httpx.Client(timeout=10)

        def call(e164: str, uuid: str) -> httpx.Response:
            return client.get(decision_url, params={"uuid": uuid, "cli": "0" + e164[3:], "cld": "908501234567",
                                                    "step": "1"})

        for i, e164 in enumerate(callers[:20]):  # warm-up: connections, caches, first queries
            call(e164, f"warm-{i}")
        ours, spoken = [], 0
        for i, e164 in enumerate(callers[20:]):
            t = time.perf_counter()
            resp = call(e164, f"bench-{i}")
            ours.append((time.perf_counter() - t) * 1000)
            body = resp.json()
            spoken += "numaralı siparişinizin durumu" in body.get("prompt", {}).get("phrase", "")
        answered = LookupCall.objects.filter(call_id__startswith="bench-").exclude(order_id=None).count()

        shop = opencart.shop_db(store)
        naive = []
        for e164 in callers[20:20 + args.naive]:
            digits = phones.last_digits(e164)
            t = time.perf_counter()
            with shop.engine.connect() as c:
                c.execute(sa.text("SELECT * FROM oc_order WHERE telephone LIKE :p ORDER BY order_id DESC LIMIT 5"),
                          {"p": f"%{digits}"}).all()
            naive.append((time.perf_counter() - t) * 1000)

        print(f"\nCaller → spoken answer over {args.server}, {len(ours)} calls from different customers, {n:,} orders "
              f"({spoken} read a status out, {answered} calls linked to an order):")
        print(row("ours: whole HTTP request (Verimor step 1)", ours))
        print(row("naive: telephone LIKE '%…' query alone", naive))
        print(f"  ratio p50 {statistics.median(naive) / statistics.median(ours):.0f}×, "
              f"p99 {pct(naive, 99) / pct(ours, 99):.0f}×   target ours p99 < 20 ms: "
              f"{'met' if pct(ours, 99) < 20 else 'NOT met'}")
        print("  (the naive query is only the search; its endpoint would still have to read and answer.\n"
              "   It also misses numbers typed with spaces or dashes, e.g. '0532 123 45 67'.)")
    finally:
        if stop_hub is not None:
            stop_hub()
        server.stop()


if __name__ == "__main__":
    main()
