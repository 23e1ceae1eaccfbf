"""pytest plugin: one throwaway MariaDB server per test session, and fresh OpenCart shop databases on it.

Fixtures: `mariadb` (the server; skips the test with the apt package name if mariadbd is missing),
`opencart_db` (a factory: `opencart_db("3.0")` → ShopHandle with url, prefix, version, engine, shop),
`opencart_sqlite` (the demo layout, 3.0 on SQLite, as a factory too) and `sqlite_shop` (a factory of copies of
one 3.0 SQLite shop built once per session: faster when a test only needs some shop), `shop_zone` (makes a
shop write its dates in a given zone, as opencart.shop_time reads it).
"""

from __future__ import annotations

import itertools
import os
import threading
from dataclasses import dataclass

import pytest

_counter = itertools.count(1)


@dataclass
class ShopHandle:
    """A fresh shop database with the layout and reference rows of one version."""

    url: str
    prefix: str
    version: str
    engine: object
    name: str = ""

    @property
    def shop(self):
        from ocbridge.opencart import db

        return db.connect(self.url, self.prefix, version=self.version)

    def t(self, name: str):
        return self.shop.t(name)


@pytest.fixture(scope="session")
def mariadb(tmp_path_factory):
    from ocbridge.testbed.mariadb import MariaDBServer, MariaDBUnavailable

    server = MariaDBServer(tmp_path_factory.mktemp("mariadb"))
    try:
        server.start()
    except MariaDBUnavailable as exc:
        pytest.skip(str(exc))
    yield server
    server.stop()


_pool: dict[tuple, list[ShopHandle]] = {}  # shop databases handed back by earlier tests, per layout
_pool_lock = threading.Lock()  # a test may make its shops from several threads


def _reset(handle: ShopHandle, reference_kwargs: dict) -> None:
    """Empty every table and put the reference rows back: much faster than 35 CREATE TABLEs per test."""
    import sqlalchemy as sa

    from ocbridge.opencart import reference
    from ocbridge.opencart.layouts import metadata_for

    md = metadata_for(handle.version, handle.prefix)
    with handle.engine.begin() as conn:
        for table in md.tables.values():
            conn.execute(sa.delete(table))
        reference.install(conn, md, **reference_kwargs)


def _load_zone(mariadb, name: str) -> None:
    """Put the IANA zone `name` into the server's time zone tables (from the system's zoneinfo, by
    mariadb-tzinfo-to-sql), once per session; skip the test where the tool or the zone file is missing."""
    import shutil
    import subprocess
    from pathlib import Path

    conn = mariadb.connect()
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT 1 FROM mysql.time_zone_name WHERE Name = %s", (name,))
            if cur.fetchone():
                return
    finally:
        conn.close()
    tool = shutil.which("mariadb-tzinfo-to-sql") or shutil.which("mysql_tzinfo_to_sql")
    client = shutil.which("mariadb") or shutil.which("mysql")
    source = Path("/usr/share/zoneinfo") / name
    if not (tool and client and source.is_file()):
        pytest.skip(f"cannot load time zone {name} into MariaDB (mariadb-tzinfo-to-sql, the client, {source})")
    sql = subprocess.run([tool, str(source), name], capture_output=True, text=True, check=True).stdout
    subprocess.run([client, f"--socket={mariadb.socket}", "--user=root", "mysql"], input=sql, capture_output=True,
                   text=True, check=True)


@pytest.fixture
def server_zone(mariadb):
    """server_zone(offset or IANA name): the MariaDB server's global time zone for the test (what a 2.3 shop writes
    in; a name is first loaded into the server's time zone tables); put back afterwards."""
    changed: list[bool] = []

    def set_to(offset: str) -> None:
        if offset[:1] not in "+-" and offset.upper() != "SYSTEM":
            _load_zone(mariadb, offset)
        conn = mariadb.connect()
        try:
            with conn.cursor() as cur:
                cur.execute("SET GLOBAL time_zone = %s", (offset,))
        finally:
            conn.close()
        changed.append(True)

    yield set_to
    if changed:
        set_to("+00:00")  # the testbed's --default-time-zone


@pytest.fixture
def shop_zone(server_zone):
    """shop_zone(handle, name, offset) → the session zone the shop stamps its dates in (None: the server's): a 2.3
    shop writes in the server's global zone (set to `offset` for the test, put back afterwards); 3.0.3.7+ and 4.0 in
    config_timezone (set to `name`, the server left at UTC)."""
    import sqlalchemy as sa

    def make(h, name: str, offset: str) -> str | None:
        t = h.t("setting")
        with h.engine.begin() as conn:
            conn.execute(sa.delete(t).where(t.c.key == "config_timezone"))
            if h.version != "2.3":  # a config_timezone row means nothing to 2.3
                conn.execute(sa.insert(t).values(store_id=0, code="config", key="config_timezone", value=name,
                                                 serialized=0))
                return offset
        server_zone(offset)
        return None

    return make


@pytest.fixture
def opencart_db(mariadb):
    """Factory: opencart_db(version="3.0", prefix="oc_", orders=0, fresh=False) → ShopHandle on MariaDB.

    Databases are reused between tests (emptied and refilled with reference rows); pass fresh=True when the
    test changes the schema (ALTER TABLE), and the database is dropped afterwards instead.
    """
    from ocbridge.opencart import db as oc_db
    from ocbridge.opencart.seed import create_shop, seed

    made: list[tuple[tuple, ShopHandle, bool]] = []

    def make(version: str = "3.0", prefix: str = "oc_", orders: int = 0, fresh: bool = False,
             **reference_kwargs) -> ShopHandle:
        key = (version, prefix, tuple(sorted(reference_kwargs.items())))
        handle = None
        if not fresh:
            with _pool_lock:
                handle = _pool[key].pop() if _pool.get(key) else None
            if handle is not None:
                _reset(handle, reference_kwargs)
        if handle is None:
            name = f"shop_{os.getpid()}_{next(_counter)}"
            url = mariadb.create_database(name)
            engine = create_shop(url, version, prefix, **reference_kwargs)
            handle = ShopHandle(url=url, prefix=prefix, version=version, engine=engine, name=name)
        if orders:
            seed(handle.engine, version=version, orders=orders, prefix=prefix, create=False)
        made.append((key, handle, fresh))
        return handle

    yield make
    for key, h, fresh in made:
        oc_db.forget(h.url)
        if fresh:
            h.engine.dispose()
            mariadb.drop_database(h.name)
        else:
            _pool.setdefault(key, []).append(h)


def _dispose(handles: list[ShopHandle]) -> None:
    """Close the SQLite shops a test made (the engine and its cached copy in opencart.db)."""
    from ocbridge.opencart import db as oc_db

    for h in handles:
        oc_db.forget(h.url)
        h.engine.dispose()


@pytest.fixture
def opencart_sqlite(tmp_path):
    """Factory: the demo shop layout (3.0) on SQLite."""
    from ocbridge.opencart.seed import create_shop, seed

    made: list[ShopHandle] = []

    def make(version: str = "3.0", prefix: str = "oc_", orders: int = 0, **reference_kwargs) -> ShopHandle:
        url = f"sqlite:///{tmp_path / f'shop{next(_counter)}.db'}"
        engine = create_shop(url, version, prefix, **reference_kwargs)
        if orders:
            seed(engine, version=version, orders=orders, prefix=prefix, create=False)
        handle = ShopHandle(url=url, prefix=prefix, version=version, engine=engine)
        made.append(handle)
        return handle

    yield make
    _dispose(made)


@pytest.fixture(scope="session")
def _shop_template(tmp_path_factory):
    """One demo-layout (3.0) shop on SQLite, built once; tests get a copy (building one costs ~1 s)."""
    from ocbridge.opencart.seed import create_shop

    path = tmp_path_factory.mktemp("shop_template") / "shop.db"
    create_shop(f"sqlite:///{path}", "3.0", "oc_").dispose()
    return path


@pytest.fixture
def sqlite_shop(_shop_template, tmp_path):
    """Factory: a fresh copy of the template shop → ShopHandle (url, prefix, version, engine)."""
    import shutil

    from ocbridge.opencart import db as oc_db

    made = []

    def make() -> ShopHandle:
        path = tmp_path / f"shop{len(made)}.db"
        shutil.copy(_shop_template, path)
        url = f"sqlite:///{path}"
        handle = ShopHandle(url=url, prefix="oc_", version="3.0", engine=oc_db.make_engine(url))
        made.append(handle)
        return handle

    yield make
    _dispose(made)
