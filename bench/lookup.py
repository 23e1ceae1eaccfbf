"""Benchmark: a caller's number → the spoken answer, over HTTP, at 1,000,000 orders; beside a plain page and the LIKE scan.

Builds an N-order OpenCart shop (default 1,000,000, layout 3.0) in MariaDB, fills the hub's phone index the way
the integration does (first poll + back-fill by primary-key ranges), serves the hub over HTTP on loopback and
plays Verimor's PBX asking our decision URL for step 1 of a call from a different real customer each time.
Measured per request: the whole HTTP round trip (rate-limit check, phone index, order read by primary key, status
name, phrase, Exchange and LookupCall rows written and committed before the answer is sent — the log is not
deferred past the response). The hub runs as deployed: gunicorn with 2 workers and one `ocbridge worker` beside it,
whose dispatcher checkpoints the SQLite hub's log once a second (core.wal; the requests do not, unless the log
reaches settings.SQLITE_WAL_PAGES — the bench prints whether it did). Each of our requests is followed by one for a page the same
server answers with a 404 (URL resolving, the dashboard's middleware, the 404 template, no database) and one for
a fixed answer served under /hooks/ as the PBX's requests are (no database, no template): the floor of any answer
of this server on this machine at the time of the run. Requests are
timed with the standard library's HTTP client (benchkit.plain_get), a new connection each, as a PBX opens them;
the 404 page is also timed through httpx, the client these figures used before 2026-12-07 (0.5–0.7 ms of its own per
request on the same two cores, quiet). `--dump FILE` writes each request's time, to line up a tail with the server's. `--rounds`
rounds of `--calls` each; the spread of the rounds shows the noise of a shared machine. In the same run, the
query Verimor's own module runs — `telephone LIKE '%<last 10 digits>'` — is timed on the same shop.
Also printed: the server's CPU time per call (its web workers, read from /proc around each call), which a busy machine
moves less than the wall-clock times — ours and, with `--before`, the code before. Target (issue 23): ours p99 < 5 ms.

With `--keep DIR` the shop and the hub (with its phone index) are built once into DIR and used again by later
runs (building takes minutes). With `--before SRC` (the `src` folder of an older checkout, e.g. `git archive main
src | tar -x -C /tmp/before`) a second gunicorn serves the same hub with that code, and every call to ours is
followed by one to it: the code before a change, measured in the same run under the same load. It runs on the
schema of this checkout's migrations.

    .venv/bin/python bench/lookup.py [--orders 1000000] [--version 3.0] [--calls 300] [--rounds 5] [--keep DIR]
                                     [--before SRC]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import tempfile
import textwrap
import threading
import time
from pathlib import Path

from benchkit import cpu_seconds, gunicorn, kept_shop, load, mariadb, pct, plain_get, spread, worker

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))


def row(name: str, ms: list[float]) -> str:
    return f"  {name:<52} p50 {statistics.median(ms):8.2f} ms   p99 {pct(ms, 99):8.2f} ms   (n={len(ms)})"


def setup_django(tmp: str, data_dir: str) -> None:
    """Project settings for the bench (quiet logs, any host), the hub's data in `data_dir`."""
    mod = Path(tmp) / "bench_lookup_settings.py"
    mod.write_text(textwrap.dedent("""
        from ocbridge.settings import *  # noqa
        DEBUG = False
        ALLOWED_HOSTS = ["*"]
        ROOT_URLCONF = "bench_lookup_urls"
        LOGGING = {"version": 1, "disable_existing_loggers": False, "root": {"level": "ERROR"}}
    """))
    (Path(tmp) / "bench_lookup_urls.py").write_text(textwrap.dedent("""
        from django.http import HttpResponse
        from django.urls import path

        from ocbridge.urls import urlpatterns as hub


        def empty(request):
            # Under /hooks/ the webhook handler serves it as it serves the PBX's requests (no dashboard middleware):
            # a fixed answer, no database — the least any answer of this server costs. Bench only.
            if hasattr(request, "session"):
                return HttpResponse("served through the dashboard's middleware", status=500)
            return HttpResponse('{"ok": true}', content_type="application/json")


        urlpatterns = [path("hooks/bench-empty/", empty), *hub]
    """))
    sys.path.insert(0, tmp)
    os.environ["OCBRIDGE_DATA_DIR"] = data_dir
    os.environ["OCBRIDGE_SIMULATOR_HOSTS"] = "127.0.0.1"  # the simulators and the shop's API on loopback
    os.environ["DJANGO_SETTINGS_MODULE"] = "bench_lookup_settings"
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def wal_start(settings) -> tuple[str, int] | None:
    """An empty log file for the hub's SQLite database, and its page size: the file's size at the end is the most
    the log held during the run (a log that restarts is written over from its beginning). None for another database."""
    from django.db import connection

    if connection.vendor != "sqlite":
        return None
    with connection.cursor() as cur:
        cur.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        cur.execute("PRAGMA page_size")
        page = cur.fetchone()[0]
    connection.close()
    return settings.DATABASES["default"]["NAME"] + "-wal", page


def serve(tmp: str, server: str) -> tuple[str, object, int | None]:
    """The hub over HTTP on a loopback port: gunicorn as `ocbridge serve --production` runs it (default),
    or Django's threaded development server in this process; its URL, a function that stops it and the process whose
    CPU time is the server's (None: this one)."""
    if server == "dev":
        from django.core.servers.basehttp import ThreadedWSGIServer, WSGIRequestHandler
        from django.core.wsgi import get_wsgi_application

        class Quiet(WSGIRequestHandler):
            def log_message(self, *args):
                pass

        httpd = ThreadedWSGIServer(("127.0.0.1", 0), Quiet)
        httpd.set_app(get_wsgi_application())
        threading.Thread(target=httpd.serve_forever, daemon=True).start()
        return f"http://127.0.0.1:{httpd.server_address[1]}", httpd.shutdown, None
    return gunicorn([tmp, str(ROOT / "src")])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--orders", type=float, default=1e6)
    ap.add_argument("--version", default="3.0", choices=["2.3", "3.0", "4.0"])
    ap.add_argument("--calls", type=int, default=300, help="calls to our URL per round, each from another customer")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--naive", type=int, default=15, help="runs of the naive LIKE query")
    ap.add_argument("--server", default="gunicorn", choices=["gunicorn", "dev"],
                    help="gunicorn, 2 workers (production), or Django's development server")
    ap.add_argument("--keep", help="build the shop and the hub here once and use them again in later runs")
    ap.add_argument("--before", help="src folder of the code before: served beside ours, called after each of ours")
    ap.add_argument("--dump", help="write each request's time here, one JSON line per request (for finding a tail)")
    args = ap.parse_args()
    n = int(args.orders)
    tmp = tempfile.mkdtemp(prefix="ocbridge-bench-lookup-")
    hub_dir = os.path.abspath(os.path.join(args.keep, "hub-lookup")) if args.keep else tmp
    os.makedirs(hub_dir, exist_ok=True)
    setup_django(tmp, hub_dir)

    import httpx
    from django.conf import settings

    from ocbridge import opencart
    from ocbridge.core.models import Connection, Integration, Store
    from ocbridge.integrations.order_lookup.jobs import backfill_index
    from ocbridge.integrations.order_lookup.models import LookupCall
    from ocbridge.opencart import phones
    from ocbridge.opencart.models import PhoneIndex

    server = mariadb(args.keep)
    stop_hub = stop_worker = stop_before = None
    try:
        url, built = kept_shop(server, version=args.version, orders=n, keep=args.keep)
        store = None if built else Store.objects.filter(name="Demo Mağaza").first()
        if store is None:
            Store.objects.all().delete()
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
        conn = Connection.objects.get(store=store, service="verimor")

        want = args.calls * args.rounds + 20
        callers = list(PhoneIndex.objects.filter(store_db_key=store.db_key, store_id=0, e164__startswith="+90")
                       .order_by("?").values_list("e164", flat=True).distinct()[:want])
        random.Random(7).shuffle(callers)
        wal = wal_start(settings)
        settings.PUBLIC_URL, stop_hub, hub_pid = serve(tmp, args.server)
        if args.before:
            before_base, stop_before, before_pid = gunicorn([tmp, os.path.abspath(args.before)])
        stop_worker = worker([tmp, str(ROOT / "src")])  # as deployed: it also checkpoints the hub's log (core.wal)
        decision_url = conn.webhook_url("call-decision")
        floor_url = settings.PUBLIC_URL + "/bench-floor-404/"
        empty_url = settings.PUBLIC_URL + "/hooks/bench-empty/"
        client = httpx.Client(timeout=30)
        run = f"{time.time_ns()}"

        def call(e164: str, uuid: str, url: str = decision_url) -> dict:
            status, body = plain_get(url, {"uuid": uuid, "cli": "0" + e164[3:], "cld": "908501234567", "step": "1"})
            assert status == 200, status
            return json.loads(body)

        httpx.get(floor_url, timeout=120)  # the workers are up (they start after the port opens)
        if args.before:
            before_url = before_base + decision_url[len(settings.PUBLIC_URL):]
            httpx.get(before_base + "/bench-floor-404/", timeout=120)
        for i, e164 in enumerate(callers[:20]):  # warm-up: connections, caches, first queries
            call(e164, f"warm-{run}-{i}")
            if args.before:
                call(e164, f"warm-before-{run}-{i}", before_url)
            client.get(floor_url)
            assert plain_get(empty_url)[0] == 200, "the empty answer is not served as webhooks are"
        ours, before, floor, floor_httpx, empty, spoken, dumped = [], [], [], [], [], 0, []
        cpu = {"ours": 0.0, "before": 0.0}  # the server's CPU time during its calls (web workers, /proc)

        def cpu_of(pid: int | None) -> float:
            return cpu_seconds(pid) if pid else 0.0
        print(f"\nRunning {args.rounds} rounds of {args.calls} calls ({load()}) …", flush=True)
        for r in range(args.rounds):
            ours.append([])
            before.append([])
            floor.append([])
            floor_httpx.append([])
            empty.append([])
            for i, e164 in enumerate(callers[20 + r * args.calls:20 + (r + 1) * args.calls]):
                def before_call() -> None:  # the same caller in another call: the code before does the same work
                    c = cpu_of(before_pid)
                    t = time.perf_counter()
                    assert "prompt" in call(e164, f"before-{run}-{r}-{i}", before_url)
                    before[-1].append((time.perf_counter() - t) * 1000)
                    cpu["before"] += cpu_of(before_pid) - c

                if args.before and i % 2:  # which one goes first alternates (the shop's caches warm for the second)
                    before_call()
                c = cpu_of(hub_pid)
                t = time.perf_counter()
                resp = call(e164, f"bench-{run}-{r}-{i}")
                ours[-1].append((time.perf_counter() - t) * 1000)
                cpu["ours"] += cpu_of(hub_pid) - c
                dumped.append({"uuid": f"bench-{run}-{r}-{i}", "ms": ours[-1][-1], "t0": time.monotonic_ns()})
                spoken += "numaralı siparişinizin durumu" in resp.get("prompt", {}).get("phrase", "")
                if args.before and not i % 2:
                    before_call()
                t = time.perf_counter()
                assert plain_get(floor_url)[0] == 404
                floor[-1].append((time.perf_counter() - t) * 1000)
                dumped.append({"uuid": "404", "ms": floor[-1][-1], "t0": time.monotonic_ns()})
                t = time.perf_counter()
                assert client.get(floor_url).status_code == 404
                floor_httpx[-1].append((time.perf_counter() - t) * 1000)
                t = time.perf_counter()
                assert plain_get(empty_url)[0] == 200
                empty[-1].append((time.perf_counter() - t) * 1000)
        if args.dump:
            with open(args.dump, "w") as f:
                f.writelines(json.dumps(d) + "\n" for d in dumped)
        answered = LookupCall.objects.filter(call_id__startswith=f"bench-{run}-").exclude(order_id=None).count()

        shop = opencart.shop_db(store)
        naive = []
        for e164 in callers[20:20 + args.naive]:
            digits = phones.last_digits(e164)
            t = time.perf_counter()
            with shop.engine.connect() as c:
                # A full scan: on a server just started (cold buffer pool) it can take longer than the hub's 30 s
                # read timeout, which the engine sets before each statement; so straight on the driver's cursor.
                raw = c.connection.driver_connection
                raw._read_timeout = 600
                with raw.cursor() as cur:
                    cur.execute("SELECT * FROM oc_order WHERE telephone LIKE %s ORDER BY order_id DESC LIMIT 5",
                                (f"%{digits}",))
                    cur.fetchall()
            naive.append((time.perf_counter() - t) * 1000)

        calls = sum(len(r) for r in ours)
        print(f"\nCaller → spoken answer over {args.server}, {calls} calls from different customers, {n:,} orders "
              f"({spoken} read a status out, {answered} calls linked to an order); {load()} after:")
        print(spread("ours: whole HTTP request (Verimor step 1)", ours))
        if args.before:
            print(spread("before: the same, the code in --before", before))
        if hub_pid:
            print(f"  the server's CPU per call (web workers, whole run): ours {cpu['ours'] / calls * 1000:.2f} ms"
                  + (f", before {cpu['before'] / calls * 1000:.2f} ms" if args.before else ""))
        print(spread("plain page: a 404 of the same server", floor))
        print(spread("the same 404 page timed through httpx", floor_httpx))
        print(spread("empty answer under /hooks/ (no database)", empty))
        if wal:
            pages = max(0, os.path.getsize(wal[0]) - 32) // (wal[1] + 24)  # a header, then one per page
            print(f"  the hub's SQLite log (WAL) reached {pages:,} pages at most; a request checkpoints only at "
                  f"{settings.SQLITE_WAL_PAGES:,}: {'none did' if pages < settings.SQLITE_WAL_PAGES else 'some did'}")
        print(row("naive: telephone LIKE '%…' query alone", naive))
        all_ours = [v for r in ours for v in r]
        all_empty = [v for r in empty for v in r]
        print(f"  ours over the empty answer: p50 +{statistics.median(all_ours) - statistics.median(all_empty):.2f} ms, "
              f"p99 +{pct(all_ours, 99) - pct(all_empty, 99):.2f} ms (the empty answer: the least any answer of this "
              f"server takes on this machine in this run)")
        print(f"  ours over the plain page: p50 +{statistics.median(all_ours) - statistics.median(sum(floor, [])):.2f} ms; "
              f"naive/ours p50 {statistics.median(naive) / statistics.median(all_ours):.0f}×   target ours p99 < 5 ms: "
              f"{'met' if pct(all_ours, 99) < 5 else 'NOT met'}")
        print("  (the naive query is only the search; its endpoint would still have to read and answer.\n"
              "   It also misses numbers typed with spaces or dashes, e.g. '0532 123 45 67'.)")
    finally:
        if stop_hub is not None:
            stop_hub()
        if stop_before is not None:
            stop_before()
        if stop_worker is not None:
            stop_worker()
        server.stop()


if __name__ == "__main__":
    main()
