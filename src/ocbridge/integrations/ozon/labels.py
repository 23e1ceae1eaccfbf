"""Ozon product, posting and return states, and what the hub did at Ozon, in the reader's language (the pages
never show Ozon's raw codes or our own)."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from ocbridge.core.sentences import shown
from ocbridge.integrations.ozon.models import ProductStatus

# Posting statuses of /v4/posting/fbs/list (ozon.md §5); an unknown one is shown as Ozon sends it.
POSTING_STATES = {
    "acceptance_in_progress": _("Acceptance in progress"),
    "awaiting_approve": _("Awaiting approval"),
    "awaiting_packaging": _("Awaiting packaging"),
    "awaiting_registration": _("Awaiting registration"),
    "awaiting_deliver": _("Awaiting shipment"),
    "awaiting_verification": _("Awaiting verification"),
    "arbitration": _("Arbitration"),
    "client_arbitration": _("Delivery arbitration with the customer"),
    "delivering": _("On its way"),
    "driver_pickup": _("With the driver"),
    "delivered": _("Delivered"),
    "sent_by_seller": _("Sent by the seller"),
    "not_accepted": _("Not accepted at the sorting centre"),
    "cancelled": _("Cancelled"),
    "cancelled_from_split_pending": _("Cancelled (split)"),
}

PRODUCT_STATES = dict(ProductStatus.choices)


def product_state(code: str) -> str:
    return str(PRODUCT_STATES.get(code, code or "—"))


def posting_state(code: str) -> str:
    return str(POSTING_STATES.get(code, code or "—"))


# Where a posting's tracking number came from (tracking.py); an integration's own name is shown as it is.
TRACKING_SOURCES = {"comment": _("history comment"), "typed": _("typed in the hub"),
                    "history comment": _("history comment"), "typed in the hub": _("typed in the hub")}  # older rows


def tracking_source(code: str) -> str:
    return str(TRACKING_SOURCES.get(code, code or ""))


# What the hub does to a posting when the shop's status asks (jobs.AdvancePosting / CancelPosting).
STATUS_OUT_ACTIONS = {
    "ship": _("Pack"), "delivering": _("On its way"), "last_mile": _("Last mile"), "delivered": _("Delivered"),
    "cancel": _("Cancel"),
}
STATUS_OUT_STATES = {
    "sent": _("sent, Ozon is processing it"), "done": _("done"), "refused": _("refused"),
    "failed": _("failed, tried again"), "unknown": _("in doubt: not sent again, check it in Ozon"),
    "paused": _("paused while switched off"),
}


def status_out(action: str, out: dict) -> str:
    """One line of the orders page's "Sent to Ozon" column, e.g. "On its way: refused — Ozon does not allow it
    while the posting is Delivered"; Ozon's own words (substatus, error) follow as they are."""
    text = f"{STATUS_OUT_ACTIONS.get(action, action)}: {STATUS_OUT_STATES.get(out.get('state', ''), out.get('state', ''))}"
    why = out.get("why") or ""
    if why == "not_allowed":
        text += " — " + str(_("Ozon does not allow it while the posting is %(status)s")
                            % {"status": posting_state(out.get("posting_status", ""))})
    elif why == "no_tracking":
        text += " — " + str(_("no tracking number known (Despatch Cloud, history comment or typed in the hub)"))
    if out.get("detail"):  # as said where it was (core.sentences: the outbox row's reason), else as stored
        text += f" — {shown(out.get('detail_said'), out['detail'])}"
    return text


# Return states of /v1/returns/list (visual.status.sys_name), as Ozon's reference lists them for the
# visual_status_name filter (docs.ozon.ru/api/seller ReturnsAPI returnsList, read 2026-12-06); an unknown one is
# shown with Ozon's own display_name.
RETURN_STATES = {
    "DisputeOpened": _("Dispute opened with the customer"),
    "OnSellerApproval": _("Waiting for the seller's approval"),
    "ArrivedAtReturnPlace": _("At the pick-up point"),
    "OnSellerClarification": _("Waiting for the seller's clarification"),
    "OnSellerClarificationAfterPartialCompensation": _("Waiting for the seller's clarification after partial compensation"),
    "OfferedPartialCompensation": _("Partial compensation offered"),
    "ReturnMoneyApproved": _("Refund approved"),
    "PartialCompensationReturned": _("Part of the money returned"),
    "CancelledDisputeNotOpen": _("Return refused, no dispute opened"),
    "Rejected": _("Request rejected"),
    "CrmRejected": _("Request rejected by Ozon"),
    "Cancelled": _("Request cancelled"),
    "Approved": _("Request approved by the seller"),
    "ApprovedByOzon": _("Request approved by Ozon"),
    "ReceivedBySeller": _("Received by the seller"),
    "MovingToSeller": _("On its way to the seller"),
    "ReturningToSellerByCourier": _("A courier is bringing it to the seller"),
    "Utilizing": _("Being disposed of"),
    "Utilized": _("Disposed of"),
    "MoneyReturned": _("The customer got the whole amount back"),
    "PartialCompensationInProcess": _("Partial refund approved"),
    "DisputeYouOpened": _("The seller opened a dispute"),
    "CompensationRejected": _("Compensation refused"),
    "DisputeOpening": _("Request sent to Ozon support"),
    "CompensationOffered": _("Compensation offered: your decision"),
    "WaitingCompensation": _("Waiting for compensation"),
    "SendingError": _("The request to Ozon support failed"),
    "CompensationRejectedBySla": _("Decision time ran out"),
    "CompensationRejectedBySeller": _("The seller declined compensation"),
    "MovingToOzon": _("On its way to Ozon's warehouse"),
    "ReturnedToOzon": _("At Ozon's warehouse"),
    "MoneyReturnedBySystem": _("Quick refund"),
    "WaitingShipment": _("Waiting to be sent"),
}


def return_state(sys_name: str, display_name: str = "") -> str:
    return str(RETURN_STATES.get(sys_name or "", display_name or sys_name or "—"))
