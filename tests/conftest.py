"""Test session wiring: data dir, shared clock, MariaDB plugin, helpers used across the suite."""

import os
from pathlib import Path

import pytest

# Simulators and test shops listen on loopback: the administrator's allowance (core.outbound), also for the
# worker/server subprocesses tests start. Tests of the refusal set settings.SIMULATOR_HOSTS themselves.
LOOPBACK_ALLOWED = ["127.0.0.1"]
os.environ["OCBRIDGE_SIMULATOR_HOSTS"] = ",".join(LOOPBACK_ALLOWED)
# OneBox and Despatch Cloud publish no rate limit and their simulators enforce none: our clients' own pace (2 and 4
# requests a second) only made these tests wait. The loopback simulators take them at this pace (settings.PROVIDER_RPS,
# also for subprocesses); tests/services/test_login_clients.py proves the real pace with the setting unset.
FAST_PROVIDERS = {"onebox": 1000.0, "despatch": 1000.0}
os.environ["OCBRIDGE_PROVIDER_RPS"] = ",".join(f"{name}={rps:g}" for name, rps in FAST_PROVIDERS.items())

pytest_plugins = ["conftest_mariadb"] if (Path(__file__).parent / "conftest_mariadb.py").exists() else []


@pytest.fixture(scope="session", autouse=True)
def session_public_url():
    """PUBLIC_URL (where the hub tells providers to send webhooks) is a loopback port this session holds without
    listening, so a webhook no test asked to receive is refused, never delivered to the default
    http://127.0.0.1:8000 where a `make demo` beside the tests would take it. Tests that need the webhooks set
    PUBLIC_URL to their live server; worker subprocesses inherit the environment variable."""
    import socket

    from django.conf import settings

    held = socket.socket()
    held.bind(("127.0.0.1", 0))  # bound, not listening: connects are refused and no one else gets the port
    url = f"http://127.0.0.1:{held.getsockname()[1]}"
    settings.PUBLIC_URL = os.environ["OCBRIDGE_PUBLIC_URL"] = url
    yield url
    held.close()


@pytest.fixture(autouse=True)
def _test_clock(settings):
    """Every test may move time; it starts at real time."""
    from ocbridge.core import clock

    settings.TEST_CLOCK = True
    settings.SIMULATOR_HOSTS = list(LOOPBACK_ALLOWED)
    settings.PROVIDER_RPS = dict(FAST_PROVIDERS)
    clock.reset()
    yield
    clock.reset()


@pytest.fixture(autouse=True)
def _default_language():
    """Each test starts in the hub's default language: a page request in Turkish (LocaleMiddleware activates
    the language for the thread and nothing resets it) must not turn the next test's texts Turkish."""
    from django.utils import translation

    translation.deactivate()
    yield
    translation.deactivate()


@pytest.fixture(autouse=True)
def _config_cache():
    """Rows an earlier test cached (core.config_cache) are gone with its rolled-back database."""
    from ocbridge.core import config_cache

    config_cache.clear()
    yield
    config_cache.clear()


@pytest.fixture(autouse=True)
def _routine_polls(settings):
    """Each test starts with no poll leases or dispatcher beat from an earlier test's workers (they share the data
    dir), and with this process's memory of poll health matching its emptied database."""
    import shutil

    from ocbridge.core import polls

    shutil.rmtree(Path(settings.DATA_DIR) / "polls", ignore_errors=True)
    polls.reset()
    yield
    polls.reset()


@pytest.fixture
def keyfile(settings, tmp_path):
    """Fernet keys in a file of this test's own (rotation must not change the key the rest of the session uses)."""
    from ocbridge.core import secrets

    settings.FERNET_KEYS_FILE = tmp_path / "fernet.keys"
    settings.FERNET_KEYS_ENV = ""
    secrets.reset_cache()
    yield settings.FERNET_KEYS_FILE
    secrets.reset_cache()


@pytest.fixture
def make_conn(db):
    """make_conn(service, base_url, secret, options): a Connection of a new Store (service and contract tests)."""
    from ocbridge.core.models import Connection, Store

    def make(service: str, base_url: str, secret: dict, options: dict | None = None):
        store = Store.objects.create(name=f"Shop for {service}")
        return Connection.objects.create(store=store, service=service, base_url=base_url, secret=secret,
                                         options=options or {})

    return make


@pytest.fixture(scope="module")
def postgres():
    """A throwaway PostgreSQL server (ocbridge.testbed.postgres); skips with the package name where it is missing."""
    from ocbridge.testbed.postgres import PostgresServer, PostgresUnavailable

    try:
        server = PostgresServer().start()
    except PostgresUnavailable as exc:
        pytest.skip(str(exc))
    yield server
    server.stop()


@pytest.fixture
def hub_mail(settings, smtp_server):
    """The hub-wide mail settings pointing at the loopback SMTP server (sender hub@example.com)."""
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", smtp_server.port
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    settings.EMAIL_HOST_USER = settings.EMAIL_HOST_PASSWORD = ""
    settings.DEFAULT_FROM_EMAIL = "hub@example.com"
    return smtp_server


@pytest.fixture
def smtp_server():
    """A loopback SMTP server (tests/smtpkit.py): .port, .messages, .box.faults, .box.users."""
    from smtpkit import SmtpServer

    server = SmtpServer().start()
    yield server
    server.stop()
