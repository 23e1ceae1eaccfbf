"""Ozon product and posting states in the reader's language (the pages never show Ozon's raw codes)."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

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
