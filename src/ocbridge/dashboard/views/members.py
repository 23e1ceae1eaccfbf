"""Users of a store: its owners add and remove them and give each a role; a new user gets a one-time link to set
their password, shown on screen once (no mail needed)."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_required
from django.contrib.auth.tokens import default_token_generator
from django.db import transaction
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from ocbridge.core import access
from ocbridge.core.choices import Role
from ocbridge.core.models import Store, StoreMember
from ocbridge.dashboard.audit import audit
from ocbridge.dashboard.forms import MemberForm


def set_password_link(request, user) -> str:
    """Django's password-reset token: valid until the password is set or the user logs in, or PASSWORD_RESET_TIMEOUT."""
    uid = urlsafe_base64_encode(force_bytes(user.pk))
    token = default_token_generator.make_token(user)
    return request.build_absolute_uri(reverse("dashboard:password-set", args=[uid, token]))


def _may_issue_link(request, member: StoreMember) -> bool:
    """Only for a user who belongs to no store the requester does not own: a link is a way into the account."""
    user = member.user
    if user.is_superuser or user.is_staff or user.pk == request.user.pk:
        return False
    theirs = StoreMember.objects.filter(user=user).values_list("store_id", flat=True)
    owned = set(access.scoped(Store, request.user, Role.OWNER).values_list("pk", flat=True))
    return set(theirs) <= owned


def _page(request, store: Store, form: MemberForm, *, link: tuple[str, str] | None = None, status: int = 200):
    members = list(StoreMember.objects.filter(store=store).select_related("user").order_by("user__username"))
    for m in members:
        m.may_link = _may_issue_link(request, m)
    return render(request, "dashboard/stores/members.html", {
        "store": store, "members": members, "form": form, "link": link, "nav": "stores"}, status=status)


@login_required
def member_list(request, store_pk: int) -> HttpResponse:
    store = access.get_scoped(Store, request.user, Role.OWNER, pk=store_pk)
    form = MemberForm(request.POST or None)
    if request.method != "POST":
        return _page(request, store, form)
    if not form.is_valid():
        return _page(request, store, form, status=400)
    username, role = form.cleaned_data["username"], form.cleaned_data["role"]
    User = get_user_model()
    with transaction.atomic():
        user = User.objects.filter(username__iexact=username).first()
        created = user is None
        if created:
            user = User(username=username)
            user.set_unusable_password()  # usable only after the set-password link
            user.save()
        elif user.is_superuser:
            form.add_error("username", _("This user is a hub administrator and sees every store already."))
            return _page(request, store, form, status=400)
        member, new = StoreMember.objects.get_or_create(store=store, user=user, defaults={
            "role": role, "added_by": request.user.get_username()})
        if not new and member.role != role:
            if member.role == Role.OWNER and not StoreMember.objects.filter(
                    store=store, role=Role.OWNER).exclude(pk=member.pk).exists():
                form.add_error("role", _("A store keeps at least one owner."))
                return _page(request, store, form, status=400)
            member.role = role
            member.save(update_fields=["role"])
        audit(request, "member.add" if new else "member.role", obj=member, store=store, username=user.get_username(),
              role=role, new_user=created)
    if created:
        messages.success(request, _("User %(name)s added. Give them this link to set their password; it is shown "
                                    "only now and works once.") % {"name": user.get_username()})
        return _page(request, store, MemberForm(), link=(user.get_username(), set_password_link(request, user)))
    messages.success(request, _("%(name)s is now %(role)s of this store.")
                     % {"name": user.get_username(), "role": Role(role).label})
    return redirect("dashboard:members", store_pk=store.pk)


@login_required
@require_POST
def member_remove(request, store_pk: int, pk: int) -> HttpResponse:
    store = access.get_scoped(Store, request.user, Role.OWNER, pk=store_pk)
    with transaction.atomic():
        member = access.get_scoped(StoreMember.objects.select_for_update().select_related("user"), request.user,
                                   Role.OWNER, pk=pk, store=store)
        if member.role == Role.OWNER and not StoreMember.objects.filter(
                store=store, role=Role.OWNER).exclude(pk=member.pk).exists():
            messages.error(request, _("A store keeps at least one owner."))
            return redirect("dashboard:members", store_pk=store.pk)
        member.delete()
        audit(request, "member.remove", obj=member, store=store, username=member.user.get_username(),
              role=member.role)
    messages.success(request, _("%(name)s can no longer see this store.") % {"name": member.user.get_username()})
    return redirect("dashboard:members", store_pk=store.pk)


@login_required
@require_POST
def member_link(request, store_pk: int, pk: int) -> HttpResponse:
    """A new set-password link (the user forgot theirs, or never used the first)."""
    store = access.get_scoped(Store, request.user, Role.OWNER, pk=store_pk)
    member = access.get_scoped(StoreMember.objects.select_related("user"), request.user, Role.OWNER, pk=pk,
                               store=store)
    if not _may_issue_link(request, member):
        messages.error(request, _("This user also belongs to stores you do not own: a hub administrator can help."))
        return redirect("dashboard:members", store_pk=store.pk)
    audit(request, "member.link", obj=member, store=store, username=member.user.get_username())
    return _page(request, store, MemberForm(), link=(member.user.get_username(), set_password_link(request, member.user)))
