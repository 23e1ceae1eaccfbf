"""Turning filter forms into querysets (pages and sorting: dashboard/tables.py)."""

from __future__ import annotations

import datetime as dt

from django.db.models import Q, QuerySet

from ocbridge.core import access, clock
from ocbridge.core.models import Exchange, Job
from ocbridge.dashboard.forms import ExchangeFilterForm, JobFilterForm

DEFAULT_LOG_DAYS = 7


def exchange_queryset(form: ExchangeFilterForm, user) -> tuple[QuerySet, dt.datetime, dt.datetime]:
    """The user's filtered Exchanges, always bounded by a time range so a text search never scans the whole log."""
    data = form.cleaned_data if form.is_valid() else {}
    end = data.get("end") or clock.now()
    start = data.get("start") or end - dt.timedelta(days=DEFAULT_LOG_DAYS)
    qs = access.scoped(Exchange.objects.filter(created__gte=start, created__lt=end), user)
    for name in ("level", "service", "direction"):
        if data.get(name):
            qs = qs.filter(**{name: data[name]})
    if data.get("store"):
        qs = qs.filter(store=data["store"])
    if data.get("order") is not None:
        qs = qs.filter(order_id=data["order"])
    if data.get("job"):
        qs = qs.filter(job_id=data["job"])
    if data.get("q"):
        q = data["q"]
        qs = qs.filter(Q(url__icontains=q) | Q(request_body__icontains=q) | Q(response_body__icontains=q)
                       | Q(error__icontains=q))
    return qs, start, end


def job_queryset(form: JobFilterForm, user) -> QuerySet:
    data = form.cleaned_data if form.is_valid() else {}
    qs = access.scoped(Job.objects.select_related("store"), user)
    if data.get("state"):
        qs = qs.filter(state=data["state"])
    if data.get("kind"):
        qs = qs.filter(kind__startswith=data["kind"])
    if data.get("store"):
        qs = qs.filter(store=data["store"])
    return qs
