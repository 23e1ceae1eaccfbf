"""OneBox pages: sync status per kind with failed records, OneBox's reason and Retry, first-load progress with
its time estimate, the mapping and conflicts, in tr/ru/en; the settings form refuses what cannot work; the
connection test."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User

from ocbridge.core import clock
from ocbridge.core.models import Binding, Connection, Integration, Job, Store
from ocbridge.integrations.onebox import jobs, models as m
from ocbridge.integrations.onebox.forms import OneBoxSettingsForm

pytestmark = pytest.mark.django_db


@pytest.fixture
def client_logged_in(client):
    client.force_login(User.objects.create_user("admin", password="x", is_staff=True, is_superuser=True))
    return client


@pytest.fixture
def integ():
    store = Store.objects.create(name="Box")
    conn = Connection.objects.create(store=store, service="onebox", base_url="https://acme.1b.app",
                                     secret={"login": "api", "password": "p"})
    Binding.objects.create(connection=conn, kind=m.ORDER, local_id="7", external_id="pending:onebox.order:7",
                           data={"state": m.FAILED, "error": "clientphone: wrong format"})
    Binding.objects.create(connection=conn, kind=m.PRODUCT, local_id="3", external_id="903", data={"state": m.OK})
    integration = Integration.objects.create(store=store, kind="onebox", connection=conn, settings={
        "workflow_id": 1, "status_map": {"1": {"2": 12}}})
    m.SyncState.of(integration).touch(loads={"order": {"after": 40, "done": 40, "total": 100, "rate": 2.0,
                                                       "started": clock.now().isoformat(), "finished": ""}})
    m.Conflict.objects.create(integration=integration, kind="status", local_id="9", rule="shop", winner="remote",
                              lost={"shop": 5, "onebox": 15}, created=clock.now())
    return integration


@pytest.mark.parametrize("lang,word", [("en", "Records that could not be synced"),
                                       ("tr", "Eşitlenemeyen kayıtlar"), ("ru", "Записи, которые не удалось")])
def test_sync_page_in_each_language(client_logged_in, integ, lang, word):
    client_logged_in.cookies["django_language"] = lang
    text = client_logged_in.get(f"/onebox/{integ.pk}/", HTTP_ACCEPT_LANGUAGE=lang).content.decode()
    assert word in text and "clientphone: wrong format" in text
    assert "40 / 100" in text and "30" in text  # 60 orders left at 2 a second: about 30 s
    assert "12" in text and "&#x27;onebox&#x27;: 15" in text  # the mapping row and the conflict's lost value


def test_progress_gives_an_honest_estimate(integ):
    p = jobs.progress(integ, "order")
    assert (p["percent"], p["eta_seconds"]) == (40, 30)
    assert jobs.progress(integ, "product")["eta_seconds"] is None  # not started: nothing to promise


def test_retry_queues_a_new_attempt(client_logged_in, integ):
    resp = client_logged_in.post(f"/onebox/{integ.pk}/retry/{m.ORDER}/7/")
    assert resp.status_code == 302
    job = Job.objects.get(kind=jobs.SendOrder.kind)
    assert job.payload == {"order_id": 7}
    b = Binding.objects.get(kind=m.ORDER, local_id="7")
    assert b.data["state"] == "retrying" and b.data["attempt"] == 2


def test_retry_of_an_unknown_kind_is_404(client_logged_in, integ):
    assert client_logged_in.post(f"/onebox/{integ.pk}/retry/core.secret/7/").status_code == 404


def test_failed_records_need_attention(integ):
    from ocbridge.core.attention import needs_attention

    [item] = [a for a in needs_attention(Store.objects.all()) if a.key == "onebox.failed"]
    assert item.count == 1 and item.link == f"/onebox/{integ.pk}/#failed"


def test_settings_form_refuses_what_cannot_work(integ):
    form = OneBoxSettingsForm.from_integration(integ, data={
        "order_prefix": "UK 1", "status_map": "2 = x", "status_rule": "shop", "product_rule": "shop", "language_map": "1 = English",
        "contact_rule": "shop", "contact_group_rule": "shop", "flow_contact_group": "off",
        "group_map": "", **{f"flow_{k}": "out" for k in ("order", "history", "status", "category", "brand", "product",
                                                         "contact")}, "flow_order": "in"})
    assert not form.is_valid()
    assert set(form.errors) == {"order_prefix", "status_map", "language_map", "flow_order"}


def test_settings_form_saves_a_config(integ):
    form = OneBoxSettingsForm.from_integration(integ, data={
        "order_prefix": "EU", "workflow_id": 3, "status_map": "2 = 31\n5 = 35", "status_rule": "newest",
        "product_rule": "service", "contact_rule": "newest", "contact_group_rule": "service",
        "language_map": "1 = en\n2 = ru", "group_map": "1 = 44", "price_level": "Retail",
        **{f"flow_{k}": "out" for k in ("order", "history", "category", "brand", "product")},
        "flow_status": "both", "flow_contact": "both", "flow_contact_group": "in"})
    assert form.is_valid(), form.errors
    form.save(integ)
    cfg = jobs.config_of(Integration.objects.get(pk=integ.pk))
    assert (cfg.order_prefix, cfg.workflow_id, cfg.statuses(), cfg.rule("status")) == ("EU", 3, {2: 31, 5: 35}, "newest")
    assert cfg.status_map["1"] == {"2": 12}  # the other business process's map is kept
    assert (cfg.language_map, cfg.group_map, cfg.price_level) == ({"1": "en", "2": "ru"}, {"1": 44}, "Retail")
    assert (cfg.rule("contact"), cfg.rule("contact_group"), cfg.takes("contact"), cfg.sends("contact"),
            cfg.takes("contact_group")) == ("newest", "service", True, True, True)
    assert cfg.order_code(integ.store, 12) == "EU-12" and cfg.order_id_of(integ.store, "EU-12") == 12
    assert cfg.order_id_of(integ.store, "XX-12") is None


def test_connection_test_logs_in_and_says_so(settings):
    from ocbridge.dashboard.checks import check_connection
    from ocbridge.services import onebox as ob
    from ocbridge.simulators.onebox import OneBoxSimulator

    settings.SIMULATOR_HOSTS = ["127.0.0.1"]
    with OneBoxSimulator(login="api", password="good") as sim:
        conn = Connection.objects.create(store=Store.objects.create(name="T"), service="onebox", base_url=sim.base_url,
                                         secret={"login": "api", "password": "good"})
        ok = check_connection(conn)
        conn.secret = {"login": "api", "password": "bad"}
        conn.save()
        ob.forget_tokens()
        bad = check_connection(conn)
    assert ok.ok and "Orders" in ok.message
    assert not bad.ok and "refused" in bad.message


def test_connection_test_refuses_a_host_outside_oneboxs_patterns():
    from ocbridge.dashboard.checks import check_connection

    conn = Connection.objects.create(store=Store.objects.create(name="T"), service="onebox",
                                     base_url="https://evil.example.com", secret={"login": "a", "password": "p"})
    result = check_connection(conn)
    assert not result.ok and "1b.app" in result.message


def test_a_contact_the_shop_could_not_take_shows_why_in_the_readers_language_and_retry_reads_it_again(
        client_logged_in, integ):
    Binding.objects.create(connection=integ.connection, kind=m.CONTACT, local_id="onebox:55", external_id="55",
                           data={"state": m.FAILED, "reason": "same_email", "direction": "in",
                                 "params": {"email": "a@example.com", "other": "54", "customer": 5},
                                 "error": "Same e-mail (a@example.com) as OneBox contact 54, …"})
    client_logged_in.cookies["django_language"] = "ru"
    assert "Покупатели из OneBox" not in client_logged_in.get(f"/onebox/{integ.pk}/").content.decode()
    integ.settings = {**integ.settings, "flows": {"contact": "both", "category": "in"}}
    integ.save()
    page = client_logged_in.get(f"/onebox/{integ.pk}/", HTTP_ACCEPT_LANGUAGE="ru").content.decode()
    assert "Покупатели из OneBox" in page  # the load of the contacts OneBox had, offered once they come in
    assert "Категории из OneBox" in page and "Бренды из OneBox" not in page  # brands do not come in
    assert "Тот же e-mail (a@example.com), что у контакта OneBox 54, который в магазине — покупатель 5" in page
    assert client_logged_in.post(f"/onebox/{integ.pk}/retry/{m.CONTACT}/onebox:55/").status_code == 302
    job = Job.objects.get(kind="onebox.contact_in")
    assert job.payload["id"] == 55  # read from OneBox again, not sent to it
