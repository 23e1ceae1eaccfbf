"""The WhatsApp template page: created from the dashboard, its approval state shown per language, refreshed."""

import pytest
from django.urls import reverse

from ocbridge.core.models import AuditEntry, Connection
from ocbridge.simulators.whatsapp import WhatsAppSimulator

pytestmark = pytest.mark.django_db


@pytest.fixture
def sim():
    with WhatsAppSimulator(token="t", speed=1000, review_delay=10 ** 7) as s:
        yield s


@pytest.fixture
def wa_conn(store, sim):
    return Connection.objects.create(store=store, service="whatsapp", name="Meta", base_url=sim.base_url,
                                     secret={"access_token": "t", "app_secret": "s", "verify_token": "v"},
                                     options={"phone_number_id": sim.phone_number_id, "waba_id": sim.waba_id})


def test_templates_are_created_and_their_approval_shown(client_in, wa_conn, sim):
    url = reverse("dashboard:whatsapp-templates", args=[wa_conn.pk])
    assert "not created" in client_in.get(url).content.decode()
    resp = client_in.post(url, {"action": "create"}, follow=True)
    assert "tr: PENDING" in resp.content.decode() and len(sim.templates()) == 4
    assert AuditEntry.objects.get(action="whatsapp.create_templates").user == "owner"
    sim.set_template_review("REJECTED", reason="INVALID_FORMAT")
    sim.approve_all()
    page = client_in.post(url, {"action": "refresh"}, follow=True).content.decode()
    assert page.count("REJECTED") == 4 and "INVALID_FORMAT" in page


def test_a_wrong_token_is_shown_with_metas_words(client_in, wa_conn, sim):
    sim.expire_token()
    resp = client_in.post(reverse("dashboard:whatsapp-templates", args=[wa_conn.pk]), {"action": "refresh"},
                          follow=True)
    assert "Error validating access token" in resp.content.decode()


def test_other_services_have_no_template_page(client_in, connection):
    assert client_in.get(reverse("dashboard:whatsapp-templates", args=[connection.pk])).status_code == 404


def test_an_expired_token_shows_on_the_overview_in_metas_words(client_in, wa_conn, sim):
    from ocbridge.core import attention
    from ocbridge.core.errors import TerminalError
    from ocbridge.services.whatsapp import WhatsAppClient

    sim.expire_token()
    with pytest.raises(TerminalError):
        WhatsAppClient(wa_conn).check_credentials()
    items = [a for a in attention.needs_attention([wa_conn.store]) if a.key == "core.connections_failing"]
    assert len(items) == 1 and "Error validating access token" in items[0].text
