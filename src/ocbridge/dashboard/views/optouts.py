"""The do-not-contact list of a store (and the hub-wide one, for superusers): see, add, take off — audited.

Through core.access: viewers see the list, operators add a number (a customer asked them), owners take one off."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from ocbridge.core import access, optouts
from ocbridge.core.choices import Role
from ocbridge.core.models import OptOut, Store
from ocbridge.dashboard.forms import OptOutForm

ROWS = 500


def _store_or_hub(request, store_pk: int | None, role: str) -> Store | None:
    """The store of the page; None is the hub-wide list, which only superusers see and change."""
    if store_pk is None:
        if not access.sees_everything(request.user):
            raise PermissionDenied
        return None
    return access.get_scoped(Store, request.user, role, pk=store_pk)


@login_required
def optout_list(request, store_pk: int | None = None) -> HttpResponse:
    store = _store_or_hub(request, store_pk, Role.OPERATOR if request.method == "POST" else Role.VIEWER)
    form = OptOutForm(request.POST or None, country=store.country if store else "TR")
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        changed = optouts.add(store, data["phone"], scope=data["scope"], user=request.user.get_username(),
                          note=data["note"])[1]
        if changed:
            messages.success(request, _("%(phone)s is on the do-not-contact list.") % {"phone": data["phone"]})
        else:
            messages.info(request, _("%(phone)s was already on the list.") % {"phone": data["phone"]})
        return redirect(request.path)
    rows = OptOut.objects.filter(store=store).order_by("-created", "-pk")
    return render(request, "dashboard/optouts.html", {
        "store": store, "rows": rows[:ROWS], "total": rows.count(), "form": form, "nav": "stores",
        "can_add": store is None or access.can(request.user, store, Role.OPERATOR),
        "can_remove": store is None or access.can(request.user, store, Role.OWNER),
        "hub_rows": OptOut.objects.filter(store__isnull=True).count() if store else 0})


@login_required
@require_POST
def optout_remove(request, pk: int) -> HttpResponse:
    # 404 for a row of another store (or the hub's, for a store user), as for a missing one; 403 below owner
    row = get_object_or_404(access.scoped(OptOut.objects.select_related("store"), request.user), pk=pk)
    _store_or_hub(request, row.store_id, Role.OWNER)
    reason = request.POST.get("reason", "").strip()
    if not reason:
        messages.error(request, _("Say why: it is kept in the audit log."))
    else:
        optouts.remove(row, user=request.user.get_username(), reason=reason[:500])
        messages.success(request, _("%(phone)s was taken off the do-not-contact list.") % {"phone": row.phone})
    return redirect("dashboard:optouts", store_pk=row.store_id) if row.store_id else redirect("dashboard:optouts-hub")
