"""Simulator framework: faults, rate limits, webhook sender, control API, time acceleration."""

from __future__ import annotations

import time

import httpx
import pytest

from ocbridge.simulators.base import GARBAGE_BODY, RemoteSimulator, Response, Simulator


class EchoSimulator(Simulator):
    """Minimal provider: POST /echo counts side effects, GET /hello answers text."""

    name = "echo"
    routes = [("POST", r"/echo", "echo"), ("GET", r"/hello/(?P<who>\w+)", "hello")]

    def __init__(self, **kw):
        super().__init__(**kw)
        self.effects = 0

    def echo(self, req):
        self.effects += 1
        return Response.json({"got": req.json()})

    def hello(self, req, who):
        return Response.text(f"hello {who}")


@pytest.fixture
def sim():
    with EchoSimulator(speed=100, timeout_fault_seconds=1.0) as s:
        yield s


def test_start_returns_loopback_url_and_serves_routes(sim):
    assert sim.base_url.startswith("http://127.0.0.1:")
    assert httpx.get(f"{sim.base_url}/hello/ali").text == "hello ali"
    assert httpx.post(f"{sim.base_url}/echo", json={"a": 1}).json() == {"got": {"a": 1}}
    assert httpx.get(f"{sim.base_url}/nope").status_code == 404
    assert httpx.get(f"{sim.base_url}/echo").status_code == 405


def test_request_log_keeps_method_path_headers_body(sim):
    httpx.post(f"{sim.base_url}/echo?x=1", json={"a": 1}, headers={"X-Trace": "t1"}, auth=("acc", "pw"))
    [r] = sim.requests("/echo")
    assert (r.method, r.path, r.query, r.json()) == ("POST", "/echo", {"x": ["1"]}, {"a": 1})
    assert r.header("x-trace") == "t1" and r.account == "acc" and r.status == 200


@pytest.mark.parametrize("kind,status", [("500", 500), ("503", 503), ("429", 429)])
def test_status_faults_answer_once_then_recover(sim, kind, status):
    sim.fail_next(kind, retry_after=7)
    first = httpx.post(f"{sim.base_url}/echo", json={})
    assert first.status_code == status
    if kind == "429":
        assert first.headers["Retry-After"] == "7"
    assert httpx.post(f"{sim.base_url}/echo", json={}).status_code == 200
    assert sim.effects == 1  # the failed request had no side effect


def test_garbage_fault_is_200_with_unparseable_body(sim):
    sim.fail_next("garbage")
    resp = httpx.post(f"{sim.base_url}/echo", json={})
    assert resp.status_code == 200 and resp.content == GARBAGE_BODY
    with pytest.raises(ValueError):
        resp.json()


def test_timeout_fault_drops_connection_after_client_gave_up(sim):
    sim.fail_next("timeout", seconds=0.5)
    with pytest.raises(httpx.ReadTimeout):
        httpx.post(f"{sim.base_url}/echo", json={}, timeout=0.2)
    assert sim.effects == 0


def test_reset_fault_closes_connection(sim):
    sim.fail_next("reset")
    with pytest.raises(httpx.TransportError):
        httpx.post(f"{sim.base_url}/echo", json={})


def test_fault_after_processing_loses_answer_but_keeps_side_effect(sim):
    sim.fail_next("reset", after=True)
    with pytest.raises(httpx.TransportError):
        httpx.post(f"{sim.base_url}/echo", json={})
    assert sim.effects == 1


def test_fault_only_hits_matching_path_and_count(sim):
    sim.fail_next("500", count=2, path="/echo")
    assert httpx.get(f"{sim.base_url}/hello/x").status_code == 200
    assert [httpx.post(f"{sim.base_url}/echo", json={}).status_code for _ in range(3)] == [500, 500, 200]


def test_unknown_fault_kind_is_rejected(sim):
    with pytest.raises(ValueError):
        sim.fail_next("explode")


def test_rate_limit_per_account(sim):
    sim.set_rate_limit(rate=1, burst=2)
    codes_a = [httpx.post(f"{sim.base_url}/echo", json={}, auth=("a", "p")).status_code for _ in range(3)]
    code_b = httpx.post(f"{sim.base_url}/echo", json={}, auth=("b", "p")).status_code
    assert codes_a == [200, 200, 429] and code_b == 200
    sim.set_rate_limit(None)
    assert httpx.post(f"{sim.base_url}/echo", json={}, auth=("a", "p")).status_code == 200


def test_webhook_retries_on_non_2xx_with_accelerated_delays(sim, receiver):
    receiver.reply("/hook", (500, "no"), (502, "no"))
    sim.webhooks.send(f"{receiver.url}/hook", json_body={"n": 1}, retry_delays=[10, 10, 10])  # 0.1 s real each
    assert sim.wait_idle(3)
    attempts = sim.sent_webhooks()
    assert [a.status for a in attempts] == [500, 502, 200] and [a.attempt for a in attempts] == [1, 2, 3]
    assert len(receiver.posts("/hook")) == 3


def test_webhook_gives_up_after_schedule(sim, receiver):
    receiver.reply("/hook", default=(503, "down"))
    sim.webhooks.send(f"{receiver.url}/hook", json_body={}, retry_delays=[1])
    assert sim.wait_idle(3)
    assert len(receiver.posts("/hook")) == 2 and not sim.webhooks.delivered()


def test_webhook_duplicate_delivery(sim, receiver):
    sim.set_webhook_behaviour(duplicate=3)
    sim.webhooks.send(f"{receiver.url}/hook", json_body={"id": "e1"})
    receiver.wait(3, "/hook")
    assert receiver.json_bodies("/hook") == [{"id": "e1"}] * 3


def test_webhook_late_delivery(sim, receiver):
    sim.set_webhook_behaviour(delay=30)  # 0.3 s real at speed 100
    t0 = time.monotonic()
    sim.webhooks.send(f"{receiver.url}/hook", json_body={})
    [hit] = receiver.wait(1, "/hook")
    assert hit["at"] - t0 >= 0.28


def test_webhook_shuffle_delivers_out_of_order(sim, receiver):
    sim.set_webhook_behaviour(shuffle=True, shuffle_window=1000)
    for n in range(5):
        sim.webhooks.send(f"{receiver.url}/hook", json_body={"n": n})
    time.sleep(0.05)
    assert receiver.posts("/hook") == []  # held until released
    assert sim.flush_webhooks() == 5
    receiver.wait(5, "/hook")
    order = [b["n"] for b in receiver.json_bodies("/hook")]
    assert sorted(order) == [0, 1, 2, 3, 4] and order != [0, 1, 2, 3, 4]


def test_control_api_drives_simulator_from_another_process(sim):
    remote = RemoteSimulator(sim.base_url)
    remote.fail_next(kind="503", path="/echo")
    assert httpx.post(f"{sim.base_url}/echo", json={}).status_code == 503
    log = remote.request_log(path="/echo")
    assert log[0]["status"] == 503 and log[0]["fault"] == "503"
    remote.set_speed(speed=5)
    assert sim.speed == 5
    remote.reset()
    assert sim.requests() == []
    with pytest.raises(RuntimeError):
        remote.fail_next(kind="nonsense")
    assert httpx.post(f"{sim.base_url}/_sim/not_a_method").status_code == 404


def test_control_api_takes_arguments_in_the_query(sim):
    """`/_sim/<method>?name=value`: values read as JSON where they are (numbers, true), as text otherwise."""
    assert httpx.post(f"{sim.base_url}/_sim/set_speed?speed=4").json() == {"result": None}
    assert sim.speed == 4
    assert httpx.post(f"{sim.base_url}/_sim/fail_next?kind=503&path=/echo").status_code == 200
    assert httpx.post(f"{sim.base_url}/echo", json={}).status_code == 503


def test_stop_then_connection_refused():
    sim = EchoSimulator()
    url = sim.start()
    sim.stop()
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{url}/hello/x")
