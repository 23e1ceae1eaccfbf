"""The hub's SQLite statistics (core.upkeep): the worker's schedule analyzes a table never analyzed or grown ten times
since, and nothing else — an unchanged hub gets no write at all (another connection sees no new data version)."""

from __future__ import annotations

import sqlite3

import pytest
from django.db import connection

from ocbridge.core import jobs, upkeep
from ocbridge.core.models import Exchange
from testkit import without_statistics

pytestmark = [pytest.mark.django_db(transaction=True),
              pytest.mark.skipif(connection.vendor != "sqlite", reason="PostgreSQL's autovacuum analyzes")]


@pytest.fixture(autouse=True)
def _clean_statistics():
    without_statistics()
    yield
    without_statistics()  # the next tests plan as on a hub without statistics


def _log_rows(n: int) -> None:
    Exchange.objects.bulk_create([Exchange(service="sandbox", key=f"k{i}") for i in range(n)])


def test_a_table_never_analyzed_is_analyzed_and_an_unchanged_hub_gets_no_write():
    db = connection.settings_dict["NAME"]
    probe = sqlite3.connect(db)
    try:
        _log_rows(upkeep.SMALL * 3)
        version = probe.execute("PRAGMA data_version").fetchone()[0]
        assert "core_exchange" in upkeep.optimize()
        assert probe.execute("PRAGMA data_version").fetchone()[0] != version  # sqlite_stat1 written
        with connection.cursor() as cur:
            cur.execute("SELECT idx FROM sqlite_stat1 WHERE tbl = 'core_exchange'")
            assert {"exchange_key", "exchange_store_time"} <= {row[0] for row in cur.fetchall()}
        version = probe.execute("PRAGMA data_version").fetchone()[0]
        assert upkeep.optimize() == []  # nothing changed much since: nothing analyzed…
        assert probe.execute("PRAGMA data_version").fetchone()[0] == version  # …and nothing written
    finally:
        probe.close()


def test_a_table_grown_ten_times_is_analyzed_again_and_small_tables_are_left_alone():
    _log_rows(upkeep.SMALL * 2)
    upkeep.optimize()
    _log_rows(upkeep.SMALL * 2 * (upkeep.GROWTH - 1) - 1)  # just under ten times
    assert "core_exchange" not in upkeep.optimize()
    _log_rows(2)
    assert "core_exchange" in upkeep.optimize()
    with connection.cursor() as cur:
        cur.execute("SELECT count(*) FROM sqlite_stat1 WHERE tbl = 'core_job'")
        assert cur.fetchone()[0] == 0  # an empty table is not analyzed (its plan does not matter)


def test_the_worker_runs_it_beside_the_checkpoint_and_never_inside_a_transaction():
    from django.db import transaction

    assert jobs._SCHEDULES["core.upkeep"].fn is upkeep.optimize
    _log_rows(upkeep.SMALL * 3)
    with transaction.atomic():
        assert upkeep.optimize() == []  # ANALYZE would hold the write lock for the caller's whole transaction
