"""Despatch and Ozon read order_history with their own watermark before the shared feed: the upgrade turns that
watermark into each integration's FeedCursor, so the first shared poll hands over every row after it."""

import pytest


@pytest.mark.django_db(transaction=True)
def test_upgrade_turns_each_own_watermark_into_the_feed_cursor():
    from django.db import connection
    from django.db.migrations.executor import MigrationExecutor

    before = [("despatch", "0001_initial"), ("ozon", "0003_returns_watermark"), ("opencart", "0004_feed_cursor"),
              ("core", "0006_store_database_fields")]
    executor = MigrationExecutor(connection)
    executor.migrate(before)
    apps = executor.loader.project_state(before).apps
    Store, Integration = apps.get_model("core", "Store"), apps.get_model("core", "Integration")
    PollState = apps.get_model("opencart", "PollState")
    store = Store.objects.create(name="A", db_key="k1", table_prefix="oc_")
    blank = Store.objects.create(name="No identity", db_key="", table_prefix="oc_")
    dc = Integration.objects.create(store=store, kind="despatch")
    oz = Integration.objects.create(store=store, kind="ozon")
    fresh = Integration.objects.create(store=blank, kind="ozon")
    PollState.objects.create(store_db_key="k1", last_order_id=480, last_history_id=95, updated="2026-12-01T00:00Z")
    apps.get_model("despatch", "SyncState").objects.create(integration=dc, last_history_id=70)
    apps.get_model("ozon", "SyncState").objects.create(integration=oz, last_history_id=88)
    apps.get_model("ozon", "SyncState").objects.create(integration=fresh, last_history_id=5)

    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(executor.loader.graph.leaf_nodes())

    from ocbridge.opencart.models import FeedCursor

    rows = {(c.integration_id, c.shop_key): (c.last_history_id, c.last_order_id, c.off)
            for c in FeedCursor.objects.all()}
    assert rows == {(dc.pk, "k1"): (70, 480, False), (oz.pk, "k1"): (88, 480, False)}
