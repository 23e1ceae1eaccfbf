"""Settings pages: "send a test call/SMS to my phone" and "test connection", against the Sandbox simulator."""

import pytest
from django.urls import reverse

from ocbridge.core.jobs import run_job
from ocbridge.core.models import AuditEntry, Connection, Integration, Job
from ocbridge.simulators.sandbox import SandboxSimulator
from testkit import cod_integration

pytestmark = pytest.mark.django_db


@pytest.fixture
def sim():
    s = SandboxSimulator(token="tok-good-1234", speed=1000, seed=3)
    s.start()
    yield s
    s.stop()


@pytest.fixture
def sandbox_integ(store, sim):
    from ocbridge.integrations.cod_confirm.config import CodConfirmConfig

    conn = Connection.objects.create(store=store, service="sandbox", base_url=sim.base_url,
                                     secret={"token": "tok-good-1234", "webhook_secret": "sandbox-webhook-secret"})
    return cod_integration(store, conn, settings=CodConfirmConfig(sms_sender="DEMO").to_settings())


def _url(store, name="dashboard:integration-test"):
    return reverse(name, args=[store.pk, "cod_confirm"])


def test_settings_page_offers_the_test_form_only_with_a_channel_plan(client_in, store, sandbox_integ):
    from ocbridge.integrations.cod_confirm.models import ChannelStep

    assert 'id="test-message"' in client_in.get(_url(store, "dashboard:integration")).content.decode()
    ChannelStep.objects.filter(integration=sandbox_integ).delete()
    assert 'id="test-message"' not in client_in.get(_url(store, "dashboard:integration")).content.decode()


def test_malformed_phone_is_a_form_error_in_the_users_language_and_nothing_is_queued(client_in, store, sandbox_integ):
    client_in.cookies["django_language"] = "tr"
    resp = client_in.post(_url(store), {"test-phone": "12ab", "test-channel": "call"})
    assert resp.status_code == 400
    html = resp.content.decode()
    assert 'id="id_test-phone_errors"' in html and "geçerli bir telefon numarası değil" in html
    assert not Job.objects.filter(kind="cod_confirm.send_test").exists()


def test_test_sms_is_queued_audited_and_sent_to_the_owners_phone(client_in, store, sandbox_integ, sim):
    resp = client_in.post(_url(store), {"test-phone": "0532 123 45 67", "test-channel": "sms"}, follow=True)
    assert 'id="job-outcome"' in resp.content.decode() and "Working on it" in resp.content.decode()
    job = Job.objects.get(kind="cod_confirm.send_test")
    page = resp.redirect_chain[-1][0]
    assert job.payload["phone"] == "+905321234567"
    assert AuditEntry.objects.get(action="cod_confirm.test_sms").user == "owner"
    assert run_job(job.pk).state == "done"
    assert "The service accepted it" in client_in.get(page).content.decode()  # what the live region re-reads
    sent = sim.messages()
    assert len(sent) == 1 and sent[0]["to"] == "+905321234567" and "Demo Shop" in sent[0]["text"]


def test_test_call_reaches_the_simulator(client_in, store, sandbox_integ, sim):
    client_in.post(_url(store), {"test-phone": "+90 532 123 45 67", "test-channel": "call"})
    run_job(Job.objects.get(kind="cod_confirm.send_test").pk)
    assert [c["to"] for c in sim.calls()] == ["+905321234567"]


def test_connection_check_uses_the_providers_credential_check(client_in, store, sandbox_integ):
    conn = sandbox_integ.channel_steps.first().connection
    resp = client_in.post(reverse("dashboard:connection-test", args=[conn.pk]), follow=True)
    assert "Sandbox accepted the token" in resp.content.decode()
    conn.secret = {"token": "tok-wrong-9876", "webhook_secret": "x"}
    conn.save()
    html = client_in.post(reverse("dashboard:connection-test", args=[conn.pk]), follow=True).content.decode()
    assert "Connection check failed" in html and "tok-wrong-9876" not in html


def test_test_sends_are_limited_per_user_and_per_store(client_in, store, sandbox_integ, settings):
    """The 4th test in an hour is refused next to the field (limit 3 here): per user, and per store whoever asks."""
    from django.contrib.auth.models import User
    from django.test import Client

    from ocbridge.core.models import StoreMember

    settings.TEST_SENDS_PER_HOUR = 3
    for _ in range(3):
        assert client_in.post(_url(store), {"test-phone": "0532 123 45 67", "test-channel": "sms"}).status_code == 302
    resp = client_in.post(_url(store), {"test-phone": "0532 123 45 67", "test-channel": "sms"})
    assert resp.status_code == 400 and "At most 3 test calls and SMS an hour" in resp.content.decode()
    other = User.objects.create_user("operator2", password="pw")
    StoreMember.objects.create(store=store, user=other, role="operator")
    c = Client()
    c.force_login(other)
    assert c.post(_url(store), {"test-phone": "0532 123 45 67", "test-channel": "call"}).status_code == 400
    assert Job.objects.filter(kind="cod_confirm.send_test").count() == 3
    assert AuditEntry.objects.filter(action__startswith="cod_confirm.test_").count() == 3

