"""Benchmark: signed webhook ingest (verify, store raw with its jobs) beside a page of the same server that does one INSERT.

The hub (SQLite, as one machine runs it) served by gunicorn with 2 workers, as `ocbridge serve --production`.
8 clients post Sandbox call results, each signed with the connection's secret: the hub finds the connection by
its URL token, checks the signature, stores the raw request as an Exchange with the job its event asks for in one
row and one commit, then wakes the worker's dispatcher (core.inbox, core.wake; no worker runs here: the stored rows
are queued as Jobs after the run, and counted). Beside it, in the same run and the same way, the
same bodies go to a page added to the same server for this bench that does one INSERT of the body and one commit:
the floor of any durable answer. Rounds alternate A B B A …, so a machine getting busier or quieter during the run
weighs on both sides alike; each round prints both rates and their ratio. Target (issue 23): ours ≥ 0.8× the floor.

    .venv/bin/python bench/ingest.py [--webhooks 2000] [--rounds 6] [--clients 8]
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import json
import os
import statistics
import sys
import tempfile
import textwrap
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from benchkit import gunicorn, load

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))
SECRET = "bench-webhook-secret"


def setup(tmp: str) -> None:
    """Project settings and URLs plus the floor page (bench only: never part of the hub)."""
    Path(tmp, "bench_ingest_settings.py").write_text(textwrap.dedent("""
        from ocbridge.settings import *  # noqa
        ROOT_URLCONF = "bench_ingest_urls"
        LOGGING = {"version": 1, "disable_existing_loggers": False, "root": {"level": "ERROR"}}
    """))
    Path(tmp, "bench_ingest_urls.py").write_text(textwrap.dedent("""
        from django.db import connection, transaction
        from django.http import HttpResponse
        from django.urls import path
        from django.views.decorators.csrf import csrf_exempt

        from ocbridge.urls import urlpatterns as hub


        @csrf_exempt
        def floor(request):
            with transaction.atomic(), connection.cursor() as cur:
                cur.execute("INSERT INTO bench_floor (body) VALUES (%s)", [request.body.decode()])
            return HttpResponse("OK")


        urlpatterns = [path("bench-floor/", floor), *hub]
    """))
    sys.path.insert(0, tmp)
    os.environ.update(OCBRIDGE_DATA_DIR=tmp, OCBRIDGE_LOG_LEVEL="ERROR", DJANGO_SETTINGS_MODULE="bench_ingest_settings")
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    call_command("migrate", verbosity=0)
    with connection.cursor() as cur:
        cur.execute("CREATE TABLE bench_floor (id INTEGER PRIMARY KEY, body TEXT NOT NULL)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--webhooks", type=int, default=2000, help="requests per side and round")
    ap.add_argument("--rounds", type=int, default=6)
    ap.add_argument("--clients", type=int, default=8)
    args = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="ocb-ingest-")
    setup(tmp)

    import httpx

    from ocbridge.core.models import Connection, Integration, Job, Store
    from ocbridge.integrations.cod_confirm import plan
    from ocbridge.integrations.cod_confirm.config import CodConfirmConfig

    store = Store.objects.create(name="Bench", country="TR", timezone="Europe/Istanbul")
    conn = Connection.objects.create(store=store, service="sandbox", base_url="http://127.0.0.1:9",
                                     secret={"token": "sandbox-token", "webhook_secret": SECRET})
    integration = Integration.objects.create(store=store, kind="cod_confirm", settings=CodConfirmConfig().to_settings())
    plan.replace(integration, plan.default_steps(conn, ("call", "call", "call")))
    base, stop, _pid = gunicorn([tmp, str(ROOT / "src")], public_url=True)
    hook, floor = f"{base}/hooks/sandbox/{conn.webhook_token}/call-result", f"{base}/bench-floor/"
    local = threading.local()
    serial = iter(range(10**9))

    def post(url: str) -> int:
        if not hasattr(local, "c"):
            local.c = httpx.Client(timeout=30)
        i = next(serial)
        body = json.dumps({"event_id": f"bench-{i}", "type": "call.completed", "sequence": 2,
                           "created_at": "2026-01-01T00:00:00Z",
                           "data": {"id": f"call-bench-{i}", "status": "no_answer"}}).encode()
        sig = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
        return local.c.post(url, content=body, headers={"Content-Type": "application/json",
                                                         "X-Sandbox-Signature": sig}).status_code

    def rate(url: str, count: int) -> tuple[float, bool]:
        t = time.perf_counter()
        with ThreadPoolExecutor(args.clients) as pool:
            codes = list(pool.map(lambda _: post(url), range(count)))
        return count / (time.perf_counter() - t), all(c == 200 for c in codes)

    try:
        httpx.get(f"{base}/bench-floor/", timeout=120)  # the workers are up (they start after the port opens)
        rate(hook, 200), rate(floor, 200)  # warm-up: both workers, connections, caches
        print(f"{args.rounds} rounds of {args.webhooks} requests a side, {args.clients} clients, gunicorn 2 workers, "
              f"SQLite hub ({load()}):")
        ours, plain, ok = [], [], True
        for r in range(args.rounds):
            sides = [("ours", hook), ("floor", floor)]
            for name, url in (sides if r % 2 == 0 else sides[::-1]):
                value, fine = rate(url, args.webhooks)
                (ours if name == "ours" else plain).append(value)
                ok &= fine
            print(f"  round {r + 1}: ours {ours[-1]:5.0f}/s   floor {plain[-1]:5.0f}/s   ratio {ours[-1] / plain[-1]:.2f}")
        ratios = [a / b for a, b in zip(ours, plain)]
        from ocbridge.core.inbox import queue_stored

        while queue_stored(limit=1000):  # what the worker's dispatcher does with them: one job per webhook
            pass
        queued = Job.objects.filter(kind="cod_confirm.apply_call_result").count()
        print(f"signed webhook ingest (verify, store raw + its job):   median {statistics.median(ours):.0f}/s "
              f"({min(ours):.0f}–{max(ours):.0f})\n"
              f"floor, one INSERT and commit:                         median {statistics.median(plain):.0f}/s "
              f"({min(plain):.0f}–{max(plain):.0f})\n"
              f"ratio ours/floor: median {statistics.median(ratios):.2f} ({min(ratios):.2f}–{max(ratios):.2f})   "
              f"target ≥ 0.8: {'met' if statistics.median(ratios) >= 0.8 else 'NOT met'}\n"
              f"all 2xx: {ok}; jobs queued from the stored rows afterwards {queued} for {(args.rounds + 0) * args.webhooks + 200} webhooks; {load()} after")
    finally:
        stop()


if __name__ == "__main__":
    main()
