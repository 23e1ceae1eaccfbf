"""Hub-side tables of the shop adapter: our phone index (E.164 → order ids) and the poll watermarks."""

from django.db import models


class PhoneIndex(models.Model):
    """One order's phone number, normalized: OpenCart's `order.telephone` has no index and is free text."""

    store_db_key = models.CharField(max_length=32, db_index=False)  # Store.db_key: one shop database + prefix
    store_id = models.PositiveIntegerField(default=0)  # OpenCart store_id inside that database
    e164 = models.CharField(max_length=20)
    order_id = models.PositiveBigIntegerField()
    created = models.DateTimeField()

    class Meta:
        indexes = [models.Index(fields=["e164", "-order_id"], name="opencart_phone_e164_order")]
        constraints = [models.UniqueConstraint(fields=["store_db_key", "order_id"], name="opencart_phone_one_per_order")]

    def __str__(self) -> str:
        return f"{self.e164} → {self.order_id}"


class PollState(models.Model):
    """Where the last poll of one shop database stopped (DESIGN: watermarks belong to the shop database)."""

    store_db_key = models.CharField(max_length=32, unique=True)
    last_order_id = models.PositiveBigIntegerField(default=0)
    last_order_product_id = models.PositiveBigIntegerField(default=0)
    last_order_option_id = models.PositiveBigIntegerField(default=0)
    pending_zero = models.JSONField(default=dict, blank=True)  # order_id → first seen, line floors
    last_history_id = models.PositiveBigIntegerField(default=0)
    updated = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.store_db_key}: order {self.last_order_id}, history {self.last_history_id}"
