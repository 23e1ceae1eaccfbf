"""A server older than MySQL 5.6 in front of the testbed's real MariaDB: a loopback proxy of the MySQL wire protocol
that answers the statements such a server's grammar lacks with its parse error and passes everything else through.

MySQL 5.5 (and MariaDB 5.5, CentOS 7's default) has no read-only transactions: `SET SESSION TRANSACTION READ ONLY`
came in MySQL 5.6.5 and MariaDB 10.0 (dev.mysql.com/doc/refman/5.6/en/set-transaction.html, "READ ONLY ... added in
5.6.5"); a 5.5 server's parser stops at `READ` with error 1064, SQLSTATE 42000. No MariaDB installable here
answers so (10.11 parses it), hence the proxy: the reads and writes themselves go to the real server.

Protocol (dev.mysql.com/doc/dev/mysql-server/latest/page_protocol_basic_packets.html): packets of a 3-byte
little-endian length, a sequence id and the payload; a command is a packet of sequence 0 whose first byte is the
command (0x03 COM_QUERY); an error answer is 0xFF, the code (2 bytes LE), `#`, the SQLSTATE, the message. The
server's greeting is passed with its TLS capability cleared (as a 5.5 built without SSL sends), so the client
stays in plain text and the proxy can read its commands; the server's version string is kept, so the client's
driver behaves as with the real server.
"""

from __future__ import annotations

import socket
import struct
import threading

from ocbridge.testbed.agency import SlowProxy

CLIENT_SSL = 0x0800
COM_QUERY = 0x03
PARSE_ERROR = 1064
# What MySQL 5.5 answers to the statements it cannot parse (its own words; "near" quotes the rest of the statement).
REFUSED = {
    b"SET SESSION TRANSACTION READ ONLY": "You have an error in your SQL syntax; check the manual that corresponds to "
                                         "your MySQL server version for the right syntax to use near 'READ ONLY' at "
                                         "line 1",
}


def read_exactly(sock: socket.socket, n: int) -> bytes:
    """The next `n` bytes from `sock`; ConnectionError when the other side closes first."""
    out = b""
    while len(out) < n:
        chunk = sock.recv(n - len(out))
        if not chunk:
            raise ConnectionError("closed")
        out += chunk
    return out


def read_packet(sock: socket.socket) -> tuple[int, bytes]:
    """The next MySQL packet from `sock` as (sequence id, payload)."""
    head = read_exactly(sock, 4)
    length = head[0] | head[1] << 8 | head[2] << 16
    return head[3], read_exactly(sock, length)


def frame(seq: int, payload: bytes) -> bytes:
    """`payload` as one MySQL packet of sequence id `seq`."""
    return struct.pack("<I", len(payload))[:3] + bytes([seq & 0xFF]) + payload


def _without_tls(greeting: bytes) -> bytes:
    """The server's greeting (protocol 10) with CLIENT_SSL cleared in the lower capability flags."""
    at = greeting.index(b"\0", 1) + 1 + 4 + 8 + 1  # version string, connection id, auth data part 1, filler
    caps = struct.unpack_from("<H", greeting, at)[0] & ~CLIENT_SSL
    return greeting[:at] + struct.pack("<H", caps) + greeting[at + 2:]


class OldMySQL(SlowProxy):
    """`with OldMySQL(port) as proxy:` a server on 127.0.0.1:`proxy.port` that is the real one at `port` except for
    the statements in REFUSED (testbed.agency.SlowProxy, without delay, reading the client's packets).
    `proxy.refused` counts the statements it answered itself."""

    def __init__(self, port: int):
        self.refused = 0
        self._lock = threading.Lock()
        super().__init__(port)

    def __enter__(self) -> "OldMySQL":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _accept(self) -> None:
        while not self.closed:
            try:
                client, _addr = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client: socket.socket) -> None:
        try:
            server = socket.create_connection(("127.0.0.1", self.target_port))
        except OSError:
            client.close()
            return
        try:
            seq, greeting = read_packet(server)
            client.sendall(frame(seq, _without_tls(greeting)))
            threading.Thread(target=self._pipe, args=(server, client, 1), daemon=True).start()
            while True:  # client → server, packet by packet: a refused statement is answered here
                seq, payload = read_packet(client)
                message = REFUSED.get(payload[1:]) if seq == 0 and payload[:1] == bytes([COM_QUERY]) else None
                if message is None:
                    server.sendall(frame(seq, payload))
                    continue
                with self._lock:
                    self.refused += 1
                # the server owes nothing at this point (a command is answered before the next is sent)
                client.sendall(frame(1, b"\xff" + struct.pack("<H", PARSE_ERROR) + b"#42000" + message.encode()))
        except (ConnectionError, OSError):
            for s in (client, server):
                try:
                    s.close()
                except OSError:
                    pass
