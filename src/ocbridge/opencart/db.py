"""Connecting to a shop database: engine from its fields + table prefix, OpenCart's session settings, clear errors.

The driver URL is built from `core.shop_database.ShopDatabase` fields only (no query options), and PyMySQL is
opened with LOCAL INFILE off: a hostile server asking for a hub file gets nothing (tests/security).
"""

from __future__ import annotations

import dataclasses
import functools
import ssl
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import pymysql.connections
from pymysql.constants import CLIENT
import sqlalchemy as sa
from django.utils.translation import gettext_noop
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.pool import QueuePool

from ocbridge.core.errors import ConfigurationError, RetryableError, network_cause
from ocbridge.core.sentences import Sentence
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

    def __init__(self, *args, **kwargs):
        context = kwargs.get("ssl")
        self._tls_required = isinstance(context, ssl.SSLContext)  # the store's "require" or "verify" setting
        self._tls_verified = self._tls_required and context.verify_mode == ssl.CERT_REQUIRED
        super().__init__(*args, **kwargs)

    def _create_ssl_ctx(self, sslp):
        if sslp == {}:  # PyMySQL's "preferred" mode when the store does not ask for verification
            return _preferred_tls()
        return super()._create_ssl_ctx(sslp)

    def _request_authentication(self):
        # PyMySQL before 1.2.0 goes on in plain text when the server's greeting offers no TLS, even with `ssl=`
        # given (1.2.0 refuses: PyMySQL #1234): a forged server could strip TLS. Refuse before the login is sent.
        if self._tls_required and not self.server_capabilities & CLIENT.SSL:
            raise NoTlsOffered(2026, "SSL is required but the server doesn't support it", self._tls_verified)
        super()._request_authentication()


class ReaderConnection(ShopConnection):
    """A connection that only reads (`reader()`): autocommit, so every statement is its own transaction and none is
    ever left open — nothing to end when the pool takes it back. The pool's ROLLBACK on return would cost a second
    round trip to the shop per order-status lookup (bench/lookup.py); a read-only session makes any write fail."""

    def rollback(self):
        if not self.autocommit_mode:  # never on a reader; kept so a misuse still behaves
            super().rollback()


class NoTlsOffered(pymysql.err.OperationalError):
    """The server offers no TLS and the store requires it (`verified`: and asked for the certificate verified)."""

    def __init__(self, code: int, message: str, verified: bool):
        super().__init__(code, message)
        self.verified = verified


@functools.cache
def _unverified_tls() -> ssl.SSLContext:
    """TLS required, the certificate not checked (the store's "require TLS, without verifying"): PyMySQL given an
    SSLContext requires TLS; with CERT_NONE any certificate is taken."""
    ctx = ssl.create_default_context()
    ctx.check_hostname, ctx.verify_mode = False, ssl.CERT_NONE
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    return ctx


@functools.cache
def _preferred_tls():
    return pymysql.connections.Connection._create_ssl_ctx(None, {})


@functools.lru_cache(maxsize=64)
def _verified_tls(ca_pem: str) -> ssl.SSLContext:
    """TLS as `mysql --ssl-verify-server-cert`: the server's certificate must chain to the system's CAs (or to the
    store's own CA certificate, then to it alone, as `--ssl-ca` does) and name the host we connect to. Given to
    PyMySQL as `ssl=` (an SSLContext): PyMySQL then requires TLS — a server that does not offer it is refused
    before the password is sent — and wraps the socket with `server_hostname` = the store's host."""
    ctx = ssl.create_default_context(cadata=ca_pem or None)  # check_hostname on, CERT_REQUIRED
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    return ctx


class ShopTlsError(ConfigurationError):
    """The shop's database server failed TLS: no TLS offered, or a certificate we cannot verify. The settings (or the
    server's certificate) must change: retrying the same cannot help. The message is translated when shown."""


def tls_problem(exc: BaseException) -> ShopTlsError | None:
    """A driver error that is a TLS failure, as the owner should read it; None for any other error."""
    orig = getattr(exc, "orig", exc)
    cause = getattr(orig, "original_exception", None)
    code = orig.args[0] if getattr(orig, "args", None) else None
    if code == 2026 and cause is None and not getattr(orig, "verified", True):  # ShopConnection: TLS required
        return ShopTlsError(Sentence(gettext_noop(
            "The shop's database server does not offer TLS, and this store requires TLS. Turn TLS on in the database "
            "server, or turn off “Require TLS, without verifying the certificate” for this store.")))
    if code == 2026 and cause is None:  # CR_SSL_CONNECTION_ERROR, raised by PyMySQL before any byte of the login
        return ShopTlsError(Sentence(gettext_noop(
            "The shop's database server does not offer TLS, and this store requires a verified TLS connection. Turn "
            "TLS on in the database server, or turn off “Require TLS and verify the server certificate” for this "
            "store.")))
    if isinstance(cause, ssl.SSLCertVerificationError):
        return ShopTlsError(Sentence(gettext_noop(
            "The shop's database server certificate could not be verified: {reason} ({detail})"),
            reason=_cert_reason(cause), detail=cause.verify_message or str(cause)))
    if isinstance(cause, ssl.SSLError):
        return ShopTlsError(Sentence(gettext_noop(
            "The TLS connection to the shop's database server failed: {detail}"), detail=cause.reason or str(cause)))
    return None


# OpenSSL's X509_V_ERR_* codes an owner meets, in words saying what to fix.
_UNTRUSTED = frozenset({2, 18, 19, 20, 21})
_HOST_MISMATCH = frozenset({62, 64})
_EXPIRED, _NOT_YET_VALID = 10, 9


def _cert_reason(cause: ssl.SSLCertVerificationError) -> Sentence:
    code = cause.verify_code
    if code in _HOST_MISMATCH:
        return Sentence(gettext_noop("it is not issued for the database host name set for this store (set the host "
                                     "name the certificate names)"))
    if code in _UNTRUSTED:
        return Sentence(gettext_noop("it is not signed by a certificate authority the hub trusts (for a private CA, "
                                     "paste its certificate in the store's settings)"))
    if code == _EXPIRED:
        return Sentence(gettext_noop("it has expired"))
    if code == _NOT_YET_VALID:
        return Sentence(gettext_noop("it is not valid yet (check the server's clock)"))
    return Sentence(gettext_noop("it was refused"))


_engines: dict[ShopDatabase | tuple[ShopDatabase, str], Engine] = {}  # (database, "read"): its reader's
_shops: dict[tuple, "ShopDB"] = {}
_lock = threading.Lock()


@dataclass
class ShopDB:
    """One shop database: engine, table prefix, detected version and its tables."""

    engine: Engine
    prefix: str
    version: VersionInfo
    metadata: sa.MetaData = field(repr=False)
    # store_id → (until, the zone its NOW() writes in): opencart.shop_time; shared with the database's reader handle
    zones: dict = field(default_factory=dict, repr=False, compare=False)

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


def make_engine(target: ShopDatabase | str, *, read_only: bool = False) -> Engine:
    """Engine for a shop database (MySQL/MariaDB, or SQLite for the demo), OpenCart's sql_mode, a liveness check of
    a connection not used for PING_AFTER seconds, timeouts (and `deadline()`). `read_only` (MySQL/MariaDB): autocommit
    connections in a read-only session (ReaderConnection), never pinged."""
    database = as_database(target)
    url = database.sqlalchemy_url()
    if database.engine == SQLITE:
        kwargs = {}
    else:
        # local_infile False and no option file: the server cannot make the driver send a hub file.
        # No pool_pre_ping: the "checkout" listener below pings, within the caller's deadline.
        kwargs = {"pool_recycle": 1800, "poolclass": ShopPool, **POOL,
                  "connect_args": {**TIMEOUTS, "local_infile": False, "read_default_file": None,
                                 **({"autocommit": True} if read_only else {})}}
        if database.tls_verify:
            kwargs["connect_args"]["ssl"] = _verified_tls(database.tls_ca)
        elif database.tls_required:
            kwargs["connect_args"]["ssl"] = _unverified_tls()
    try:
        engine = sa.create_engine(url, **kwargs)
    except Exception as exc:  # missing driver
        raise ConfigurationError(f"Cannot open the shop database: {exc}") from None
    if database.engine != SQLITE:
        @event.listens_for(engine, "connect")
        def _session_settings(dbapi_conn, _record):
            with dbapi_conn.cursor() as cur:
                cur.execute(f"SET SESSION sql_mode = '{OPENCART_SQL_MODE}'")
                if read_only:  # MySQL 5.6+, MariaDB 10.0+: a write through a reader fails instead of happening
                    try:
                        cur.execute("SET SESSION TRANSACTION READ ONLY")
                    except pymysql.err.ProgrammingError as exc:  # 1064: older than that; the reader only SELECTs
                        if exc.args[0] != 1064:
                            raise
            _record.info["fresh"] = True  # just opened: no liveness check needed at its first checkout

        @event.listens_for(engine, "do_connect")
        def _connect_in_time(dialect, conn_rec, cargs, cparams):
            for name, default in TIMEOUTS.items():
                cparams[name] = _time_left(default)
            return (ReaderConnection if read_only else ShopConnection)(*cargs, **cparams)

        @event.listens_for(engine, "checkout")
        def _alive(dbapi_conn, record, proxy):
            # What pool_pre_ping did (a server restarted or a connection dropped since the last use: a new one),
            # but within the caller's deadline: a shop that stopped answering holds a live call 2.5 s, not 30.
            _bound(dbapi_conn)
            # A reader is never pinged: its only user (order status by phone) tries a read that found the connection
            # dropped once more on a new one, so a ping would only add a round trip to every call minutes apart.
            fresh = record.info.pop("fresh", False)
            if read_only or fresh or time.monotonic() - record.info.get("used", 0.0) < PING_AFTER:
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
            tls = tls_problem(orig)
            if tls is not None:
                raise tls from context.sqlalchemy_exception
            code = orig.args[0] if getattr(orig, "args", None) else None
            if context.is_disconnect or code in UNREACHABLE_CODES:
                error = classify_db_error(context.sqlalchemy_exception or orig)
                error.connection_lost = bool(context.is_disconnect)  # the pool drops it: see connection_lost()
                raise error from context.sqlalchemy_exception
    return engine


def engine_for(target: ShopDatabase | str, *, read_only: bool = False) -> Engine:
    """One pooled engine per database settings (password included) for the whole process; `read_only`: a second
    one, made when first asked for (see `reader`)."""
    database = as_database(target)
    key = (database, "read") if read_only else database
    with _lock:
        engine = _engines.get(key)
        if engine is None:
            engine = _engines[key] = make_engine(database, read_only=read_only)
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
    tls = tls_problem(exc)
    if tls is not None:
        return tls
    orig = getattr(exc, "orig", exc)
    code = orig.args[0] if getattr(orig, "args", None) else None
    msg = str(orig.args[1]) if getattr(orig, "args", None) and len(orig.args) > 1 else str(orig)
    # Sentences, not text: a worker raises these and a page shows them in its reader's language (core.sentences).
    if code in (1045, 1698):
        return ConfigurationError(Sentence(gettext_noop(
            "Shop database refused the user name or password: {detail}"), detail=msg))
    if code == 1044:  # MySQL says this both for a database that is missing and for one the user may not open
        return ConfigurationError(Sentence(gettext_noop(
            "Shop database: this user may not open that database — it does not exist, or the user has no rights on "
            "it: {detail}"), detail=msg))
    if code == 1049:
        return ConfigurationError(Sentence(gettext_noop("Shop database does not exist: {detail}"), detail=msg))
    if code in UNREACHABLE_CODES:
        return RetryableError("opencart-db", code, Sentence(gettext_noop(
            "Shop database not reachable ({cause}): {detail}"), cause=network_cause(msg), detail=msg))
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


def reader(target: ShopDatabase | str, prefix: str = "oc_") -> ShopDB:
    """The shop's handle for reads that must be quick (order status by phone): the same version and tables as
    `connect()`'s, over autocommit connections in a read-only session, so a read is one round trip to the shop and
    never sees an old snapshot. Nothing written through it can happen — except on a server older than MySQL 5.6 /
    MariaDB 10.0, which has no read-only sessions: there it is plain autocommit and relies on its callers only
    reading (testbed.old_mysql). The demo's SQLite shop: `connect()`'s handle."""
    database = as_database(target)
    shop = connect(database, prefix)
    if not shop.is_mysql:
        return shop
    key = (database, prefix, "read")
    with _lock:
        read = _shops.get(key)
    if read is None or read.version is not shop.version:
        read = dataclasses.replace(shop, engine=engine_for(database, read_only=True))
        with _lock:
            _shops[key] = read
    return read


def forget(target: ShopDatabase | str | None = None) -> None:
    """Drop cached engines/handles (tests, or after the owner changed the database settings)."""
    database = None if target is None else as_database(target)
    with _lock:
        for key in list(_shops):
            if database is None or key[0] == database:
                del _shops[key]
        for d in list(_engines):
            if database is None or (d[0] if isinstance(d, tuple) else d) == database:
                _engines.pop(d).dispose()
