"""A test mail from the store page, through the server the store's mail would use (its own, else the hub's)."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from ocbridge.core import access, mail
from ocbridge.core.choices import Role
from ocbridge.core.models import Store
from ocbridge.dashboard.audit import audit
from ocbridge.dashboard.forms import MailTestForm


@login_required
@require_POST
def mail_test(request, store_pk: int) -> HttpResponse:
    store = access.get_scoped(Store, request.user, Role.OPERATOR, pk=store_pk)
    form = MailTestForm(request.POST)
    if not form.is_valid():
        messages.error(request, " ".join(e for errors in form.errors.values() for e in errors))
        return redirect("dashboard:store", pk=store.pk)
    to = form.cleaned_data["to"]
    entry = audit(request, "mail.test", store=store, to=to)
    body = _("This is a test mail from ocbridge for the store %(store)s. If you read this, the hub's alerts and "
             "notices can reach you by e-mail.") % {"store": store.name}
    try:
        job = mail.queue(f"mail-test:{store.pk}:{entry.pk}", to=to, subject=_("ocbridge test mail"), body=body,
                         store=store, purpose="test mail")
    except mail.MailNotSet:
        messages.error(request, _("No mail server is set for this store or the hub."))
        return redirect("dashboard:store", pk=store.pk)
    return redirect(f"{reverse('dashboard:store', args=[store.pk])}?job={job.pk}#job-outcome")
