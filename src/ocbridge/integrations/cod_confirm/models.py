"""Confirmation (one COD order's case), its attempts (each a call, an SMS or a WhatsApp message), its transitions
(audit trail), and the store's channel plan (ChannelStep rows; read and written through `cod_confirm.plan`)."""

from __future__ import annotations

from decimal import Decimal

from django.db import models
from django.utils.translation import gettext_lazy as _

from ocbridge.core import clock
from ocbridge.core.models import Connection, Exchange, Integration, Job, Store
from ocbridge.core.sentences import Sentence, storable
from ocbridge.integrations.cod_confirm.choices import (
    STATE_COLOURS,
    AttemptState,
    Channel,
    ConfirmationState,
)


class Confirmation(models.Model):
    """One COD order's confirmation case. State changes only through `move()`, which records a Transition."""

    store = models.ForeignKey(Store, on_delete=models.CASCADE, related_name="confirmations")
    integration = models.ForeignKey(Integration, on_delete=models.CASCADE, related_name="confirmations")
    order_id = models.BigIntegerField()
    order_label = models.CharField(max_length=40)
    customer_name = models.CharField(max_length=130, blank=True)
    phone_raw = models.CharField(max_length=64, blank=True)
    phone = models.CharField(_("phone (E.164)"), max_length=20, blank=True, db_index=True)
    language = models.CharField(max_length=8, default="tr")
    currency = models.CharField(max_length=3, blank=True)
    total = models.DecimalField(max_digits=15, decimal_places=4, default=Decimal("0"))
    item_count = models.PositiveIntegerField(default=0)
    payment_code = models.CharField(max_length=128, blank=True)
    status_at_start = models.IntegerField(help_text="the order's OpenCart status when we took it on")
    state = models.CharField(max_length=20, choices=ConfirmationState.choices, default=ConfirmationState.NEW)
    attempts_made = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    decided_by = models.CharField(max_length=20, blank=True, help_text="customer, person, shop or system")
    needs_person_reason = models.CharField(max_length=255, blank=True)
    history_status_id = models.IntegerField(null=True, blank=True, help_text="status written to OpenCart")
    history_written_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)  # in English, for logs; pages show `error_text()`
    last_error_said = models.JSONField(null=True, blank=True)  # as said (core.sentences); None: text only
    created = models.DateTimeField(default=clock.now, db_index=True)
    decided_at = models.DateTimeField(null=True, blank=True)
    updated = models.DateTimeField(default=clock.now)

    class Meta:
        ordering = ["-id"]
        constraints = [models.UniqueConstraint(fields=["store", "order_id"], name="confirmation_one_per_order")]
        indexes = [
            # The dashboard overview reads one store's days: range scans on covering indexes (bench/overview.py),
            # never the table. (store, created, state) counts outcomes; (…, decided_at) gives time to confirm.
            models.Index(fields=["store", "created", "state"], name="confirmation_store_day_state"),
            models.Index(fields=["store", "state", "created", "decided_at"], name="confirmation_store_state_day"),
            models.Index(fields=["state", "created"], name="confirmation_state_created"),
            # (state, id) in effect: the dashboard's list filtered by state walks it backwards, newest first, no sort.
            models.Index(fields=["state"], name="confirmation_state"),
        ]
        verbose_name = _("confirmation")
        verbose_name_plural = _("confirmations")

    def __str__(self) -> str:
        return f"{self.order_label} ({self.state})"

    @property
    def colour(self) -> str:
        return STATE_COLOURS.get(self.state, "#999")

    def error_text(self) -> str:
        """The last error in the active language where it was said so, else its stored text."""
        from ocbridge.core.sentences import shown

        return shown(self.last_error_said, self.last_error)

    def move(self, to: str, *, reason: str, channel: str = "", provider_id: str = "", exchange: Exchange | None = None,
             user: str = "", expect: frozenset | set | None = None, said: Sentence | None = None, **fields) -> bool:
        """Change state if it is still one we expect (compare-and-set in the hub DB) and record why (`reason`, in
        English; `said`: the same reason as a Sentence, for a reason around a provider's or another row's words that
        the patterns of cod_confirm.reasons cannot put in the reader's language).

        Returns False when another worker moved it first: the caller then does nothing.
        """
        from ocbridge.core.jobs import current_job, fenced

        now = clock.now()
        allowed = set(expect) if expect is not None else {self.state}
        with fenced():  # a run that lost its claim to another worker moves nothing
            hit = Confirmation.objects.filter(pk=self.pk, state__in=allowed).update(state=to, updated=now, **fields)
            if not hit:
                return False
            job = current_job.get()
            Transition.objects.create(
                confirmation=self, created=now, from_state=self.state, to_state=to, reason=reason[:500],
                reason_said=storable(said) if said is not None else None,
                channel=channel, provider_id=provider_id, exchange=exchange, user=user,
                job=job if job is not None and job.pk else None,
            )
        self.refresh_from_db()
        return True


class ChannelStep(models.Model):
    """One step of a store's COD channel plan: which channel, through which Connection, how long after the last.

    Attempt n of a confirmation uses step n (1-based `position`). Read and replace them only through
    `ocbridge.integrations.cod_confirm.plan`, which validates a plan as a whole.
    """

    integration = models.ForeignKey(Integration, on_delete=models.CASCADE, related_name="channel_steps")
    position = models.PositiveSmallIntegerField()
    channel = models.CharField(_("channel"), max_length=8, choices=Channel.choices)
    # PROTECT: a Connection a plan uses cannot be deleted from under it (the owner changes the plan first).
    connection = models.ForeignKey(Connection, on_delete=models.PROTECT, related_name="channel_steps",
                                   verbose_name=_("connection"))
    delay_minutes = models.PositiveIntegerField(
        _("minutes after the previous attempt"), default=0,
        help_text=_("The first step: minutes after the order arrived."))
    window_minutes = models.PositiveIntegerField(
        _("answer window (minutes)"), default=15,
        help_text=_("How long the customer may still answer; the next step waits until it ends."))

    class Meta:
        ordering = ["integration", "position"]
        constraints = [models.UniqueConstraint(fields=["integration", "position"], name="channel_step_position")]
        verbose_name = _("channel step")
        verbose_name_plural = _("channel plan")

    def __str__(self) -> str:
        return f"{self.position}. {self.get_channel_display()} ({self.connection})"


class Attempt(models.Model):
    """One call, SMS or WhatsApp message for a Confirmation; its key is stored before the provider is asked."""

    confirmation = models.ForeignKey(Confirmation, on_delete=models.CASCADE, related_name="attempts")
    # The confirmation's store, copied (it never changes): the overview counts one store's attempts by time from
    # one index, without a join to Confirmation. Filled by save() when not given; bulk_create must set it.
    store = models.ForeignKey(Store, on_delete=models.CASCADE, related_name="+")
    number = models.PositiveIntegerField()
    channel = models.CharField(max_length=8, choices=Channel.choices)
    service = models.CharField(max_length=20)
    # The Connection it went through (a plan may use several); SET_NULL keeps history when one is deleted.
    connection = models.ForeignKey(Connection, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    key = models.CharField(max_length=255, unique=True)
    state = models.CharField(max_length=12, choices=AttemptState.choices, default=AttemptState.REQUESTED)
    provider_id = models.CharField(max_length=128, blank=True, db_index=True)
    answer = models.CharField(max_length=500, blank=True, help_text="digits pressed or the SMS reply")
    created = models.DateTimeField(default=clock.now)
    answered_at = models.DateTimeField(null=True, blank=True)
    manual = models.BooleanField(default=False, help_text="asked for by a person ('call again now')")

    class Meta:
        ordering = ["number", "id"]
        # Covering index for the overview's channel split and answer rate by hour: counts of a store's attempts in
        # one state made in a time range are index ranges (dashboard/cod_stats.py, bench/overview.py).
        indexes = [models.Index(fields=["store", "state", "created", "channel"], name="attempt_store_state_made")]

    def save(self, *args, **kwargs):
        if self.store_id is None and self.confirmation_id is not None:
            self.store_id = self.confirmation.store_id
        super().save(*args, **kwargs)


class Transition(models.Model):
    """Audit trail: every state change with its reason, channel, provider id, Exchange, user or Job."""

    confirmation = models.ForeignKey(Confirmation, on_delete=models.CASCADE, related_name="transitions")
    created = models.DateTimeField(default=clock.now)
    from_state = models.CharField(max_length=20, choices=ConfirmationState.choices)
    to_state = models.CharField(max_length=20, choices=ConfirmationState.choices)
    reason = models.CharField(max_length=500)  # in English; pages show `reason_said` when set, else its translation
    reason_said = models.JSONField(null=True, blank=True)  # as said (core.sentences); None: the text's patterns
    channel = models.CharField(max_length=8, blank=True)
    provider_id = models.CharField(max_length=128, blank=True)
    exchange = models.ForeignKey(Exchange, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    job = models.ForeignKey(Job, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    user = models.CharField(max_length=150, blank=True)

    class Meta:
        ordering = ["id"]

    def said_reason(self) -> str:
        """The reason in the active language where it was said so; "" when only its text was kept
        (cod_confirm.reasons reads that)."""
        said = Sentence.from_data(self.reason_said)
        return str(said) if said is not None else ""


class PhoneTally(models.Model):
    """How one phone's COD orders ended in one store: the risk score sums these over the stores it may count.

    One row per (phone, store), updated in place (never a row per event): a score is one index lookup at any
    size. `shared` mirrors the store's sharing setting so the lookup needs no join (`risk.py` keeps it true).
    """

    phone = models.CharField(max_length=20)
    store = models.ForeignKey(Store, on_delete=models.CASCADE, related_name="+")
    shared = models.BooleanField(default=False)
    confirmed = models.PositiveIntegerField(default=0)
    cancelled = models.PositiveIntegerField(default=0)
    unanswered = models.PositiveIntegerField(default=0)
    refused = models.PositiveIntegerField(default=0)  # returned or refused at the door (the owner's statuses)
    delivered = models.PositiveIntegerField(default=0)
    updated = models.DateTimeField(default=clock.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["phone", "store"], name="phone_tally_one_per_store")]


class OrderOutcome(models.Model):
    """What became of a COD order after confirmation, as the shop recorded it (the owner's status mapping): refused
    or returned, delivered, or cancelled in the shop. One row per order, moved when the shop changes its mind
    (delivered, then returned); each move corrects the phone's PhoneTally. Written by `outcomes.py` from the shared
    order-history feed only.

    `confirmed_via` is how the hub confirmed the order before it went out — "whatsapp", "call", "sms", "person" —
    or "" when it never did (skipped by a rule, no answer, decided in the shop): the overview's "returns of
    confirmed vs not-confirmed orders" counts these.
    """

    class Outcome(models.TextChoices):
        REFUSED = "refused", _("Refused or returned")
        DELIVERED = "delivered", _("Delivered")
        CANCELLED = "cancelled", _("Cancelled in the shop")

    store = models.ForeignKey(Store, on_delete=models.CASCADE, related_name="+")
    order_id = models.BigIntegerField()
    confirmation = models.ForeignKey(Confirmation, on_delete=models.CASCADE, related_name="outcomes")
    phone = models.CharField(max_length=20, blank=True)
    outcome = models.CharField(max_length=12, choices=Outcome.choices)
    status_id = models.IntegerField(help_text="the shop's order status that meant it")
    history_id = models.BigIntegerField(help_text="the order_history row that set it")
    confirmed_via = models.CharField(max_length=12, blank=True)
    happened_at = models.DateTimeField(null=True, blank=True, help_text="the history row's date in the shop")
    created = models.DateTimeField(default=clock.now)
    updated = models.DateTimeField(default=clock.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["store", "order_id"], name="order_outcome_one_per_order")]
        indexes = [
            # the overview: one store's outcomes recorded in a period, split by how the order was confirmed
            models.Index(fields=["store", "updated", "outcome", "confirmed_via"], name="order_outcome_store_time"),
            models.Index(fields=["phone"], name="order_outcome_phone"),
        ]
        verbose_name = _("order outcome")
        verbose_name_plural = _("order outcomes")


class ChatWindow(models.Model):
    """When a customer last wrote to one of our WhatsApp numbers (a WhatsApp Connection), by Meta's time of the message.

    Meta takes a free-form message (the pay link as a text) only within 24 h of the customer's last message to that
    number — its customer service window (whatsapp.md §2) — whatever the message was about and however the customer
    later chose (a key in a call, an SMS reply). One row per (connection, number), moved only forward. The number is
    kept as `core.personal_data.phone_key()`: only "the same number" matters here.
    """

    connection = models.ForeignKey(Connection, on_delete=models.CASCADE, related_name="+")
    phone = models.CharField(max_length=20)  # phone_key() of the E.164 number
    last_message_at = models.DateTimeField()
    updated = models.DateTimeField(default=clock.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["connection", "phone"], name="chat_window_one_per_number")]


# Personal data kept here (core.personal_data): masked after the store's period, found by phone on request. An
# attempt's answer is the customer's own words for SMS and WhatsApp (digits for a call); attempts are registered
# first, so an erase finds them through their confirmation before it is masked.
from django.db.models import Q  # noqa: E402

from ocbridge.core import personal_data  # noqa: E402

personal_data.register(personal_data.Table(
    model="cod_confirm.Attempt", created="created", store="store_id", only=Q(channel__in=["sms", "whatsapp"]),
    phones=("confirmation__phone",), mask={"answer": ""}, masked=Q(answer=""),
    export=("confirmation__order_id", "channel", "service", "state", "answer")))
personal_data.register(personal_data.Table(
    model="cod_confirm.Confirmation", created="created", store="store_id", phones=("phone",),
    mask={"customer_name": "", "phone_raw": "", "phone": ""}, masked=Q(customer_name="", phone_raw="", phone=""),
    export=("order_id", "order_label", "customer_name", "phone_raw", "phone", "state", "total", "currency")))
personal_data.register(personal_data.Table(  # keeps the tally's key, so a late change of the shop still corrects it
    model="cod_confirm.OrderOutcome", created="created", store="store_id", phones=("phone",),
    mask={"phone": lambda row: personal_data.phone_key(row.phone)},
    masked=Q(phone="") | Q(phone__startswith=personal_data.KEY_PREFIX), export=("order_id", "phone", "outcome")))
personal_data.register(personal_data.Table(  # keyed like the tally: no plain number, erased by deleting
    model="cod_confirm.ChatWindow", created="updated", store="connection__store_id", phones=("phone",), keyed=True,
    mask={}, masked=Q(), export=("last_message_at",)))
personal_data.register(personal_data.Table(
    model="cod_confirm.PhoneTally", created="updated", store="store_id", phones=("phone",), keyed=True, mask={},
    masked=Q(), export=("confirmed", "cancelled", "unanswered", "refused", "delivered")))
