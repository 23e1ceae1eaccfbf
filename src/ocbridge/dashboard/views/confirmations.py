"""COD confirmation pages: the list (filters) and one order's timeline. Shown only when cod_confirm is installed."""

from __future__ import annotations

import datetime as dt

from django.apps import apps
from django.contrib.auth.decorators import login_required
from django.db.models import Q
from django.shortcuts import get_object_or_404, render

from ocbridge.core import clock
from ocbridge.core.models import Exchange, Job
from ocbridge.dashboard.filters import keyset_page
from ocbridge.dashboard.forms import ConfirmationFilterForm

APP = "ocbridge.integrations.cod_confirm"


def installed() -> bool:
    return apps.is_installed(APP)


@login_required
def confirmation_list(request):
    if not installed():
        return render(request, "dashboard/confirmations/missing.html", {"nav": "confirmations"})
    from ocbridge.integrations.cod_confirm.models import Confirmation

    form = ConfirmationFilterForm(request.GET or None)
    data = form.cleaned_data if form.is_valid() else {}
    qs = Confirmation.objects.select_related("store")
    if data.get("state"):
        qs = qs.filter(state=data["state"])
    if data.get("store"):
        qs = qs.filter(store=data["store"])
    if data.get("channel"):
        qs = qs.filter(attempts__channel=data["channel"]).distinct()
    if data.get("start"):
        qs = qs.filter(created__gte=data["start"])
    if data.get("end"):
        qs = qs.filter(created__lt=data["end"] + dt.timedelta(days=1))
    if data.get("q"):
        q = data["q"].strip()
        cond = Q(customer_name__icontains=q) | Q(order_label__icontains=q) | Q(phone__contains=q.replace(" ", ""))
        if q.isdigit():
            cond |= Q(order_id=int(q))
        qs = qs.filter(cond)
    page = keyset_page(qs, request.GET.get("before"))
    params = request.GET.copy()
    params.pop("before", None)
    return render(request, "dashboard/confirmations/list.html", {
        "form": form, "page": page, "nav": "confirmations", "query": params.urlencode()})


@login_required
def confirmation_detail(request, pk: int):
    if not installed():
        return render(request, "dashboard/confirmations/missing.html", {"nav": "confirmations"})
    from ocbridge.integrations.cod_confirm.models import Confirmation

    c = get_object_or_404(Confirmation.objects.select_related("store", "integration"), pk=pk)
    # One timeline: state changes, attempts and the Exchanges about this order, oldest first.
    events = [(t.created, "transition", t) for t in c.transitions.select_related("exchange")]
    events += [(a.created, "attempt", a) for a in c.attempts.all()]
    exchanges = Exchange.objects.filter(store=c.store, order_id=c.order_id).order_by("-pk")[:100]
    events += [(e.created, "exchange", e) for e in exchanges]
    events.sort(key=lambda e: (e[0], {"transition": 0, "attempt": 1, "exchange": 2}[e[1]]))
    jobs = Job.objects.filter(key__contains=f":{c.store_id}:{c.order_id}:").order_by("-pk")[:50]
    return render(request, "dashboard/confirmations/detail.html", {
        "c": c, "events": events, "jobs": jobs, "nav": "confirmations", "now": clock.now()})
