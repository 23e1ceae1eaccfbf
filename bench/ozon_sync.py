"""Benchmark: Ozon sync of a 100,000-product catalogue with 1,000 changed products.

Plans products, stock and prices with the real planner (rules.py) against Bindings held in memory,
then sends the planned batches with the real OzonClient to the Ozon simulator over HTTP and prints:
API calls per endpoint (target ⌈changed/batch⌉), planning time (target < 5 s), the simulator's
limit hits (target: none), and the ratio against one call per product.

    .venv/bin/python bench/ozon_sync.py [--products 100000] [--changed 1000]
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


def setup_django() -> None:
    os.environ.setdefault("OCBRIDGE_DATA_DIR", tempfile.mkdtemp(prefix="ocbridge-bench-"))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ocbridge.settings")
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
    args = ap.parse_args(argv)
    setup_django()

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
    print("RESULT:", "PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
