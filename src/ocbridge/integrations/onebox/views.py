"""OneBox pages: sync status per kind (counts, last errors, first loads with progress and time left), the
mapping (statuses per business process, groups, languages), conflicts decided, records that could not be synced
with OneBox's reason and a Retry button (a Dismiss for those deleted in OneBox), and "Test" of the connection."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import Count, Q
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from ocbridge.core import access, polls
from ocbridge.core.choices import Role
from ocbridge.core.errors import ConfigurationError, ServiceError, never_reached
from ocbridge.core.models import Binding, Integration
from ocbridge.core.sentences import words
from ocbridge.dashboard.audit import audit
from ocbridge.integrations.onebox import groups, jobs, lists, models as m, reasons, shop

KIND_LABELS = {m.ORDER: gettext_lazy("Orders"), m.HISTORY: gettext_lazy("Order history entries"),
               m.CATEGORY: gettext_lazy("Categories"), m.BRAND: gettext_lazy("Brands"),
               m.PRODUCT: gettext_lazy("Products"), m.OPTION: gettext_lazy("Options"),
               m.OPTION_VALUE: gettext_lazy("Option values"), m.CONTACT: gettext_lazy("Customers"),
               m.CONTACT_GROUP: gettext_lazy("Customer groups")}
FLOW_OF = {m.OPTION: "product", m.OPTION_VALUE: "product"}  # options travel inside products
LOADS = {"order": gettext_lazy("Order history"), "contact": gettext_lazy("Customers"),
         "product": gettext_lazy("Catalogue"), "contact_in": gettext_lazy("Customers from OneBox"),
         "category_in": gettext_lazy("Categories from OneBox"), "brand_in": gettext_lazy("Brands from OneBox")}


def _integration(request, pk: int, role: str = Role.VIEWER) -> Integration:
    return access.get_scoped(Integration.objects.select_related("store", "connection"), request.user, role, pk=pk,
                             kind="onebox")


@login_required
def overview(request, integration_pk: int) -> HttpResponse:
    integration = _integration(request, integration_pk)
    cfg, state = jobs.config_of(integration), m.SyncState.of(integration)
    ours = Binding.objects.filter(connection_id=integration.connection_id, kind__in=list(KIND_LABELS))
    counts = {r["kind"]: r for r in ours.values("kind").annotate(
        total=Count("id"), failed=Count("id", filter=Q(data__state=m.FAILED)))}
    kinds = [{"label": label, "total": counts.get(kind, {}).get("total", 0),
              "failed": counts.get(kind, {}).get("failed", 0), "direction": cfg.flows.get(FLOW_OF.get(kind, kind.split(".")[1]), "")}
             for kind, label in KIND_LABELS.items()]
    try:
        names, group_names = shop.status_names(integration.store), shop.customer_groups(integration.store)
    except Exception:  # noqa: BLE001 - the page still shows the sync state when the shop is unreachable
        names = group_names = {}
    ob_names = lists.status_names(integration)
    mapping = [{"oc": oc, "oc_name": names.get(oc, ""), "ob": ob, "ob_name": ob_names.get(ob, "")}
               for oc, ob in cfg.statuses().items()]
    ob_groups = {g["id"]: g["name"] for g in (lists.cached(integration) or {}).get("groups", [])}
    group_rows = [{"oc": oc, "oc_name": group_names.get(oc, ""), "ob": ob, "ob_name": ob_groups.get(ob, ""),
                   "yours": str(oc) in cfg.group_map} for oc, ob in groups.to_onebox(integration, cfg).items()]
    failed = list(ours.filter(data__state__in=[m.FAILED, m.DELETED]).exclude(data__state=m.DELETED, data__has_key="dismissed")
                  .order_by("-synced_at")[:100])
    for b in failed:
        b.reason, b.deleted = reasons.reason_text(b.data), b.data.get("state") == m.DELETED
    return render(request, "onebox/overview.html", {
        "integration": integration, "store": integration.store, "nav": "stores", "cfg": cfg, "state": state,
        "kinds": kinds, "mapping": mapping, "group_rows": group_rows, "failed": failed, "labels": KIND_LABELS,
        "loads": [(kind, label, jobs.progress(integration, kind)) for kind, label in LOADS.items()
                  if kind not in jobs.IN_LOADS or cfg.takes(jobs.IN_LOADS[kind])],
        "conflicts": m.Conflict.objects.filter(integration=integration)[:20],
        "catalogue_checked": polls.last_ok(jobs.CATALOG_POLL, polls.integration_key(integration)),
        "can_act": access.can(request.user, integration.store, Role.OPERATOR),
        "can_own": access.can(request.user, integration.store, Role.OWNER)})


@login_required
@require_POST
def retry(request, integration_pk: int, kind: str, local_id: str) -> HttpResponse:
    integration = _integration(request, integration_pk, Role.OPERATOR)
    if kind not in KIND_LABELS:
        raise Http404
    jobs.retry(integration, kind, local_id)
    messages.success(request, _("%(id)s will be sent to OneBox again.") % {"id": local_id})
    return redirect("onebox:overview", integration_pk=integration.pk)


@login_required
@require_POST
def dismiss(request, integration_pk: int, kind: str, local_id: str) -> HttpResponse:
    integration = _integration(request, integration_pk, Role.OPERATOR)
    if kind not in KIND_LABELS:
        raise Http404
    b = jobs.dismiss(integration, kind, local_id)
    if b is None:
        messages.error(request, _("%(id)s is not a listed record deleted in OneBox.") % {"id": local_id})
    else:  # the row stays (deleted, not synced); the audit says who took it off the list
        audit(request, "onebox.dismiss", obj=b, store=integration.store, kind=kind, local_id=local_id)
        messages.success(request, _("%(id)s is off the list; it stays deleted in OneBox and is not synced again.")
                         % {"id": local_id})
    return redirect("onebox:overview", integration_pk=integration.pk)


@login_required
@require_POST
def start_load(request, integration_pk: int, kind: str) -> HttpResponse:
    integration = _integration(request, integration_pk, Role.OWNER)
    if kind not in LOADS:
        raise Http404
    jobs.start_load(integration, kind)
    messages.success(request, _("Loading started; it continues where it stopped if it is interrupted."))
    return redirect("onebox:overview", integration_pk=integration.pk)


@login_required
@require_POST
def test_connection(request, integration_pk: int) -> HttpResponse:
    integration = _integration(request, integration_pk, Role.OWNER)
    try:
        flows = jobs.read_statuses(integration)
    except (ServiceError, ConfigurationError) as exc:
        if never_reached(exc):
            messages.error(request, _("OneBox could not be reached: %(error)s") % {"error": words(exc)})
        else:
            messages.error(request, _("OneBox refused: %(error)s") % {"error": words(exc)})
    else:
        messages.success(request, _("Connected. Business processes: %(names)s") % {"names": ", ".join(flows)})
    return redirect("onebox:overview", integration_pk=integration.pk)
