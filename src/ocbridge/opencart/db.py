"""Connecting to a shop database: engine from its fields + table prefix, OpenCart's session settings, clear errors.

The driver URL is built from `core.shop_database.ShopDatabase` fields only (no query options), and PyMySQL is
opened with LOCAL INFILE off: a hostile server asking for a hub file gets nothing (tests/security).
"""

from __future__ import annotations

import functools
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import pymysql.connections
import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.pool import QueuePool

from ocbridge.core.errors import ConfigurationError, RetryableError, network_cause
from ocbridge.core.shop_database import SQLITE, ShopDatabase
from ocbridge.opencart.layouts import metadata_for

if TYPE_CHECKING:
    from ocbridge.opencart.version import VersionInfo

# OpenCart 3.0/4.0 connect with this sql_mode (system/library/db/mysqli.php, opencart.md §1.1): many
# NOT NULL columns have no default, and strict mode would reject OpenCart-style partial rows.
OPENCART_SQL_MODE = "NO_ZERO_IN_DATE,NO_ENGINE_SUBSTITUTION"

# Server gone, not reachable, too many connections, lock wait timeout, deadlock: worth trying again later.
UNREACHABLE_CODES = frozenset({2003, 2005, 2006, 2013, 1040, 1205, 1213})

# One pool per shop database and process, with limits (an agency hub holds a thousand of them, and shops often
# share a hosting server allowing ~150 connections): one connection kept open between polls, at most five at once;
# a job that finds all five busy waits POOL_WAIT seconds, then is retried later like an unreachable shop.
POOL = {"pool_size": 1, "max_overflow": 4, "pool_timeout": 10}
# A shop that stops answering costs a poll at most this long (connect, then each read or write; a server that takes
# the TCP connection but never greets waits out the read timeout). Polls of such a shop back off (core.polls).
TIMEOUTS = {"connect_timeout": 5, "read_timeout": 30, "write_timeout": 30}
# A pooled connection used this recently is not pinged at checkout (a live order-status call reuses it within
# seconds; a poll every 15 s still pings). Should the server have dropped it meanwhile, the statement fails as a
# lost connection, the pool drops it, and the caller may try once more (order_lookup.shop does).
PING_AFTER = 2.0

_deadline = threading.local()


class DeadlinePassed(TimeoutError):
    """A read under `deadline()` did not finish in time."""


@contextmanager
def deadline(seconds: float):
    """Every wait on the shop inside this block — a new connection, the liveness check of a pooled one, each
    statement — ends at most `seconds` from now, in the caller's own thread (the driver's socket timeouts; no helper
    thread to hand the work to). MySQL/MariaDB only; the demo's SQLite shop is a local file."""
    outer = getattr(_deadline, "at", None)
    at = time.monotonic() + seconds
    _deadline.at = at if outer is None else min(outer, at)
    try:
        yield
    finally:
        _deadline.at = outer


def _time_left(default: float) -> float:
    at = getattr(_deadline, "at", None)
    if at is None:
        return default
    left = at - time.monotonic()
    if left <= 0:
        raise DeadlinePassed("the shop database did not answer in time")
    return min(default, left)


def _bound(dbapi_conn) -> None:
    """PyMySQL reads its timeouts before each packet: the deadline's rest, or the usual ones outside a deadline."""
    dbapi_conn._read_timeout = _time_left(TIMEOUTS["read_timeout"])
    dbapi_conn._write_timeout = _time_left(TIMEOUTS["write_timeout"])



class ShopPool(QueuePool):
    """QueuePool whose "every connection busy" is a reason to retry later (RetryableError), not a crash."""

    def _do_get(self):
        try:
            return super()._do_get()
        except sa.exc.TimeoutError:
            raise RetryableError("opencart-db", None, f"All {self.size() + self._max_overflow} connections to the "
                                 f"shop database are in use; trying again later") from None


class ShopConnection(pymysql.connections.Connection):
    """PyMySQL's connection, its default TLS context made once per process instead of once per connection.

    With no TLS option given PyMySQL prefers TLS (encrypted when the server offers it, the certificate not checked)
    and builds that context for every connection, loading the system's CA certificates each time: about 0.8 MB
    kept with each pooled connection and tens of milliseconds of CPU per connection (a third of a thousand-shop
    hub's first round). The context is the same each time, and one context serves any number of connections."""

    def _create_ssl_ctx(self, sslp):
        if sslp == {}:  # PyMySQL's "preferred" mode: the only one our URLs can ask for (no query options)
            return _preferred_tls()
        return super()._create_ssl_ctx(sslp)


@functools.cache
def _preferred_tls():
    return pymysql.connections.Connection._create_ssl_ctx(None, {})


_engines: dict[ShopDatabase, Engine] = {}
_shops: dict[tuple[ShopDatabase, str], "ShopDB"] = {}
_lock = threading.Lock()


@dataclass
class ShopDB:
    """One shop database: engine, table prefix, detected version and its tables."""

    engine: Engine
    prefix: str
    version: VersionInfo
    metadata: sa.MetaData = field(repr=False)

    def t(self, name: str) -> sa.Table:
        """Table by OpenCart's short name (`order`, `order_history`…)."""
        return self.metadata.tables[self.prefix + name]

    @property
    def is_mysql(self) -> bool:
        return self.engine.dialect.name in ("mysql", "mariadb")

    @property
    def layout(self) -> str:
        return self.version.layout


def as_database(target: ShopDatabase | str) -> ShopDatabase:
    """A ShopDatabase as given, or split from a URL (tests, seed scripts); URL options are refused."""
    return target if isinstance(target, ShopDatabase) else ShopDatabase.from_url(target)


def make_engine(target: ShopDatabase | str) -> Engine:
    """Engine for a shop database (MySQL/MariaDB, or SQLite for the demo), OpenCart's sql_mode, a liveness check of
    a connection not used for PING_AFTER seconds, timeouts (and `deadline()`)."""
    database = as_database(target)
    url = database.sqlalchemy_url()
    if database.engine == SQLITE:
        kwargs = {}
    else:
        # local_infile False and no option file: the server cannot make the driver send a hub file.
        # No pool_pre_ping: the "checkout" listener below pings, within the caller's deadline.
        kwargs = {"pool_recycle": 1800, "poolclass": ShopPool, **POOL,
                  "connect_args": {**TIMEOUTS, "local_infile": False, "read_default_file": None}}
    try:
        engine = sa.create_engine(url, **kwargs)
    except Exception as exc:  # missing driver
        raise ConfigurationError(f"Cannot open the shop database: {exc}") from None
    if database.engine != SQLITE:
        @event.listens_for(engine, "connect")
        def _session_settings(dbapi_conn, _record):
            with dbapi_conn.cursor() as cur:
                cur.execute(f"SET SESSION sql_mode = '{OPENCART_SQL_MODE}'")
            _record.info["fresh"] = True  # just opened: no liveness check needed at its first checkout

        @event.listens_for(engine, "do_connect")
        def _connect_in_time(dialect, conn_rec, cargs, cparams):
            for name, default in TIMEOUTS.items():
                cparams[name] = _time_left(default)
            return ShopConnection(*cargs, **cparams)

        @event.listens_for(engine, "checkout")
        def _alive(dbapi_conn, record, proxy):
            # What pool_pre_ping did (a server restarted or a connection dropped since the last use: a new one),
            # but within the caller's deadline: a shop that stopped answering holds a live call 2.5 s, not 30.
            _bound(dbapi_conn)
            if record.info.pop("fresh", False) or time.monotonic() - record.info.get("used", 0.0) < PING_AFTER:
                return
            try:
                dbapi_conn.ping(reconnect=False)
            except DeadlinePassed:
                raise
            except Exception as exc:  # noqa: BLE001 - the pool opens a new connection (and pings it) instead
                raise sa.exc.DisconnectionError(str(exc)) from exc

        @event.listens_for(engine, "checkin")
        def _used(dbapi_conn, record):
            record.info["used"] = time.monotonic()

        @event.listens_for(engine, "before_cursor_execute")
        def _statement_in_time(conn, cursor, statement, parameters, context, executemany):
            _bound(conn.connection.dbapi_connection)

        @event.listens_for(engine, "handle_error")
        def _unreachable_is_retryable(context):
            # A shop database that is down or restarting is a reason to retry later, not a bug: without this
            # every job touching the shop during an outage ended "errored" and its work was lost.
            if context.is_pre_ping:
                return  # the pool's checkout ping: SQLAlchemy reconnects by itself, leave it alone
            orig = context.original_exception
            code = orig.args[0] if getattr(orig, "args", None) else None
            if context.is_disconnect or code in UNREACHABLE_CODES:
                error = classify_db_error(context.sqlalchemy_exception or orig)
                error.connection_lost = bool(context.is_disconnect)  # the pool drops it: see connection_lost()
                raise error from context.sqlalchemy_exception
    return engine


def engine_for(target: ShopDatabase | str) -> Engine:
    """One pooled engine per database settings (password included) for the whole process."""
    database = as_database(target)
    with _lock:
        engine = _engines.get(database)
        if engine is None:
            engine = _engines[database] = make_engine(database)
        return engine


def ping(engine: Engine) -> None:
    """Open a connection; turn driver errors into ours with the reason spelled out."""
    try:
        with engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
    except sa.exc.OperationalError as exc:
        raise classify_db_error(exc) from None


def connection_lost(exc: BaseException) -> bool:
    """The error is a pooled connection the server had dropped (the pool has discarded it: trying again opens a new
    one)."""
    while exc is not None:
        if getattr(exc, "connection_lost", False) or getattr(exc, "connection_invalidated", False):
            return True
        exc = exc.__cause__ or exc.__context__
    return False


def classify_db_error(exc: Exception) -> Exception:
    """MySQL error codes → ConfigurationError (fix the settings) or RetryableError (try later)."""
    orig = getattr(exc, "orig", exc)
    code = orig.args[0] if getattr(orig, "args", None) else None
    msg = str(orig.args[1]) if getattr(orig, "args", None) and len(orig.args) > 1 else str(orig)
    if code in (1045, 1698):
        return ConfigurationError(f"Shop database refused the user name or password: {msg}")
    if code == 1044:  # MySQL says this both for a database that is missing and for one the user may not open
        return ConfigurationError(f"Shop database: this user may not open that database — it does not exist, or "
                                  f"the user has no rights on it: {msg}")
    if code == 1049:
        return ConfigurationError(f"Shop database does not exist: {msg}")
    if code in UNREACHABLE_CODES:
        return RetryableError("opencart-db", code, f"Shop database not reachable ({network_cause(msg)}): {msg}")
    return RetryableError("opencart-db", code, msg)


def connect(target: ShopDatabase | str, prefix: str = "oc_", *, version: str | None = None) -> ShopDB:
    """Shop database handle; the version is detected from the schema (once per database+prefix) unless given."""
    from ocbridge.opencart.version import VersionInfo, detect

    database = as_database(target)
    key = (database, prefix)
    with _lock:
        shop = _shops.get(key)
    if shop is not None and (version is None or shop.version.layout == version):
        return shop
    engine = engine_for(database)
    info = VersionInfo.for_layout(version) if version else detect(engine, prefix)
    shop = ShopDB(engine=engine, prefix=prefix, version=info, metadata=metadata_for(info.layout, prefix))
    with _lock:
        _shops[key] = shop
    return shop


def forget(target: ShopDatabase | str | None = None) -> None:
    """Drop cached engines/handles (tests, or after the owner changed the database settings)."""
    database = None if target is None else as_database(target)
    with _lock:
        for key in list(_shops):
            if database is None or key[0] == database:
                del _shops[key]
        for d in list(_engines):
            if database is None or d == database:
                _engines.pop(d).dispose()
