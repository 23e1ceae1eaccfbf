"""The customer's address page (`/a/<token>`, no login; the signed token is the key): see cod_confirm.address."""

from __future__ import annotations

from django import forms
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.utils import translation
from django.utils.translation import gettext_lazy as _

from ocbridge.core.errors import ConfigurationError, ServiceError
from ocbridge.integrations.cod_confirm import address, shop
from ocbridge.opencart.writes import ADDRESS_FIELDS


class AddressForm(forms.Form):
    """Lengths fit OpenCart's shipping_* columns (varchar 128 / postcode 10) after HTML escaping."""

    shipping_address_1 = forms.CharField(label=_("Street and house number"), max_length=96)
    shipping_address_2 = forms.CharField(label=_("Flat, floor, landmark"), max_length=96, required=False)
    shipping_city = forms.CharField(label=_("City or district"), max_length=96)
    shipping_postcode = forms.CharField(label=_("Postcode"), max_length=10, required=False)

    def address(self) -> dict[str, str]:
        return {k: " ".join(self.cleaned_data[k].split()) for k in ADDRESS_FIELDS}


def address_page(request, token: str) -> HttpResponse:
    try:
        c = address.confirmation_of(token)
    except address.LinkRefused as exc:
        return _page(request, "en", {"outcome": exc.reason}, status=410 if exc.reason == "expired" else 404)
    lang = address.language_of(c, request.GET.get("lang", ""))
    try:
        current = shop.delivery_address(c.store, c.order_id)
    except (ConfigurationError, ServiceError, OSError):
        return _page(request, lang, {"outcome": "unavailable", "c": c}, status=503)
    if current is None:
        return _page(request, lang, {"outcome": "invalid"}, status=404)
    if not address.still_open(c) or current["order_status_id"] != c.status_at_start:
        return _page(request, lang, {"outcome": "decided", "c": c})
    shop_address = {k: current[k] for k in ADDRESS_FIELDS}
    with translation.override(lang):
        form = AddressForm(request.POST if request.method == "POST" else None, initial=shop_address)
        if request.method == "POST" and form.is_valid():
            new = form.address()
            address.submit(c, new if new != shop_address else None, confirm="confirm" in request.POST,
                           remote=request.META.get("REMOTE_ADDR", ""))
            return redirect(f"{request.path}?lang={lang}&sent={'confirm' if 'confirm' in request.POST else 'saved'}")
    return _page(request, lang, {"outcome": "open", "c": c, "form": form, "sent": request.GET.get("sent", "")},
                 status=400 if form.is_bound else 200)


def _page(request, lang: str, context: dict, status: int = 200) -> HttpResponse:
    with translation.override(lang):
        return render(request, "cod_confirm/address.html", {**context, "lang": lang, "rtl": lang == "ar"},
                      status=status)
