"""The do-not-call / do-not-text list: numbers that asked not to be called or texted, per store or hub-wide.

Every channel that calls or texts a customer asks `blocked()` right before sending (COD attempts, polite answers,
a person's "call again"); a blocked confirmation goes to a person, never silently nowhere. Rows come from a person
on the dashboard (`add(..., source="owner")`) or from the customer's own reply ("STOP", "DUR", "СТОП", "RET" — parsed
by the channel's reply parser, recorded with `add(..., source="reply")`). A row with no store is hub-wide: it applies
to every store (added by a superuser). Phones are E.164; callers normalize them (ocbridge.opencart.phones).

- ``blocked(store, phone, channel) -> OptOut | None`` — the row forbidding `channel` ("call", "sms", "whatsapp").
- ``add(store, phone, *, scope, source, user="", note="", reply="") -> (OptOut, changed)`` — record it (widening an
  existing narrower row); `changed` is False when the number was already fully covered, so a repeated "STOP"
  is answered once.
- ``remove(row, *, user, reason="")`` — a person takes the number off the list (audited).
"""

from __future__ import annotations

from django.db import IntegrityError, transaction
from django.db.models import Q

from ocbridge.core import clock
from ocbridge.core.choices import OptOutScope, OptOutSource
from ocbridge.core.models import AuditEntry, OptOut, Store

CALL_CHANNELS = frozenset({"call"})


def covers(scope: str, channel: str) -> bool:
    """Whether a row of this scope forbids this channel (anything but a call is a message)."""
    if scope == OptOutScope.ALL:
        return True
    return scope == (OptOutScope.CALLS if channel in CALL_CHANNELS else OptOutScope.MESSAGES)


def rows_for(store: Store | None, phone: str):
    """The store's row and the hub-wide row for this number."""
    q = Q(store__isnull=True)
    if store is not None:
        q |= Q(store=store)
    return OptOut.objects.filter(q, phone=phone)


def blocked(store: Store | None, phone: str, channel: str) -> OptOut | None:
    if not phone:
        return None
    return next((row for row in rows_for(store, phone).order_by("store_id") if covers(row.scope, channel)), None)


def add(store: Store | None, phone: str, *, scope: str = OptOutScope.ALL, source: str = OptOutSource.OWNER,
        user: str = "", note: str = "", reply: str = "") -> tuple[OptOut, bool]:
    if not phone.startswith("+"):
        raise ValueError("an E.164 number is expected")
    OptOutScope(scope), OptOutSource(source)  # unknown values are a bug of the caller
    with transaction.atomic():
        row = OptOut.objects.select_for_update().filter(store=store, phone=phone).first()
        if row is not None:
            wider = OptOutScope.ALL if row.scope != scope else scope
            if wider == row.scope:
                return row, False
            OptOut.objects.filter(pk=row.pk).update(scope=wider)
            row.scope = wider
        else:
            try:
                with transaction.atomic():
                    row = OptOut.objects.create(store=store, phone=phone, scope=scope, source=source, user=user,
                                                note=note[:255], reply=reply[:500], created=clock.now())
            except IntegrityError:  # the same reply handled twice at once: the other run recorded it
                return OptOut.objects.get(store=store, phone=phone), False
        _audit("optout.add", row, user or "customer", note or reply)
    return row, True


def remove(row: OptOut, *, user: str, reason: str = "") -> None:
    with transaction.atomic():
        _audit("optout.remove", row, user, reason)
        row.delete()


def _audit(action: str, row: OptOut, user: str, reason: str) -> None:
    AuditEntry.objects.create(created=clock.now(), user=user, action=action, store=row.store,
                              object_type="optout", object_id=str(row.pk), reason=reason[:500],
                              data={"phone": row.phone, "scope": row.scope, "source": row.source})
