"""Test calls and SMS cost the shop money and reach any number: the store's owner sets the store's limit on its
form, never above the hub's maximum (OCBRIDGE_TEST_SENDS_MAX_PER_HOUR), and the limit holds against the Sandbox
simulator; the administrator's ceiling wins over a store's number."""

import pytest
from django.urls import reverse
from testkit import cod_integration

from ocbridge.core.models import AuditEntry, Connection, Job, Store
from ocbridge.simulators.sandbox import SandboxSimulator

pytestmark = pytest.mark.django_db


@pytest.fixture
def store(db):
    return Store.objects.create(name="Demo Shop", version="3.0", api_url="https://shop.example.com/",
                                api_username="hub", db_host="db.example.com", db_user="oc", db_name="oc")


@pytest.fixture
def sandbox_integ(store):
    from ocbridge.integrations.cod_confirm.config import CodConfirmConfig

    sim = SandboxSimulator(token="tok-good-1234", speed=1000, seed=3)
    sim.start()
    conn = Connection.objects.create(store=store, service="sandbox", base_url=sim.base_url,
                                     secret={"token": "tok-good-1234", "webhook_secret": "sandbox-webhook-secret"})
    yield cod_integration(store, conn, settings=CodConfirmConfig(sms_sender="DEMO").to_settings())
    sim.stop()


def _url(store):
    return reverse("dashboard:integration-test", args=[store.pk, "cod_confirm"])


def _store_form(store, **changes) -> dict:
    """The store form as the page fills it (every field the form has now), with these changes."""
    from ocbridge.dashboard.forms import StoreForm

    form = StoreForm(instance=store)
    data = {}
    for name in form.fields:
        value = form[name].value()
        if value is True:
            data[name] = "on"
        elif value is not None and value is not False:  # 0 is a value (store id 0)
            data[name] = value
    return {**data, **changes}


def test_the_owner_sets_the_stores_test_send_limit_up_to_the_hubs_maximum(store, sandbox_integ, settings):
    """An owner of the store (not a superuser) lowers the limit to 2 on the store's form; above the hub's maximum
    (OCBRIDGE_TEST_SENDS_MAX_PER_HOUR) the form refuses and names it; the change is audited."""
    from django.contrib.auth.models import User
    from django.test import Client

    from ocbridge.core.models import StoreMember

    settings.TEST_SENDS_PER_HOUR, settings.TEST_SENDS_MAX_PER_HOUR = 5, 8
    owner = User.objects.create_user("shopowner", password="pw")
    StoreMember.objects.create(store=store, user=owner, role="owner")
    c = Client()
    c.force_login(owner)
    edit = reverse("dashboard:store-edit", args=[store.pk])
    resp = c.post(edit, _store_form(store, test_sends_per_hour=9))
    assert resp.status_code == 200 and "At most 8 on this hub" in resp.content.decode()
    assert Store.objects.get(pk=store.pk).test_sends_per_hour is None
    resp = c.post(edit, _store_form(store, test_sends_per_hour=2))
    assert resp.status_code == 302, resp.context["form"].errors
    assert AuditEntry.objects.get(action="store.update").data["changed"] == ["test_sends_per_hour"]
    for _ in range(2):
        assert c.post(_url(store), {"test-phone": "0532 123 45 67", "test-channel": "sms"}).status_code == 302
    resp = c.post(_url(store), {"test-phone": "0532 123 45 67", "test-channel": "sms"})
    assert resp.status_code == 400 and "At most 2 test calls and SMS an hour" in resp.content.decode()
    settings.TEST_SENDS_MAX_PER_HOUR = 1  # the administrator lowers the ceiling: it wins over the store's 2
    Job.objects.all().delete()
    AuditEntry.objects.all().delete()
    assert c.post(_url(store), {"test-phone": "0532 123 45 67", "test-channel": "sms"}).status_code == 302
    assert c.post(_url(store), {"test-phone": "0532 123 45 67", "test-channel": "sms"}).status_code == 400
