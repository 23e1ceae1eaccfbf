"""Store and Connection pages: list, detail (secrets shown only as set / not set), add/edit, test buttons."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db import transaction
from django.http import HttpResponse
from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from ocbridge.core import access, registry
from ocbridge.core import mail as mail_settings
from ocbridge.core.choices import Role
from ocbridge.core.models import Connection, Store
from ocbridge.dashboard import checks
from ocbridge.dashboard import store_list as store_list_rows
from ocbridge.dashboard.audit import audit
from ocbridge.dashboard.forms import CREDENTIAL_HINTS, ConnectionForm, StoreForm
from ocbridge.dashboard.tables import table_page


def integration_home(info, integration) -> str:
    """URL of an integration's own pages for this store, if it has any (extras["home_url"] or `<ns>:overview`)."""
    from django.urls import NoReverseMatch, reverse

    if integration is None:
        return ""
    fn = (info.extras or {}).get("home_url")
    if callable(fn):
        return fn(integration) or ""
    if not info.url_namespace:
        return ""
    for name, args in (("overview", [integration.pk]), ("overview", []), ("index", [])):
        try:
            return reverse(f"{info.url_namespace}:{name}", args=args)
        except NoReverseMatch:
            continue
    return ""


def outcome_job(request, **scope):
    """The Job named by `?job=` when it belongs to this page's store or integration: its outcome is shown."""
    from ocbridge.core.models import Job

    value = request.GET.get("job", "")
    return Job.objects.filter(pk=int(value), **scope).first() if value.isdigit() else None


@login_required
def store_list(request) -> HttpResponse:
    form = store_list_rows.StoreListForm(request.GET or None)
    lane = store_list_rows.slow_lane()
    page = table_page(store_list_rows.stores(form, request.user, lane), request.GET, sorts=store_list_rows.SORTS,
                      default="name")
    for s in page.rows:
        s.slow_lane = lane_entry(lane[s.pk]) if s.pk in lane else None
    return render(request, "dashboard/stores/list.html", {
        "form": form, "page": page, "summary": store_list_rows.summary(request.user), "nav": "stores",
        "can_add": access.sees_everything(request.user)})


def lane_entry(entry: dict) -> dict:
    """A slow-lane record's times as datetimes (the templates' store_time filter takes them)."""
    import datetime as dt

    def when(ts):
        return dt.datetime.fromtimestamp(ts, dt.timezone.utc)

    return {**entry, "since": when(entry["since"]), "at": when(entry["at"])}


def connections_label(info, integration) -> str:
    """What an integration goes through: its Connection, or its own description (cod_confirm's channel plan)."""
    if integration is None:
        return ""
    fn = (info.extras or {}).get("connections_label")
    return fn(integration) if callable(fn) else str(integration.connection or "")


@login_required
def store_detail(request, pk: int) -> HttpResponse:
    store = access.get_scoped(Store, request.user, pk=pk)
    integrations = {i.kind: i for i in store.integrations.select_related("connection")}
    available = [(info, integrations.get(kind), integration_home(info, integrations.get(kind)),
                  connections_label(info, integrations.get(kind)))
                 for kind, info in sorted(registry.integrations.items())]
    from ocbridge.opencart import feed, order_model
    from ocbridge.opencart.models import PollState

    unfollowed = PollState.objects.filter(store_db_key=feed.shop_key(store)).values_list("unfollowed_zero", flat=True).first()
    from ocbridge.core.models import PollHealth
    from ocbridge.opencart.polling import POLL

    poll_health = PollHealth.objects.filter(poll=POLL, key=feed.shop_key(store)).first()
    from ocbridge.core import polls

    labels = {name: poll.label for name, poll in polls.registered().items()}
    reads_failing = [(labels.get(h.poll, h.poll), h) for h in PollHealth.objects.filter(
        store=store, failing_since__isnull=False).exclude(poll=POLL).order_by("failing_since")]
    slow_reads = [(labels.get(name, name), lane_entry(entry)) for (name, _key), entry in
                  sorted(polls.slow_lane().items(), key=lambda i: i[1]["since"]) if entry.get("store") == store.pk]
    return render(request, "dashboard/stores/detail.html", {
        "shop_read_at": polls.last_ok(POLL, feed.shop_key(store)), "reads_failing": reads_failing,
        "slow_reads": slow_reads,
        "store": store, "nav": "stores", "outcome_job": outcome_job(request, store=store),
        "db_path_does": order_model.DONE, "unfollowed_zero": unfollowed or 0, "poll_health": poll_health,
        "db_path_cannot": order_model.not_done(store.version or ""),
        "secrets": [(_("Database password"), bool(store.secret.get("db_password"))),
                    (_("Native API key"), bool(store.api_key))],
        "connections": store.connections.all(), "integrations": available,
        "shared_in": store.shared_connections.select_related("store").order_by("pk"),
        "can_check": checks.store_check_function() is not None,
        "can_own": access.can(request.user, store, Role.OWNER),
        "can_operate": access.can(request.user, store, Role.OPERATOR), "mail": mail_settings.settings_for(store)})


@login_required
def store_edit(request, pk: int | None = None) -> HttpResponse:
    if pk is None and not access.sees_everything(request.user):
        raise PermissionDenied  # a new store is the hub administrator's to add
    store = access.get_scoped(Store, request.user, Role.OWNER, pk=pk) if pk else Store()
    form = StoreForm(request.POST or None, instance=store)
    if request.method == "POST" and form.is_valid():
        with transaction.atomic():
            created = store.pk is None
            store = form.save()
            audit(request, "store.create" if created else "store.update", obj=store, store=store,
                  changed=sorted(form.changed_data), secrets_changed=form.changed_secrets())
        messages.success(request, _("Store saved."))
        return redirect("dashboard:store", pk=store.pk)
    return render(request, "dashboard/stores/form.html", {"form": form, "store": store, "nav": "stores"})


@login_required
@require_POST
def store_test(request, pk: int) -> HttpResponse:
    store = access.get_scoped(Store, request.user, Role.OWNER, pk=pk)
    result = checks.check_store(store)
    if result is None:
        messages.warning(request, _("Testing the shop connection is not available in this installation yet."))
    elif result.ok:
        text = _("Shop reachable.")
        if result.version:
            text += " " + _("OpenCart version: %(version)s.") % {"version": result.version}
        messages.success(request, f"{text} {result.message}")
    else:
        messages.error(request, _("Shop check failed: %(message)s") % {"message": result.message})
    return redirect("dashboard:store", pk=store.pk)


@login_required
def connection_edit(request, store_pk: int | None = None, pk: int | None = None) -> HttpResponse:
    if pk:
        conn = access.get_scoped(Connection.objects.select_related("store"), request.user, Role.OWNER, pk=pk)
        store = conn.store
    else:
        store = access.get_scoped(Store, request.user, Role.OWNER, pk=store_pk)
        conn = Connection(store=store)
    feature = registry.integrations.get(request.GET.get("feature", ""))
    form = ConnectionForm(request.POST or None, instance=conn, services=tuple(feature.services) if feature else (),
                          service=request.GET.get("service", ""), user=request.user)
    if request.method == "POST" and form.is_valid():
        with transaction.atomic():
            created = conn.pk is None
            conn = form.save()
            audit(request, "connection.create" if created else "connection.update", obj=conn, store=store,
                  changed=sorted(n for n in form.changed_data if not n.startswith(("cred", "newval"))),
                  secrets_changed=form.changed_secrets())
        messages.success(request, _("Connection saved."))
        if form.generated:
            messages.warning(request, _("A webhook signing secret was generated; set the same in the provider's "
                                        "panel (shown only now): %(secret)s") % {"secret": form.generated})
        return redirect("dashboard:store", pk=store.pk)
    hooks = sorted(h for (svc, h) in registry.webhooks if conn.pk and svc == conn.service)
    return render(request, "dashboard/stores/connection_form.html", {
        "form": form, "store": store, "connection": conn, "nav": "stores", "hints": CREDENTIAL_HINTS, "feature": feature,
        "webhooks": [(h, conn.webhook_url(h)) for h in hooks]})


@login_required
@require_POST
def connection_test(request, pk: int) -> HttpResponse:
    conn = access.get_scoped(Connection.objects.select_related("store"), request.user, Role.OWNER, pk=pk)
    result = checks.check_connection(conn, user=request.user.get_username())
    if result is None:
        messages.warning(request, _("No test is available for %(service)s connections yet.")
                         % {"service": conn.get_service_display()})
    elif result.queued_job_id:  # the outcome shows on the store page when the job is done (live region)
        return redirect(reverse("dashboard:store", args=[conn.store_id]) + f"?job={result.queued_job_id}#job-outcome")
    elif result.ok:
        messages.success(request, result.message)
    else:
        messages.error(request, _("Connection check failed: %(message)s") % {"message": result.message})
    return redirect("dashboard:store", pk=conn.store_id)
