"""Despatch Cloud pages: the fulfilment list shows DC's message with a retry, tracking links and stock status in
tr/ru/en; the settings form refuses what cannot work."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User

from ocbridge.core.models import Binding, Connection, Integration, Job, Store
from ocbridge.integrations.despatch import jobs, models as m
from ocbridge.integrations.despatch.forms import DespatchSettingsForm

pytestmark = pytest.mark.django_db


@pytest.fixture
def client_logged_in(client):
    client.force_login(User.objects.create_user("admin", password="x", is_staff=True, is_superuser=True))
    return client


@pytest.fixture
def integ():
    store = Store.objects.create(name="UK")
    conn = Connection.objects.create(store=store, service="despatch", base_url="https://acme.despatchcloud.co.uk",
                                     secret={"email": "a@b.c", "password": "p"})
    Binding.objects.create(connection=conn, kind=m.ORDER, local_id="7", external_id="pending:UK-7",
                           data={"state": "refused", "message": "Error executing statement: Column 'shipping_address_postcode' cannot be null"})
    Binding.objects.create(connection=conn, kind=m.ORDER, local_id="8", external_id="1002",
                           data={"state": "despatched", "tracking": ["RM1"], "tracking_url": "https://track.example/RM1",
                                 "courier": "Royal Mail"})
    integration = Integration.objects.create(store=store, kind="despatch", connection=conn, settings={})
    m.SyncState.of(integration).touch(stock={"read": 3, "changed": 1, "written": 1, "unknown": ["ZZ-9"], "unknown_count": 1})
    return integration


@pytest.mark.parametrize("lang,word", [("en", b"Refused by Despatch Cloud"), ("tr", "Despatch Cloud reddetti".encode()),
                                       ("ru", "Отклонён Despatch Cloud".encode())])
def test_fulfilment_list_in_each_language(client_logged_in, integ, lang, word):
    client_logged_in.cookies["django_language"] = lang
    page = client_logged_in.get(f"/despatch/{integ.pk}/", HTTP_ACCEPT_LANGUAGE=lang)
    assert page.status_code == 200
    assert word in page.content and b"shipping_address_postcode" in page.content
    assert b'href="https://track.example/RM1"' in page.content and b"ZZ-9" in page.content


def test_retry_queues_a_new_send(client_logged_in, integ):
    resp = client_logged_in.post(f"/despatch/{integ.pk}/retry/7/")
    assert resp.status_code == 302
    job = Job.objects.get(kind=jobs.SendOrder.kind)
    assert job.payload == {"order_id": 7}
    assert Binding.objects.get(local_id="7").data["state"] == m.OrderState.CREATING


def test_settings_form_refuses_what_cannot_work(integ):
    form = DespatchSettingsForm.from_integration(integ, data={
        "ready_status_ids": "2, 3", "despatched_status_id": 3, "cancelled_status_id": 7, "not_ready_action": "hold",
        "stock_direction": "off", "sku_field": "sku", "order_prefix": "UK 1", "tracking_url": "http://x/{code}",
        "shipping_map": "flat"})
    assert not form.is_valid()
    assert set(form.errors) == {"despatched_status_id", "order_prefix", "tracking_url", "shipping_map"}


def test_stock_direction_must_agree_with_the_stores_stock_source(integ):
    data = {"ready_status_ids": "2", "despatched_status_id": 3, "cancelled_status_id": 7, "not_ready_action": "hold",
            "stock_direction": "dc_to_shop", "sku_field": "sku"}
    form = DespatchSettingsForm.from_integration(integ, data=data)  # the store keeps its own stock
    assert not form.is_valid() and "stock source" in form.errors["stock_direction"][0]
    integ.store.stock_source = "despatch"
    form = DespatchSettingsForm.from_integration(integ, data={**data, "stock_direction": "shop_to_dc"})
    assert not form.is_valid() and "Despatch Cloud is the store's stock source" in form.errors["stock_direction"][0]


def test_settings_form_saves_a_config(integ):
    integ.store.stock_source = "despatch"
    form = DespatchSettingsForm.from_integration(integ, data={
        "ready_status_ids": "2", "despatched_status_id": 3, "cancelled_status_id": 7, "not_ready_action": "cancel",
        "stock_direction": "dc_to_shop", "sku_field": "model", "order_prefix": "UK-",
        "tracking_url": "https://t.example/{code}", "shipping_map": "flat = Royal Mail 48"})
    assert form.is_valid(), form.errors
    form.save(integ)
    cfg = jobs.config_of(Integration.objects.get(pk=integ.pk))
    assert (cfg.order_prefix, cfg.shipping_map, cfg.stock_direction) == ("UK-", {"flat": "Royal Mail 48"}, "dc_to_shop")


def test_refused_orders_need_attention_with_a_link_to_retry(integ):
    from ocbridge.core.attention import needs_attention
    from ocbridge.core.models import Store

    items = [a for a in needs_attention(Store.objects.all()) if a.key == "despatch.refused"]
    assert [(a.count, a.orders) for a in items] == [(1, True)]
    assert items[0].link == f"/despatch/{integ.pk}/?state=refused"


def test_connection_test_logs_in_and_says_so(settings):
    from ocbridge.dashboard.checks import check_connection
    from ocbridge.simulators.despatch import DespatchSimulator

    settings.SIMULATOR_HOSTS = ["127.0.0.1"]
    with DespatchSimulator(email="a@b.c", password="good") as sim:
        store = Store.objects.create(name="T")
        conn = Connection.objects.create(store=store, service="despatch", base_url=sim.base_url,
                                         secret={"email": "a@b.c", "password": "good"})
        ok = check_connection(conn)
        conn.secret = {"email": "a@b.c", "password": "bad"}
        conn.save()
        from ocbridge.services import despatch as dc

        dc.forget_tokens()
        bad = check_connection(conn)
    assert ok.ok and "logged in" in ok.message
    assert not bad.ok and "password refused" in bad.message


def test_connection_test_refuses_a_host_outside_dcs_pattern():
    from ocbridge.dashboard.checks import check_connection

    store = Store.objects.create(name="T")
    conn = Connection.objects.create(store=store, service="despatch", base_url="https://evil.example.com",
                                     secret={"email": "a@b.c", "password": "p"})
    result = check_connection(conn)
    assert not result.ok and "despatchcloud.co.uk" in result.message


def test_connection_test_says_never_reached_not_refused_for_a_dead_host(client_logged_in, integ, settings):
    """A refused TCP connection is not Despatch Cloud refusing us: the page says which (core.errors.never_reached)."""
    from ocbridge.testbed.process import free_port

    settings.SIMULATOR_HOSTS = ["127.0.0.1"]
    conn = integ.connection
    conn.base_url = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    conn.save()
    r = client_logged_in.post(f"/despatch/{integ.pk}/test/", follow=True)
    text = r.content.decode()
    assert "Despatch Cloud could not be reached" in text and "Despatch Cloud refused" not in text
