"""Secrets end to end (issue 8 §6): nothing in clear anywhere in the hub's database, masked in Exchanges, log
output and error pages, and `ocbridge rotate-key` run as the real command while the hub keeps working.

Unit-level masking and a one-column check live in tests/core/test_secrets.py; these tests go through the
client, the webhook endpoint, the logging configuration and the CLI.
"""

from __future__ import annotations

import io
import json
import logging
import subprocess

import pytest
from cryptography.fernet import Fernet, InvalidToken

from ocbridge.core import secrets
from ocbridge.core.masking import MASK, MaskingFilter
from ocbridge.core.models import Connection, Exchange, Store
from ocbridge.services.sandbox import SandboxClient
from ocbridge.simulators.sandbox import SandboxSimulator, sign_body
from testkit import PYTHON, worker_env

SHOP_PW = "Shop-Pw-7f3k2q9x"
API_KEY = "oc-api-key-5d1e8a77c0b44f2e"
TOKEN = "sbx-token-91be02c4d7"
WEBHOOK_SECRET = "sbx-whsec-3a6f0e5b18"


@pytest.fixture
def sim():
    s = SandboxSimulator(token=TOKEN, webhook_secret=WEBHOOK_SECRET, speed=1000)
    s.start()
    yield s
    s.stop()


def _account(sim) -> tuple[Store, Connection]:
    store = Store.objects.create(name="s", db_url=f"mysql+pymysql://shop:{SHOP_PW}@127.0.0.1:3306/shop",
                                 secret={"api_key": API_KEY})
    conn = Connection.objects.create(store=store, service="sandbox", base_url=sim.base_url,
                                     secret={"token": TOKEN, "webhook_secret": WEBHOOK_SECRET})
    return store, conn


def _raw_dump() -> dict[str, str]:
    """Every row of every hub table as text, read with plain SQL (what a stolen database file shows)."""
    from django.db import connection

    out = {}
    with connection.cursor() as cur:
        for table in connection.introspection.table_names(cur):
            cur.execute(f'SELECT * FROM "{table}"')
            cols = [c[0] for c in cur.description]
            out[table] = "\n".join(repr(dict(zip(cols, row))) for row in cur.fetchall())
    return out


def _inbound(client, conn, *, token_in_query: bool = False):
    body = json.dumps({"event_id": "evt_1", "type": "sms.inbound", "created_at": "2026-01-01T00:00:00Z", "sequence": 1,
                       "data": {"id": "in_1", "from": "+905321234567", "to": "+908500000000", "text": "EVET",
                                "received_at": "2026-01-01T00:00:00Z"}}).encode()
    url = f"/hooks/sandbox/{conn.webhook_token}/sms" + (f"?token={TOKEN}" if token_in_query else "")
    return client.post(url, data=body, content_type="application/json",
                       HTTP_X_SANDBOX_SIGNATURE="sha256=" + sign_body(WEBHOOK_SECRET, body))


@pytest.mark.django_db
def test_raw_hub_database_holds_no_credential_in_clear(keyfile, sim, client, settings):
    store, conn = _account(sim)
    client_ = SandboxClient(conn)
    client_.send_sms(to="+905321234567", text="Siparişiniz", key="k1", webhook_url=conn.webhook_url("sms"))
    sim.fail_next("500", path="/v1/sms")
    with pytest.raises(Exception):
        client_.send_sms(to="+905321234568", text="x", key="k2", webhook_url=conn.webhook_url("sms"))
    assert _inbound(client, conn).status_code == 200
    assert _inbound(client, conn, token_in_query=True).status_code == 200
    dump = _raw_dump()
    everything = "\n".join(dump.values())
    fernet_key = keyfile.read_text().strip()
    for secret in (SHOP_PW, API_KEY, TOKEN, WEBHOOK_SECRET, fernet_key, settings.SECRET_KEY):
        assert secret not in everything, [t for t, text in dump.items() if secret in text]
    assert Exchange.objects.filter(direction="in").count() == 2 and Exchange.objects.filter(direction="out").count() == 2


@pytest.mark.django_db
def test_webhook_url_token_is_kept_only_where_it_is_looked_up(keyfile, sim, client):
    store, conn = _account(sim)
    SandboxClient(conn).send_sms(to="+905321234567", text="x", key="k1", webhook_url=conn.webhook_url("sms"))
    assert _inbound(client, conn).status_code == 200
    holders = [t for t, text in _raw_dump().items() if conn.webhook_token in text]
    assert holders == ["core_connection"]  # looked up by equality there; shown masked everywhere else


@pytest.mark.django_db
def test_exchanges_show_that_a_credential_was_sent_never_its_value(keyfile, sim, client):
    store, conn = _account(sim)
    SandboxClient(conn).send_sms(to="+905321234567", text="x", key="k1", webhook_url=conn.webhook_url("sms"))
    _inbound(client, conn, token_in_query=True)
    out = Exchange.objects.get(direction="out")
    assert out.request_headers["Authorization"] == MASK
    inbound = Exchange.objects.get(direction="in")
    assert conn.webhook_token[:4] + "…" in inbound.url and conn.webhook_token not in inbound.url
    assert f"token={MASK}" in inbound.url.replace("%2A", "*")


def test_log_output_masks_credentials():
    """The handler configured in settings.LOGGING (what `ocbridge worker` prints) masks name=value secrets."""
    root = logging.getLogger()
    handler = next((h for h in root.handlers if any(isinstance(f, MaskingFilter) for f in h.filters)), None)
    assert handler is not None, "settings.LOGGING's console handler carries the masking filter"
    stream = io.StringIO()
    old = handler.setStream(stream)
    try:
        log = logging.getLogger("ocbridge.services.netgsm")
        log.warning("login failed for usercode=%s password=%s", "8503001234", "hunter2-xyz")
        log.error('provider answered {"api_key": "%s"}', API_KEY)
    finally:
        handler.setStream(old)
    text = stream.getvalue()
    assert "hunter2-xyz" not in text and API_KEY not in text and text.count(MASK) == 3, text


def test_log_output_masks_credentials_in_tracebacks():
    root = logging.getLogger()
    handler = next(h for h in root.handlers if any(isinstance(f, MaskingFilter) for f in h.filters))
    stream = io.StringIO()
    old = handler.setStream(stream)
    try:
        try:
            raise RuntimeError(f"provider said: invalid request password={SHOP_PW}")
        except RuntimeError:
            logging.getLogger("ocbridge.core.jobs").exception("job %s (%s) crashed", 7, "cod_confirm.start_attempt")
    finally:
        handler.setStream(old)
    assert "crashed" in stream.getvalue() and SHOP_PW not in stream.getvalue()


@pytest.mark.django_db
def test_server_error_page_shows_no_secret(keyfile, sim, settings, monkeypatch):
    """A bug while handling a webhook (production: DEBUG off) answers a bare 500; nothing of the account leaks."""
    from django.test import Client

    from ocbridge.core import registry

    settings.DEBUG = False
    store, conn = _account(sim)

    def broken(request, connection, exchange):
        creds = connection.credentials()  # noqa: F841  (a local holding secrets, as in a real frame)
        raise RuntimeError(f"unexpected answer for token={TOKEN}")

    monkeypatch.setitem(registry.webhooks, ("sandbox", "boom"), broken)
    resp = Client(raise_request_exception=False).post(f"/hooks/sandbox/{conn.webhook_token}/boom", data=b"{}",
                                                      content_type="application/json")
    assert resp.status_code == 500
    body = resp.content.decode()
    for secret in (TOKEN, WEBHOOK_SECRET, SHOP_PW, API_KEY, conn.webhook_token):
        assert secret not in body


def _raw_secret(pk: int) -> str:
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute("SELECT secret FROM core_connection WHERE id = %s", [pk])
        return cur.fetchone()[0]


def _rotate(env: dict) -> subprocess.CompletedProcess:
    return subprocess.run([PYTHON, "-m", "ocbridge", "rotate-key"], env=env, capture_output=True, text=True, timeout=120)


@pytest.mark.django_db(transaction=True)
def test_rotate_key_command_reencrypts_everything_and_the_old_key_is_useless(keyfile, sim, tmp_path):
    store, conn = _account(sim)
    old_key = keyfile.read_text().strip()
    before = _raw_secret(conn.pk)
    env = worker_env(OCBRIDGE_DATA_DIR=str(keyfile.parent))
    env.pop("OCBRIDGE_FERNET_KEYS", None)
    done = _rotate(env)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "re-encrypted 2 secret sets" in done.stdout
    keys = keyfile.read_text().split()
    assert len(keys) == 1 and keys[0] != old_key
    after = _raw_secret(conn.pk)
    assert after != before
    with pytest.raises(InvalidToken):
        Fernet(old_key.encode()).decrypt(after.encode())
    assert json.loads(Fernet(keys[0].encode()).decrypt(after.encode())) == {"token": TOKEN, "webhook_secret": WEBHOOK_SECRET}
    secrets.reset_cache()  # this process read the old key; a fresh read sees the new one
    conn = Connection.objects.get(pk=conn.pk)
    sent = SandboxClient(conn).send_sms(to="+905321234567", text="x", key="after-rotation",
                                        webhook_url=conn.webhook_url("sms"))
    assert sent.provider_id and sim.messages()[-1]["idempotency_key"] == "after-rotation"
    assert Store.objects.get(pk=store.pk).api_key == API_KEY


@pytest.mark.django_db(transaction=True)
def test_rotate_key_with_keys_from_the_environment_reencrypts_under_the_first_key(keyfile, sim, settings):
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    settings.FERNET_KEYS_ENV = old
    secrets.reset_cache()
    store, conn = _account(sim)
    env = worker_env(OCBRIDGE_DATA_DIR=str(keyfile.parent), OCBRIDGE_FERNET_KEYS=f"{new},{old}")  # new key first
    done = _rotate(env)
    assert done.returncode == 0, done.stderr[-1500:]
    assert json.loads(Fernet(new.encode()).decrypt(_raw_secret(conn.pk).encode()))["token"] == TOKEN


@pytest.mark.django_db(transaction=True)
def test_a_running_process_reads_credentials_after_rotate_key(keyfile, sim):
    store, conn = _account(sim)
    assert Connection.objects.get(pk=conn.pk).credentials()["token"] == TOKEN  # keys now cached, as in a worker
    env = worker_env(OCBRIDGE_DATA_DIR=str(keyfile.parent))
    env.pop("OCBRIDGE_FERNET_KEYS", None)
    assert _rotate(env).returncode == 0
    assert Connection.objects.get(pk=conn.pk).credentials()["token"] == TOKEN  # no restart in between
