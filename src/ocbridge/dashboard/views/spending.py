"""A store's spending: today's calls, SMS and WhatsApp messages against its caps, the providers' balances as their
APIs last told them, and the owner's caps and prices (core.spend). Viewers see it; owners change it (audited)."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _

from ocbridge.core import access, clock, spend
from ocbridge.core.choices import Role
from ocbridge.core.models import ProviderBalance, SpendPolicy, Store
from ocbridge.dashboard.audit import audit
from ocbridge.dashboard.forms import SpendPolicyForm
from ocbridge.integrations.cod_confirm import balances as provider_balances


@login_required
def spending(request, store_pk: int) -> HttpResponse:
    store = access.get_scoped(Store, request.user, Role.OWNER if request.method == "POST" else Role.VIEWER,
                              pk=store_pk)
    policy = SpendPolicy.objects.filter(store=store).first() or SpendPolicy(store=store)
    form = SpendPolicyForm(request.POST or None, instance=policy)
    if request.method == "POST" and form.is_valid():
        policy = form.save(commit=False)
        policy.updated = clock.now()
        policy.save()
        audit(request, "spend.update", store=store, changed=sorted(form.changed_data))
        messages.success(request, _("Spending limits saved."))
        return redirect("dashboard:spending", store_pk=store.pk)
    today = spend.today(store)
    rows = [(label, today["counts"][ch], today["caps"][ch]) for ch, label in
            (("call", _("Calls")), ("sms", _("SMS")), ("whatsapp", _("WhatsApp messages")))]
    balances = list(ProviderBalance.objects.filter(connection__store=store).select_related("connection"))
    for b in balances:
        b.last_read = provider_balances.read_at(b)
    return render(request, "dashboard/spending.html", {
        "store": store, "nav": "stores", "form": form, "rows": rows, "today": today, "balances": balances,
        "can_own": access.can(request.user, store, Role.OWNER)})
