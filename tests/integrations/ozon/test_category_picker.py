"""The Ozon settings and mapping pick OpenCart categories by their path in the store's language, not by raw id
(MariaDB 3.0 and 4.0 shop)."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User

from ocbridge.integrations.ozon.forms import CategoryMapForm, OzonSettingsForm
from ocbridge.opencart import reference

pytestmark = pytest.mark.django_db
NAMES = {20: ("Phones", "Telefonlar", "Телефоны"), 21: ("Android phones", "Android telefonlar", "Android-смартфоны"),
         30: ("Cases", "Kılıflar", "Чехлы")}


@pytest.fixture
def named(shop):
    store, engine, md = shop
    t = md.tables
    with engine.begin() as c:
        reference.insert_rows(c, t["oc_category"], [{"category_id": 21, "parent_id": 20, "status": 1}])
        reference.insert_rows(c, t["oc_category_description"], [
            {"category_id": cid, "language_id": lang, "name": names[lang - 1]}
            for cid, names in NAMES.items() for lang in (1, 2, 3)])
    store.language = "ru"
    store.save(update_fields=["language"])
    return store


def test_settings_offer_the_shops_categories_by_path_in_the_stores_language(integration, named):
    form = OzonSettingsForm.from_integration(integration)
    choices = dict(form.fields["category_ids"].choices)
    assert choices[21] == "Телефоны › Android-смартфоны (21)" and choices[30] == "Чехлы (30)"
    assert list(choices) == [20, 21, 30]  # by path: a parent, then its children


def test_mapping_picks_a_category_by_name_and_lists_mappings_by_name(client, integration, named):
    user = User.objects.create_user("admin", password="x", is_staff=True, is_superuser=True)
    client.force_login(user)
    page = client.get(f"/ozon/{integration.pk}/mapping/").content.decode()
    assert "Телефоны (20)" in page  # the fixture's mapping of category 20, by its name
    assert 'value="21">Телефоны › Android-смартфоны (21)<' in page
    form = CategoryMapForm({"oc_category_id": "999", "ozon_category": "17028922:94765"},
                           leaves=[{"description_category_id": 17028922, "type_id": 94765, "label": "Phones"}],
                           categories=[(21, "Телефоны › Android-смартфоны")])
    assert not form.is_valid() and "oc_category_id" in form.errors  # a category the shop does not have
