"""Fixtures for order lookup: MariaDB shops (2.3, 3.0, 4.0), a Store with a line, the phone index, the simulators."""

from __future__ import annotations

import itertools

import pytest
from django.conf import settings as dj_settings

if "ocbridge.integrations.order_lookup" not in dj_settings.INSTALLED_APPS:  # not installed yet: nothing to test
    collect_ignore_glob = ["test_*.py"]

_n = itertools.count(1)


@pytest.fixture(autouse=True)
def _fresh_shop_state():
    from ocbridge.integrations.order_lookup import shop

    shop.reset()
    yield
    shop.reset()


@pytest.fixture(params=["2.3", "3.0", "4.0"])
def shop_db(request, opencart_db):
    """A fresh OpenCart database of each layout on the session's MariaDB (2.3's order tables have 3.0's columns;
    its order_product has no key on order_id and its shop tables differ: opencart.layouts)."""
    return opencart_db(request.param)


@pytest.fixture
def make_store(db):
    from ocbridge.core.models import Store

    def make(h, **kw) -> Store:
        fields = {"name": "Demo Mağaza", "db_url": h.url, "table_prefix": h.prefix, "country": "TR",
                  "language": "tr", "timezone": "UTC", **kw}
        return Store.objects.create(**fields)

    return make


@pytest.fixture
def make_line(db):
    """A Connection of the service with the order_lookup Integration on it; returns the Connection."""
    from ocbridge.core.models import Connection, Integration

    def make(store, service: str = "verimor", secret: dict | None = None, **settings):
        conn = Connection.objects.create(store=store, service=service, secret=secret or {"key": "K1"})
        cfg = {"rep_target": "queue/100" if service == "verimor" else "+902129630131", "days_back": 30, **settings}
        Integration.objects.create(store=store, kind="order_lookup", connection=conn, settings=cfg)
        return conn

    return make


@pytest.fixture
def hub(live_server, settings):
    """The hub over real HTTP; PUBLIC_URL is what providers call (and Twilio signs)."""
    settings.PUBLIC_URL = live_server.url
    return live_server


@pytest.fixture
def verimor():
    from ocbridge.simulators.verimor import VerimorSimulator

    sim = VerimorSimulator()
    sim.start()
    yield sim
    sim.stop()


@pytest.fixture
def twilio():
    from ocbridge.simulators.twilio import TwilioSimulator

    sim = TwilioSimulator(speed=1000)
    sim.start()
    yield sim
    sim.stop()
