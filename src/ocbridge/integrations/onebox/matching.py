"""Brands and categories both sides already have, found by name before either side creates one.

A shop manufacturer and a OneBox brand of the same name are one brand; two categories are one when their names and
their parents are the same. A match links the two records (their Binding, with both sides' hashes as they stand:
nothing is written on either side, later changes flow as any other). Several of that name on one side is the
owner's call, not ours: the record is listed with the reason and a Retry, and nothing is created.

Names are compared as people read them, in any script: HTML entities as the shop stores them decoded, Unicode
compatibility forms and case folded, spaces collapsed, and the Turkish dotted and dotless I (İ ı) read as i — a shop
that wrote "İSTANBUL" and a box that has "Istanbul" mean one word; Russian folds as Unicode does (Ё ё, not е). A
category matches on any of its names (the shop's per language, OneBox's `name` and `namelang`).

OneBox's whole list of the kind is read (pages of `<entity>/get`) rather than asked by name: its filters match
loosely ([WC] re-checks `externalid`, [HUB] re-checks `namelast`) and nothing public says whether they fold case or
the Turkish I (docs/providers/onebox.md §4). The list is read only by a catalogue run that would create something.
"""

from __future__ import annotations

import html
import unicodedata
from collections import defaultdict

from ocbridge.core import bindings
from ocbridge.core.errors import TerminalError
from ocbridge.core.models import Binding, Integration
from ocbridge.integrations.onebox import models as m, reasons, shop

KIND = {"category": m.CATEGORY, "brand": m.BRAND}
_TURKISH_I = str.maketrans({"İ": "i", "ı": "i"})


def name_key(text) -> str:
    """The form two names are compared in ("" for no name)."""
    text = unicodedata.normalize("NFKC", html.unescape(str(text or ""))).translate(_TURKISH_I).casefold()
    text = unicodedata.normalize("NFC", text.replace("i\u0307", "i"))  # a decomposed İ folds to i + dot above
    return " ".join(text.split())


def shop_keys(entity: str, row: dict) -> set[str]:
    names = [row["name"]] if entity == "brand" else list(row["names"].values())
    return {k for k in map(name_key, names) if k}


def onebox_keys(record: dict) -> set[str]:
    return {k for k in map(name_key, [record.get("name"), *(record.get("namelang") or {}).values()]) if k}


class SameName(TerminalError):
    """Several records of one name on one side: the owner decides which is the same one (a reasons code)."""

    def __init__(self, reason: str, **params):
        self.reason, self.params = reason, params
        super().__init__("onebox", reason, reasons.english(reason, params))


def _linked(integration: Integration, kind: str) -> dict[str, str]:
    """local id → OneBox id of the records already linked."""
    return {lid: ext for lid, ext in Binding.objects.filter(connection_id=integration.connection_id, kind=kind)
            .values_list("local_id", "external_id") if str(ext).isdigit()}


def _shop_rows(integration: Integration, entity: str) -> list[dict]:
    rows = shop.manufacturers(integration.store) if entity == "brand" else shop.categories(integration.store)
    return [{**r, "id": r["manufacturer_id" if entity == "brand" else "category_id"]} for r in rows]


def _label(entity: str, row: dict) -> str:
    return row["name"] if entity == "brand" else next(iter(row["names"].values()), "")


# --- a record from OneBox: the shop's own of that name? --------------------------------------------------------


def shop_record_for(integration: Integration, entity: str, record: dict, parent_id: int = 0) -> int | None:
    """The shop's record, not linked yet, that is this OneBox brand or category (of that name; a category under
    `parent_id`, the shop's parent of OneBox's): its id, or None when the shop has none. SameName when the shop has
    several, or when its only one is linked to another OneBox record of that name already (OneBox has two — as a
    box where an earlier sync made a second "Acme" does: taking it would make a second one in the shop too)."""
    linked, keys = _linked(integration, KIND[entity]), onebox_keys(record)
    named = [r for r in _shop_rows(integration, entity) if shop_keys(entity, r) & keys
             and (entity == "brand" or int(r["parent_id"] or 0) == int(parent_id or 0))]
    hits = [r for r in named if str(r["id"]) not in linked]
    name = str(record.get("name") or "")
    if len(hits) > 1:
        raise SameName(f"same_name_shop_{entity}", name=name, ids=", ".join(str(r["id"]) for r in hits))
    if not hits and named:
        ids = sorted({int(linked[str(r["id"])]) for r in named} | {int(record["id"])})
        raise SameName(f"same_name_onebox_{entity}", name=name, ids=", ".join(map(str, ids)))
    return hits[0]["id"] if hits else None


# --- the shop's records about to be created in OneBox: OneBox's own of that name? -------------------------------


def link_before_create(integration: Integration, client, entity: str, todo: list[tuple]) -> bool:
    """The shop's records in `todo` ((local id, body, hash), parents first) that OneBox does not have yet: each
    linked to OneBox's record of the same name (and parent) instead of being created; several on either side →
    listed with the reason, not created until the owner's Retry (or a change). Returns whether any record was
    linked or listed (the caller plans its sends again)."""
    from ocbridge.integrations.onebox import catalogue_in, jobs

    kind = KIND[entity]
    linked = _linked(integration, kind)
    new = [t for t in todo if str(t[0]) not in linked]
    if not new:
        return False
    taken = set(linked.values())
    named = defaultdict(list)  # name key → OneBox's records not linked yet
    for r in client.iter_all(entity):
        if str(r["id"]) not in taken:
            for k in onebox_keys(r):
                named[k].append(r)
    rows = _shop_rows(integration, entity)
    by_id = {r["id"]: r for r in rows}
    made = {}  # local id → the OneBox record linked in this pass

    def parent_of(row: dict) -> str | None:
        """OneBox's id of the category's parent ("0": top level; None: not in OneBox yet)."""
        if entity == "brand" or not row["parent_id"]:
            return "0"
        return linked.get(str(row["parent_id"]))

    for local_id, _body, h in new:
        row = by_id.get(local_id)
        parent = parent_of(row) if row else None
        if row is None or parent is None:
            continue
        keys = shop_keys(entity, row)
        found = {r["id"]: r for k in keys for r in named.get(k, [])
                 if entity == "brand" or str(int(r.get("parentid") or 0)) == parent}
        if not found:
            continue
        twins = [o for o in rows if str(o["id"]) not in linked and shop_keys(entity, o) & keys
                 and parent_of(o) == parent]
        if len(found) > 1 or len(twins) > 1:
            reason, ids = ((f"same_name_onebox_{entity}", sorted(found)) if len(found) > 1
                           else (f"same_name_shop_{entity}", [o["id"] for o in twins]))
            exc = SameName(reason, name=_label(entity, row), ids=", ".join(map(str, ids)))
            jobs._failed(integration, kind, local_id, exc, failed_hash=h, reason=exc.reason, params=exc.params)
            made[local_id] = None
            continue
        [theirs] = found.values()
        b, _ = Binding.objects.get_or_create(connection_id=integration.connection_id, kind=kind,
                                             local_id=str(local_id), defaults={"external_id": str(theirs["id"])})
        b.external_id = str(theirs["id"])
        b.data = {**b.data, "code": str(theirs.get("code") or ""), "linked_by": "name"}
        jobs.note(b, m.OK, error="", reason="", params={})
        linked[str(local_id)], made[local_id] = str(theirs["id"]), theirs
        for k in onebox_keys(theirs):
            named[k] = [r for r in named[k] if r["id"] != theirs["id"]]
    if not any(made.values()):
        return bool(made)
    # both sides as they stand now are in step: the shop's body (under OneBox's code and id) is not sent
    now = dict((lid, h) for lid, _body, h in (catalogue_in.category_bodies(integration, jobs.config_of(integration))
                                             if entity == "category" else catalogue_in.brand_bodies(integration)))
    for b in Binding.objects.filter(connection_id=integration.connection_id, kind=kind,
                                    local_id__in=[str(lid) for lid, r in made.items() if r]):
        bindings.record(b, local_hash=now.get(int(b.local_id), ""), origin=bindings.LOCAL,
                        remote_hash=catalogue_in.view_hash(entity, made[int(b.local_id)]))
    return True
