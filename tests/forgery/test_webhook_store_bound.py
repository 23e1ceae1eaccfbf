"""Forgery: a webhook can only speak for its own store, and nothing unauthenticated changes state."""

import hashlib
import hmac
import json

import pytest

from ocbridge.core.inbox import queue_stored
from ocbridge.core.jobs import run_until_idle
from ocbridge.core.models import Connection, Exchange, Integration, Job, Store
from ocbridge.integrations.cod_confirm.models import Attempt, Confirmation
from testkit import cod_integration

pytestmark = pytest.mark.django_db
SECRET = "whsec-forgery"


def _store(name):
    store = Store.objects.create(name=name, db_url=f"sqlite:////nonexistent-{name}.db")
    conn = Connection.objects.create(store=store, service="sandbox", secret={"token": "t", "webhook_secret": SECRET})
    integration = cod_integration(store, conn, settings={})
    return store, conn, integration


def _signed_post(client, conn, body: bytes):
    sig = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    return client.post(f"/hooks/sandbox/{conn.webhook_token}/call-result", data=body, content_type="application/json",
                       HTTP_X_SANDBOX_SIGNATURE=sig)


def test_a_webhook_cannot_decide_another_stores_order(client):
    _, conn_a, _ = _store("A")
    store_b, _, integration_b = _store("B")
    c = Confirmation.objects.create(store=store_b, integration=integration_b, order_id=7, order_label="7",
                                    status_at_start=1, state="calling", phone="+905321234567")
    Attempt.objects.create(confirmation=c, number=1, channel="call", service="sandbox", key="k-b", state="in_flight",
                           provider_id="call_B")
    body = json.dumps({"event_id": "evt_forged", "type": "call.completed", "sequence": 2, "created_at": "2026-01-01T00:00:00Z",
                       "data": {"id": "call_B", "status": "completed", "digits_pressed": ["1"], "action": "confirm"}}).encode()
    assert _signed_post(client, conn_a, body).status_code == 200  # stored and acknowledged…
    run_until_idle()
    c.refresh_from_db()
    assert c.state == "calling" and not c.transitions.exists()  # …but store B's order is untouched
    assert Job.objects.get(kind="cod_confirm.apply_call_result").state in ("queued", "failed")


def test_replayed_webhook_is_one_job(client):
    _, conn, _ = _store("A")
    body = json.dumps({"event_id": "evt_1", "type": "call.completed", "sequence": 2, "created_at": "2026-01-01T00:00:00Z",
                       "data": {"id": "call_x", "status": "no_answer"}}).encode()
    for _ in range(3):
        assert _signed_post(client, conn, body).status_code == 200
    queue_stored()  # the worker's dispatcher: stored webhooks → jobs
    assert Job.objects.filter(kind="cod_confirm.apply_call_result").count() == 1
    assert Exchange.objects.filter(direction="in", error__startswith="1 duplicate").count() == 2


def test_signature_for_another_body_is_refused(client):
    _, conn, _ = _store("A")
    good = b'{"event_id": "e", "type": "call.completed", "data": {"id": "c", "status": "no_answer"}}'
    sig = "sha256=" + hmac.new(SECRET.encode(), good, hashlib.sha256).hexdigest()
    resp = client.post(f"/hooks/sandbox/{conn.webhook_token}/call-result", data=good.replace(b"no_answer", b"completed"),
                       content_type="application/json", HTTP_X_SANDBOX_SIGNATURE=sig)
    assert resp.status_code == 403 and not Job.objects.exists()


def test_token_of_another_service_is_refused(client):
    _, conn, _ = _store("A")  # a sandbox token used on the Twilio path
    resp = client.post(f"/hooks/twilio/{conn.webhook_token}/call-result", data="CallSid=CA1&Digits=1",
                       content_type="application/x-www-form-urlencoded")
    assert resp.status_code == 404 and not Job.objects.exists()


@pytest.mark.parametrize("url", ["/", "/confirmations/", "/stores/", "/log/", "/jobs/", "/admin/"])
def test_dashboard_needs_a_login(client, url):
    resp = client.get(url)
    assert resp.status_code == 302 and "login" in resp["Location"]


def test_disabled_connection_stops_its_webhooks(client):
    _, conn, _ = _store("A")
    Connection.objects.filter(pk=conn.pk).update(enabled=False)
    body = b'{"event_id": "e2", "type": "call.completed", "data": {"id": "c", "status": "no_answer"}}'
    assert _signed_post(client, conn, body).status_code == 404 and not Job.objects.exists()
