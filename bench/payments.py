"""Benchmark: payments — notification ingest rate and link-to-paid latency through the APS simulator.

A MariaDB 3.0 shop with `--orders` pending orders, one pay link each. Printed:

- **notification ingest** (APS direct feedback POSTed to the hub's webhook view, in-process through Django's test
  client, SQLite hub): ours = verify the signature, store the raw notice once, enqueue its job, answer; against
  the naive way measured in the same run = verify and then apply everything inside the request (state change and
  the shop's history write before answering). Also replays (the same notice again): answered as duplicates.
- **link to paid**: the customer opens the link (hub page), is handed to APS's hosted page over HTTP, pays; APS's
  signed feedback reaches the hub; the jobs mark the payment paid and write the owner's paid status into the
  shop. p50 / p99 of the whole, in real time (hub jobs run as soon as they are queued, as a worker would).
- **by status check only** (feedback lost): the return page asks for CHECK_STATUS at once; p50 / p99 of return →
  paid in the shop, against the naive wait of a reconciliation round (60 s) with no such trigger.

    .venv/bin/python bench/payments.py [--orders 300]
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "bench"))

CREDS = {"merchant_identifier": "MxvOupuG", "access_code": "SILgpo7pWbmzuURp2qri", "sha_request_phrase": "PASS",
         "sha_response_phrase": "RESP"}


def setup_django() -> None:
    os.environ.setdefault("OCBRIDGE_DATA_DIR", tempfile.mkdtemp(prefix="ocbridge-bench-"))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ocbridge.settings")
    os.environ["OCBRIDGE_SIMULATOR_HOSTS"] = "127.0.0.1"
    os.environ["OCBRIDGE_PUBLIC_URL"] = "http://testserver"
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0)


def make_shop(server, name: str, orders: int):
    import datetime as dt

    import sqlalchemy as sa

    from ocbridge.opencart import reference
    from ocbridge.opencart.layouts import metadata_for
    from ocbridge.opencart.reference import complete_row

    url = server.create_database(name)
    engine = sa.create_engine(url)
    md = metadata_for("3.0", "oc_")
    md.create_all(engine)
    t = lambda n: md.tables["oc_" + n]  # noqa: E731
    with engine.begin() as conn:
        reference.install(conn, md, currency="AED", language="en-gb", timezone="UTC")
        now = dt.datetime(2026, 12, 6, 9)
        conn.execute(sa.insert(t("order")), [complete_row(t("order"), {
            "order_id": i, "store_id": 0, "order_status_id": 1, "total": 40, "currency_code": "AED",
            "currency_value": 1, "language_id": 1, "email": "x@example.com", "custom_field": "[]", "date_added": now,
            "date_modified": now, "payment_method": "Card", "payment_code": "ocbridge"}) for i in range(1, orders + 1)])
        conn.execute(sa.insert(t("order_history")), [complete_row(t("order_history"), {
            "order_id": i, "order_status_id": 1, "notify": 0, "comment": "", "date_added": now})
            for i in range(1, orders + 1)])
    return url, engine, t


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--orders", type=int, default=300)
    args = ap.parse_args(argv)
    setup_django()
    from benchkit import pct
    from django.test import Client

    from ocbridge.core.jobs import run_until_idle
    from ocbridge.core.models import Connection, Integration, Store
    from ocbridge.integrations.payments import links
    from ocbridge.integrations.payments.gateways import gateway_for
    from ocbridge.integrations.payments.models import Payment
    from ocbridge.integrations.payments.notices import apply_word
    from ocbridge.simulators.aps import ApsSimulator, sign
    from ocbridge.testbed.mariadb import start_server

    n = args.orders
    server = start_server()
    sim = ApsSimulator()
    sim.start()
    try:
        url, engine, t = make_shop(server, "bench_pay", 3 * n)
        store = Store.objects.create(name="Bench", db_url=url, table_prefix="oc_", version="3.0", timezone="UTC",
                                     currency="AED")
        conn = Connection.objects.create(store=store, service="aps", base_url=sim.base_url, secret=dict(CREDS))
        integration = Integration.objects.create(store=store, kind="aps", connection=conn,
                                                 settings={"command": "PURCHASE", "paid_status_id": 2})
        hub = Client()
        hook = f"/hooks/aps/{conn.webhook_token}/feedback"

        def feedback(p) -> dict:
            params = {"command": "PURCHASE", "merchant_reference": p.reference, "amount": str(p.amount_minor),
                      "currency": "AED", "response_code": "14000", "status": "14", "fort_id": f"9{p.pk:09d}",
                      "response_message": "Success", "access_code": CREDS["access_code"],
                      "merchant_identifier": CREDS["merchant_identifier"], "language": "en"}
            params["signature"] = sign(params, "RESP")
            return params

        # 1. ingest: ours (store + enqueue) against inline processing -------------------------------------------
        ours_pay = [links.new_payment(integration, order_id=i, amount="40", currency="AED") for i in range(1, n + 1)]
        bodies = [urlencode(feedback(p)) for p in ours_pay]
        t0 = time.perf_counter()
        for body in bodies:
            assert hub.post(hook, body, content_type="application/x-www-form-urlencoded").status_code == 200
        ours_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        for body in bodies:  # replays: the same notices again
            hub.post(hook, body, content_type="application/x-www-form-urlencoded")
        replay_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        run_until_idle(max_rounds=10_000)
        drain_s = time.perf_counter() - t0
        paid = Payment.objects.filter(pk__in=[p.pk for p in ours_pay], state="paid").count()

        naive_pay = [links.new_payment(integration, order_id=n + i, amount="40", currency="AED") for i in range(1, n + 1)]
        gw = gateway_for(integration)
        t0 = time.perf_counter()
        for p in naive_pay:  # the naive way: verify and apply all inside the request (as a plugin's callback does)
            params = feedback(p)
            assert gw.verify(params)
            apply_word(p, gw.word(params), actor="gateway")
            run_until_idle()  # the shop write, before answering
        naive_s = time.perf_counter() - t0

        # 2. link to paid through the simulator --------------------------------------------------------------
        sim.configure(feedback_url="", notification_url="")  # feedback goes in below, in-process, as it arrives
        lat, lat_check = [], []
        import httpx

        web = httpx.Client(timeout=10)  # the customer's browser
        for i in range(1, n + 1):
            p = links.new_payment(integration, order_id=2 * n + i, amount="40", currency="AED")
            started = time.perf_counter()
            page = hub.get(links.url_for(p).replace("http://testserver", ""))
            fields = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', page.content.decode()))
            fields = {k: v.replace("&amp;", "&") for k, v in fields.items()}
            card = web.post(sim.base_url + "/FortAPI/paymentPage", data=fields)
            token = re.search(r"name=page value=(\S+)>", card.text).group(1)
            back = web.post(sim.base_url + "/FortAPI/paymentPage/decide", data={"page": token, "decision": "pay"})
            answer = dict(httpx.URL(back.headers["location"]).params)
            if i % 2:  # APS's direct feedback arrives
                hub.post(hook, urlencode(answer), content_type="application/x-www-form-urlencoded")
                run_until_idle()
                bucket = lat
            else:  # the feedback is lost: the return page triggers the status check
                hub.get(links.return_url(p).replace("http://testserver", "") + "?" + urlencode(answer))
                run_until_idle()
                bucket = lat_check
            p.refresh_from_db()
            assert p.state == "paid", p.state
            bucket.append((time.perf_counter() - started) * 1000)
        with engine.connect() as c:
            import sqlalchemy as sa

            written = c.execute(sa.select(sa.func.count()).select_from(t("order")).where(
                t("order").c.order_status_id == 2)).scalar()
    finally:
        sim.stop()
        server.stop()
    print(f"\nnotification ingest, {n} feedback POSTs (SQLite hub, in-process):")
    print(f"  ours (verify, store raw once, enqueue): {n / ours_s:,.0f}/s; replays answered as duplicates: "
          f"{n / replay_s:,.0f}/s; jobs drained after: {n / drain_s:,.0f}/s ({paid} of {n} paid)")
    print(f"  naive (apply and write the shop inside the request): {n / naive_s:,.0f}/s  → ratio {naive_s / ours_s:.1f}×")
    print(f"link to paid (hub page → APS page → pay → feedback → paid status in the shop), {len(lat)} payments: "
          f"p50 {pct(lat, 50):.0f} ms, p99 {pct(lat, 99):.0f} ms")
    print(f"  feedback lost, return page → status check → paid, {len(lat_check)} payments: p50 {pct(lat_check, 50):.0f} ms,"
          f" p99 {pct(lat_check, 99):.0f} ms (naive: wait for the next 60 s reconciliation round)")
    print(f"  orders at the paid status in the shop: {written} of {3 * n}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
