"""States of a Confirmation and of one attempt, with labels and colours used by logic and UI alike."""

from django.db import models
from django.utils.translation import gettext_lazy as _


class ConfirmationState(models.TextChoices):
    NEW = "new", _("New")
    SCHEDULED = "scheduled", _("Scheduled")
    CALLING = "calling", _("Calling")
    SMS_SENT = "sms_sent", _("SMS sent")
    WHATSAPP_SENT = "whatsapp_sent", _("WhatsApp sent")
    NO_ANSWER = "no_answer", _("No answer")  # between attempts: a retry is scheduled
    CONFIRMED = "confirmed", _("Confirmed")
    CANCELLED = "cancelled", _("Cancelled")
    FAILED = "failed", _("Failed")
    EXPIRED = "expired", _("Attempts used up")
    NEEDS_PERSON = "needs_person", _("Needs a person")
    RESOLVED_IN_SHOP = "resolved_in_shop", _("Resolved in the shop")
    SKIPPED = "skipped", _("Not checked (rule)")  # the owner's rules exclude it: total bounds, trusted customer
    AWAITING_PAYMENT = "awaiting_payment", _("Waiting for the payment")  # the customer chose to pay by link


STATE_COLOURS = {
    "new": "#999", "scheduled": "#69c", "calling": "#39f", "sms_sent": "#39f", "whatsapp_sent": "#39f", "no_answer": "#d90",
    "confirmed": "#2a7", "cancelled": "#d33", "failed": "#a00", "expired": "#b70", "needs_person": "#c5c",
    "resolved_in_shop": "#777", "skipped": "#bbb", "awaiting_payment": "#17a",
}
# Decided: nothing more will be sent. NEEDS_PERSON is open for people, closed for the robot.
TERMINAL = frozenset({"confirmed", "cancelled", "failed", "expired", "resolved_in_shop", "skipped"})
# AWAITING_PAYMENT: no more calls or texts; the payment (or its expiry: a person) decides.
ROBOT_DONE = TERMINAL | {"needs_person", "awaiting_payment"}
OPEN = frozenset({"new", "scheduled", "calling", "sms_sent", "whatsapp_sent", "no_answer"})
# The customer's answer is awaited on these.
AWAITING = frozenset({"calling", "sms_sent", "whatsapp_sent"})


class Channel(models.TextChoices):
    CALL = "call", _("Call")
    SMS = "sms", _("SMS")
    WHATSAPP = "whatsapp", _("WhatsApp")


class AttemptState(models.TextChoices):
    REQUESTED = "requested", _("Requested")  # key stored, request not yet answered
    IN_FLIGHT = "in_flight", _("Waiting for the customer")
    ANSWERED = "answered", _("Answered")
    NO_ANSWER = "no_answer", _("No answer")
    # Taken by the provider, then reported never delivered (an SMS report, WhatsApp's failed status): it never rang
    # or arrived, so it is neither answered nor unanswered (risk marks, the overview's answer rate).
    UNDELIVERED = "undelivered", _("Not delivered")
    FAILED = "failed", _("Failed")
    UNKNOWN = "unknown", _("Unknown: may have been sent")
    DRY_RUN = "dry_run", _("Dry run: nothing sent")
    OVER_CAP = "over_cap", _("Not made: the store's daily cap was reached")
    # Paused while COD confirmation was switched off, then not sent on switch-on (watchdog.resume_or_hand_over).
    WITHDRAWN = "withdrawn", _("Not made: paused while switched off")


# Attempts that never went out: neither sent nor answered nor unanswered (the overview's figures; a person's "again"
# takes the next number after them: actions._next_number).
NOT_MADE = frozenset({AttemptState.DRY_RUN, AttemptState.OVER_CAP, AttemptState.WITHDRAWN})
# Attempts that rang or arrived (or may have): their customer was reached, answering or not (risk marks).
REACHED = frozenset({AttemptState.IN_FLIGHT, AttemptState.UNKNOWN, AttemptState.ANSWERED, AttemptState.NO_ANSWER})


class Intent(models.TextChoices):
    CONFIRM = "confirm", _("Confirm")
    CANCEL = "cancel", _("Cancel")
    AGENT = "agent", _("Talk to a person")
    STOP = "stop", _("Stop calling and texting me")
    PAY = "pay", _("Pay now by card")
    UNKNOWN = "unknown", _("Not understood")
