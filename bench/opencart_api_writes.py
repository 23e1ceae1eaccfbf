"""Benchmark: CPU per order-status write through OpenCart's native API, HTTP client per write against shared.

A SQLite shop (3.0 layout) behind the OpenCart API simulator on loopback; `--writes` status changes through the real
write path (opencart.writes.change_status: journal row, status re-read, add-history call, Exchange rows), done twice
in the same run: as before (a new HTTP client, TLS context and pool for every write) and as now (the process's one
client for the shop's host, core.http.shared_client, with the store's API session sent per request). Prints CPU per
write of the writing thread (time.thread_time: the simulator's threads are not counted) and wall time per write.

    .venv/bin/python bench/opencart_api_writes.py [--writes 200]
"""

from __future__ import annotations

import argparse
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
    os.environ["OCBRIDGE_SIMULATOR_HOSTS"] = "127.0.0.1"  # the shop's API on loopback
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--writes", type=int, default=200, help="status writes per mode")
    args = ap.parse_args(argv)
    setup_django()

    import sqlalchemy as sa

    from ocbridge.core import http
    from ocbridge.core.models import Store
    from ocbridge.opencart import api, writes
    from ocbridge.opencart.reference import DEFAULT_API_KEY, complete_row
    from ocbridge.opencart.seed import create_shop
    from ocbridge.simulators.opencart_api import OpenCartApiSimulator

    url = f"sqlite:///{tempfile.mkdtemp(prefix='ocbridge-bench-shop-')}/shop.db"
    engine = create_shop(url, "3.0")
    n = args.writes
    with engine.begin() as conn:
        o = sa.Table("oc_order", sa.MetaData(), autoload_with=conn)
        conn.execute(sa.insert(o), [complete_row(o, {"order_id": i, "store_id": 0, "order_status_id": 1,
                                                     "telephone": "0532 123 45 67", "total": 100,
                                                     "currency_code": "TRY", "currency_value": 1})
                                    for i in range(1, 2 * n + 1)])

    def per_client_per_write(service, base_url, timeout=30.0):
        return http.HttpClient(service, base_url=base_url, timeout=timeout)  # what api.py built before

    results = {}
    with OpenCartApiSimulator(url, version="3.0") as sim:
        store = Store(name="Bench", db_url=url, secret={"api_key": DEFAULT_API_KEY}, oc_store_id=0, country="TR",
                      api_url=sim.base_url + "/", api_username="Default")
        store.save()
        for label, first, make in (("before: a client per write", 1, per_client_per_write),
                                   ("now: the shared client", n + 1, http.shared_client)):
            api.shared_client = make
            writes.change_status(store, first, expected=1, new=2, key=f"bench:warm:{first}")  # login, imports
            cpu, wall = time.thread_time(), time.perf_counter()
            for i in range(first + 1, first + n):
                r = writes.change_status(store, i, expected=1, new=2, key=f"bench:{i}")
                assert r.written and r.via == "api", r
            count = n - 1
            results[label] = ((time.thread_time() - cpu) / count * 1000, (time.perf_counter() - wall) / count * 1000)
        api.shared_client = http.shared_client
        logins = sum(1 for q in sim.requests() if "login" in (q.arg("route") or ""))
    for label, (cpu_ms, wall_ms) in results.items():
        print(f"{label:30s} CPU {cpu_ms:6.2f} ms/write   wall {wall_ms:6.2f} ms/write")
    (before, _), (now, _) = results.values()
    print(f"CPU per write {now - before:+.2f} ms ({(now - before) / before:+.0%}); logins {logins} for {2 * n} writes")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
