"""Integration settings pages, built from `core.registry.integrations[kind].config_form`.

Form convention (the integration owns it): `config_form.from_integration(integration, data=None)` returns the
form (bound when data is given; it may read the shop for choices), and `form.save(integration, user)` writes
`integration.settings`. A form without `from_integration` is built as `config_form(data, initial=settings)`.
Everything is saved in one transaction: either the connection/enabled part and the settings both change, or
nothing does.
"""

from __future__ import annotations

import logging

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db import transaction
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from ocbridge.core import access, registry
from ocbridge.core.choices import Role
from ocbridge.core.models import AuditEntry, Integration, Store
from ocbridge.dashboard.audit import audit
from ocbridge.dashboard.forms import IntegrationBaseForm, TestMessageForm
from ocbridge.dashboard.views.stores import outcome_job

log = logging.getLogger(__name__)


def _base_form(info, integration: Integration, data=None) -> IntegrationBaseForm:
    return IntegrationBaseForm(data, instance=integration, services=tuple(info.services), prefix="integration",
                               with_connection=not (info.extras or {}).get("channel_plan"))


def build_config_form(info, integration: Integration, data=None):
    """The integration's own settings form, or None when it declares none."""
    form_cls = info.config_form
    if form_cls is None:
        return None
    if hasattr(form_cls, "from_integration"):
        return form_cls.from_integration(integration, data=data)
    return form_cls(data, initial=dict(integration.settings or {}))


@login_required
def integration_settings(request, store_pk: int, kind: str) -> HttpResponse:
    # Everyone of the store sees the settings (operators send tests from here); owners change them.
    store = access.get_scoped(Store, request.user, Role.OWNER if request.method == "POST" else Role.VIEWER, pk=store_pk)
    info = registry.integrations.get(kind)
    if info is None:
        raise Http404("unknown integration")
    integration = Integration.objects.filter(store=store, kind=kind).first() or Integration(store=store, kind=kind)
    data = request.POST if request.method == "POST" else None
    base = _base_form(info, integration, data)
    try:
        config = build_config_form(info, integration, data)
    except Exception as exc:  # e.g. the shop cannot be read for status choices: say so, do not 500
        log.exception("building the %s settings form failed", kind)
        messages.error(request, _("The settings form could not be prepared: %(error)s") % {"error": exc})
        config = None
        if data is not None:
            return redirect("dashboard:store", pk=store.pk)
    if data is not None and base.is_valid() and (config is None or config.is_valid()):
        with transaction.atomic():
            created = integration.pk is None
            last_audit = AuditEntry.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
            integration = base.save()
            if config is not None:
                config.save(integration, request.user.get_username())
            wrote_own = AuditEntry.objects.filter(pk__gt=last_audit, object_type="integration",
                                                  object_id=str(integration.pk)).exists()
            if created or base.changed_data or not wrote_own:
                audit(request, f"{kind}.settings" if not created else f"{kind}.enable", obj=integration, store=store,
                      changed=sorted(base.changed_data), settings_changed=bool(config and config.has_changed()))
        messages.success(request, _("Settings saved."))
        return redirect("dashboard:integration", store_pk=store.pk, kind=kind)
    if data is not None:
        messages.error(request, _("Nothing was saved: please correct the errors below."))
    return render(request, "dashboard/integrations/settings.html", {
        "store": store, "info": info, "integration": integration, "base": base, "config": config, "nav": "stores",
        "test_form": _test_form(info, integration),
        "outcome_job": outcome_job(request, integration=integration) if integration.pk else None})


def _test_form(info, integration: Integration, data=None) -> TestMessageForm | None:
    """The "send a test call/SMS" form, when the integration offers it and has a saved connection (or says it is
    ready through extras["test_ready"](integration), e.g. cod_confirm once its channel plan has a step)."""
    extras = info.extras or {}
    if not callable(extras.get("test_message")) or integration.pk is None:
        return None
    ready = extras.get("test_ready")
    if not (ready(integration) if callable(ready) else integration.connection_id):
        return None
    return TestMessageForm(data, country=integration.store.country, prefix="test")


@login_required
@require_POST
def integration_test_message(request, store_pk: int, kind: str) -> HttpResponse:
    """Queue a test call or SMS through the integration (it owns the job); errors next to the field."""
    store = access.get_scoped(Store, request.user, Role.OPERATOR, pk=store_pk)
    info = registry.integrations.get(kind)
    integration = get_object_or_404(Integration.objects.select_related("store", "connection"), store=store, kind=kind)
    form = _test_form(info, integration, request.POST) if info is not None else None
    if form is None:
        raise Http404("this integration cannot send test messages")
    if form.is_valid():
        try:
            with transaction.atomic():
                job = info.extras["test_message"](integration, form.cleaned_data["phone"], form.cleaned_data["channel"],
                                                  request.user.get_username())
        except ValueError as exc:  # the integration refused (e.g. its own phone rules): shown next to the field
            form.add_error("phone", str(exc))
        else:
            # the page shows the outcome when it comes (live region), not "queued as job #…"
            return redirect(reverse("dashboard:integration", args=[store.pk, kind]) + f"?job={job.pk}#job-outcome")
    base = _base_form(info, integration)
    try:
        config = build_config_form(info, integration)
    except Exception:
        log.exception("building the %s settings form failed", kind)
        config = None
    messages.error(request, _("The test was not sent: please correct the errors below."))
    return render(request, "dashboard/integrations/settings.html", {
        "store": store, "info": info, "integration": integration, "base": base, "config": config, "nav": "stores",
        "test_form": form}, status=400)
