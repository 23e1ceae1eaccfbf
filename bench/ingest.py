"""Benchmark: signed webhook ingest (verify, store raw with its jobs) beside a page of the same server that does one INSERT.

The hub (SQLite, as one machine runs it) served by gunicorn with 2 workers, as `ocbridge serve --production`.
8 clients post Sandbox call results, each signed with the connection's secret: the hub finds the connection by
its URL token, checks the signature, stores the raw request as an Exchange with the job its event asks for in one
row and one commit, then wakes the worker's dispatcher (core.inbox, core.wake; no worker runs here: the stored rows
are queued as Jobs after the run, and counted). Beside it, in the same run and the same way, the
same bodies go to a page added to the same server for this bench that does one INSERT of the body and one commit:
the floor of any durable answer. The floor is served the way webhooks are: under /hooks/, through the webhook handler
and its middleware only (core.webhook_handler: security and common), so the two sides differ by what the webhook
does, not by how it reaches its view; the bench checks it (the floor answers 500 if the dashboard's middleware ran).
The page exists only in this bench's own URLs (written into its temporary directory), never in the hub's.
Rounds alternate A B B A …, so a machine getting busier or quieter during the run weighs on both sides alike; each
round prints both rates and their ratio. Target (issue 23): ours ≥ 0.8× the floor. `--dashboard-floor` adds a
third side: the same floor page served through the dashboard's whole middleware (how the floor was served before
2026-12-07 afternoon), for comparing with older figures. `--before SRC` (the `src` folder of an older checkout, e.g.
`git archive main src | tar -x -C /tmp/before`) adds the code before as a side of its own: its own hub, migrated by
that code (a change of the log's indexes is measured too), served by a second gunicorn the same way, in the same
rounds — a change measured against its predecessor under the same load.

    .venv/bin/python bench/ingest.py [--webhooks 2000] [--rounds 6] [--clients 8] [--dashboard-floor] [--before SRC]
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import json
import os
import shutil
import statistics
import sys
import tempfile
import textwrap
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from benchkit import cpu_seconds, gunicorn, load

ROOT = Path(__file__).resolve().parent.parent
SRC = os.environ.get("OCBRIDGE_BENCH_SRC") or str(ROOT / "src")  # --before: the hub of the code before is made by it
sys.path.insert(0, SRC)
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


        @csrf_exempt
        def lean_floor(request):
            # Under /hooks/ the webhook handler serves it, as it serves the webhooks: without the dashboard's
            # middleware (no session on the request). Served otherwise, it would not be the webhooks' floor.
            if hasattr(request, "session"):
                return HttpResponse("served through the dashboard's middleware", status=500)
            return floor(request)


        urlpatterns = [path("hooks/bench-floor/", lean_floor), path("bench-floor/", floor), *hub]
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
    ap.add_argument("--dashboard-floor", action="store_true",
                    help="also the floor page through the dashboard's middleware (a third side in every round)")
    ap.add_argument("--before", help="src folder of the code before: its own hub and server, a side in every round")
    ap.add_argument("--hub-only", help=argparse.SUPPRESS)  # --before's hub, made in a process running that code
    args = ap.parse_args()
    if args.hub_only:
        setup(args.hub_only)
        print(make_hub().webhook_token)
        return
    tmp = tempfile.mkdtemp(prefix="ocb-ingest-")
    try:
        run(args, tmp)
    finally:  # the hub's database of every run (nothing in it is read again: no --keep here)
        shutil.rmtree(tmp, ignore_errors=True)


def make_hub():
    """The store, its Sandbox connection and COD integration the webhooks are for; returns the connection."""
    from ocbridge.core.models import Connection, Integration, Store
    from ocbridge.integrations.cod_confirm import plan
    from ocbridge.integrations.cod_confirm.config import CodConfirmConfig

    store = Store.objects.create(name="Bench", country="TR", timezone="Europe/Istanbul")
    conn = Connection.objects.create(store=store, service="sandbox", base_url="http://127.0.0.1:9",
                                     secret={"token": "sandbox-token", "webhook_secret": SECRET})
    integration = Integration.objects.create(store=store, kind="cod_confirm", settings=CodConfirmConfig().to_settings())
    plan.replace(integration, plan.default_steps(conn, ("call", "call", "call")))
    return conn


def before_server(src: str, tmp: str) -> tuple[str, object, int]:
    """The code in `src` serving its own hub in `tmp` (made and migrated by that code): its webhook URL, its stop."""
    import subprocess

    src = os.path.abspath(src)
    env = {**os.environ, "OCBRIDGE_BENCH_SRC": src, "OCBRIDGE_DATA_DIR": tmp}
    token = subprocess.run([sys.executable, __file__, "--hub-only", tmp], env=env, capture_output=True, text=True,
                           check=True).stdout.split()[-1]
    data_dir = os.environ["OCBRIDGE_DATA_DIR"]
    os.environ["OCBRIDGE_DATA_DIR"] = tmp  # the server's environment: its own hub
    try:
        base, stop, pid = gunicorn([tmp, src], public_url=True)
    finally:
        os.environ["OCBRIDGE_DATA_DIR"] = data_dir
    return f"{base}/hooks/sandbox/{token}/call-result", stop, pid


def run(args: argparse.Namespace, tmp: str) -> None:
    setup(tmp)

    import httpx

    from ocbridge.core.models import Job

    conn = make_hub()
    stop_before = None
    if args.before:
        before_tmp = tempfile.mkdtemp(prefix="ocb-ingest-before-")
        before_hook, stop_before, before_pid = before_server(args.before, before_tmp)
    base, stop, pid = gunicorn([tmp, SRC], public_url=True)
    hook, floor = f"{base}/hooks/sandbox/{conn.webhook_token}/call-result", f"{base}/hooks/bench-floor/"
    dashboard_floor = f"{base}/bench-floor/"
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
        httpx.get(dashboard_floor, timeout=120)  # the workers are up (they start after the port opens)
        # The floor must reach its view as the webhooks do (the webhook handler, no dashboard middleware).
        answer = httpx.post(floor, content=b"{}", timeout=30)
        assert answer.status_code == 200, f"the floor page is not served as the webhooks are: {answer.text[:200]}"
        warm = [hook, floor] + ([dashboard_floor] if args.dashboard_floor else []) + ([before_hook] if args.before else [])
        for url in warm:
            rate(url, 200)  # warm-up: both workers, connections, caches
        sides = ([("ours", hook), ("floor", floor)] + ([("dashboard", dashboard_floor)] if args.dashboard_floor else [])
                 + ([("before", before_hook)] if args.before else []))
        print(f"{args.rounds} rounds of {args.webhooks} requests a side, {args.clients} clients, gunicorn 2 workers, "
              f"SQLite hub ({load()}):")
        rates, ok = {name: [] for name, _ in sides}, True
        # The server's CPU (master and web workers) while each side runs: what a request costs it, less moved by the
        # machine's load than the rates (each side runs alone; the other server is idle then).
        cpu = {name: 0.0 for name, _ in sides}
        for r in range(args.rounds):
            # A B, B A, A B … (three sides: A B C, B C A, C A B …): each side goes first as often as the others
            for name, url in sides[r % len(sides):] + sides[:r % len(sides)]:
                server = before_pid if name == "before" else pid
                c = cpu_seconds(server)
                value, fine = rate(url, args.webhooks)
                cpu[name] += cpu_seconds(server) - c
                rates[name].append(value)
                ok &= fine
            extra = (f"   dashboard-served floor {rates['dashboard'][-1]:5.0f}/s (ours/it "
                     f"{rates['ours'][-1] / rates['dashboard'][-1]:.2f})" if args.dashboard_floor else "")
            extra += (f"   before {rates['before'][-1]:5.0f}/s (before/floor {rates['before'][-1] / rates['floor'][-1]:.2f})"
                      if args.before else "")
            print(f"  round {r + 1}: ours {rates['ours'][-1]:5.0f}/s   floor {rates['floor'][-1]:5.0f}/s   "
                  f"ratio {rates['ours'][-1] / rates['floor'][-1]:.2f}{extra}")
        ours, plain = rates["ours"], rates["floor"]
        ratios = [a / b for a, b in zip(ours, plain)]
        from ocbridge.core.inbox import queue_stored

        while queue_stored(limit=1000):  # what the worker's dispatcher does with them: one job per webhook
            pass
        queued = Job.objects.filter(kind="cod_confirm.apply_call_result").count()
        print(f"signed webhook ingest (verify, store raw + its job):   median {statistics.median(ours):.0f}/s "
              f"({min(ours):.0f}–{max(ours):.0f})\n"
              f"floor, one INSERT and commit (webhook handler):       median {statistics.median(plain):.0f}/s "
              f"({min(plain):.0f}–{max(plain):.0f})")
        if args.dashboard_floor:
            dash = rates["dashboard"]
            print(f"the same floor through the dashboard's middleware:    median {statistics.median(dash):.0f}/s "
                  f"({min(dash):.0f}–{max(dash):.0f}); ours/it median "
                  f"{statistics.median([a / b for a, b in zip(ours, dash)]):.2f}")
        if args.before:
            bef = rates["before"]
            print(f"the code before (--before, its own hub):             median {statistics.median(bef):.0f}/s "
                  f"({min(bef):.0f}–{max(bef):.0f}); before/floor median "
                  f"{statistics.median([a / b for a, b in zip(bef, plain)]):.2f} "
                  f"({min(a / b for a, b in zip(bef, plain)):.2f}–{max(a / b for a, b in zip(bef, plain)):.2f}); "
                  f"ours/before median {statistics.median([a / b for a, b in zip(ours, bef)]):.2f}")
        per = {name: cpu[name] / (args.rounds * args.webhooks) * 1000 for name in cpu}
        print("the server's CPU a request: " + ", ".join(f"{name} {ms:.2f} ms" for name, ms in per.items())
              + f" (ours − floor {per['ours'] - per['floor']:+.2f} ms"
              + (f", before − floor {per['before'] - per['floor']:+.2f} ms)" if args.before else ")"))
        print(f"ratio ours/floor: median {statistics.median(ratios):.2f} ({min(ratios):.2f}–{max(ratios):.2f})   "
              f"target ≥ 0.8: {'met' if statistics.median(ratios) >= 0.8 else 'NOT met'}\n"
              f"all 2xx: {ok}; jobs queued from the stored rows afterwards {queued} for "
              f"{args.rounds * args.webhooks + 200} webhooks; {load()} after")
    finally:
        stop()
        if stop_before is not None:
            stop_before()
            shutil.rmtree(before_tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
