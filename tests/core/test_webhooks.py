"""The single webhook entry: unknown token, IP allowlist, oversized body, raw storage before handling."""

import pytest
from django.http import HttpResponse

from ocbridge.core.choices import Direction, ExchangeOutcome
from ocbridge.core.models import Connection, Exchange, Store
from ocbridge.core.registry import register_webhook

pytestmark = pytest.mark.django_db
SEEN = []


@register_webhook("sandbox", "test-echo")
def _echo(request, connection, exchange):
    SEEN.append(exchange.pk)
    return HttpResponse("ok")


@pytest.fixture
def conn():
    store = Store.objects.create(name="s")
    return Connection.objects.create(store=store, service="sandbox", secret={"token": "tok-secret-123"})


def test_unknown_token_is_404_and_logged(client):
    resp = client.post("/hooks/sandbox/nope/test-echo", data=b"{}", content_type="application/json")
    assert resp.status_code == 404
    ex = Exchange.objects.get()
    assert (ex.direction, ex.outcome, ex.level) == (Direction.IN, ExchangeOutcome.REJECTED, "warning")


def test_known_token_stores_raw_then_calls_handler(client, conn):
    SEEN.clear()
    resp = client.post(f"/hooks/sandbox/{conn.webhook_token}/test-echo", data=b'{"a": 1, "password": "p4ss"}',
                       content_type="application/json")
    assert resp.status_code == 200
    ex = Exchange.objects.get()
    assert SEEN == [ex.pk] and '"a": 1' in ex.request_body and "p4ss" not in ex.request_body
    assert conn.webhook_token not in ex.url  # the token is shortened in the log


def test_ip_outside_allowlist_is_403_and_handler_not_called(client, conn):
    SEEN.clear()
    conn.ip_allowlist = "194.49.126.0/24"
    conn.save()
    resp = client.post(f"/hooks/sandbox/{conn.webhook_token}/test-echo", data=b"{}", content_type="application/json")
    assert resp.status_code == 403 and SEEN == []
    assert "allowlist" in Exchange.objects.get().error


def test_allowlisted_ip_passes(client, conn):
    conn.ip_allowlist = "127.0.0.1\n194.49.126.36"
    conn.save()
    resp = client.post(f"/hooks/sandbox/{conn.webhook_token}/test-echo", data=b"{}", content_type="application/json")
    assert resp.status_code == 200


def test_oversized_body_is_refused(client, conn):
    resp = client.post(f"/hooks/sandbox/{conn.webhook_token}/test-echo", data=b"x" * 300_000, content_type="text/plain")
    assert resp.status_code == 413


def test_admin_pages_render_without_secrets(admin_client, conn):
    for url in ("/admin/core/store/", f"/admin/core/store/{conn.store_id}/change/", "/admin/core/connection/",
                f"/admin/core/connection/{conn.pk}/change/", "/admin/core/job/", "/admin/core/exchange/",
                "/admin/cod_confirm/confirmation/"):
        resp = admin_client.get(url)
        assert resp.status_code == 200, url
        assert b"tok-secret-123" not in resp.content
