"""Two-factor login pages: turn it on (QR code and key for the authenticator app, then recovery codes shown once),
new recovery codes, turn it off, which roles must use it (superusers), and the code page after the password."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext
from django.views.decorators.http import require_http_methods

from ocbridge.core import two_factor
from ocbridge.core.exchanges import client_ip
from ocbridge.core.models import HubPolicy
from ocbridge.dashboard.audit import audit
from ocbridge.dashboard.login import failed, locked, throttled_error

ROLE_LABELS = {"superuser": gettext_lazy("Hub administrators"), "owner": gettext_lazy("Owners"),
               "operator": gettext_lazy("Operators"), "viewer": gettext_lazy("Viewers")}


class CodeForm(forms.Form):
    code = forms.CharField(label=gettext_lazy("Code"), max_length=32,
                           widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "numeric",
                                                         "autofocus": True}))


class VerifyForm(CodeForm):
    code = forms.CharField(label=gettext_lazy("Code from your authenticator app, or a recovery code"), max_length=32,
                           widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "autofocus": True}))


class PolicyForm(forms.Form):
    roles = forms.MultipleChoiceField(label=gettext_lazy("Must log in with two-factor"), required=False,
                                      choices=list(ROLE_LABELS.items()), widget=forms.CheckboxSelectMultiple)


def _next(request) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    ok = url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}, require_https=request.is_secure())
    return target if ok else "/"


@login_required
@require_http_methods(["GET", "POST"])
def two_factor_page(request) -> HttpResponse:
    tf = two_factor.active(request.user)
    if tf is not None and not two_factor.verified(request):
        return redirect("dashboard:two-factor-verify")
    action = request.POST.get("action", "") if request.method == "POST" else ""
    code_form = CodeForm(request.POST if action in ("enrol", "codes", "off") else None)
    policy_form = PolicyForm(request.POST if action == "policy" else None,
                             initial={"roles": HubPolicy.current().two_factor_roles})
    ctx = {"nav": "", "code_form": code_form, "policy_form": policy_form, "tf": tf,
           "required": two_factor.required(request.user), "next": _next(request)}

    if action == "policy" and request.user.is_superuser and policy_form.is_valid():
        policy = HubPolicy.current()
        policy.two_factor_roles = sorted(policy_form.cleaned_data["roles"])
        policy.save()
        audit(request, "two_factor.policy", roles=policy.two_factor_roles)
        messages.success(request, _("Saved: who must use two-factor login."))
        return redirect("dashboard:two-factor")
    if action == "enrol" and tf is None:
        pending = two_factor.pending(request.user)
        if pending and code_form.is_valid() and two_factor.check_code(pending, code_form.cleaned_data["code"]):
            codes = two_factor.confirm(pending)
            two_factor.mark_verified(request, pending)
            audit(request, "two_factor.on")
            return render(request, "dashboard/two_factor_codes.html", {**ctx, "codes": codes, "tf": pending})
        code_form.add_error("code", _("That code is not right: check the time on your phone and try the next one."))
    if action in ("codes", "off") and tf is not None:
        if code_form.is_valid() and two_factor.check_code(tf, code_form.cleaned_data["code"]):
            if action == "codes":
                audit(request, "two_factor.recovery_codes")
                return render(request, "dashboard/two_factor_codes.html",
                              {**ctx, "codes": two_factor.new_recovery_codes(tf)})
            if ctx["required"]:
                messages.error(request, _("Your role must use two-factor login; it cannot be turned off."))
                return redirect("dashboard:two-factor")
            two_factor.turn_off(tf)
            request.session.pop(two_factor.SESSION_KEY, None)
            audit(request, "two_factor.off")
            messages.success(request, _("Two-factor login is off."))
            return redirect("dashboard:two-factor")
        code_form.add_error("code", _("That code is not right."))
    if tf is None:  # the enrol step: a key for the app (kept until confirmed, so a reload shows the same one)
        pending = two_factor.pending(request.user) or two_factor.start(request.user)
        ctx.update(pending=pending, qr=two_factor.qr_svg(pending), key=two_factor.key_of(pending))
    status = 400 if request.method == "POST" else 200
    return render(request, "dashboard/two_factor.html", ctx, status=status)


@login_required
@require_http_methods(["GET", "POST"])
def two_factor_verify(request) -> HttpResponse:
    tf = two_factor.active(request.user)
    if tf is None or two_factor.verified(request):
        return redirect(_next(request))
    form = VerifyForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        username, address = request.user.get_username().lower(), client_ip(request)[:64]
        code = form.cleaned_data["code"]
        if locked(username, address):
            form.add_error(None, throttled_error())
        elif two_factor.check_code(tf, code):
            two_factor.mark_verified(request, tf)
            return redirect(_next(request))
        elif (left := two_factor.use_recovery_code(tf, code)) is not None:
            two_factor.mark_verified(request, tf)
            audit(request, "two_factor.recovery_code_used", left=left)
            messages.warning(request, ngettext(
                "You logged in with a recovery code; %(n)d is left. Make new ones on the two-factor page if you are "
                "running out.",
                "You logged in with a recovery code; %(n)d are left. Make new ones on the two-factor page if you are "
                "running out.", left) % {"n": left})
            return redirect(_next(request))
        else:
            failed(username, address)
            form.add_error("code", _("That code is not right."))
    return render(request, "dashboard/two_factor_verify.html", {"form": form, "next": _next(request)},
                  status=400 if request.method == "POST" else 200)
