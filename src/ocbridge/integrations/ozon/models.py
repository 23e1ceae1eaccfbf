"""Ozon sync state per Integration, import tasks in flight, and the cached category tree/attributes/values.

Per-product and per-posting state lives on core Binding rows (kinds below); these models hold what a
Binding cannot: watermarks and counters, Ozon's async task ids, and large cached reference data.
"""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from ocbridge.core import clock
from ocbridge.core.models import Connection, Integration

# Binding kinds: local_id → external_id
PRODUCT = "ozon.product"  # OpenCart product_id → offer_id; data: status, errors, missing, task_id, ozon product_id
STOCK = "ozon.stock"  # "<product_id>:<warehouse>" → "<offer_id>:<warehouse>"; hash = last stock sent
PRICE = "ozon.price"  # product_id → offer_id; hash = "price|old_price"; data.times = updates in the last hour
OWNED_PRICE = "ozon.owned_price"  # product_id → offer_id of an Ozon-owned offer; local/remote hash = each side's price
IMPORTED = "ozon.imported"  # product_id made in the shop → offer_id of an Ozon-only card; data: images not copied
POSTING = "ozon.posting"  # OpenCart order_id (or "pending:<n>") → posting_number; data: status, warnings


class ProductStatus(models.TextChoices):
    MISSING = "missing", _("Missing data")
    PENDING = "pending", _("Sent, waiting for Ozon")
    IMPORTED = "imported", _("Imported")
    SKIPPED = "skipped", _("Unchanged at Ozon")
    FAILED = "failed", _("Failed at Ozon")


class SyncState(models.Model):
    """Watermarks, last runs and rate-limit counters of one ozon Integration (shown on the dashboard)."""

    integration = models.OneToOneField(Integration, on_delete=models.CASCADE, related_name="ozon_state")
    orders_watermark = models.DateTimeField(null=True, blank=True, help_text="end of the last posting window polled")
    last_products_at = models.DateTimeField(null=True, blank=True)
    last_stock_at = models.DateTimeField(null=True, blank=True)
    last_prices_at = models.DateTimeField(null=True, blank=True)
    last_orders_at = models.DateTimeField(null=True, blank=True)
    returns_watermark = models.DateTimeField(null=True, blank=True, help_text="end of the last returns window polled")
    rate_waits = models.PositiveIntegerField(default=0, help_text="times our own limiter made a call wait")
    rate_wait_seconds = models.FloatField(default=0.0)
    last_error = models.TextField(blank=True)
    quota = models.JSONField(default=dict, blank=True, help_text="last /v4/product/info/limit answer, checked_at, held")

    def __str__(self) -> str:
        return f"ozon state of {self.integration}"

    @classmethod
    def of(cls, integration: Integration) -> SyncState:
        return cls.objects.get_or_create(integration=integration)[0]

    def add_waits(self, client) -> None:
        """Fold a client's limiter counters in (atomic increments: several jobs may finish at once)."""
        if client.rate_waits:
            SyncState.objects.filter(pk=self.pk).update(rate_waits=models.F("rate_waits") + client.rate_waits,
                                                        rate_wait_seconds=models.F("rate_wait_seconds") + client.rate_wait_seconds)

    def touch(self, field: str) -> None:
        SyncState.objects.filter(pk=self.pk).update(**{field: clock.now()})


class ImportTask(models.Model):
    """One `/v3/product/import` batch and its Ozon task id, tracked until every item is imported or failed."""

    integration = models.ForeignKey(Integration, on_delete=models.CASCADE, related_name="ozon_tasks")
    task_id = models.BigIntegerField()
    offer_ids = models.JSONField(default=list)
    done = models.BooleanField(default=False)
    polls = models.PositiveIntegerField(default=0)
    counts = models.JSONField(default=dict, blank=True, help_text="status → number of items")
    created = models.DateTimeField(default=clock.now)
    finished = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        constraints = [models.UniqueConstraint(fields=["integration", "task_id"], name="ozon_task_once")]

    def __str__(self) -> str:
        return f"Ozon import task {self.task_id}"


class CatalogCache(models.Model):
    """Ozon reference data for one Connection: the category tree, a category's attributes, a dictionary."""

    connection = models.ForeignKey(Connection, on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=16)  # "tree", "attributes" (key "cat:type"), "values" (key "attr:cat:type")
    key = models.CharField(max_length=64, blank=True)
    data = models.JSONField(default=list)
    fetched_at = models.DateTimeField(default=clock.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["connection", "kind", "key"], name="ozon_cache_key")]

    def __str__(self) -> str:
        return f"{self.kind} {self.key}"
