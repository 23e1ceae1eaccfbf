"""Ozon dashboard pages: status, products (mapped / imported / failed with Ozon's errors), orders, mapping."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db.models import Count
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_POST

from ocbridge.core import access, polls
from ocbridge.core.choices import Role
from ocbridge.core.jobs import slot_key
from ocbridge.core.errors import ConfigurationError, ServiceError
from ocbridge.core.models import Binding, Exchange, Integration, Job
from ocbridge.integrations.ozon import catalog, jobs, models as m
from ocbridge.integrations.ozon.config import OzonConfig
from ocbridge.integrations.ozon.forms import AttributeMapForm, CategoryMapForm
from ocbridge.opencart import statuses


def _integration(request, pk: int, role: str = Role.VIEWER) -> Integration:
    return access.get_scoped(Integration.objects.select_related("store", "connection"), request.user, role, pk=pk,
                             kind="ozon")


def _ctx(integration: Integration, tab: str, **extra) -> dict:
    return {"integration": integration, "store": integration.store, "tab": tab, "nav": "stores", **extra}


def product_counts(integration: Integration) -> dict[str, int]:
    if integration.connection_id is None:
        return {}
    counts: dict[str, int] = {}
    for data in Binding.objects.filter(connection_id=integration.connection_id, kind=m.PRODUCT).values_list("data", flat=True):
        counts[data.get("status", "")] = counts.get(data.get("status", ""), 0) + 1
    return counts


@login_required
def overview(request, integration_pk: int) -> HttpResponse:
    integration = _integration(request, integration_pk)
    state = m.SyncState.of(integration)
    orders = Binding.objects.filter(connection_id=integration.connection_id, kind=m.POSTING)
    return render(request, "ozon/overview.html", _ctx(
        integration, "overview", state=state, counts=product_counts(integration), orders_total=orders.count(),
        orders_read=polls.last_read(jobs.ORDERS_POLL, polls.integration_key(integration), state.last_orders_at),
        sync_checked=polls.last_ok(jobs.SYNC_POLL, polls.integration_key(integration)),
        orders_warned=sum(1 for d in orders.values_list("data", flat=True) if d.get("warnings")),
        tasks=m.ImportTask.objects.filter(integration=integration)[:10],
        jobs=Job.objects.filter(integration=integration).values("kind", "state").annotate(n=Count("id")).order_by("kind"),
        exchanges=Exchange.objects.filter(connection_id=integration.connection_id).order_by("-id")[:10]))


@login_required
def products(request, integration_pk: int) -> HttpResponse:
    integration = _integration(request, integration_pk)
    qs = Binding.objects.filter(connection_id=integration.connection_id, kind=m.PRODUCT).order_by("local_id")
    status = request.GET.get("status", "")
    if status:
        qs = qs.filter(data__status=status)
    page = Paginator(qs, 50).get_page(request.GET.get("page"))
    imported = Binding.objects.filter(connection_id=integration.connection_id, kind=m.IMPORTED).order_by("-id")
    return render(request, "ozon/products.html", _ctx(integration, "products", page=page, status=status,
                                                      statuses=m.ProductStatus.choices, counts=product_counts(integration),
                                                      imported=imported[:100], imported_total=imported.count()))


@login_required
def orders(request, integration_pk: int) -> HttpResponse:
    integration = _integration(request, integration_pk)
    qs = Binding.objects.filter(connection_id=integration.connection_id, kind=m.POSTING).order_by("-id")
    page = Paginator(qs, 50).get_page(request.GET.get("page"))
    return render(request, "ozon/orders.html", _ctx(integration, "orders", page=page))


@login_required
@require_POST
def set_tracking(request, integration_pk: int, binding_pk: int) -> HttpResponse:
    """A tracking number typed in the hub for an rFBS posting (the last source tried; see tracking.py). Audited;
    sent with the next delivery step, or now when the posting is already past packing."""
    from ocbridge.core.models import AuditEntry

    integration = _integration(request, integration_pk, Role.OPERATOR)
    b = get_object_or_404(Binding, pk=binding_pk, connection_id=integration.connection_id, kind=m.POSTING)
    number = request.POST.get("tracking_number", "").strip()
    if not number or len(number) > 64 or not number.replace("-", "").isalnum():
        messages.error(request, _("A tracking number is 1–64 letters, digits or dashes."))
        return redirect("ozon:orders", integration_pk=integration.pk)
    b.data = {**b.data, "tracking_typed": number}
    b.save(update_fields=["data"])
    AuditEntry.objects.create(user=request.user.get_username(), action="ozon.tracking", store=integration.store,
                              object_type="posting", object_id=b.external_id, data={"tracking_number": number})
    step = next((s for s in ("delivered", "last_mile", "delivering") if s in (b.data.get("status_out") or {})), None)
    if step and not b.local_id.startswith("pending:"):
        Job.objects.enqueue(jobs.AdvancePosting, key=f"ozon:{integration.store_id}:posting-{b.external_id}:tracking:"
                            f"{number}", integration=integration,
                            payload={"posting_number": b.external_id, "order_id": int(b.local_id), "target": step})
    messages.success(request, _("Tracking number saved."))
    return redirect("ozon:orders", integration_pk=integration.pk)


def _category_tree(request, integration: Integration) -> list[dict]:
    """Ozon's category tree (loaded once a day); Ozon unreachable: the page says why and uses the cached copy."""
    try:
        return catalog.tree(jobs.client_for(integration), integration.connection)
    except (ServiceError, ConfigurationError) as exc:
        messages.error(request, catalog.failure_text(exc))
        return catalog.cached_tree(integration.connection)


@login_required
def mapping(request, integration_pk: int) -> HttpResponse:
    integration = _integration(request, integration_pk, Role.OWNER if request.method == "POST" else Role.VIEWER)
    cfg = OzonConfig.from_settings(integration.settings)
    leaves = catalog.leaves(_category_tree(request, integration)) if integration.connection else []
    query = request.GET.get("q", "").strip().lower()
    shown = [leaf for leaf in leaves if query in leaf["label"].lower()] if query else leaves
    categories = statuses.categories_for(integration.store)
    if categories is None:
        messages.warning(request, _("The shop's categories could not be read: enter category ids."))
    names = dict(categories or [])
    by_pair = {(leaf["description_category_id"], leaf["type_id"]): leaf["label"] for leaf in leaves}
    # each mapping as the owner reads it: the shop's category path and Ozon's (ids where a name is unknown)
    rows = [{"key": key, "shop": f"{names[int(key)]} ({key})" if key.isdigit() and int(key) in names else key,
             "ozon": by_pair.get((mp.get("description_category_id"), mp.get("type_id")), ""), **mp}
            for key, mp in cfg.category_map.items()]
    cat_form = CategoryMapForm(leaves=shown[:500], categories=categories)
    attr_form = AttributeMapForm()
    if request.method == "POST":
        action = request.POST.get("action")
        if action == "refresh":
            Job.objects.enqueue(jobs.RefreshCatalog, key=slot_key(f"ozon:{integration.store_id}:refresh", 60),
                                integration=integration)
            messages.success(request, _("The Ozon category tree will be fetched in the background."))
            return redirect("ozon:mapping", integration_pk=integration.pk)
        form = CategoryMapForm(request.POST, leaves=leaves, categories=categories) if action == "category" \
            else AttributeMapForm(request.POST)
        if action == "category":
            cat_form = form
        else:
            attr_form = form
        if action == "delete-category":
            cfg.category_map.pop(request.POST.get("key", ""), None)
        elif action == "delete-attribute":
            cfg.attribute_map.pop(request.POST.get("key", ""), None)
        elif form.is_valid():
            key, value = form.mapping()
            (cfg.category_map if action == "category" else cfg.attribute_map)[key] = value
        else:
            return render(request, "ozon/mapping.html", _ctx(integration, "mapping", cfg=cfg, cat_form=cat_form,
                                                             attr_form=attr_form, leaves=len(leaves), q=query,
                                                             rows=rows))
        integration.settings = cfg.to_settings()
        integration.save(update_fields=["settings", "updated"])
        messages.success(request, _("Mapping saved."))
        return redirect("ozon:mapping", integration_pk=integration.pk)
    return render(request, "ozon/mapping.html", _ctx(integration, "mapping", cfg=cfg, cat_form=cat_form,
                                                     attr_form=attr_form, leaves=len(leaves), q=query, rows=rows))


@login_required
@require_POST
def sync_now(request, integration_pk: int) -> HttpResponse:
    integration = _integration(request, integration_pk, Role.OPERATOR)
    full = request.POST.get("full") == "1"
    queued, waiting = jobs.enqueue_sync(integration, full=full)
    if queued:
        messages.success(request, ngettext("%(n)d sync job queued.", "%(n)d sync jobs queued.", len(queued)) % {"n": len(queued)})
    elif waiting:
        messages.info(request, _("A full reconcile is already queued or running: nothing more was queued.")
                      if full else _("A sync is already queued or running: nothing more was queued."))
    else:
        messages.info(request, _("No direction is turned on in the settings: there is nothing to sync."))
    return redirect("ozon:overview", integration_pk=integration.pk)


@login_required
@require_POST
def test_connection(request, integration_pk: int) -> HttpResponse:
    integration = _integration(request, integration_pk, Role.OWNER)
    try:
        warehouses = jobs.test_connection(integration)
    except (ServiceError, ConfigurationError) as exc:  # refused, or never reached: the error says which
        messages.error(request, catalog.failure_text(exc))
    else:
        names = ", ".join(f"{w.get('name')} ({w.get('warehouse_id')})" for w in warehouses)
        messages.success(request, _("Connected. Warehouses: %(names)s") % {"names": names or "—"})
    return redirect("ozon:overview", integration_pk=integration.pk)
