"""The throwaway MariaDB: pause/resume (a host that stops answering), restart, and the missing-binary message."""

import pymysql
import pytest
import sqlalchemy as sa

from ocbridge.testbed import mariadb as testbed


def _ping(url: str, timeout: int = 1) -> bool:
    engine = sa.create_engine(url, connect_args={"connect_timeout": timeout, "read_timeout": timeout})
    try:
        with engine.connect() as conn:
            return conn.execute(sa.text("SELECT 1")).scalar() == 1
    except sa.exc.OperationalError:
        return False
    finally:
        engine.dispose()


def test_pause_makes_the_server_hang_and_resume_brings_it_back(mariadb):
    url = mariadb.url("mysql")
    assert _ping(url)
    mariadb.pause()
    try:
        assert not _ping(url)
    finally:
        mariadb.resume()
    assert _ping(url)


def test_restart_keeps_databases(mariadb):
    mariadb.create_database("survives")
    mariadb.restart()
    conn = mariadb.connect("survives")
    conn.close()


def test_missing_binaries_name_the_apt_package(monkeypatch, tmp_path):
    monkeypatch.setattr(testbed, "_which", lambda *names: None)
    with pytest.raises(testbed.MariaDBUnavailable, match="apt-get install mariadb-server"):
        testbed.MariaDBServer(tmp_path).start()


def test_wrong_password_is_refused_by_the_server(mariadb):
    mariadb.create_database("pw", user="u1", password="secret")
    with pytest.raises(pymysql.err.OperationalError):
        pymysql.connect(host="127.0.0.1", port=mariadb.port, user="u1", password="nope", database="pw").close()
