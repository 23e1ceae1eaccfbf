"""Benchmark: Despatch Cloud fulfilment over a simulated day — ready orders out, despatch and tracking back.

A day of `--orders` orders (arrivals follow a daytime curve) is played poll by poll (one poll = 15 simulated
seconds): checkout writes each order straight into a ready status (order + lines + totals + history row) in a
MariaDB 3.0 shop; the real jobs run (shop history poll → create in DC with lines; DC changed-orders poll →
history entry with tracking); the simulated warehouse despatches each order `--despatch-after` minutes after
it reached DC. Printed:

- ready → created in DC, and despatched in DC → history in the shop: how many polls it took (target: the first
  poll after the event, i.e. under one poll interval of waiting) and the real processing time of a poll (p50/p99,
  must be far below the 15 s interval);
- requests sent to DC per kind, against a 30-minute full pull (every 30 minutes every order page, as a pulling
  integration must do to see despatches) measured with the same client and simulator in the same run;
- a crash run: answers of `orders/create` lost after DC created the order, 503s and 429s, tokens expired —
  every order exactly once in DC with its lines, every tracking code exactly once in the shop.

    .venv/bin/python bench/despatch.py [--orders 10000] [--crash-orders 1000] [--despatch-after 120]
"""

from __future__ import annotations

import argparse
import datetime as dt
import math
import os
import random
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "bench"))

POLL = 15  # simulated seconds per poll (DESIGN.md default)
DAY = 86_400
GB = 222


def setup_django() -> None:
    os.environ.setdefault("OCBRIDGE_DATA_DIR", tempfile.mkdtemp(prefix="ocbridge-bench-"))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ocbridge.settings")
    os.environ["OCBRIDGE_SIMULATOR_HOSTS"] = "127.0.0.1"
    os.environ["OCBRIDGE_TEST_CLOCK"] = "1"  # the hub's clock follows the simulated day (clock.travel)
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0)


def arrivals(n: int, seed: int, day: int) -> list[int]:
    """Arrival second of each order within the day: few at night, most between 09:00 and 23:00."""
    rnd = random.Random(seed)
    weights = [0.2 if h < 7 else 0.6 if h < 9 else 1.5 if h < 23 else 0.5 for h in range(24)]
    hours = rnd.choices(range(24), weights=weights, k=n)
    return sorted(int((h * 3600 + rnd.randrange(3600)) * day / DAY) for h in hours)


class Shop:
    """A 3.0 shop in a throwaway MariaDB database with two products and a UK country row."""

    def __init__(self, server, name: str):
        import sqlalchemy as sa

        from ocbridge.opencart import reference
        from ocbridge.opencart.layouts import metadata_for
        from ocbridge.opencart.reference import complete_row

        self.sa, self.complete_row = sa, complete_row
        self.url = server.create_database(name)
        self.engine = sa.create_engine(self.url)
        self.md = metadata_for("3.0", "oc_")
        self.md.create_all(self.engine)
        self.t = lambda n: self.md.tables["oc_" + n]
        with self.engine.begin() as conn:
            reference.install(conn, self.md, currency="GBP", language="en-gb", timezone="UTC")
            conn.execute(sa.insert(self.t("country")), [complete_row(self.t("country"), {
                "country_id": GB, "name": "United Kingdom", "iso_code_2": "GB", "iso_code_3": "GBR", "status": 1,
                "address_format": "", "postcode_required": 1})])
            for pid in (1, 2):
                conn.execute(sa.insert(self.t("product")), [complete_row(self.t("product"), {
                    "product_id": pid, "model": f"M{pid}", "sku": f"SKU-{pid}", "quantity": 100000, "subtract": 1,
                    "price": Decimal("10"), "status": 1, "date_available": dt.date(2024, 1, 1),
                    "date_added": dt.datetime(2024, 1, 1), "date_modified": dt.datetime(2024, 1, 1)})])
        self._last_history = 0
        self.tracked: dict[int, int] = {}

    def place(self, order_ids: list[int], status: int = 2) -> None:
        """Checkout of these orders, straight into a ready status (as a paid card order is)."""
        sa, cr, t = self.sa, self.complete_row, self.t
        now = dt.datetime(2026, 12, 6, 9)
        orders, lines, totals, history = [], [], [], []
        for oid in order_ids:
            row = {"order_id": oid, "store_id": 0, "firstname": "Ann", "lastname": "Lee", "email": "ann@example.com",
                   "telephone": "07700 900123", "order_status_id": status, "total": Decimal("25.00"),
                   "currency_code": "GBP", "currency_value": Decimal(1), "language_id": 1, "date_added": now,
                   "date_modified": now, "store_name": "UK", "custom_field": "[]", "payment_method": "Card",
                   "payment_code": "stripe", "shipping_method": "Flat", "shipping_code": "flat.flat"}
            for side in ("shipping", "payment"):
                row.update({f"{side}_firstname": "Ann", f"{side}_lastname": "Lee", f"{side}_address_1": "1 High St",
                            f"{side}_city": "Leeds", f"{side}_postcode": "LS1 1AA", f"{side}_country": "United Kingdom",
                            f"{side}_country_id": GB})
            orders.append(cr(t("order"), row))
            lines.append(cr(t("order_product"), {"order_id": oid, "product_id": 1 + oid % 2, "name": "Mug", "model": "M",
                                                 "quantity": 1 + oid % 3, "price": Decimal("10"), "total": Decimal("20"),
                                                 "tax": Decimal(0)}))
            totals.append(cr(t("order_total"), {"order_id": oid, "code": "total", "title": "Total",
                                                "value": Decimal("25.00"), "sort_order": 9}))
            history.append(cr(t("order_history"), {"order_id": oid, "order_status_id": status, "notify": 0,
                                                   "comment": "", "date_added": now}))
        with self.engine.begin() as conn:
            for table, rows in (("order", orders), ("order_product", lines), ("order_total", totals),
                                ("order_history", history)):
                conn.execute(sa.insert(t(table)), rows)

    def new_tracking(self) -> list[int]:
        """Orders that got a history row with a tracking code since the last call (read by primary key);
        `tracked` counts the rows per order."""
        h = self.t("order_history")
        new = []
        with self.engine.connect() as conn:
            rows = conn.execute(self.sa.select(h.c.order_history_id, h.c.order_id, h.c.comment)
                                .where(h.c.order_history_id > self._last_history).order_by(h.c.order_history_id)).all()
        for hid, oid, comment in rows:
            self._last_history = hid
            if "TRK" in comment:
                self.tracked[oid] = self.tracked.get(oid, 0) + 1
                new.append(oid)
        return new


def play_day(server, *, orders: int, despatch_after: float, faults: bool, seed: int, name: str, day: int = DAY) -> dict:
    from benchkit import pct

    from ocbridge.core import clock, polls, ratelimit
    from ocbridge.core.jobs import run_until_idle
    from ocbridge.core.models import Connection, Integration, Job, Store
    from ocbridge.integrations.despatch import jobs
    from ocbridge.opencart import feed
    from ocbridge.services import despatch as dc
    from ocbridge.simulators.despatch import DespatchSimulator

    ratelimit.reset()
    dc.forget_tokens()
    shop = Shop(server, name)
    rnd = random.Random(seed)
    with DespatchSimulator(email="api@shop.example", password="pw", per_page=15) as sim:
        store = Store.objects.create(name=name, db_url=shop.url, table_prefix="oc_", version="3.0",
                                     timezone="UTC", language="en", country="GB", currency="GBP")
        conn = Connection.objects.create(store=store, service="despatch", base_url=sim.base_url,
                                         secret={"email": "api@shop.example", "password": "pw"},
                                         options={"rps": 100000})
        integration = Integration.objects.create(store=store, kind="despatch", connection=conn, settings={
            "ready_status_ids": [2], "order_prefix": "UK-", "despatched_status_id": 3,
            "tracking_url": "https://track.example/{code}"})

        def poll_dc() -> None:  # the routine DC poll (core.polls: no Job row)
            polls.run_one(jobs.POLL, polls.integration_key(integration))

        def poll_shop() -> None:  # the shared shop poll (opencart.feed): Despatch is one of its history consumers
            feed.poll_shop(feed.shop_key(store))

        poll_shop()  # the feed's cursors start at the newest rows
        start = time.time() + clock.offset_seconds()

        def set_time(sim_seconds: float) -> None:
            """Both clocks (hub and DC) to `start + sim_seconds`."""
            target = start + sim_seconds
            clock.travel(target - time.time() - clock.offset_seconds())
            sim.advance(target - sim.now())
        arrive = arrivals(orders, seed, day)
        ready_tick: dict[int, int] = {}
        created_tick: dict[int, int] = {}
        despatch_tick: dict[int, int] = {}
        shop_tick: dict[int, int] = {}
        due_despatch: list[tuple[int, str]] = []  # (tick, channel id)
        poll_ms: list[float] = []
        ticks = day // POLL + int(despatch_after * 60 // POLL) + 8
        next_id, i = 1, 0
        seen_dc = 0
        for tick in range(ticks):
            set_time(tick * POLL)
            if faults and tick % 40 == 0:
                sim.fail_next("reset", path="/public-api/orders/create", after=True)  # created, answer lost
                sim.fail_next("503", path="/public-api/orders", count=2)
                sim.fail_next("429", path="/public-api/order/", retry_after=0)
            if faults and tick % 400 == 0:
                sim.expire_tokens()
            new = []
            while i < len(arrive) and arrive[i] < (tick + 1) * POLL:
                new.append(next_id)
                ready_tick[next_id] = tick
                next_id += 1
                i += 1
            if new:
                shop.place(new)
            while due_despatch and due_despatch[0][0] <= tick:
                _, channel = due_despatch.pop(0)
                sim.despatch(channel, tracking_code=f"TRK{channel[3:]}", courier="Royal Mail")
                despatch_tick[int(channel[3:])] = tick
            # the end of this tick: the scheduled polls run (the dispatcher enqueues both every 15 s)
            set_time((tick + 1) * POLL)
            t0 = time.perf_counter()
            poll_shop()
            poll_dc()
            run_until_idle(max_rounds=20)
            if faults:  # retries of this tick's failures become due at once (backoff is time, not work)
                Job.objects.filter(state="queued").update(next_run_at=dt.datetime(2000, 1, 1, tzinfo=dt.timezone.utc))
                run_until_idle(max_rounds=20)
            poll_ms.append((time.perf_counter() - t0) * 1000)
            for o in sim.orders_since(seen_dc):
                seen_dc += 1
                ch = o["channel_order_id"]
                created_tick[int(ch[3:])] = tick
                due_despatch.append((tick + int(despatch_after * 60 // POLL), ch))
            for oid in shop.new_tracking():
                shop_tick.setdefault(oid, tick)
            if tick % 500 == 0:
                print(f"  {name}: tick {tick}/{ticks}, {len(ready_tick):,} ready, {len(created_tick):,} in DC, "
                      f"{len(shop_tick):,} tracked", end="\r", flush=True)
        print()
        dc_orders = sim.orders()
        calls = sim.calls()
        faults_hit = {}
        for req in sim.requests():
            if req.fault:
                faults_hit[req.fault] = faults_hit.get(req.fault, 0) + 1
        # The pulling way, measured in the same run: every 30 minutes, every page of every order.
        client = dc.DespatchClient(conn)
        full_pull_pages = 0
        per = 15
        day_orders = sorted(created_tick.items(), key=lambda kv: kv[1])
        for mark in range(0, ticks * POLL, 1800):
            n_then = sum(1 for _, tick in day_orders if tick * POLL <= mark)
            full_pull_pages += max(1, math.ceil(n_then / per))
        # one real full pull at the end, to check the page arithmetic against the simulator
        sim.clear_faults()
        before = len(sim.requests("/public-api/orders", "GET"))
        pulled = sum(1 for _ in client.iter_orders(date_range=(0, 2**31 - 1)))
        real_pages = len(sim.requests("/public-api/orders", "GET")) - before
    ready_wait = [created_tick[o] - ready_tick[o] for o in created_tick]
    shop_wait = [shop_tick[o] - despatch_tick[o] for o in shop_tick if o in despatch_tick]
    tracked = shop.tracked
    clock.reset()
    channels = [o["channel_order_id"] for o in dc_orders]
    return {
        "orders": orders, "in_dc": len(dc_orders), "distinct": len(set(channels)),
        "with_lines": sum(1 for o in dc_orders if o["total_inventory_count"] == 1),
        "tracked": len(tracked), "tracked_twice": sum(1 for n in tracked.values() if n > 1),
        "ready_polls": ready_wait, "shop_polls": shop_wait, "poll_ms": poll_ms, "calls": calls,
        "full_pull_pages": full_pull_pages, "real_full_pull_pages": real_pages, "pulled": pulled,
        "p50": pct(poll_ms, 50), "p99": pct(poll_ms, 99), "ticks": ticks,
        "creates": calls.get("create", 0), "faults": faults_hit, "expected_pages_now": max(1, math.ceil(len(dc_orders) / per)),
    }


def report(title: str, r: dict) -> bool:
    from benchkit import pct

    c = r["calls"]
    ours = sum(c.values())
    create_side = c.get("create", 0) + c.get("add_inventory", 0)
    naive = r["full_pull_pages"] + create_side + c.get("login", 0)
    print(f"\n== {title}: {r['orders']:,} orders, {r['ticks']:,} polls of {POLL} s (the day plus the last despatches)")
    if r["faults"]:
        print("faults that hit: " + ", ".join(f"{k} ×{v}" for k, v in sorted(r["faults"].items())) +
              f"; 401 after token expiry: logins {r['calls'].get('login', 0)}")
    print(f"in DC: {r['in_dc']:,} orders, {r['distinct']:,} distinct channel_order_id, {r['with_lines']:,} with their line")
    print(f"in the shop: {r['tracked']:,} orders with a tracking entry, {r['tracked_twice']} with two")
    for label, waits in (("ready → created in DC", r["ready_polls"]), ("despatched in DC → shop history", r["shop_polls"])):
        if waits:
            print(f"{label}: done by the first poll after the event for {sum(1 for w in waits if w == 0) / len(waits):.1%}"
                  f" (latest: {max(waits)} polls after it) → waiting ≤ {POLL} s + that poll's processing")
    print(f"processing per poll (both directions, all jobs): p50 {r['p50']:.0f} ms, p99 {r['p99']:.0f} ms, "
          f"max {max(r['poll_ms']):.0f} ms (interval {POLL * 1000} ms)")
    print("requests to DC by kind: " + ", ".join(f"{k} {v:,}" for k, v in sorted(c.items())))
    reads = c.get("search", 0)
    print(f"order reads (searches: change polls + finds on retries) {reads:,} vs a 30-minute full pull's "
          f"{r['full_pull_pages']:,} pages → {r['full_pull_pages'] / max(reads, 1):.2f}×")
    print(f"all requests {ours:,} vs {naive:,} for the 30-minute full pull with the same creates and lines → "
          f"{naive / max(ours, 1):.2f}×; (check: one full pull at the end read {r['pulled']:,} orders in "
          f"{r['real_full_pull_pages']:,} pages, arithmetic says {r['expected_pages_now']:,})")
    ok = r["in_dc"] == r["distinct"] == r["with_lines"] == r["orders"] and r["tracked_twice"] == 0 \
        and r["tracked"] == r["orders"] and r["p99"] < POLL * 1000
    return ok


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--orders", type=int, default=10_000)
    ap.add_argument("--crash-orders", type=int, default=1_000)
    ap.add_argument("--despatch-after", type=float, default=120.0, help="minutes from DC to despatched")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--orders-only", action="store_true", help="skip the crash day")
    ap.add_argument("--crash-only", action="store_true", help="skip the clean day")
    ap.add_argument("--hours", type=float, default=24.0, help="length of the simulated day (shorter for a quick run)")
    args = ap.parse_args(argv)
    setup_django()
    from ocbridge.testbed.mariadb import start_server

    server = start_server()
    try:
        ok = True
        if not args.crash_only:
            ok &= report("clean day", play_day(server, orders=args.orders, despatch_after=args.despatch_after,
                                               faults=False, seed=args.seed, name="day", day=int(args.hours * 3600)))
        if args.crash_orders and not args.orders_only:
            ok &= report("crash day (answers lost after create, 503, 429, tokens expired)",
                         play_day(server, orders=args.crash_orders, despatch_after=args.despatch_after, faults=True,
                                  seed=args.seed + 1, name="crash", day=int(args.hours * 3600)))
    finally:
        server.stop()
    print("RESULT:", "PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
