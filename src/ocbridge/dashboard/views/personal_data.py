"""A person's data by phone number, for a store's owner: export it (a JSON file) or erase it (masked in the hub's
own tables; the shop's database is untouched), each audited with the number masked."""

from __future__ import annotations

import json

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext
from django.views.decorators.http import require_http_methods

from ocbridge.core import access, clock, personal_data
from ocbridge.core.choices import Role
from ocbridge.core.models import Store
from ocbridge.dashboard.audit import audit


class PhoneForm(forms.Form):
    phone = forms.CharField(label=gettext_lazy("Phone number"), max_length=32)
    confirm = forms.BooleanField(label=gettext_lazy("Yes, erase this person's data in this store"), required=False)

    def __init__(self, *args, country: str = "TR", **kwargs):
        super().__init__(*args, **kwargs)
        self.country = country

    def clean_phone(self) -> str:
        try:
            return personal_data.normalize(self.cleaned_data["phone"], self.country)
        except ValueError:
            raise forms.ValidationError(_("Not a phone number.")) from None


def masked(e164: str) -> str:
    return e164[:-4] + "****"


@login_required
@require_http_methods(["GET", "POST"])
def personal_data_page(request, store_pk: int) -> HttpResponse:
    store = access.get_scoped(Store, request.user, Role.OWNER, pk=store_pk)
    form = PhoneForm(request.POST or None, country=store.country)
    action = request.POST.get("action", "")
    ctx = {"store": store, "form": form, "nav": "stores", "days": store.personal_data_days}
    if request.method == "POST" and form.is_valid():
        e164 = form.cleaned_data["phone"]
        if action == "export":
            found = personal_data.export(e164, [store.pk])
            audit(request, "personal_data.export", obj=store, store=store, phone=masked(e164),
                  rows={k: len(v) for k, v in found.items()})
            body = json.dumps({"phone": e164, "store": store.name, "exported_at": clock.now().isoformat(),
                               "data": found}, ensure_ascii=False, indent=2)
            resp = HttpResponse(body, content_type="application/json; charset=utf-8")
            resp["Content-Disposition"] = f'attachment; filename="personal-data-{e164.lstrip("+")}.json"'
            return resp
        if action == "erase":
            if not form.cleaned_data["confirm"]:
                form.add_error("confirm", _("Tick the box to erase."))
            else:
                done = personal_data.erase(e164, [store.pk])
                audit(request, "personal_data.erase", obj=store, store=store, phone=masked(e164), rows=done)
                erased = sum(done.values())
                messages.success(request, ngettext("Erased: %(n)d record held this number.",
                                                   "Erased: %(n)d records held this number.", erased) % {"n": erased})
                ctx["erased"] = done
    status = 400 if request.method == "POST" and form.errors else 200
    return render(request, "dashboard/stores/personal_data.html", ctx, status=status)
