"""Which address the IP allowlist and the log see: the peer, or behind trusted proxies the first untrusted address
of X-Forwarded-For from the right. A header from a peer that is not a trusted proxy is ignored (it can be forged
where the app port is reachable directly)."""

import pytest
from django.core import checks
from django.test import RequestFactory

from ocbridge.core.exchanges import client_ip


def _req(peer: str, xff: str | None = None):
    extra = {"REMOTE_ADDR": peer}
    if xff is not None:
        extra["HTTP_X_FORWARDED_FOR"] = xff
    return RequestFactory().post("/hooks/x/y/z", **extra)


def test_without_proxy_settings_the_header_is_ignored(settings):
    settings.TRUSTED_PROXIES, settings.TRUSTED_PROXY_HOPS = [], 0
    assert client_ip(_req("198.51.100.7", "1.2.3.4")) == "198.51.100.7"


def test_an_untrusted_peer_cannot_speak_for_someone_else(settings):
    settings.TRUSTED_PROXIES, settings.TRUSTED_PROXY_HOPS = ["10.0.0.0/8"], 0
    assert client_ip(_req("198.51.100.7", "1.2.3.4")) == "198.51.100.7"


def test_behind_a_cdn_and_nginx_the_first_untrusted_address_from_the_right(settings):
    """Client 1.2.3.4 → CDN edge 203.0.113.9 (adds 1.2.3.4) → nginx 10.0.0.2 (adds 203.0.113.9) → hub."""
    settings.TRUSTED_PROXIES, settings.TRUSTED_PROXY_HOPS = ["10.0.0.0/8", "203.0.113.0/24"], 0
    assert client_ip(_req("10.0.0.2", "1.2.3.4, 203.0.113.9")) == "1.2.3.4"
    # a client that writes its own header in front gains nothing: the first untrusted one from the right counts
    assert client_ip(_req("10.0.0.2", "9.9.9.9, 1.2.3.4, 203.0.113.9")) == "1.2.3.4"
    # the last hop alone (the old rule) would have been the CDN:
    assert client_ip(_req("10.0.0.2", "1.2.3.4, 203.0.113.9")) != "203.0.113.9"


def test_hop_count(settings):
    settings.TRUSTED_PROXIES, settings.TRUSTED_PROXY_HOPS = [], 2
    assert client_ip(_req("10.0.0.2", "9.9.9.9, 1.2.3.4, 203.0.113.9")) == "1.2.3.4"
    assert client_ip(_req("10.0.0.2", "")) == "10.0.0.2"


@pytest.mark.django_db
def test_allowlisted_webhook_from_a_forged_header_is_refused_and_through_the_proxy_accepted(client, settings):
    from ocbridge.core.models import Connection, Exchange, Integration, Store

    store = Store.objects.create(name="S", db_url="sqlite:////nonexistent/s.db")
    conn = Connection.objects.create(store=store, service="sandbox", ip_allowlist="1.2.3.4",
                                     secret={"token": "t", "webhook_secret": "w"})
    Integration.objects.create(store=store, kind="cod_confirm", connection=conn, settings={})
    url = f"/hooks/sandbox/{conn.webhook_token}/call-result"
    settings.TRUSTED_PROXIES, settings.TRUSTED_PROXY_HOPS = [], 0
    resp = client.post(url, b"{}", content_type="application/json", HTTP_X_FORWARDED_FOR="1.2.3.4")
    assert resp.status_code == 403  # the test client's peer is 127.0.0.1; the header is not believed
    assert "127.0.0.1" in Exchange.objects.get().error
    settings.TRUSTED_PROXIES = ["127.0.0.1/32"]
    client.post(url, b"{}", content_type="application/json", HTTP_X_FORWARDED_FOR="1.2.3.4")
    second = Exchange.objects.order_by("-pk").first()
    assert "allowlist" not in second.error  # past the allowlist (the unsigned body is then refused by its handler)
    assert second.request_headers.get("X-Remote-Addr") == "1.2.3.4"  # and the log names the client


@pytest.mark.django_db
def test_check_deploy_warns_about_an_allowlist_without_a_proxy_setting(settings):
    from ocbridge.core.models import Connection, Store

    settings.TRUSTED_PROXIES, settings.TRUSTED_PROXY_HOPS = [], 0
    ids = lambda: {m.id for m in checks.run_checks(include_deployment_checks=True)}  # noqa: E731
    assert "ocbridge.W005" not in ids()
    store = Store.objects.create(name="S", db_url="sqlite:////nonexistent/s.db")
    Connection.objects.create(store=store, service="verimor", ip_allowlist="1.2.3.4")
    assert "ocbridge.W005" in ids()
    settings.TRUSTED_PROXY_HOPS = 1
    assert "ocbridge.W005" not in ids()
