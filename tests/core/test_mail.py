"""Mail from the hub through a real SMTP exchange (aiosmtpd on loopback, tests/smtpkit.py): hub-wide settings,
a store's own server with its encrypted password, and the outbox's once-only rule under the server's faults."""

import pytest
from django.db import connection as db

from ocbridge.core import clock, mail
from ocbridge.core.jobs import run_until_idle
from ocbridge.core.models import Connection, Exchange, Job, SideEffect, Store

pytestmark = pytest.mark.django_db
PASSWORD = "smtp-S3cret-pw-4411"


@pytest.fixture
def store(db):
    return Store.objects.create(name="Demo Mağaza")


def _run_all(rounds: int = 6) -> None:
    for _ in range(rounds):
        run_until_idle()
        clock.travel(3600)  # past any backoff


def test_a_mail_through_the_hub_server_arrives_once_and_is_logged(hub_mail, store):
    mail.queue("test:1", to="owner@example.com", subject="Deneme  e-postası\n", body="Merhaba, çalışıyor.", store=store)
    mail.queue("test:1", to="owner@example.com", subject="Deneme e-postası", body="Merhaba, çalışıyor.", store=store)
    _run_all()
    assert len(hub_mail.messages) == 1
    msg = hub_mail.messages[0]
    effect = SideEffect.objects.get(key="test:1")
    assert (msg["To"], msg["Subject"], msg["From"]) == ("owner@example.com", "Deneme e-postası", "hub@example.com")
    assert msg["Message-ID"] == f"<ocbridge.{effect.correlation}@example.com>"
    assert "çalışıyor" in msg.get_payload(decode=True).decode()
    assert (effect.state, effect.kind, effect.service) == ("sent", "mail", "smtp")
    assert effect.provider_id == "2.0.0 Ok: queued as Q00001"
    ex = Exchange.objects.get(key="test:1")
    assert (ex.method, ex.url, ex.outcome, ex.store) == ("SMTP", f"smtp://127.0.0.1:{hub_mail.port}", "ok", store)


def test_a_long_mail_arrives_whole_with_its_lines_ended_as_smtp_requires(hub_mail, store):
    """SMTP ends every line of a message with CRLF (RFC 5321 §2.3.8) and a line may hold at most 1,000 octets
    (§4.5.3.1.6). A message whose lines end in a bare LF is one long line to a strict server: aiosmtpd answers
    "500 Line too long", Postfix 3.9 refuses bare LFs by default (smtpd_forbid_bare_newline)."""
    body = "\n".join(f"{i:03d}. Mağaza Demo: sipariş {1000 + i} bekliyor — ödeme yapılmadı." for i in range(120))
    mail.queue("test:long", to="owner@example.com", subject="Uzun özet", body=body, store=store)
    _run_all()
    assert len(hub_mail.messages) == 1, SideEffect.objects.get(key="test:long").error
    assert hub_mail.messages[0].get_content().replace("\r\n", "\n").rstrip("\n") == body  # lines as they went


def test_a_store_server_overrides_the_hub_with_its_login_and_the_password_stays_secret(settings, smtp_server, store):
    settings.EMAIL_HOST = "mail.hub.invalid"  # would fail: the store's own server must be the one used
    settings.SIMULATOR_HOSTS = [f"127.0.0.1:{smtp_server.port}"]  # a store's server on loopback needs the admin
    smtp_server.box.users = {"shop@example.com": PASSWORD}
    Connection.objects.create(store=store, service="smtp", options={
        "host": "127.0.0.1", "port": smtp_server.port, "security": "none", "from_email": "shop@example.com"},
        secret={"username": "shop@example.com", "password": PASSWORD})
    mail.queue("test:2", to=["a@example.com", "b@example.com"], subject="Hi", body="Body", store=store)
    _run_all()
    assert len(smtp_server.messages) == 1 and smtp_server.box.logins == ["shop@example.com"]
    with db.cursor() as cur:
        cur.execute("SELECT secret FROM core_connection")
        assert PASSWORD not in cur.fetchone()[0]  # encrypted at rest like every credential
    for ex in Exchange.objects.all():
        assert PASSWORD not in f"{ex.url}{ex.request_headers}{ex.request_body}{ex.response_body}{ex.error}"


def test_a_wrong_password_is_refused_with_the_servers_words_and_not_retried(settings, smtp_server, store):
    settings.SIMULATOR_HOSTS = ["127.0.0.1"]
    smtp_server.box.users = {"shop@example.com": PASSWORD}
    Connection.objects.create(store=store, service="smtp", options={
        "host": "127.0.0.1", "port": smtp_server.port, "security": "none", "from_email": "shop@example.com"},
        secret={"username": "shop@example.com", "password": "wrong"})
    mail.queue("test:3", to="a@example.com", subject="Hi", body="Body", store=store)
    _run_all()
    effect, job = SideEffect.objects.get(key="test:3"), Job.objects.get(key="mail:test:3")
    assert effect.state == "failed" and "refused the login" in effect.error
    assert job.state == "failed" and job.attempts == 1 and smtp_server.messages == []


def test_a_refused_recipient_fails_with_the_servers_words(hub_mail, store):
    hub_mail.box.faults = ["rcpt_550"]
    mail.queue("test:4", to="nobody@example.com", subject="Hi", body="Body", store=store)
    _run_all()
    effect = SideEffect.objects.get(key="test:4")
    assert effect.state == "failed" and "User unknown" in effect.error and hub_mail.messages == []


@pytest.mark.parametrize("fault", ["data_451", "rcpt_450"])
def test_try_again_later_is_not_sent_and_the_retry_sends_it_once(hub_mail, store, fault):
    hub_mail.box.faults = [fault]
    mail.queue("test:5", to="a@example.com", subject="Hi", body="Body", store=store)
    _run_all()
    assert len(hub_mail.messages) == 1 and SideEffect.objects.get(key="test:5").state == "sent"
    assert Exchange.objects.filter(key="test:5").count() == 2


def test_a_connection_cut_after_the_message_was_handed_over_is_unknown_and_never_resent(hub_mail, store):
    hub_mail.box.faults = ["drop_after_data"]
    mail.queue("test:6", to="a@example.com", subject="Hi", body="Body", store=store)
    _run_all()
    Job.objects.filter(key="mail:test:6").update(state="queued", next_run_at=clock.now())  # a person retries it
    _run_all()
    assert len(hub_mail.messages) == 1  # the server had it: a second copy would be a duplicate
    assert SideEffect.objects.get(key="test:6").state == "unknown"


def test_an_unreachable_server_is_retried_not_lost(settings, store):
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed_port = s.getsockname()[1]
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.DEFAULT_FROM_EMAIL = "127.0.0.1", closed_port, "hub@example.com"
    settings.EMAIL_USE_TLS = False
    mail.queue("test:7", to="a@example.com", subject="Hi", body="Body", store=store)
    run_until_idle()
    job = Job.objects.get(key="mail:test:7")
    assert job.state == "queued" and job.attempts == 1 and "127.0.0.1" in job.last_error
    assert SideEffect.objects.get(key="test:7").state == "requested"


def test_without_any_server_queueing_says_mail_is_not_set(settings, store):
    settings.EMAIL_HOST = ""
    with pytest.raises(mail.MailNotSet):
        mail.queue("test:8", to="a@example.com", subject="Hi", body="Body", store=store)
    with pytest.raises(ValueError):
        settings.EMAIL_HOST = "127.0.0.1"
        mail.queue("test:9", to="not an address", subject="Hi", body="Body", store=store)


def test_a_store_server_on_an_internal_address_is_refused_before_its_password_goes_anywhere(smtp_server, store,
                                                                                           settings):
    settings.SIMULATOR_HOSTS = []
    smtp_server.box.users = {"shop@example.com": PASSWORD}
    Connection.objects.create(store=store, service="smtp", options={
        "host": "127.0.0.1", "port": smtp_server.port, "security": "none", "from_email": "shop@example.com"},
        secret={"username": "shop@example.com", "password": PASSWORD})
    mail.queue("test:10", to="a@example.com", subject="Hi", body="Body", store=store)
    _run_all()
    effect = SideEffect.objects.get(key="test:10")
    assert effect.state == "failed" and "not a public address" in effect.error
    assert smtp_server.box.logins == [] and smtp_server.messages == []
