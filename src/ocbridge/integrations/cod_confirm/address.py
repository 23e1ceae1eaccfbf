"""The customer corrects their own delivery address (and may confirm) from a link in the confirmation message.

`{address_link}` in an SMS text becomes a short hub URL, `/a/<token>`: the token is the confirmation's id and the
time it was made, signed with the hub's secret (django.core.signing, own salt), so it cannot be guessed or
altered, and it expires after LINK_DAYS. The page (dashboard-free, in the customer's language: tr, ru, en, ar) shows the
address the shop has and lets the customer correct it and/or confirm the order — only while the case is still
open (not decided) and the order is still at the status it had when the hub took it on (Pending).

A submitted page queues one job (`ApplyCustomerPage`, keyed by the confirmation and the new address, so a double
submit writes once): it writes the address through the shop's journaled write API (opencart.writes.update_address:
OpenCart's shipping_* columns and a history row naming the old address), notes it in the timeline and the audit
log, and then — when the customer also pressed "confirm" — decides the order, so the status write never
overtakes the address write.
"""

from __future__ import annotations

import hashlib
import json

from django.conf import settings
from django.core import signing
from django.urls import reverse

from ocbridge.core import clock
from ocbridge.core.jobkinds import about_order
from ocbridge.core.jobs import JobKind, register_job_kind
from ocbridge.core.models import AuditEntry, Job
from ocbridge.integrations.cod_confirm import shop
from ocbridge.integrations.cod_confirm.choices import OPEN, ConfirmationState, Intent
from ocbridge.integrations.cod_confirm.models import Confirmation
from ocbridge.opencart.writes import ADDRESS_FIELDS

SALT = "ocbridge.cod_confirm.address"
LINK_DAYS = 3  # a COD order is confirmed or given up well within this
LANGUAGES = ("en", "tr", "ru", "ar")
CHANNEL = "web"  # the channel of a decision made on this page (Transition.channel)
COMMENT = "Delivery address corrected by the customer (ocbridge). Before: {old}"


class LinkRefused(Exception):
    """`reason`: "invalid" (not made by this hub) or "expired"."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


def token_for(c: Confirmation) -> str:
    """ "<id>.<time>:<signature>": the time by the hub's clock (core.clock), so tests can move it."""
    return signing.Signer(salt=SALT).sign(f"{c.pk}.{signing.b62_encode(int(clock.now().timestamp()))}")


def url_for(c: Confirmation) -> str:
    return settings.PUBLIC_URL + reverse("cod-address", kwargs={"token": token_for(c)})


def confirmation_of(token: str) -> Confirmation:
    try:
        pk, _sep, made = signing.Signer(salt=SALT).unsign(token).partition(".")
        age = clock.now().timestamp() - signing.b62_decode(made)
        pk = int(pk)
    except (signing.BadSignature, ValueError):
        raise LinkRefused("invalid") from None
    if age > LINK_DAYS * 86400:
        raise LinkRefused("expired")
    c = Confirmation.objects.select_related("store", "integration").filter(pk=pk).first()
    if c is None:
        raise LinkRefused("invalid")
    return c


def still_open(c: Confirmation) -> bool:
    """The customer may still change things: the case is undecided (the robot's or a person's)."""
    return c.state in OPEN | {ConfirmationState.NEEDS_PERSON}


def language_of(c: Confirmation, asked: str = "") -> str:
    lang = (asked or c.language or "en")[:2].lower()
    return lang if lang in LANGUAGES else "en"


def submit(c: Confirmation, address: dict[str, str] | None, *, confirm: bool, remote: str = "") -> Job | None:
    """Queue what the customer sent (None: nothing to do). The address only when it differs from the shop's."""
    if not still_open(c) or (address is None and not confirm):
        return None
    payload = {"confirmation_id": c.pk, "address": address, "confirm": bool(confirm)}
    digest = hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:16]
    AuditEntry.objects.create(created=clock.now(), user="customer", action="cod_confirm.customer_page",
                              store=c.store, object_type="confirmation", object_id=str(c.pk),
                              data={"address": address, "confirm": bool(confirm), "remote": remote})
    return Job.objects.enqueue(ApplyCustomerPage, key=f"cod_confirm:{c.store_id}:{c.order_id}:page:{digest}",
                               integration=c.integration, payload=payload)


@register_job_kind
class ApplyCustomerPage(JobKind):
    """The customer's corrected address written to the shop (once), then their "confirm" decided."""

    kind = "cod_confirm.customer_page"
    max_attempts = 12
    backoff_max = 1800.0

    def run(self, job: Job) -> None:
        from ocbridge.integrations.cod_confirm.jobs import decide

        c = Confirmation.objects.select_related("integration", "store").get(pk=job.payload["confirmation_id"])
        about_order(c.order_id)
        if not still_open(c):
            c.move(c.state, expect={c.state}, reason="the customer's page came after the order was decided; "
                                                     "nothing changed")
            return
        address = job.payload.get("address")
        if address:
            new = {k: str(address.get(k, "")) for k in ADDRESS_FIELDS}
            result = shop.write_address(c.store, c.order_id, expected=c.status_at_start, address=new,
                                        comment=COMMENT, key=job.key)
            if not result.written:
                c.move(c.state, expect={c.state}, reason=f"address not changed: the order status is "
                                                         f"{result.current_status} in the shop now")
                return
            old = (shop.write_marks(job.key) or {}).get("old", {})
            note = f"delivery address corrected by the customer: {_one_line(old)} → {_one_line(new)}"
            if not result.repeated or not c.transitions.filter(reason=note).exists():  # once, even when re-run
                c.move(c.state, expect={c.state}, channel=CHANNEL, reason=note)
                AuditEntry.objects.create(created=clock.now(), user="customer", action="cod_confirm.address",
                                          store=c.store, object_type="confirmation", object_id=str(c.pk),
                                          data={"old": old, "new": new})
        if job.payload.get("confirm"):
            decide(c, Intent.CONFIRM, channel=CHANNEL, detail="confirmed by the customer on the address page")


def _one_line(address: dict) -> str:
    return ", ".join(str(address.get(k) or "") for k in ADDRESS_FIELDS if address.get(k)) or "—"
