"""The start Despatch Cloud's and OneBox's clients share (services.session_tokens.LoginClient): the API user and
password read from the Connection and refused when empty, the account's host checked by the provider's rule before
anything is sent, one token scope per (connection, host, credentials), the password masked; and the pace each keeps
per account when neither the connection nor the process sets one."""

from __future__ import annotations

import pytest

from ocbridge.core import ratelimit
from ocbridge.core.errors import ConfigurationError
from ocbridge.core.models import Connection, Store
from ocbridge.services import despatch, onebox
from ocbridge.services.despatch import DespatchClient
from ocbridge.services.onebox import OneBoxClient
from ocbridge.simulators.despatch import DespatchSimulator
from ocbridge.simulators.onebox import OneBoxSimulator

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


# Neither provider publishes a rate limit: docs/providers/onebox.md §4 ("none published; we stay at 2 requests/s per
# box"), docs/providers/despatch-cloud.md ("rate limit: not published"; services.despatch stays at 4 a second and
# honours 429). The suite runs both fast (tests/conftest.py FAST_PROVIDERS); this is the one test of the pace a real
# hub keeps.
PACES = [(OneBoxClient, onebox, 2.0, lambda: OneBoxSimulator(login="api", password="pw"), "login",
          lambda client: client.workflows()),
         (DespatchClient, despatch, 4.0, lambda: DespatchSimulator(email="api", password="pw"), "email",
          lambda client: client.search_inventory())]


@pytest.mark.parametrize("client,module,rps,simulator,user,call", PACES, ids=["onebox", "despatch"])
def test_an_account_is_called_at_the_providers_pace_unless_a_setting_says_otherwise(
        settings, client, module, rps, simulator, user, call):
    settings.PROVIDER_RPS = {}  # unset, as in production
    assert module.DEFAULT_RPS == rps
    assert ratelimit.pace(client.service, {}, rps) == rps
    assert ratelimit.pace(client.service, {"rps": 7}, rps) == 7.0  # a connection's own pace wins
    settings.PROVIDER_RPS = {client.service: 50.0}
    assert ratelimit.pace(client.service, {}, rps) == 50.0 and ratelimit.pace(client.service, {"rps": 7}, rps) == 7.0
    settings.PROVIDER_RPS = {}
    module.forget_tokens()
    ratelimit.reset()
    with simulator() as sim:
        # The simulator refuses (429) what comes faster than the pace; one token of slack for the loopback's jitter.
        sim.set_rate_limit(rps, burst=rps + 1)
        api = client(connection(client.service, sim.base_url, **{user: "api", "password": "pw"}))
        for _ in range(int(3 * rps) - 1):  # with the login, 3 × rps requests: a burst of rps, then 2 s of pace
            call(api)
        log = sim.requests()
    module.forget_tokens()
    assert len(log) == 3 * rps and not [r for r in log if r.status == 429]
    assert log[-1].at - log[0].at >= 2.0 - 0.05, [r.at for r in log]
