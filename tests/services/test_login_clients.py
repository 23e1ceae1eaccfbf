"""The start Despatch Cloud's and OneBox's clients share (services.session_tokens.LoginClient): the API user and
password read from the Connection and refused when empty, the account's host checked by the provider's rule before
anything is sent, one token scope per (connection, host, credentials), the password masked."""

from __future__ import annotations

import pytest

from ocbridge.core.errors import ConfigurationError
from ocbridge.core.models import Connection, Store
from ocbridge.services.despatch import DespatchClient
from ocbridge.services.onebox import OneBoxClient

pytestmark = pytest.mark.django_db

CLIENTS = [(DespatchClient, "despatch", "email", "https://acme.despatchcloud.co.uk", "e-mail and password"),
           (OneBoxClient, "onebox", "login", "https://mybox.1b.app", "login and REST API password")]


def connection(service: str, base_url: str, **secret) -> Connection:
    store = Store.objects.create(name="A", db_host="db.example.com", db_name="shop")
    return Connection.objects.create(store=store, service=service, base_url=base_url, secret=secret)


@pytest.mark.parametrize("client,service,user,url,words", CLIENTS)
@pytest.mark.parametrize("secret", [{}, {"password": "pw"}, {"user": "api"}, {"user": " ", "password": ""}])
def test_empty_credentials_are_refused_with_what_is_missing(settings, client, service, user, url, words, secret):
    settings.SIMULATOR_HOSTS = []
    secret = {user if k == "user" else k: v for k, v in secret.items()}
    with pytest.raises(ConfigurationError, match=words):
        client(connection(service, url, **secret))


@pytest.mark.parametrize("client,service,user,url,words", CLIENTS)
def test_a_host_outside_the_providers_pattern_is_refused_before_any_call(settings, client, service, user, url, words):
    settings.SIMULATOR_HOSTS = []
    with pytest.raises(ConfigurationError):
        client(connection(service, "https://evil.example.com", **{user: "api", "password": "pw"}))


@pytest.mark.parametrize("client,service,user,url,words", CLIENTS)
def test_one_token_scope_per_account_and_the_password_masked(settings, client, service, user, url, words):
    settings.SIMULATOR_HOSTS = []
    conn = connection(service, url, **{user: "api", "password": "pw-secret-1"})
    first = client(conn)
    assert client(Connection.objects.get(pk=conn.pk))._scope == first._scope  # same account: the cached token
    conn.secret = {user: "api", "password": "pw-secret-2"}
    conn.save()
    second = client(Connection.objects.get(pk=conn.pk))
    assert second._scope != first._scope and second._scope[:2] == (conn.pk, second.base_url)
    assert "pw-secret-2" in second._secrets and "pw-secret-1" not in repr(second._scope)
