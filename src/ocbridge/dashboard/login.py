"""The dashboard login, throttled: after the user's limit of failures (core.limits.login_fail_limit: the hub's
OCBRIDGE_LOGIN_FAIL_LIMIT or their stores' lower one) for a user name, or 4× the hub's from one address, within
LOGIN_FAIL_WINDOW, every attempt — right password or not — is refused until the window passes."""

from __future__ import annotations

import datetime as dt

from django import forms
from django.conf import settings
from django.contrib.auth.forms import AuthenticationForm
from django.contrib.auth.views import LoginView
from django.utils.translation import ngettext_lazy

from ocbridge.core import clock, limits
from ocbridge.core.exchanges import client_ip
from ocbridge.core.models import LoginFailure


def locked(username: str, address: str) -> bool:
    """Too many recent failures (passwords or two-factor codes) for this user name or from this address."""
    since = clock.now() - dt.timedelta(seconds=settings.LOGIN_FAIL_WINDOW)
    recent = LoginFailure.objects.filter(created__gte=since)
    return (recent.filter(username=username).count() >= limits.login_fail_limit(username)
            or bool(address and recent.filter(address=address).count() >= 4 * settings.LOGIN_FAIL_LIMIT))


def failed(username: str, address: str) -> None:
    LoginFailure.objects.create(username=username, address=address)


def throttled_error() -> forms.ValidationError:
    return forms.ValidationError(ngettext_lazy("Too many failed logins: try again in %(minutes)d minute.",
                                               "Too many failed logins: try again in %(minutes)d minutes.", "minutes"),
                                 code="throttled", params={"minutes": settings.LOGIN_FAIL_WINDOW // 60})


class ThrottledAuthenticationForm(AuthenticationForm):
    def clean(self):
        username = (self.data.get("username") or "")[:150].strip().lower()
        address = client_ip(self.request)[:64] if self.request is not None else ""
        if locked(username, address):
            raise throttled_error()
        try:
            return super().clean()
        except forms.ValidationError:
            failed(username, address)
            raise


class ThrottledLoginView(LoginView):
    form_class = ThrottledAuthenticationForm
