"""One row written on a hot path (a webhook, an order-status call) without the ORM building its SQL each time.

Building an INSERT of the 20-column Exchange cost more than the write itself (profiled: about two thirds of a
webhook's own work went to the ORM's per-call SQL compilation). `insert(obj)` and `update(obj, fields)` send the
statements Model.save() and QuerySet.update() send — every value through its field's own get_db_prep_save (JSON,
datetimes, encrypted fields alike) — from SQL built once per model and set of fields. They send no signals: only for
models nothing listens to (HOT_MODELS; tests/core/test_rows.py keeps it so), and no field may have a database
default (refused at first use).
"""

from __future__ import annotations

import threading
from datetime import datetime

from django.db import connections, models
from django.db.models.base import ModelState

_sql: dict[tuple, tuple[str, list]] = {}
# Fields whose get_db_prep_save hands a str, int or None back unchanged: such values skip its five calls.
_PLAIN = {models.CharField: (str,), models.TextField: (str,), models.BigIntegerField: (int,),
          models.IntegerField: (int,), models.PositiveIntegerField: (int,), models.FloatField: (float, int),
          models.ForeignKey: (int,)}
# Values these fields' get_db_prep_save would only hand to the driver's adapter (an aware datetime, a JSON dict or
# list): the adapter is called directly, without the field's checks on the way (profiled: half a row's conversion).
_DIRECT = {models.DateTimeField: (lambda v: type(v) is datetime and v.tzinfo is not None,
                                  lambda f, v, conn: conn.ops.adapt_datetimefield_value(v)),
           models.JSONField: (lambda v: type(v) in (dict, list),
                              lambda f, v, conn: conn.ops.adapt_json_value(v, f.encoder))}
_lock = threading.Lock()
HOT_MODELS = ("core.Exchange", "core.Job", "order_lookup.LookupCall")


def _insert_sql(model, conn, unless: tuple[str, ...] = ()) -> tuple[str, list]:
    key = ("insert", model, conn.alias, unless)
    hit = _sql.get(key)
    if hit is None:
        qn = conn.ops.quote_name
        meta = model._meta
        if any(f.has_db_default() for f in meta.concrete_fields):
            raise ValueError(f"{meta.label} has a field with a database default: save it with the ORM")
        fields = [(f, _PLAIN.get(type(f), ()), _DIRECT.get(type(f))) for f in meta.concrete_fields if f is not meta.pk]
        sql = (f"INSERT INTO {qn(meta.db_table)} ({', '.join(qn(f.column) for f, _, _ in fields)}) "
               f"VALUES ({', '.join(['%s'] * len(fields))})")
        if unless:
            sql += f" ON CONFLICT ({', '.join(qn(meta.get_field(n).column) for n in unless)}) DO NOTHING"
        if conn.features.can_return_columns_from_insert:
            sql += f" RETURNING {qn(meta.pk.column)}"
        with _lock:
            hit = _sql[key] = (sql, fields)
    return hit


def insert(obj, *, using: str = "default"):
    """INSERT the new row `obj` (its primary key unset); sets its pk as save() would. Returns obj."""
    conn = connections[using]
    sql, fields = _insert_sql(type(obj), conn)
    with conn.cursor() as cur:
        cur.execute(sql, _values(obj, fields, conn))
        if conn.features.can_return_columns_from_insert:
            pk = cur.fetchone()[0]
        else:
            pk = conn.ops.last_insert_id(cur, type(obj)._meta.db_table, type(obj)._meta.pk.column)
    return _saved(obj, pk, using)


def insert_unless_exists(obj, unique: tuple[str, ...], *, using: str = "default"):
    """INSERT … ON CONFLICT (unique) DO NOTHING: obj saved, or None when a row with those values exists (one
    statement: no savepoint and failed INSERT inside the caller's transaction). Databases that cannot say which row
    they inserted (RETURNING) take the savepoint way."""
    conn = connections[using]
    if not (conn.features.can_return_columns_from_insert and conn.features.supports_update_conflicts_with_target):
        from django.db import IntegrityError, transaction

        try:
            with transaction.atomic(using=using):
                return insert(obj, using=using)
        except IntegrityError:
            return None
    sql, fields = _insert_sql(type(obj), conn, tuple(unique))
    with conn.cursor() as cur:
        cur.execute(sql, _values(obj, fields, conn))
        row = cur.fetchone()
    return _saved(obj, row[0], using) if row is not None else None


def _values(obj, fields, conn) -> list:
    out = []
    for field, plain, direct in fields:
        value = field.pre_save(obj, True)
        if value is not None and type(value) not in plain:  # None is stored as NULL by every field here
            if direct is not None and direct[0](value):
                value = direct[1](field, value, conn)
            else:
                value = field.get_db_prep_save(value, connection=conn)
        out.append(value)
    return out


def _saved(obj, pk, using: str):
    obj.pk = pk
    obj._state.adding, obj._state.db = False, using
    return obj


def update(obj, fields: tuple[str, ...] | list[str], *, using: str = "default") -> int:
    """UPDATE these fields of `obj`'s row from its attributes; the number of rows changed (0: the row is gone)."""
    conn = connections[using]
    model = type(obj)
    key = ("update", model, conn.alias, tuple(fields))
    hit = _sql.get(key)
    if hit is None:
        qn = conn.ops.quote_name
        meta = model._meta
        columns = [meta.get_field(name) for name in fields]
        sql = (f"UPDATE {qn(meta.db_table)} SET {', '.join(f'{qn(f.column)} = %s' for f in columns)} "
               f"WHERE {qn(meta.pk.column)} = %s")
        with _lock:
            hit = _sql[key] = (sql, columns)
    sql, columns = hit
    params = [f.get_db_prep_save(getattr(obj, f.attname), connection=conn) for f in columns]
    with conn.cursor() as cur:
        cur.execute(sql, [*params, obj.pk])
        return cur.rowcount


_blank: dict[type, tuple[dict, list, frozenset]] = {}


def new(model, **values):
    """`model(**values)` for a model of HOT_MODELS, values by attname (`store_id`, not `store`): every other field at
    its default, as Model.__init__ leaves it, without its walk over the fields and its pre_init/post_init signals —
    building a webhook's Exchange that way was a fifth of its Python (profiled: ~90 us; nothing listens to those
    signals for these models, tests/core/test_rows.py keeps it so)."""
    blank = _blank.get(model)
    if blank is None:
        fixed, made = {}, []
        for f in model._meta.concrete_fields:
            if f.has_default() and callable(f.default):
                made.append((f.attname, f.default))
            else:
                fixed[f.attname] = f.get_default()
        with _lock:
            blank = _blank[model] = (fixed, made, frozenset(f.attname for f in model._meta.concrete_fields))
    fixed, made, names = blank
    if not names.issuperset(values):
        raise TypeError(f"{model._meta.label} has no field {sorted(set(values) - names)}")
    obj = model.__new__(model)
    obj._state = ModelState()
    d = obj.__dict__
    d.update(fixed)
    for name, default in made:
        if name not in values:
            d[name] = default()
    d.update(values)
    return obj


def relate(obj, **values) -> None:
    """Set fields of `obj`, related rows (a model instance or None) as the foreign key's descriptor would — its id,
    the instance kept for reads — without the descriptor's checks (router, instance state): those made up most of
    building a webhook's Exchange (profiled: 79 of 95 us)."""
    for name, value in values.items():
        field = obj._meta.get_field(name)
        if not field.is_relation:
            setattr(obj, name, value)
            continue
        setattr(obj, field.attname, value.pk if value is not None else None)
        obj._state.fields_cache[field.name] = value


def select(sql: str, params: list, *, using: str = "default") -> list[tuple]:
    """The rows of one SELECT a hot path writes out (double-quoted names: SQLite and PostgreSQL alike) — the ORM
    compiled each such read anew, about 800 Python calls for a one-row read. Datetime parameters go through
    `db_datetime`."""
    with connections[using].cursor() as cur:
        cur.execute(sql, params)
        return cur.fetchall()


def db_datetime(value, *, using: str = "default"):
    """An aware datetime as the database's driver takes it (what a DateTimeField sends)."""
    return connections[using].ops.adapt_datetimefield_value(value)
