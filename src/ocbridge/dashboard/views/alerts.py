"""A user's alert routes (core.alerts): where their alerts go — e-mail or Telegram, one store or all of theirs, what,
how often — with a test message. Each user sees and changes only their own routes; a route's store is one the user
may see (core.access), and alerts only ever speak of those stores."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import translation
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from ocbridge.core import access, alerts
from ocbridge.core.models import AlertRoute, Job, SideEffect, Store
from ocbridge.dashboard.audit import audit
from ocbridge.dashboard.forms import AlertRouteForm


def _own(request, pk: int) -> AlertRoute:
    return get_object_or_404(AlertRoute.objects.select_related("store"), pk=pk, user=request.user)  # others': 404


@login_required
def alert_routes(request) -> HttpResponse:
    stores = access.scoped(Store, request.user).order_by("name")
    form = AlertRouteForm(request.POST or None, stores=stores, instance=AlertRoute(user=request.user))
    if request.method == "POST" and form.is_valid():
        route = form.save()
        audit(request, "alerts.add", store=route.store, channel=route.channel, target=route.target)
        messages.success(request, _("Alerts will go to %(target)s.") % {"target": route.target})
        return redirect("dashboard:alerts")
    routes = AlertRoute.objects.filter(user=request.user).select_related("store")
    labels = dict(alerts.source_choices())
    return render(request, "dashboard/alerts.html", {
        "form": form, "nav": "alerts",
        "routes": [(r, [labels.get(s, s) for s in r.sources], _last_test(r)) for r in routes]})


def _last_test(route: AlertRoute) -> SideEffect | None:
    return SideEffect.objects.filter(key__startswith=f"alert-test:{route.pk}:").order_by("-id").first()


@login_required
@require_POST
def alert_route_remove(request, pk: int) -> HttpResponse:
    route = _own(request, pk)
    audit(request, "alerts.remove", store=route.store, channel=route.channel, target=route.target)
    route.delete()
    messages.success(request, _("Alerts no longer go to %(target)s.") % {"target": route.target})
    return redirect("dashboard:alerts")


@login_required
@require_POST
def alert_route_test(request, pk: int) -> HttpResponse:
    """One test message through the route's channel, as an alert would go (a job and an outbox row, audited)."""
    route = _own(request, pk)
    entry = audit(request, "alerts.test", store=route.store, channel=route.channel, target=route.target)
    with translation.override(route.language or translation.get_language()):  # as the route's alerts are written
        subject, body = _("ocbridge test alert"), _("This is a test from ocbridge: alerts reach you here.")
    Job.objects.enqueue(alerts.SendAlert, key=f"alert-test:{route.pk}:{entry.pk}", store=route.store,
                        payload={"route": route.pk, "n": 0, "subject": subject, "body": body})
    messages.info(request, _("A test message is on its way; its outcome shows next to the route."))
    return redirect("dashboard:alerts")
