"""Outage suite: the provider fails (500, 429, timeouts), the shop's MariaDB is stopped, the hub's database is
locked — while COD orders are being confirmed. After recovery everything completes, nothing is lost or
done twice, and the trouble is visible as Exchange and Job rows with the right level.

Sizes: CI (shop down a few seconds, hub locked within SQLite's busy timeout) and full (`make soak`: shop
down 60 s, hub locked longer than the busy timeout).
"""

from __future__ import annotations

import sys
import threading
import time
import traceback
from collections import Counter

import pytest

from reliability.harness import (CI, FULL, SOAK, add_orders, audit, drive_to_completion, random_for,
                                 worker_count)
from testkit import cod_integration

pytestmark = pytest.mark.django_db(transaction=True)

SIZES = [pytest.param(CI, id="ci"),
         pytest.param(FULL, id="full", marks=[pytest.mark.slow, pytest.mark.skipif(not SOAK, reason="full run: make soak")])]


def _forget_shop_connections(bed) -> None:
    """After a server restart, pooled connections in this process are dead: drop them (workers reconnect by
    pre-ping themselves; the test's own engines and the pooled test shops have no pre-ping)."""
    from ocbridge.opencart import db

    db.forget()
    bed.shop.engine.dispose()
    for handles in getattr(sys.modules.get("conftest_mariadb"), "_pool", {}).values():
        for handle in handles:
            handle.engine.dispose()


class Outages(threading.Thread):
    """Provider faults, then the shop's database down, then the hub's database locked; samples Job rows meanwhile."""

    def __init__(self, bed, mariadb, size, rng):
        super().__init__(name="outages", daemon=True)
        self.bed, self.mariadb, self.size, self.rng = bed, mariadb, size, rng
        self.in_outage = threading.Event()
        self.seen: Counter = Counter()
        self.error = ""

    def run(self) -> None:
        from django.db import connections

        try:
            for phase in (self._provider_trouble, self._shop_down, self._hub_locked):
                started = time.monotonic()
                phase()
                self.seen[f"phase{phase.__name__}_s"] = round(time.monotonic() - started, 1)
        except Exception:
            self.error = traceback.format_exc()
        finally:
            self.in_outage.clear()
            connections.close_all()

    def _provider_trouble(self) -> None:
        sim, n = self.bed.sim, max(3, self.size.orders // 20)
        for kind in ("500", "429", "timeout", "503"):
            sim.fail_next(kind, count=n, path="/v1/", seconds=1, retry_after=2)
        self.seen["provider_faults_queued"] = 4 * n
        # the next phase starts once the workers (still starting, on a loaded machine) have met every fault
        self.bed.pool.wait_for(lambda: not sim._faults, "every queued provider fault served")

    def _shop_down(self) -> None:
        from ocbridge.core.models import Job

        time.sleep(0.5)
        self.in_outage.set()
        self.mariadb.stop(remove=False)
        end = time.monotonic() + self.size.shop_down_seconds
        while time.monotonic() < end:  # what the dashboard would show meanwhile
            for state, error in Job.objects.filter(last_error__icontains="opencart-db").values_list("state", "last_error"):
                self.seen[f"shop_error_jobs_{state}"] += 1
            time.sleep(0.5)
        self.mariadb.restart()
        _forget_shop_connections(self.bed)
        self.in_outage.clear()
        self.seen["shop_down_s"] = self.size.shop_down_seconds

    def _hub_locked(self) -> None:
        from django.db import connection

        time.sleep(0.5)
        self.in_outage.set()
        if connection.vendor == "sqlite":
            import sqlite3

            raw = sqlite3.connect(connection.settings_dict["NAME"], timeout=30, isolation_level=None)
            raw.execute("BEGIN IMMEDIATE")  # holds the write lock: every other writer waits, then gives up
            time.sleep(self.size.hub_lock_seconds)
            raw.execute("ROLLBACK")
            raw.close()
        else:
            import psycopg

            s = connection.settings_dict
            with psycopg.connect(host=s["HOST"], port=s["PORT"], user=s["USER"], dbname=s["NAME"]) as raw:
                raw.execute("LOCK TABLE core_job, core_exchange IN EXCLUSIVE MODE")  # reads go on, writes wait
                time.sleep(self.size.hub_lock_seconds)
                raw.rollback()
        self.in_outage.clear()
        self.seen["hub_locked_s"] = self.size.hub_lock_seconds


@pytest.mark.parametrize("size", SIZES)
def test_outages_delay_but_never_lose_or_duplicate(reliability_bed, mariadb, size, capsys):
    from ocbridge.core.models import Exchange

    bed = reliability_bed(workers=worker_count(size), threads=size.threads)
    bed.sim.set_webhook_behaviour(duplicate=2, delay=60, shuffle=True, shuffle_window=120)
    started = time.monotonic()
    order_ids = add_orders(bed.shop, 2001, size.orders)
    bed.pool.start()
    outages = Outages(bed, mariadb, size, random_for(f"outage-{size.name}"))
    outages.start()
    final = drive_to_completion(bed.sim, bed.pool, size.orders, size.patience(), busy=outages.is_alive,
                                hold_clock=outages.in_outage.is_set)
    outages.join(10)
    result = audit(bed, order_ids)
    sandbox = Exchange.objects.filter(service="sandbox", direction="out")
    levels = Counter((ex.status, ex.level) for ex in sandbox.exclude(level="info"))
    run = {"hub": bed.hub, "size": size.name, "seconds": round(time.monotonic() - started),
           **{k: v for k, v in final.items() if k in ("clock_moved_s", "stuck")}, **outages.seen,
           **{f"sandbox_{status}_{level}": n for (status, level), n in levels.items()}}
    with capsys.disabled():
        print("\n" + result.render(f"outage suite ({bed.hub}, {size.name})", run))
    assert not outages.error, outages.error
    assert not result.violations, result.render("outage suite", run) + "\n" + bed.pool.crashed_logs()
    # The trouble is in the log with the right level: retryable provider answers and timeouts are warnings.
    assert levels[(500, "warning")] and levels[(429, "warning")] and levels[(503, "warning")], levels
    assert levels[(None, "warning")], "timeouts are logged as warnings"
    assert not sandbox.filter(level="error").exists()
    # While the shop was down, the jobs that needed it waited for a retry (queued), none was given up.
    assert outages.seen["shop_error_jobs_queued"] > 0, outages.seen
    assert not outages.seen["shop_error_jobs_errored"], outages.seen


def test_shop_database_unreachable_is_retryable_not_a_bug():
    """A stopped shop database must make jobs retry later; before the fix they ended `errored` and were lost."""
    import sqlalchemy as sa

    from ocbridge.core.errors import RetryableError
    from ocbridge.opencart.db import make_engine
    from ocbridge.testbed.mariadb import _free_port

    engine = make_engine(f"mysql+pymysql://root@127.0.0.1:{_free_port()}/shop")
    with pytest.raises(RetryableError) as caught:
        with engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
    assert caught.value.code == 2003 and "not reachable" in str(caught.value)


@pytest.mark.django_db
def test_poll_interrupted_midway_loses_no_order(opencart_db, monkeypatch):
    """The shop fails (or the worker dies) while the poll hands new orders to the integrations: the orders not
    yet handed over must be read again by the retried poll, not skipped by an already-advanced watermark."""
    from ocbridge import opencart
    from ocbridge.core import clock, registry
    from ocbridge.core.errors import RetryableError
    from ocbridge.core.jobs import run_until_idle
    from ocbridge.core.models import Connection, Integration, Store
    from ocbridge.integrations.cod_confirm.config import CodConfirmConfig
    from ocbridge.integrations.cod_confirm.models import Confirmation
    from ocbridge.core.polls import run_all as run_polls

    shop = opencart_db("3.0")
    store = Store.objects.create(name="s", db_url=shop.url, table_prefix=shop.prefix, country="TR")
    conn = Connection.objects.create(store=store, service="sandbox", base_url="http://127.0.0.1:9/", secret={"token": "t"})
    cod_integration(store, conn, settings=CodConfirmConfig(
        day_hours={d: ["00:00", "24:00"] for d in "0123456"}, dry_run=True).to_settings())
    opencart.poll_new_orders(store)
    add_orders(shop, 3001, 3)
    real, failed = registry.order_consumers["cod_confirm"], []

    def shop_fails_once_at_3002(integration, order):
        if order.order_id == 3002 and not failed:
            failed.append(order.order_id)
            raise RetryableError("opencart-db", 2013, "Shop database not reachable: Lost connection")
        return real(integration, order)

    monkeypatch.setitem(registry.order_consumers, "cod_confirm", shop_fails_once_at_3002)
    run_polls()
    run_until_idle()
    clock.travel(3600)  # past the poll's retry
    run_polls()
    run_until_idle()
    assert failed == [3002]
    assert sorted(Confirmation.objects.values_list("order_id", flat=True)) == [3001, 3002, 3003]


@pytest.mark.django_db
def test_hub_database_locked_during_a_job_retries_it_later_instead_of_giving_up():
    """SQLite answers "database is locked" after its busy timeout (a backup, a long lock): the job must be
    queued again, not ended `errored` (which dropped calls and customers' answers in the full outage run)."""
    from django.db import OperationalError

    from ocbridge.core.jobs import JobKind, register_job_kind, run_job
    from ocbridge.core.models import Job

    @register_job_kind
    class LockedOnce(JobKind):
        """Meets a locked hub database on its first run."""

        kind = "test.hub_locked_once"

        def run(self, job):
            if job.attempts == 1:
                raise OperationalError("database is locked")

    job = run_job(Job.objects.enqueue(LockedOnce, key="hub-locked-once").pk)
    assert job.state == "queued" and "locked" in job.last_error


@pytest.mark.django_db
def test_answer_received_but_not_stored_is_pending_not_failed():
    """The provider answered 201 but saving the answer failed (hub locked): the Exchange must say "may have been
    sent" (pending), so the retry asks the provider instead of sending again."""
    import httpx
    from django.db import OperationalError

    from ocbridge.core.exchanges import ExchangeRecorder
    from ocbridge.core.models import Exchange

    rec = ExchangeRecorder("sandbox")
    real_save, calls = Exchange.save, []

    def save_fails_once_after_the_answer(self, *args, **kwargs):
        if self.status is not None and not calls:
            calls.append(self.status)
            raise OperationalError("database is locked")
        return real_save(self, *args, **kwargs)

    Exchange.save = save_fails_once_after_the_answer
    try:
        with pytest.raises(OperationalError):
            with rec.exchange("POST", "http://sim/v1/calls", key="k-answer-lost") as ex:
                ex.finish(httpx.Response(201, json={"id": "call_1"}))
    finally:
        Exchange.save = real_save
    row = Exchange.objects.get(key="k-answer-lost")
    assert calls == [201] and row.outcome == "pending" and row.level == "warning"  # recovered by the retry
