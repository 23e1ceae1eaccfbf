"""Confirmations list (filters) and order timeline with manual actions; runs when cod_confirm is installed."""

import pytest
from django.apps import apps
from django.urls import reverse
from testkit import cod_integration

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(not apps.is_installed("ocbridge.integrations.cod_confirm"),
                       reason="ocbridge.integrations.cod_confirm is not in INSTALLED_APPS"),
]


@pytest.fixture
def conf(store, connection):
    from ocbridge.core.models import Exchange, Integration
    from ocbridge.integrations.cod_confirm.models import (
        Attempt,
        Confirmation,
        Transition,
    )

    integ = cod_integration(store, connection)
    c = Confirmation.objects.create(store=store, integration=integ, order_id=1001, order_label="A-1001",
                                    customer_name="Ayşe Yılmaz", phone="+905321234567", status_at_start=1,
                                    state="calling")
    ex = Exchange.objects.create(service="verimor", store=store, order_id=1001, key="cod_confirm:k:1", method="POST",
                                 url="https://api.bulutsantralim.com/ivr_campaigns")
    Attempt.objects.create(confirmation=c, number=1, channel="call", service="verimor", key="cod_confirm:k:1",
                           provider_id="camp-55", state="in_flight")
    Transition.objects.create(confirmation=c, from_state="new", to_state="calling", reason="first attempt", exchange=ex)
    return c


def _other(store, **kw):
    from ocbridge.integrations.cod_confirm.models import Confirmation

    fields = {"order_id": 2002, "order_label": "A-2002", "customer_name": "Ivan Petrov", "phone": "+79161234567",
              "status_at_start": 1, "state": "confirmed"}
    fields.update(kw)
    return Confirmation.objects.create(store=store, integration=store.integrations.get(), **fields)


def test_list_filters_by_state_channel_store_and_text(client_in, store, conf):
    other = _other(store)
    url = reverse("dashboard:confirmations")

    def ids(**params):
        return [c.pk for c in client_in.get(url, params).context["page"].rows]

    assert ids() == [other.pk, conf.pk]
    assert ids(state="calling") == [conf.pk]
    assert ids(channel="call") == [conf.pk]
    assert ids(store=store.pk) == [other.pk, conf.pk]
    assert ids(q="ayşe") == [conf.pk]
    assert ids(q="916123") == [other.pk]
    assert ids(q="A-2002") == [other.pk]
    assert ids(q="1001") == [conf.pk]
    assert ids(q="0532 123 45 67") == [conf.pk]
    assert ids(q="+7 916 123-45-67") == [other.pk]


def test_timeline_shows_transitions_attempts_and_exchanges(client_in, conf):
    html = client_in.get(reverse("dashboard:confirmation", args=[conf.pk])).content.decode()
    ex_id = conf.transitions.get().exchange_id
    assert "first attempt" in html and "camp-55" in html
    assert reverse("dashboard:exchange", args=[ex_id]) in html


def test_manual_action_needs_a_reason(client_in, conf):
    resp = client_in.post(reverse("dashboard:confirmation-act", args=[conf.pk]), {"action": "confirm", "reason": " "})
    assert resp.status_code == 400
    assert "audit log" in resp.content.decode()
    conf.refresh_from_db()
    assert conf.state == "calling"


def test_manual_confirm_is_audited(client_in, conf):
    from ocbridge.core.models import AuditEntry

    resp = client_in.post(reverse("dashboard:confirmation-act", args=[conf.pk]),
                          {"action": "confirm", "reason": "customer phoned us"})
    assert resp.status_code == 302
    conf.refresh_from_db()
    assert conf.state == "confirmed"
    entry = AuditEntry.objects.get(action="cod_confirm.confirm")
    assert entry.user == "owner" and entry.reason == "customer phoned us"


def test_manual_call_again_enqueues_a_job(client_in, conf):
    from ocbridge.core.models import Job

    client_in.post(reverse("dashboard:confirmation-act", args=[conf.pk]), {"action": "call", "reason": "try again"})
    assert Job.objects.filter(kind__startswith="cod_confirm.", payload__confirmation_id=conf.pk).exists()


def test_confirmation_action_enforces_csrf(csrf_client, conf):
    resp = csrf_client.post(reverse("dashboard:confirmation-act", args=[conf.pk]), {"action": "cancel", "reason": "x"})
    assert resp.status_code == 403
    conf.refresh_from_db()
    assert conf.state == "calling"


def test_cod_confirm_settings_page_renders_its_form(client_in, store, connection):
    resp = client_in.get(reverse("dashboard:integration", args=[store.pk, "cod_confirm"]))
    assert resp.status_code == 200
    html = resp.content.decode()
    # The channel plan names a connection per step: no single connection field.
    assert 'name="step1_channel"' in html and 'name="step1_connection"' in html
    assert 'name="integration-connection"' not in html


def test_cod_confirm_settings_errors_are_shown_and_nothing_saved(client_in, store, connection):
    from ocbridge.core.models import Integration

    client_in.cookies["django_language"] = "ru"
    resp = client_in.post(reverse("dashboard:integration", args=[store.pk, "cod_confirm"]),
                          {"step1_channel": "call", "step1_delay": "-5"})
    assert resp.status_code == 200
    assert "Ничего не сохранено" in resp.content.decode()
    assert not Integration.objects.filter(kind="cod_confirm").exists()


def _valid_settings_post(**plan_fields) -> dict:
    from ocbridge.integrations.cod_confirm.config import CodConfirmConfig
    from ocbridge.integrations.cod_confirm.forms import CodConfirmForm

    data = {k: v for k, v in CodConfirmForm.initial_from(CodConfirmConfig()).items()
            if isinstance(v, str | int) and not isinstance(v, bool)}
    data.update({"cod_codes": ["cod"], "integration-enabled": "on", "read_order_details": "on", **plan_fields})
    return data


def test_cod_confirm_settings_save_the_channel_plan_through_two_accounts(client_in, store, connection):
    from ocbridge.core.models import AuditEntry, Connection, Integration
    from ocbridge.integrations.cod_confirm import plan

    netgsm = Connection.objects.create(store=store, service="netgsm", name="Netgsm", secret={"usercode": "u"})
    resp = client_in.post(reverse("dashboard:integration", args=[store.pk, "cod_confirm"]), _valid_settings_post(
        step1_channel="call", step1_connection=connection.pk, step1_delay="0", step1_window="10",
        step2_channel="sms", step2_connection=netgsm.pk, step2_delay="45", step2_window="120"))
    assert resp.status_code == 302, resp.content.decode()[:3000]
    integ = Integration.objects.get(store=store, kind="cod_confirm")
    assert [(s.channel, s.connection_id, s.delay_minutes, s.window_minutes) for s in plan.steps(integ)] == [
        ("call", connection.pk, 0, 10), ("sms", netgsm.pk, 45, 120)]
    assert integ.connection_id is None
    assert AuditEntry.objects.filter(action="cod_confirm.channel_plan").exists()
    page = client_in.get(reverse("dashboard:store", args=[store.pk])).content.decode()
    assert "Call (Verimor) → SMS (Netgsm)" in page


def test_cod_confirm_settings_refuse_a_step_its_connection_cannot_carry(client_in, store, connection):
    from ocbridge.core.models import Connection, Integration
    from ocbridge.integrations.cod_confirm.models import ChannelStep

    ozon = Connection.objects.create(store=store, service="ozon", name="Ozon")
    resp = client_in.post(reverse("dashboard:integration", args=[store.pk, "cod_confirm"]), _valid_settings_post(
        step1_channel="call", step1_connection=ozon.pk))
    assert resp.status_code == 200 and not Integration.objects.filter(kind="cod_confirm").exists()
    assert not ChannelStep.objects.exists()
