"""A phone's history across the user's stores: every COD order, attempt and later outcome for one number.

Rows come only from the stores the user may see (core.access.scoped); the score is shown per visible store as that
store sees it — counts that may include other sharing stores' outcomes, never their names or orders. A number
with nothing in the user's stores is a 404, like a number nobody knows: the page never tells whether another
store has it.
"""

from __future__ import annotations

import re

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse
from django.shortcuts import render

from ocbridge.core import access
from ocbridge.dashboard.views.confirmations import installed

MAX_ROWS = 200  # a number with more orders than this is shown newest first, with a note


@login_required
def phone_history(request, phone: str) -> HttpResponse:
    if not installed() or not re.fullmatch(r"\d{6,15}", phone):
        raise Http404("No phone matches the given query.")
    from ocbridge.integrations.cod_confirm import risk
    from ocbridge.integrations.cod_confirm.models import Attempt, Confirmation, OrderOutcome

    e164 = "+" + phone
    cases = list(access.scoped(Confirmation.objects.filter(phone=e164), request.user)
                 .select_related("store").order_by("-created", "-pk")[:MAX_ROWS + 1])
    if not cases:
        raise Http404("No phone matches the given query.")
    more = len(cases) > MAX_ROWS
    cases = cases[:MAX_ROWS]
    attempts: dict[int, list] = {}
    for a in Attempt.objects.filter(confirmation__in=[c.pk for c in cases]).order_by("number", "pk"):
        attempts.setdefault(a.confirmation_id, []).append(a)
    outcomes = {o.confirmation_id: o for o in access.scoped(OrderOutcome.objects.filter(
        confirmation__in=[c.pk for c in cases]), request.user)}
    for c in cases:
        c.attempt_list = attempts.get(c.pk, [])
        c.outcome = outcomes.get(c.pk)
    stores = {c.store_id: c.store for c in cases}
    scores = risk.lookup_many((s, e164) for s in stores)
    return render(request, "dashboard/phone.html", {
        "phone": e164, "cases": cases, "more": more, "nav": "confirmations",
        "scores": [(s, scores.get((s.pk, e164))) for s in sorted(stores.values(), key=lambda s: s.name)]})
