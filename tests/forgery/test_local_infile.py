"""A hostile "shop database" answering the Test button asks the hub for a file (LOAD DATA LOCAL INFILE): nothing
is sent. The fake server speaks the MySQL client/server protocol (dev.mysql.com/doc/dev/mysql-server/latest/
page_protocol_connection_phase_packets_protocol_handshake_v10.html and
page_protocol_com_query_response_local_infile_request.html): handshake v10, OK to any login, then answers the
first query with a LOCAL INFILE request (0xFB + file name) and records every byte the client sends after it."""

from __future__ import annotations

import socket
import struct
import threading

import pytest
from django.urls import reverse

from ocbridge.testbed.old_mysql import frame, read_packet

CLIENT_LOCAL_FILES = 0x80
CAPABILITIES = 0x000FF7DF  # what MySQL 5.7 announces, CLIENT_LOCAL_FILES included
SECRET_TEXT = "fernet-key-that-must-stay-home"


class FakeMySQL:
    """One-shot hostile server on a loopback port: records the client's flags and what it sent after the request."""

    def __init__(self, wanted_file: str):
        self.wanted = wanted_file.encode()
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.client_flags: list[int] = []
        self.after_request = bytearray()
        self.requests = 0
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        self.sock.settimeout(20)
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with conn:
                conn.settimeout(3)
                try:
                    self._session(conn)
                except (ConnectionError, OSError):
                    pass

    def _session(self, conn) -> None:
        salt = b"abcdefgh" + b"ijklmnopqrst"
        greeting = (b"\x0a" + b"5.7.44-hostile\x00" + struct.pack("<I", 7) + salt[:8] + b"\x00"
                    + struct.pack("<H", CAPABILITIES & 0xFFFF) + b"\x21" + struct.pack("<H", 2)
                    + struct.pack("<H", CAPABILITIES >> 16) + bytes([21]) + b"\x00" * 10 + salt[8:] + b"\x00"
                    + b"mysql_native_password\x00")
        conn.sendall(frame(0, greeting))
        seq, login = read_packet(conn)
        self.client_flags.append(struct.unpack("<I", login[:4])[0])
        conn.sendall(frame(seq + 1, b"\x00\x00\x00\x02\x00\x00\x00"))  # OK: any password will do
        while True:
            _, query = read_packet(conn)
            if not query.upper().startswith((b"\x03SET AUTOCOMMIT", b"\x03SET NAMES")):  # the driver's own set-up
                break
            conn.sendall(frame(1, b"\x00\x00\x00\x02\x00\x00\x00"))
        assert query[:1] == b"\x03"  # COM_QUERY, whatever it asks
        self.requests += 1
        conn.sendall(frame(1, b"\xfb" + self.wanted))  # "send me this file"
        conn.settimeout(1)
        try:
            while True:
                chunk = conn.recv(65536)
                if not chunk:
                    break
                self.after_request += chunk
        except OSError:
            pass

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def hostile(tmp_path):
    secret_file = tmp_path / "fernet.key"
    secret_file.write_text(SECRET_TEXT)
    server = FakeMySQL(str(secret_file))
    yield server
    server.close()


def test_the_fake_server_does_get_the_file_from_a_client_that_allows_it(hostile):
    """The control: a driver opened with local_infile=1 (what a URL option used to do) sends the file."""
    import pymysql

    conn = pymysql.connect(host="127.0.0.1", port=hostile.port, user="x", password="y", local_infile=True,
                           connect_timeout=5, read_timeout=5)
    with pytest.raises(pymysql.err.OperationalError):  # the file went; then the server hung up
        conn.cursor().execute("SELECT 1")
    hostile.thread.join(0.5)
    assert hostile.client_flags[0] & CLIENT_LOCAL_FILES
    assert SECRET_TEXT.encode() in bytes(hostile.after_request)


@pytest.mark.django_db
def test_test_button_against_a_hostile_server_sends_no_file(hostile, client):
    """The store's database fields point at the hostile server; the owner presses Test: the check fails with a
    message, the driver announced no LOCAL INFILE support, and not one byte of the file left the hub."""
    from django.contrib.auth.models import User

    from ocbridge.core.models import Store
    from ocbridge.opencart import db as oc_db

    store = Store.objects.create(name="Hostile", db_host="127.0.0.1", db_port=hostile.port, db_user="x",
                                 db_name="shop", secret={"db_password": "y"})
    client.force_login(User.objects.create_superuser("admin", password="pw"))
    try:
        html = client.post(reverse("dashboard:store-test", args=[store.pk]), follow=True).content.decode()
    finally:
        oc_db.forget(store.shop_database)
    assert "msg-error" in html
    hostile.thread.join(0.5)
    assert hostile.requests >= 1 and hostile.client_flags
    assert not any(flags & CLIENT_LOCAL_FILES for flags in hostile.client_flags)
    assert SECRET_TEXT.encode() not in bytes(hostile.after_request)
    assert b"fernet" not in bytes(hostile.after_request)
