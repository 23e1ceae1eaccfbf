"""One connection pool per shop database, with limits: an agency hub keeps one idle connection per shop between
polls (shops often share a hosting server with ~150 connections), and a shop whose connections are all busy
makes a job retry later instead of crashing it."""

import threading

import pytest
import sqlalchemy as sa

from ocbridge.core.errors import RetryableError
from ocbridge.opencart import db


def _connections_to(mariadb, name: str) -> int:
    conn = mariadb.connect()
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE DB = %s", (name,))
            return cur.fetchone()[0]
    finally:
        conn.close()


def test_a_shop_keeps_one_idle_connection_after_a_burst(mariadb, opencart_db):
    shop = opencart_db("3.0")
    engine = db.engine_for(shop.url)
    before = _connections_to(mariadb, shop.name)  # the test fixture's own
    try:
        held = [engine.connect() for _ in range(4)]  # a poll and three jobs of one busy shop at once
        for c in held:
            c.execute(sa.text("SELECT 1"))
        assert _connections_to(mariadb, shop.name) == before + 4
        for c in held:
            c.close()
        assert _connections_to(mariadb, shop.name) == before + 1
    finally:
        db.forget(shop.url)


def test_every_connection_busy_is_retried_not_a_crash(mariadb, opencart_db, monkeypatch):
    shop = opencart_db("3.0")
    monkeypatch.setitem(db.POOL, "pool_timeout", 0.2)  # the wait for a free connection, shortened
    db.forget(shop.url)
    engine = db.engine_for(shop.url)
    limit = db.POOL["pool_size"] + db.POOL["max_overflow"]
    held = [engine.connect() for _ in range(limit)]
    try:
        with pytest.raises(RetryableError, match="connections to the shop database are in use"):
            engine.connect()
        freed = threading.Event()
        threading.Timer(0.05, lambda: (held.pop().close(), freed.set())).start()
        with engine.connect() as c:  # a connection handed back within the wait is taken
            assert c.execute(sa.text("SELECT 1")).scalar() == 1
        assert freed.is_set()
    finally:
        for c in held:
            c.close()
        db.forget(shop.url)


def test_shops_share_one_tls_context_and_one_set_of_table_definitions(mariadb, opencart_db):
    """A thousand shops on one hub: PyMySQL's default ("preferred") TLS context — the system's CA certificates,
    ~0.8 MB and tens of milliseconds each — is made once, not per connection; shops of one layout share their
    table definitions. The connections still offer TLS as PyMySQL does by default."""
    from ocbridge.opencart.layouts import metadata_for

    one, two = opencart_db("3.0"), opencart_db("3.0")
    try:
        conns = [db.engine_for(one.url).connect(), db.engine_for(one.url).connect(), db.engine_for(two.url).connect()]
        raw = [c.connection.dbapi_connection for c in conns]
        assert all(r.ctx is raw[0].ctx and r.ctx is not None for r in raw)
        assert raw[0].ssl and not raw[0]._ssl_required  # preferred, as before: encrypted when the server offers it
        for c in conns:
            c.execute(sa.text("SELECT 1"))
            c.close()
        assert db.connect(one.url).metadata is db.connect(two.url).metadata is metadata_for("3.0", "oc_")
    finally:
        db.forget(one.url)
        db.forget(two.url)


def test_a_reader_reads_in_one_round_trip_sees_every_commit_and_cannot_write(mariadb, opencart_db):
    """Order status by phone reads through `db.reader`: autocommit connections in a read-only session. Handing one
    back to the pool sends no ROLLBACK (the second round trip of every lookup before), a pooled reader still sees
    what another connection committed since (no snapshot left open), and a write through it fails, changing
    nothing."""
    shop = opencart_db("3.0", orders=2)
    try:
        read = db.reader(shop.url, shop.prefix)
        assert read.version is db.connect(shop.url, shop.prefix).version and read.engine is not db.engine_for(shop.url)
        order = read.t("order")
        first = sa.select(order.c.order_id).order_by(order.c.order_id).limit(1)

        def status_of(order_id):
            with read.engine.connect() as c:
                return c.execute(sa.select(order.c.order_status_id).where(order.c.order_id == order_id)).scalar()

        order_id = read.engine.connect().execute(first).scalar()  # the reader's one connection, left to the pool
        before = status_of(order_id)
        with shop.engine.begin() as w:  # the shop changes it meanwhile
            w.execute(sa.update(order).where(order.c.order_id == order_id).values(order_status_id=before + 1))
        assert status_of(order_id) == before + 1
        with read.engine.connect() as c:
            raw = c.connection.dbapi_connection
            rolled = c.execute(sa.text("SHOW SESSION STATUS LIKE 'Com_rollback'")).one()[1]
            assert raw.autocommit_mode
        with read.engine.connect() as c:
            assert c.connection.dbapi_connection is raw  # the same pooled connection: no ROLLBACK was sent for it
            assert c.execute(sa.text("SHOW SESSION STATUS LIKE 'Com_rollback'")).one()[1] == rolled == "0"
            with pytest.raises(sa.exc.OperationalError, match="READ ONLY"):
                c.execute(sa.update(order).where(order.c.order_id == order_id).values(order_status_id=1))
        assert status_of(order_id) == before + 1
    finally:
        db.forget(shop.url)


def test_a_reader_idle_past_the_ping_interval_is_not_pinged(mariadb, opencart_db, monkeypatch):
    """A call minutes after the last one: the ordinary pool pings its connection first (a second round trip), a
    reader does not — a connection the server dropped meanwhile is tried once more by order lookup instead (tests/
    integrations/order_lookup: a shop restarted between two calls). COM_PING is counted by the server as
    Com_admin_commands."""
    shop = opencart_db("3.0")
    monkeypatch.setattr(db, "PING_AFTER", 0.0)  # every checkout is "long after the last use"

    def pings(engine) -> list[int]:
        seen = []
        for _ in range(3):
            with engine.connect() as c:
                seen.append(int(c.execute(sa.text("SHOW SESSION STATUS LIKE 'Com_admin_commands'")).one()[1]))
        return seen

    try:
        ordinary = pings(db.engine_for(shop.url))
        read = pings(db.reader(shop.url, shop.prefix).engine)
        assert ordinary[1] - ordinary[0] == ordinary[2] - ordinary[1] == 1  # one ping per checkout
        assert read[0] == read[1] == read[2]
    finally:
        db.forget(shop.url)


def test_a_reader_on_a_server_older_than_mysql_5_6_reads_in_plain_autocommit(mariadb, opencart_db):
    """MySQL 5.5 and MariaDB 5.5 (CentOS 7's) cannot parse `SET SESSION TRANSACTION READ ONLY` (MySQL 5.6.5 and
    MariaDB 10.0 added it) and answer 1064; OpenCart 2.3 and 3.0 name no minimum MySQL version (install.txt,
    INSTALL.md), so such shops exist. Their reader reads in plain autocommit instead of failing every connection
    (728ffcb). The server is the real MariaDB behind testbed.old_mysql, which answers that one statement as 5.5 does."""
    from ocbridge.testbed.old_mysql import OldMySQL

    shop = opencart_db("2.3", orders=2)
    with OldMySQL(mariadb.port) as old:
        url = old.url(shop.url)
        try:
            read = db.reader(url, shop.prefix)
            order = read.t("order")
            with read.engine.connect() as c:
                assert len(c.execute(sa.select(order.c.order_id)).all()) == 2
                assert c.execute(sa.text("SELECT @@session.tx_read_only")).scalar() == 0  # no read-only session
                assert c.connection.dbapi_connection.autocommit_mode
            assert old.refused == 1  # asked once, on the reader's one connection
        finally:
            db.forget(url)
