"""Categories and brands created or changed in OneBox, into the shop the way its admin saves them.

The poll reads what OneBox changed since its last read (`category/get`, `brand/get` with `datemodifyfrom` [SIM])
and hands the records whose view differs from what their Binding knows to one `CatalogueIn` job per kind; our
own writes read back give the view their Binding recorded (echoes: nothing to do). The job writes each record
through the shop's journaled writes (opencart.writes upsert_category / upsert_manufacturer), keyed by the
record's OneBox version, so a retry after a crash mid-write finishes that one write and never makes a second
category. Categories go parents first (OneBox's `parentid` [DOC] or `parentcode`, ours or OneBox's own codes).
Both sides changed since the last sync: the owner's rule for the kind decides and the conflict is logged. A parent
the shop does not have yet is read from OneBox and taken first. What OneBox had before the sync was switched on
comes in once through the same path: the load (`load_step`; page button or `ocbridge onebox load`).

A record created in OneBox keeps its own code there: the Binding remembers it (`data["code"]`) and what we send
back later carries it (and OneBox's id), so OneBox never gets a second copy.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db import transaction

from ocbridge.core import bindings, clock
from ocbridge.core.errors import TerminalError
from ocbridge.core.jobs import register_job_kind
from ocbridge.core.models import Binding, Integration, Job
from ocbridge.integrations.onebox import jobs, mappers, matching, models as m, shop
from ocbridge.integrations.onebox.jobs import OneBoxJob, _when, note, record_of

KINDS = {"category": m.CATEGORY, "brand": m.BRAND}  # OneBox entity → Binding kind
VIEWS = {"category": mappers.category_view, "brand": mappers.brand_view}


def view_hash(entity: str, record: dict) -> str:
    return bindings.digest(VIEWS[entity](record))


def codes(integration: Integration, kind: str) -> dict[str, str]:
    """local id → OneBox's own code, for records that came from OneBox (ours are `oc-cat<id>` / `oc-brand<id>`)."""
    return {lid: str(data.get("code") or "") for lid, data in Binding.objects.filter(
        connection_id=integration.connection_id, kind=kind, data__has_key="code").values_list("local_id", "data")}


def external_ids(integration: Integration, kind: str) -> dict[str, str]:
    return {lid: ext for lid, ext in Binding.objects.filter(connection_id=integration.connection_id, kind=kind)
            .values_list("local_id", "external_id") if str(ext).isdigit()}


# --- the shop's side as it would go out ----------------------------------------------------------------------


def category_bodies(integration: Integration, cfg, rows: list[dict] | None = None) -> list[tuple]:
    """(category_id, body to send, hash) of the shop's categories, parents first. The hash is of the body without
    OneBox's id; the id rides along for bound categories so OneBox updates that record whatever its code."""
    store = integration.store
    languages = shop.languages(store)
    default_lang = min(languages) if languages else 1
    own, ext = codes(integration, m.CATEGORY), external_ids(integration, m.CATEGORY)
    out = []
    for c in rows if rows is not None else shop.categories(store):
        body = mappers.category_body(c, cfg, languages, default_lang, own)
        if c["parent_id"] and not body["parentcode"] and str(c["parent_id"]) in ext:
            body["parentid"] = int(ext[str(c["parent_id"])])  # a parent OneBox made without a code
        out.append((c["category_id"], _with_id(body, ext.get(str(c["category_id"]))), bindings.digest(body)))
    return out


def brand_bodies(integration: Integration, rows: list[dict] | None = None) -> list[tuple]:
    own, ext = codes(integration, m.BRAND), external_ids(integration, m.BRAND)
    return [(r["manufacturer_id"], _with_id(body, ext.get(str(r["manufacturer_id"]))), bindings.digest(body))
            for r in (rows if rows is not None else shop.manufacturers(integration.store))
            for body in [mappers.brand_body(r, own)]]


def _with_id(body: dict, external: str | None) -> dict:
    return {**body, "id": int(external)} if external else body


def remote_hash(kind: str, body: dict) -> str:
    """The view OneBox's record gives when it holds this body (what the poll compares)."""
    entity = "category" if kind == m.CATEGORY else "brand"
    return view_hash(entity, {k: v for k, v in body.items() if k != "id"})


def _local_hash(integration: Integration, cfg, entity: str, local_id: int) -> str:
    if entity == "category":
        rows = [c for c in shop.categories(integration.store) if c["category_id"] == local_id]
        found = category_bodies(integration, cfg, rows)
    else:
        found = brand_bodies(integration, [r for r in shop.manufacturers(integration.store)
                                           if r["manufacturer_id"] == local_id])
    return found[0][2] if found else ""


# --- the poll ------------------------------------------------------------------------------------------------


def poll(integration: Integration, cfg, client, state, now: datetime) -> int:
    """Categories and brands OneBox changed: one CatalogueIn job per kind with the records whose view differs
    from their Binding's; nothing written when nothing changed. Returns how many records were found changed."""
    found = 0
    for entity, kind in KINDS.items():
        if not cfg.takes(entity):
            continue
        since = (state.changed_since or {}).get(entity) or (now - timedelta(minutes=5)).strftime(mappers.FMT)
        rows, newest = jobs.read_changed(client, entity, since)
        known = dict(Binding.objects.filter(connection_id=integration.connection_id, kind=kind,
                                            external_id__in=[str(r["id"]) for r in rows])
                     .values_list("external_id", "remote_hash"))
        changed = [r for r in rows if known.get(str(r["id"])) != view_hash(entity, r)]
        found += len(changed)
        with transaction.atomic():
            if changed:
                version = bindings.digest([(r["id"], view_hash(entity, r)) for r in changed])
                Job.objects.enqueue(CatalogueIn, key=f"onebox:{integration.store_id}:{entity}-in:{version}",
                                    integration=integration,
                                    payload={"entity": entity, "records": changed, "seen": now.isoformat()})
            if newest != since or entity not in (state.changed_since or {}):
                state.touch(changed_since={**(state.changed_since or {}), entity: newest})
    return found


def parents_first(records: list[dict]) -> list[dict]:
    """Categories ordered so each parent named in the batch (by OneBox id or code) comes before its children."""
    by_id = {str(r.get("id")): r for r in records}
    by_code = {str(r.get("code")): r for r in records if r.get("code")}
    out, placed = [], set()

    def place(r: dict, depth: int = 0) -> None:
        if id(r) in placed or depth > 50:
            return
        parent = by_id.get(str(r.get("parentid") or "")) or by_code.get(str(r.get("parentcode") or ""))
        if parent is not None and parent is not r:
            place(parent, depth + 1)
        placed.add(id(r))
        out.append(r)

    for r in records:
        place(r)
    return out


# --- the job -------------------------------------------------------------------------------------------------


@register_job_kind
class CatalogueIn(OneBoxJob):
    """Categories or brands OneBox changed, into the shop, once per OneBox version of each. A record the shop
    refuses (no name, a parent it does not have) is listed with the reason and the others go on."""

    kind = "onebox.catalogue_in"

    def sync(self, job, integration, cfg, client) -> None:
        entity = job.payload["entity"]
        if "records" in job.payload:  # what the poll read
            records = job.payload["records"]
        else:  # the owner's Retry: OneBox's current version
            records = [r for r in [record_of(integration, client, entity, job.payload)] if r is not None]
        take_all(integration, cfg, client, entity, records, seen=_when(job.payload.get("seen")))


def take_all(integration: Integration, cfg, client, entity: str, records: list[dict], *,
             seen: datetime | None, step: str = "") -> None:
    """Take these OneBox records (categories parents first); one the shop refuses (no name, a parent OneBox does
    not have) is listed with the reason and the others go on. `step`: a load's, for jobs.crash_hook."""
    for record in parents_first(records) if entity == "category" else records:
        try:
            take(integration, cfg, client, entity, record, seen=seen)
        except TerminalError as exc:
            refused(integration, KINDS[entity], record, exc)
        if step and jobs.crash_hook is not None:
            jobs.crash_hook(step, record["id"])


# --- what OneBox had before the sync was switched on: a resumable load ---------------------------------------------


def load_step(entity: str, integration: Integration, cfg, client, read, first: bool) -> bool:
    """One step of the load of every OneBox category or brand (jobs.LoadStep, kinds "category_in" / "brand_in"):
    the page `read()` gives, each record taken as the poll takes a change — the same conflict rules, OneBox's ids and
    codes kept; a record already in step is left alone, so a step repeated after a crash (or a page read again) writes
    nothing twice. A category whose parent is on a later page is taken after its parent, read from OneBox. False
    when this kind does not come from OneBox (nothing read)."""
    if not cfg.takes(entity):  # this kind does not come from OneBox (any more): nothing to load
        return False
    take_all(integration, cfg, client, entity, read(), seen=clock.now(), step="load")
    return True


def take(integration: Integration, cfg, client, entity: str, record: dict, *, seen: datetime | None,
         depth: int = 0) -> None:
    """One OneBox category or brand into the shop: created and bound, or updated when OneBox's side changed
    (the owner's rule when both did); our own write read back changes nothing."""
    kind, store = KINDS[entity], integration.store
    if entity == "category":
        _parent_from_onebox(integration, cfg, client, record, seen=seen, depth=depth)
    remote_now = view_hash(entity, record)
    b = Binding.objects.filter(connection_id=integration.connection_id, kind=kind, external_id=str(record["id"])).first()
    key = f"onebox:{integration.store_id}:{entity}-in:{record['id']}:{remote_now}"
    if b is None:  # new to the sync: the shop's own of that name is linked (nothing written), else it is created
        local_id = None  # a create begun before a crash is finished (its half-made row is not "the shop's own")
        if shop.begun_write(key) is None:
            parent = _parent(integration, record) if entity == "category" else 0
            local_id = matching.shop_record_for(integration, entity, record, parent)
        if local_id is None:
            local_id = _write(integration, cfg, entity, record, key=key, local_id=None)
        b, _ = Binding.objects.get_or_create(connection_id=integration.connection_id, kind=kind, local_id=str(local_id),
                                             defaults={"external_id": str(record["id"])})
        b.external_id = str(record["id"])
        b.data = {**b.data, "code": str(record.get("code") or "")}
        b.save(update_fields=["external_id", "data"])  # the code first: the shop's body is computed with it
        _bound(integration, cfg, entity, b, remote_now, lost=None)
        return
    if shop.begun_write(key) is not None:  # decided before a crash: finish that write (what
        _write(integration, cfg, entity, record, key=key, local_id=int(b.local_id))  # it wrote is not a shop change)
        _bound(integration, cfg, entity, b, remote_now, lost=None)
        return
    local_now = _local_hash(integration, cfg, entity, int(b.local_id))
    decision = bindings.decide(b, local_now, remote_now, cfg.rule(entity),
                               local_seen_at=_shop_changed_at(store, entity, int(b.local_id)), remote_seen_at=seen)
    write_to = decision.write_to
    if not cfg.sends(entity) and remote_now != b.remote_hash:
        write_to = bindings.LOCAL  # the shop's changes do not go to OneBox: OneBox's change is simply taken
    if decision.baseline and write_to != bindings.LOCAL:
        bindings.record(b, local_hash=b.local_hash, remote_hash=remote_now, origin=bindings.LOCAL)
        return
    lost = None
    if decision.conflict and cfg.sends(entity):
        lost = {"shop": local_now, "onebox": remote_now}
        m.Conflict.objects.create(integration=integration, kind=entity, local_id=b.local_id, rule=cfg.rule(entity),
                                  winner=write_to, lost=lost, created=clock.now())
    if write_to != bindings.LOCAL:
        return  # the shop's side wins or only the shop changed: the catalogue run sends it
    _write(integration, cfg, entity, record, key=key, local_id=int(b.local_id))
    _bound(integration, cfg, entity, b, remote_now, lost=lost)


def _write(integration: Integration, cfg, entity: str, record: dict, *, key: str, local_id: int | None) -> int:
    store = integration.store
    if entity == "brand":
        return shop.upsert_manufacturer(store, str(record.get("name") or "").strip(), key=key,
                                        manufacturer_id=local_id).manufacturer_id
    draft = mappers.category_draft(record, cfg, shop.languages(store), parent_id=_parent(integration, record),
                                   store_id=int(store.oc_store_id or 0), creating=local_id is None)
    return shop.upsert_category(store, draft, key=key, category_id=local_id).category_id


def _parent_from_onebox(integration: Integration, cfg, client, record: dict, *, seen: datetime | None,
                        depth: int) -> None:
    """A category whose parent OneBox has and the shop not yet (made there before the sync was switched on, or
    read on a later page of a load): the parent is read from OneBox and taken first. One the shop refuses is
    listed with its own reason (its child is then refused for the missing parent)."""
    parent_id = str(record.get("parentid") or "").strip()
    if parent_id in ("", "0") or depth > 50 or Binding.objects.filter(
            connection_id=integration.connection_id, kind=m.CATEGORY, external_id=parent_id).exists():
        return
    parent = next((r for r in client.get("category", filter={"id": [int(parent_id)]})
                   if str(r.get("id")) == parent_id), None)
    if parent is None:
        return
    try:
        take(integration, cfg, client, "category", parent, seen=seen, depth=depth + 1)
    except TerminalError as exc:
        refused(integration, m.CATEGORY, parent, exc)


def _parent(integration: Integration, record: dict) -> int:
    """The shop's category OneBox names as the parent: by OneBox's id [DOC `parentid`], else by code (ours
    `oc-cat<id>`, or the code of a category that came from OneBox); 0 = top level. Refused when the shop does
    not have it (yet): the record is listed and taken once its parent is there."""
    parent_id, code = str(record.get("parentid") or "").strip(), str(record.get("parentcode") or "").strip()
    if parent_id in ("", "0") and not code:
        return 0
    ours = Binding.objects.filter(connection_id=integration.connection_id, kind=m.CATEGORY)
    found = ours.filter(external_id=parent_id).first() if parent_id not in ("", "0") else None
    if found is None and code:
        found = ours.filter(data__code=code).first()
        if found is None and code.startswith("oc-cat") and code[6:].isdigit():
            return int(code[6:])
    if found is None:
        raise TerminalError("onebox", "parent", f"the parent category ({code or parent_id}) is not in the shop yet")
    return int(found.local_id)


def _bound(integration: Integration, cfg, entity: str, b: Binding, remote_now: str, *, lost) -> None:
    """The shop holds OneBox's version: record the hash the catalogue run will compute from the shop (so it is
    not sent back) and OneBox's view; a failure listed for this record is cleared."""
    if not b.pk:
        b.save()
    bindings.record(b, local_hash=_local_hash(integration, cfg, entity, int(b.local_id)), remote_hash=remote_now,
                    origin=bindings.REMOTE, lost=lost, save=False)
    note(b, m.OK, error="")
    Binding.objects.filter(connection_id=integration.connection_id, kind=b.kind,
                           local_id=f"onebox:{b.external_id}").delete()


def refused(integration: Integration, kind: str, record: dict, exc: TerminalError) -> None:
    """The shop refused OneBox's record, or it has several of its name: listed with the reason (Retry reads it from
    OneBox again)."""
    b = Binding.objects.filter(connection_id=integration.connection_id, kind=kind, external_id=str(record["id"])).first()
    if b is None:
        b, _ = Binding.objects.get_or_create(connection_id=integration.connection_id, kind=kind,
                                             local_id=f"onebox:{record['id']}",
                                             defaults={"external_id": f"pending:{kind}:{record['id']}"})
    coded = {"reason": exc.reason, "params": exc.params} if isinstance(exc, matching.SameName) else {
        "reason": "", "params": {}}
    note(b, m.FAILED, error=exc.message or str(exc), direction="in", **coded)


def _shop_changed_at(store, entity: str, local_id: int) -> datetime | None:
    """When the shop changed the record, for "newest wins": a category's date_modified (shop.category_modified).
    OpenCart keeps no change time for a manufacturer: None (a tie keeps the shop's)."""
    if entity != "category":
        return None
    return shop.category_modified(store, local_id)
