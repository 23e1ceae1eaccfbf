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
            messages.error(request, _("WhatsApp answered: %(error)s") % {"error": exc.message})
        return redirect("dashboard:whatsapp-templates", pk=conn.pk)
    tables = []
    for name in whatsapp.wanted_templates(conn):  # the plain one, and the address-link one when the store uses it
        states = whatsapp.template_states(conn, name)
        tables.append((name, [(lang, states.get(lang, {}), whatsapp.BUTTONS[lang]) for lang in whatsapp.LANGUAGES]))
    return render(request, "dashboard/stores/whatsapp_templates.html", {
        "connection": conn, "store": conn.store, "tables": tables, "name": whatsapp.TEMPLATE_NAME,
        "link_name": whatsapp.LINK_TEMPLATE, "nav": "stores"})
