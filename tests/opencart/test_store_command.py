"""`ocbridge store add|check|list|remove` against real shops: settings read from the shop, write permission
checked without changing anything, unreachable databases named for what they are, a hung one given up in 10 s."""

import io
import socket
import time

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

pytestmark = pytest.mark.django_db


def _store(*args) -> str:
    out = io.StringIO()
    call_command("ocbridge_store", *args, stdout=out)
    return out.getvalue()


def test_add_reads_time_zone_language_currency_and_country_from_the_shop(sqlite_shop):
    from ocbridge.core.models import Store

    shop = sqlite_shop()
    out = _store("add", "--name", "Moscow shop", "--db-url", shop.url)
    s = Store.objects.get(name="Moscow shop")
    # the reference shop is set to Europe/Istanbul, tr-tr, TRY, Turkey: not the command's old defaults by luck
    assert (s.timezone, s.language, s.currency, s.country, s.version) == ("Europe/Istanbul", "tr", "TRY", "TR", "3.0")
    assert "as the shop is set" in out
    out = _store("add", "--name", "Override", "--db-url", shop.url, "--store-id", "1", "--timezone", "Europe/Moscow")
    assert Store.objects.get(name="Override").timezone == "Europe/Moscow"


def test_unreachable_database_is_refused_unless_said_not_reachable_yet():
    from ocbridge.core.models import Store

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again: nothing listens there
    url = f"mysql+pymysql://oc:pw@127.0.0.1:{port}/oc"
    with pytest.raises(CommandError, match="connection refused"):
        _store("add", "--name", "Down", "--db-url", url)
    assert not Store.objects.filter(name="Down").exists()
    out = _store("add", "--name", "Down", "--db-url", url, "--not-reachable-yet")
    assert "NOT REACHABLE YET" in out and Store.objects.get(name="Down").version == ""
    assert "not reachable yet" in _store("list")
    with pytest.raises(CommandError, match="host name does not resolve"):
        _store("add", "--name", "Typo", "--db-url", "mysql+pymysql://oc:pw@no-such-host.invalid/oc")


def test_a_hung_database_is_given_up_within_ten_seconds():
    with socket.socket() as server:  # accepts the TCP connection, never says a word: a hung server
        server.bind(("127.0.0.1", 0))
        server.listen()
        url = f"mysql+pymysql://oc:pw@127.0.0.1:{server.getsockname()[1]}/oc"
        t0 = time.monotonic()
        with pytest.raises(CommandError, match="no answer within 10 s"):
            _store("add", "--name", "Hung", "--db-url", url)
        assert time.monotonic() - t0 < 15


def test_write_permission_is_checked_without_changing_anything(opencart_db, mariadb):
    from ocbridge.core.models import Store

    shop = opencart_db("3.0", orders=3)
    db = shop.url.rsplit("/", 1)[1].split("?")[0]
    with mariadb.connect() as conn, conn.cursor() as cur:
        cur.execute("CREATE USER IF NOT EXISTS 'reader'@'%' IDENTIFIED BY 'pw'")
        cur.execute(f"GRANT SELECT ON `{db}`.* TO 'reader'@'%'")
    reader_url = mariadb.url(db, user="reader", password="pw")
    before = shop.engine.connect().exec_driver_sql("CHECKSUM TABLE oc_order, oc_order_history, oc_product").all()
    with pytest.raises(CommandError, match="may not write oc_order, oc_order_history, oc_product"):
        _store("add", "--name", "Read only", "--db-url", reader_url)
    out = _store("add", "--name", "Writer", "--db-url", shop.url)
    assert "may not write" not in out
    after = shop.engine.connect().exec_driver_sql("CHECKSUM TABLE oc_order, oc_order_history, oc_product").all()
    assert before == after
    s = Store.objects.get(name="Writer")
    assert "OpenCart 3.0" in _store("check", str(s.pk))
    _store("remove", str(s.pk), "--yes")
    assert not Store.objects.filter(pk=s.pk).exists()
