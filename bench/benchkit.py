"""What the benchmarks share: percentiles, the spread over rounds, and a big OpenCart shop in MariaDB (throwaway, or
kept between runs with --keep)."""

from __future__ import annotations

import os
import time


def pct(values: list[float], p: float) -> float:
    """The p-th percentile (nearest rank)."""
    values = sorted(values)
    return values[min(len(values) - 1, max(0, round(p / 100 * (len(values) - 1))))]


def timed(fn, repeat: int) -> tuple[list[float], object]:
    """Milliseconds of each of `repeat` calls of fn, and the last call's result."""
    out, result = [], None
    for _ in range(repeat):
        t = time.perf_counter()
        result = fn()
        out.append((time.perf_counter() - t) * 1000)
    return out, result


def mariadb(keep: str | None):
    """A MariaDB server for a bench: throwaway, or kept in `keep` between runs with its port (so a store of a
    shop built there keeps its identity, and the hub's phone index of it stays valid)."""
    from pathlib import Path

    from ocbridge.testbed.mariadb import MariaDBServer, start_server
    from ocbridge.testbed.process import free_port

    if not keep:
        return start_server()
    base = Path(keep).resolve()
    (base / "mariadb").mkdir(parents=True, exist_ok=True)
    port_file = base / "mariadb.port"
    if not port_file.exists():
        port_file.write_text(str(free_port()))
    return MariaDBServer(base / "mariadb", port=int(port_file.read_text())).start(timeout=120)


def kept_shop(server, *, version: str, orders: int, keep: str | None) -> tuple[str, bool]:
    """The shop's URL and whether it was built now: with `keep`, a shop built by an earlier run is used again."""
    name = f"bench_{version.replace('.', '')}_{orders}"
    if keep:
        conn = server.connect()
        try:
            with conn.cursor() as cur:
                if cur.execute("SHOW DATABASES LIKE %s", (name,)):
                    return server.url(name), False
        finally:
            conn.close()
    from ocbridge.opencart.seed import seed

    url = server.create_database(name)
    print(f"Building a {orders:,}-order OpenCart {version} shop in MariaDB …", flush=True)
    t = time.perf_counter()
    report = seed(url, version=version, orders=orders,
                  progress=lambda done, total: print(f"  {done:,}/{total:,}", end="\r", flush=True))
    print(f"\n  built in {time.perf_counter() - t:.1f}s — {report.summary()}")
    return url, True


def spread(name: str, rounds: list[list[float]], unit: str = "ms") -> str:
    """One line: p50 and p99 of every round pooled, and the range of the rounds' own p50 and p99 (the noise)."""
    import statistics

    pooled = [v for r in rounds for v in r]
    p50s = [statistics.median(r) for r in rounds]
    p99s = [pct(r, 99) for r in rounds]
    return (f"  {name:<46} p50 {statistics.median(pooled):7.2f} {unit}  p99 {pct(pooled, 99):7.2f} {unit}   rounds: "
            f"p50 {min(p50s):.2f}–{max(p50s):.2f}, p99 {min(p99s):.2f}–{max(p99s):.2f} (n={len(pooled)})")


def load() -> str:
    """The machine's load average now (the benches run beside other work: say how busy it was)."""
    one, five, _ = os.getloadavg()
    return f"load average {one:.1f} (5 min {five:.1f}) on {os.cpu_count()} cores"


def plain_get(url: str, params: dict | None = None, *, timeout: float = 30) -> tuple[int, bytes]:
    """GET `url` on a new connection with the standard library's HTTP client: (status, body). The hot-path benches
    time requests with it. httpx spent 0.5–0.7 ms of its own per request (p50, quiet machine, a 404 page of the same
    gunicorn, 2026-12-07; ~0.9 ms loaded), on the same two cores as the server; a PBX's client does not. http.client costs
    ~0.15 ms over a bare socket."""
    import http.client
    from urllib.parse import urlencode, urlsplit

    u = urlsplit(url)
    query = "&".join(q for q in (u.query, urlencode(params or {})) if q)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=timeout)
    try:
        conn.request("GET", (u.path or "/") + (f"?{query}" if query else ""))
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()


def gunicorn(pythonpath: list[str], *, public_url: bool = False) -> tuple[str, object, int]:
    """The hub under gunicorn with 2 workers on a free loopback port, as `ocbridge serve --production` of the code on
    `pythonpath` runs it (its own gunicorn arguments: an older checkout served by `--before` is served as it was
    deployed); its base URL, a function that stops it and its (master) process id. The workers start after the port
    opens: wait for a first answer."""
    import json
    import socket
    import subprocess
    import sys

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    base = f"http://127.0.0.1:{port}"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(pythonpath), **({"OCBRIDGE_PUBLIC_URL": base} if public_url else {})}
    args = json.loads(subprocess.run(
        [sys.executable, "-c", "import json, sys; from ocbridge.core.management.commands.ocbridge_serve import "
                               "gunicorn_args; print(json.dumps(gunicorn_args(sys.argv[1], 2)))", f"127.0.0.1:{port}"],
        env=env, capture_output=True, text=True, check=True).stdout)
    proc = subprocess.Popen([sys.executable, "-m", "gunicorn", *args, "--log-level", "error"], env=env)
    end = time.monotonic() + 30
    while time.monotonic() < end:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            time.sleep(0.1)
    return base, lambda: (proc.terminate(), proc.wait(10)), proc.pid


def cpu_seconds(pid: int) -> float:
    """CPU time (user + system) spent so far by process `pid` and its live children (a gunicorn's web workers)."""
    def own(p: str) -> int:
        with open(f"/proc/{p}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return int(fields[11]) + int(fields[12])  # utime + stime, in clock ticks

    with open(f"/proc/{pid}/task/{pid}/children") as f:
        kids = f.read().split()
    return sum(own(p) for p in [str(pid), *kids]) / os.sysconf("SC_CLK_TCK")


_PENDING = ("import django; django.setup(); from django.db import connection; "
            "from django.db.migrations.executor import MigrationExecutor; e = MigrationExecutor(connection); "
            "print(*(f'{m.app_label}.{m.name}' for m, _ in e.migration_plan(e.loader.graph.leaf_nodes())))")


def worker(pythonpath: list[str]):
    """The hub's worker (`ocbridge worker`) beside the web processes, as a deployment runs it (its dispatcher also
    checkpoints the SQLite hub's log once a second: core.wal); a function that stops it. A worker that exits while
    starting (e.g. `ocbridge` refusing a hub whose migrations it finds pending) stops the bench with what it said:
    a bench must not go on measuring "as deployed" without one."""
    import collections
    import subprocess
    import sys
    import threading

    env = {**os.environ, "PYTHONPATH": os.pathsep.join(pythonpath)}
    proc = subprocess.Popen([sys.executable, "-m", "ocbridge", "worker"], env=env, stderr=subprocess.PIPE, text=True)
    said: collections.deque[str] = collections.deque(maxlen=20)

    def relay() -> None:  # the worker's stderr still reaches the console; its last lines are kept for the error
        for text in proc.stderr:
            said.append(text)
            sys.stderr.write(text)

    relay_thread = threading.Thread(target=relay, daemon=True, name="worker-stderr")
    relay_thread.start()
    settled(proc.pid)
    if proc.poll() is not None:
        relay_thread.join(5)
        # Which migrations the worker's code found unapplied, read the way it reads them (its path, its environment):
        # a hub migrated by the bench a moment ago should have none — unless the code on disk changed since.
        plan = subprocess.run([sys.executable, "-c", _PENDING], env=env, capture_output=True, text=True)
        names = plan.stdout.split() if plan.returncode == 0 else [plan.stderr.strip()[-500:]]
        raise RuntimeError(f"the hub's worker exited while starting (status {proc.returncode}), the bench stops: "
                           f"{''.join(said).strip() or 'it said nothing'} Migrations its code finds unapplied: "
                           f"{' '.join(names[:8]) or 'none'}{f' … ({len(names)} in all)' if len(names) > 8 else ''}")
    return lambda: (proc.terminate(), proc.wait(30))


def settled(pid: int, *, timeout: float = 90.0) -> None:
    """Wait until process `pid` has started and done its start-up work (a worker runs every schedule at once):
    below 5 % of a core over a second, after at least 3 s. The measuring starts on the process's steady state."""
    tick = os.sysconf("SC_CLK_TCK")

    def cpu() -> int:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return int(fields[11]) + int(fields[12])  # utime + stime

    start, last = time.monotonic(), cpu()
    while time.monotonic() - start < timeout:
        time.sleep(1.0)
        now = cpu()
        if now - last < 0.05 * tick and time.monotonic() - start >= 3:
            return
        last = now
