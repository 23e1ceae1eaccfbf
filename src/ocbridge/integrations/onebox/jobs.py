"""OneBox job kinds: orders and their history out as they appear, order statuses both ways without loops, the
catalogue out by content hash, and the whole history loaded once on connect (resumable, with progress).

The only module that calls both the shop (through `shop.py`) and the OneBox client. Every record has a Binding:
orders carry the content hash of what OneBox got (`data["content"]`) and, for the status, each side's hash as of
the last sync (`local_hash` = OpenCart status, `remote_hash` = OneBox status; core.bindings). Our own writes are
recorded with the hash the other side will show, so reading them back is an echo and nothing is sent back; both
sides changed since the last sync is a conflict decided by the owner's rule and logged (models.Conflict).
"""

from __future__ import annotations

import logging
import math
from datetime import datetime, timedelta

from django.db import transaction
from django.utils.translation import gettext_lazy as _

from ocbridge.core import bindings, clock, outbox, polls
from ocbridge.core.choices import SideEffectState
from ocbridge.core.errors import ConfigurationError, RetryableError, ServiceError, TerminalError
from ocbridge.core.jobs import IntegrationJob, enqueue_unless_waiting, register_job_kind
from ocbridge.core.models import Binding, Integration, Job
from ocbridge.core.polls import Target, register_poll
from ocbridge.core.registry import register_history_consumer, register_order_consumer, register_stock_source_check
from ocbridge.integrations.onebox import groups, mappers, models as m, shop
from ocbridge.integrations.onebox.config import OneBoxConfig
from ocbridge.services import onebox as ob
from ocbridge.services.onebox import OneBoxClient

log = logging.getLogger(__name__)

CATALOG_EVERY = 60.0  # the catalogue is compared by content hash; only changed records are sent
LOAD_STEP = 200  # records per step of a first load; each step saves its position (a crash resumes there)

# Tests set this to play a crash: called as crash_hook("load", record_id) after each record of a load step;
# raising there stops the step as a killed worker would.
crash_hook = None


def client_for(integration: Integration) -> OneBoxClient:
    if integration.connection is None or integration.connection.service != "onebox":
        raise ConfigurationError("the OneBox integration has no OneBox connection")
    return OneBoxClient(integration.connection)


def config_of(integration: Integration) -> OneBoxConfig:
    return OneBoxConfig.from_settings(integration.settings)


def binding(integration: Integration, kind: str, local_id) -> Binding | None:
    return Binding.objects.filter(connection_id=integration.connection_id, kind=kind, local_id=str(local_id)).first()


def note(b: Binding, state: str, **data) -> None:
    """A record's sync state on its Binding: ok, or failed with OneBox's words (the dashboard's retry list). A
    failure coming in is marked `direction` "in" (its Retry reads OneBox's record again); any other note drops the
    mark (and `record`, the copy kept for Retry before 2026-12-06), and the owner's dismissal of an earlier state."""
    kept = {k: v for k, v in b.data.items() if k not in ("direction", "record", "dismissed")}
    b.data = {**kept, "state": state, "at": clock.now().isoformat(), **data}
    b.synced_at = clock.now()
    b.save(update_fields=["external_id", "data", "synced_at", "local_hash", "remote_hash", "last_origin"])


def record_of(integration: Integration, client: OneBoxClient, entity: str, payload: dict) -> dict | None:
    """The OneBox record an in-coming job takes: the one the poll read (`record`), else — the owner's Retry of a
    record the shop could not take — OneBox's current version of it, read again by `id` (never a stored copy, which
    could write back what OneBox has changed since). None when OneBox no longer has it: the record is then listed
    as deleted in OneBox (it does not drop off the list without a word) and is not synced any more."""
    if payload.get("record") is not None:
        return payload["record"]
    wanted = str(payload["id"])
    found = next((r for r in client.get(entity, filter={"id": [int(wanted)]}) if str(r.get("id")) == wanted), None)
    if found is None:
        deleted_in_onebox(integration, entity, wanted)
    return found


def deleted_in_onebox(integration: Integration, entity: str, external_id: str) -> None:
    """Retry found no such record in OneBox: its Binding says so (state deleted, with the reason)."""
    from ocbridge.integrations.onebox import reasons

    kind = next(k for k, (e, _job) in IN_JOBS.items() if e == entity)
    params = {"id": external_id}
    for b in Binding.objects.filter(connection_id=integration.connection_id, kind=kind,
                                    external_id__in=[external_id, f"pending:{kind}:{external_id}"]):
        note(b, m.DELETED, error=reasons.english("deleted_in_onebox", params), reason="deleted_in_onebox",
             params=params)


def _failed(integration: Integration, kind: str, local_id, exc: ServiceError, **data) -> None:
    """Keep a refused record on the failed list with OneBox's message (Retry on the dashboard sends it again)."""
    b, _ = Binding.objects.get_or_create(connection_id=integration.connection_id, kind=kind, local_id=str(local_id),
                                         defaults={"external_id": f"pending:{kind}:{local_id}"})
    note(b, m.FAILED, error=exc.message or str(exc), **data)


class OneBoxJob(IntegrationJob):
    """Template: parse settings, build the client."""

    def work(self, job: Job, integration: Integration) -> None:
        self.sync(job, integration, config_of(integration), client_for(integration))

    def sync(self, job: Job, integration: Integration, cfg: OneBoxConfig, client: OneBoxClient) -> None:
        raise NotImplementedError


# --- the shop's order feed ---------------------------------------------------------------------------------


@register_order_consumer("onebox")
def on_new_order(integration: Integration, order) -> None:
    """A new order of the store (past checkout): sent to OneBox as it appears, keyed by the order."""
    if config_of(integration).sends("order"):
        Job.objects.enqueue(SendOrder, key=f"onebox:{integration.store_id}:order-{order.order_id}",
                            integration=integration, payload={"order_id": order.order_id})


@register_history_consumer("onebox")
def on_history(integration: Integration, events, *, missed: bool = False) -> None:
    """Each new order_history row: appended to the OneBox order once (keyed by the row), and the status compared
    both ways (keyed by the row too). Rows from while switched off count the same."""
    cfg, sid, now = config_of(integration), integration.store_id, clock.now().isoformat()
    for e in events:
        payload = {"order_id": e.order_id, "history_id": e.order_history_id, "status_id": e.order_status_id,
                   "comment": e.comment, "seen": now}
        if cfg.sends("history"):
            Job.objects.enqueue(SendHistory, key=f"onebox:{sid}:history-{e.order_history_id}", integration=integration,
                                payload=payload)
        if cfg.sends("status") or cfg.takes("status"):
            Job.objects.enqueue(SyncStatus, key=f"onebox:{sid}:status-{e.order_id}:h{e.order_history_id}",
                                integration=integration, payload={"order_id": e.order_id, "local_seen": now})


# --- orders out ----------------------------------------------------------------------------------------------


def send_order(integration: Integration, cfg: OneBoxConfig, client: OneBoxClient, order_id: int, *,
               fo=None) -> Binding | None:
    """The order in OneBox with its current content, once: created through the outbox (in doubt OneBox is asked
    by the order code, never a second order), later updated only when its content hash changed. Returns the
    order's Binding, or None when the shop does not have it."""
    store = integration.store
    b = binding(integration, m.ORDER, order_id)
    if b is not None and b.data.get("state") == m.FAILED:
        return b  # refused: only the owner's Retry sends it again (a new attempt)
    fo = fo or shop.orders(store, [order_id]).get(order_id)
    if fo is None:
        return None
    code = cfg.order_code(store, order_id)
    oc_status = fo.order.order_status_id
    ob_status = cfg.statuses().get(oc_status)
    creating = b is None or not str(b.external_id).isdigit()
    body = mappers.order_body(fo, cfg, store, status_id=ob_status if creating else None)
    content = mappers.order_hash(body)
    if b is not None and not creating and b.data.get("content") == content and b.data.get("state") == m.OK:
        return b
    try:
        if creating:
            external = _create_order(integration, client, b, order_id, code, body)
        else:
            external = b.external_id
            client.set("order", [{**body, "id": int(external)}], key=f"onebox:{store.pk}:order-{order_id}:{content}",
                       order_id=order_id)
    except TerminalError as exc:
        _failed(integration, m.ORDER, order_id, exc, code=code)
        raise
    b = b or binding(integration, m.ORDER, order_id)
    if b is None:
        b = Binding(connection_id=integration.connection_id, kind=m.ORDER, local_id=str(order_id))
    b.external_id = external
    if creating:  # the status both sides hold now (OneBox's start status when ours is not mapped: read later)
        bindings.record(b, local_hash=bindings.digest(oc_status),
                        remote_hash=bindings.digest(ob_status) if ob_status else "", origin=bindings.LOCAL, save=False)
    if b.pk is None:
        b.save()
    note(b, m.OK, content=content, code=code, error="")
    return b


def _create_order(integration: Integration, client: OneBoxClient, b: Binding | None, order_id: int, code: str,
                  body: dict) -> str:
    attempt = int((b.data.get("attempt") if b else 0) or 1)
    effect = outbox.request(f"onebox:{integration.store_id}:order-{order_id}:create:{attempt}",
                            kind="onebox.create_order", service=ob.SERVICE, store=integration.store,
                            connection=integration.connection, integration=integration)

    def ask(_effect) -> str | None:
        found = client.find_order(code)
        return str(found["id"]) if found else None

    refusal = ""

    def send(_effect) -> str:
        nonlocal refusal
        try:
            return str(client.set("order", [body], key=_effect.key, order_id=order_id)[0])
        except TerminalError as exc:
            if "already exists" not in exc.message:
                refusal = exc.message  # OneBox's own words for the failed list
                raise
            found = ask(_effect)  # the box has it (created during an answer we lost): adopt it
            if found is None:
                raise
            return found

    if effect.state == SideEffectState.UNKNOWN:  # in doubt before and OneBox could not be asked then: ask now
        found = ask(effect)
        if found is None:
            raise RetryableError(ob.SERVICE, "unknown", f"{code}: OneBox did not answer; not sent twice")
        outbox.sent(effect, found)
        return found
    effect = outbox.perform(effect, send, ask=ask)
    if effect.state == SideEffectState.FAILED:
        raise TerminalError(ob.SERVICE, "refused", refusal or effect.error)
    if effect.state != SideEffectState.SENT:
        raise RetryableError(ob.SERVICE, "unknown", f"creating {code} in OneBox: {effect.error}")
    return effect.provider_id


@register_job_kind
class SendOrder(OneBoxJob):
    """One order to OneBox (created once, then updated only when its content changed)."""

    kind = "onebox.send_order"

    def sync(self, job, integration, cfg, client) -> None:
        send_order(integration, cfg, client, int(job.payload["order_id"]))


@register_job_kind
class SendHistory(OneBoxJob):
    """One order_history row as a comment on the OneBox order, once (unique on our externalid there too). The
    entry we wrote ourselves for a status OneBox set is its echo: not sent back."""

    kind = "onebox.send_history"

    def sync(self, job, integration, cfg, client) -> None:
        p = job.payload
        order_id, history_id = int(p["order_id"]), int(p["history_id"])
        if binding(integration, m.HISTORY, history_id) is not None:
            return
        ob_order = binding(integration, m.ORDER, order_id)
        if ob_order is not None and history_id in (ob_order.data.get("our_history") or []):
            return  # our own entry for a OneBox status: its echo
        if ob_order is not None and _is_echo(ob_order, int(p["status_id"]), p.get("comment") or ""):
            return
        ob_order = send_order(integration, cfg, client, order_id)
        if ob_order is None or not str(ob_order.external_id).isdigit():
            return
        name = shop.status_names(integration.store).get(int(p["status_id"])) or str(p["status_id"])
        body = mappers.history_comment(cfg, integration.store, order_id, history_id, int(ob_order.external_id),
                                       status=name, comment=p.get("comment") or "")
        try:
            cid = client.set("comment", [body], key=job.key, order_id=order_id)[0]
        except TerminalError as exc:
            _failed(integration, m.HISTORY, history_id, exc, order_id=order_id)
            raise
        Binding.objects.update_or_create(connection_id=integration.connection_id, kind=m.HISTORY, local_id=str(history_id),
                                         defaults={"external_id": str(cid), "synced_at": clock.now(),
                                                   "data": {"state": m.OK, "order_id": order_id}})


def append_history(integration: Integration, cfg: OneBoxConfig, client: OneBoxClient, order_ids: list[int]) -> int:
    """The history entries of these orders that OneBox does not have yet, in one comment/set call (the
    whole-history load); each is unique on its externalid there, so a repeat after a crash adds nothing twice."""
    store = integration.store
    orders = {b.local_id: b for b in Binding.objects.filter(connection_id=integration.connection_id, kind=m.ORDER,
                                                            local_id__in=[str(i) for i in order_ids])}
    events = [e for rows in shop.history_of(store, order_ids).values() for e in rows
              if str(orders.get(str(e.order_id), Binding()).external_id or "").isdigit()]
    done = set(Binding.objects.filter(connection_id=integration.connection_id, kind=m.HISTORY,
                                      local_id__in=[str(e.order_history_id) for e in events])
               .values_list("local_id", flat=True))
    names = shop.status_names(store)
    todo = [(e.order_history_id, mappers.history_comment(
        cfg, store, e.order_id, e.order_history_id, int(orders[str(e.order_id)].external_id),
        status=names.get(e.order_status_id) or str(e.order_status_id), comment=e.comment), "")
        for e in events if str(e.order_history_id) not in done]
    return _send_batch(integration, client, m.HISTORY, "comment", todo)


def _is_echo(b: Binding, status_id: int, comment: str) -> bool:
    """A history row equal to an entry we are writing for a OneBox status (recorded before the write)."""
    return any(int(e.get("status", -1)) == status_id and e.get("comment", "") == comment
               for e in b.data.get("echo") or [])


# --- statuses both ways --------------------------------------------------------------------------------------


@register_job_kind
class SyncStatus(OneBoxJob):
    """Compare one order's status on both sides with its Binding: the shop changed → OneBox's status set; OneBox
    changed → a history entry in the shop through the journaled write (native API or compare-and-set with the
    stock rule); both changed → the owner's rule decides and the conflict is logged; our own write read back →
    nothing. Reads both sides first, so a repeat after a crash does only what is still undone."""

    kind = "onebox.sync_status"

    def sync(self, job, integration, cfg, client) -> None:
        store, order_id = integration.store, int(job.payload["order_id"])
        b = send_order(integration, cfg, client, order_id) if cfg.sends("order") else binding(integration, m.ORDER, order_id)
        if b is None or not str(b.external_id).isdigit():
            return
        remote = job.payload.get("remote")  # what the poll read; else ask OneBox
        if not remote:
            found = client.get("order", filter={"id": [int(b.external_id)]}, fields=["id", "statusid", "datemodify"])
            remote = found[0] if found else {}
        ob_status = int(remote.get("statusid") or 0)
        oc_status = shop.order_status(store, order_id)
        if oc_status is None or not ob_status:
            return
        if cfg.statuses().get(oc_status) == ob_status and (b.local_hash, b.remote_hash) != (
                bindings.digest(oc_status), bindings.digest(ob_status)):
            # both sides hold the same status by now (our write finished before a crash, or both made the same
            # change): nothing to send and no conflict
            bindings.record(b, local_hash=bindings.digest(oc_status), remote_hash=bindings.digest(ob_status),
                            origin=b.last_origin or bindings.LOCAL)
            return
        decision = bindings.decide(
            b, bindings.digest(oc_status), bindings.digest(ob_status), cfg.rule("status"),
            local_seen_at=_when(job.payload.get("local_seen") or b.data.get("local_seen")),
            remote_seen_at=_when(job.payload.get("remote_seen") or b.data.get("remote_seen")))
        if decision.baseline:
            bindings.record(b, local_hash=b.local_hash, remote_hash=bindings.digest(ob_status), origin=b.last_origin
                            or bindings.LOCAL)
            return
        if decision.write_to is None:
            return
        lost = None
        if decision.conflict:
            lost = {"shop": oc_status, "onebox": ob_status}
            m.Conflict.objects.create(integration=integration, kind="status", local_id=str(order_id),
                                      rule=cfg.rule("status"), winner=decision.write_to, lost=lost, created=clock.now())
        if decision.write_to == bindings.REMOTE:
            self._to_onebox(job, integration, cfg, client, b, order_id, oc_status, ob_status, lost)
        else:
            self._to_shop(job, integration, cfg, b, order_id, oc_status, ob_status, lost)

    @staticmethod
    def _to_onebox(job, integration, cfg, client, b, order_id, oc_status, ob_status, lost) -> None:
        target = cfg.statuses().get(oc_status)
        if not cfg.sends("status") or target is None:  # not ours to send, or not mapped: take OneBox's as known
            bindings.record(b, local_hash=bindings.digest(oc_status), remote_hash=bindings.digest(ob_status),
                            origin=bindings.LOCAL, lost=lost)
            return
        if target != ob_status:
            client.set("order", [{"id": int(b.external_id), "statusid": target}], key=f"{job.key}:to-onebox",
                       order_id=order_id)
        bindings.record(b, local_hash=bindings.digest(oc_status), remote_hash=bindings.digest(target),
                        origin=bindings.LOCAL, lost=lost)

    @staticmethod
    def _to_shop(job, integration, cfg, b, order_id, oc_status, ob_status, lost) -> None:
        store = integration.store
        target = cfg.shop_status(ob_status)
        if not cfg.takes("status") or target is None:
            bindings.record(b, local_hash=bindings.digest(oc_status), remote_hash=bindings.digest(ob_status),
                            origin=bindings.REMOTE, lost=lost)
            return
        if target != oc_status:
            name = next((s.get("name") for s in (b.data.get("ob_statuses") or []) if s.get("id") == ob_status), "") \
                or shop.status_names(store).get(target, str(target))
            comment = mappers.from_onebox_comment(name)
            # Recorded before the write: the history row it makes is recognised as our echo by SendHistory.
            b.data = {**b.data, "echo": [*(b.data.get("echo") or [])[-9:], {"status": target, "comment": comment}]}
            b.save(update_fields=["data"])
            result = shop.set_status(store, order_id, target, expected=oc_status, comment=comment,
                                     notify=cfg.notify_customer and shop.mail_goes(store), key=f"{job.key}:to-shop")
            if result.state == "moved":  # the shop changed it meanwhile: compare again next time
                raise RetryableError("opencart", "moved", f"order {order_id} moved on while we wrote it")
            if result.history_id:
                b.data = {**b.data, "our_history": [*(b.data.get("our_history") or [])[-19:], result.history_id]}
        bindings.record(b, local_hash=bindings.digest(target), remote_hash=bindings.digest(ob_status),
                        origin=bindings.REMOTE, lost=lost)


def _when(text) -> datetime | None:
    try:
        return datetime.fromisoformat(str(text)) if text else None
    except ValueError:
        return None


POLL = "onebox.changes"


def poll_targets() -> list[Target]:
    return polls.integration_targets("onebox")


@register_poll(POLL, targets=poll_targets, label=_("Reading changed orders, products and contacts from OneBox"))
def poll_onebox(target: Target) -> int:
    """A routine poll (core.polls, no Job row): the orders (products, contacts) OneBox changed since the last read,
    re-reading its last second; one status comparison per order whose OneBox status differs from what its Binding
    knows. Idle — nothing changed — it writes nothing. Returns how many records it found changed."""
    integration = polls.integration_of(target)
    if integration is None or not (integration.enabled and integration.store.enabled):
        return 0
    return read_changes(integration, config_of(integration), client_for(integration))


def read_changes(integration: Integration, cfg: OneBoxConfig, client: OneBoxClient) -> int:
    state, now = m.SyncState.of(integration), clock.now()
    found = 0
    if cfg.takes("status") or cfg.sends("status"):
        found += _orders(integration, cfg, client, state, now)
    if cfg.takes("product"):
        found += enqueue_changed(integration, client, state, now, entity="product", kind=m.PRODUCT,
                                 view=mappers.product_view, job_kind=ProductIn)
    if cfg.takes("contact") or cfg.takes("contact_group"):
        from ocbridge.integrations.onebox import contacts_in

        found += contacts_in.poll(integration, cfg, client, state, now)
    from ocbridge.integrations.onebox import catalogue_in

    return found + catalogue_in.poll(integration, cfg, client, state, now)


CLOCK_AHEAD = timedelta(minutes=2)


def read_changed(client: OneBoxClient, entity: str, since: str) -> tuple[list[dict], str]:
    """The `entity` records OneBox changed since `since` (`Y-m-d H:i:s`, inclusive: the last second is read again)
    and where the next read starts: the newest change date read, but never past the second this read began. A
    box may stamp a save before it lands, so an answer can hold a later change and miss an earlier one saved
    during the read (simulators.onebox `edit_during_get`); read again from the read's start, that one is found.
    It assumes the box stamps in UTC on a clock near ours, as the first read's five minutes back already does
    (docs/providers/onebox.md §4: unverified); the cursor never moves back. A box stamping more than CLOCK_AHEAD
    past our clock runs ahead of it: capped at our clock, every poll would read its newest save again and move the
    cursor (a write per idle poll), so its own stamps are the cursor."""
    began = clock.now()
    rows = list(client.iter_changed(entity, since))
    newest = max([since] + [str(r.get("datemodify") or "") for r in rows])
    if newest > (began + CLOCK_AHEAD).strftime(mappers.FMT):
        return rows, newest
    return rows, max(since, min(newest, began.strftime(mappers.FMT)))


def _orders(integration, cfg, client, state, now) -> int:
    since = (state.changed_since or {}).get("order") or (now - timedelta(minutes=5)).strftime(mappers.FMT)
    sid, changed = integration.store_id, {}
    rows, newest = read_changed(client, "order", since)
    for row in rows:
        order_id = cfg.order_id_of(integration.store, str(row.get("externalid") or ""))
        if order_id is not None:
            changed[order_id] = row
    known = {b.local_id: b for b in Binding.objects.filter(connection_id=integration.connection_id, kind=m.ORDER,
                                                            local_id__in=[str(i) for i in changed])}
    enqueued = 0
    with transaction.atomic():
        for order_id, row in changed.items():
            b = known.get(str(order_id))
            if b is None or b.remote_hash == bindings.digest(int(row.get("statusid") or 0)):
                continue  # not ours yet, or an echo of our own status
            enqueued += 1
            Job.objects.enqueue(SyncStatus, key=f"onebox:{sid}:status-{order_id}:ob{row.get('statusid')}:"
                                                f"{row.get('datemodify')}", integration=integration,
                                payload={"order_id": order_id, "remote_seen": now.isoformat(),
                                         "remote": {"statusid": row.get("statusid")}})
        if newest != since or enqueued or "order" not in (state.changed_since or {}):  # idle: no write
            state.touch(changed_since={**(state.changed_since or {}), "order": newest}, last_poll_at=now)
    return enqueued + (newest != since)


def enqueue_changed(integration: Integration, client: OneBoxClient, state: m.SyncState, now, *, entity: str,
                    kind: str, view, job_kind) -> int:
    """One `job_kind` job per `entity` record OneBox changed since the last read whose view hash is neither what
    its Binding holds (an echo, or nothing new) nor the version already found not syncable. Moves the read position
    only when something was read (an idle poll writes nothing). Returns the jobs enqueued."""
    since = (state.changed_since or {}).get(entity) or (now - timedelta(minutes=5)).strftime(mappers.FMT)
    rows, newest = read_changed(client, entity, since)
    known = {b.external_id: b for b in Binding.objects.filter(connection_id=integration.connection_id, kind=kind,
                                                              external_id__in=[str(r["id"]) for r in rows])}
    enqueued = 0
    with transaction.atomic():
        for row in rows:
            h = bindings.digest(view(row))
            b = known.get(str(row["id"]))
            if b is not None and h in (b.remote_hash, b.data.get("seen_view")):
                continue
            enqueued += 1
            Job.objects.enqueue(job_kind, key=f"onebox:{integration.store_id}:{entity}-in:{row['id']}:{h}",
                                integration=integration, payload={"record": row, "seen": now.isoformat()})
        if newest != since or entity not in (state.changed_since or {}):
            state.touch(changed_since={**(state.changed_since or {}), entity: newest})
    return enqueued


@register_job_kind
class ProductIn(OneBoxJob):
    """A product created or changed in OneBox, into the shop the way its admin saves it (the shop's journaled
    product write: descriptions in every language, product_to_store, categories), once per OneBox version of it.
    Both sides changed since the last sync: the owner's rule for products decides and the conflict is logged."""

    kind = "onebox.product_in"

    def sync(self, job, integration, cfg, client) -> None:
        from ocbridge.integrations.onebox import catalogue_in

        record = record_of(integration, client, "product", job.payload)
        if record is None:
            return
        try:
            self._take(job, integration, cfg, record)
        except TerminalError as exc:  # the shop refused OneBox's record: listed with the reason, Retry reads it again
            catalogue_in.refused(integration, m.PRODUCT, record, exc)

    def _take(self, job, integration, cfg, record: dict) -> None:
        store = integration.store
        remote_now = bindings.digest(mappers.product_view(record))
        b = Binding.objects.filter(connection_id=integration.connection_id, kind=m.PRODUCT,
                                   external_id=str(record["id"])).first()
        languages = shop.languages(store)
        if b is None:  # created in OneBox: a new product in the shop, bound to it
            draft = mappers.product_draft(record, cfg, languages, int(store.oc_store_id or 0), creating=True,
                                          stock=store.stock_source == "onebox",
                                          **self._extras(job, integration, cfg, record, None))
            written = shop.upsert_product(store, draft, key=job.key)
            b = Binding(connection_id=integration.connection_id, kind=m.PRODUCT, local_id=str(written.product_id),
                        external_id=str(record["id"]))
            self._record(integration, cfg, b, written.product_id, remote_now, lost=None)
            self._stock_back(store, b, record)
            return
        local_now = self._local_hash(integration, cfg, int(b.local_id))
        decision = bindings.decide(b, local_now, remote_now, cfg.rule("product"),
                                   local_seen_at=b.synced_at, remote_seen_at=_when(job.payload.get("seen")))
        if shop.begun_write(job.key) is not None:  # decided before a crash: finish that write
            decision = bindings.Decision(bindings.LOCAL)  # (what it wrote is not a change made in the shop)
        if decision.baseline:
            bindings.record(b, local_hash=b.local_hash, remote_hash=remote_now, origin=bindings.LOCAL)
            return
        lost = None
        if decision.conflict:
            lost = {"shop": local_now, "onebox": remote_now}
            m.Conflict.objects.create(integration=integration, kind="product", local_id=b.local_id,
                                      rule=cfg.rule("product"), winner=decision.write_to, lost=lost, created=clock.now())
        if decision.write_to != bindings.LOCAL:
            return  # the shop's side wins or only the shop changed: the catalogue run sends it
        draft = mappers.product_draft(record, cfg, languages, int(store.oc_store_id or 0), creating=False,
                                      stock=store.stock_source == "onebox",
                                      **self._extras(job, integration, cfg, record, int(b.local_id)))
        shop.upsert_product(store, draft, key=job.key, product_id=int(b.local_id))
        self._record(integration, cfg, b, int(b.local_id), remote_now, lost=lost)
        self._stock_back(store, b, record)

    @staticmethod
    def _extras(job, integration, cfg, record: dict, product_id: int | None) -> dict:
        """Options, special prices and discounts for the draft, where OneBox's differ from what the shop would
        send (None leaves the shop's rows as they are)."""
        from ocbridge.integrations.onebox import options_in

        mine = {}
        if product_id is not None:
            [mine] = [body for _pid, body, _h in product_bodies(
                integration, cfg, shop.products(integration.store, product_ids=[product_id]))] or [{}]
        out = {}
        if record.get("options") is not None and (
                mappers.options_view(record["options"]) != mappers.options_view(mine.get("options"))):
            out["options"] = options_in.product_options(integration, cfg, record, key=f"{job.key}:opt",
                                                        seen=_when(job.payload.get("seen")),
                                                        stock=integration.store.stock_source == "onebox")
        for name in ("specials", "discounts"):
            if record.get(name) is not None and (
                    mappers.price_rules_view(record[name]) != mappers.price_rules_view(mine.get(name))):
                out[name] = options_in.price_rules(integration, cfg, record[name], quantity=name == "discounts")
        return out

    @staticmethod
    def _stock_back(store, b: Binding, record: dict) -> None:
        """The shop is the stock source and OneBox shows another quantity: the next catalogue run sends ours."""
        if store.stock_source == "onebox" or record.get("stock") in (None, ""):
            return
        [p] = shop.products(store, product_ids=[int(b.local_id)]) or [None]
        if p is not None and int(record["stock"]) != p.quantity:
            Binding.objects.filter(pk=b.pk).update(local_hash="", data={**b.data, "fp": ""})

    @staticmethod
    def _local_hash(integration, cfg, product_id: int) -> str:
        plan = plan_products(integration, cfg, shop.products(integration.store, product_ids=[product_id]))
        if plan:
            return plan[0][2]
        b = binding(integration, m.PRODUCT, product_id)
        return b.local_hash if b is not None else ""

    def _record(self, integration, cfg, b, product_id: int, remote_now: str, *, lost) -> None:
        """The shop now holds OneBox's version: record the body the catalogue run will compute from it (so it is
        not sent back) and OneBox's view."""
        if not b.pk:
            b.save()  # with no hash yet, so the shop's body is computed afresh
        bindings.record(b, local_hash=self._local_hash(integration, cfg, product_id), remote_hash=remote_now,
                        origin=bindings.REMOTE, lost=lost)
        note(b, m.OK, error="")
        Binding.objects.filter(connection_id=integration.connection_id, kind=m.PRODUCT,
                               local_id=f"onebox:{b.external_id}").delete()  # listed as refused before: taken now


# --- the whole history on connect, and the catalogue: resumable loads -----------------------------------------


def progress(integration: Integration, kind: str) -> dict:
    """A first load's progress for the page and the CLI: done / total, rate and an honest time estimate."""
    load = dict((m.SyncState.of(integration).loads or {}).get(kind) or {})
    done, total, rate = int(load.get("done") or 0), int(load.get("total") or 0), float(load.get("rate") or 0.0)
    left = max(0, total - done)
    load["eta_seconds"] = math.ceil(left / rate) if rate > 0 and not load.get("finished") else (0 if load.get("finished") else None)
    load["percent"] = 100 if load.get("finished") else (int(done * 100 / total) if total else 0)
    return load


def _save_load(integration: Integration, kind: str, **fields) -> dict:
    state = m.SyncState.of(integration)
    loads = dict(state.loads or {})
    load = {**(loads.get(kind) or {}), **fields}
    loads[kind] = load
    state.touch(loads=loads)
    return load


# The loads of what OneBox had before the sync was switched on, into the shop: load kind → the flow that must come
# in from OneBox. Each pages through OneBox's list by offset (read again when it moved: OneBoxClient.page_after) and
# takes every record as the poll takes a change.
IN_LOADS = {"contact_in": "contact", "category_in": "category", "brand_in": "brand"}
MOVED_WAIT = 300  # seconds before a fourth (and later) read of a OneBox list that moved in every read so far


def _in_load_step(kind: str):
    """step(integration, cfg, client, offset, limit) → records read, of an IN_LOADS kind."""
    from functools import partial

    from ocbridge.integrations.onebox import catalogue_in, contacts_in

    if kind == "contact_in":
        return contacts_in.load_step
    return partial(catalogue_in.load_step, IN_LOADS[kind])


def _step_key(integration: Integration, kind: str, load: dict) -> str:
    again = f"p{load['pass']}:" if int(load.get("pass") or 1) > 1 else ""
    return f"onebox:{integration.store_id}:load:{kind}:{load.get('started')}:{again}{load.get('after', 0)}"


def _in_load_read_again(integration: Integration, kind: str, load: dict, page: ob.Page) -> bool:
    """At the end of a read of OneBox's list during which the list moved (an edit or a deletion in OneBox between
    two pages: OneBoxClient.page_after), start another read from the top instead of finishing: a record may have
    slipped back past the position. Records already in step are left alone, so a read again writes only what was
    missed. After READ_PASSES reads that all moved, the next waits MOVED_WAIT seconds (a busy box). True when a
    new read was started (the caller is done)."""
    if not page.end or not (load.get("moved") or page.moved):
        return False
    again = int(load.get("pass") or 1) + 1
    done = int(load.get("done") or 0) + len(page.rows)
    load = _save_load(integration, kind, after=0, last_id="", moved=False, done=done, total=done + 1, finished="",
                      **{"pass": again})
    wait = timedelta(seconds=MOVED_WAIT) if again > ob.READ_PASSES else timedelta(0)
    Job.objects.enqueue(LoadStep, key=_step_key(integration, kind, load), integration=integration,
                        payload={"kind": kind, "started": load.get("started")}, run_at=clock.now() + wait)
    return True


def start_load(integration: Integration, kind: str) -> Job:
    """Start (or restart from where it stands) the first load of `kind`: "order", "contact" or "product" to OneBox,
    or one of IN_LOADS (every OneBox contact, category or brand into the shop, when that kind comes from OneBox)."""
    load = (m.SyncState.of(integration).loads or {}).get(kind) or {}
    if not load or load.get("finished"):
        load = _save_load(integration, kind, after=0, done=0, total=0, started=clock.now().isoformat(), finished="",
                          rate=0.0, sent=0, last_id="", moved=False, **{"pass": 1})
    return Job.objects.enqueue(LoadStep, key=_step_key(integration, kind, load),
                               integration=integration, payload={"kind": kind, "started": load.get("started")})


@register_job_kind
class LoadStep(OneBoxJob):
    """One step of a first load: the next records after the saved position are brought to OneBox (each skipped
    when its Binding says OneBox has this content), the position and rate saved, the next step enqueued. A crash
    resumes at the saved position; records of the interrupted step are recognised by their Bindings."""

    kind = "onebox.load_step"

    def sync(self, job, integration, cfg, client) -> None:
        kind, store = job.payload["kind"], integration.store
        load = (m.SyncState.of(integration).loads or {}).get(kind) or {}
        if load.get("finished") or load.get("started") != job.payload.get("started"):
            return
        after, begun = int(load.get("after") or 0), clock.now()
        if not load.get("total") and kind not in IN_LOADS:  # OneBox tells no count: the total grows as read
            total = {"order": shop.order_count, "contact": shop.customer_count}.get(kind, shop.product_count)(store)
            load = _save_load(integration, kind, total=total)
        step = max(1, int(cfg.history_batch or LOAD_STEP))
        if kind == "order":
            ids = shop.order_ids_after(store, after, step)
            batch = shop.orders(store, ids)
            for oid in ids:
                if oid in batch:
                    send_order(integration, cfg, client, oid, fo=batch[oid])
                if crash_hook is not None:
                    crash_hook("load", oid)
            if cfg.sends("history"):
                append_history(integration, cfg, client, ids)
            last, count = (ids[-1] if ids else after), len(ids)
        elif kind in IN_LOADS:  # OneBox's records into the shop; the position is an offset in OneBox's list
            read = {}

            def page():
                read["page"] = client.page_after(IN_LOADS[kind], after, step, load.get("last_id") or None)
                return read["page"].rows

            _in_load_step(kind)(integration, cfg, client, page, first=not after)
            got = read.get("page") or ob.Page([], False, True, after)  # not read: this kind is not taken in
            last, count = got.next_offset, len(got.rows)
            if _in_load_read_again(integration, kind, load, got):
                return
        elif kind == "contact":
            rows = shop.customers_after(store, after, step)
            sync_contacts(integration, cfg, client, rows)
            last, count = (rows[-1]["customer_id"] if rows else after), len(rows)
        else:
            products = shop.products(store, after=after, limit=step)
            sync_products(integration, cfg, client, products)
            last, count = (products[-1].product_id if products else after), len(products)
        seconds = max((clock.now() - begun).total_seconds(), 1e-3)
        rate = count / seconds if count else float(load.get("rate") or 0.0)  # records a second at OneBox's pace
        done = int(load.get("done") or 0) + count
        finished = clock.now().isoformat() if count < step else ""
        total = max(int(load.get("total") or 0), done)
        extra = {}
        if kind in IN_LOADS:  # what OneBox had, once read to the end; "at least one step more" until then
            finished = clock.now().isoformat() if got.end else ""
            total = done if finished else done + step
            extra = {"last_id": str(got.rows[-1].get("id")) if got.rows else "",
                     "moved": bool(load.get("moved") or got.moved)}
        load = _save_load(integration, kind, after=last, done=done, rate=round(rate, 3), finished=finished, total=total,
                          **extra)
        if not finished:
            Job.objects.enqueue(LoadStep, key=_step_key(integration, kind, load), integration=integration,
                                payload=job.payload)


def sync_contacts(integration: Integration, cfg: OneBoxConfig, client: OneBoxClient, rows: list[dict]) -> int:
    """Customers → OneBox contacts (group by the owner's map), changed ones only, in one call per batch."""
    keys = [mappers.contact_key(r) for r in rows]
    have = {b.local_id: b for b in Binding.objects.filter(connection_id=integration.connection_id, kind=m.CONTACT,
                                                          local_id__in=keys)}
    todo, to_onebox = [], groups.to_onebox(integration, cfg)
    for key, r in zip(keys, rows):
        body = mappers.contact_body(r, to_onebox.get(int(r.get("customer_group_id") or 0)))
        h = bindings.digest(body)
        if key in have and have[key].data.get("state") == m.DELETED:
            continue  # deleted in OneBox: sending it would make it there again
        if key and (key not in have or have[key].local_hash != h):
            todo.append((key, body, h))
    return _send_batch(integration, client, m.CONTACT, "contact", todo)


@register_job_kind
class SendContacts(OneBoxJob):
    """These customers to OneBox as contacts (the owner's Retry of one OneBox refused)."""

    kind = "onebox.send_contacts"

    def sync(self, job, integration, cfg, client) -> None:
        rows = shop.customers(integration.store, [int(i) for i in job.payload["customer_ids"]])
        sync_contacts(integration, cfg, client, list(rows.values()))


def _remote_hash(kind: str, body: dict, h: str) -> str:
    """The hash OneBox's own record will give when it holds what we sent (the two-way view of its kind)."""
    if kind in (m.CATEGORY, m.BRAND):
        from ocbridge.integrations.onebox import catalogue_in

        return catalogue_in.remote_hash(kind, body)
    if kind == m.PRODUCT:
        return bindings.digest(mappers.product_view(body))
    return bindings.digest(mappers.contact_view(body)) if kind == m.CONTACT else h


def _send_batch(integration: Integration, client: OneBoxClient, kind: str, entity: str, todo: list) -> int:
    """`<entity>/set` for changed records (local key, body, hash); Bindings record what OneBox now holds. A batch
    OneBox refuses is sent one by one, so one bad record lands on the failed list and the others go through."""
    if not todo:
        return 0
    try:
        ids = client.set(entity, [body for _k, body, _h in todo])
        pairs = list(zip(todo, ids))
    except TerminalError:
        pairs = []
        for item in todo:
            try:
                pairs.append((item, client.set(entity, [item[1]])[0]))
            except TerminalError as exc:  # not sent again until the record changes or the owner retries it
                _failed(integration, kind, item[0], exc, failed_hash=item[2])
    rows = [Binding(connection_id=integration.connection_id, kind=kind, local_id=str(key), external_id=str(oid),
                    local_hash=h, remote_hash=_remote_hash(kind, body, h), last_origin=bindings.LOCAL,
                    synced_at=clock.now(), data={"state": m.OK})
            for (key, body, h), oid in pairs]
    if rows:
        Binding.objects.bulk_create(rows, batch_size=500, update_conflicts=True,
                                    unique_fields=["connection", "kind", "local_id"],
                                    update_fields=["external_id", "local_hash", "remote_hash", "last_origin",
                                                   "synced_at", "data"])
    return len(rows)


def plan_products(integration: Integration, cfg: OneBoxConfig, products: list, *, hashes: dict | None = None) -> list[tuple]:
    """(product_id, body, hash) of the products whose body (names and descriptions per language, price, stock,
    options, specials, quantity discounts, filters, images, category and brand codes) changed since OneBox got it; `hashes` gets every product's."""
    have = _sent_hashes(integration, m.PRODUCT, [str(p.product_id) for p in products])
    todo = []
    for pid, body, h in product_bodies(integration, cfg, products):
        if hashes is not None:
            hashes[pid] = h
        if h not in have.get(str(pid), ()):
            todo.append((pid, body, h))
    return todo


class _Every(tuple):
    """No body is to be sent (a record deleted in OneBox: sending it would make it there again)."""

    def __contains__(self, _item) -> bool:
        return True


def _sent_hashes(integration: Integration, kind: str, local_ids: list[str] | None = None) -> dict[str, tuple[str, ...]]:
    """local id → the body hashes not to send: the one OneBox holds, and the one it refused (until the record
    changes or the owner presses Retry, which leaves the failed state); every one for a record deleted in OneBox."""
    rows = Binding.objects.filter(connection_id=integration.connection_id, kind=kind)
    if local_ids is not None:
        rows = rows.filter(local_id__in=local_ids)
    return {lid: _Every() if data.get("state") == m.DELETED else
            (h, data.get("failed_hash") or "") if data.get("state") == m.FAILED else (h,)
            for lid, h, data in rows.values_list("local_id", "local_hash", "data")}


def product_bodies(integration: Integration, cfg: OneBoxConfig, products: list) -> list[tuple]:
    """(product_id, body, hash) of each product as it would go to OneBox."""
    store = integration.store
    languages = shop.languages(store)
    default_lang = min(languages) if languages else 1
    options = shop.product_options(store, [p.product_id for p in products])
    ids = [p.product_id for p in products]
    specials, discounts, filters = (shop.product_specials(store, ids), shop.product_discounts(store, ids),
                                    shop.product_filters(store, ids))
    base = (store.api_url or "").split("index.php")[0].rstrip("/")
    image_base = f"{base}/image/" if base else ""
    codes = {("o" if kind == m.OPTION else "v") + lid: ext for kind, lid, ext in Binding.objects.filter(
        connection_id=integration.connection_id, kind__in=[m.OPTION, m.OPTION_VALUE])
        .values_list("kind", "local_id", "external_id")}
    out = []
    for p in products:
        body = mappers.product_body(p, options.get(p.product_id, []), cfg, languages, default_lang, image_base,
                                    specials.get(p.product_id), stock=store.stock_source != "onebox",
                                    discounts=discounts.get(p.product_id), filters=filters.get(p.product_id),
                                    option_codes=codes)
        out.append((p.product_id, body, bindings.digest(body)))
    return out


def plan_catalogue(integration: Integration, cfg: OneBoxConfig, *, page: int = 5000) -> tuple[list[tuple], dict]:
    """The changed products of the whole catalogue: the database's fingerprint of each product is compared with
    the one kept on its Binding (with the settings that shape the body), and only products whose fingerprint moved
    are read in full and hashed. Returns (todo, {product_id: (fingerprint, body hash)}) of the products read."""
    store = integration.store
    prefix = bindings.digest([cfg.language_map, cfg.price_level, cfg.group_map, store.api_url, store.stock_source,
                              shop.option_names_fingerprint(store), sorted(Binding.objects.filter(
                                  connection_id=integration.connection_id, kind__in=[m.OPTION, m.OPTION_VALUE])
                                  .values_list("local_id", "external_id"))])
    todo, read, after = [], {}, 0
    while True:
        fps = shop.product_fingerprints(store, after=after, limit=page)
        if not fps:
            return todo, read
        known = dict(Binding.objects.filter(connection_id=integration.connection_id, kind=m.PRODUCT,
                                            local_id__in=[str(pid) for pid, _fp in fps])
                     .values_list("local_id", "data__fp"))
        stale = {pid: f"{prefix}:{fp}" for pid, fp in fps if known.get(str(pid)) != f"{prefix}:{fp}"}
        ids = list(stale)
        for i in range(0, len(ids), 1000):
            hashes: dict[int, str] = {}
            todo += plan_products(integration, cfg, shop.products(store, product_ids=ids[i:i + 1000]), hashes=hashes)
            read.update({pid: (stale[pid], h) for pid, h in hashes.items()})
        after = fps[-1][0]


def fingerprints_to_keep(integration: Integration, read: dict) -> list[Binding]:
    """The Bindings whose product fingerprint a run would store: OneBox holds the product's current body and the
    fingerprint moved (not failed ones, so they are read and tried again)."""
    rows = []
    for b in Binding.objects.filter(connection_id=integration.connection_id, kind=m.PRODUCT,
                                    local_id__in=[str(pid) for pid in read]):
        fp, h = read[int(b.local_id)]
        if b.local_hash == h and b.data.get("state") == m.OK and b.data.get("fp") != fp:
            b.data = {**b.data, "fp": fp}
            rows.append(b)
    return rows


def remember_fingerprints(integration: Integration, read: dict) -> None:
    """After a run: keep each product's fingerprint where OneBox now holds its current body."""
    Binding.objects.bulk_update(fingerprints_to_keep(integration, read), ["data"], batch_size=500)


def send_products(integration: Integration, client: OneBoxClient, todo: list[tuple], *, batch: int = 50) -> int:
    return sum(_send_batch(integration, client, m.PRODUCT, "product", todo[i:i + batch])
               for i in range(0, len(todo), batch))


def sync_products(integration: Integration, cfg: OneBoxConfig, client: OneBoxClient, products: list) -> int:
    return send_products(integration, client, plan_products(integration, cfg, products))


@register_job_kind
class SyncCatalog(OneBoxJob):
    """The catalogue by content hash: categories (parents first), brands, then products page by page; only records
    whose body changed are sent. Counts per kind are kept for the sync-status page."""

    kind = "onebox.sync_catalog"
    max_attempts = 5

    def sync(self, job, integration, cfg, client) -> None:
        from ocbridge.integrations.onebox import matching

        counts = {}
        if cfg.sends("category"):  # one by one: parents first; OneBox's own of the same name linked, not doubled
            todo = categories_out(integration, cfg)
            if matching.link_before_create(integration, client, "category", todo):
                todo = categories_out(integration, cfg)
            counts["category"] = sum(_send_batch(integration, client, m.CATEGORY, "category", [t]) for t in todo)
        if cfg.sends("brand"):
            todo = brands_out(integration)
            if matching.link_before_create(integration, client, "brand", todo):
                todo = brands_out(integration)
            counts["brand"] = _send_batch(integration, client, m.BRAND, "brand", todo)
        if cfg.sends("product"):  # sent in full batches: 1 % changed → ⌈changed / 50⌉ calls
            todo, read = plan_catalogue(integration, cfg)
            counts["product"] = send_products(integration, client, todo)
            remember_fingerprints(integration, read)
        state = m.SyncState.of(integration)
        state.touch(loads={**(state.loads or {}), "catalog_run": {"at": clock.now().isoformat(), "sent": counts}})


def categories_out(integration: Integration, cfg: OneBoxConfig) -> list[tuple]:
    from ocbridge.integrations.onebox import catalogue_in

    have = _sent_hashes(integration, m.CATEGORY)
    return [t for t in catalogue_in.category_bodies(integration, cfg) if t[2] not in have.get(str(t[0]), ())]


def brands_out(integration: Integration) -> list[tuple]:
    from ocbridge.integrations.onebox import catalogue_in

    have = _sent_hashes(integration, m.BRAND)
    return [t for t in catalogue_in.brand_bodies(integration) if t[2] not in have.get(str(t[0]), ())]


def catalogue_pending(integration: Integration, cfg: OneBoxConfig) -> bool:
    """Read-only: would a catalogue run send (or store) anything? The same plan the run makes, without sending."""
    if cfg.sends("category") and categories_out(integration, cfg):
        return True
    if cfg.sends("brand") and brands_out(integration):
        return True
    if cfg.sends("product"):
        todo, read = plan_catalogue(integration, cfg)
        return bool(todo) or bool(fingerprints_to_keep(integration, read))
    return False


# --- schedules and owner actions -------------------------------------------------------------------------------


CATALOG_POLL = "onebox.catalog"


def _catalog_every(integration: Integration) -> float | None:
    cfg = config_of(integration)
    return CATALOG_EVERY if any(cfg.sends(k) for k in ("category", "brand", "product")) else None


@register_poll(CATALOG_POLL, targets=lambda: polls.integration_targets("onebox", _catalog_every),
               label=_("Checking the catalogue for changes to send to OneBox"))
def poll_catalog(target: Target) -> bool:
    """A routine poll (core.polls, no Job row): the catalogue run is queued only when a record changed (or a
    fingerprint moved); an idle check writes nothing."""
    integration = polls.integration_of(target)
    if integration is None or not (integration.enabled and integration.store.enabled):
        return False
    if not catalogue_pending(integration, config_of(integration)):
        return False
    slot = polls.slot_of(target, clock.now().timestamp())  # the slot whose lease this dispatcher took
    return enqueue_unless_waiting(SyncCatalog, key=f"onebox:{integration.store_id}:catalog:{slot}", integration=integration)


RETRY_JOBS = {m.ORDER: SendOrder}


def dismiss(integration: Integration, kind: str, local_id: str) -> Binding | None:
    """The owner has seen that OneBox deleted the record: it leaves the open list. Its Binding stays as it was
    (deleted: never sent to OneBox again) with the time of the dismissal; None when there is no such listed record
    (a double click's second POST changes nothing)."""
    with transaction.atomic():
        b = Binding.objects.select_for_update().filter(connection_id=integration.connection_id, kind=kind,
                                                        local_id=str(local_id)).first()
        if b is None or b.data.get("state") != m.DELETED or b.data.get("dismissed"):
            return None
        b.data = {**b.data, "dismissed": clock.now().isoformat()}
        b.save(update_fields=["data"])
    return b


def retry(integration: Integration, kind: str, local_id: str) -> Job:
    """The owner fixed what OneBox refused: send the record again (a new attempt: new job and outbox keys)."""
    b = binding(integration, kind, local_id)
    stamp = f"{clock.now().timestamp():.3f}"
    if b is not None and b.data.get("state") == m.FAILED:
        b.data = {**b.data, "state": "retrying", "attempt": int(b.data.get("attempt") or 1) + 1}
        b.save(update_fields=["data"])
    if b is not None and b.data.get("direction") == "in" and kind in IN_JOBS:
        return _retry_in(integration, b, stamp)  # a record from OneBox the shop could not take
    if kind == m.CONTACT and local_id.startswith("oc-c") and local_id[4:].isdigit():  # a customer OneBox refused
        if b is not None:
            Binding.objects.filter(pk=b.pk).update(local_hash="")
        return Job.objects.enqueue(SendContacts, key=f"onebox:{integration.store_id}:contact-{local_id}:retry:{stamp}",
                                   integration=integration, payload={"customer_ids": [int(local_id[4:])]})
    if kind == m.ORDER:
        return Job.objects.enqueue(SendOrder, key=f"onebox:{integration.store_id}:order-{local_id}:retry:{stamp}",
                                   integration=integration, payload={"order_id": int(local_id)})
    if kind == m.HISTORY:
        data = b.data if b is not None else {}
        return Job.objects.enqueue(SyncStatus, key=f"onebox:{integration.store_id}:status-{data.get('order_id')}:retry:{stamp}",
                                   integration=integration, payload={"order_id": int(data.get("order_id") or 0)})
    if b is not None:  # catalogue and contacts: forget the hash, the next catalogue run sends it
        Binding.objects.filter(pk=b.pk).update(local_hash="")
    return Job.objects.enqueue(SyncCatalog, key=f"onebox:{integration.store_id}:catalog:retry:{stamp}",
                               integration=integration)


# Binding kind → (OneBox entity, the job that takes it into the shop), for records coming in from OneBox
IN_JOBS = {m.PRODUCT: ("product", "onebox.product_in"), m.CATEGORY: ("category", "onebox.catalogue_in"),
           m.BRAND: ("brand", "onebox.catalogue_in"), m.CONTACT: ("contact", "onebox.contact_in"),
           m.CONTACT_GROUP: ("contactgroup", "onebox.group_in")}


def _retry_in(integration: Integration, b: Binding, stamp: str) -> Job:
    """A record from OneBox the shop could not take: read from OneBox again and taken as the poll takes a change.
    The one way for every kind: a copy kept with the failure could be older than OneBox's record by the time the
    owner presses Retry, and taking it would write stale data over the shop (and look like a change to send)."""
    entity, job_kind = IN_JOBS[b.kind]
    ext = str(b.external_id).rsplit(":", 1)[-1]  # a record never bound has a placeholder ("pending:<kind>:<id>")
    Binding.objects.filter(pk=b.pk).update(data={**b.data, "seen_view": ""})  # this version may be taken again
    return Job.objects.enqueue(job_kind, key=f"onebox:{integration.store_id}:{entity}-in:{ext}:retry:{stamp}",
                               integration=integration,
                               payload={"entity": entity, "id": int(ext), "seen": clock.now().isoformat()})


def check_connection(connection) -> dict:
    """'Test' next to the Connection: a token and the list of business processes; {"ok", "message"}."""
    from django.utils.translation import gettext_noop

    from ocbridge.core.sentences import Sentence, words

    try:
        flows = OneBoxClient(connection).workflows()
    except (ServiceError, ConfigurationError) as exc:
        return {"ok": False, "message": f"OneBox: {words(exc)}"}  # in the reader's language where said
    said = Sentence(gettext_noop("logged in; business processes: {names}"),
                    names=", ".join(str(w.get("name")) for w in flows[:10]))
    return {"ok": True, "message": f"OneBox: {said}"}


@register_stock_source_check("onebox")
def stock_source_check(integration: Integration, stock_source: str) -> str:
    return config_of(integration).stock_contradiction(stock_source)


def read_statuses(integration: Integration) -> list[str]:
    """'Test' on the sync page: log in and read OneBox's business processes, their statuses and the contact groups
    afresh (kept for the mapping and the settings' pickers: onebox.lists); returns the process names."""
    from ocbridge.integrations.onebox import lists

    return [w["name"] or str(w["id"]) for w in lists.read(integration, refresh=True)["workflows"]]
