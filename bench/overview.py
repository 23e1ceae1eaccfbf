"""Benchmark: the dashboard overview and the confirmations list with 1,000,000 Confirmations in the hub DB.

Builds a throwaway hub database (SQLite, WAL, as shipped; or OCBRIDGE_DATABASE_URL) holding N Confirmations
(default 1,000,000) of one store spread over the last D days (default 365), each with one to three Attempts
(call / SMS, answered or not) — then, through Django's test client with a logged-in user (warm: one request
first), measures:
  (1) the overview page for that store (today / 7 / 30-day figures, median time to confirm, money saved,
      outcomes per day, channel split, answer rate by hour, connection health). Target p50 < 300 ms. Beside it the
      "Exchanges per day" card's figures alone (all stores, and one store), ours and the way before (grouped by date),
      and one store's counted through the level index (every store's warnings: how it was before core 0027).
  (2) beside it, in the same run, the naive way: load the 30-day Confirmations and their Attempts as model
      objects and compute the same figures in Python loops. Printed as a ratio.
  (3) the confirmations list: first page, a page deep in the keyset pagination, a state filter, text searches
      (bounded by the list's default 30-day search window, and one widened to a year).
  (4) the request log (Exchanges; `--exchanges`, default 1,000,000, over `--log-days` days, `--log-stores` stores
      (default 5), several services): the default 7-day page, each filter the page offers (store, service, level,
      direction), page 3 and a week in the past — each with the index SQLite's plan takes and whether it sorts; the
      default page of a user who owns one store, with core.access's ids in the query and by subquery (the way before);
      and that of users who see 2, 10 and 100 stores (as many as there are; their ids in the query, their week's rows
      sorted).
  (5) on SQLite, (1)'s pages, (3) and (4) again after the hub's upkeep (core.upkeep: ANALYZE of the tables that
      need it, what the worker runs): the same pages without statistics and with them, in the same run, and what the
      upkeep cost.

    .venv/bin/python bench/overview.py [--confirmations 1000000] [--days 365] [--exchanges 1000000] [--log-days 30]
                                      [--log-stores 5] [--repeat 15] [--db DIR]

--db DIR keeps the hub database in DIR (created if missing) instead of a throwaway one: the first run builds it,
later runs with the same --confirmations, --days, --exchanges and --log-days reuse it (migrations still run, so a
new migration is applied to the million rows too). The rows' times are spread back from the moment of the build, so a database kept for
days drifts out of the overview's windows: delete DIR to build afresh.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import os
import random
import statistics
import sys
import tempfile
import textwrap
import time
from decimal import Decimal
from pathlib import Path

import benchkit
from benchkit import pct

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

STATE_ODDS = [("confirmed", 55), ("cancelled", 15), ("expired", 10), ("no_answer", 3), ("needs_person", 5),
              ("resolved_in_shop", 5), ("failed", 2), ("calling", 2), ("sms_sent", 1), ("scheduled", 2)]


def line(name: str, ms: list[float]) -> str:
    return f"  {name:<56} p50 {statistics.median(ms):9.1f} ms   p99 {pct(ms, 99):9.1f} ms   (n={len(ms)})"


def timed(fn, repeat: int) -> tuple[list[float], object]:
    fn()  # warm: connection open, templates compiled, pages in the OS cache
    return benchkit.timed(fn, repeat)


def setup_django(tmp: str, data_dir: str | None = None) -> None:
    mod = Path(tmp) / "bench_overview_settings.py"
    mod.write_text(textwrap.dedent("""
        from ocbridge.settings import *  # noqa
        DEBUG = False
        ALLOWED_HOSTS = ["*"]
        LOGGING = {"version": 1, "disable_existing_loggers": False, "root": {"level": "ERROR"}}
    """))
    sys.path.insert(0, tmp)
    os.environ["OCBRIDGE_DATA_DIR"] = data_dir or tmp
    os.environ["DJANGO_SETTINGS_MODULE"] = "bench_overview_settings"
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def build(n: int, days: int, seed: int = 1):
    """Store + sandbox Connection + cod_confirm Integration, then N Confirmations and their Attempts in bulk."""
    from django.db import connection, transaction

    from ocbridge.core.models import Connection, Integration, Store
    from ocbridge.integrations.cod_confirm import plan
    from ocbridge.integrations.cod_confirm.config import CodConfirmConfig
    from ocbridge.integrations.cod_confirm.models import Attempt, Confirmation

    store = Store.objects.create(name="Bench Mağaza", timezone="Europe/Istanbul", currency="TRY", country="TR")
    conn = Connection.objects.create(store=store, service="sandbox", base_url="http://127.0.0.1:9/",
                                     secret={"token": "t"}, rate_limited_count=17,
                                     last_ok_at=dt.datetime.now(dt.UTC), last_error="503 from sandbox",
                                     last_error_at=dt.datetime.now(dt.UTC) - dt.timedelta(hours=2))
    integ = Integration.objects.create(store=store, kind="cod_confirm",
                                       settings=CodConfirmConfig(return_shipping_cost=Decimal("85")).to_settings())
    plan.replace(integ, plan.default_steps(conn))
    rng = random.Random(seed)
    states = [s for s, w in STATE_ODDS for _ in range(w)]
    names = ["Ayşe Yılmaz", "Mehmet Kaya", "Fatma Demir", "Ivan Petrov", "Olga Smirnova", "John Smith"]
    now = dt.datetime.now(dt.UTC)
    span = days * 86400
    c_table, a_table = Confirmation._meta.db_table, Attempt._meta.db_table
    c_cols = ("store_id", "integration_id", "order_id", "order_label", "customer_name", "phone_raw", "phone",
              "language", "currency", "total", "item_count", "payment_code", "status_at_start", "state",
              "attempts_made", "decided_by", "needs_person_reason", "last_error", "created", "decided_at", "updated")
    a_cols = ("confirmation_id", "store_id", "number", "channel", "service", "key", "state", "provider_id", "answer", "created",
              "manual")
    vendor = connection.vendor

    def ts(value: dt.datetime):
        # What Django stores: naive UTC text on SQLite, aware datetimes elsewhere.
        return value.strftime("%Y-%m-%d %H:%M:%S.%f") if vendor == "sqlite" else value

    c_sql = (f'INSERT INTO "{c_table}" ({", ".join(c_cols)}) VALUES ({", ".join(["%s"] * len(c_cols))})')
    a_sql = (f'INSERT INTO "{a_table}" ({", ".join(a_cols)}) VALUES ({", ".join(["%s"] * len(a_cols))})')
    if vendor == "mysql":
        c_sql, a_sql = c_sql.replace('"', "`"), a_sql.replace('"', "`")
    chunk = 20000
    t0 = time.perf_counter()
    attempts_total = 0
    for start in range(0, n, chunk):
        rows, created_at = [], []
        for i in range(start, min(n, start + chunk)):
            # Orders arrive in id order (older first), as in a running shop.
            created = now - dt.timedelta(seconds=span * (1 - (i + rng.random()) / n))
            state = rng.choice(states)
            decided = created + dt.timedelta(seconds=rng.randint(40, 5400)) if state in ("confirmed", "cancelled") else None
            phone = f"+90532{rng.randrange(10**7):07d}"
            rows.append((store.pk, integ.pk, 100000 + i, str(100000 + i), rng.choice(names), phone, phone, "tr",
                         "TRY", f"{rng.randint(100, 5000)}.0000", rng.randint(1, 5), "cod", 1, state,
                         1, "customer" if decided else "", "", "", ts(created), ts(decided) if decided else None,
                         ts(decided or created)))
            created_at.append((created, state))
        with transaction.atomic():
            with connection.cursor() as cur:
                cur.executemany(c_sql, rows)
                cur.execute(f'SELECT id FROM "{c_table}" WHERE order_id >= %s AND order_id < %s ORDER BY order_id'
                            .replace('"', "`" if vendor == "mysql" else '"'), [100000 + start, 100000 + start + len(rows)])
                ids = [r[0] for r in cur.fetchall()]
                arows = []
                for cid, (created, state) in zip(ids, created_at):
                    k = 1 if state in ("confirmed", "cancelled") and rng.random() < 0.7 else rng.randint(1, 3)
                    for num in range(1, k + 1):
                        at = created + dt.timedelta(minutes=[0, 30, 120][num - 1])
                        channel = "sms" if num == 3 or rng.random() < 0.15 else "call"
                        last = num == k
                        a_state = ("answered" if last and state in ("confirmed", "cancelled", "needs_person")
                                   else "in_flight" if last and state in ("calling", "sms_sent") else "no_answer")
                        arows.append((cid, store.pk, num, channel, "sandbox", f"cod_confirm:{store.pk}:{cid}:{channel}:{num}",
                                      a_state, f"p{cid}-{num}", "1" if a_state == "answered" else "", ts(at), False))
                cur.executemany(a_sql, arows)
                attempts_total += len(arows)
        print(f"  {min(n, start + chunk):,}/{n:,} confirmations", end="\r", flush=True)
    if vendor == "postgresql":
        with connection.cursor() as cur:
            cur.execute("ANALYZE")  # PostgreSQL's autovacuum would do this on its own after a bulk load
    # Not on SQLite: the hub never runs ANALYZE, and its statistics (one store, eleven states) lead the planner to
    # a skip-scan of the (state, created) index instead of the store's covering range.
    print(f"\n  built in {time.perf_counter() - t0:.1f}s: {n:,} confirmations, {attempts_total:,} attempts")
    return store, integ


LOG_SERVICES = [("sandbox", 40), ("netgsm", 20), ("opencart", 20), ("verimor", 10), ("despatch", 6), ("ozon", 4)]


def build_exchanges(n: int, days: int, store, n_stores: int = 5, seed: int = 2) -> None:
    """N Exchanges (the request log) over the last `days` days, newest last as a running hub writes them: `n_stores`
    stores (the bench store and more), services, levels and directions in realistic shares."""
    from django.db import connection, transaction

    from ocbridge.core.models import Exchange, Store

    stores = [store.pk] + [Store.objects.get_or_create(name=f"Bench log store {k}")[0].pk for k in range(1, n_stores)]
    rng = random.Random(seed)
    services = [s for s, w in LOG_SERVICES for _ in range(w)]
    now = dt.datetime.now(dt.UTC)
    span = days * 86400
    vendor = connection.vendor
    cols = ("created", "service", "direction", "purpose", "store_id", "order_id", "key", "method", "url",
            "request_headers", "request_body", "status", "response_headers", "response_body", "duration_ms", "level",
            "outcome", "error", "event_id")
    table = Exchange._meta.db_table
    sql = f'INSERT INTO "{table}" ({", ".join(cols)}) VALUES ({", ".join(["%s"] * len(cols))})'
    if vendor == "mysql":
        sql = sql.replace('"', "`")
    t0 = time.perf_counter()
    for start in range(0, n, 20000):
        rows = []
        for i in range(start, min(n, start + 20000)):
            created = now - dt.timedelta(seconds=span * (1 - (i + rng.random()) / n))
            service = rng.choice(services)
            inbound = rng.random() < 0.3
            level = "error" if rng.random() < 0.01 else "warning" if rng.random() < 0.04 else "info"
            order = 100000 + rng.randrange(n) if rng.random() < 0.6 else None
            rows.append((created.strftime("%Y-%m-%d %H:%M:%S.%f") if vendor == "sqlite" else created, service,
                         "in" if inbound else "out", f"{service}.bench", rng.choice(stores), order,
                         "" if inbound else f"bench:{i}", "POST", f"https://{service}.example/api/{i % 97}", "{}",
                         '{"to": "+90532*****12"}', 200 if level == "info" else 503, "{}", '{"ok": true}',
                         rng.uniform(20, 900), level, "ok" if level == "info" else "failed",
                         "" if level == "info" else "503 Service Unavailable", f"ev{i}" if inbound else ""))
        with transaction.atomic(), connection.cursor() as cur:
            cur.executemany(sql, rows)
        print(f"  {min(n, start + 20000):,}/{n:,} exchanges", end="\r", flush=True)
    print(f"\n  built in {time.perf_counter() - t0:.1f}s: {n:,} exchanges over {days} days")


def plan_of(qs) -> str:
    """The index SQLite's plan reads (and whether it sorts): what the planner chose for a page's query."""
    from django.db import connection

    if connection.vendor != "sqlite":
        return ""
    sql, params = qs.query.sql_with_params()
    with connection.cursor() as cur:
        cur.execute("EXPLAIN QUERY PLAN " + sql, params)
        steps = [row[-1] for row in cur.fetchall()]
    uses = [s.split(" USING ", 1)[1] if " USING " in s else s for s in steps if s.startswith(("SEARCH", "SCAN"))]
    return "; ".join(uses) + ("; SORTS" if any("TEMP B-TREE" in s for s in steps) else "")


def naive_overview(store, tz) -> dict:
    """The way without aggregation: the window's rows as objects, figures counted in Python."""
    from ocbridge.dashboard import cod_stats
    from ocbridge.integrations.cod_confirm.config import CodConfirmConfig
    from ocbridge.integrations.cod_confirm.models import Attempt, Confirmation

    now = dt.datetime.now(dt.UTC)
    starts = cod_stats.window_starts(tz, now)
    confs = list(Confirmation.objects.filter(store=store, created__gte=starts["30"]))
    cost = CodConfirmConfig.from_settings(store.integrations.get(kind="cod_confirm").settings).return_shipping_cost
    out = {}
    for w, start in starts.items():
        rows = [c for c in confs if c.created >= start]
        counts = {g: 0 for g in cod_stats.GROUPS}
        for c in rows:
            counts[cod_stats.GROUP_OF[c.state]] += 1
        waits = sorted((c.decided_at - c.created).total_seconds() for c in rows if c.state == "confirmed" and c.decided_at)
        out[w] = (len(rows), counts, statistics.median(waits) if waits else None, counts["cancelled"] * cost)
    per_day: dict = {}
    for c in confs:
        key = (c.created.astimezone(tz).date(), cod_stats.GROUP_OF[c.state])
        per_day[key] = per_day.get(key, 0) + 1
    attempts = list(Attempt.objects.filter(confirmation__in=[c.pk for c in confs]) if len(confs) < 30000 else
                    Attempt.objects.filter(confirmation__store=store, confirmation__created__gte=starts["30"]))
    channels: dict = {}
    hours = [[0, 0] for _ in range(24)]
    for a in attempts:
        channels[a.channel] = channels.get(a.channel, 0) + 1
        if a.state in ("answered", "no_answer"):
            h = a.created.astimezone(tz).hour
            hours[h][0] += 1
            hours[h][1] += a.state == "answered"
    out["per_day"], out["channels"], out["hours"] = per_day, channels, hours
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--confirmations", type=int, default=1_000_000)
    ap.add_argument("--days", type=int, default=365, help="the confirmations are spread over this many days")
    ap.add_argument("--exchanges", type=int, default=1_000_000, help="request log rows (section 4)")
    ap.add_argument("--log-days", type=int, default=30, help="the exchanges are spread over this many days")
    ap.add_argument("--log-stores", type=int, default=5, help="the exchanges are spread over this many stores")
    ap.add_argument("--repeat", type=int, default=15)
    ap.add_argument("--db", metavar="DIR", help="keep the hub database in DIR and reuse it on later runs (SQLite)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="ocbridge-bench-overview-") as tmp:
        if args.db:
            Path(args.db).mkdir(parents=True, exist_ok=True)
        setup_django(tmp, str(Path(args.db).resolve()) if args.db else None)
        from zoneinfo import ZoneInfo

        from django.contrib.auth.models import User
        from django.db import connection
        from django.test import Client
        from django.urls import reverse

        from ocbridge.core.models import Store
        from ocbridge.dashboard import cod_stats
        from ocbridge.integrations.cod_confirm.models import Confirmation

        marker = Path(args.db) / "bench-overview.built" if args.db else None
        wanted = f"{args.confirmations} {args.days} {args.exchanges} {args.log_days}" + (
            f" {args.log_stores}" if args.log_stores != 5 else "")
        if marker is not None and marker.exists() and marker.read_text().strip() == wanted:
            store = Store.objects.get(name="Bench Mağaza")
            print(f"Hub database: {connection.vendor}, kept in {args.db} ({args.confirmations:,} Confirmations over "
                  f"{args.days} days, {args.exchanges:,} Exchanges over {args.log_days} days, built "
                  f"{dt.datetime.fromtimestamp(marker.stat().st_mtime):%Y-%m-%d %H:%M})")
        else:
            if marker is not None and Store.objects.exists():
                sys.exit(f"{args.db} holds another hub database: give an empty or new directory")
            print(f"Hub database: {connection.vendor}. Building {args.confirmations:,} Confirmations over "
                  f"{args.days} days …", flush=True)
            store, _integ = build(args.confirmations, args.days)
            build_exchanges(args.exchanges, args.log_days, store, args.log_stores)
            if marker is not None:
                marker.write_text(wanted + "\n")
        if drop_statistics():
            print("  (the statistics an earlier run's upkeep left are dropped: (1)-(4) measure a hub without them)")
        tz = ZoneInfo(store.timezone)
        starts = cod_stats.window_starts(tz, dt.datetime.now(dt.UTC))
        window = Confirmation.objects.filter(store=store, created__gte=starts["30"]).count()
        print(f"  {window:,} of them in the last 30 days (the overview's widest window)")
        user = User.objects.filter(username="bench").first() or User.objects.create_user(
            "bench", password="x", is_staff=True, is_superuser=True)
        client = Client()
        client.force_login(user)
        home = reverse("dashboard:home")

        clients = {user.pk: client}

        def page(url, who=None, **params):
            if who is not None and who.pk not in clients:
                clients[who.pk] = Client()
                clients[who.pk].force_login(who)
            by = clients[who.pk] if who is not None else client

            def get():
                resp = by.get(url, params)
                assert resp.status_code == 200, resp.status_code
                return resp
            return get

        print("\n(1) overview page, one store (Django test client, warm)")
        ms_ov, resp = timed(page(home, store=store.pk), args.repeat)
        html = resp.content.decode()
        assert "Median time to confirm" in html and "Answer rate by hour of day" in html
        print(line("ours: overview, 30-day charts (default)", ms_ov))
        ms_ov7, _ = timed(page(home, store=store.pk, days=7), args.repeat)
        print(line("ours: overview, 7-day charts", ms_ov7))
        ms_ov90, _ = timed(page(home, store=store.pk, days=90), max(3, args.repeat // 3))
        print(line("ours: overview, 90-day charts", ms_ov90))
        ms_all, _ = timed(page(home, store=""), max(3, args.repeat // 3))
        print(line("ours: overview, all stores (UTC days)", ms_all))
        log_per_day(store, args)
        ms_naive, _ = timed(lambda: naive_overview(store, tz), max(3, args.repeat // 5))
        print(line("naive: 30-day rows as objects, figures in Python", ms_naive))
        print(f"  ratio (naive figures alone ÷ our whole page) p50 "
              f"{statistics.median(ms_naive) / statistics.median(ms_ov):.1f}×  "
              f"target p50 < 300 ms: {'met' if statistics.median(ms_ov) < 300 else 'NOT met'}")

        lists = ([("overview: 30-day charts (default)", statistics.median(ms_ov)),
                  ("overview: all stores", statistics.median(ms_all))]
                 + confirmation_list(page, args, store, tz) + log_pages(page, args, store, user))
        if connection.vendor == "sqlite":
            upkeep(page, args, store, tz, user, lists)


def log_per_day(store, args) -> None:
    """The overview's "Exchanges per day" card's figures alone, all stores and one store, 30 days: ours (index range
    counts, dashboard.overview.exchanges_per_day) beside the way before (the period's rows grouped by local date), same
    run, same answer checked."""
    from zoneinfo import ZoneInfo

    from django.db.models import Count

    from ocbridge.core.models import Exchange
    from ocbridge.dashboard import overview
    from ocbridge.dashboard.dbtime import local_date

    def grouped(shown, period):
        rows = Exchange.objects.filter(created__gte=period.start, created__lt=period.end)
        rows = rows if shown is None else rows.filter(store=shown)
        out: dict = {}
        for r in (rows.annotate(day=local_date("created", period.tz, period.start, period.end))
                  .values("day", "level").annotate(n=Count("id")).order_by()):
            day = r["day"] if isinstance(r["day"], dt.date) else dt.date.fromisoformat(str(r["day"]))
            out.setdefault(r["level"], {})[day] = r["n"]
        return out

    ours_fn = getattr(overview, "exchanges_per_day", None)
    for name, shown, zone in (("all stores (UTC days)", None, "UTC"), ("one store (its days)", store, store.timezone)):
        period = overview.Period.last(30, ZoneInfo(zone))
        ms_old, before = timed(lambda: grouped(shown, period), max(3, args.repeat // 3))
        print(line(f"log per day, {name}: the way before (grouped)", ms_old))
        if ours_fn is None:
            continue
        ms_new, ours = timed(lambda: ours_fn(shown, period), max(3, args.repeat // 3))
        same = {k: {d: n for d, n in v.items() if n} for k, v in ours.items()} == before
        print(line(f"log per day, {name}: ours (range counts)", ms_new)
              + f"   {statistics.median(ms_old) / statistics.median(ms_new):.1f}×, same figures: {same}")
        if shown is not None and has_index("exchange_store_trouble"):
            # Before core 0027 the store's warnings and errors were counted through (level, created), every store's.
            with level_index_forced():
                ms_lvl, by_level = timed(lambda: ours_fn(shown, period), max(3, args.repeat // 3))
            print(line(f"log per day, {name}: through the level index (before 0027)", ms_lvl)
                  + f"   ours {statistics.median(ms_lvl) / statistics.median(ms_new):.1f}× faster, same figures: "
                  f"{by_level == ours}")


def has_index(name: str) -> bool:
    from django.db import connection

    if connection.vendor != "sqlite":
        return False
    with connection.cursor() as cur:
        cur.execute("SELECT 1 FROM sqlite_master WHERE type = 'index' AND name = %s", [name])
        return cur.fetchone() is not None


@contextlib.contextmanager
def level_index_forced():
    """SQLite reads a store's counts by level through the all-stores level index (INDEXED BY), as it did before 0027
    (exchange_level_time; since core 0034 exchange_trouble_time, every store's warnings and errors)."""
    from django.db import connection

    table = 'FROM "core_exchange" WHERE '
    index = "exchange_trouble_time" if has_index("exchange_trouble_time") else "exchange_level_time"

    def force(execute, sql, params, many, context):
        if "COUNT(*)" in sql and table in sql:
            head, *parts = sql.split(table)
            sql = head + "".join((table.replace("WHERE", f'INDEXED BY "{index}" WHERE')
                                  if '"level" = ' in p.split(") c", 1)[0] else table) + p for p in parts)
        return execute(sql, params, many, context)

    with connection.execute_wrapper(force):
        yield


def confirmation_list(page, args, store, tz) -> list:
    """(3): the confirmations list's pages; returns (name, p50) of each, for (5)."""
    from django.urls import reverse

    from ocbridge.integrations.cod_confirm.models import Confirmation

    print("\n(3) confirmations list (keyset pagination by id, 50 rows a page)")
    lst = reverse("dashboard:confirmations")
    mid = Confirmation.objects.order_by("-pk").values_list("pk", flat=True)[args.confirmations // 2]
    recent_phone = Confirmation.objects.order_by("-pk").values_list("phone", flat=True)[100]
    year_ago = (dt.datetime.now(tz) - dt.timedelta(days=364)).date().isoformat()
    oldest_phone = Confirmation.objects.order_by("pk").values_list("phone", flat=True).first()
    few = max(3, args.repeat // 3)
    cases = [("first page", {}, args.repeat),
             (f"a page half-way down (before={mid})", {"before": mid}, args.repeat),
             ("state = cancelled", {"state": "cancelled"}, args.repeat),
             ("state = failed, half-way down", {"state": "failed", "before": mid}, args.repeat),
             ("store filter", {"store": store.pk}, args.repeat),
             ("text search: a common name", {"q": "Olga"}, args.repeat),
             ("text search: one phone number (a recent order)", {"q": "0532 " + recent_phone[6:]}, few),
             ("text search matching nothing (default 30-day window)", {"q": "no-such-customer-xyz"}, few),
             ("text search: oldest order's phone, widened to 365 days", {"q": "0532 " + oldest_phone[6:],
                                                                         "start": year_ago}, few)]
    out = []
    for name, params, repeat in cases:
        ms, resp = timed(page(lst, **params), repeat)
        if params.get("q") == "no-such-customer-xyz":
            assert 'id="search-window"' in resp.content.decode()
        print(line(name, ms))
        out.append((f"confirmations: {name}", statistics.median(ms)))
    return out


def log_pages(page, args, store, user) -> list:
    """(4): the request log's pages, each filter the page offers; returns (name, p50) of each, for (5)."""
    from django.urls import reverse

    from django.db.models import Q

    from ocbridge.core.models import Exchange, Store
    from ocbridge.dashboard.filters import exchange_queryset
    from ocbridge.dashboard.forms import ExchangeFilterForm
    from ocbridge.dashboard.views import exchanges as log_view

    order = getattr(log_view, "DEFAULT_SORT", "-id")  # the page's order (by id before it had this constant)

    total = Exchange.objects.count()
    week = Exchange.objects.filter(created__gte=dt.datetime.now(dt.UTC) - dt.timedelta(days=7)).count()
    print(f"\n(4) request log, {total:,} Exchanges ({week:,} in the default 7-day window), 50 rows a page")
    url = reverse("dashboard:exchanges")
    past = dt.datetime.now(dt.UTC) - dt.timedelta(days=max(8, args.log_days // 2))
    fmt = "%Y-%m-%d %H:%M"
    cases = [("default (last 7 days)", {}), ("store filter", {"store": store.pk}),
             ("service = netgsm", {"service": "netgsm"}), ("service = ozon (a small share)", {"service": "ozon"}),
             ("level = error", {"level": "error"}), ("direction = in", {"direction": "in"}),
             ("store + service", {"store": store.pk, "service": "sandbox"}), ("page 3", {"page": 3}),
             ("a week in the past", {"start": (past - dt.timedelta(days=7)).strftime(fmt), "end": past.strftime(fmt)})]
    owner = owner_of(store)
    cases.append(("default, as the owner of the bench store (scoped)", {"as": owner}))
    # The same user's page with the store ids read through a subquery, as core.access did before it wrote a few ids
    # into the query (INLINE_STORES = 0 forces the subquery): the way before, in the same run.
    cases.append(("the same, store ids by subquery (the way before)", {"as": owner, "inline": 0}))
    # Users who see a few stores (an agency's staff): their stores' week is read and sorted for each page.
    stores = list(Store.objects.filter(Q(pk=store.pk) | Q(name__startswith="Bench log store")).order_by("pk")
                  .values_list("pk", flat=True))
    for k in sorted({n for n in (2, 10, 100) if n <= len(stores)}):
        few = member_of(f"bench-member-{k}", stores[:k])
        share = Exchange.objects.filter(store__in=stores[:k], created__gte=dt.datetime.now(dt.UTC)
                                        - dt.timedelta(days=7)).count()
        cases.append((f"default, a user of {k} stores ({share:,} rows in their week)", {"as": few}))
        cases.append(("the same, page 3", {"as": few, "page": 3}))
    out = []
    for name, params in cases:
        who = params.pop("as", user)
        with inline_stores(params.pop("inline", None)):
            ms, resp = timed(page(url, who=who, **params), args.repeat)
            form = ExchangeFilterForm({k: str(v) for k, v in params.items() if k != "page"}, user=who)
            qs = exchange_queryset(form, who)[0]
            rows = qs.order_by(order, "-pk")[:50]
            alone = benchkit.timed(lambda: (list(rows.all()), qs.order_by()[:10001].count()), args.repeat)[0]
        print(line(name, ms) + f"   its queries alone p50 {statistics.median(alone):6.1f} ms   plan: {plan_of(rows)}")
        out.append((f"log: {name}", statistics.median(ms)))
    return out


def member_of(name: str, stores: list[int]):
    """A user who is not a superuser and operates these stores."""
    from django.contrib.auth.models import User

    from ocbridge.core.models import StoreMember

    who = User.objects.filter(username=name).first() or User.objects.create_user(name, password="x")
    for pk in stores:
        StoreMember.objects.get_or_create(user=who, store_id=pk, defaults={"role": "operator"})
    return who


@contextlib.contextmanager
def inline_stores(limit):
    """core.access.INLINE_STORES set to `limit` for a while (None: as it is)."""
    from ocbridge.core import access

    before = getattr(access, "INLINE_STORES", None)
    if limit is not None and before is not None:
        access.INLINE_STORES = limit
    try:
        yield
    finally:
        if before is not None:
            access.INLINE_STORES = before


def owner_of(store):
    """A user who is not a superuser and owns only `store`: every query of theirs is scoped (core.access)."""
    from django.contrib.auth.models import User

    from ocbridge.core.models import StoreMember

    owner = User.objects.filter(username="bench-owner").first() or User.objects.create_user("bench-owner", password="x")
    StoreMember.objects.get_or_create(user=owner, store=store, defaults={"role": "owner"})
    return owner


def upkeep(page, args, store, tz, user, before: list) -> None:
    """(5): the hub's upkeep (core.upkeep.optimize, as the worker runs it) — what it costs, which of the pages' queries
    it gives another plan (each query timed alone, before and after: steadier than whole pages on a busy machine), and
    the pages of (1), (3) and (4) again beside the same pages before it in this run (main drops the statistics first,
    so "before" is a hub without them)."""
    from django.db import connection
    from django.urls import reverse

    try:
        from ocbridge.core import upkeep as hub_upkeep
    except ImportError:  # a hub from before core.upkeep (measuring the code before it)
        print("\n(5) this hub has no upkeep (core.upkeep): nothing more to measure")
        return

    print("\n(5) the hub's upkeep on SQLite (core.upkeep, run by the worker), then (1)'s pages, (3) and (4) again")
    home, lst, log = reverse("dashboard:home"), reverse("dashboard:confirmations"), reverse("dashboard:exchanges")
    sql = page_queries(page, [(home, {"store": store.pk}), (home, {"store": ""}), (lst, {}), (lst, {"store": store.pk}),
                              (lst, {"state": "cancelled"}), (lst, {"q": "Olga"}), (log, {}), (log, {"store": store.pk}),
                              (log, {"service": "netgsm"}), (log, {"level": "error"})])
    plans_before = [(q, plan_of_sql(q), query_ms(q)) for q in sql]
    t = time.perf_counter()
    ran = hub_upkeep.optimize()
    took = time.perf_counter() - t
    with connection.cursor() as cur:
        cur.execute("SELECT count(*) FROM sqlite_stat1")
        rows = cur.fetchone()[0]
    print(f"  upkeep took {took:.2f} s (ran: {ran}); sqlite_stat1 now holds {rows} rows")
    t = time.perf_counter()
    again = hub_upkeep.optimize()
    print(f"  run again at once: {(time.perf_counter() - t) * 1000:.1f} ms (ran: {again}; nothing changed since)")
    connection.close()  # a fresh connection, as a web process opens: it reads the statistics
    changed = [(q, a, ms, plan_of_sql(q), query_ms(q)) for q, a, ms in plans_before]
    changed = [c for c in changed if c[1] != c[3]]
    print(f"  the statistics change the plan of {len(changed)} of the {len(sql)} queries these pages run "
          f"(each run alone, p50 of 3):")
    for q, a, ms, b, ms2 in changed:
        print(f"    {ms:8.1f} ms → {ms2:8.1f} ms  {q[:110]}…\n      before: {a}\n      after:  {b}")
    after = [("overview: 30-day charts (default)", statistics.median(timed(page(home, store=store.pk), args.repeat)[0])),
             ("overview: all stores", statistics.median(timed(page(home, store=""), max(3, args.repeat // 3))[0]))]
    after += confirmation_list(page, args, store, tz) + log_pages(page, args, store, user)
    print("\n  p50 before → after the upkeep (whole pages: on a shared machine they swing with its load; what the statistics"
          " change is the plans above):")
    for (name, b), (_, a) in zip(before, after):
        print(f"  {name:<68} {b:9.1f} ms → {a:9.1f} ms  ({b / max(a, 0.001):.2f}×)")


def page_queries(page, urls) -> list[str]:
    """The SELECTs the pages run on the big tables (Confirmations, Attempts, outcomes, the log), once each."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    found = []
    for url, params in urls:
        with CaptureQueriesContext(connection) as ctx:
            page(url, **params)()
        for q in ctx.captured_queries:
            if q["sql"].startswith("SELECT") and any(t in q["sql"] for t in ("confirmation", "attempt", "outcome",
                                                                              "core_exchange")):
                if q["sql"] not in found:
                    found.append(q["sql"])
    return found


def plan_of_sql(sql: str) -> str:
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute("EXPLAIN QUERY PLAN " + sql)
        return " | ".join(row[-1] for row in cur.fetchall())


def query_ms(sql: str) -> float:
    from django.db import connection

    ms = []
    for _ in range(3):
        t = time.perf_counter()
        with connection.cursor() as cur:
            cur.execute(sql)
            cur.fetchall()
        ms.append((time.perf_counter() - t) * 1000)
    return statistics.median(ms)


def drop_statistics() -> bool:
    """A hub before its first upkeep: no sqlite_stat1 (a kept database keeps the last run's)."""
    from django.db import connection

    if connection.vendor != "sqlite":
        return False
    with connection.cursor() as cur:
        cur.execute("SELECT name FROM sqlite_master WHERE name = 'sqlite_stat1'")
        if not cur.fetchone():
            return False
        cur.execute("DELETE FROM sqlite_stat1")
    connection.close()
    return True


if __name__ == "__main__":
    main()
