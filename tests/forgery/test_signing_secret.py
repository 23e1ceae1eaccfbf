"""A Sandbox connection never has an empty webhook secret (HMAC with an empty key is forgeable by anyone): the form
generates one when it is left empty, and a connection stored without one accepts no signature."""

import hashlib
import hmac
import json

import pytest
from django.urls import reverse

from ocbridge.services.sandbox import verify_signature

pytestmark = pytest.mark.django_db


def _sig(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def test_an_empty_secret_verifies_nothing():
    body = b'{"event_id": "e"}'
    assert verify_signature("k", body, _sig("k", body))  # the control: a real secret verifies
    assert not verify_signature("", body, _sig("", body))


def test_the_form_generates_a_secret_when_left_empty(client):
    from django.contrib.auth.models import User

    from ocbridge.core.models import AuditEntry, Connection, Store

    client.force_login(User.objects.create_superuser("root", password="pw"))
    store = Store.objects.create(name="S", db_url="sqlite:////nonexistent/s.db")
    resp = client.post(reverse("dashboard:connection-add", args=[store.pk]),
                       {"service": "sandbox", "name": "sb", "newkey_0": "token", "newval_0": "tok"}, follow=True)
    conn = Connection.objects.get()
    secret = conn.credentials()["webhook_secret"]
    assert len(secret) >= 32 and secret in resp.content.decode()  # shown once, to paste into the provider
    assert "webhook_secret" in AuditEntry.objects.get(action="connection.create").data["secrets_changed"]
    assert secret not in str(AuditEntry.objects.get().data)


def test_a_connection_without_a_secret_refuses_a_signature_made_with_an_empty_key(client):
    from ocbridge.core.models import Connection, Integration, Job, Store

    store = Store.objects.create(name="S", db_url="sqlite:////nonexistent/s.db")
    conn = Connection.objects.create(store=store, service="sandbox", secret={"token": "t"})
    Integration.objects.create(store=store, kind="cod_confirm", connection=conn, settings={})
    body = json.dumps({"event_id": "evt_forged", "type": "call.completed", "sequence": 1,
                       "created_at": "2026-01-01T00:00:00Z", "data": {"id": "call_1", "status": "completed"}}).encode()
    resp = client.post(f"/hooks/sandbox/{conn.webhook_token}/call-result", data=body, content_type="application/json",
                       HTTP_X_SANDBOX_SIGNATURE=_sig("", body))
    assert resp.status_code in (401, 403)
    assert not Job.objects.exists()


@pytest.mark.parametrize("service, url, ok", [
    ("twilio", "https://api.twilio.com", True),
    ("twilio", "https://evil.example/collect", False),
    ("twilio", "http://api.twilio.com", False),
    ("despatch", "https://myshop.despatchcloud.co.uk", True),
    ("despatch", "https://myshop.despatchcloud.co.uk.evil.example", False),
    ("onebox", "https://acme.1b.app", True),
    ("verimor", "https://user:pw@api.bulutsantralim.com", False),
    ("sandbox", "http://127.0.0.1:9", False),  # a simulator only when the process allows its host
    ("netgsm", "https://169.254.169.254/latest", False),
])
def test_connection_base_url_only_to_the_providers_hosts(client, settings, service, url, ok):
    """'Test' sends the stored credentials to the base URL: only the provider's own host (or its account-host
    pattern) is accepted from the form; other hosts only when the process setting lists them."""
    from django.contrib.auth.models import User

    from ocbridge.core.models import Connection, Store

    settings.SIMULATOR_HOSTS = []
    client.force_login(User.objects.create_superuser("root", password="pw"))
    store = Store.objects.create(name="S", db_url="sqlite:////nonexistent/s.db")
    resp = client.post(reverse("dashboard:connection-add", args=[store.pk]),
                       {"service": service, "name": "x", "base_url": url, "webhook_secret": "w" * 32})
    assert (resp.status_code == 302) == ok, resp.content.decode()[:300] if resp.status_code != 302 else url
    assert Connection.objects.exists() == ok
    if not ok:
        assert "base_url" in resp.context["form"].errors
    if service == "sandbox":
        settings.SIMULATOR_HOSTS = ["127.0.0.1:9"]
        resp = client.post(reverse("dashboard:connection-add", args=[store.pk]),
                           {"service": service, "name": "x", "base_url": url, "webhook_secret": "w" * 32})
        assert resp.status_code == 302


def test_store_api_url_is_http_or_https_only(client):
    from django.contrib.auth.models import User

    from ocbridge.core.models import Store

    client.force_login(User.objects.create_superuser("root", password="pw"))
    store = Store.objects.create(name="S", db_host="db", db_name="oc")
    form = {"name": "S", "db_host": "db", "db_port": "3306", "db_name": "oc", "db_charset": "utf8mb4",
            "table_prefix": "oc_", "oc_store_id": "0", "timezone": "Europe/Istanbul", "language": "tr",
            "country": "TR", "currency": "TRY", "enabled": "on", "api_url": "ftp://shop.example.com/"}
    resp = client.post(reverse("dashboard:store-edit", args=[store.pk]), form)
    assert resp.status_code == 200 and "api_url" in resp.context["form"].errors
