"""Fixtures for the bad-input corpus: one Store with a Connection per provider, COD confirmation and order lookup."""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass

import pytest
from testkit import cod_integration

SECRETS = {
    "sandbox": {"token": "sandbox-token-corpus", "webhook_secret": "whsec-corpus-4711"},
    "twilio": {"account_sid": "AC0123456789abcdef0123456789abcdef", "auth_token": "twilio-auth-corpus-0815"},
    "verimor": {"username": "corpus-user", "password": "verimor-pw-corpus", "key": "verimor-key-corpus"},
    "netgsm": {"usercode": "corpus-usercode", "password": "netgsm-pw-corpus"},
}


@dataclass
class Hub:
    """The hub's rows the corpus talks to: `url(service, hook)` is that connection's webhook path."""

    store: object
    connections: dict

    def url(self, service: str, hook: str) -> str:
        return f"/hooks/{service}/{self.connections[service].webhook_token}/{hook}"


def sandbox_signature(body: bytes, secret: str = SECRETS["sandbox"]["webhook_secret"]) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def twilio_signature(url: str, params: dict, token: str = SECRETS["twilio"]["auth_token"]) -> str:
    """Signed as Twilio signs (every value of every field, blank ones too): the simulator's signer, which
    tests/contracts/test_twilio.py holds to twilio-python's RequestValidator."""
    from ocbridge.simulators.twilio import twilio_signature as sign

    return sign(token, url, params)


@pytest.fixture
def hub(db, sqlite_shop) -> Hub:
    from ocbridge.core.models import Connection, Integration, Store
    from ocbridge.integrations.cod_confirm.config import CodConfirmConfig

    shop = sqlite_shop()
    store = Store.objects.create(name="Corpus Mağaza", db_url=shop.url, table_prefix=shop.prefix,
                                 country="TR", language="tr", timezone="Europe/Istanbul")
    conns = {svc: Connection.objects.create(store=store, service=svc, secret=secret, base_url="http://127.0.0.1:9")
             for svc, secret in SECRETS.items()}
    cod_integration(store, conns["sandbox"], settings=CodConfirmConfig().to_settings())
    Integration.objects.create(store=store, kind="order_lookup", connection=conns["verimor"],
                               settings={"rep_target": "queue/100", "days_back": 30})
    return Hub(store, conns)
