"""The dashboard login, throttled: after settings.LOGIN_FAIL_LIMIT failures for a user name (or 4× that from one
address) within LOGIN_FAIL_WINDOW, every attempt — right password or not — is refused until the window passes."""

from __future__ import annotations

import datetime as dt

from django import forms
from django.conf import settings
from django.contrib.auth.forms import AuthenticationForm
from django.contrib.auth.views import LoginView
from django.utils.translation import gettext_lazy as _

from ocbridge.core import clock
from ocbridge.core.exchanges import client_ip
from ocbridge.core.models import LoginFailure


class ThrottledAuthenticationForm(AuthenticationForm):
    def clean(self):
        username = (self.data.get("username") or "")[:150].strip().lower()
        address = client_ip(self.request)[:64] if self.request is not None else ""
        since = clock.now() - dt.timedelta(seconds=settings.LOGIN_FAIL_WINDOW)
        recent = LoginFailure.objects.filter(created__gte=since)
        limit = settings.LOGIN_FAIL_LIMIT
        if (recent.filter(username=username).count() >= limit
                or (address and recent.filter(address=address).count() >= 4 * limit)):
            raise forms.ValidationError(_("Too many failed logins: try again in %(minutes)d minutes."),
                                        code="throttled", params={"minutes": settings.LOGIN_FAIL_WINDOW // 60})
        try:
            return super().clean()
        except forms.ValidationError:
            LoginFailure.objects.create(username=username, address=address)
            raise


class ThrottledLoginView(LoginView):
    form_class = ThrottledAuthenticationForm
