"""Benchmark: OneBox CRM sync of a 50,000-product catalogue in 3 languages with 1 % changed, and statuses set in
OneBox reaching the shop.

Catalogue: a MariaDB OpenCart 3.0 shop seeded with `--products` products (names and descriptions in en/tr/ru,
categories, a brand, size options), the OneBox simulator over HTTP and the real SyncCatalog job (real reads,
mappers, content hashes, OneBoxClient). Measures the first sync (requests, and its time at OneBox's pace of
2 requests a second: what the page's estimate says), an idle run (nothing changed: planning time alone, target
no request), and a run after 1 % of the products changed price (requests against a full hourly push, measured in
this run as the first sync's count, and against the PHP module's one product per call).

Statuses in (`--statuses`): orders seeded into the shop are sent by the real feed and jobs; then each one's status
is changed in OneBox, and the time from that change to the history entry in the shop is the wait for the next poll
(at most `--poll-seconds`, 15 by default) plus the measured work of that poll (the OneBox poll + SyncStatus + the shop
write); target: under one poll interval.

    .venv/bin/python bench/onebox_sync.py [--products 50000] [--changed-percent 1] [--statuses 20]

Full size (50,000) is the default when OCBRIDGE_SOAK is set; otherwise 2,000 (a CI-sized run).
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))
ONEBOX_RPS = 2.0  # the client's default pace per box (docs/providers/onebox.md: no published limit)


def setup_django() -> None:
    os.environ.setdefault("OCBRIDGE_DATA_DIR", tempfile.mkdtemp(prefix="ocbridge-bench-"))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ocbridge.settings")
    os.environ["OCBRIDGE_SIMULATOR_HOSTS"] = "127.0.0.1"
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--products", type=int, default=50_000 if os.environ.get("OCBRIDGE_SOAK") else 2_000)
    ap.add_argument("--changed-percent", type=float, default=1.0)
    ap.add_argument("--statuses", type=int, default=20, help="status changes made in OneBox (0: skip)")
    ap.add_argument("--poll-seconds", type=float, default=15.0)
    args = ap.parse_args(argv)
    setup_django()

    import sqlalchemy as sa

    from benchkit import pct
    from ocbridge import opencart
    from ocbridge.core import polls, ratelimit
    from ocbridge.core.jobs import run_job, run_until_idle
    from ocbridge.core.models import Connection, Integration, Job, Store
    from ocbridge.integrations.onebox import jobs
    from ocbridge.opencart import feed
    from ocbridge.opencart.seed import seed
    from ocbridge.simulators.onebox import OneBoxSimulator
    from ocbridge.testbed.mariadb import start_server

    server = start_server()
    sim = OneBoxSimulator(login="api", password="pw")
    sim.start()
    ok = True
    keys = iter(range(10**9))

    def run(kind, integration) -> float:
        t = time.perf_counter()
        run_job(Job.objects.enqueue(kind, key=f"bench:{next(keys)}", integration=integration).pk)
        return time.perf_counter() - t

    def requests() -> int:
        return sum(v for k, v in sim.calls().items() if k != "token/get")

    try:
        url = server.create_database("onebox")
        print(f"Seeding a {args.products:,}-product OpenCart 3.0 shop (3 languages) …", flush=True)
        t = time.perf_counter()
        seed(url, version="3.0", orders=0, products=args.products)
        print(f"  built in {time.perf_counter() - t:.1f} s")
        ratelimit.reset()
        store = Store.objects.create(name="Box", db_url=url, version="3.0", table_prefix="oc_", timezone="UTC",
                                     order_prefix="OB")
        conn = Connection.objects.create(store=store, service="onebox", base_url=sim.base_url,
                                         secret={"login": "api", "password": "pw"}, options={"rps": 100000})
        status_map = {"1": sim.status_id("New"), "2": sim.status_id("Confirmed"), "3": sim.status_id("Shipped"),
                      "5": sim.status_id("Done"), "7": sim.status_id("Cancelled")}
        integration = Integration.objects.create(store=store, kind="onebox", connection=conn, settings={
            "workflow_id": 1, "status_map": {"1": status_map}, "language_map": {"1": "en", "2": "tr", "3": "ru"}})

        # --- catalogue --------------------------------------------------------------------------------------
        first_time = run(jobs.SyncCatalog, integration)
        first = requests()
        products = len(sim.records("product"))
        print(f"\nfirst sync: {products:,} products, {len(sim.records('category'))} categories, "
              f"{len(sim.records('brand'))} brand(s) in {first:,} requests, {first_time:.1f} s here; at OneBox's pace "
              f"({ONEBOX_RPS:g}/s) {first / ONEBOX_RPS / 60:.1f} min — the load page's estimate")
        before = requests()
        idle_time = run(jobs.SyncCatalog, integration)
        idle = requests() - before
        print(f"idle run (nothing changed): {idle} requests, planning {idle_time:.2f} s for {products:,} products")
        changed = max(1, round(args.products * args.changed_percent / 100))
        step = max(1, args.products // changed)
        shop = opencart.shop_db(store)
        p = shop.t("product")
        with shop.engine.begin() as c:
            c.execute(sa.update(p).where(sa.text(f"product_id % {step} = 0")).values(price=p.c.price + 1))
            really = c.execute(sa.select(sa.func.count()).select_from(p).where(sa.text(f"product_id % {step} = 0"))).scalar()
        before = requests()
        incr_time = run(jobs.SyncCatalog, integration)
        incr = requests() - before
        sent = sum(1 for r in sim.records("product") if r.get("datemodify") and r.get("price"))
        per_hour_full, per_product = first, args.products
        print(f"{really:,} products changed ({args.changed_percent:g} %): {incr} requests, {incr_time:.2f} s "
              f"(planning + sending); a full hourly push: {per_hour_full:,} requests (batched, measured above) → "
              f"{per_hour_full / max(incr, 1):,.0f}× fewer; one product per call as the PHP module's API: "
              f"{per_product:,} → {per_product / max(incr, 1):,.0f}× fewer")
        ok &= idle == 0 and incr == math.ceil(really / 50) and products == args.products and sent == products

        # --- statuses set in OneBox -------------------------------------------------------------------------
        if args.statuses:
            feed.poll_shop(feed.shop_key(store))  # the shared shop poll (a routine poll): the feed starts here
            seed(url, version="3.0", orders=args.statuses, products=200, create=False, seed=7)
            feed.poll_shop(feed.shop_key(store))
            run_until_idle()
            polls.run_one(jobs.POLL, polls.integration_key(integration))  # first read of OneBox: its window starts here
            run_until_idle()
            o = shop.t("order")
            sent_ids = [int(r["externalid"].split("-")[1]) for r in sim.records("order")]
            with shop.engine.connect() as c:  # the store's orders past checkout, as OneBox got them
                orders = dict(c.execute(sa.select(o.c.order_id, o.c.order_status_id).where(o.c.order_id.in_(sent_ids))).all())
            targets = {oid: (7 if st != 7 else 5) for oid, st in orders.items()}
            work = []
            for oid, target in targets.items():
                name = "Cancelled" if target == 7 else "Done"
                sim.set_order_status(f"OB-{oid}", name)
                t = time.perf_counter()
                polls.run_one(jobs.POLL, polls.integration_key(integration))
                run_until_idle()
                work.append(time.perf_counter() - t)
            with shop.engine.connect() as c:
                now = dict(c.execute(sa.select(o.c.order_id, o.c.order_status_id).where(o.c.order_id.in_(list(targets)))).all())
            arrived = sum(1 for oid, st in now.items() if st == targets[oid])
            worst = args.poll_seconds + max(work)
            print(f"\nstatus set in OneBox → history entry in the shop: {arrived}/{len(targets)} arrived; work per poll "
                  f"p50 {pct(work, 50) * 1000:.0f} ms, p99 {pct(work, 99) * 1000:.0f} ms; worst case "
                  f"{args.poll_seconds:g} s wait + {max(work):.2f} s = {worst:.1f} s (the PHP module: hourly cron)")
            ok &= arrived == len(targets) and max(work) < args.poll_seconds
    finally:
        sim.stop()
        server.stop()
    print("RESULT:", "PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
