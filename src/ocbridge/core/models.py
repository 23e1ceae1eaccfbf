"""Core models: Store, Connection, Integration, Job, Exchange, Binding, AuditEntry (DESIGN.md vocabulary)."""

from __future__ import annotations

import datetime as dt
import ipaddress
import secrets as pysecrets
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils.translation import gettext_lazy as _

from ocbridge.core import clock
from ocbridge.core import secrets as crypto
from ocbridge.core.choices import (
    Direction,
    ExchangeOutcome,
    JobState,
    Level,
    OptOutScope,
    OptOutSource,
    Role,
    Service,
    SideEffectState,
    StockSource,
)
from ocbridge.core.jobkinds import get_kind, schedule_on_commit
from ocbridge.core.shop_database import CHARSETS, DEFAULT_CHARSET, DEFAULT_PORT, ENGINES, MYSQL, ShopDatabase, ShopIdentity


class HttpsURLField(models.URLField):
    """A URL column whose forms (admin's and model forms') read a URL typed without a scheme as https: a shop or
    provider address is https, and Django 5.2 warns that its default (http) changes in 6.0."""

    def formfield(self, **kwargs):
        return super().formfield(**{"assume_scheme": "https", **kwargs})

    def deconstruct(self):
        name, _path, args, kwargs = super().deconstruct()
        return name, "django.db.models.URLField", args, kwargs  # the same column as before: only the form differs


class EncryptedJSONField(models.TextField):
    """A dict stored as a Fernet token. The database never sees the plain value."""

    def from_db_value(self, value, expression, connection):
        return crypto.decrypt_json(value) if value else {}

    def to_python(self, value):
        if isinstance(value, dict) or value is None:
            return value or {}
        return crypto.decrypt_json(value)

    def get_prep_value(self, value):
        return crypto.encrypt_json(value or {})


class Store(models.Model):
    """One OpenCart shop (database + prefix + store_id) we are connected to."""

    name = models.CharField(_("name"), max_length=100)
    secret = EncryptedJSONField(_("secrets"), blank=True, default=dict, help_text="db_password, api_key")
    db_engine = models.CharField(_("database type"), max_length=8, default=MYSQL, db_default=MYSQL,
                                 choices=[(e, e) for e in ENGINES], editable=False)
    db_host = models.CharField(_("database host"), max_length=255, blank=True, default="", db_default="")
    db_port = models.PositiveIntegerField(_("database port"), default=DEFAULT_PORT, db_default=DEFAULT_PORT)
    db_user = models.CharField(_("database user"), max_length=80, blank=True, default="", db_default="")
    db_name = models.CharField(_("database name"), max_length=255, blank=True, default="", db_default="")
    db_charset = models.CharField(_("character set"), max_length=16, default=DEFAULT_CHARSET, db_default=DEFAULT_CHARSET,
                                  choices=[(c, c) for c in CHARSETS])
    # Off: PyMySQL's "preferred" TLS (encrypted when the server offers it, certificate not checked). On: as
    # `mysql --ssl-verify-server-cert` (opencart.db). The CA certificate is public, so a plain field (bounded, PEM).
    db_tls_verify = models.BooleanField(
        _("require TLS and verify the server certificate"), default=False, db_default=False,
        help_text=_("Refuse a database server whose certificate is not valid for the host name above, as "
                    "mysql --ssl-verify-server-cert does. Use it whenever the database is reached over a network "
                    "you do not control. Off: the connection is encrypted only when the server offers it, and "
                    "the certificate is not checked."))
    # Between the two: TLS required, the certificate not checked (a self-signed server; opencart.db).
    db_tls_required = models.BooleanField(
        _("require TLS, without verifying the certificate"), default=False, db_default=False,
        help_text=_("Refuse a database server that does not offer TLS, but accept its certificate unchecked (e.g. "
                    "self-signed): encrypted against someone who only listens, not against someone who can "
                    "redirect the connection. Verifying the certificate (above) is safer."))
    db_tls_ca = models.TextField(
        _("CA certificate (PEM)"), blank=True, default="", db_default="",
        help_text=_("Only for a private certificate authority: its certificate, beginning with "
                    "-----BEGIN CERTIFICATE-----. Empty: the system's trusted authorities."))
    # Database defaults too: code written against an older state of this table (migration tests) still inserts.
    # ShopIdentity.key of (host, port, database, prefix), kept by save(): hub state of one shop is keyed by it.
    db_key = models.CharField(max_length=32, blank=True, editable=False, db_index=True, default="", db_default="")
    table_prefix = models.CharField(_("table prefix"), max_length=20, default="oc_", blank=True)
    oc_store_id = models.PositiveIntegerField(_("OpenCart store id"), default=0)
    version = models.CharField(_("OpenCart version"), max_length=16, blank=True, help_text=_("Detected from the schema"))
    api_url = HttpsURLField(_("native API URL"), blank=True, help_text=_("Shop URL, e.g. https://shop.example.com/"))
    api_username = models.CharField(_("API user"), max_length=64, blank=True)
    timezone = models.CharField(_("time zone"), max_length=64, default="Europe/Istanbul")
    language = models.CharField(_("language"), max_length=8, default="tr")
    country = models.CharField(_("country (ISO 3166 alpha-2)"), max_length=2, default="TR")
    currency = models.CharField(_("currency"), max_length=3, default="TRY")
    order_prefix = models.CharField(_("order number prefix"), max_length=16, blank=True)
    stock_source = models.CharField(
        _("stock source"), max_length=16, choices=StockSource.choices, default=StockSource.SHOP,
        help_text=_("Where stock is kept: that side's quantities are written to the others, never the other way"))
    # How often the shop is read for new orders and status changes (core.polls; a shop with several stores is read
    # at the shortest interval of its stores). An idle read writes nothing, so a short interval costs shop reads only.
    poll_seconds = models.PositiveIntegerField(
        _("poll interval (seconds)"), default=15, db_default=15,
        validators=[MinValueValidator(5), MaxValueValidator(3600)],
        help_text=_("How often new orders and status changes are read from the shop: 5 to 3600 seconds."))
    enabled = models.BooleanField(_("enabled"), default=True)
    # Abuse limits the owner may tighten or loosen up to the hub's maximum (settings.*_MAX); empty: the hub default.
    test_sends_per_hour = models.PositiveSmallIntegerField(
        _("test calls and SMS an hour"), null=True, blank=True,
        help_text=_("Per user and for the whole store. Empty: the hub's default."))
    login_fail_limit = models.PositiveSmallIntegerField(
        _("failed logins before a pause"), null=True, blank=True,
        help_text=_("For this store's users, within 15 minutes. Empty: the hub's default."))
    # Personal data (names, phones, addresses, recordings) in the hub's own tables is masked after this many days
    # (core.personal_data); the shop's own database is never touched.
    personal_data_days = models.PositiveIntegerField(
        _("keep customers' personal data for (days)"), default=180, db_default=180,
        help_text=_("After this, names, phone numbers, addresses and recording links in the hub's records are "
                    "masked. The shop's own data is not touched."))
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        verbose_name = _("store")
        verbose_name_plural = _("stores")
        constraints = [
            # Enabled stores only: an upgrade may find an old duplicate, which the migration disables.
            models.UniqueConstraint(fields=["db_key", "oc_store_id"], condition=models.Q(enabled=True) & ~models.Q(db_key=""),
                                    name="store_one_per_shop_identity",
                                    violation_error_message=_("Another store is already connected to this shop "
                                                              "database, table prefix and store id.")),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def shop_database(self) -> ShopDatabase:
        """The fields (and the encrypted password) as one value: what `opencart.shop_db` opens."""
        return ShopDatabase(engine=self.db_engine, host=self.db_host, port=self.db_port, user=self.db_user,
                            password=self.secret.get("db_password", ""), database=self.db_name, charset=self.db_charset,
                            tls_verify=self.db_tls_verify, tls_ca=self.db_tls_ca, tls_required=self.db_tls_required)

    @property
    def shop_identity(self) -> ShopIdentity:
        """(host, port, database, prefix): which shop this Store reads. `db_key` is its key in hub tables."""
        return self.shop_database.identity(self.table_prefix)

    def _set_db_url(self, url: str) -> None:
        """Set the database fields from a URL (command line, demo, tests); a URL with options is refused."""
        db = ShopDatabase.from_url(url)
        self.db_engine, self.db_host, self.db_port, self.db_user = db.engine, db.host, db.port, db.user
        self.db_name, self.db_charset = db.database, db.charset
        self.secret = {**(self.secret or {}), "db_password": db.password}
        if not db.password:
            self.secret.pop("db_password")

    db_url = property(fset=_set_db_url, doc="Write-only: split a URL into the database fields.")

    @property
    def has_database(self) -> bool:
        return bool(self.db_name)

    @property
    def zone(self) -> dt.tzinfo:
        """The store's own time zone: the owner's day and calling hours. UTC for a name the system does not know
        (the store form refuses one; an older row may still have it)."""
        try:
            return ZoneInfo(self.timezone)
        except Exception:  # noqa: BLE001 - ZoneInfoNotFoundError, or ValueError for a malformed name
            return dt.timezone.utc

    def identity_clash(self) -> Store | None:
        """Another Store (enabled or not) on the same shop identity and store_id: a second one is refused."""
        key = self.shop_identity.key
        if not key:
            return None
        return Store.objects.filter(db_key=key, oc_store_id=self.oc_store_id).exclude(pk=self.pk).first()

    def save(self, *args, **kwargs):
        if "db_url" in (self.secret or {}):  # the old single-URL secret: fields now (Store(db_url=…) splits one)
            raise ValueError("Store.secret['db_url'] is no longer read: pass db_url=… or set the db_* fields.")
        self.db_key = self.shop_identity.key
        if kwargs.get("update_fields") is not None:
            kwargs["update_fields"] = {*kwargs["update_fields"], "db_key"}
        super().save(*args, **kwargs)

    @property
    def api_key(self) -> str:
        return self.secret.get("api_key", "")

    def secret_values(self) -> list[str]:
        return [v for v in self.secret.values() if isinstance(v, str) and v]

    def order_label(self, order_id: int) -> str:
        return f"{self.order_prefix}{order_id}"


def _new_token() -> str:
    return pysecrets.token_urlsafe(24)


class ConnectionQuerySet(models.QuerySet):
    def active(self):
        return self.filter(enabled=True)


class Connection(models.Model):
    """One account at an outside service, with encrypted credentials."""

    store = models.ForeignKey(Store, on_delete=models.CASCADE, related_name="connections")
    service = models.CharField(_("service"), max_length=20, choices=Service.choices)
    name = models.CharField(_("name"), max_length=100, blank=True)
    base_url = HttpsURLField(_("API base URL"), blank=True)
    secret = EncryptedJSONField(_("credentials"), blank=True, default=dict)
    options = models.JSONField(_("options"), default=dict, blank=True)
    webhook_token = models.CharField(max_length=64, unique=True, default=_new_token, editable=False)
    ip_allowlist = models.TextField(_("webhook IP allowlist"), blank=True, help_text=_("One address or network per line; empty = any"))
    enabled = models.BooleanField(_("enabled"), default=True)
    last_ok_at = models.DateTimeField(null=True, blank=True)
    last_error_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)  # in English, for logs; pages show `error_text()`
    last_error_said = models.JSONField(null=True, blank=True)  # as said (core.sentences); None: text only
    rate_limited_count = models.PositiveIntegerField(default=0)
    created = models.DateTimeField(auto_now_add=True)
    # One provider account serving several stores of the same owner or agency (their features may use it; its
    # rate limit is the one account's). The owning `store` keeps editing it; results and replies are routed to
    # the store they belong to (cod_confirm.routing).
    shared_with = models.ManyToManyField(Store, blank=True, related_name="shared_connections",
                                         verbose_name=_("also used by"))

    objects = ConnectionQuerySet.as_manager()

    class Meta:
        ordering = ["store", "service"]
        verbose_name = _("connection")
        verbose_name_plural = _("connections")

    def __str__(self) -> str:
        return self.name or f"{self.get_service_display()} ({self.store})"

    def credentials(self) -> dict:
        return dict(self.secret)

    def served_store_ids(self) -> list[int]:
        """The owning store first, then the stores it is shared with (an instance from core.config_cache carries
        them, read with it)."""
        if "_served" in self.__dict__:
            return list(self._served)
        return [self.store_id, *sorted(self.shared_with.values_list("pk", flat=True))]

    def secret_values(self) -> list[str]:
        """Every value to mask in logs: the credentials, and the webhook URL token (the only credential of
        unsigned webhooks; our callback URLs travel in request and response bodies)."""
        return [str(v) for v in self.secret.values() if v] + ([self.webhook_token] if self.webhook_token else [])

    def ip_allowed(self, ip: str | None) -> bool:
        nets = [line.strip() for line in self.ip_allowlist.splitlines() if line.strip()]
        if not nets:
            return True
        try:
            addr = ipaddress.ip_address(ip or "")
        except ValueError:
            return False
        return any(addr in ipaddress.ip_network(n, strict=False) for n in nets)

    def webhook_url(self, name: str) -> str:
        """Absolute URL of one of this connection's webhooks, with its unguessable token."""
        from django.urls import reverse

        return settings.PUBLIC_URL + reverse("webhook", kwargs={"service": self.service, "token": self.webhook_token, "hook": name})

    def mark_ok(self) -> None:
        self.last_ok_at = clock.now()
        Connection.objects.filter(pk=self.pk).update(last_ok_at=self.last_ok_at)

    def error_text(self) -> str:
        """The last error in the active language where it was said so, else its stored text."""
        from ocbridge.core.sentences import shown

        return shown(self.last_error_said, self.last_error)

    def mark_error(self, message: str, rate_limited: bool = False, said: dict | None = None) -> None:
        """`message` in English (logs, the admin); `said`: the error's Sentence data (core.sentences), if it has one."""
        upd = {"last_error_at": clock.now(), "last_error": message[:2000], "last_error_said": said}
        self.last_error_at, self.last_error, self.last_error_said = upd["last_error_at"], upd["last_error"], said
        if rate_limited:
            upd["rate_limited_count"] = models.F("rate_limited_count") + 1
        Connection.objects.filter(pk=self.pk).update(**upd)


class Integration(models.Model):
    """A feature switched on for a Store with a Connection and its settings."""

    store = models.ForeignKey(Store, on_delete=models.CASCADE, related_name="integrations")
    kind = models.CharField(_("feature"), max_length=32)
    connection = models.ForeignKey(Connection, on_delete=models.PROTECT, null=True, blank=True, related_name="integrations")
    settings = models.JSONField(_("settings"), default=dict, blank=True)
    enabled = models.BooleanField(_("enabled"), default=True)
    created = models.DateTimeField(auto_now_add=True)
    updated = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["store", "kind"], name="integration_one_kind_per_store")]
        verbose_name = _("integration")
        verbose_name_plural = _("integrations")

    def __str__(self) -> str:
        return f"{self.kind} @ {self.store}"


class JobManager(models.Manager):
    def enqueue(
        self,
        kind: type | str,
        *,
        key: str,
        store: Store | None = None,
        integration: Integration | None = None,
        payload: dict | None = None,
        run_at=None,
        max_attempts: int | None = None,
        store_id: int | None = None,
        integration_id: int | None = None,
        hand_over: bool = True,
    ) -> Job:
        """Insert the Job row (a duplicate key returns the existing row) and hand it to huey after commit (unless
        `hand_over` is False: the dispatcher queuing stored webhooks hands its jobs out itself). Store and integration
        by instance, or by id."""
        from ocbridge.core import rows

        kind_cls = get_kind(kind if isinstance(kind, str) else kind.kind)
        fields = {
            "kind": kind_cls.kind,
            # ids, not instances: reading integration.store would cost a query per enqueue
            "store_id": store.pk if store else (integration.store_id if integration else store_id),
            "integration_id": integration.pk if integration else integration_id,
            "payload": payload or {},
            "next_run_at": run_at or clock.now(),
            "max_attempts": max_attempts or kind_cls.max_attempts,
            "created": clock.now(),
        }
        # Insert first: a new key (the usual case) costs one statement; a repeated key (a repeat, or another enqueuer
        # won the race) inserts nothing, and theirs is the job.
        job = rows.insert_unless_exists(self.model(key=key, **fields), ("key",))
        if job is None:
            return self.get(key=key)
        job.queued_now = True
        if hand_over:
            schedule_on_commit(job)
        return job


class Job(models.Model):
    """A durable unit of work: the truth. The huey task only carries its id."""

    kind = models.CharField(max_length=64, db_index=True)
    key = models.CharField(max_length=255, unique=True, help_text="idempotency key")
    store = models.ForeignKey(Store, on_delete=models.CASCADE, null=True, blank=True, related_name="jobs")
    integration = models.ForeignKey(Integration, on_delete=models.CASCADE, null=True, blank=True, related_name="jobs")
    payload = models.JSONField(default=dict, blank=True)
    state = models.CharField(max_length=16, choices=JobState.choices, default=JobState.QUEUED)
    attempts = models.PositiveIntegerField(default=0)
    max_attempts = models.PositiveIntegerField(default=8)
    next_run_at = models.DateTimeField(default=clock.now)
    claimed_by = models.CharField(max_length=64, blank=True, help_text="host:pid:thread of the run holding the claim")
    claim_token = models.CharField(max_length=32, blank=True, help_text="random per claim; every write of the run matches it")
    claim_expires_at = models.DateTimeField(null=True, blank=True)
    dispatched_at = models.DateTimeField(null=True, blank=True, help_text="last handed to huey")
    last_error = models.TextField(blank=True)  # in English, for logs; pages show `error_text()`
    last_error_said = models.JSONField(null=True, blank=True)  # as said (core.sentences); None: text only
    created = models.DateTimeField(default=clock.now)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    objects = JobManager()
    queued_now = False  # set by enqueue() on the row it inserted (False: the key's job existed)

    class Meta:
        ordering = ["-id"]
        indexes = [
            models.Index(fields=["state", "next_run_at"], name="job_due"),
            # Only running jobs hold claims: a queued or finished job writes no entry here.
            models.Index(fields=["state", "claim_expires_at"], name="job_claims",
                         condition=models.Q(state=JobState.RUNNING)),
        ]

    def __str__(self) -> str:
        return f"{self.kind} #{self.pk} ({self.state})"

    def error_text(self) -> str:
        """The last error in the active language where it was said so, else its stored text."""
        from ocbridge.core.sentences import shown

        return shown(self.last_error_said, self.last_error)


def new_correlation() -> int:
    """A random 12-digit number: fits every provider's echo field (Netgsm `relationid`, APS
    `merchant_reference`, WhatsApp payloads) and says nothing about our volume."""
    return pysecrets.randbelow(9 * 10**11) + 10**11


class SideEffect(models.Model):
    """One call, SMS, message, payment operation or marketplace write, in the outbox (core.outbox documents it)."""

    key = models.CharField(max_length=255, unique=True, help_text="our idempotency key")
    correlation = models.BigIntegerField(unique=True, default=new_correlation,
                                         help_text="short number sent in the provider's echo field")
    kind = models.CharField(max_length=32, help_text="call, sms, message, payment, marketplace…")
    service = models.CharField(max_length=20, choices=Service.choices)
    store = models.ForeignKey(Store, on_delete=models.CASCADE, null=True, blank=True, related_name="+")
    connection = models.ForeignKey(Connection, on_delete=models.CASCADE, null=True, blank=True, related_name="+")
    integration = models.ForeignKey(Integration, on_delete=models.CASCADE, null=True, blank=True, related_name="+")
    job = models.ForeignKey("Job", on_delete=models.SET_NULL, null=True, blank=True, related_name="+",
                            help_text="the job that makes it; resumed when a pause ends")
    state = models.CharField(max_length=12, choices=SideEffectState.choices, default=SideEffectState.REQUESTED)
    sent_by = models.CharField(max_length=32, blank=True, help_text="claim token of the run that began sending")
    provider_id = models.CharField(max_length=128, blank=True)
    answer_until = models.DateTimeField(null=True, blank=True, help_text="a result may still come until then")
    error = models.TextField(blank=True)  # in English, for logs; pages show `error_text()`
    error_said = models.JSONField(null=True, blank=True)  # as said (core.sentences); None: text only
    late = models.TextField(blank=True, help_text="runs fenced out after their claim was taken over: stopped before "
                                                  "sending, or what a late duplicate was answered")
    created = models.DateTimeField(default=clock.now)
    updated = models.DateTimeField(default=clock.now)

    class Meta:
        ordering = ["-id"]
        indexes = [
            models.Index(fields=["service", "provider_id"], name="sideeffect_provider"),
            models.Index(fields=["state", "updated"], name="sideeffect_state"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.key} ({self.state})"

    def error_text(self) -> str:
        """The last error in the active language where it was said so, else its stored text."""
        from ocbridge.core.sentences import shown

        return shown(self.error_said, self.error)


class ExchangeQuerySet(models.QuerySet):
    def keyed(self, keys: str | list[str]):
        """The rows recorded under this idempotency key (or any of these keys). Only rows with a key are in the
        `exchange_key` index (a webhook has none); the `key > ''` term is what lets the database use it."""
        return self.filter(key__in=[keys] if isinstance(keys, str) else keys, key__gt="")


class Exchange(models.Model):
    """One request/response with an outside service or the shop's API: the log the dashboard shows."""

    created = models.DateTimeField(default=clock.now, db_index=True)
    service = models.CharField(max_length=20, choices=Service.choices)  # exchange_service_time (service, created)
    direction = models.CharField(max_length=3, choices=Direction.choices, default=Direction.OUT)
    purpose = models.CharField(max_length=64, blank=True)
    # No index of its own: `exchange_store` (store, created) serves every lookup by store.
    store = models.ForeignKey(Store, on_delete=models.SET_NULL, null=True, blank=True, related_name="+",
                              db_index=False)
    connection = models.ForeignKey(Connection, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    # No index of its own: `exchange_job` holds only rows linked to a job (a webhook's row is linked later, by the worker).
    job = models.ForeignKey(Job, on_delete=models.SET_NULL, null=True, blank=True, related_name="exchanges",
                            db_index=False)
    order_id = models.BigIntegerField(null=True, blank=True)
    key = models.CharField(max_length=255, blank=True, help_text="idempotency key of the side effect")  # exchange_key
    method = models.CharField(max_length=10, blank=True)
    url = models.TextField(blank=True)
    request_headers = models.JSONField(default=dict, blank=True)
    request_body = models.TextField(blank=True)
    status = models.IntegerField(null=True, blank=True)
    response_headers = models.JSONField(default=dict, blank=True)
    response_body = models.TextField(blank=True)
    duration_ms = models.FloatField(null=True, blank=True)
    level = models.CharField(max_length=8, choices=Level.choices, default=Level.INFO)
    outcome = models.CharField(max_length=10, choices=ExchangeOutcome.choices, default=ExchangeOutcome.PENDING)
    error = models.TextField(blank=True)  # in English, for logs and the CSV; pages show `error_text()`
    error_said = models.JSONField(null=True, blank=True)  # as said (core.sentences); None: text only
    event_id = models.CharField(max_length=255, blank=True, help_text="provider's id of an inbound event")
    # Stored webhooks are the queue (core.inbox): the jobs this request asks for, until the worker has queued them.
    pending_jobs = models.JSONField(null=True, blank=True, help_text="jobs a stored webhook asks for, until queued")

    objects = ExchangeQuerySet.as_manager()

    class Meta:
        ordering = ["-id"]
        indexes = [
            # The log's pages are a time range, newest first (dashboard.filters): (X, created) serves the filter on X
            # (store, service, level), the range and the order at once; SQLite's implicit rowid after `created` the tie.
            models.Index(fields=["store", "created"], name="exchange_store_time"),
            models.Index(fields=["service", "created"], name="exchange_service_time"),
            # Rows with an idempotency key only (calls out); read through Exchange.objects.keyed().
            models.Index(fields=["key"], name="exchange_key", condition=models.Q(key__gt="")),
            # Rows about an order only: a webhook or a poll's read not (yet) tied to one writes no entry.
            models.Index(fields=["order_id"], name="exchange_order", condition=models.Q(order_id__isnull=False)),
            # Warnings and errors only (the log filtered by level, the overview's card of all stores): info rows — nearly
            # every row, every webhook — write no entry. A page of info rows reads `created` in page order (most rows
            # match); housekeeping's old info rows are a range of `created` too; a day's info is its total less these.
            models.Index(fields=["level", "created"], name="exchange_trouble_time",
                         condition=models.Q(level="warning") | models.Q(level="error")),
            # One store's warnings and errors by day (the overview's log card, a store's log filtered by level): the
            # index above holds every store's; only the few rows that are not info have an entry, so writes barely pay.
            models.Index(fields=["store", "level", "created"], name="exchange_store_trouble",
                         condition=models.Q(level="warning") | models.Q(level="error")),
            # Stored webhooks not queued yet (core.inbox): an entry lives from the request until the worker's look.
            models.Index(fields=["id"], name="exchange_inbox", condition=models.Q(pending_jobs__isnull=False)),
            # A job's rows (its page, inbound_of, SET NULL when old jobs are pruned): `job_id = …` implies the condition.
            models.Index(fields=["job"], name="exchange_job", condition=models.Q(job__isnull=False)),
        ]

    def __str__(self) -> str:
        return f"{self.service} {self.method} {self.status or ''}"

    def error_text(self) -> str:
        """The error in the active language where it was said so, else its stored text."""
        from ocbridge.core.sentences import shown

        return shown(self.error_said, self.error)


class Binding(models.Model):
    """"Our record X in the store is their record Y at the service" (OCA connector's Binding).

    Two-way sync (DESIGN.md "Bindings"): `local_hash` and `remote_hash` are each side's content hash as of the
    last sync, so a side whose hash now differs changed since; our own write is recorded with the hash the other
    side will show, so reading it back is recognised as an echo and not sent back. `last_origin` says which side
    the last synced change came from. `core.bindings` holds the rules; one-way kinds use only `local_hash`.
    """

    connection = models.ForeignKey(Connection, on_delete=models.CASCADE, related_name="bindings")
    kind = models.CharField(max_length=32)
    local_id = models.CharField(max_length=64)
    external_id = models.CharField(max_length=128)
    local_hash = models.CharField(max_length=64, blank=True)
    remote_hash = models.CharField(max_length=64, blank=True)
    last_origin = models.CharField(max_length=8, blank=True)  # bindings.LOCAL / bindings.REMOTE
    synced_at = models.DateTimeField(null=True, blank=True)
    data = models.JSONField(default=dict, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["connection", "kind", "local_id"], name="binding_local"),
            models.UniqueConstraint(fields=["connection", "kind", "external_id"], name="binding_external"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.local_id} ↔ {self.external_id}"


class AuditEntry(models.Model):
    """Who did what by hand, when and why (manual actions, settings changes). Secrets are never stored."""

    created = models.DateTimeField(default=clock.now, db_index=True)
    user = models.CharField(max_length=150)
    action = models.CharField(max_length=64)
    store = models.ForeignKey(Store, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    object_type = models.CharField(max_length=64, blank=True)
    object_id = models.CharField(max_length=64, blank=True)
    reason = models.TextField(blank=True)
    data = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-id"]


class StoreMember(models.Model):
    """A user's role in one store (core.access.scoped reads it). Superusers need none: they see every store."""

    store = models.ForeignKey(Store, on_delete=models.CASCADE, related_name="members")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="store_roles")
    role = models.CharField(_("role"), max_length=10, choices=Role.choices, default=Role.VIEWER)
    added_by = models.CharField(max_length=150, blank=True)
    created = models.DateTimeField(default=clock.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "store"], name="store_member_once")]
        indexes = [models.Index(fields=["user", "role", "store"], name="store_member_user_role")]
        verbose_name = _("store user")
        verbose_name_plural = _("store users")

    def __str__(self) -> str:
        return f"{self.user} · {self.get_role_display()} · {self.store}"


class OptOut(models.Model):
    """A phone number that must not be called or texted (core.optouts documents the rules). `store` empty = every
    store of the hub."""

    store = models.ForeignKey(Store, on_delete=models.CASCADE, null=True, blank=True, related_name="+")
    phone = models.CharField(_("phone"), max_length=20, help_text="E.164")
    scope = models.CharField(_("what not to do"), max_length=10, choices=OptOutScope.choices, default=OptOutScope.ALL)
    source = models.CharField(max_length=10, choices=OptOutSource.choices, default=OptOutSource.OWNER)
    note = models.CharField(_("note"), max_length=255, blank=True)
    reply = models.CharField(max_length=500, blank=True, help_text="the customer's words, for a reply opt-out")
    user = models.CharField(max_length=150, blank=True)
    created = models.DateTimeField(default=clock.now)

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(fields=["store", "phone"], name="optout_store_phone"),
            models.UniqueConstraint(fields=["phone"], condition=models.Q(store__isnull=True), name="optout_hub_phone"),
        ]

    def __str__(self) -> str:
        return f"{self.phone} ({self.scope})"


class LoginFailure(models.Model):
    """One failed dashboard login (user name as typed, client address): counted to slow down password guessing."""

    created = models.DateTimeField(default=clock.now)
    username = models.CharField(max_length=150)
    address = models.CharField(max_length=64, blank=True)

    class Meta:
        indexes = [models.Index(fields=["username", "created"], name="login_failure_user"),
                   models.Index(fields=["address", "created"], name="login_failure_address")]


class AlertRoute(models.Model):
    """Who gets which alerts where (core.alerts): one user's e-mail address or Telegram chat, for one store or for
    every store they may see, for the chosen sources, at most one message per digest period."""

    class Channel(models.TextChoices):
        EMAIL = "email", _("E-mail")
        TELEGRAM = "telegram", "Telegram"

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="alert_routes")
    store = models.ForeignKey(Store, on_delete=models.CASCADE, null=True, blank=True, related_name="+",
                              verbose_name=_("store"), help_text=_("Empty: every store this user may see"))
    channel = models.CharField(_("channel"), max_length=10, choices=Channel.choices, default=Channel.EMAIL)
    target = models.CharField(_("address or chat"), max_length=254,
                              help_text=_("An e-mail address, or a Telegram chat id"))
    sources = models.JSONField(_("what"), default=list, blank=True, help_text="source names; empty = all")
    digest_minutes = models.PositiveIntegerField(_("at most one message every (minutes)"), default=60)
    waiting_minutes = models.PositiveIntegerField(_("orders waiting for a person longer than (minutes)"), default=60)
    language = models.CharField(_("language"), max_length=8, blank=True, choices=settings.LANGUAGES,
                                help_text=_("Empty: the store's language"))
    enabled = models.BooleanField(_("enabled"), default=True)
    watermark = models.DateTimeField(default=clock.now)  # conditions opened after this are news for the next message
    last_sent_at = models.DateTimeField(null=True, blank=True)
    sent_count = models.PositiveIntegerField(default=0)  # numbers the messages: the outbox key of the next one
    created = models.DateTimeField(default=clock.now)

    class Meta:
        ordering = ["user", "pk"]
        verbose_name = _("alert route")
        verbose_name_plural = _("alert routes")

    def __str__(self) -> str:
        return f"{self.user} → {self.get_channel_display()} {self.target}"


class AlertCondition(models.Model):
    """Something that is wrong in a store now, or was (core.alerts): opened, cleared, opened again. Written only when
    it changes, so a quiet hub writes nothing."""

    store = models.ForeignKey(Store, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=64)  # the needs-attention contributor ("core.connections_failing")
    subject = models.CharField(max_length=128, blank=True)  # which one ("connection:12"), "" when one per store
    source = models.CharField(max_length=16)  # the alert source a route subscribes to (core.alerts.SOURCES)
    text = models.TextField()  # in the store's language
    texts = models.JSONField(default=dict, blank=True)  # {language: text} for routes that ask for another language
    severity = models.CharField(max_length=8, default="warning")
    opened_at = models.DateTimeField()  # first seen
    last_opened_at = models.DateTimeField()  # first seen, or seen again after it had cleared
    cleared_at = models.DateTimeField(null=True, blank=True)  # null while it lasts
    times = models.PositiveIntegerField(default=1)  # how often it opened (a flapping connection counts up)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["store", "key", "subject"], name="alert_condition_once")]
        indexes = [models.Index(fields=["store", "last_opened_at"], name="alert_condition_news")]


class SpendPolicy(models.Model):
    """A store's daily limits on what calls, SMS and WhatsApp messages may cost (core.spend), the owner's prices
    per provider, and the provider balance under which the owner is told."""

    store = models.OneToOneField(Store, on_delete=models.CASCADE, related_name="spend_policy")
    call_cap = models.PositiveIntegerField(_("calls a day at most"), null=True, blank=True)
    sms_cap = models.PositiveIntegerField(_("SMS a day at most"), null=True, blank=True)
    whatsapp_cap = models.PositiveIntegerField(_("WhatsApp messages a day at most"), null=True, blank=True)
    cost_cap = models.DecimalField(_("estimated cost a day at most"), max_digits=12, decimal_places=2, null=True,
                                   blank=True)
    prices = models.JSONField(_("prices"), default=dict, blank=True)  # {"netgsm": {"sms": "0.06", "call": "0.40"}}
    credit_low = models.DecimalField(_("tell me when a provider's balance falls below"), max_digits=12,
                                     decimal_places=2, null=True, blank=True)
    updated = models.DateTimeField(default=clock.now)

    class Meta:
        verbose_name = _("spending limits")
        verbose_name_plural = _("spending limits")


class ProviderBalance(models.Model):
    """The last balance a provider's API told for one connection (Verimor credits, Netgsm lira, Twilio dollars)."""

    connection = models.OneToOneField(Connection, on_delete=models.CASCADE, related_name="balance")
    amount = models.DecimalField(max_digits=14, decimal_places=4, null=True, blank=True)
    unit = models.CharField(max_length=16, blank=True)  # a currency code, or "credits"
    read_at = models.DateTimeField(null=True, blank=True)
    error = models.TextField(blank=True)  # the provider's words when the last reading failed, in English: error_text()
    error_said = models.JSONField(null=True, blank=True)  # as said (core.sentences); None: text only

    def error_text(self) -> str:
        """The last reading's error in the active language where it was said so, else its stored text."""
        from ocbridge.core.sentences import shown

        return shown(self.error_said, self.error)


class TwoFactor(models.Model):
    """A dashboard user's authenticator app (core.two_factor): its key encrypted like every secret, recovery codes
    kept only as hashes, and the last time step a code was accepted for (each code works once)."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="two_factor")
    secret = EncryptedJSONField(blank=True, default=dict)  # {"key": base32}
    confirmed = models.BooleanField(default=False)
    last_step = models.BigIntegerField(default=0)
    recovery = models.JSONField(default=list, blank=True)  # sha256 hex digests of the unused recovery codes
    created = models.DateTimeField(default=clock.now)

    class Meta:
        verbose_name = _("two-factor authenticator")
        verbose_name_plural = _("two-factor authenticators")


class HubPolicy(models.Model):
    """Hub-wide choices a superuser makes on the dashboard; one row (HubPolicy.current())."""

    # Who must log in with two-factor: "superuser", "owner", "operator", "viewer".
    two_factor_roles = models.JSONField(default=list, blank=True)

    @classmethod
    def current(cls) -> HubPolicy:
        return cls.objects.get_or_create(pk=1)[0]


class PollHealth(models.Model):
    """How one routine poll target is doing (core.polls): written when a poll of it fails (counted, with the time
    of the next try) and when it recovers — a healthy poll writes nothing. The dashboard shows the failing ones."""

    poll = models.CharField(max_length=64)  # the registered poll's name, e.g. "opencart.shop"
    key = models.CharField(max_length=200)  # its target: a shop identity, a connection…
    store = models.ForeignKey(Store, on_delete=models.CASCADE, null=True, blank=True, related_name="+")
    failing_since = models.DateTimeField(null=True, blank=True)  # None: working
    failures = models.PositiveIntegerField(default=0, db_default=0)  # polls failed in a row
    retry_at = models.DateTimeField(null=True, blank=True)  # back-off: not polled again before this
    last_error = models.TextField(blank=True)  # in English, for logs; pages show `error_text()`
    # The error as said (core.sentences: its text and values), so each reader sees it in their language; None when
    # the error has only its text (a driver's or a service's own words).
    last_error_said = models.JSONField(null=True, blank=True)
    recovered_at = models.DateTimeField(null=True, blank=True)
    updated = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["poll", "key"], name="poll_health_one_per_target")]

    def __str__(self) -> str:
        return f"{self.poll} {self.key}: {'failing' if self.failing_since else 'ok'}"

    def error_text(self) -> str:
        """The last error in the active language where it was said so, else its stored text."""
        from ocbridge.core.sentences import shown

        return shown(self.last_error_said, self.last_error)
