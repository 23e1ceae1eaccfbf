"""Network failures say which one they are (DNS, refused, timeout), for the owner to act on."""

import socket

import pytest

from ocbridge.core.http import HttpClient, NetworkError


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_refused_and_dns_failures_are_named():
    with pytest.raises(NetworkError, match="connection refused") as refused:
        HttpClient("ozon").request("GET", f"http://127.0.0.1:{_closed_port()}/v1/warehouse/list")
    assert refused.value.maybe_sent is False
    with pytest.raises(NetworkError, match=r"does not resolve \(DNS\)"):
        # a shop's API URL may be any name; a provider's must match its host first (core.outbound)
        HttpClient("opencart").request("GET", "https://no-such-host.invalid/index.php")


def test_a_silent_server_is_a_timeout_that_may_have_been_sent():
    with socket.socket() as server:  # accepts, never answers
        server.bind(("127.0.0.1", 0))
        server.listen()
        with pytest.raises(NetworkError, match="no answer in time") as exc:
            HttpClient("ozon", timeout=0.5).request("GET", f"http://127.0.0.1:{server.getsockname()[1]}/")
    assert exc.value.maybe_sent is True
