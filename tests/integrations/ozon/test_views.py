"""Ozon dashboard pages render with real rows; mapping form saves into the Integration settings."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User

from ocbridge.core.models import Binding, Connection, Integration, Store
from ocbridge.integrations.ozon import models as m

WH = 1020000000001  # the simulator's default warehouse

pytestmark = pytest.mark.django_db


@pytest.fixture
def client_logged_in(client):
    user = User.objects.create_user("admin", password="x", is_staff=True, is_superuser=True)
    client.force_login(user)
    return client


@pytest.fixture
def integ(sim):
    """An Ozon integration on the simulator; its store has no reachable shop (status fields stay ids)."""
    store = Store.objects.create(name="S")
    (client_id, api_key), = sim.accounts.items()
    conn = Connection.objects.create(store=store, service="ozon", base_url=sim.base_url,
                                     secret={"client_id": client_id, "api_key": api_key})
    Binding.objects.create(connection=conn, kind=m.PRODUCT, local_id="1", external_id="M1",
                           data={"status": "failed", "errors": ["brand_mismatch: wrong brand"], "name": "Phone"})
    Binding.objects.create(connection=conn, kind=m.POSTING, local_id="5", external_id="0001-1",
                           data={"status": "delivering", "warnings": ["unknown offer_id 'X'"],
                                 "status_out": {"cancel": {"state": "refused", "why": "not_allowed",
                                                           "posting_status": "delivering"}},
                                 "tracking_number": "RU1", "tracking_source": "comment",
                                 "returns": {"9": {"offer_id": "M1", "reason": "Не подошёл размер",
                                                   "status": "В пункте выдачи", "sys_name": "ArrivedAtReturnPlace"}}})
    m.CatalogCache.objects.create(connection=conn, kind="tree", key="", data=[
        {"description_category_id": 10, "category_name": "Phones", "children": [{"type_id": 11, "type_name": "Smartphone"}]}])
    return Integration.objects.create(store=store, kind="ozon", connection=conn, settings={})


def test_pages_show_products_orders_and_errors(client_logged_in, integ):
    overview = client_logged_in.get(f"/ozon/{integ.pk}/")
    assert overview.status_code == 200 and b'id="orders-total">1<' in overview.content
    products = client_logged_in.get(f"/ozon/{integ.pk}/products/?status=failed")
    assert b"wrong brand" in products.content
    orders = client_logged_in.get(f"/ozon/{integ.pk}/orders/").content
    assert b"unknown offer_id" in orders and b"Cancel: refused" in orders


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
                      orders_statuses="awaiting_packaging, awaiting_deliver", orders_warehouse_ids=[str(WH)],
                      ozon_owned_offer_ids="M1, M2\nM3", conflict_rule="service", warehouse_ids=[str(WH)])
    form = OzonSettingsForm.from_integration(integ, data)
    assert form.is_valid(), form.errors
    form.save(integ)
    cfg = OzonConfig.from_settings(Integration.objects.get(pk=integ.pk).settings)
    assert (cfg.last_mile_status_ids, cfg.ozon_owned_offer_ids, cfg.conflict_rule) == ([15, 16], ["M1", "M2", "M3"],
                                                                                       "service")
    assert (cfg.orders_statuses, cfg.orders_warehouse_ids, cfg.tracking_pattern) == (
        ["awaiting_packaging", "awaiting_deliver"], [WH], r"track\W*([A-Z0-9]+)")
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
    data = _form_data(integ, cancel_reason_id="401", warehouse_ids=[str(WH)])
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


def test_settings_offer_ozons_warehouses_asked_once_a_minute_and_refuse_unknown_ids(client_logged_in, integ, sim):
    """Warehouses come from /v2/warehouse/list (ozon.md §0: limit ≤ 200, at most one call a minute)."""
    url = f"/stores/{integ.store_id}/integrations/ozon/"
    page = client_logged_in.get(url).content.decode()
    assert f'value="{WH}"' in page and "Склад FBS" in page
    client_logged_in.get(url)  # a second look within the minute: served from the cache
    assert sim.calls().get("/v2/warehouse/list", 0) == 1

    from ocbridge.integrations.ozon.forms import OzonSettingsForm

    bad = OzonSettingsForm.from_integration(integ, _form_data(integ, warehouse_ids=["7"]))
    assert "warehouse_ids" in bad.errors  # Ozon does not list warehouse 7
    good = OzonSettingsForm.from_integration(integ, _form_data(integ, warehouse_ids=[str(WH)], stock_out="on"))
    assert good.is_valid(), good.errors
    good.save(integ)
    assert integ.settings["warehouse_ids"] == [WH]


@pytest.mark.parametrize("where, words", [
    ("dns", "the host name does not resolve (DNS)"),
    ("refused", "connection refused"),
    ("key", "Ozon refused: "),
])
def test_settings_say_why_ozon_is_unreachable_and_keep_the_saved_warehouses(integ, sim, where, words, settings):
    from ocbridge.core.http import NetworkError  # noqa: F401  (the client's error the form words)
    from ocbridge.integrations.ozon.forms import OzonSettingsForm

    integ.settings = {"warehouse_ids": [WH], "orders_warehouse_ids": [WH]}
    integ.save()
    conn = integ.connection
    if where == "dns":
        conn.base_url = "http://ozon-sim.invalid"  # RFC 2606: never resolves
        settings.SIMULATOR_HOSTS = [*settings.SIMULATOR_HOSTS, "ozon-sim.invalid"]  # allowed, yet not found
    elif where == "refused":
        conn.base_url = "http://127.0.0.1:9"  # discard port: nothing listens
    else:
        conn.secret = {**conn.secret, "api_key": "00000000-0000-4000-8000-0000000000bb"}
    conn.save()
    integ.refresh_from_db()
    form = OzonSettingsForm.from_integration(integ)
    assert any(words in str(n) for n in form.notices), form.notices
    if where != "key":
        assert any("Ozon could not be reached" in str(n) for n in form.notices)
    form = OzonSettingsForm.from_integration(integ, _form_data(integ, warehouse_ids="7", orders_warehouse_ids=""))
    assert form.is_valid(), form.errors
    form.save(integ)
    integ.refresh_from_db()
    assert (integ.settings["warehouse_ids"], integ.settings["orders_warehouse_ids"]) == ([WH], [WH])


def test_mapping_loads_ozons_category_tree_and_says_why_when_it_cannot(client_logged_in, integ, sim):
    """/v1/description-category/tree (ozon.md §4) is asked when the day-old cache is missing."""
    m.CatalogCache.objects.filter(connection=integ.connection, kind="tree").delete()
    page = client_logged_in.get(f"/ozon/{integ.pk}/mapping/").content.decode()
    assert sim.calls().get("/v1/description-category/tree", 0) == 1
    leaf = catalog_leaf(sim)
    assert leaf in page
    m.CatalogCache.objects.filter(connection=integ.connection, kind="tree").update(
        fetched_at=m.CatalogCache.objects.get(connection=integ.connection, kind="tree").fetched_at.replace(year=2000))
    integ.connection.base_url = "http://127.0.0.1:9"
    integ.connection.save()
    page = client_logged_in.get(f"/ozon/{integ.pk}/mapping/").content.decode()
    assert "Ozon could not be reached" in page and leaf in page  # the cached copy stays usable


def catalog_leaf(sim) -> str:
    from ocbridge.integrations.ozon import catalog

    return catalog.leaves(sim.tree)[0]["label"]


def test_ozon_states_are_shown_by_name_in_the_readers_language(client_logged_in, integ):
    from django.utils import translation

    with translation.override("ru"):
        products = client_logged_in.get(f"/ozon/{integ.pk}/products/", HTTP_ACCEPT_LANGUAGE="ru").content.decode()
        orders = client_logged_in.get(f"/ozon/{integ.pk}/orders/", HTTP_ACCEPT_LANGUAGE="ru").content.decode()
    assert "<td>failed</td>" not in products and "<td>delivering</td>" not in orders
    with translation.override("ru"):
        assert str(m.ProductStatus.FAILED.label) in products
        from ocbridge.integrations.ozon.labels import POSTING_STATES

        assert str(POSTING_STATES["delivering"]) in orders and str(POSTING_STATES["delivering"]) != "On its way"


def test_sent_to_ozon_returns_and_tracking_source_are_in_the_readers_language(client_logged_in, integ):
    from django.utils import translation

    from ocbridge.integrations.ozon import labels

    with translation.override("tr"):
        orders = client_logged_in.get(f"/ozon/{integ.pk}/orders/", HTTP_ACCEPT_LANGUAGE="tr").content.decode()
        expected = [str(labels.STATUS_OUT_ACTIONS["cancel"]), str(labels.STATUS_OUT_STATES["refused"]),
                    str(labels.RETURN_STATES["ArrivedAtReturnPlace"]), str(labels.TRACKING_SOURCES["comment"])]
    assert "cancel: refused" not in orders and "ArrivedAtReturnPlace" not in orders and "(comment)" not in orders
    assert all(text in orders for text in expected) and expected[0] != "Cancel"
