"""ChoiceSets shared by the core models: value, label and colour in one place."""

from django.db import models
from django.utils.translation import gettext_lazy as _


class JobState(models.TextChoices):
    QUEUED = "queued", _("Queued")
    RUNNING = "running", _("Running")
    DONE = "done", _("Done")
    FAILED = "failed", _("Failed")  # terminal error: the service said no, or retries ran out
    ERRORED = "errored", _("Errored")  # a bug: traceback kept
    CANCELLED = "cancelled", _("Cancelled")


JOB_OPEN_STATES = (JobState.QUEUED, JobState.RUNNING)
JOB_TERMINAL_STATES = (JobState.DONE, JobState.FAILED, JobState.ERRORED, JobState.CANCELLED)


class Role(models.TextChoices):
    """A user's role in one store (core.access): each includes what the ones below it may do."""

    OWNER = "owner", _("Owner")
    OPERATOR = "operator", _("Operator")
    VIEWER = "viewer", _("Viewer")


class Level(models.TextChoices):
    INFO = "info", _("Info")
    WARNING = "warning", _("Warning")
    ERROR = "error", _("Error")


LEVEL_COLOURS = {Level.INFO: "#2b7", Level.WARNING: "#d90", Level.ERROR: "#d33"}


class Direction(models.TextChoices):
    OUT = "out", _("Outgoing")
    IN = "in", _("Incoming")


class ExchangeOutcome(models.TextChoices):
    PENDING = "pending", _("In flight")  # stored before the request: a crash leaves this behind
    OK = "ok", _("Succeeded")
    FAILED = "failed", _("Failed")
    REJECTED = "rejected", _("Rejected")  # inbound: authentication or validation refused it


class Service(models.TextChoices):
    OPENCART = "opencart", "OpenCart"
    VERIMOR = "verimor", "Verimor"
    NETGSM = "netgsm", "Netgsm"
    TWILIO = "twilio", "Twilio"
    SANDBOX = "sandbox", _("Sandbox")
    WHATSAPP = "whatsapp", "WhatsApp (Meta)"
    OZON = "ozon", "Ozon"
    ONEBOX = "onebox", "OneBox"
    APS = "aps", "Amazon Payment Services"
    LATITUDEPAY = "latitudepay", "LatitudePay"
    DESPATCH = "despatch", "Despatch Cloud"
    SMTP = "smtp", _("E-mail (SMTP)")
    TELEGRAM = "telegram", "Telegram"


class SideEffectState(models.TextChoices):
    """An outbox row's life (core.outbox): only the run that moved it requested → sending makes the call."""

    REQUESTED = "requested", _("Requested")  # key stored, nothing sent yet
    PAUSED = "paused", _("Paused (switched off)")  # its store, connection or feature was switched off before sending
    SENDING = "sending", _("Sending")  # one run owns the call now
    SENT = "sent", _("Sent")  # the provider accepted it (provider id known)
    UNKNOWN = "unknown", _("Unknown: may have been sent")  # no clear answer; never resent, a late result is applied
    FAILED = "failed", _("Failed")  # the provider refused it
    CANCELLED = "cancelled", _("Not sent")  # withdrawn before sending (paused too long, handed to a person)


SIDE_EFFECT_DONE = (SideEffectState.SENT, SideEffectState.UNKNOWN, SideEffectState.FAILED, SideEffectState.CANCELLED)


class OptOutScope(models.TextChoices):
    """What a number asked us not to do (core.optouts)."""

    ALL = "all", _("No calls and no messages")
    CALLS = "calls", _("No calls")
    MESSAGES = "messages", _("No messages (SMS, WhatsApp)")


class OptOutSource(models.TextChoices):
    OWNER = "owner", _("Added by a person")
    REPLY = "reply", _("The customer replied STOP")


class StockSource(models.TextChoices):
    """Where a store's stock is kept (DESIGN "One stock source per store"): that side is written nowhere else from,
    the others read. Each non-shop source is the Integration kind of the same name."""

    SHOP = "shop", _("The shop")
    OZON = "ozon", _("Ozon")
    ONEBOX = "onebox", _("OneBox")
    DESPATCH = "despatch", _("Despatch Cloud")
