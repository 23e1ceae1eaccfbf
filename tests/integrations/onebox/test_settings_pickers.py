"""The OneBox settings' mapping as pickers: OpenCart statuses and customer groups read from the shop (MariaDB 3.0
and 4.0), OneBox's statuses per business process and contact groups read from OneBox (the simulator over HTTP);
stored as the typed maps were, with clear errors; typed ids when OneBox cannot be read."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa
from django.contrib.auth.models import User
from django.urls import reverse
from django.utils import translation

from ocbridge.core.models import Integration
from ocbridge.integrations.onebox import jobs, lists
from ocbridge.integrations.onebox.forms import OneBoxSettingsForm
from ocbridge.simulators.onebox import OneBoxSimulator

from integrations.onebox.conftest import LOGIN, PASSWORD

pytestmark = pytest.mark.django_db


@pytest.fixture
def sim():
    with OneBoxSimulator(login=LOGIN, password=PASSWORD, workflows={
            "Orders": ["New", "Confirmed", "Shipped", "Done", "Cancelled"], "Projects": ["Open", "Closed"]}) as s:
        yield s


def post_data(form, **changes) -> dict:
    """What the browser sends back for the form as shown, with the owner's changes."""
    data = {}
    for name, field in form.fields.items():
        value = form[name].value()
        if value in (None, False):
            continue
        data[name] = value
    return {**data, **changes}


def test_statuses_and_groups_are_picked_from_both_sides_and_stored_as_before(shop, sim, integration):
    with shop.engine.begin() as conn:
        conn.execute(sa.insert(shop.t("customer_group")).values(customer_group_id=2, approval=0, sort_order=2))
        conn.execute(sa.insert(shop.t("customer_group_description")), [
            {"customer_group_id": 2, "language_id": lid, "name": "Wholesale", "description": ""} for lid in (1, 2, 3)])
    vip = sim.add("contactgroup", name="VIP")
    form = OneBoxSettingsForm.from_integration(integration)
    assert "status_map" not in form.fields and "group_map" not in form.fields and not form.notices
    pending = form.fields["status_1"]
    assert pending.label == "OpenCart status: Pending (1)"
    assert ("Orders", [(sim.status_id("New"), f"New ({sim.status_id('New')})"),
                       (sim.status_id("Confirmed"), f"Confirmed ({sim.status_id('Confirmed')})"),
                       (sim.status_id("Shipped"), f"Shipped ({sim.status_id('Shipped')})"),
                       (sim.status_id("Done"), f"Done ({sim.status_id('Done')})"),
                       (sim.status_id("Cancelled"), f"Cancelled ({sim.status_id('Cancelled')})")]) in pending.choices
    assert form["status_2"].value() == sim.status_id("Confirmed")  # the saved map, as picked
    assert (vip["id"], f"VIP ({vip['id']})") in form.fields["group_2"].choices
    assert list(form.fields).index("status_1") == list(form.fields).index("workflow_id") + 1
    data = post_data(form, status_2=str(sim.status_id("Shipped")), status_7="0", group_2=str(vip["id"]))
    bound = OneBoxSettingsForm.from_integration(integration, data=data)
    assert bound.is_valid(), bound.errors
    bound.save(integration)
    cfg = jobs.config_of(Integration.objects.get(pk=integration.pk))
    assert cfg.statuses() == {1: sim.status_id("New"), 2: sim.status_id("Shipped"), 3: sim.status_id("Shipped"),
                              5: sim.status_id("Done")}
    assert cfg.group_map == {"2": vip["id"]}
    other = sim.status_id("Open", "Projects")
    bad = OneBoxSettingsForm.from_integration(integration, data={**data, "status_5": str(other), "group_1": "999"})
    assert not bad.is_valid()
    assert bad.errors["status_5"] == [f"Open ({other}) is a status of another business process than the one "
                                      "chosen for orders."]
    assert bad.errors["group_1"] == ["Select a valid choice. 999 is not one of the available choices."]


def test_a_saved_id_onebox_no_longer_lists_is_shown_and_refused_on_save(shop, sim, integration):
    integration.settings = {**integration.settings, "status_map": {"1": {"1": 777}}, "group_map": {"1": 888}}
    integration.save()
    form = OneBoxSettingsForm.from_integration(integration)
    assert (777, "777 — OneBox does not list it now") in form.fields["status_1"].choices
    assert (888, "888 — OneBox does not list it now") in form.fields["group_1"].choices
    bound = OneBoxSettingsForm.from_integration(integration, data=post_data(form))
    assert not bound.is_valid()
    assert bound.errors["status_1"] == ["OneBox does not list status 777 now: pick another, or not synced."]
    assert bound.errors["group_1"] == ["OneBox does not list contact group 888 now: pick another, or not paired."]


def test_onebox_unreachable_keeps_the_typed_maps_or_the_last_lists(shop, sim, integration, monkeypatch):
    sim.fail_next("500", path="/api/v2/workflow/get/")
    form = OneBoxSettingsForm.from_integration(integration)
    assert "status_map" in form.fields and "group_map" in form.fields  # never read: typed, and why
    [why] = form.notices
    assert why.startswith("OneBox refused: ") and why.endswith(" — type the ids below.")
    assert form["status_map"].value().splitlines()[0] == f"1 = {sim.status_id('New')}"
    bound = OneBoxSettingsForm.from_integration(integration, data=post_data(form, status_map="2 = x"))
    assert not bound.is_valid() and bound.errors["status_map"] == ["Line 1: write OpenCart status id = OneBox status id."]
    assert "status_1" in OneBoxSettingsForm.from_integration(integration).fields  # read now, and kept
    sim.stop()
    monkeypatch.setattr(lists, "MAX_AGE", timedelta(0))  # the next page asks OneBox again
    form = OneBoxSettingsForm.from_integration(integration)
    assert "status_1" in form.fields
    [why] = form.notices
    assert why.startswith("OneBox could not be reached: ") and "— the lists OneBox gave at " in why


@pytest.mark.parametrize("lang,word", [("en", "OpenCart status: Pending (1)"), ("tr", "OpenCart durumu"),
                                       ("ru", "Статус OpenCart")])
def test_the_settings_page_shows_the_pickers_in_each_language(client, shop, sim, integration, lang, word):
    client.force_login(User.objects.create_user("owner", password="x", is_staff=True, is_superuser=True))
    client.cookies["django_language"] = lang
    page = client.get(reverse("dashboard:integration", args=[shop.store.pk, "onebox"]),
                      HTTP_ACCEPT_LANGUAGE=lang).content.decode()
    assert word in page and '<optgroup label="Orders">' in page


def test_a_page_sent_with_one_kind_of_map_is_saved_as_that_kind_and_nothing_is_wiped(shop, sim, integration):
    saved = dict(integration.settings["status_map"]["1"])
    picked = OneBoxSettingsForm.from_integration(integration)  # pickers shown
    typed = post_data(picked, status_map="2 = 13")  # …but this page was the typed one (OneBox was down then)
    typed = {k: v for k, v in typed.items() if not k.startswith("status_") or k in ("status_map", "status_rule")}
    form = OneBoxSettingsForm.from_integration(integration, data=typed)
    assert form.is_valid(), form.errors
    form.save(integration)
    assert jobs.config_of(Integration.objects.get(pk=integration.pk)).statuses() == {2: 13}
    integration.settings = {**integration.settings, "status_map": {"1": saved}}
    integration.save()
    # the picker page was sent while the shop cannot be read: the pickers are not rebuilt, the map is kept
    shop.store.db_url = "mysql+pymysql://root@127.0.0.1:1/nowhere"
    shop.store.save()
    integration.refresh_from_db()
    form = OneBoxSettingsForm.from_integration(integration, data=post_data(picked))
    assert not form.status_pickers and "The shop could not be read" in form.notices[0]
    assert form.is_valid(), form.errors
    form.save(integration)
    assert jobs.config_of(Integration.objects.get(pk=integration.pk)).status_map["1"] == saved


@pytest.mark.parametrize("lang,said", [
    ("tr", "OneBox'a ulaşılamadı: bağlantı reddedildi: bu ana bilgisayar ve bağlantı noktasında dinleyen bir şey yok ("),
    ("ru", "в соединении отказано: на этом хосте и порту ничего не слушает ("),
])
def test_onebox_unreachable_is_said_in_the_readers_language(shop, sim, integration, lang, said):
    """The notice's own words — which network failure it was (core.http says it as a Sentence) — are in the
    reader's language, not only its frame."""
    sim.stop()  # nothing listens on its port now
    with translation.override(lang):
        form = OneBoxSettingsForm.from_integration(integration)
        [why] = form.notices
    assert said in why, why
