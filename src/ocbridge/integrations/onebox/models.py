"""OneBox sync state per Integration. Per-record state lives on core Binding rows (kinds below)."""

from __future__ import annotations

from django.db import models

from ocbridge.core.models import Integration

# Binding kinds: local_id (ours) → external_id (OneBox's id). local_hash / remote_hash: each side's content hash as
# of the last sync (core.bindings); data["state"] ok / failed / deleted, data["error"] OneBox's words.
ORDER = "onebox.order"  # order_id → OneBox order id; local/remote hash: each side's status as last synced
HISTORY = "onebox.history"  # order_history_id → OneBox comment id (appended once)
CATEGORY = "onebox.category"  # category_id → OneBox category id
BRAND = "onebox.brand"  # manufacturer_id → OneBox brand id
PRODUCT = "onebox.product"  # product_id → OneBox product id (options travel inside the product); data["fp"]: the
#                             database's fingerprint of the product as last sent
OPTION = "onebox.option"  # option_id → OneBox's code of the option (options travel inside products)
OPTION_VALUE = "onebox.option_value"  # option_value_id → OneBox's code of the value
CONTACT = "onebox.contact"  # customer ("oc-c<id>", or a guest's "oc-e:<e-mail>") → OneBox contact id; a contact
#                             from OneBox the shop could not take: "onebox:<contact id>", state failed, the reason
CONTACT_GROUP = "onebox.contact_group"  # customer_group_id the sync created → OneBox contact group id
# Statuses are the owner's map in the settings (config.status_map); so are the groups the owner paired
# (config.group_map), which win over CONTACT_GROUP Bindings.
OK, FAILED = "ok", "failed"
# A record from OneBox that OneBox no longer has when the owner's Retry reads it again: listed with the reason
# (reasons "deleted_in_onebox"), never sent to OneBox again (it would come back there as a new record).
DELETED = "deleted"


class SyncState(models.Model):
    """Where the OneBox reads and the first loads of one integration stand (shown on the dashboard). Its place in
    the shop's order feed is its opencart.FeedCursor."""

    integration = models.OneToOneField(Integration, on_delete=models.CASCADE, related_name="onebox_state")
    changed_since = models.JSONField(default=dict, blank=True,
                                     help_text="entity → OneBox datemodify of the newest change read")
    loads = models.JSONField(default=dict, blank=True,
                             help_text="kind → first load: {after, done, total, started, finished, rate}")
    last_poll_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)

    def __str__(self) -> str:
        return f"onebox state of {self.integration}"

    @classmethod
    def of(cls, integration: Integration) -> SyncState:
        return cls.objects.get_or_create(integration=integration)[0]

    def touch(self, **fields) -> None:
        SyncState.objects.filter(pk=self.pk).update(**fields)
        for k, v in fields.items():
            setattr(self, k, v)


class Conflict(models.Model):
    """One conflict decided by the owner's rule: both sides changed since the last sync (the log)."""

    integration = models.ForeignKey(Integration, on_delete=models.CASCADE, related_name="onebox_conflicts")
    kind = models.CharField(max_length=32)
    local_id = models.CharField(max_length=64)
    rule = models.CharField(max_length=8)
    winner = models.CharField(max_length=8)  # core.bindings.LOCAL / REMOTE
    lost = models.JSONField(default=dict, blank=True)
    created = models.DateTimeField()

    class Meta:
        ordering = ["-created"]

    def __str__(self) -> str:
        return f"{self.kind} {self.local_id}: {self.winner} won ({self.rule})"
