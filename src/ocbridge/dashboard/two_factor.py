"""Two-factor gate: a logged-in user with an authenticator sees nothing but the code page until they give a code;
a user whose role must use two-factor (HubPolicy) and has none sees nothing but the enrol page. Pages anyone may
open (login, assets, customers' payment pages, webhooks) are not gated."""

from __future__ import annotations

from urllib.parse import urlencode

from django.shortcuts import redirect
from django.urls import Resolver404, resolve

from ocbridge.core import two_factor

OPEN = {"dashboard:login", "dashboard:logout", "dashboard:two-factor-verify", "dashboard:asset", "static",
        "set_language", "webhook", "pay", "pay-return", "pay-checkout", "cod-address"}
ENROL = "dashboard:two-factor"


class TwoFactorMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated and not two_factor.verified(request):
            try:
                name = resolve(request.path_info).view_name
            except Resolver404:
                name = ""
            if name not in OPEN:
                if two_factor.active(user) is not None:
                    return redirect(_with_next("dashboard:two-factor-verify", request))
                if name != ENROL and two_factor.required(user):
                    return redirect(_with_next(ENROL, request))
        return self.get_response(request)


def _with_next(name: str, request) -> str:
    from django.urls import reverse

    return f"{reverse(name)}?{urlencode({'next': request.get_full_path()})}"
