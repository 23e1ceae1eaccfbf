"""The overview page and the static assets (CSS/JS) every page uses."""

from __future__ import annotations

from pathlib import Path

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse
from django.shortcuts import render
from django.views.decorators.cache import cache_control
from django.views.decorators.http import require_GET

from ocbridge.core.attention import needs_attention, orders_needing_you
from ocbridge.core import access
from ocbridge.core.models import Store
from ocbridge.dashboard.forms import BulkActionForm
from ocbridge.dashboard.overview import Period, build_cards, display_tz

ASSETS = {"app.css": "text/css; charset=utf-8", "app.js": "text/javascript; charset=utf-8"}
ASSET_DIR = Path(__file__).resolve().parent.parent / "assets"
PERIODS = (7, 14, 30, 90)
DEFAULT_DAYS = 30


@login_required
def home(request) -> HttpResponse:
    store = None
    visible = access.scoped(Store, request.user)
    stores = list(visible.order_by("name", "pk")[:200])
    if request.GET.get("store", "").isdigit():
        store = visible.filter(pk=int(request.GET["store"])).first()
    if store is None and stores and ("store" not in request.GET and len(stores) == 1
                                     or not access.sees_everything(request.user)):
        # one shop: its own numbers, in its own time zone and currency; "all stores" is the administrators' view
        store = stores[0]
    if store is None and not access.sees_everything(request.user):
        return render(request, "dashboard/no_store.html", {"nav": "overview"})
    try:
        days = int(request.GET.get("days", DEFAULT_DAYS))
    except ValueError:
        days = DEFAULT_DAYS
    days = days if days in PERIODS else DEFAULT_DAYS
    period = Period.last(days, display_tz(store))
    scope = visible if store is None else visible.filter(pk=store.pk)
    attention = needs_attention(scope)
    return render(request, "dashboard/overview.html", {
        "cards": build_cards(store, period), "stores": stores, "store": store, "days": days,
        "periods": PERIODS, "period": period, "nav": "overview", "attention": attention,
        "orders_need_you": orders_needing_you(attention), "need_you": _need_you(scope),
        "bulk_form": BulkActionForm(), "live": True})


NEED_YOU_ROWS = 10  # the oldest ten; the box links to the whole filtered list


def _need_you(scope) -> list:
    """The oldest COD orders waiting for a person, for the bulk form (the full list is on Confirmations)."""
    from django.apps import apps

    if not apps.is_installed("ocbridge.integrations.cod_confirm"):
        return []
    from ocbridge.integrations.cod_confirm.models import Confirmation

    from ocbridge.integrations.cod_confirm import risk

    rows = list(Confirmation.objects.filter(store__in=scope, state="needs_person").select_related("store")
                .order_by("created", "pk")[:NEED_YOU_ROWS])
    risk.annotate(rows)  # the phone's score beside each order a person decides on
    return rows


@require_GET
@cache_control(max_age=3600, public=True)
def asset(request, name: str) -> HttpResponse:
    """Our own CSS/JS, served by Django in every mode (no collectstatic, no CDN); public like any stylesheet."""
    if name not in ASSETS:
        raise Http404
    return HttpResponse((ASSET_DIR / name).read_bytes(), content_type=ASSETS[name])
