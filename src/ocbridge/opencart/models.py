"""Hub-side tables of the shop adapter: our phone index (E.164 → order ids) and the poll watermarks."""

from django.db import models


class PhoneIndex(models.Model):
    """One phone number of an order, normalized: OpenCart's `order.telephone` has no index and is free text."""

    store_db_key = models.CharField(max_length=32, db_index=False)  # Store.db_key: one shop database + prefix
    store_id = models.PositiveIntegerField(default=0)  # OpenCart store_id inside that database
    e164 = models.CharField(max_length=20)
    order_id = models.PositiveBigIntegerField()
    created = models.DateTimeField()

    class Meta:
        indexes = [models.Index(fields=["e164", "-order_id"], name="opencart_phone_e164_order")]
        # One row per number of an order (a telephone field may hold several; each is indexed).
        constraints = [models.UniqueConstraint(fields=["store_db_key", "order_id", "e164"],
                                               name="opencart_phone_per_order_number")]

    def __str__(self) -> str:
        return f"{self.e164} → {self.order_id}"


class PollState(models.Model):
    """Where the last poll of one shop database stopped (DESIGN: watermarks belong to the shop database)."""

    store_db_key = models.CharField(max_length=32, unique=True)
    last_order_id = models.PositiveBigIntegerField(default=0)
    last_order_product_id = models.PositiveBigIntegerField(default=0)
    last_order_option_id = models.PositiveBigIntegerField(default=0)
    pending_zero = models.JSONField(default=dict, blank=True)  # order_id → first seen, line floors
    last_history_id = models.PositiveBigIntegerField(default=0)  # the shop's order_history read position
    # status-0 orders beyond MAX_PENDING not followed by primary key (the history feed still finds them when
    # they leave status 0 through OpenCart's model); shown on the store page, never silent
    unfollowed_zero = models.PositiveIntegerField(default=0)
    updated = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.store_db_key}: order {self.last_order_id}, history {self.last_history_id}"


class FeedCursor(models.Model):
    """How far one integration has consumed its shop's order feed (opencart.feed): new orders and order_history.

    One row per integration and shop identity, written only when it moves. It stays put while the integration
    is switched off, so what arrived meanwhile is handed over as "missed" when it is switched on again; a
    changed shop (another identity) starts a new row instead of reusing a position from a different database.
    """

    integration = models.ForeignKey("core.Integration", on_delete=models.CASCADE, related_name="feed_cursors")
    shop_key = models.CharField(max_length=64)
    last_order_id = models.PositiveBigIntegerField(default=0)
    last_history_id = models.PositiveBigIntegerField(default=0)
    off = models.BooleanField(default=False)  # seen switched off by a poll: on return, the gap is "missed"
    updated = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["integration", "shop_key"], name="opencart_one_cursor")]

    def __str__(self) -> str:
        return f"{self.integration_id}@{self.shop_key}: order {self.last_order_id}, history {self.last_history_id}"


class ShopWrite(models.Model):
    """The hub's journal of one write to a shop (opencart.writes): its key, what was asked, the steps done.

    A retry with the same key resumes at the first step not done and never repeats or skips one. Every
    write to a shop has one; nothing writes to a shop without it.
    """

    class State(models.TextChoices):
        RUNNING = "running", "running"  # started; steps_done tells how far
        DONE = "done", "done"  # written (now or by an earlier attempt with this key)
        MOVED = "moved", "moved"  # not written: the shop changed the order meanwhile (resolved in the shop)
        FAILED = "failed", "failed"  # not written: a terminal error (see error)

    key = models.CharField(max_length=200, unique=True)
    store = models.ForeignKey("core.Store", on_delete=models.CASCADE, related_name="shop_writes")
    kind = models.CharField(max_length=20)  # status | order | stock | price | address | product | category | manufacturer | customer, customer_group
    order_id = models.PositiveBigIntegerField(null=True, blank=True)
    request = models.JSONField(default=dict)  # what was asked (status: expected, new, comment, notify)
    plan = models.JSONField(default=list)  # the steps, fixed when the write starts
    steps_done = models.JSONField(default=list)
    marks = models.JSONField(default=dict)  # facts a resumed step needs (history floor, effective status…)
    via = models.CharField(max_length=10, blank=True)  # api | db
    state = models.CharField(max_length=10, choices=State.choices, default=State.RUNNING)
    error = models.TextField(blank=True)
    attempts = models.PositiveIntegerField(default=0)
    created = models.DateTimeField()
    updated = models.DateTimeField()

    class Meta:
        indexes = [models.Index(fields=["store", "order_id"], name="opencart_write_store_order")]

    def __str__(self) -> str:
        return f"{self.key}: {self.state} {self.steps_done}"


# A customer's corrected address (and the old one in the comment), as the journal asked for it (core.personal_data); a running write keeps it.
from django.db.models import Q  # noqa: E402

from ocbridge.core import personal_data  # noqa: E402

personal_data.register(personal_data.Table(
    model="opencart.ShopWrite", created="created", store="store_id", only=Q(kind="address") & ~Q(state="running"),
    mask={"request": lambda row: {k: (personal_data.MASKED if k in ("address", "comment") else v) for k, v in row.request.items()}},
    masked=Q(request__address=personal_data.MASKED), export=("kind", "order_id", "request")))
