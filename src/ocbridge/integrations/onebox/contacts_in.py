"""Contacts and contact groups made or changed in OneBox, into the shop as customers and customer groups.

The OneBox poll (jobs.poll_onebox, a routine poll) calls `poll`: the contact groups, then the contacts OneBox
changed since the last read, one job per record whose two-way view (mappers.contact_view / group_view) differs from what its Binding knows
— our own writes read back are echoes and make nothing. Jobs write through the shop's journaled writes
(upsert_customer_group, upsert_customer: never a password; the customer sets one with "Forgotten password").

What an owner gets:
- a new OneBox contact with an e-mail → one customer, in the customer group its contact group maps to (the owner's
  map, else the group the sync created for it, else the store's default group);
- an e-mail a shop customer has already → that customer is matched, not duplicated (OneBox's names go over the
  shop's unless the rule for customers is "the shop wins"; a difference is logged as a conflict);
- no e-mail, an e-mail another OneBox contact already brought, or a contact the customer form refuses → listed
  as not synced with the reason (and Retry), nothing written;
- both sides changed since the last sync → the owner's rule for customers (groups: for groups) decides, logged;
- contacts OneBox made from guest orders stay guests; groups the owner paired keep their names in the shop.
"""

from __future__ import annotations

from ocbridge.core import bindings, clock
from ocbridge.core.bindings import SHOP_WINS
from ocbridge.core.errors import TerminalError
from ocbridge.core.jobs import register_job_kind
from ocbridge.core.models import Binding, Integration
from ocbridge.integrations.onebox import groups, jobs, mappers, models as m, reasons, shop
from ocbridge.integrations.onebox.config import OneBoxConfig
from ocbridge.integrations.onebox.jobs import OneBoxJob, _when, note
from ocbridge.services.onebox import OneBoxClient

GROUP_ENTITY, CONTACT_ENTITY = "contactgroup", "contact"


def poll(integration: Integration, cfg: OneBoxConfig, client: OneBoxClient, state: m.SyncState, now) -> int:
    """Groups first (a contact's group is then known), then contacts; how many jobs."""
    made = 0
    if cfg.takes("contact_group"):
        made += jobs.enqueue_changed(integration, client, state, now, entity=GROUP_ENTITY, kind=m.CONTACT_GROUP,
                                     view=mappers.group_view, job_kind=GroupIn)
    if cfg.takes("contact"):
        made += jobs.enqueue_changed(integration, client, state, now, entity=CONTACT_ENTITY, kind=m.CONTACT,
                                     view=mappers.contact_view, job_kind=ContactIn)
    return made


def _not_synced(integration: Integration, kind: str, external_id: str, reason: str, seen_view: str,
                b: Binding | None = None, **params) -> None:
    """Keep a record OneBox has and the shop could not take on the failed list with the reason (a reasons code);
    this version of it is not tried again until it changes in OneBox or the owner presses Retry."""
    if b is None:
        b, _ = Binding.objects.get_or_create(connection_id=integration.connection_id, kind=kind,
                                             external_id=str(external_id),
                                             defaults={"local_id": f"onebox:{external_id}"})
    note(b, m.FAILED, error=reasons.english(reason, params), reason=reason, params=params, direction="in",
         seen_view=seen_view)


def _conflict(integration: Integration, kind: str, local_id: str, rule: str, winner: str, lost: dict) -> None:
    m.Conflict.objects.create(integration=integration, kind=kind, local_id=local_id, rule=rule, winner=winner,
                              lost=lost, created=clock.now())


# --- contact groups -----------------------------------------------------------------------------------------------


def _group_hash(store, customer_group_id: int) -> str:
    return bindings.digest(shop.customer_group_names(store, customer_group_id))


def group_in(integration: Integration, cfg: OneBoxConfig, record: dict, *, seen: str = "") -> int | None:
    """One OneBox contact group into the shop; returns its customer_group_id (None: listed as not synced). Groups
    the owner paired in the map are theirs: left as they are."""
    store, gid = integration.store, int(record["id"])
    if groups.mapped_by_owner(cfg, gid):
        return groups.to_shop(integration, cfg).get(gid)
    remote_now = bindings.digest(mappers.group_view(record))
    names = mappers.group_names(record, cfg, shop.languages(store))
    key = f"onebox:{store.pk}:group-in:{gid}:{remote_now}"
    b = Binding.objects.filter(connection_id=integration.connection_id, kind=m.CONTACT_GROUP,
                               external_id=str(gid)).first()
    local = int(b.local_id) if b is not None and str(b.local_id).isdigit() else None
    lost = None
    if local is not None:
        local_now = _group_hash(store, local)
        decision = bindings.decide(b, local_now, remote_now, cfg.rule("contact_group"),
                                   local_seen_at=b.synced_at, remote_seen_at=_when(seen))
        if decision.baseline or decision.write_to is None:
            bindings.record(b, local_hash=b.local_hash or local_now, remote_hash=remote_now, origin=b.last_origin
                            or bindings.REMOTE)
            return local
        if decision.conflict:
            lost = {"shop": shop.customer_group_names(store, local), "onebox": names}
            _conflict(integration, "contact_group", b.local_id, cfg.rule("contact_group"), decision.write_to, lost)
        if decision.write_to == bindings.REMOTE:  # the shop's names win: groups do not go out, keep both
            bindings.record(b, local_hash=local_now, remote_hash=remote_now, origin=bindings.LOCAL, lost=lost)
            return local
    try:
        written = shop.upsert_customer_group(store, names, key=key, customer_group_id=local)
    except TerminalError as exc:
        _not_synced(integration, m.CONTACT_GROUP, str(gid), "refused", remote_now, b, error=exc.message or str(exc))
        return local
    if b is None:
        b = Binding(connection_id=integration.connection_id, kind=m.CONTACT_GROUP, external_id=str(gid))
    b.local_id = str(written.customer_group_id)
    if b.pk is None:
        b.save()
    bindings.record(b, local_hash=_group_hash(store, written.customer_group_id), remote_hash=remote_now,
                    origin=bindings.REMOTE, lost=lost, save=False)
    note(b, m.OK, error="", reason="", direction="", seen_view="")
    return written.customer_group_id


@register_job_kind
class GroupIn(OneBoxJob):
    """A contact group created or renamed in OneBox → a customer group in the shop (names in every language)."""

    kind = "onebox.group_in"

    def sync(self, job, integration, cfg, client) -> None:
        record = jobs.record_of(integration, client, GROUP_ENTITY, job.payload)
        if record is not None:
            group_in(integration, cfg, record, seen=job.payload.get("seen") or "")


def shop_group(integration: Integration, cfg: OneBoxConfig, client: OneBoxClient, onebox_group: int,
               current: int | None) -> int:
    """The customer group for a contact in `onebox_group`: mapped or synced, else (groups coming in) the group taken
    in now, else the customer's current group, else the store's default."""
    if onebox_group:
        found = groups.to_shop(integration, cfg).get(onebox_group)
        if found is None and cfg.takes("contact_group"):
            rows = client.get(GROUP_ENTITY, filter={"id": [onebox_group]})
            record = next((r for r in rows if str(r.get("id")) == str(onebox_group)), None)
            found = group_in(integration, cfg, record) if record is not None else None
        if found is not None:
            return int(found)
    return int(current) if current else shop.default_customer_group(integration.store)


# --- the contacts OneBox has when the owner starts taking them: a resumable load ---------------------------------


def load_step(integration: Integration, cfg: OneBoxConfig, client: OneBoxClient, read, first: bool) -> bool:
    """One step of the load of every OneBox contact (jobs.LoadStep, kind "contact_in"): its groups first (at the
    first step), then the page of contacts `read()` gives, each taken as the poll takes a change (a record already in
    step is left alone, so a step repeated after a crash, or a page read again, writes nothing twice). False when
    customers do not come from OneBox (nothing read)."""
    if not cfg.takes("contact"):  # customers do not come from OneBox (any more): nothing to load
        return False
    if first and cfg.takes("contact_group"):
        for record in client.get(GROUP_ENTITY, limit=500):
            group_in(integration, cfg, record)
    taker = ContactIn()
    for record in read():
        taker.take(integration, cfg, client, record)
        if jobs.crash_hook is not None:
            jobs.crash_hook("load", record["id"])
    return True


# --- contacts -----------------------------------------------------------------------------------------------------


def _local_hash(integration: Integration, cfg: OneBoxConfig, row: dict) -> str:
    group = groups.to_onebox(integration, cfg).get(int(row.get("customer_group_id") or 0))
    return bindings.digest(mappers.contact_body(row, group))


@register_job_kind
class ContactIn(OneBoxJob):
    """A contact created or changed in OneBox → a customer created, matched by e-mail or updated in the shop, once
    per OneBox version of it (the shop write's key carries the version, so a retry after a crash resumes the same
    write). Both sides changed since the last sync: the owner's rule for customers decides, logged."""

    kind = "onebox.contact_in"

    def sync(self, job, integration, cfg, client) -> None:
        record = jobs.record_of(integration, client, CONTACT_ENTITY, job.payload)
        if record is not None:
            self.take(integration, cfg, client, record, job.payload.get("seen"))

    def take(self, integration, cfg, client, record: dict, seen: str | None = None) -> None:
        ext, store = str(record["id"]), integration.store
        view = bindings.digest(mappers.contact_view(record))
        b = Binding.objects.filter(connection_id=integration.connection_id, kind=m.CONTACT, external_id=ext).first()
        local = str(b.local_id) if b is not None else ""
        if local.startswith("oc-e:"):  # a guest buyer's contact: no account in the shop to keep in step
            bindings.record(b, local_hash=b.local_hash, remote_hash=view, origin=b.last_origin or bindings.LOCAL)
            return
        fields = mappers.customer_fields(record)
        key = f"onebox:{store.pk}:contact-in:{ext}:{view}"
        if "@" not in fields["email"]:
            return _not_synced(integration, m.CONTACT, ext, "no_email", view, b)
        if local.startswith("oc-c") and local[4:].isdigit():
            return self._update(integration, cfg, client, b, int(local[4:]), record, fields, view, key, seen)
        self._new(integration, cfg, client, b, record, fields, view, key)

    def _new(self, integration, cfg, client, b, record, fields, view, key) -> None:
        store, ext = integration.store, str(record["id"])
        begun = shop.begun_write(key)  # a run that crashed mid-write: finish that write as it was asked
        existing = begun["customer_id"] if begun else shop.customer_id_by_email(store, fields["email"])
        lost, other = None, None
        if existing is not None:
            other = Binding.objects.filter(connection_id=integration.connection_id, kind=m.CONTACT,
                                           local_id=f"oc-c{existing}").first()
        if existing is not None and not begun:
            if other is not None and str(other.external_id).isdigit() and other.external_id != ext:
                return _not_synced(integration, m.CONTACT, ext, "same_email", view, b, email=fields["email"],
                                   other=other.external_id, customer=existing)
            ours = mappers.contact_view(mappers.contact_body(shop.customers(store, [existing])[existing], None))
            theirs = mappers.contact_view(record)
            fields_compared = ("name", "namelast", "phone")
            if any(ours[k] != theirs[k] for k in fields_compared):
                winner = bindings.REMOTE if cfg.rule("contact") == SHOP_WINS else bindings.LOCAL
                lost = {"shop": {k: ours[k] for k in fields_compared}, "onebox": {k: theirs[k] for k in fields_compared}}
                _conflict(integration, "contact", f"oc-c{existing}", cfg.rule("contact"), winner, lost)
            if lost is None or cfg.rule("contact") == SHOP_WINS:  # the same person: bound, the shop's data kept
                return self._bind(integration, cfg, b, other, existing, ext, view, origin=bindings.LOCAL, lost=lost)
        current = shop.customers(store, [existing])[existing]["customer_group_id"] if existing else None
        group = shop_group(integration, cfg, client, int(record.get("groupid") or 0), current)
        try:
            written = shop.upsert_customer(store, fields, customer_group_id=group, key=key, customer_id=existing)
        except TerminalError as exc:
            return _not_synced(integration, m.CONTACT, ext, "refused", view, b, error=exc.message or str(exc))
        self._bind(integration, cfg, b, other, written.customer_id, ext, view, origin=bindings.REMOTE, lost=lost)

    def _update(self, integration, cfg, client, b, cid, record, fields, view, key, seen) -> None:
        store, ext = integration.store, str(record["id"])
        row = shop.customers(store, [cid]).get(cid)
        if row is None:
            return _not_synced(integration, m.CONTACT, ext, "deleted", view, b, customer=cid)
        local_now = _local_hash(integration, cfg, row)
        decision = bindings.decide(b, local_now, view, cfg.rule("contact"), local_seen_at=b.synced_at,
                                   remote_seen_at=_when(seen))
        if decision.baseline or decision.write_to is None:
            bindings.record(b, local_hash=b.local_hash or local_now, remote_hash=view,
                            origin=b.last_origin or bindings.LOCAL)
            return
        lost = None
        if decision.conflict:
            lost = {"shop": {k: row[k] for k in ("firstname", "lastname", "email", "telephone")},
                    "onebox": fields}
            _conflict(integration, "contact", b.local_id, cfg.rule("contact"), decision.write_to, lost)
        if decision.write_to == bindings.REMOTE:
            self._to_onebox(integration, cfg, client, b, row, local_now, view, lost)
            return
        holder = shop.customer_id_by_email(store, fields["email"])
        if holder is not None and holder != cid:
            return _not_synced(integration, m.CONTACT, ext, "email_taken", view, b, email=fields["email"],
                               customer=holder)
        group = shop_group(integration, cfg, client, int(record.get("groupid") or 0), row["customer_group_id"])
        try:
            shop.upsert_customer(store, fields, customer_group_id=group, key=key, customer_id=cid)
        except TerminalError as exc:
            return _not_synced(integration, m.CONTACT, ext, "refused", view, b, error=exc.message or str(exc))
        self._bind(integration, cfg, b, None, cid, view, origin=bindings.REMOTE, lost=lost)

    @staticmethod
    def _to_onebox(integration, cfg, client, b, row, local_now, view, lost) -> None:
        """The shop's side wins: sent to OneBox when customers go out, else both sides kept as they are."""
        if cfg.sends("contact"):
            group = groups.to_onebox(integration, cfg).get(int(row.get("customer_group_id") or 0))
            body = {**mappers.contact_body(row, group), "id": int(b.external_id)}
            client.set("contact", [body], key=f"onebox:{integration.store_id}:contact-out:{b.external_id}:{local_now}")
            view = bindings.digest(mappers.contact_view(body))
        bindings.record(b, local_hash=local_now, remote_hash=view, origin=bindings.LOCAL, lost=lost)

    @staticmethod
    def _bind(integration, cfg, b, other, customer_id: int, ext: str, view: str, *, origin: str, lost) -> None:
        """Bind the OneBox contact to the customer with both sides' hashes as they stand now. `b`: the contact's
        own Binding (listed as not synced before), `other`: the customer's (its send OneBox refused): one stays."""
        if other is not None and b is not None and other.pk != b.pk:
            other.delete()
        b = b or other or Binding(connection_id=integration.connection_id, kind=m.CONTACT)
        b.local_id, b.external_id = f"oc-c{customer_id}", ext
        row = shop.customers(integration.store, [customer_id])[customer_id]
        bindings.record(b, local_hash=_local_hash(integration, cfg, row), remote_hash=view, origin=origin, lost=lost,
                        save=False)
        b.data = {**b.data, "state": m.OK, "error": "", "reason": "", "direction": "", "seen_view": "",
                  "at": clock.now().isoformat()}
        b.save()
