"""core.redis_breaker: a Redis that just timed out or refused is skipped for a few seconds by the clients that would
wait for it as long or less (a redis ConnectionError at once, so each caller falls back as when Redis is down), asked
again by one caller when the period is over, and used again as soon as it answers. Real sockets throughout: a
loopback port that accepts and never answers (testbed.redis.HungRedis), a real redis-server stopped or frozen."""

import time

import pytest

from ocbridge.core import config_cache, redis_breaker, redis_clients
from ocbridge.core.models import Store
from ocbridge.testbed.redis import HungRedis, RedisServer, RedisUnavailable

QUICK = redis_clients.Use(connect=0.1, answer=0.1)  # a request's client, shortened
PATIENT = redis_clients.Use(connect=0.5, answer=0.5)  # the poll loop's, shortened


@pytest.fixture(autouse=True)
def _nothing_skipped():
    redis_breaker.forget()
    yield
    redis_breaker.forget()


@pytest.fixture
def hung():
    server = HungRedis()
    yield server
    server.stop()


@pytest.fixture
def server():
    try:
        started = RedisServer().start()
    except RedisUnavailable as exc:
        pytest.skip(str(exc))
    yield started
    started.stop()


def _call(fn) -> tuple[float, str]:
    """How long `fn` took and how it ended ("ok" or its exception's class name)."""
    started = time.monotonic()
    try:
        fn()
        outcome = "ok"
    except Exception as exc:  # noqa: BLE001 - the outcome is what is compared
        outcome = type(exc).__name__
    return time.monotonic() - started, outcome


def test_a_timeout_skips_the_clients_that_would_wait_as_long_or_less_and_a_longer_wait_still_asks(hung):
    """A request's timeout says nothing of a longer wait: the poll loop's leases (meant to ride out a Redis pausing)
    still ask; their timeout then makes every client skip, pipelines too. A client built with skips=False always
    asks (the config stamp's moves)."""
    quick, other = redis_clients.client(hung.url(), QUICK), redis_clients.client(hung.url(), QUICK)
    patient = redis_clients.client(hung.url(), PATIENT)

    took, outcome = _call(lambda: quick.get("k"))
    assert outcome == "TimeoutError" and 0.09 < took < 0.6 and len(hung.accepted) == 1
    took, outcome = _call(lambda: other.get("k"))  # another client of this process on the same Redis
    assert outcome == "Skipped" and took < 0.05 and len(hung.accepted) == 1
    took, outcome = _call(lambda: patient.get("k"))  # would wait longer: asks
    assert outcome == "TimeoutError" and took >= 0.45 and len(hung.accepted) == 2
    for client in (quick, patient):
        took, outcome = _call(lambda: client.pipeline().get("k").set("k", 1).execute())
        assert outcome == "Skipped" and took < 0.05
    always = redis_clients.client(hung.url(), QUICK, skips=False)
    assert _call(lambda: always.get("k"))[1] == "TimeoutError" and len(hung.accepted) == 3


def test_a_refused_connection_skips_every_client_and_any_answer_ends_it(server):
    """A stopped Redis: nobody's patience helps, so every client skips it. The next answer (here the testbed's
    readiness probe of the server started again on its port, a client that always asks) ends the skipping."""
    quick = redis_clients.client(server.url(), QUICK)
    patient = redis_clients.client(server.url(), PATIENT)
    assert _call(lambda: patient.set("k", "1"))[1] == "ok"
    server.stop()
    assert _call(lambda: quick.get("k"))[1] == "ConnectionError"
    assert _call(lambda: patient.get("k"))[1] == "Skipped"
    again = RedisServer(port=server.port).start()  # same port, empty
    try:
        assert _call(lambda: quick.get("k"))[1] == "ok" and _call(lambda: patient.get("k"))[1] == "ok"
    finally:
        again.stop()


@pytest.mark.django_db(transaction=True)
def test_a_hung_redis_is_skipped_for_the_period_then_asked_again_and_its_stamp_used(settings, server, monkeypatch):
    """The config stamp on a real redis-server frozen (SIGSTOP) for one look, then thawed: within the skip period the
    looks do not ask it (no wait, the settings read from the database at every look: the cache is dropped each time,
    as when Redis fails — never staler than that); after the period one look asks, and the stamp keeps the cache
    again. A save meanwhile still moves the stamp (skipped, it would leave the other processes on the old settings
    for up to MAX_AGE while Redis answers), and its answer ends the skipping."""
    monkeypatch.setattr(redis_breaker, "SKIP_SECONDS", 1.0)
    monkeypatch.setattr(config_cache, "CHECK_SECONDS", 0.0)  # every call looks at the stamp
    settings.REDIS_URL = server.url()
    config_cache._state["redis"] = None
    config_cache.clear()
    other = redis_clients.client(server.url(), redis_clients.WORKER, skips=False)  # another process's view
    look = config_cache.generation
    try:
        store = Store.objects.create(name="Stamp", db_url="sqlite:////nonexistent-breaker.db")  # moves the stamp
        kept = look()
        assert look() == kept  # Redis answers: the stamp did not move, the cache is kept

        server.pause()
        took, _ = _call(look)  # waits once
        assert 0.2 < took < 1.0
        server.resume()  # answers again; this process does not ask it yet
        started = time.monotonic()
        seen = [look() for _ in range(5)]
        assert time.monotonic() - started < 0.5 and len(set(seen)) == 5  # no wait; the database read every look

        time.sleep(1.1)  # the period is over: the next look asks Redis
        asked = look()
        assert look() == asked == look()  # the stamp read: the cache kept again

        server.pause()
        _call(look)  # skipping again
        server.resume()
        moved = int(other.get(config_cache.REDIS_KEY))
        store.name = "Stamp 2"
        store.save()  # within the period: its move asks Redis all the same
        assert int(other.get(config_cache.REDIS_KEY)) > moved
        started = time.monotonic()
        after = look()
        assert look() == after and time.monotonic() - started < 0.5  # the move's answer ended the skipping
    finally:
        server.resume()
        other.close()
        config_cache._state["redis"] = None
        settings.REDIS_URL = ""
        config_cache.clear()
        config_cache._stamp_outage.ok()
