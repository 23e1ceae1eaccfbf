"""Our HTTP clients keep no cookies. A client from core.http.shared_client serves every account of its service on a
host, so a cookie stored from one account's answer (a load balancer's, a CDN's, a PHP session's) would go with the
next account's requests. A caller whose sessions live in cookies (OpenCart's API) sends its own per request."""

from __future__ import annotations

import pytest

from ocbridge.core import http
from ocbridge.simulators.base import Response, Simulator


class _Host(Simulator):
    """Any provider host; what sets the cookie is the simulator's front (Simulator.set_cookie)."""

    name = "host"
    routes = [("GET", r"/ping", "ping")]

    def ping(self, req):
        return Response.json({"ok": True})


@pytest.fixture
def host(settings):
    settings.SIMULATOR_HOSTS = ["127.0.0.1"]
    with _Host() as sim:
        sim.set_cookie("AWSALB=sticky-1; Path=/")  # on every answer
        yield sim


@pytest.mark.parametrize("make", [lambda url: http.shared_client("ozon", url),
                                  lambda url: http.HttpClient("ozon", base_url=url)], ids=["shared", "own"])
def test_a_cookie_an_answer_sets_is_never_sent_back(host, make):
    client = make(host.base_url)
    for _ in range(3):
        assert client.request("GET", "/ping").status_code == 200
    assert [r.cookie_set for r in host.requests()] == ["AWSALB=sticky-1; Path=/"] * 3  # set on every answer
    assert [r.header("cookie") for r in host.requests()] == [None] * 3


def test_a_cookie_the_caller_sends_goes_with_that_request_only(host):
    """The one way to send a cookie (opencart.api's sessions): per request, by the account it belongs to."""
    client = http.shared_client("opencart", host.base_url)
    client.request("GET", "/ping", headers={"Cookie": "OCSESSID=store-a"})
    client.request("GET", "/ping")
    assert [r.header("cookie") for r in host.requests()] == ["OCSESSID=store-a", None]


def test_shared_client_takes_no_cookie_switch():
    """One way of doing it: no caller asks for a jar (or for none), so no caller can get a jar shared by accounts."""
    with pytest.raises(TypeError):
        http.shared_client("ozon", "http://127.0.0.1:9", keep_cookies=True)  # type: ignore[call-arg]
