"""Order lookup dashboard page: recent calls (caller, order found, what was spoken, outcome) and counts."""

from __future__ import annotations

import datetime as dt

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db.models import Count
from django.http import HttpResponse
from django.shortcuts import render

from ocbridge.core import access, clock
from ocbridge.core.models import Store
from ocbridge.integrations.order_lookup.choices import CallOutcome
from ocbridge.integrations.order_lookup.models import LookupCall
from ocbridge.opencart.phones import mask


def outcome_counts(store: Store | None = None, days: int = 30, *, calls=None) -> dict[str, int]:
    """Calls per outcome in the last `days` days (`answered` = answered without a person), of `calls` (a scoped
    queryset) or of every call."""
    qs = (LookupCall.objects if calls is None else calls).filter(created__gte=clock.now() - dt.timedelta(days=days))
    if store is not None:
        qs = qs.filter(store=store)
    counts = {row["outcome"]: row["n"] for row in qs.values("outcome").annotate(n=Count("id"))}
    return {value: counts.get(value, 0) for value in CallOutcome.values}


def overview_card(store, period) -> dict | None:
    """Overview card (dashboard `extras["overview_cards"]`): calls answered without a person in the period."""
    from django.urls import reverse
    from django.utils.translation import gettext as _

    qs = LookupCall.objects.filter(created__gte=period.start, created__lt=period.end)
    if store is not None:
        qs = qs.filter(store=store)
    counts = {row["outcome"]: row["n"] for row in qs.values("outcome").annotate(n=Count("id"))}
    total = sum(counts.values())
    if not total:
        return None
    link = reverse("order_lookup:calls") + (f"?store={store.pk}" if store is not None else "")
    return {"title": _("Order status calls"), "value": f"{counts.get(CallOutcome.ANSWERED, 0)} / {total}",
            "note": _("answered without a person"),
            "rows": [(label, str(counts.get(value, 0))) for value, label in CallOutcome.choices if counts.get(value)],
            "link": link, "link_text": _("Recent calls")}


@login_required
def calls(request) -> HttpResponse:
    LookupCall.settle_stale()
    store = None
    visible = access.scoped(LookupCall, request.user)
    qs = visible.select_related("store").order_by("-id")
    stores = access.scoped(Store, request.user)
    if request.GET.get("store", "").isdigit():
        store = stores.filter(pk=int(request.GET["store"])).first()
        qs = qs.filter(store=store)
    if request.GET.get("outcome") in CallOutcome.values:
        qs = qs.filter(outcome=request.GET["outcome"])
    page = Paginator(qs, 50).get_page(request.GET.get("page"))
    for call in page:
        call.caller_masked = mask(call.caller) if call.caller else (call.caller_raw[:3] + "…" if call.caller_raw else "")
    counts = outcome_counts(store, calls=visible)
    return render(request, "order_lookup/calls.html", {
        "page": page, "counts": counts, "answered": counts[CallOutcome.ANSWERED], "total": sum(counts.values()),
        "stores": stores, "store": store, "outcome": request.GET.get("outcome", ""),
        "outcomes": CallOutcome.choices, "nav": "order_lookup"})
