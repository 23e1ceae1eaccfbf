"""Ozon dashboard pages render with real rows; mapping form saves into the Integration settings."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User

from ocbridge.core.models import Binding, Connection, Integration, Store
from ocbridge.integrations.ozon import models as m

pytestmark = pytest.mark.django_db


@pytest.fixture
def client_logged_in(client):
    user = User.objects.create_user("admin", password="x", is_staff=True, is_superuser=True)
    client.force_login(user)
    return client


@pytest.fixture
def integ():
    store = Store.objects.create(name="S")
    conn = Connection.objects.create(store=store, service="ozon", secret={"client_id": "1", "api_key": "k"})
    Binding.objects.create(connection=conn, kind=m.PRODUCT, local_id="1", external_id="M1",
                           data={"status": "failed", "errors": ["brand_mismatch: wrong brand"], "name": "Phone"})
    Binding.objects.create(connection=conn, kind=m.POSTING, local_id="5", external_id="0001-1",
                           data={"status": "delivering", "warnings": ["unknown offer_id 'X'"],
                                 "status_out": {"cancel": {"state": "refused", "detail": "posting is delivering"}}})
    m.CatalogCache.objects.create(connection=conn, kind="tree", key="", data=[
        {"description_category_id": 10, "category_name": "Phones", "children": [{"type_id": 11, "type_name": "Smartphone"}]}])
    return Integration.objects.create(store=store, kind="ozon", connection=conn, settings={})


def test_pages_show_products_orders_and_errors(client_logged_in, integ):
    overview = client_logged_in.get(f"/ozon/{integ.pk}/")
    assert overview.status_code == 200 and b'id="orders-total">1<' in overview.content
    products = client_logged_in.get(f"/ozon/{integ.pk}/products/?status=failed")
    assert b"wrong brand" in products.content
    orders = client_logged_in.get(f"/ozon/{integ.pk}/orders/").content
    assert b"unknown offer_id" in orders and b"cancel: refused" in orders


def test_status_page_shows_the_daily_quota(client_logged_in, integ):
    m.SyncState.objects.create(integration=integ, quota={
        "daily_create": {"limit": 1500, "usage": 1499, "reset_at": "2025-06-02T00:00:00Z"},
        "daily_update": {"limit": 5000, "usage": 10, "reset_at": ""}, "total": {"limit": 20000, "usage": 30},
        "checked_at": "2025-06-01T10:00:00+00:00", "planned": 300, "held": 299})
    page = client_logged_in.get(f"/ozon/{integ.pk}/").content.decode()
    assert 'data-quota="create">1499 / 1500<' in page and "299 cards wait" in page


def test_category_mapping_saved_from_cached_tree(client_logged_in, integ):
    page = client_logged_in.get(f"/ozon/{integ.pk}/mapping/?q=smart")
    assert b"Phones / Smartphone" in page.content
    client_logged_in.post(f"/ozon/{integ.pk}/mapping/", {"action": "category", "oc_category_id": "20", "ozon_category": "10:11"})
    integ.refresh_from_db()
    assert integ.settings["category_map"] == {"20": {"description_category_id": 10, "type_id": 11}}


def _form_data(integ, **over) -> dict:
    from ocbridge.integrations.ozon.forms import OzonSettingsForm

    form = OzonSettingsForm.from_integration(integ)
    data = {}
    for name, field in form.fields.items():
        value = form.initial.get(name, field.initial)
        if isinstance(value, bool):
            if value:
                data[name] = "on"
        elif value is not None:
            data[name] = value
    data.update(over)
    return data


def test_settings_form_saves_rfbs_steps_returns_filters_and_owned_prices(integ):
    from ocbridge.integrations.ozon.config import OzonConfig
    from ocbridge.integrations.ozon.forms import OzonSettingsForm

    data = _form_data(integ, delivering_status_ids="3", last_mile_status_ids="15, 16", delivered_status_ids="5",
                      tracking_pattern=r"track\W*([A-Z0-9]+)", return_status_id="11", orders_every_seconds="60",
                      orders_statuses="awaiting_packaging, awaiting_deliver", orders_warehouse_ids="7",
                      ozon_owned_offer_ids="M1, M2\nM3", conflict_rule="service", warehouse_ids="7")
    form = OzonSettingsForm.from_integration(integ, data)
    assert form.is_valid(), form.errors
    form.save(integ)
    cfg = OzonConfig.from_settings(Integration.objects.get(pk=integ.pk).settings)
    assert (cfg.last_mile_status_ids, cfg.ozon_owned_offer_ids, cfg.conflict_rule) == ([15, 16], ["M1", "M2", "M3"],
                                                                                       "service")
    assert (cfg.orders_statuses, cfg.orders_warehouse_ids, cfg.tracking_pattern) == (
        ["awaiting_packaging", "awaiting_deliver"], [7], r"track\W*([A-Z0-9]+)")
    bad = OzonSettingsForm.from_integration(integ, {**data, "tracking_pattern": "track(", "orders_statuses": "Новый"})
    assert not bad.is_valid() and {"tracking_pattern", "orders_statuses"} <= set(bad.errors)


def test_cancel_reason_is_chosen_from_ozons_cached_list_in_the_readers_language(integ):
    from django.utils import translation

    from ocbridge.integrations.ozon.forms import OzonSettingsForm

    m.CatalogCache.objects.create(connection=integ.connection, kind="cancel_reasons", key="", data=[
        {"id": 352, "title": "Товар закончился на складе продавца", "type_id": "seller", "is_available_for_cancellation": True},
        {"id": 401, "title": "Продавец отклонил арбитраж", "type_id": "seller", "is_available_for_cancellation": False},
        {"id": 402, "title": "Другое (вина продавца)", "type_id": "seller", "is_available_for_cancellation": True},
        {"id": 900, "title": "Новая причина", "type_id": "seller", "is_available_for_cancellation": True}])
    with translation.override("tr"):
        choices = dict(OzonSettingsForm.from_integration(integ).fields["cancel_reason_id"].choices)
    assert set(choices) == {352, 402, 900}  # 401 is not available to sellers
    assert "Satıcının deposunda stok kalmadı" in str(choices[352]) and "Новая причина" in str(choices[900])
    data = _form_data(integ, cancel_reason_id="401", warehouse_ids="7")
    assert "cancel_reason_id" in OzonSettingsForm.from_integration(integ, data).errors


def test_tracking_number_typed_in_the_hub_is_kept_audited_and_validated(client_logged_in, integ):
    from ocbridge.core.models import AuditEntry

    b = Binding.objects.get(kind=m.POSTING)
    url = f"/ozon/{integ.pk}/orders/{b.pk}/tracking/"
    client_logged_in.post(url, {"tracking_number": "RU 123; DROP"})
    assert "tracking_typed" not in Binding.objects.get(pk=b.pk).data
    client_logged_in.post(url, {"tracking_number": "RU123456789"})
    assert Binding.objects.get(pk=b.pk).data["tracking_typed"] == "RU123456789"
    assert AuditEntry.objects.get(action="ozon.tracking").object_id == "0001-1"
    page = client_logged_in.get(f"/ozon/{integ.pk}/orders/").content.decode()
    assert 'value="RU123456789"' in page
