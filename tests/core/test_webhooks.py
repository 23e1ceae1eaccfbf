"""The single webhook entry: unknown token, IP allowlist, oversized body, the raw request kept whatever happens."""

import pytest
from django.db import transaction
from django.http import HttpResponse
from django.test import Client

from ocbridge.core.choices import Direction, ExchangeOutcome
from ocbridge.core.models import Connection, Exchange, Store
from ocbridge.core.registry import register_webhook

pytestmark = pytest.mark.django_db
SEEN = []


@register_webhook("sandbox", "test-echo")
def _echo(request, connection, exchange):
    SEEN.append(exchange.request_body)
    return HttpResponse("ok")


@register_webhook("sandbox", "test-crash")
def _crash(request, connection, exchange):
    with transaction.atomic():
        exchange.save()
        raise RuntimeError("bug with tok-secret-123 in its message")


@pytest.fixture
def conn():
    store = Store.objects.create(name="s")
    return Connection.objects.create(store=store, service="sandbox", secret={"token": "tok-secret-123"})


def test_unknown_token_is_404_and_logged(client):
    resp = client.post("/hooks/sandbox/nope/test-echo", data=b"{}", content_type="application/json")
    assert resp.status_code == 404
    ex = Exchange.objects.get()
    assert (ex.direction, ex.outcome, ex.level) == (Direction.IN, ExchangeOutcome.REJECTED, "warning")


def test_known_token_hands_the_masked_raw_request_to_the_handler_and_keeps_it(client, conn):
    SEEN.clear()
    resp = client.post(f"/hooks/sandbox/{conn.webhook_token}/test-echo", data=b'{"a": 1, "password": "p4ss"}',
                       content_type="application/json")
    assert resp.status_code == 200
    ex = Exchange.objects.get()  # the handler recorded no answer: the view saved the request with its status
    assert SEEN == [ex.request_body] and '"a": 1' in ex.request_body and "p4ss" not in ex.request_body
    assert (ex.status, ex.outcome) == (200, ExchangeOutcome.OK)
    assert conn.webhook_token not in ex.url  # the token is shortened in the log


def test_a_failing_handler_still_leaves_the_raw_request_with_the_error(conn):
    client = Client(raise_request_exception=False)
    resp = client.post(f"/hooks/sandbox/{conn.webhook_token}/test-crash", data=b'{"a": 1}',
                       content_type="application/json")
    assert resp.status_code == 500
    ex = Exchange.objects.get()  # the handler's own save was rolled back; this is the view's
    assert (ex.status, ex.outcome, ex.level) == (500, ExchangeOutcome.FAILED, "error")
    assert '"a": 1' in ex.request_body and "RuntimeError" in ex.error and "tok-secret-123" not in ex.error


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
                "/admin/cod_confirm/confirmation/", "/admin/core/sideeffect/"):
        resp = admin_client.get(url)
        assert resp.status_code == 200, url
        assert b"tok-secret-123" not in resp.content
