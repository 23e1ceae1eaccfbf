"""What the benchmarks share: percentiles, and building a big OpenCart shop in a throwaway MariaDB."""

from __future__ import annotations

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


def build_shop(server, *, version: str, orders: int) -> tuple[str, float]:
    """An `orders`-order OpenCart shop in a new database of `server`; returns its URL and the seconds it took."""
    from ocbridge.opencart.seed import seed

    url = server.create_database("bench")
    print(f"Building a {orders:,}-order OpenCart {version} shop in MariaDB …", flush=True)
    t = time.perf_counter()
    report = seed(url, version=version, orders=orders,
                  progress=lambda done, total: print(f"  {done:,}/{total:,}", end="\r", flush=True))
    took = time.perf_counter() - t
    print(f"\n  built in {took:.1f}s — {report.summary()}")
    return url, took
