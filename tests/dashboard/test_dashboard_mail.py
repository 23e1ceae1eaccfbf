"""The store page's mail card and its test send: through the store's or the hub's server (loopback SMTP), queued as
one job whose outcome the page shows; operators and up only; mail not set up is said, not hidden."""

import pytest
from django.test import Client

from ocbridge.core.jobs import run_until_idle
from ocbridge.core.models import AuditEntry, Job, StoreMember

pytestmark = pytest.mark.django_db


def member(store, name: str, role: str) -> Client:
    from django.contrib.auth.models import User

    user = User.objects.create_user(name, password="pw-123456789")
    StoreMember.objects.create(store=store, user=user, role=role)
    c = Client()
    c.force_login(user)
    return c


@pytest.fixture
def hub_mail(settings, smtp_server):
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.DEFAULT_FROM_EMAIL = "127.0.0.1", smtp_server.port, "hub@example.com"
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    return smtp_server


def test_a_test_mail_from_the_store_page_arrives_and_its_outcome_is_shown(store, hub_mail):
    operator = member(store, "operator", "operator")
    page = operator.get(f"/stores/{store.pk}/").content.decode()
    assert f"hub's server 127.0.0.1:{hub_mail.port}" in page
    r = operator.post(f"/stores/{store.pk}/mail-test/", {"to": "owner@example.com"})
    job = Job.objects.get(kind="core.send_mail")
    assert r.status_code == 302 and f"?job={job.pk}" in r["Location"]
    run_until_idle()
    assert [m["To"] for m in hub_mail.messages] == ["owner@example.com"]
    assert store.name in hub_mail.messages[0].get_content()
    outcome = operator.get(r["Location"]).content.decode()
    assert "The service accepted it." in outcome
    assert AuditEntry.objects.filter(action="mail.test", user="operator", store=store).exists()


def test_viewers_cannot_send_and_a_store_without_mail_says_so(store, settings):
    settings.EMAIL_HOST = ""
    viewer = member(store, "viewer", "viewer")
    assert "No mail server is set" in viewer.get(f"/stores/{store.pk}/").content.decode()
    assert viewer.post(f"/stores/{store.pk}/mail-test/", {"to": "a@example.com"}).status_code == 403
    operator = member(store, "operator", "operator")
    r = operator.post(f"/stores/{store.pk}/mail-test/", {"to": "a@example.com"}, follow=True)
    assert "No mail server is set for this store or the hub." in r.content.decode()
    assert not Job.objects.exists()
