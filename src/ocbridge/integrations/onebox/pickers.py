"""The settings' mapping as pickers: each OpenCart status and customer group (read from the shop) gets a choice of
OneBox's statuses (grouped by business process) and contact groups (read from OneBox, onebox.lists).

Stored data stays as it was typed before (`status_map` {business process: {OpenCart status: OneBox status}},
`group_map` {customer group: OneBox group}); when either side cannot be read, the form keeps the typed fields
and says why. A saved id the other side no longer lists is shown as such and refused on save, with the reason.
"""

from __future__ import annotations

import logging

from django import forms
from django.utils.translation import gettext as _

from ocbridge.core.errors import ConfigurationError, ServiceError, never_reached
from ocbridge.core.sentences import words
from ocbridge.integrations.onebox import lists, shop
from ocbridge.integrations.onebox.config import OneBoxConfig
from ocbridge.opencart import statuses

log = logging.getLogger(__name__)
STATUS_PREFIX, GROUP_PREFIX = "status_", "group_"


def onebox_lists(form, integration, *, bound: bool) -> dict | None:
    """OneBox's lists: read afresh for the page (at most once a minute); when saving, the ones the page offered
    (no call); the last read ones when OneBox does not answer (the form says so). None: never read."""
    if integration.connection_id is None:
        form.notices.append(_("Choose a OneBox connection and save: then OneBox's statuses and contact groups are "
                              "offered to pick from."))
        return None
    have = lists.cached(integration)
    if bound:
        return have
    try:
        return lists.read(integration)
    except (ServiceError, ConfigurationError) as exc:
        text = (_("OneBox could not be reached: %(error)s") if never_reached(exc)
                else _("OneBox refused: %(error)s")) % {"error": words(exc)}
        if have:
            form.notices.append(_("%(error)s — the lists OneBox gave at %(at)s are offered.")
                                % {"error": text, "at": have["at"][:16].replace("T", " ")})
        else:
            form.notices.append(_("%(error)s — type the ids below.") % {"error": text})
        return have


def _shop(form, read, what):
    try:
        found = read()
    except Exception as exc:  # noqa: BLE001 - the shop unreachable: typed ids, and the form says why
        log.warning("reading the shop's %s failed: %s", what, exc)
        form.notices.append(_("The shop could not be read (%(error)s): type the ids below.") % {"error": exc})
        return None
    if found is None:
        form.notices.append(_("The shop could not be read: type the ids below."))
    return found


def use_pickers(form, integration, cfg: OneBoxConfig, *, bound: bool) -> None:
    """Replace the typed maps by pickers where both sides' lists are at hand."""
    form.status_pickers = form.group_pickers = False
    box = onebox_lists(form, integration, bound=bound)
    if box is None:
        return
    store = integration.store
    # a page that showed the typed maps (a side could not be read then) is saved as typed
    typed = {name for name in ("status_map", "group_map") if bound and name in form.data}
    oc_statuses = _shop(form, lambda: statuses.for_store(store), "order statuses")
    if oc_statuses and "status_map" not in typed:
        _status_fields(form, cfg, oc_statuses, box)
    oc_groups = _shop(form, lambda: shop.customer_groups(store), "customer groups") if oc_statuses is not None else None
    if oc_groups and "group_map" not in typed:
        _group_fields(form, cfg, oc_groups, box)
    # the pickers stand where the typed maps stood: statuses after the business process, groups after the languages
    status_fields, group_fields = _picked(form, STATUS_PREFIX), _picked(form, GROUP_PREFIX)
    order = []
    for name in (n for n in form.fields if n not in status_fields and n not in group_fields):
        order += [name] + (status_fields if name == "workflow_id" else group_fields if name == "language_map" else [])
    form.order_fields(order)


def _picked(form, prefix: str) -> list[str]:
    return [n for n in form.fields if n.startswith(prefix) and n[len(prefix):].isdigit()]


def _label(name: str, ident: int) -> str:
    return f"{name} ({ident})" if name else str(ident)


def _status_fields(form, cfg: OneBoxConfig, oc_statuses: dict[int, str], box: dict) -> None:
    flows = {w["id"]: w["name"] for w in box["workflows"]}
    saved_flow = cfg.workflow_id
    flow_choices = [(0, _("The box's default"))] + [(wid, _label(name, wid)) for wid, name in flows.items()]
    if saved_flow and saved_flow not in flows:
        flow_choices.append((saved_flow, _("%(id)s — OneBox does not list it now") % {"id": saved_flow}))
    old = form.fields["workflow_id"]
    form.fields["workflow_id"] = forms.TypedChoiceField(label=old.label, coerce=int, choices=flow_choices,
                                                        required=False, empty_value=0,
                                                        help_text=_("OneBox's business process for the shop's orders"))
    form.known_statuses = {s["id"]: s for s in box["statuses"]}
    grouped = [(flows.get(wid) or _label("", wid), [(s["id"], _label(s["name"], s["id"])) for s in box["statuses"]
                                                   if s["workflowid"] == wid])
               for wid in dict.fromkeys(s["workflowid"] for s in box["statuses"])]
    form.kept_status_pairs = _pair_fields(
        form, STATUS_PREFIX, oc_statuses, cfg.statuses(), form.known_statuses, grouped, typed="status_map",
        none=_("— not synced —"), label=_("OpenCart status: %(name)s"),
        help_text=_("The OneBox status it is, in the business process for orders; not synced: this status stays in "
                    "the shop."))
    form.status_pickers = True


def _group_fields(form, cfg: OneBoxConfig, oc_groups: dict[int, str], box: dict) -> None:
    form.known_groups = {g["id"]: g["name"] for g in box["groups"]}
    form.kept_group_pairs = _pair_fields(
        form, GROUP_PREFIX, oc_groups, {int(k): int(v) for k, v in cfg.group_map.items() if str(k).isdigit() and v},
        form.known_groups, [(gid, _label(name, gid)) for gid, name in form.known_groups.items()], typed="group_map",
        none=_("— not paired —"), label=_("Customer group: %(name)s"),
        help_text=_("The OneBox contact group it is. Paired groups keep their names in the shop; OneBox's other "
                    "groups become customer groups when they come in."))
    form.group_pickers = True


def _pair_fields(form, prefix: str, local: dict[int, str], saved: dict[int, int], known, offered: list, *,
                 typed: str, none: str, label: str, help_text: str) -> dict[str, int]:
    """One picker per shop record (instead of the typed map `typed`), set to its saved pair; a saved OneBox id
    OneBox no longer lists stays offered, marked. Returns the saved pairs of records the shop no longer has (kept)."""
    del form.fields[typed]
    for i, (oc, name) in enumerate(local.items()):
        ob = saved.get(oc)
        stale = [(ob, _("%(id)s — OneBox does not list it now") % {"id": ob})] if ob and ob not in known else []
        form.fields[f"{prefix}{oc}"] = forms.TypedChoiceField(
            label=label % {"name": _label(name, oc)}, coerce=int, choices=[(0, none)] + offered + stale,
            required=False, empty_value=0, help_text="" if i else help_text)
        form.initial[f"{prefix}{oc}"] = ob or 0
    return {str(oc): ob for oc, ob in saved.items() if oc not in local}


def clean_pickers(form, cleaned: dict) -> None:
    """The picked pairs as the stored maps, each checked against OneBox's lists."""
    if form.status_pickers:
        flow = int(cleaned.get("workflow_id") or 0)
        pairs = dict(form.kept_status_pairs)
        for name in _picked(form, STATUS_PREFIX):
            ob = int(cleaned.get(name) or 0)
            if not ob:
                continue
            status = form.known_statuses.get(ob)
            if status is None:
                form.add_error(name, _("OneBox does not list status %(id)s now: pick another, or not synced.")
                               % {"id": ob})
            elif flow and status["workflowid"] != flow:
                form.add_error(name, _("%(status)s is a status of another business process than the one chosen for "
                                       "orders.") % {"status": _label(status["name"], ob)})
            pairs[name[len(STATUS_PREFIX):]] = ob
        cleaned["status_map"] = pairs
    if form.group_pickers:
        pairs = dict(form.kept_group_pairs)
        for name in _picked(form, GROUP_PREFIX):
            ob = int(cleaned.get(name) or 0)
            if not ob:
                continue
            if ob not in form.known_groups:
                form.add_error(name, _("OneBox does not list contact group %(id)s now: pick another, or not paired.")
                               % {"id": ob})
            pairs[name[len(GROUP_PREFIX):]] = ob
        cleaned["group_map"] = pairs
