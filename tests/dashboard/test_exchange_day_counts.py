"""The overview's "Exchanges per day" card: rows counted on their local day (across a DST switch and in a
half-hour zone) and level, one store's or all; counted as index ranges, never by sorting the period's rows; and the
same on PostgreSQL."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from ocbridge.dashboard import overview

pytestmark = pytest.mark.django_db

BERLIN = ZoneInfo("Europe/Berlin")  # summer time ends 2026-10-25 03:00 local
DAYS = [dt.date(2026, 10, 24), dt.date(2026, 10, 25), dt.date(2026, 10, 26)]


def _rows(store, other):
    """(store, level, local time in Berlin) of rows at the edges of the days, and some outside the period."""
    return [
        (store, "info", dt.datetime(2026, 10, 23, 23, 59, 59)),  # the day before: not counted
        (store, "error", dt.datetime(2026, 10, 24, 0, 0, 0)),
        (store, "info", dt.datetime(2026, 10, 24, 23, 59, 59, 999999)),
        (store, "warning", dt.datetime(2026, 10, 25, 0, 0, 0)),
        (store, "info", dt.datetime(2026, 10, 25, 2, 30, fold=0)),  # 02:30 happens twice that night
        (store, "info", dt.datetime(2026, 10, 25, 2, 30, fold=1)),
        (store, "error", dt.datetime(2026, 10, 25, 23, 30)),
        (other, "error", dt.datetime(2026, 10, 25, 12, 0)),
        (None, "info", dt.datetime(2026, 10, 26, 0, 15)),  # no store: all stores' view only
        (store, "info", dt.datetime(2026, 10, 26, 23, 59)),
        (store, "warning", dt.datetime(2026, 10, 27, 0, 0)),  # the day after: not counted
    ]


@pytest.fixture
def log():
    from ocbridge.core.models import Exchange, Store

    store = Store.objects.create(name="Berlin shop", timezone="Europe/Berlin")
    other = Store.objects.create(name="Other shop")
    rows = _rows(store, other)
    for s, level, local in rows:
        Exchange.objects.create(service="netgsm", store=s, level=level, created=local.replace(tzinfo=BERLIN))
    return store, rows


def _expected(rows, store, tz) -> dict:
    out = {lvl: {d: 0 for d in DAYS} for lvl in ("info", "warning", "error")}
    for s, level, local in rows:
        day = local.replace(tzinfo=BERLIN).astimezone(tz).date()
        if day in DAYS and (store is None or s == store):
            out[level][day] += 1
    return out


@pytest.mark.parametrize("tz", [BERLIN, ZoneInfo("Asia/Kolkata"), dt.UTC])
@pytest.mark.parametrize("one_store", [True, False])
def test_rows_count_on_their_local_day_and_level(log, tz, one_store):
    store, rows = log
    shown = store if one_store else None
    got = overview.exchanges_per_day(shown, overview.Period(DAYS, tz))
    want = _expected(rows, shown, tz)
    assert {lvl: dict(got[lvl]) for lvl in want} == want
    if tz is BERLIN:  # the 25th had 25 hours: both 02:30s are on it
        assert want["info"][DAYS[1]] == 2 and sum(want["error"].values()) == (2 if one_store else 3)


def test_the_card_shows_the_counts(log):
    store, rows = log
    card = overview.exchanges_card(store, overview.Period(DAYS, BERLIN))
    assert card.value == "7" and card.note.startswith("2 ")  # seven rows of the store on the three days, two errors


@pytest.mark.skipif(os.environ.get("OCBRIDGE_DATABASE_URL", "").startswith("postgres"), reason="SQLite's plan")
@pytest.mark.parametrize("one_store", [True, False])
def test_counted_through_indexes_without_sorting_the_period(log, one_store):
    """Grouping by each row's local date sorted every row of the period (1–2 s at a million rows); each count is now
    a range of an index, read alone, and one store's counts read only that store's entries (bench/overview.py,
    section 1)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from testkit import without_statistics

    without_statistics()
    store, _rows_ = log
    with CaptureQueriesContext(connection) as ctx:
        overview.exchanges_per_day(store if one_store else None, overview.Period.last(30, BERLIN))
    [query] = [q["sql"] for q in ctx.captured_queries if "core_exchange" in q["sql"]]
    with connection.cursor() as cur:
        cur.execute("EXPLAIN QUERY PLAN " + query)
        plan = [row[-1] for row in cur.fetchall()]
    reads = [step for step in plan if "core_exchange" in step]
    assert not any("TEMP B-TREE" in step for step in plan), plan
    assert len(reads) == 30 * 3 and all(step.startswith("SEARCH") for step in reads), plan
    assert all("COVERING INDEX" in step for step in reads), plan
    if one_store:
        # The days' totals, and the store's own warnings and errors: never the level index, which holds every
        # store's (at 1,000 stores a thousand times the rows; before, each of the 60 counts read it and the table).
        assert sum("INDEX exchange_store_time" in step for step in reads) == 30, plan
        assert sum("INDEX exchange_store_trouble (store_id=? AND level=?" in step for step in reads) == 60, plan
    else:
        # All stores: the days' totals through `created`, the warnings and errors through exchange_trouble_time (info
        # rows have no level index entry since core 0034: info is the rest, as for one store).
        assert sum("INDEX core_exchange_created" in step for step in reads) == 30, plan
        assert sum("INDEX exchange_trouble_time (level=?" in step for step in reads) == 60, plan


@pytest.mark.skipif(os.environ.get("OCBRIDGE_DATABASE_URL", "").startswith("postgres"), reason="SQLite's plan")
def test_a_one_store_users_card_reads_only_that_stores_entries(log, client):
    """The overview of a user who sees one store (not an administrator: the card is that store's): the statement the
    card runs, planned with its bound values as the page runs it, counts the store's warnings and errors in
    exchange_store_trouble and its days in exchange_store_time — it never touches the level index, whose entries are
    every store's (before: 60 searches of exchange_level_time, each row's store read from the table)."""
    from django.contrib.auth.models import User
    from django.db import connection
    from django.urls import reverse

    from ocbridge.core.models import StoreMember
    from testkit import without_statistics

    without_statistics()
    store, _rows_ = log
    owner = User.objects.create_user("owner-of-one")
    StoreMember.objects.create(user=owner, store=store, role="owner")
    client.force_login(owner)
    seen = []

    def keep(execute, sql, params, many, context):
        if "core_exchange" in sql and "COUNT(*)" in sql:
            seen.append((sql, params))
        return execute(sql, params, many, context)

    with connection.execute_wrapper(keep):
        html = client.get(reverse("dashboard:home")).content.decode()
    assert "Exchanges per day" in html
    [(sql, params)] = seen
    with connection.cursor() as cur:
        cur.execute("EXPLAIN QUERY PLAN " + sql, params)
        reads = [row[-1] for row in cur.fetchall() if "core_exchange" in row[-1]]
    assert len(reads) == 30 * 3 and all(r.startswith("SEARCH") and "COVERING INDEX" in r for r in reads), reads
    assert not any("exchange_level_time" in r for r in reads), reads
    assert sum("INDEX exchange_store_trouble (store_id=? AND level=?" in r for r in reads) == 60, reads


@pytest.mark.skipif(os.environ.get("OCBRIDGE_DATABASE_URL", "").startswith("postgres"), reason="the nested run")
def test_the_same_on_postgres(postgres, tmp_path):
    from testkit import pytest_on_postgres

    pytest_on_postgres(postgres, tmp_path, "ocbridge_day_counts", [Path(__file__).resolve()])


def test_the_counts_are_written_out_not_compiled_one_queryset_each(log, monkeypatch):
    """The ORM built and compiled a queryset per count (90 for one store's month: ~30 ms of Python beside the
    statement's 4 ms on bench/overview.py's hub); the statement is now written out, no compilation."""
    from django.db.models.sql.compiler import SQLCompiler

    store, _rows_ = log
    compiled = []
    as_sql = SQLCompiler.as_sql
    monkeypatch.setattr(SQLCompiler, "as_sql", lambda self, *a, **k: compiled.append(1) or as_sql(self, *a, **k))
    for shown in (store, None):
        overview.exchanges_per_day(shown, overview.Period.last(30, BERLIN))
    assert compiled == []
