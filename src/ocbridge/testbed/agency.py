"""Many shops on one hub (bench/agency.py and tests/reliability/test_agency.py).

Shop databases of mixed OpenCart layouts spread over throwaway MariaDB servers whose table and file limits are
raised for thousands of tables, a Store with COD confirmation on the Sandbox for each, COD orders placed at a
shop's daily rhythm, a proxy that makes a shop slow, and the audit "every order seen once, nothing called twice".
"""

from __future__ import annotations

import math
import random
import socket
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from ocbridge.testbed.mariadb import MariaDBServer

LAYOUTS = ("3.0", "2.3", "4.0")  # shops take them in turn
TABLES_PER_SHOP = 60  # OpenCart's layouts as the seeder builds them: 58 tables
OPEN_TABLES = 4000  # open at once per server: a poll reads a few tables of each shop, the rest are closed LRU
# Share of a day's orders placed in each hour (local time): quiet at night, a peak in the evening.
HOUR_WEIGHTS = (1, 0.6, 0.4, 0.3, 0.3, 0.4, 0.8, 1.5, 2.5, 3.5, 4.5, 5, 5.5, 5.5, 5, 5, 5.5, 6, 6.5, 7.5, 8.5,
                9, 7, 3.5)


def server_args(shops: int) -> tuple[str, ...]:
    """mariadbd options for `shops` shop databases: every table's definition cached, a few thousand tables open at
    once, connections for each shop's pool — and file descriptors for all of it (MyISAM keeps two files of an open
    table open, InnoDB one, a connection one). With more open tables than descriptors, tables of some shops came back
    as "doesn't exist" (1146) at 500 shops a server."""
    tables = TABLES_PER_SHOP * shops + 500
    open_tables = min(tables, OPEN_TABLES)
    connections = 300 + 4 * shops
    return (f"--table-open-cache={open_tables}", f"--table-definition-cache={tables}",
            f"--innodb-open-files={open_tables}", f"--open-files-limit={3 * open_tables + connections + 500}",
            f"--max-connections={connections}", "--thread-cache-size=64")


def start_servers(count: int, shops: int, base_dir=None, *, name: str = "mariadb") -> list[MariaDBServer]:
    """`count` MariaDB servers sharing `shops` shop databases, limits raised; under `base_dir` (kept between runs,
    with their shops) or in throwaway temp dirs."""
    out = []
    for i in range(count):
        base = None if base_dir is None else Path(base_dir).resolve() / f"{name}{i}"  # mariadbd changes directory
        out.append(MariaDBServer(base, extra_args=server_args(math.ceil(shops / count))).start(timeout=120))
    return out


@dataclass
class Shop:
    """One shop database and the Store (with its COD integration) that reads it."""

    index: int
    version: str
    url: str  # what the hub connects to (through a proxy for a slow shop)
    direct_url: str  # where orders are placed (straight to the server)
    store: object = None
    weight: float = 1.0  # share of the agency's orders
    engine: object = field(default=None, repr=False)
    trouble: str = ""  # "", "dead" or "slow"

    def place_order(self, rng: random.Random) -> int:
        import sqlalchemy as sa

        from ocbridge.opencart.seed import place_order

        if self.engine is None:
            # no TLS for the bench's own inserts: PyMySQL would build a TLS context for each shop's connection
            self.engine = sa.create_engine(self.direct_url, pool_size=1, max_overflow=1, pool_recycle=600,
                                           connect_args={"ssl_disabled": True})
        return place_order(self.engine, version=self.version, rng=rng)

    def dispose(self) -> None:
        """Close this shop's connections: ours and the hub's cached engine in this process."""
        from ocbridge.opencart import db

        if self.engine is not None:
            self.engine.dispose()
        db.forget(self.url)


def create_shops(servers: list[MariaDBServer], count: int, *, first: int = 0, prefix: str = "oc_",
                 name: str = "shop", progress=None, reuse: bool = False) -> list[Shop]:
    """`count` empty shops (layout and reference rows only: most agency shops are small), spread over servers.
    Four at a time: creating tables waits on the server's disk, not on a core. `reuse`: a shop database left by an
    earlier run with all its tables is used as it is (its old orders lie before the new hub's first poll)."""
    from concurrent.futures import ThreadPoolExecutor

    from ocbridge.opencart.layouts import metadata_for
    from ocbridge.opencart.seed import create_shop

    def tables_by_database(server: MariaDBServer) -> dict[str, int]:
        """One query per server (a connection and a query per shop took minutes at 1,000 shops)."""
        conn = server.connect()
        try:
            with conn.cursor() as cur:
                cur.execute("SELECT table_schema, COUNT(*) FROM information_schema.tables GROUP BY table_schema")
                return dict(cur.fetchall())
        finally:
            conn.close()

    have = {id(server): tables_by_database(server) for server in servers} if reuse else {}

    def make(k: int) -> Shop:
        i = first + k
        version = LAYOUTS[i % len(LAYOUTS)]
        server, database = servers[k % len(servers)], f"{name}{i:04d}"
        if reuse and have[id(server)].get(database) == len(metadata_for(version, prefix).tables):
            url = server.url(database)
        else:
            url = server.create_database(database)
            create_shop(url, version, prefix).dispose()
        return Shop(i, version, url, url)

    shops = []
    with ThreadPoolExecutor(4) as pool:
        for shop in pool.map(make, range(count)):
            shops.append(shop)
            if progress:
                progress(len(shops), count)
    return shops


def add_stores(shops: list[Shop], sandbox, *, prefix: str = "oc_", rng: random.Random | None = None,
               progress=None) -> None:
    """A Store per shop with its own Sandbox connection and COD confirmation (call, call, SMS; all day); the
    first poll of each sets its position, so only orders placed from now on are called. The first polls run four
    at a time (each mostly waits on its shop: connect, detect the layout, read the newest ids)."""
    from concurrent.futures import ThreadPoolExecutor

    from django.db import connections

    from ocbridge import opencart
    from ocbridge.core.models import Connection, Integration, Store
    from ocbridge.integrations.cod_confirm import plan
    from ocbridge.integrations.cod_confirm.config import CodConfirmConfig

    rng = rng or random.Random(1)
    settings = CodConfirmConfig(day_hours={d: ["00:00", "24:00"] for d in "0123456"}).to_settings()

    def first_poll(store) -> None:
        try:
            opencart.poll_new_orders(store)
        finally:
            connections.close_all()  # this thread's own hub connection

    with ThreadPoolExecutor(4) as pool:
        polls = []
        for shop in shops:
            store = Store.objects.create(name=f"Shop {shop.index:04d} ({shop.version})", db_url=shop.url,
                                         table_prefix=prefix, timezone="Europe/Istanbul", country="TR")
            conn = Connection.objects.create(store=store, service="sandbox", base_url=sandbox.base_url,
                                             secret={"token": next(iter(sandbox.tokens)),
                                                     "webhook_secret": sandbox.webhook_secret})
            integration = Integration.objects.create(store=store, kind="cod_confirm", settings=settings)
            plan.replace(integration, plan.default_steps(conn, ("call", "call", "sms"), (0, 30, 90), 15))
            polls.append(pool.submit(first_poll, store))
            shop.store = store
            shop.weight = rng.paretovariate(1.5)  # a few busy shops, many quiet ones
        for done, poll in enumerate(polls, 1):
            poll.result()  # a shop that cannot be read stops the set-up here, with its error
            if progress:
                progress(done, len(polls))


def rate_per_second(shops: list[Shop], orders_per_shop_day: float, hour: int) -> float:
    """The agency's order rate at a local hour, for shops averaging `orders_per_shop_day`."""
    share = HOUR_WEIGHTS[hour % 24] / sum(HOUR_WEIGHTS)
    return len(shops) * orders_per_shop_day * share / 3600


class OrderStream:
    """Places COD orders from a thread as a Poisson process at `rate` per second, shops chosen by weight;
    records (shop index, order id, wall time of the INSERT's commit)."""

    def __init__(self, shops: list[Shop], rate: float, *, seed: int = 1):
        self.shops, self.rate = [s for s in shops if s.trouble != "dead"], rate
        self.rng = random.Random(seed)
        self.placed: list[tuple[int, int, float]] = []
        self.errors = Counter()
        self.stop_event = threading.Event()
        self.thread = threading.Thread(target=self._run, name="orders", daemon=True)

    def start(self) -> "OrderStream":
        self.thread.start()
        return self

    def _run(self) -> None:
        weights = [s.weight for s in self.shops]
        while not self.stop_event.wait(self.rng.expovariate(self.rate)):
            shop = self.rng.choices(self.shops, weights)[0]
            try:
                oid = shop.place_order(self.rng)
            except Exception as exc:  # noqa: BLE001 - a bench keeps going; counted and shown
                self.errors[type(exc).__name__] += 1
                continue
            self.placed.append((shop.index, oid, time.time()))

    def stop(self) -> list[tuple[int, int, float]]:
        self.stop_event.set()
        self.thread.join(30)
        return self.placed


def place_burst(shops: list[Shop], count: int, rng: random.Random) -> list[tuple[int, int, float]]:
    """`count` orders at once (round robin over shops): a backlog to measure jobs per second."""
    out = []
    for k in range(count):
        shop = shops[k % len(shops)]
        out.append((shop.index, shop.place_order(rng), time.time()))
    return out


# --- seen, and the audit ----------------------------------------------------------------------------------


def seen_lags(shops: list[Shop], placed: list[tuple[int, int, float]]) -> tuple[list[float], int]:
    """Seconds from each order's INSERT to its Confirmation (the poll that saw it); and how many were not seen."""
    from ocbridge.integrations.cod_confirm.models import Confirmation

    by_index = {s.index: s for s in shops}
    want: dict[int, dict[int, float]] = {}
    for index, oid, t in placed:
        want.setdefault(by_index[index].store.pk, {})[oid] = t
    lags, missing = [], 0
    for store_id, orders in want.items():
        got = dict(Confirmation.objects.filter(store_id=store_id, order_id__in=list(orders))
                   .values_list("order_id", "created"))
        for oid, t in orders.items():
            if oid in got:
                lags.append(got[oid].timestamp() - t)
            else:
                missing += 1
    return lags, missing


def audit(shops: list[Shop], placed: list[tuple[int, int, float]], sandbox) -> dict:
    """Nothing missed, nothing doubled: one Confirmation per placed order, none for an order not placed in
    this run, each attempt key at the provider once."""
    from ocbridge.integrations.cod_confirm.models import Confirmation

    by_store = {s.store.pk: s.index for s in shops}
    placed_set = {(index, oid) for index, oid, _ in placed}
    seen = Counter((by_store[sid], oid) for sid, oid in
                   Confirmation.objects.filter(store_id__in=list(by_store)).values_list("store_id", "order_id"))
    # The simulator answers a repeated key with the first resource, so a double is two keys for one
    # (store, order, attempt): cod_confirm:<store>:<order>:attempt:<n>.
    sends = Counter(tuple(r["idempotency_key"].split(":")[1:5]) for r in sandbox.calls() + sandbox.messages()
                    if not r["idempotency_key"].endswith(":polite-reply"))
    return {
        "placed": len(placed_set),
        "missed": len(placed_set - set(seen)),
        "doubled": sum(1 for n in seen.values() if n > 1),
        "unexpected": len(set(seen) - placed_set),
        "unexpected_sample": sorted(set(seen) - placed_set)[:5],
        "sends": sum(sends.values()),
        "sent_twice": sum(1 for n in sends.values() if n > 1),
        "states": Counter(Confirmation.objects.filter(store_id__in=list(by_store)).values_list("state", flat=True)),
    }


# --- a slow shop --------------------------------------------------------------------------------------------


class SlowProxy:
    """A TCP proxy on 127.0.0.1 in front of a MariaDB server that holds every answer back by `delay` seconds
    (a shop on an overloaded host or far away). `delay` may be changed while it runs."""

    def __init__(self, target_port: int, delay: float = 0.0):
        self.target_port, self.delay = target_port, delay
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.closed = False
        threading.Thread(target=self._accept, daemon=True, name="slow-proxy").start()

    def _accept(self) -> None:
        while not self.closed:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(("127.0.0.1", self.target_port))
            except OSError:
                client.close()
                continue
            threading.Thread(target=self._pipe, args=(client, upstream, 0), daemon=True).start()
            threading.Thread(target=self._pipe, args=(upstream, client, 1), daemon=True).start()

    def _pipe(self, src: socket.socket, dst: socket.socket, answers: int) -> None:
        try:
            while data := src.recv(65536):
                if answers and self.delay:
                    time.sleep(self.delay)
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                s.close()

    def url(self, direct_url: str) -> str:
        return direct_url.replace(f":{self.target_port}/", f":{self.port}/")

    def close(self) -> None:
        self.closed = True
        self.listener.close()


# --- processes: CPU and memory ------------------------------------------------------------------------------


def group_usage(pgid: int) -> tuple[float, int]:
    """CPU seconds (user + system) and resident memory (bytes) of every live process in a process group and of
    their descendants (PostgreSQL's backends leave the postmaster's group: setsid)."""
    return groups_usage([pgid])[pgid]


def groups_usage(pgids) -> dict[int, tuple[float, int]]:
    """group_usage() of several groups from one pass over /proc (the bench samples every second: a pass per group
    cost the bench process a quarter of a core on a busy machine). A descendant that leads a group asked for itself
    (the bench's workers, web, servers) counts for that group only, not also for its parent's."""
    import os

    tick, page = os.sysconf("SC_CLK_TCK"), os.sysconf("SC_PAGE_SIZE")
    procs = {}
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/stat") as f:
                parts = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        # fields after the name: state, ppid, pgrp, … utime, stime, cutime, cstime (the last two: children that
        # ended and were waited for — PostgreSQL's backends of closed connections, reaped by the postmaster)
        cpu = sum(int(parts[k]) for k in (11, 12, 13, 14)) / tick
        procs[int(pid)] = (int(parts[1]), int(parts[2]), cpu, int(parts[21]) * page)
    children: dict[int, list[int]] = {}
    for pid, (ppid, *_rest) in procs.items():
        children.setdefault(ppid, []).append(pid)
    asked = set(pgids)
    out = {}
    for pgid in asked:
        mine = {pid for pid, (_ppid, pgrp, _cpu, _rss) in procs.items() if pgrp == pgid}
        todo = list(mine)
        while todo:
            for child in children.get(todo.pop(), ()):
                if child not in mine and procs[child][1] not in asked:  # a group measured on its own is not ours
                    mine.add(child)
                    todo.append(child)
        out[pgid] = (sum(procs[p][2] for p in mine), sum(procs[p][3] for p in mine))
    return out
