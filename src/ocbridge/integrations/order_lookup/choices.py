"""ChoiceSets of order lookup: how a call ended and why we handed it to a person."""

from django.db import models
from django.utils.translation import gettext_lazy as _


class CallOutcome(models.TextChoices):
    IN_PROGRESS = "in_progress", _("In progress")
    ANSWERED = "answered", _("Answered without a person")
    TRANSFERRED = "transferred", _("Transferred to a person")
    HUNG_UP = "hung_up", _("Hung up")
    NOT_HANDLED = "not_handled", _("Not handled (provider has no decision API)")


OUTCOME_COLOURS = {CallOutcome.IN_PROGRESS: "#888", CallOutcome.ANSWERED: "#2b7", CallOutcome.TRANSFERRED: "#d90",
                   CallOutcome.HUNG_UP: "#999", CallOutcome.NOT_HANDLED: "#d33"}


class Reason(models.TextChoices):
    """Why a call went to a person (or ended); WARNING_REASONS are logged as warnings."""

    REP_REQUESTED = "rep_requested", _("Caller pressed 0")
    NO_INPUT = "no_input", _("Caller typed nothing")
    HIDDEN_CALLER = "hidden_caller", _("Hidden or malformed caller number")
    UNKNOWN_LINE = "unknown_line", _("Called number is not answered by this store")
    RATE_LIMITED = "rate_limited", _("Too many lookups from this number")
    DB_DOWN = "db_down", _("Shop database not reachable")
    BAD_REQUEST = "bad_request", _("Malformed request from the provider")
    NOT_CONFIGURED = "not_configured", _("Order lookup is not set up for this store")
    NOT_FOUND = "not_found", _("Order not found")
    PHONE_MISMATCH = "phone_mismatch", _("Order belongs to another phone number")
    STATUS_NOT_SPOKEN = "status_not_spoken", _("Status is not one we may read out")
    DONE = "done", _("Status read out")
    NO_DECISION_API = "no_decision_api", _("Provider cannot ask us what to say")
    SENT_SMS = "sent_sms", _("Status sent by SMS")
    SENT_VOICE = "sent_voice", _("Status sent as a voice message")
    OPTED_OUT = "opted_out", _("Not sent: the caller is on the do-not-contact list")
    OVER_CAP = "over_cap", _("Not sent: the store's daily cap was reached")


WARNING_REASONS = {Reason.HIDDEN_CALLER, Reason.UNKNOWN_LINE, Reason.RATE_LIMITED, Reason.DB_DOWN, Reason.BAD_REQUEST,
                   Reason.NOT_CONFIGURED, Reason.NO_DECISION_API}
