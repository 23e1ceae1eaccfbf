"""Despatch sync state per Integration. Per-order and per-SKU state lives on core Binding rows (kinds below)."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from ocbridge.core.models import Integration

# Binding kinds: local_id → external_id
ORDER = "despatch.order"  # OpenCart order_id → DC order id (or "pending:<channel_order_id>" while creating)
ITEM = "despatch.item"  # SKU → DC inventory id; local_hash = shop quantity, remote_hash = DC quantity, as last synced


class OrderState(models.TextChoices):
    CREATING = "creating", _("Sending to Despatch Cloud")
    CREATED = "created", _("In Despatch Cloud")
    REFUSED = "refused", _("Refused by Despatch Cloud")
    HELD = "held", _("On hold in Despatch Cloud")
    CANCELLED = "cancelled", _("Cancelled in Despatch Cloud by the shop")
    TOO_LATE = "too_late", _("Not ready any more, but Despatch Cloud is already picking it")
    DESPATCHED = "despatched", _("Despatched")
    DC_CANCELLED = "dc_cancelled", _("Cancelled by Despatch Cloud")


class SyncState(models.Model):
    """DC read window and stock status of one despatch Integration (shown on the dashboard). Its place in the
    shop's order history is its opencart.FeedCursor (the shared feed)."""

    integration = models.OneToOneField(Integration, on_delete=models.CASCADE, related_name="despatch_state")
    orders_until = models.DateTimeField(null=True, blank=True, help_text="end of the last DC order window read")
    last_orders_at = models.DateTimeField(null=True, blank=True)
    last_stock_at = models.DateTimeField(null=True, blank=True)
    stock = models.JSONField(default=dict, blank=True, help_text="last stock run: counts and unknown SKUs")
    stock_full = models.JSONField(default=dict, blank=True,
                                  help_text="last nightly full stock check: day (store time), at, read, corrected")

    def __str__(self) -> str:
        return f"despatch state of {self.integration}"

    @classmethod
    def of(cls, integration: Integration) -> SyncState:
        return cls.objects.get_or_create(integration=integration)[0]

    def touch(self, **fields) -> None:
        SyncState.objects.filter(pk=self.pk).update(**fields)
        for k, v in fields.items():
            setattr(self, k, v)
