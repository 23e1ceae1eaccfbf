"""Data migration step for an integration that read order_history with its own watermark before the shared feed:
its old position becomes its FeedCursor, so an upgraded hub hands it every row after it (none skipped, none twice)."""

from __future__ import annotations

from django.utils import timezone


def watermark_to_cursor(app_label: str):
    def forward(apps, schema_editor) -> None:
        State = apps.get_model(app_label, "SyncState")
        FeedCursor = apps.get_model("opencart", "FeedCursor")
        PollState = apps.get_model("opencart", "PollState")
        for s in State.objects.exclude(last_history_id=None).select_related("integration__store"):
            key = s.integration.store.db_key
            if not key:
                continue
            shop = PollState.objects.filter(store_db_key=key).first()
            FeedCursor.objects.get_or_create(integration_id=s.integration_id, shop_key=key, defaults={
                "last_history_id": s.last_history_id, "last_order_id": shop.last_order_id if shop else 0,
                "off": False, "updated": timezone.now()})

    return forward
