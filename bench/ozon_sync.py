"""Benchmark: Ozon sync of a 100,000-product catalogue with 1,000 changed products, and a day of orders in.

Products: plans products, stock and prices with the real planner (rules.py) against Bindings held in memory,
then sends the planned batches with the real OzonClient to the Ozon simulator over HTTP and prints:
API calls per endpoint (target ⌈changed/batch⌉), planning time (target < 5 s), the simulator's
limit hits (target: none), and the ratio against one call per product.

Orders in (`--postings`, default 10,000 a day): a MariaDB OpenCart 3.0 shop, the Ozon simulator and the real
jobs. The day (or `--hours` of it, at the same rate) is played poll by poll (`--poll-minutes`, default 1: the
orders_every_seconds default) on the injected clock: the postings of each
interval appear at Ozon spread over it, then PollPostings and the import jobs run. Prints the time from a
posting's creation to its order in the shop (simulated wait for the poll + the measured work; target under one
poll interval), the API calls per poll against the naive way measured in the same run (re-reading the last 30
days every poll, 100 a page), and a crash run: a real worker SIGKILLed mid-import, a second one finishing —
every posting must be exactly one order.

Client set-up (`--jobs`, default 200): the time a job spends getting its Ozon client and making one call, with the
process-wide pooled HTTP client against a new one per job, in the same run.

    .venv/bin/python bench/ozon_sync.py [--jobs 200] [--products 100000] [--changed 1000] [--postings 10000] [--poll-minutes 1] [--crash 300]
"""

from __future__ import annotations

import argparse
import math
from datetime import timedelta
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))


def setup_django() -> None:
    os.environ.setdefault("OCBRIDGE_DATA_DIR", tempfile.mkdtemp(prefix="ocbridge-bench-"))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ocbridge.settings")
    os.environ["OCBRIDGE_SIMULATOR_HOSTS"] = "127.0.0.1"  # the simulators and the shop's API on loopback
    os.environ["OCBRIDGE_TEST_CLOCK"] = "1"  # orders in plays a day on the injected clock (also in the workers)
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", "core", verbosity=0)


def catalogue(n: int) -> list[dict]:
    return [{"product_id": i, "model": f"M{i:06d}", "sku": "", "ean": f"46{i:011d}", "upc": "", "quantity": 5 + i % 7,
             "price": "1990.0000", "special": None, "group_price": None, "weight": "0.25", "weight_unit": "kg",
             "length": "15", "width": "7.5", "height": "1", "length_unit": "cm", "image": f"catalog/p/{i}.jpg",
             "images": [f"catalog/p/{i}-2.jpg"], "manufacturer": "Acme", "name": f"Smartphone {i}",
             "description": "Six-inch screen, two SIM cards. " * 8, "category_ids": [20], "attributes": {}}
            for i in range(1, n + 1)]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--products", type=int, default=100_000)
    ap.add_argument("--changed", type=int, default=1_000)
    ap.add_argument("--postings", type=int, default=10_000, help="postings in the simulated day (0: skip orders in)")
    ap.add_argument("--poll-minutes", type=float, default=1.0, help="orders poll interval (orders_every_seconds)")
    ap.add_argument("--hours", type=float, default=24.0, help="play this much of the day, at the day's rate")
    ap.add_argument("--crash", type=int, default=300, help="postings of the crash run (0: skip)")
    ap.add_argument("--jobs", type=int, default=200, help="Ozon jobs whose client set-up is timed (0: skip)")
    args = ap.parse_args(argv)
    setup_django()
    ok = client_setup(args) if args.jobs else True
    ok &= products_out(args) if args.products else True
    if args.postings or args.crash:
        ok &= orders_in(args)
    print("RESULT:", "PASS" if ok else "FAIL")
    return 0 if ok else 1


def client_setup(args) -> bool:
    """Setting up the Ozon client of `--jobs` jobs: ours (one pooled HTTP client per host for the process,
    core.http.shared_client) against the naive way in the same run (a new HTTP client, TLS context and pool per
    job), each followed by one call to the simulator over loopback (the shared client's keep-alive counts)."""
    from ocbridge.core import ratelimit
    from ocbridge.core.http import HttpClient
    from ocbridge.core.models import Connection, Store
    from ocbridge.services.ozon import OzonClient
    from ocbridge.simulators.ozon import OzonSimulator

    ratelimit.reset()
    with OzonSimulator(client_id="123456", api_key="00000000-0000-4000-8000-00000000a11e", global_rps=0) as sim:
        store = Store.objects.create(name="Bench clients", oc_store_id=90)
        conn = Connection.objects.create(store=store, service="ozon", base_url=sim.base_url,
                                         secret={"client_id": "123456", "api_key": "00000000-0000-4000-8000-00000000a11e"})

        def timed(make) -> float:
            start = time.perf_counter()
            for _ in range(args.jobs):
                make().get_product_limits()
            return (time.perf_counter() - start) / args.jobs * 1000

        ours = timed(lambda: OzonClient(conn, rps=10_000))
        naive = timed(lambda: OzonClient(conn, rps=10_000, http=HttpClient("ozon", base_url=sim.base_url, timeout=30)))
    print(f"client set-up + one call, per job ({args.jobs} jobs): shared client {ours:.1f} ms, "
          f"a new client per job {naive:.1f} ms ({naive / ours:.1f}× slower)")
    return ours < naive


def products_out(args) -> bool:
    from datetime import timedelta

    from ocbridge.core import clock, ratelimit
    from ocbridge.core.models import Connection, Store
    from ocbridge.integrations.ozon import mappers, rules
    from ocbridge.integrations.ozon.config import OzonConfig
    from ocbridge.services.ozon import IMPORT_BATCH, PRICES_BATCH, STOCKS_BATCH, OzonClient
    from ocbridge.simulators.ozon import DEFAULT_ATTRIBUTES, OzonSimulator

    wh = 1020000000001
    cfg = OzonConfig(warehouse_ids=[wh], currency="RUB", image_base_url="https://shop.example",
                     category_map={"20": {"description_category_id": 17028922, "type_id": 94765}},
                     attribute_map={"85": {"source": "manufacturer", "values": {"Acme": 5000004}},
                                    "9048": {"source": "field:model"}})
    attributes = {(17028922, 94765): DEFAULT_ATTRIBUTES}
    rows = catalogue(args.products)

    # State after the previous sync: every card accepted, every stock and price sent more than an hour ago.
    t0 = time.perf_counter()
    first = rules.plan_products(rows, {}, cfg, attributes)
    initial_plan_s = time.perf_counter() - t0
    product_bindings = {first.local_ids[o]: (h, {"source": first.sources[o]}) for o, h in first.hashes.items()}
    long_ago = clock.now() - timedelta(hours=2)
    live = {r["product_id"]: mappers.offer_id(r, cfg) for r in rows}
    stock_sent = {f"{r['product_id']}:{wh}": (str(mappers.free_stock(r)), long_ago) for r in rows}
    price_sent = {r["product_id"]: ("|".join(mappers.prices_of(r, cfg)), []) for r in rows}

    # 1,000 products change: new name, new stock, a special price.
    step = max(1, args.products // args.changed)
    changed = rows[::step][:args.changed]
    for r in changed:
        r["name"] += " (2025)"
        r["quantity"] += 3
        r["special"] = "1790.0000"

    t0 = time.perf_counter()
    products = rules.plan_products(rows, product_bindings, cfg, attributes)
    stocks = rules.plan_stocks(rows, live, stock_sent, cfg, clock.now())
    prices = rules.plan_prices(rows, live, price_sent, cfg, clock.now())
    plan_s = time.perf_counter() - t0

    ratelimit.reset()
    with OzonSimulator(client_id="123456", api_key="00000000-0000-4000-8000-00000000a11e") as sim:
        sim.set_import_pending_polls(0)
        store = Store.objects.create(name="bench")
        conn = Connection.objects.create(store=store, service="ozon", base_url=sim.base_url,
                                         secret={"client_id": "123456", "api_key": "00000000-0000-4000-8000-00000000a11e"})
        client = OzonClient(conn)
        t0 = time.perf_counter()
        # As SyncProducts does for a push of at least one full batch: read the daily quota, send what fits.
        limits = client.get_product_limits()
        to_send, held = rules.fit_quota(products.send, set(), limits.daily_create.remaining, limits.daily_update.remaining)
        tasks = [client.import_products(items=b, key=f"bench:{i}").task_id for i, b in enumerate(rules.chunks(to_send, IMPORT_BATCH))]
        results = [item for t in tasks for item in client.get_import_info(task_id=t)]
        stock_results = [r for b in rules.chunks(stocks.send, STOCKS_BATCH) for r in client.update_stocks(stocks=b)]
        price_results = [r for b in rules.chunks(prices.send, PRICES_BATCH) for r in client.import_prices(prices=b)]
        send_s = time.perf_counter() - t0
        calls, hits = sim.calls(), sim.limit_hits()

    n = len(changed)
    expected = {"/v3/product/import": math.ceil(n / IMPORT_BATCH), "/v2/products/stocks": math.ceil(n / STOCKS_BATCH),
                "/v1/product/import/prices": math.ceil(n / PRICES_BATCH)}
    planned = {"/v3/product/import": len(products.send), "/v2/products/stocks": len(stocks.send),
               "/v1/product/import/prices": len(prices.send)}
    print(f"catalogue {args.products:,} products, {n:,} changed")
    print(f"initial full plan (all {args.products:,} mapped and hashed): {initial_plan_s:.2f} s")
    print(f"change plan (products + stock + prices): {plan_s:.2f} s  (target < 5 s)")
    print(f"{'endpoint':32} {'items':>7} {'calls':>6} {'target':>7} {'naive (1/product)':>18} {'ratio':>8}")
    ok = plan_s < 5 and not hits and not held
    for path, want in expected.items():
        got = calls.get(path, 0)
        naive = args.products  # the existing module sends every product on a timer, one request each
        ok &= got == want and planned[path] == n
        print(f"{path:32} {planned[path]:>7} {got:>6} {want:>7} {naive:>18,} {naive / max(got, 1):>7.0f}×")
    total = sum(calls.get(p, 0) for p in expected)
    print(f"total write calls: {total} vs {3 * args.products:,} naive (full push) → {3 * args.products / total:,.0f}× fewer; "
          f"vs {3 * n:,} one-per-changed-product → {3 * n / total:.0f}× fewer")
    print(f"daily quota check: {calls.get('/v4/product/info/limit', 0)} call (updates {limits.daily_update.usage}/"
          f"{limits.daily_update.limit} before the push), cards held back: {held}")
    print(f"import task polls: {calls.get('/v1/product/import/info', 0)}; items imported: "
          f"{sum(1 for r in results if r.status == 'imported')}/{n}; stock updated: "
          f"{sum(r.updated for r in stock_results)}/{n}; prices updated: {sum(r.updated for r in price_results)}/{n}")
    print(f"sending took {send_s:.2f} s (own limiter waits: {client.rate_waits}, {client.rate_wait_seconds:.2f} s)")
    print(f"simulator limit hits: {hits or 'none'}")
    return ok


def shop_for_orders(server, name: str) -> str:
    """A small OpenCart 3.0 shop (20 products, models M1..M20) in a new MariaDB database."""
    from decimal import Decimal

    import sqlalchemy as sa

    from ocbridge.opencart import reference
    from ocbridge.opencart.layouts import metadata_for

    url = server.create_database(name)
    engine = sa.create_engine(url)
    md = metadata_for("3.0", "oc_")
    md.create_all(engine)
    t = md.tables
    with engine.begin() as conn:
        reference.install(conn, md, currency="RUB", language="en-gb", timezone="UTC")
        for pid in range(1, 21):
            reference.insert_rows(conn, t["oc_product"], [{
                "product_id": pid, "model": f"M{pid}", "sku": "", "quantity": 1_000_000, "price": Decimal("100"),
                "image": "", "manufacturer_id": 0, "weight": Decimal("1"), "weight_class_id": 1, "length": Decimal("1"),
                "width": Decimal("1"), "height": Decimal("1"), "length_class_id": 1, "subtract": 1, "status": 1,
                "minimum": 1, "shipping": 1, "stock_status_id": 7, "date_available": "2024-01-01",
                "date_added": "2024-01-01 00:00:00", "date_modified": "2024-01-01 00:00:00"}])
            reference.insert_rows(conn, t["oc_product_description"], [{
                "product_id": pid, "language_id": 1, "name": f"Phone {pid}", "description": "", "tag": "",
                "meta_title": "", "meta_description": "", "meta_keyword": ""}])
            reference.insert_rows(conn, t["oc_product_to_store"], [{"product_id": pid, "store_id": 0}])
    engine.dispose()
    return url


def orders_in(args) -> bool:
    import sqlalchemy as sa
    from django.core.management import call_command

    from benchkit import pct
    from ocbridge import opencart
    from ocbridge.core import clock, ratelimit
    from ocbridge.core.jobs import run_job, run_until_idle
    from ocbridge.core.models import Binding, Connection, Integration, Job, Store
    from ocbridge.integrations.ozon import jobs, models as m
    from ocbridge.services.ozon import OzonClient
    from ocbridge.simulators.ozon import OzonSimulator, _iso
    from ocbridge.testbed.mariadb import start_server

    call_command("migrate", verbosity=0)
    cid, key = "123456", "00000000-0000-4000-8000-00000000a11e"
    server = start_server()
    ratelimit.reset()
    sim = OzonSimulator(client_id=cid, api_key=key)
    sim.start()
    ok = True

    def integration_for(url: str, name: str, sim=sim) -> Integration:
        store = Store.objects.create(name=name, db_url=url, version="3.0", table_prefix="oc_",
                                     timezone="UTC", currency="RUB")
        conn = Connection.objects.create(store=store, service="ozon", base_url=sim.base_url,
                                         secret={"client_id": cid, "api_key": key})
        return Integration.objects.create(store=store, kind="ozon", connection=conn, settings={
            "warehouse_ids": [1020000000001], "products_out": False, "stock_out": False, "prices_out": False,
            "returns_in": False, "poll_overlap_minutes": 5})

    def poll(integration, n: int) -> None:
        job = Job.objects.enqueue(jobs.PollPostings, key=f"bench:poll:{integration.pk}:{n}", integration=integration)
        run_job(job.pk)

    try:
        if args.postings:
            integration = integration_for(shop_for_orders(server, "ozon_orders"), "Ozon day")
            poll(integration, 0)  # the first poll: the window starts here
            interval = args.poll_minutes * 60
            polls = max(1, round(args.hours * 3600 / interval))
            total = round(args.postings * args.hours / 24)
            per_poll = [total // polls + (1 if i < total % polls else 0) for i in range(polls)]
            latencies, work, calls_per_poll = [], [], []
            seq = 0
            print(f"\norders in: {args.postings:,} postings a day, {total:,} in {args.hours:g} h, polled every "
                  f"{args.poll_minutes:g} min ({polls} polls)")
            for i, count in enumerate(per_poll):
                start = clock.now().timestamp()
                created: list[float] = []
                for k in range(count):  # spread over the interval, as Ozon creates them
                    at = start + interval * (k + 0.5) / max(count, 1)
                    number = f"{seq:08d}-0001-1"
                    seq += 1
                    sim.add_posting([{"offer_id": f"M{1 + seq % 20}", "quantity": 1, "price": 100}],
                                    posting_number=number, in_process_at=_iso(at))
                    created.append(at)
                clock.travel(interval)
                sim.advance(interval)
                before = sum(sim.calls().values())
                poll_at = clock.now().timestamp()
                t0 = time.perf_counter()
                poll(integration, i + 1)
                run_until_idle()
                took = time.perf_counter() - t0
                work.append(took)
                calls_per_poll.append(sum(sim.calls().values()) - before)
                done_at = poll_at + took  # every order of this poll is in by then
                latencies.extend(done_at - at for at in created)
                if (i + 1) % max(1, polls // 12) == 0:
                    print(f"  poll {i + 1}/{polls}: {count} new, {took:.1f} s of work, {calls_per_poll[-1]} calls",
                          flush=True)
            bound = Binding.objects.filter(connection=integration.connection, kind=m.POSTING).exclude(
                local_id__startswith="pending:").count()
            with opencart.shop_db(integration.store).engine.connect() as c:
                orders = c.execute(sa.text("SELECT COUNT(*), COUNT(DISTINCT comment) FROM oc_order")).one()
            # The naive way, measured now on the same simulator: every poll re-reads the last 30 days, 100 a page.
            naive_client = OzonClient(integration.connection)
            before = sum(sim.calls().values())
            cursor, now = "", clock.now()
            while True:
                page = naive_client.list_fbs_postings(since=now - timedelta(days=30), to=now, cursor=cursor)
                if not page.has_next:
                    break
                cursor = page.cursor
            naive_calls = sum(sim.calls().values()) - before
            mean_calls = sum(calls_per_poll) / len(calls_per_poll)
            print(f"posting created → order in the shop: p50 {pct(latencies, 50) / 60:.1f} min, p99 "
                  f"{pct(latencies, 99) / 60:.1f} min, max {max(latencies) / 60:.1f} min (target < {args.poll_minutes:g} "
                  f"min + work)")
            print(f"work per poll: p50 {pct(work, 50):.2f} s, max {max(work):.2f} s "
                  f"({max(per_poll)} postings in the busiest poll; must stay well under {interval:.0f} s)")
            steady = math.ceil(30 * args.postings / 100)  # 30 days at this rate, 100 a page: computed, not measured
            print(f"API calls per poll: mean {mean_calls:.1f}, max {max(calls_per_poll)}; naive (re-read 30 days each "
                  f"poll) measured on what this run created: {naive_calls}, at 30 days of {args.postings:,} a day: "
                  f"{steady:,} (computed) → {steady / max(mean_calls, 0.1):,.0f}× fewer")
            print(f"orders: {orders[0]:,} rows, {orders[1]:,} distinct postings, {bound:,} bound, of {total:,}; "
                  f"simulator limit hits: {sim.limit_hits() or 'none'}")
            ok &= orders[0] == orders[1] == bound == total and max(latencies) < interval + max(work) + 1
            ok &= not sim.limit_hits()
        if args.crash:
            with OzonSimulator(client_id=cid, api_key=key) as crash_sim:  # its own seller: only its postings
                ok &= crash_run(args, server, crash_sim, lambda url, name: integration_for(url, name, crash_sim))
    finally:
        sim.stop()
        server.stop()
    return ok


def crash_run(args, server, sim, integration_for) -> bool:
    """A real worker SIGKILLed while it imports; the next worker finishes; every posting is one order."""
    import signal
    import subprocess

    import sqlalchemy as sa

    from ocbridge.core import clock
    from ocbridge.core.models import Binding, Job
    from ocbridge.integrations.ozon import jobs, models as m

    url = shop_for_orders(server, "ozon_crash")
    integration = integration_for(url, "Ozon crash")
    numbers = [f"9{i:07d}-0001-1" for i in range(args.crash)]
    for n in numbers:
        sim.add_posting([{"offer_id": "M1", "quantity": 1, "price": 100}], posting_number=n)
    Job.objects.enqueue(jobs.PollPostings, key="bench:crash:poll", integration=integration)
    engine = sa.create_engine(url)

    def count() -> int:
        with engine.connect() as c:
            return c.execute(sa.text("SELECT COUNT(*) FROM oc_order")).scalar()

    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    worker = [sys.executable, "-m", "ocbridge", "worker", "--tick", "0.1"]
    w1 = subprocess.Popen(worker, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while count() < args.crash // 3 and time.monotonic() < deadline:
        time.sleep(0.05)
    at_kill = count()
    w1.send_signal(signal.SIGKILL)
    w1.wait(10)
    clock.travel(jobs.ImportPosting.claim_seconds + 5)
    w2 = subprocess.Popen(worker, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    done = lambda: Binding.objects.filter(connection=integration.connection, kind=m.POSTING).exclude(  # noqa: E731
        local_id__startswith="pending:").count()
    deadline = time.monotonic() + 300
    while done() < args.crash and time.monotonic() < deadline:
        time.sleep(0.2)
    w2.terminate()
    w2.wait(10)
    with engine.connect() as c:
        total, distinct = c.execute(sa.text("SELECT COUNT(*), COUNT(DISTINCT comment) FROM oc_order")).one()
    engine.dispose()
    print(f"\ncrash run: {args.crash} postings, worker SIGKILLed at {at_kill} orders; after the restart "
          f"{total} orders for {distinct} distinct postings, {done()} bound → "
          f"{'nothing imported twice' if total == distinct == args.crash else 'FAILED'}")
    return total == distinct == done() == args.crash


if __name__ == "__main__":
    sys.exit(main())
