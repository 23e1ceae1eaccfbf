"""One stock source per store (DESIGN): the store's setting, and integrations whose settings must agree with it."""

import pytest

from ocbridge.core.models import Integration
from ocbridge.dashboard.forms import StoreForm

from dashboard.test_dashboard_stores import STORE_FORM

pytestmark = pytest.mark.django_db


def form(store, source):
    return StoreForm(data={**STORE_FORM, "stock_source": source}, instance=store)


def test_a_source_needs_its_integration_on_the_store(store):
    f = form(store, "ozon")
    assert not f.is_valid() and "Add the Ozon marketplace integration" in f.errors["stock_source"][0]
    Integration.objects.create(store=store, kind="ozon", settings={})
    assert form(store, "ozon").is_valid()
    assert form(store, "shop").is_valid()


def test_the_store_cannot_stop_being_the_source_while_despatch_writes_its_stock(store):
    Integration.objects.create(store=store, kind="despatch", settings={"stock_direction": "dc_to_shop"})
    f = form(store, "shop")
    assert not f.is_valid() and "Despatch Cloud → shop stock needs" in f.errors["stock_source"][0]
    assert form(store, "despatch").is_valid()
    Integration.objects.filter(kind="despatch").update(settings={"stock_direction": "shop_to_dc"})
    f = form(store, "despatch")
    assert not f.is_valid() and "its stock goes to the shop" in f.errors["stock_source"][0]


def test_not_posting_the_field_keeps_the_source(store):
    store.stock_source = "despatch"
    f = StoreForm(data=STORE_FORM, instance=store)
    Integration.objects.create(store=store, kind="despatch", settings={"stock_direction": "dc_to_shop"})
    assert f.is_valid(), f.errors
    assert f.cleaned_data["stock_source"] == "despatch"


@pytest.mark.django_db(transaction=True)
def test_upgrade_makes_despatch_the_source_where_it_already_writes_the_shops_stock():
    from django.db import connection
    from django.db.migrations.executor import MigrationExecutor

    before = [("core", "0011_alerts_telegram")]
    executor = MigrationExecutor(connection)
    executor.migrate(before)
    apps = executor.loader.project_state(before).apps
    OldStore, OldIntegration = apps.get_model("core", "Store"), apps.get_model("core", "Integration")
    writes, reads = OldStore.objects.create(name="A"), OldStore.objects.create(name="B", oc_store_id=1)
    OldIntegration.objects.create(store=writes, kind="despatch", settings={"stock_direction": "dc_to_shop"})
    OldIntegration.objects.create(store=reads, kind="despatch", settings={"stock_direction": "shop_to_dc"})
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(executor.loader.graph.leaf_nodes())

    from ocbridge.core.models import Store

    assert Store.objects.get(pk=writes.pk).stock_source == "despatch"
    assert Store.objects.get(pk=reads.pk).stock_source == "shop"
