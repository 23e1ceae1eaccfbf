"""COD confirmation pages: the list (filters) and one order's timeline. Shown only when cod_confirm is installed."""

from __future__ import annotations

import datetime as dt
import re

from django.apps import apps
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db import transaction
from django.db.models import Q
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_POST

from ocbridge.core import access, clock
from ocbridge.core.choices import Role
from ocbridge.core.models import Exchange, Job
from ocbridge.dashboard import l10n
from ocbridge.dashboard.tables import table_page
from ocbridge.dashboard.forms import (
    BulkActionForm,
    ConfirmationActionForm,
    ConfirmationFilterForm,
    PhoneCorrectionForm,
)

APP = "ocbridge.integrations.cod_confirm"


def installed() -> bool:
    return apps.is_installed(APP)


SEARCH_DAYS = 30  # a text search without a From date looks at the orders of the last 30 days (store days)
WIDER_SEARCH_DAYS = (90, 365)


@login_required
def confirmation_list(request) -> HttpResponse:
    if not installed():
        return render(request, "dashboard/confirmations/missing.html", {"nav": "confirmations"})
    from ocbridge.integrations.cod_confirm.models import Confirmation

    form = ConfirmationFilterForm(request.GET or None, user=request.user)
    data = form.cleaned_data if form.is_valid() else {}
    # Dates are the filtered store's days (else the active time zone's), like the times shown.
    tz = l10n.zone(data.get("store"))

    def midnight(day: dt.date) -> dt.datetime:
        return dt.datetime.combine(day, dt.time.min, tzinfo=tz)

    # prefetch, not a JOIN: with the join SQLite drives the query from the store table and sorts every
    # matching confirmation to find the newest 50 (bench/overview.py); alone it walks an index backwards by id.
    qs = access.scoped(Confirmation.objects.prefetch_related("store"), request.user)
    if data.get("state"):
        qs = qs.filter(state=data["state"])
    if data.get("store"):
        qs = qs.filter(store=data["store"])
    if data.get("channel"):
        qs = qs.filter(attempts__channel=data["channel"]).distinct()
    start, end = data.get("start"), data.get("end")
    search = None
    if data.get("q"):
        # Like the exchange log: a text search is bounded by a window (both ends, so the database ranges over the
        # created index), and one that matches nothing reads the window's rows, not the whole table. The page
        # says which window it searched and offers wider ones.
        today = clock.now().astimezone(tz).date()
        end = end or today
        start = start or end - dt.timedelta(days=SEARCH_DAYS - 1)
        search = {"start": start, "end": end, "zone": l10n.zone_name(tz),
                  "wider": [(n, (end - dt.timedelta(days=n - 1)).isoformat()) for n in WIDER_SEARCH_DAYS
                            if end - dt.timedelta(days=n - 1) < start]}
    if start:
        qs = qs.filter(created__gte=midnight(start))
    if end:
        qs = qs.filter(created__lt=midnight(end + dt.timedelta(days=1)))
    if data.get("q"):
        q = data["q"].strip()
        cond = Q(customer_name__icontains=q) | Q(order_label__icontains=q)
        digits = re.sub(r"\D", "", q)
        if len(digits) >= 4:
            # People type phones as "0532 123 45 67"; we store E.164 (+905321234567): match the national part.
            cond |= Q(phone__contains=digits.lstrip("0"))
        if q.isdigit():
            cond |= Q(order_id=int(q))
        qs = qs.filter(cond)
    page = table_page(qs, request.GET, sorts=SORTS)
    _mark_unwritten(page.rows)
    from ocbridge.integrations.cod_confirm import risk

    risk.annotate(page.rows)
    totals = []
    if not page.capped:  # money over at most a window of rows; on more, the filter is too wide to add up usefully
        from django.db.models import Sum

        totals = [(r["currency"], r["sum"]) for r in qs.order_by().values("currency").annotate(sum=Sum("total"))
                  .order_by("currency") if r["sum"]]
    return render(request, "dashboard/confirmations/list.html", {
        "form": form, "page": page, "nav": "confirmations", "search": search, "totals": totals})


SORTS = {"id": "id", "order": "order_id", "created": "created", "customer": "customer_name", "total": "total",
         "state": "state", "attempts": "attempts_made"}


def _risk(c):
    """The phone's risk score as this order's store may see it (its own outcomes, shared ones if it shares)."""
    from ocbridge.integrations.cod_confirm import risk

    return risk.lookup(c.store, c.phone) if c.phone else None


def _mark_unwritten(rows) -> None:
    """Flag the page's decisions the shop refused (one query for the page): "not written to the shop"."""
    from ocbridge.opencart.models import ShopWrite

    if not rows:
        return
    failed = set(ShopWrite.objects.filter(kind="status", state=ShopWrite.State.FAILED,
                                          order_id__in=[c.order_id for c in rows],
                                          store_id__in={c.store_id for c in rows}).values_list("store_id", "order_id"))
    for c in rows:
        c.not_written = (c.store_id, c.order_id) in failed


@login_required
def confirmation_detail(request, pk: int, action_form: ConfirmationActionForm | None = None,
                        phone_form: PhoneCorrectionForm | None = None) -> HttpResponse:
    if not installed():
        return render(request, "dashboard/confirmations/missing.html", {"nav": "confirmations"})
    from ocbridge.integrations.cod_confirm.models import Confirmation

    c = access.get_scoped(Confirmation.objects.select_related("store", "integration"), request.user, pk=pk)
    # One timeline: state changes, attempts and the Exchanges about this order, oldest first.
    events = [(t.created, "transition", t) for t in c.transitions.select_related("exchange")]
    attempts = list(c.attempts.all())
    by_key: dict[str, list] = {}
    for ex in access.scoped(Exchange.objects.keyed([a.key for a in attempts]), request.user).only(
            "pk", "key", "level", "status"):
        by_key.setdefault(ex.key, []).append(ex)
    for a in attempts:
        a.exchange_list = by_key.get(a.key, [])  # the provider calls made under this attempt's key
    events += [(a.created, "attempt", a) for a in attempts]
    exchanges = Exchange.objects.filter(store=c.store, order_id=c.order_id).order_by("-pk")[:100]
    events += [(e.created, "exchange", e) for e in exchanges]
    events.sort(key=lambda e: (e[0], {"transition": 0, "attempt": 1, "exchange": 2}[e[1]]))
    jobs = Job.objects.filter(store=c.store, key__contains=f":{c.store_id}:{c.order_id}:").order_by("-pk")[:50]
    from ocbridge.integrations.cod_confirm.choices import TERMINAL
    from ocbridge.opencart.models import ShopWrite

    # a decision the shop has not got: "not written to the shop — why — retry", never shown as done
    unwritten = (ShopWrite.objects.filter(store=c.store, order_id=c.order_id, kind="status")
                 .exclude(state__in=(ShopWrite.State.DONE, ShopWrite.State.MOVED)).exclude(error="")
                 .order_by("-updated").first())
    unwritten_job = Job.objects.filter(key=unwritten.key).first() if unwritten else None

    return render(request, "dashboard/confirmations/detail.html", {
        "c": c, "events": events, "jobs": jobs, "nav": "confirmations", "now": clock.now(), "risk": _risk(c),
        "unwritten": unwritten, "unwritten_job": unwritten_job,
        "action_form": action_form or ConfirmationActionForm(), "decided": c.state in TERMINAL,
        "phone_form": phone_form or PhoneCorrectionForm(prefix="phone"),
        "can_act": access.can(request.user, c.store, Role.OPERATOR)},
        status=400 if action_form is not None or phone_form is not None else 200)


@login_required
@require_POST
def confirmation_act(request, pk: int) -> HttpResponse:
    """Confirm / cancel by hand, or call / text again now, through cod_confirm.actions (which audit)."""
    if not installed():
        return redirect("dashboard:confirmations")
    from ocbridge.integrations.cod_confirm import actions
    from ocbridge.integrations.cod_confirm.models import Confirmation

    c = access.get_scoped(Confirmation, request.user, Role.OPERATOR, pk=pk)
    form = ConfirmationActionForm(request.POST)
    if not form.is_valid():
        return confirmation_detail(request, pk, action_form=form)
    act, reason, user = form.cleaned_data["action"], form.cleaned_data["reason"], request.user.get_username()
    with transaction.atomic():
        if act in ("confirm", "cancel"):
            done = actions.manual_decide(c, intent=act, user=user, reason=reason)
            if done:
                messages.success(request, _("Decision saved; the shop is being updated."))
            else:
                messages.error(request, _("The confirmation changed meanwhile; nothing was done. Please look again."))
        else:
            try:
                actions.manual_retry(c, channel=act, user=user, reason=reason)
            except actions.UnusablePhone:
                form.add_error("action", _("There is no valid phone number to call: correct the phone first."))
                return confirmation_detail(request, pk, action_form=form)
            except actions.OptedOut:
                form.add_error("action", _("This number is on the store's do-not-contact list for this channel: "
                                           "contact the customer yourself, or take the number off the list first."))
                return confirmation_detail(request, pk, action_form=form)
            messages.success(request, _("Asked for: the attempt starts within seconds and shows in the timeline."))
    return redirect("dashboard:confirmation", pk=pk)


@login_required
@require_POST
def confirmation_phone(request, pk: int) -> HttpResponse:
    """A person corrects the customer's phone (audited); then "call again" can use it."""
    if not installed():
        return redirect("dashboard:confirmations")
    from ocbridge.integrations.cod_confirm import actions
    from ocbridge.integrations.cod_confirm.models import Confirmation

    c = access.get_scoped(Confirmation.objects.select_related("store"), request.user, Role.OPERATOR, pk=pk)
    form = PhoneCorrectionForm(request.POST, prefix="phone")
    if form.is_valid():
        try:
            actions.correct_phone(c, phone=form.cleaned_data["phone"], user=request.user.get_username(),
                                  reason=form.cleaned_data["reason"])
        except actions.UnusablePhone:
            form.add_error("phone", _("This is not a valid phone number for %(country)s.") % {"country": c.store.country})
    if not form.is_valid():
        return confirmation_detail(request, pk, phone_form=form)
    messages.success(request, _("Phone number changed to %(phone)s.") % {"phone": c.phone})
    return redirect("dashboard:confirmation", pk=pk)


@login_required
@require_POST
def confirmation_bulk(request) -> HttpResponse:
    """Confirm, cancel or call again the ticked orders of the overview's "need you" list, each audited."""
    if not installed():
        return redirect("dashboard:home")
    from ocbridge.integrations.cod_confirm import actions
    from ocbridge.integrations.cod_confirm.models import Confirmation

    back = request.POST.get("next") or ""
    back = back if back.startswith("/") and not back.startswith("//") else "/"
    form = BulkActionForm(request.POST)
    if not form.is_valid():
        for errors in form.errors.values():
            for e in errors:
                messages.error(request, e)
        return redirect(back)
    act, reason, user = form.cleaned_data["action"], form.cleaned_data["reason"], request.user.get_username()
    done, skipped, no_phone, opted_out = 0, 0, [], []
    mine = access.scoped(Confirmation.objects.filter(pk__in=form.cleaned_data["ids"]), request.user, Role.OPERATOR)
    for c in mine.select_related("store"):
        if act == "call":
            try:
                with transaction.atomic():
                    actions.manual_retry(c, channel="call", user=user, reason=reason)
                done += 1
            except actions.UnusablePhone:
                no_phone.append(c.order_label or str(c.order_id))
            except actions.OptedOut:
                opted_out.append(c.order_label or str(c.order_id))
            continue
        with transaction.atomic():
            ok = actions.manual_decide(c, intent=act, user=user, reason=reason)
        done += ok
        skipped += not ok
    if done:
        messages.success(request, ngettext("%(n)d order done.", "%(n)d orders done.", done) % {"n": done})
    if skipped:
        messages.error(request, ngettext("%(n)d order changed meanwhile and was left alone.",
                                         "%(n)d orders changed meanwhile and were left alone.", skipped) % {"n": skipped})
    if no_phone:
        messages.error(request, _("Not called, no valid phone number (correct it on the order's page): %(orders)s")
                       % {"orders": ", ".join(no_phone)})
    if opted_out:
        messages.error(request, _("Not called, the number is on the do-not-contact list: %(orders)s")
                       % {"orders": ", ".join(opted_out)})
    return redirect(back)
