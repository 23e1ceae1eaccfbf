"""SQL expressions for a store's local day and hour, and for seconds between two times, computed in the database.

Django's `TruncDate(tzinfo=…)` / `ExtractHour(tzinfo=…)` run a Python function per row on SQLite (the default
hub database), which is far too slow at a million rows. A time zone's UTC offset is constant between its DST
switches, so for a bounded period we shift by a fixed number of minutes per stretch (a CASE on the switch instants)
with the database's own date functions: SQLite `date()/strftime()`, PostgreSQL interval arithmetic, MySQL DATE_ADD.
"""

from __future__ import annotations

import datetime as dt

from django.db.models import (
    Case,
    DateField,
    Expression,
    F,
    FloatField,
    Func,
    IntegerField,
    When,
)


class _Shifted(Func):
    """A UTC datetime column moved by a fixed number of minutes, reduced to its date or hour."""

    def __init__(self, expression, minutes: int, part: str):
        self.minutes, self.part = int(minutes), part
        super().__init__(expression, output_field=DateField() if part == "date" else IntegerField())

    def _inner(self, compiler, connection):
        return compiler.compile(self.source_expressions[0])

    def as_sqlite(self, compiler, connection, **extra):
        sql, params = self._inner(compiler, connection)
        shift = f"{self.minutes:+d} minutes"
        if self.part == "date":
            return f"date({sql}, %s)", [*params, shift]
        return f"CAST(strftime('%%H', {sql}, %s) AS INTEGER)", [*params, shift]

    def as_postgresql(self, compiler, connection, **extra):
        sql, params = self._inner(compiler, connection)
        local = f"(({sql}) AT TIME ZONE 'UTC' + make_interval(mins => %s))"
        if self.part == "date":
            return f"CAST({local} AS date)", [*params, self.minutes]
        return f"CAST(EXTRACT(HOUR FROM {local}) AS integer)", [*params, self.minutes]

    def as_sql(self, compiler, connection, **extra):  # MySQL / MariaDB
        sql, params = self._inner(compiler, connection)
        local = f"DATE_ADD({sql}, INTERVAL %s MINUTE)"
        if self.part == "date":
            return f"DATE({local})", [*params, self.minutes]
        return f"HOUR({local})", [*params, self.minutes]


def offset_stretches(tz: dt.tzinfo, start: dt.datetime, end: dt.datetime) -> list[tuple[dt.datetime | None, int]]:
    """[(from_utc or None, offset minutes)] covering start..end: one entry per DST stretch (hourly probe)."""
    out: list[tuple[dt.datetime | None, int]] = []
    t = start.astimezone(dt.UTC)
    stop = end.astimezone(dt.UTC)
    last = None
    while True:
        off = int(t.astimezone(tz).utcoffset().total_seconds() // 60)
        if off != last:
            out.append((None if last is None else t, off))
            last = off
        if t >= stop:
            break
        # Jump by a day while the offset stays; step back hourly only to find the switch instant.
        nxt = min(t + dt.timedelta(days=1), stop)
        if int(nxt.astimezone(tz).utcoffset().total_seconds() // 60) != off:
            h = t
            while int(h.astimezone(tz).utcoffset().total_seconds() // 60) == off:
                h += dt.timedelta(minutes=15)
            t = h
        else:
            t = nxt
    return out


def _local(field: str, tz: dt.tzinfo, start: dt.datetime, end: dt.datetime, part: str) -> Expression:
    stretches = offset_stretches(tz, start, end)
    if len(stretches) == 1:
        return _Shifted(F(field), stretches[0][1], part)
    # Latest switch first: the first WHEN whose instant the row is at or after wins.
    whens = [When(**{f"{field}__gte": since}, then=_Shifted(F(field), off, part))
             for since, off in reversed(stretches[1:])]
    return Case(*whens, default=_Shifted(F(field), stretches[0][1], part),
                output_field=DateField() if part == "date" else IntegerField())


def local_date(field: str, tz: dt.tzinfo, start: dt.datetime, end: dt.datetime) -> Expression:
    """The date of `field` in time zone `tz`, for rows between start and end."""
    return _local(field, tz, start, end, "date")


def local_hour(field: str, tz: dt.tzinfo, start: dt.datetime, end: dt.datetime) -> Expression:
    """The hour (0–23) of `field` in time zone `tz`, for rows between start and end."""
    return _local(field, tz, start, end, "hour")


class SecondsBetween(Func):
    """`later - earlier` in seconds as a float, with the database's native date arithmetic."""

    output_field = FloatField()

    def __init__(self, later: str, earlier: str):
        super().__init__(F(later), F(earlier))

    def _parts(self, compiler):
        a, pa = compiler.compile(self.source_expressions[0])
        b, pb = compiler.compile(self.source_expressions[1])
        return a, list(pa), b, list(pb)

    def as_sqlite(self, compiler, connection, **extra):
        a, pa, b, pb = self._parts(compiler)
        return f"((julianday({a}) - julianday({b})) * 86400.0)", [*pa, *pb]

    def as_postgresql(self, compiler, connection, **extra):
        a, pa, b, pb = self._parts(compiler)
        return f"EXTRACT(EPOCH FROM ({a} - {b}))", [*pa, *pb]

    def as_sql(self, compiler, connection, **extra):  # MySQL / MariaDB
        a, pa, b, pb = self._parts(compiler)
        return f"(TIMESTAMPDIFF(MICROSECOND, {b}, {a}) / 1000000.0)", [*pb, *pa]
