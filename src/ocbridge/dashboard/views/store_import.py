"""Stores in bulk from the dashboard: the same CSV/JSON file and the same checks as `ocbridge store import`
(opencart.store_import), for the hub's administrators (adding a store is theirs), with a report per row."""

from __future__ import annotations

from django import forms
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext_lazy as _

from ocbridge.core import access
from ocbridge.core.models import Store
from ocbridge.opencart import store_import

MAX_BYTES = 2 * 1024 * 1024


class StoreImportForm(forms.Form):
    file = forms.FileField(label=_("Stores file (CSV or JSON)"),
                           help_text=_("One store per row; the columns are listed below. The file holds database "
                                       "passwords: delete it once imported."))
    template = forms.ModelChoiceField(label=_("Template store"), queryset=Store.objects.none(), required=False,
                                      empty_label=_("(none)"),
                                      help_text=_("Its provider accounts are shared with each new store and its "
                                                  "features copied with their settings."))
    dry_run = forms.BooleanField(label=_("Only check, add nothing"), required=False)
    not_reachable_yet = forms.BooleanField(label=_("Add shops whose database does not answer yet"), required=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["template"].queryset = Store.objects.order_by("name")

    def clean_file(self):
        f = self.cleaned_data["file"]
        if f.size > MAX_BYTES:
            raise forms.ValidationError(_("The file is larger than 2 MB."))
        try:
            self.rows = store_import.read_rows(f.read(), f.name)
        except store_import.ImportFileError as exc:
            raise forms.ValidationError(_("The file cannot be read: %(why)s") % {"why": exc}) from None
        return f


@login_required
def store_import_page(request) -> HttpResponse:
    if not access.sees_everything(request.user):
        raise PermissionDenied  # adding stores is the hub administrator's
    form = StoreImportForm(request.POST or None, request.FILES or None)
    results = None
    if request.method == "POST" and form.is_valid():
        tpl = form.cleaned_data["template"]
        results = store_import.import_rows(form.rows, template=str(tpl.pk) if tpl else "",
                                           dry_run=form.cleaned_data["dry_run"],
                                           allow_unreachable=form.cleaned_data["not_reachable_yet"],
                                           user=request.user.get_username())
    return render(request, "dashboard/stores/import.html", {
        "form": form, "results": results, "counts": store_import.summary(results) if results is not None else None,
        "fields": store_import.FIELDS, "nav": "stores"})
