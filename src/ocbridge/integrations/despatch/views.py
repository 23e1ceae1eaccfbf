"""Despatch Cloud pages: the fulfilment list (order, DC id, state, tracking, DC's message, retry), stock status
with "Sync now", "Test" of the connection."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_POST

from ocbridge.core import access, polls
from ocbridge.core.choices import Role
from ocbridge.core.errors import ConfigurationError, ServiceError, never_reached
from ocbridge.core.models import Binding, Integration
from ocbridge.core.sentences import words
from ocbridge.integrations.despatch import jobs, models as m
from ocbridge.integrations.despatch.config import stock_contradiction


def _integration(request, pk: int, role: str = Role.VIEWER) -> Integration:
    return access.get_scoped(Integration.objects.select_related("store", "connection"), request.user, role, pk=pk,
                             kind="despatch")


@login_required
def fulfilment(request, integration_pk: int) -> HttpResponse:
    integration = _integration(request, integration_pk)
    qs = Binding.objects.filter(connection_id=integration.connection_id, kind=m.ORDER).order_by("-id")
    state = request.GET.get("state", "")
    if state:
        qs = qs.filter(data__state=state)
    counts: dict[str, int] = {}
    for s in Binding.objects.filter(connection_id=integration.connection_id, kind=m.ORDER).values_list("data__state", flat=True):
        counts[s or ""] = counts.get(s or "", 0) + 1
    labels = dict(m.OrderState.choices)
    sync, direction = m.SyncState.of(integration), jobs.config_of(integration).stock_direction
    return render(request, "despatch/fulfilment.html", {
        "integration": integration, "store": integration.store, "nav": "stores", "state": state,
        "page": Paginator(qs, 50).get_page(request.GET.get("page")), "labels": labels,
        "states": [(value, label, counts.get(value, 0)) for value, label in m.OrderState.choices],
        "sync": sync, "refused": m.OrderState.REFUSED,
        "last_read": polls.last_read(jobs.POLL, polls.integration_key(integration), sync.last_orders_at),
        "stock_checked": polls.last_read(jobs.STOCK_POLL, polls.integration_key(integration), sync.last_stock_at),
        "stock_stopped": stock_contradiction(direction, integration.store.stock_source),
        "stock_on": direction != "off",
        "full_on": direction == "dc_to_shop", "full_at": _when(sync.stock_full.get("at")),
        "full_hours": [f"{h:02d}:00" for h in jobs.FULL_HOURS],
        # buttons only for the roles their actions need (the actions check again through get_scoped)
        "can_act": access.can(request.user, integration.store, Role.OPERATOR),
        "can_own": access.can(request.user, integration.store, Role.OWNER)})


def _when(text: str | None):
    """A stored ISO time as a datetime for the page (None: not recorded)."""
    from datetime import datetime

    try:
        return datetime.fromisoformat(text) if text else None
    except ValueError:
        return None


@login_required
@require_POST
def retry(request, integration_pk: int, order_id: int) -> HttpResponse:
    integration = _integration(request, integration_pk, Role.OPERATOR)
    jobs.retry_order(integration, order_id)
    messages.success(request, _("Order %(id)s will be sent to Despatch Cloud again.") % {"id": order_id})
    return redirect("despatch:overview", integration_pk=integration.pk)


@login_required
@require_POST
def sync_stock(request, integration_pk: int) -> HttpResponse:
    integration = _integration(request, integration_pk, Role.OPERATOR)
    direction = jobs.config_of(integration).stock_direction
    stopped = stock_contradiction(direction, integration.store.stock_source)
    if direction == "off":
        messages.error(request, _("Stock sync is off in the settings: nothing to run."))
    elif stopped:  # a run would only record that it stopped
        messages.error(request, _("Stock sync is stopped:") + " " + stopped)
    elif jobs.sync_stock_now(integration):
        messages.success(request, _("Stock sync queued; its result shows here when it has run."))
    else:
        messages.info(request, _("A stock sync was already asked for; its result shows here when it has run."))
    return redirect("despatch:overview", integration_pk=integration.pk)


@login_required
@require_POST
def test_connection(request, integration_pk: int) -> HttpResponse:
    integration = _integration(request, integration_pk, Role.OWNER)
    try:
        total = jobs.test_connection(integration)
    except (ServiceError, ConfigurationError) as exc:
        if never_reached(exc):  # a DNS failure or a timeout is not Despatch Cloud refusing
            messages.error(request, _("Despatch Cloud could not be reached: %(error)s") % {"error": words(exc)})
        else:
            messages.error(request, _("Despatch Cloud refused: %(error)s") % {"error": words(exc)})
    else:
        messages.success(request, ngettext("Connected. Despatch Cloud holds %(n)s order.",
                                           "Connected. Despatch Cloud holds %(n)s orders.", total) % {"n": total})
    return redirect("despatch:overview", integration_pk=integration.pk)
