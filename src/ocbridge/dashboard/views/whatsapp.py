"""A WhatsApp connection's message template: its approval state per language, created and refreshed from here.

The template and its state belong to COD confirmation (integrations/cod_confirm/whatsapp.py); this page only
shows them and passes the owner's two actions on, each audited there.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _

from ocbridge.core import access
from ocbridge.core.choices import Role
from ocbridge.core.errors import ServiceError
from ocbridge.core.models import Connection
from ocbridge.core.sentences import words


@login_required
def whatsapp_templates(request, pk: int) -> HttpResponse:
    from ocbridge.integrations.cod_confirm import whatsapp

    conn = access.get_scoped(Connection.objects.select_related("store"), request.user,
                             Role.OWNER if request.method == "POST" else Role.VIEWER, pk=pk)
    if conn.service != "whatsapp":
        raise Http404("not a WhatsApp connection")
    if request.method == "POST":
        action = request.POST.get("action")
        try:
            if action == "create":
                results = whatsapp.create_templates(conn, request.user.get_username())
                messages.success(request, _("Submitted for review: %(result)s") % {
                    "result": ", ".join(results) or _("nothing (every language exists)")})
            elif action == "refresh":
                whatsapp.refresh_templates(conn)
                messages.success(request, _("Template state read from WhatsApp."))
            else:
                raise Http404("unknown action")
        except ServiceError as exc:
            messages.error(request, _("WhatsApp answered: %(error)s") % {"error": words(exc)})
        return redirect("dashboard:whatsapp-templates", pk=conn.pk)
    headings = {  # the plain template has the page's own heading
        whatsapp.LINK_TEMPLATE: (_("With the address link"), _(
            "Sent instead of the first one while it is approved in the customer's language: the same message with "
            "the link where the customer corrects the delivery address.")),
        whatsapp.PAY_TEMPLATE: (_("With the Pay now button"), _(
            "Sent while it is approved in the customer's language, since the store offers paying now by card: a "
            "fourth button sends the customer a payment link. WhatsApp shows the first two buttons and the others "
            "under \"See all options\"; a message with four buttons opens only in WhatsApp on a phone, not in "
            "its desktop app.")),
        whatsapp.LINK_PAY_TEMPLATE: (_("With the address link and the Pay now button"), _(
            "Sent first while it is approved in the customer's language; otherwise the one with only the Pay now "
            "button, then the one with only the link.")),
    }
    tables = []
    for name in whatsapp.wanted_templates(conn):  # the plain one, plus the link and pay ones the store uses
        states, template = whatsapp.template_states(conn, name), whatsapp.TEMPLATES[name]
        title, note = headings.get(name, ("", ""))
        tables.append((name, title, note, [(lang, states.get(lang, {}), template.buttons(lang))
                                           for lang in whatsapp.LANGUAGES]))
    return render(request, "dashboard/stores/whatsapp_templates.html", {
        "connection": conn, "store": conn.store, "tables": tables, "name": whatsapp.TEMPLATE_NAME, "nav": "stores"})
