"""Two tenants on one hub, each with an OpenCart shop (demo layout on SQLite), a Sandbox and a Twilio Connection,
COD confirmation and order lookup, and one order waiting on a call. Forged requests must change nothing."""

from __future__ import annotations

import base64
import hashlib
import hmac
import itertools
import json
from dataclasses import dataclass

import pytest
import sqlalchemy as sa
from opencart.opencart_helpers import add_order
from testkit import cod_integration

_ids = itertools.count(1)


def sandbox_signature(body: bytes, secret: str) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def twilio_signature(url: str, params: dict, token: str) -> str:
    """Twilio's documented scheme: base64 HMAC-SHA1 over the full URL + each POST name and value, names sorted."""
    data = url + "".join(f"{k}{params[k]}" for k in sorted(params))
    return base64.b64encode(hmac.new(token.encode(), data.encode(), hashlib.sha1).digest()).decode()


def call_completed(call_id: str, digit: str = "1", event_id: str | None = None) -> bytes:
    action = {"1": "confirm", "2": "cancel"}.get(digit)
    return json.dumps({"event_id": event_id or f"evt_{call_id}_{digit}", "type": "call.completed",
                       "created_at": "2024-05-01T10:00:00Z", "sequence": 3,
                       "data": {"id": call_id, "status": "completed", "digits_pressed": [digit], "action": action,
                                "result": None}}).encode()


@dataclass
class Tenant:
    """One store with its shop, connections, the COD integration and a Confirmation waiting on call `call_id`."""

    name: str
    shop: object
    store: object
    sandbox: object
    twilio: object
    confirmation: object
    call_id: str
    twilio_call_sid: str

    def hook(self, service: str, hook: str) -> str:
        conn = getattr(self, service)
        return f"/hooks/{service}/{conn.webhook_token}/{hook}"

    def snapshot(self) -> dict:
        """Everything a forged request must not change: our rows about this store and its shop's order."""
        from ocbridge.core.models import Job
        from ocbridge.integrations.cod_confirm.models import Attempt, Confirmation, Transition

        c = Confirmation.objects.get(pk=self.confirmation.pk)
        with self.shop.engine.connect() as conn:
            status = conn.execute(sa.text(f"SELECT order_status_id FROM {self.shop.prefix}order WHERE order_id = :o"),
                                  {"o": c.order_id}).scalar()
            history = conn.execute(sa.text(f"SELECT COUNT(*) FROM {self.shop.prefix}order_history WHERE order_id = :o"),
                                   {"o": c.order_id}).scalar()
        return {"state": c.state, "transitions": Transition.objects.filter(confirmation=c).count(),
                "attempts": list(Attempt.objects.filter(confirmation=c).values_list("state", "answer")),
                "jobs": Job.objects.filter(store=self.store).count(), "order_status": status, "history": history}


def make_tenant(sqlite_shop, name: str) -> Tenant:
    from ocbridge.core import clock
    from ocbridge.core.models import Connection, Integration, Store
    from ocbridge.integrations.cod_confirm.choices import AttemptState, ConfirmationState
    from ocbridge.integrations.cod_confirm.config import CodConfirmConfig
    from ocbridge.integrations.cod_confirm.models import Attempt, Confirmation

    n = next(_ids)
    shop = sqlite_shop()
    order_id = 5000 + n
    add_order(shop, order_id, telephone="0532 123 45 67")
    store = Store.objects.create(name=f"Store {name}", db_url=shop.url, table_prefix=shop.prefix,
                                 country="TR", timezone="Europe/Istanbul")
    sandbox = Connection.objects.create(store=store, service="sandbox", base_url="http://127.0.0.1:9",
                                        secret={"token": f"sb-token-{name}", "webhook_secret": f"whsec-{name}-{n}"})
    twilio = Connection.objects.create(store=store, service="twilio", base_url="http://127.0.0.1:9",
                                       secret={"account_sid": f"AC{name}{n}", "auth_token": f"twilio-auth-{name}-{n}"})
    day = {d: ["00:00", "24:00"] for d in "0123456"}
    integration = cod_integration(store, sandbox,
                                  settings=CodConfirmConfig(day_hours=day, reconfirm_cancel=False).to_settings())
    Integration.objects.create(store=store, kind="order_lookup", connection=twilio,
                               settings={"rep_target": "+902129630131", "days_back": 30})
    c = Confirmation.objects.create(store=store, integration=integration, order_id=order_id, order_label=str(order_id),
                                    phone="+905321234567", phone_raw="0532 123 45 67", status_at_start=1,
                                    state=ConfirmationState.CALLING, attempts_made=1, created=clock.now())
    call_id, sid = f"call_{name}_{n}", f"CA{name}{n:030d}"
    Attempt.objects.create(confirmation=c, number=1, channel="call", service="sandbox", key=f"k:{name}:{n}:1",
                           state=AttemptState.IN_FLIGHT, provider_id=call_id, created=clock.now())
    Attempt.objects.create(confirmation=c, number=2, channel="call", service="twilio", key=f"k:{name}:{n}:2",
                           state=AttemptState.IN_FLIGHT, provider_id=sid, created=clock.now())
    return Tenant(name, shop, store, sandbox, twilio, c, call_id, sid)


@pytest.fixture
def tenants(db, sqlite_shop, settings) -> tuple[Tenant, Tenant]:
    settings.PUBLIC_URL = "https://hub.example.com"
    return make_tenant(sqlite_shop, "A"), make_tenant(sqlite_shop, "B")


def rejected_exchange():
    """The one inbound Exchange a rejected request leaves."""
    from ocbridge.core.choices import Direction
    from ocbridge.core.models import Exchange

    return Exchange.objects.get(direction=Direction.IN)


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    """Users are made per test; the production hasher costs ~0.3 s each."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
