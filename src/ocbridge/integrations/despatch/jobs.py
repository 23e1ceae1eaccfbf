"""Despatch Cloud job kinds: shop history → orders out (create / hold / cancel), DC changes → despatch, tracking
and cancellations into the shop, stock in the owner's direction.

The only module that calls both the shop (through `shop.py`) and the DC client. Every run re-reads both sides
first, so a re-run after a crash does only what is still undone: an order is looked up by its
`channel_order_id` before it is created (DC also refuses a second one), lines are added only to a DC order that
has none, and a despatch is written once per (order, tracking code).
"""

from __future__ import annotations

import hashlib
import itertools
import json
import logging
import threading
from datetime import datetime, timedelta, timezone

from django.db import transaction
from django.utils.translation import gettext_lazy as _

from ocbridge.core import clock, config_cache, polls
from ocbridge.core import exchanges, outbox
from ocbridge.core.choices import SideEffectState
from ocbridge.core.errors import ConfigurationError, RetryableError, TerminalError
from ocbridge.core.jobs import IntegrationJob, enqueue_unless_waiting, register_job_kind
from ocbridge.core.models import Binding, Integration, Job
from ocbridge.core.polls import Target, register_poll
from ocbridge.core.registry import register_history_consumer, register_order_facts, register_stock_source_check
from ocbridge.integrations.despatch import mappers, models as m, shop
from ocbridge.integrations.despatch.config import DespatchConfig, stock_contradiction
from ocbridge.services import despatch as dc
from ocbridge.services.despatch import DespatchClient

log = logging.getLogger(__name__)

STOCK_EVERY = 60.0
LIVE = (m.OrderState.CREATED, m.OrderState.HELD)  # a DC order we may still hold, release or cancel
# DC orders whose despatch or cancellation we still wait for; a despatched one may still get a second parcel's
# tracking code for a while, so DC is read while one was despatched recently.
OPEN_IN_DC = (m.OrderState.CREATING, m.OrderState.CREATED, m.OrderState.HELD, m.OrderState.TOO_LATE)
RECENTLY_DESPATCHED = timedelta(hours=6)


def client_for(integration: Integration) -> DespatchClient:
    if integration.connection is None or integration.connection.service != "despatch":
        raise ConfigurationError("the despatch integration has no Despatch Cloud connection")
    return DespatchClient(integration.connection)


def config_of(integration: Integration) -> DespatchConfig:
    return DespatchConfig.from_settings(integration.settings)


def order_binding(integration: Integration, order_id: int) -> Binding | None:
    return Binding.objects.filter(connection_id=integration.connection_id, kind=m.ORDER, local_id=str(order_id)).first()


def note(b: Binding, state: str, **data) -> None:
    """Record the order's fulfilment state on its Binding (the dashboard's list and the idempotency guard)."""
    b.data = {**b.data, "state": state, "at": clock.now().isoformat(), **data}
    b.synced_at = clock.now()
    b.save(update_fields=["external_id", "data", "synced_at"])


class DespatchJob(IntegrationJob):
    """Template: parse settings, build the client."""

    def work(self, job: Job, integration: Integration) -> None:
        self.sync(job, integration, config_of(integration), client_for(integration))

    def sync(self, job: Job, integration: Integration, cfg: DespatchConfig, client: DespatchClient) -> None:
        raise NotImplementedError


# --- shop → DC -------------------------------------------------------------------------------------------


@register_history_consumer("despatch")
def on_history(integration: Integration, events, *, missed: bool = False) -> None:
    """The shared order-history feed (opencart.feed) hands the store's new order_history rows here: entering a
    ready status sends the order; leaving it (while its DC order is still open) holds or cancels it there. Keyed
    by the history row: a repeat enqueues nothing. Rows from while it was switched off (`missed`) count the same,
    as the owner expects orders made ready meanwhile to go out."""
    cfg, sid = config_of(integration), integration.store_id
    ids = {str(e.order_id) for e in events}
    bound = {b.local_id: b.data.get("state") for b in Binding.objects.filter(
        connection_id=integration.connection_id, kind=m.ORDER, local_id__in=ids)}
    for e in events:
        if e.order_status_id in cfg.ready_status_ids:
            Job.objects.enqueue(SendOrder, key=f"despatch:{sid}:order-{e.order_id}:ready:{e.order_history_id}",
                                integration=integration, payload={"order_id": e.order_id})
        elif bound.get(str(e.order_id)) in LIVE:
            Job.objects.enqueue(StopOrder, key=f"despatch:{sid}:order-{e.order_id}:unready:{e.order_history_id}",
                                integration=integration, payload={"order_id": e.order_id})


@register_job_kind
class SendOrder(DespatchJob):
    """Create one ready order in DC with its lines, once: search by channel_order_id first, add lines only to a
    DC order without any; an order DC holds because it left the ready statuses is released."""

    kind = "despatch.send_order"

    def sync(self, job, integration, cfg, client) -> None:
        store, order_id = integration.store, int(job.payload["order_id"])
        channel = cfg.channel_order_id(order_id)
        b = order_binding(integration, order_id)
        if b is not None and b.data.get("state") in (m.OrderState.CREATED, m.OrderState.DESPATCHED,
                                                       m.OrderState.DC_CANCELLED, m.OrderState.TOO_LATE):
            return  # already there (a repeat event, or the order came back to a ready status while DC kept it)
        if shop.order_status(store, order_id) not in cfg.ready_status_ids:
            return  # moved on before we got to it: nothing to send
        if b is not None and b.data.get("state") == m.OrderState.HELD:
            client.update_order_status(dc_order_id=int(b.external_id), status_id=dc.DESPATCH_READY,
                                       key=f"{job.key}:release", order_id=order_id)
            note(b, m.OrderState.CREATED, message="")
            return
        if b is None:  # claimed before the first request: a crash after it leaves this row behind
            b, _ = Binding.objects.get_or_create(
                connection_id=integration.connection_id, kind=m.ORDER, local_id=str(order_id),
                defaults={"external_id": f"pending:{channel}",
                          "data": {"state": m.OrderState.CREATING, "channel_order_id": channel}})
        found, fo = self._create(integration, cfg, client, b, order_id, channel)
        b.external_id = str(found["id"])
        note(b, m.OrderState.CREATING, channel_order_id=channel, dc_status=found.get("status_id"), message="")
        if int(found.get("total_inventory_count") or 0) == 0:
            fo = fo or shop.fulfilment_order(store, order_id)
            items, problems = mappers.lines(fo, cfg)
            added = client.add_inventory(dc_order_id=int(found["id"]), items=items,
                                         key=f"despatch:{integration.store_id}:order-{order_id}:lines:{found['id']}",
                                         order_id=order_id)
            if added.errors:
                self._refuse(b, added.errors)
        note(b, m.OrderState.CREATED, message="", lines=True)

    def _create(self, integration, cfg, client, b: Binding, order_id: int, channel: str):
        """DC's order for `channel`, created through the outbox (one row per order and attempt: a retry after a
        refusal is a new attempt). In doubt (answer lost, worker killed mid-create) DC is asked by searching
        the channel_order_id; DC also refuses a second order with the same channel_order_id, so an order DC
        does not have is simply created."""
        attempt = int(b.data.get("attempt") or 1)
        effect = outbox.request(f"despatch:{integration.store_id}:order-{order_id}:create:{attempt}",
                                kind="despatch.create_order", service=dc.SERVICE, store=integration.store,
                                connection=integration.connection, integration=integration)
        fo, created, refusal = None, None, ""

        def ask(_effect) -> str | None:
            nonlocal created
            created = client.find_order(channel)
            return str(created["id"]) if created else None

        def send(_effect) -> str:
            nonlocal fo, created, refusal
            fo = shop.fulfilment_order(integration.store, order_id)
            if fo is None:
                raise TerminalError("opencart", "unknown_order", f"Order {order_id} does not exist.")
            refusal = " ".join(mappers.lines(fo, cfg)[1])  # our own: a line without the SKU the owner matches on
            if refusal:
                raise TerminalError(dc.SERVICE, "refused", refusal)
            try:
                created = client.create_order(order=mappers.order_body(fo, cfg), key=_effect.key, order_id=order_id)
            except TerminalError as exc:
                if "already in use" not in exc.message:
                    refusal = exc.message
                    raise
                return ask(_effect) or _raise(exc)  # created by a twin run between the outbox row and our call
            return str(created["id"])

        if effect.state == SideEffectState.UNKNOWN:  # in doubt before, and DC could not be asked: ask again
            outbox.sent(effect, ask(effect) or send(effect))
            effect.refresh_from_db()
        else:
            effect = outbox.perform(effect, send, ask=ask)
        if effect.state == SideEffectState.FAILED:
            self._refuse(b, [refusal or effect.error])
        if effect.state != SideEffectState.SENT:
            raise RetryableError(dc.SERVICE, "unknown", f"creating {channel} in Despatch Cloud: {effect.error}")
        if created is None or str(created.get("id")) != effect.provider_id:
            created = client.find_order(channel)  # sent by an earlier run: read it back
        if created is None:
            raise RetryableError(dc.SERVICE, "not_found", f"Despatch Cloud does not list {channel} yet")
        return created, fo

    @staticmethod
    def _refuse(b: Binding, messages: list[str]) -> None:
        text = " ".join(x for x in messages if x) or "refused"
        note(b, m.OrderState.REFUSED, message=text)
        raise TerminalError(dc.SERVICE, "refused", text)


@register_job_kind
class StopOrder(DespatchJob):
    """An order that left the ready statuses: hold (or cancel, by the owner's setting) its DC order while DC has
    not started picking it; later, record that it is too late (shown to the owner)."""

    kind = "despatch.stop_order"

    def sync(self, job, integration, cfg, client) -> None:
        order_id = int(job.payload["order_id"])
        b = order_binding(integration, order_id)
        if b is None or b.data.get("state") not in LIVE:
            return
        if shop.order_status(integration.store, order_id) in cfg.ready_status_ids:
            return  # ready again by now
        current = client.find_order(b.data.get("channel_order_id") or cfg.channel_order_id(order_id))
        if current is None:
            return
        status = int(current.get("status_id") or 0)
        if status in dc.TERMINAL_STATUSES:
            return  # despatched or cancelled at DC: the DC poll brings that into the shop
        if status not in dc.OPEN_STATUSES:
            note(b, m.OrderState.TOO_LATE, dc_status=status)
            return
        if cfg.not_ready_action == "cancel":
            client.cancel_order(dc_order_id=int(current["id"]), key=f"{job.key}:cancel", order_id=order_id)
            note(b, m.OrderState.CANCELLED, dc_status=dc.CANCELLED)
        elif status != dc.ON_HOLD:
            client.update_order_status(dc_order_id=int(current["id"]), status_id=dc.ON_HOLD, key=f"{job.key}:hold",
                                       order_id=order_id)
            note(b, m.OrderState.HELD, dc_status=dc.ON_HOLD)


# --- DC → shop -------------------------------------------------------------------------------------------


POLL = "despatch.orders"


def poll_targets() -> list[Target]:
    return polls.integration_targets("despatch")


@register_poll(POLL, targets=poll_targets, label=_("Reading changed orders from Despatch Cloud"))
def poll_dc(target: Target) -> int:
    """A routine poll (core.polls, no Job row): DC orders changed in the window since the last read (with overlap),
    every page; one job per new (order, tracking code) and per cancellation DC made. Idle — nothing of ours open
    at DC, or nothing changed — it writes nothing (its window end is stored when it found something, else at
    most hourly). Returns how many jobs it made."""
    integration = polls.integration_of(target)
    if integration is None or not (integration.enabled and integration.store.enabled):
        return 0
    return read_dc_orders(integration, config_of(integration), client_for(integration))


def read_dc_orders(integration: Integration, cfg: DespatchConfig, client: DespatchClient) -> int:
    key, now = polls.integration_key(integration), clock.now()
    state = m.SyncState.of(integration)
    ours = Binding.objects.filter(connection_id=integration.connection_id, kind=m.ORDER)
    open_in_dc = list(ours.filter(data__state__in=[*OPEN_IN_DC]).exclude(external_id__startswith="pending:")
                      .values_list("local_id", "external_id", "data"))
    waiting = bool(open_in_dc) or ours.filter(data__state__in=[*OPEN_IN_DC]).exists() or ours.filter(
        data__state=m.OrderState.DESPATCHED, synced_at__gte=now - RECENTLY_DESPATCHED).exists()
    if not waiting:  # nothing of ours can change at DC: no request (nights, quiet shops)
        if polls.window_read(POLL, key, state.orders_until, now, found=False):
            state.touch(orders_until=now, last_orders_at=now)
        return 0
    start = polls.window_start(POLL, key, state.orders_until)
    since = (start or now - timedelta(hours=cfg.initial_hours)) - timedelta(minutes=cfg.poll_overlap_minutes)
    seen = {}
    for o in client.iter_orders(date_range=(int(since.timestamp()), int(now.timestamp()) + 1)):
        if cfg.order_id_of(str(o.get("channel_order_id") or "")) is not None:
            seen[str(o["id"])] = o
    for dc_id, o in late_looks(integration, cfg, client, open_in_dc, seen).items():
        seen.setdefault(dc_id, o)
    bound = {b.external_id: b for b in Binding.objects.filter(connection_id=integration.connection_id, kind=m.ORDER,
                                                              external_id__in=list(seen))}
    sid, made = integration.store_id, 0
    with transaction.atomic():
        for dc_id, o in seen.items():
            b = bound.get(dc_id)
            if b is None:
                continue  # not one we created (another channel, or still being bound)
            status, code = int(o.get("status_id") or 0), str(o.get("shipping_tracking_code") or "").strip()
            if status == dc.DESPATCHED and code and code not in (b.data.get("tracking") or []):
                Job.objects.enqueue(ApplyDespatch, key=f"despatch:{sid}:despatch-event:{dc_id}:despatched:{code}",
                                    integration=integration, payload={"order_id": int(b.local_id), "dc_order": o})
                made += 1
            elif status == dc.CANCELLED and b.data.get("state") not in (m.OrderState.CANCELLED, m.OrderState.DC_CANCELLED):
                Job.objects.enqueue(ApplyDcCancel, key=f"despatch:{sid}:despatch-event:{dc_id}:cancelled",
                                    integration=integration, payload={"order_id": int(b.local_id), "dc_order": o})
                made += 1
        if polls.window_read(POLL, key, state.orders_until, now, found=bool(made)):
            state.touch(orders_until=now, last_orders_at=now)
    return made


# --- changes DC lists late ------------------------------------------------------------------------------------
# DC lists a change under its own `updated_at`. One it lists later than the window's overlap after that time (its
# clock or commit order lagging by minutes) falls before every window still to be read: the window read never sees
# it, and the despatch would reach the shop only when a restarted worker re-read from its stored window end (within
# the hour), or never. So each order of ours still open at DC is also looked up by itself (one search by its
# channel_order_id), on a back-off of its own: first one poll interval after it was sent or last seen changing in a
# window, then twice the spacing each time, at most LATE_LOOK_MAX apart; at most LATE_LOOKS_PER_POLL lookups per poll
# (the most due first), so DC gets a bounded number of extra requests however many orders wait there. A despatch
# DC lists late thus reaches the shop within LATE_LOOK_MAX — within a poll or two while the order is fresh or DC was
# seen working on it (picking, packing). The schedule lives in this process (idle polls write nothing to the hub); a
# restarted worker starts every open order over at one poll interval.
LATE_LOOK_MAX = 600.0  # seconds
LATE_LOOKS_PER_POLL = 3
_late_looks: dict[tuple[int, str], tuple[float, float]] = {}  # (integration, order id) → (next look, spacing), epoch s
_late_lock = threading.Lock()


def late_looks(integration: Integration, cfg: DespatchConfig, client: DespatchClient, open_in_dc: list[tuple],
               seen: dict[str, dict]) -> dict[str, dict]:
    """The due lookups of our orders open at DC (`open_in_dc`: local id, DC id, binding data); `seen`: what this
    poll's window read listed (an order listed there is looked at again from the poll interval). Returns the DC
    orders found, by DC id."""
    now, first = clock.now().timestamp(), float(integration.store.poll_seconds or 15)
    still, due = set(), []
    with _late_lock:  # the poll threads share the schedule (one integration is polled by one thread at a time)
        for local_id, dc_id, data in open_in_dc:
            ident = (integration.pk, local_id)
            still.add(ident)
            if ident not in _late_looks or dc_id in seen:  # sent since the last poll, a restart, or DC works on it
                _late_looks[ident] = (now + first, first)
            elif _late_looks[ident][0] <= now:
                due.append((_late_looks[ident][0], local_id, (data or {}).get("channel_order_id")))
        for ident in [i for i in _late_looks if i[0] == integration.pk and i not in still]:
            del _late_looks[ident]  # despatched, cancelled or refused: no more lookups
        due = sorted(due)[:LATE_LOOKS_PER_POLL]
        for _when, local_id, _channel in due:
            spacing = min(_late_looks[(integration.pk, local_id)][1] * 2, LATE_LOOK_MAX)
            _late_looks[(integration.pk, local_id)] = (now + spacing, spacing)
    found = {}
    for _when, local_id, channel in due:
        o = client.find_order(channel or cfg.channel_order_id(int(local_id)))
        if o is not None:
            found[str(o["id"])] = o
    return found


@register_job_kind
class ApplyDespatch(DespatchJob):
    """One history entry in the shop per (order, tracking code): the despatched status and a comment with the
    courier and the tracking link; the customer is notified only where a mail really goes."""

    kind = "despatch.apply_despatch"
    only_enabled = False  # a despatch seen before the owner switched off is still written once

    def sync(self, job, integration, cfg, client) -> None:
        o, order_id = job.payload["dc_order"], int(job.payload["order_id"])
        store, code = integration.store, str(o.get("shipping_tracking_code") or "").strip()
        b = order_binding(integration, order_id)
        if b is None or code in (b.data.get("tracking") or []):
            return
        comment = mappers.despatch_comment(o, cfg, store.language)
        notify = cfg.notify_customer and shop.mail_goes(store)
        # The shop write is journaled under this job's key (opencart.writes): a killed run resumes it, never
        # writes it twice; the key is one per (order, tracking code).
        shop.set_status(store, order_id, cfg.despatched_status_id, comment=comment, notify=notify, key=job.key)
        courier, service = mappers.courier_of(o)
        note(b, m.OrderState.DESPATCHED, tracking=[*(b.data.get("tracking") or []), code], courier=courier,
             service=service, tracking_url=mappers.tracking_link(o, code, cfg),
             despatched_at=str(o.get("date_dispatched") or ""), dc_status=dc.DESPATCHED)


@register_job_kind
class ApplyDcCancel(DespatchJob):
    """DC cancelled the order: the shop's order moves to the owner's cancelled status (history entry)."""

    kind = "despatch.apply_cancel"
    only_enabled = False

    def sync(self, job, integration, cfg, client) -> None:
        order_id = int(job.payload["order_id"])
        b = order_binding(integration, order_id)
        if b is None or b.data.get("state") == m.OrderState.DC_CANCELLED:
            return
        store = integration.store
        if shop.order_status(store, order_id) != cfg.cancelled_status_id:
            shop.set_status(store, order_id, cfg.cancelled_status_id, comment=mappers.cancel_comment(store.language),
                            notify=cfg.notify_customer and shop.mail_goes(store), key=job.key)
        note(b, m.OrderState.DC_CANCELLED, dc_status=dc.CANCELLED)


# --- stock ---------------------------------------------------------------------------------------------


# DC lists a stock change under its own `updated_at`; one it lists later than that (its clock or commit order lagging
# by minutes, as with despatches) fell before the window of every run still to come, so a running worker never
# applied it. Each DC → shop run therefore reads back STOCK_LATE before the last run instead of one minute: a few
# more items a run (those DC changed in the last quarter hour), no extra request on idle checks. A change DC lists
# up to STOCK_LATE late reaches the shop with the next run — within a check or two while it shows on DC's
# newest-changed page (what the check compares), else with the hourly run.
STOCK_LATE = timedelta(minutes=15)


def _raise(exc: Exception):
    raise exc


def _updated_at(item: dict) -> datetime | None:
    text = str(item.get("updated_at") or "")
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(timezone.utc)
    except ValueError:
        return None


@register_job_kind
class SyncStock(DespatchJob):
    """Stock in the owner's direction, changed quantities only, the latest value per SKU; unknown SKUs listed."""

    kind = "despatch.sync_stock"
    max_attempts = 5

    def sync(self, job, integration, cfg, client) -> None:
        if cfg.stock_direction == "off":
            return
        state, now = m.SyncState.of(integration), clock.now()
        why = stock_contradiction(cfg.stock_direction, integration.store.stock_source)
        if why:  # settings saved before the store's stock source existed, or changed since: nothing written
            state.touch(stock={**(state.stock or {}), "direction": cfg.stock_direction, "stopped": now.isoformat()})
            return
        bindings = {b.local_id: b for b in Binding.objects.filter(connection_id=integration.connection_id, kind=m.ITEM)}
        shop_stock = shop.stock_by_sku(integration.store, cfg.sku_field)
        if cfg.stock_direction == "dc_to_shop":
            summary = self._dc_to_shop(job, integration, client, bindings, shop_stock, state)
        else:
            summary = self._shop_to_dc(job, integration, client, bindings, shop_stock)
        state.touch(last_stock_at=now, stock={**summary, "direction": cfg.stock_direction, "at": now.isoformat()})

    @staticmethod
    def _dc_to_shop(job, integration, client, bindings, shop_stock, state) -> dict:
        # Newest first: stop at the first item older than the last run minus STOCK_LATE (see there). Items older
        # than the last run minus a minute were read by an earlier run unless DC listed them late: one of those is
        # applied only when its value is not the one last applied from DC, so a shop sale since is not undone.
        last = state.last_stock_at if not job.payload.get("full") else None
        since, fresh = (last - STOCK_LATE, last - timedelta(minutes=1)) if last else (None, None)
        latest: dict[str, tuple[str, int, bool]] = {}
        first = client.search_inventory(sort="updated_at_rp", page=1)  # its fingerprint: what stock_pending compares
        rest = client.iter_inventory(sort="updated_at_rp", start=2) if first.has_next and first.data else ()
        for item in itertools.chain(first.data, rest):
            at = _updated_at(item)
            if since is not None and at is not None and at < since:
                break
            sku = str(item.get("sku") or "")
            if sku and sku not in latest and item.get("stock_level_available") is not None:  # first seen = newest
                latest[sku] = (str(item["id"]), int(item["stock_level_available"]), not (at and fresh and at < fresh))
        writes, unknown, written = _take_from_dc(job, integration, latest, bindings, shop_stock)
        return {"read": len(latest), "changed": len(writes), "written": written, "unknown": sorted(unknown)[:500],
                "unknown_count": len(unknown), "first_page": _first_page(first.data)}

    @staticmethod
    def _shop_to_dc(job, integration, client, bindings, shop_stock) -> dict:
        changed = {sku: qty for sku, (_pid, qty) in shop_stock.items()
                   if job.payload.get("full") or sku not in bindings or bindings[sku].local_hash != str(qty)}
        sent, unknown = 0, []
        for sku, qty in changed.items():
            b = bindings.get(sku)
            iid = b.external_id if b is not None else None
            if iid is None:
                page = client.search_inventory(sku=sku)
                match = next((i for i in page.data if str(i.get("sku")) == sku), None)
                if match is None:
                    unknown.append(sku)
                    continue
                iid = str(match["id"])
                if int(match.get("stock_level_available") or 0) == qty:  # already right: bind, send nothing
                    _upsert([Binding(connection_id=integration.connection_id, kind=m.ITEM, local_id=sku, external_id=iid,
                                     local_hash=str(qty), remote_hash=str(qty), last_origin="local", synced_at=clock.now())])
                    continue
            client.update_inventory(inventory_id=iid, fields={"stock_level": qty},
                                    key=f"despatch:{integration.store_id}:stock:{sku}:{qty}")
            sent += 1
            _upsert([Binding(connection_id=integration.connection_id, kind=m.ITEM, local_id=sku, external_id=iid,
                             local_hash=str(qty), remote_hash=str(qty), last_origin="local", synced_at=clock.now())])
        return {"read": len(shop_stock), "changed": len(changed), "written": sent, "unknown": sorted(unknown)[:500],
                "unknown_count": len(unknown), "unknown_digest": _digest({sku: changed[sku] for sku in unknown})}


def _take_from_dc(job, integration, latest: dict[str, tuple[str, int, bool]], bindings: dict[str, Binding],
                  shop_stock: dict[str, tuple[int, int]]) -> tuple[dict[int, int], list[str], int]:
    """DC's quantities (`latest`: SKU → (DC inventory id, quantity, new)) into the shop: a SKU DC changed since the
    last read (`new`) is taken; one read again (a late listing, the nightly full check) only when its quantity is not
    the one last taken from DC — so a shop sale since is never undone. Returns (product → quantity written, SKUs the
    shop lacks, how many the shop write changed)."""
    writes, unknown, rows = {}, [], []
    for sku, (iid, qty, new) in latest.items():
        if not new and sku in bindings and bindings[sku].remote_hash == str(qty):
            continue  # read again, and already taken: nothing to write, no binding write
        if sku not in shop_stock:
            unknown.append(sku)
            continue
        pid, current = shop_stock[sku]
        if current != qty:
            writes[pid] = qty
        rows.append(Binding(connection_id=integration.connection_id, kind=m.ITEM, local_id=sku, external_id=iid,
                            local_hash=str(qty), remote_hash=str(qty), last_origin="remote", synced_at=clock.now()))
    # One journaled shop write per run and set of values (a retried run with the same values writes nothing).
    digest = hashlib.sha256(json.dumps(sorted(writes.items())).encode()).hexdigest()[:16]
    written = shop.set_quantities(integration.store, writes, key=f"{job.key}:stock:{digest}")
    _upsert(rows)
    return writes, unknown, written


# --- the nightly full stock check (DC → shop) -----------------------------------------------------------------
#
# Changes are read by "changed since" (STOCK_LATE back); one DC lists later than that is missed by every run. Once a
# night, in the store's quiet hours, every DC inventory page is read (DC's own page size: no source shows a page-size
# parameter; at FULL_RPS, under the account's DEFAULT_RPS, so orders still go out meanwhile) and each SKU whose
# quantity is not the one last taken from DC is taken (_take_from_dc's rule: a shop sale since stays). A routine poll
# (core.polls) only decides that the night's check is due and queues one CheckStockFull job under the night's key;
# the job does the paced read (~670 pages, 5–6 minutes for 10,000 SKUs: far past polls.SLOW_SECONDS, so never inside
# a poll) and the corrections. Idle — not due, or done — the poll asks DC nothing and writes nothing.

FULL_POLL = "despatch.stock_full"
FULL_EVERY = 600.0  # seconds between looks at whether the night's check is due (no request, no write when not)
FULL_HOURS = (3, 6)  # store time: the check starts between 03:00 and 06:00 (a worker down at 03:00 still checks)
FULL_RPS = 2.0  # inventory pages a second (the shared provider note's "~2 requests/s" for DC's unpublished limit)


def _full_every(integration: Integration) -> float | None:
    return FULL_EVERY if config_of(integration).stock_direction == "dc_to_shop" else None


def full_check_day(store, now: datetime | None = None) -> str | None:
    """The store's local date while its quiet hours run (the night's check is due once for it), else None."""
    local = (now or clock.now()).astimezone(store.zone)
    return local.date().isoformat() if FULL_HOURS[0] <= local.hour < FULL_HOURS[1] else None


def _full_stopped(integration: Integration, cfg: DespatchConfig) -> bool:
    return cfg.stock_direction != "dc_to_shop" or bool(stock_contradiction(cfg.stock_direction,
                                                                          integration.store.stock_source))


@register_poll(FULL_POLL, targets=lambda: polls.integration_targets("despatch", _full_every),
               label=_("Checking all stock in Despatch Cloud (nightly)"))
def poll_full_stock(target: Target) -> bool:
    """A routine poll (core.polls, no Job row): in the store's quiet hours it queues the night's CheckStockFull job
    once (its key is the store's and the night's: a repeat queues nothing); outside them, or with tonight's check
    queued or done, it asks and writes nothing. It never reads DC itself. True when it queued the job."""
    integration = polls.integration_of(target)
    if integration is None or not (integration.enabled and integration.store.enabled):
        return False
    cfg, day = config_of(integration), full_check_day(integration.store)
    if day is None or _full_stopped(integration, cfg):
        return False
    key = f"despatch:{integration.store_id}:stock-full:{day}"
    if (m.SyncState.of(integration).stock_full or {}).get("day") == day or Job.objects.filter(key=key).exists():
        return False  # tonight's check is done, queued or running
    return Job.objects.enqueue(CheckStockFull, key=key, integration=integration, payload={"day": day}).queued_now


@register_job_kind
class CheckStockFull(DespatchJob):
    """The night's full check: every DC inventory page, paced, compared with the last quantity taken from DC per SKU
    the shop has; the differences are taken and the check recorded (the page's "full stock check" line).

    A worker killed mid-read leaves the job to be claimed again, and the new run redoes the whole check: the read
    writes nothing, and the corrections follow _take_from_dc's rule — a quantity is written only when DC's differs
    from the one last taken from DC (a shop sale since stays), under one journaled shop write keyed by this job and
    the values (a run killed after the shop write but before the bindings writes nothing again). So a redo never
    writes a quantity twice, nor over a sale made meanwhile."""

    kind = "despatch.check_stock_full"
    max_attempts = 5

    def sync(self, job, integration, cfg, client) -> None:
        if _full_stopped(integration, cfg):
            return  # switched since it was queued: nothing read, nothing written
        with exchanges.held() as reads:  # ~670 page reads a night: logged only when they led to a write or failed
            try:
                corrected, read = self._check(job, integration, cfg, client)
            except Exception:
                reads.keep()
                raise
            if corrected:
                reads.keep()
        m.SyncState.of(integration).touch(stock_full={"day": job.payload["day"], "at": clock.now().isoformat(),
                                                      "read": read, "corrected": corrected})

    @staticmethod
    def _check(job, integration, cfg, client) -> tuple[int, int]:
        """(quantities corrected, SKUs read). DC's default order (by id in the simulator; DC documents none) does not
        move an item changed during the read; one moved anyway is checked the next night."""
        latest: dict[str, tuple[str, int]] = {}
        for item in client.iter_inventory(sort="", pace=FULL_RPS):
            sku = str(item.get("sku") or "")
            if sku and sku not in latest and item.get("stock_level_available") is not None:
                latest[sku] = (str(item["id"]), int(item["stock_level_available"]))
        bindings = {b.local_id: b for b in Binding.objects.filter(connection_id=integration.connection_id, kind=m.ITEM)}
        in_shop = shop.stock_by_sku(integration.store, cfg.sku_field)
        # Every SKU read again (not new): _take_from_dc takes only those whose quantity is not the one last taken;
        # with none, it writes nothing to the shop and no binding.
        again = {sku: (iid, qty, False) for sku, (iid, qty) in latest.items() if sku in in_shop}
        writes, _unknown, _written = _take_from_dc(job, integration, again, bindings, in_shop)
        return len(writes), len(latest)


def _first_page(items: list[dict]) -> str:
    """DC's newest-changed inventory page, as a fingerprint: any stock change at DC moves its item onto it."""
    return hashlib.sha256(json.dumps([[i.get("id"), i.get("stock_level_available"), i.get("updated_at")]
                                      for i in items]).encode()).hexdigest()[:16]


def _digest(quantities: dict[str, int]) -> str:
    return hashlib.sha256(json.dumps(sorted(quantities.items())).encode()).hexdigest()[:16]


def _upsert(rows: list[Binding]) -> None:
    if rows:
        Binding.objects.bulk_create(rows, batch_size=500, update_conflicts=True,
                                    unique_fields=["connection", "kind", "local_id"],
                                    update_fields=["external_id", "local_hash", "remote_hash", "last_origin", "synced_at"])


# --- schedules and owner actions -----------------------------------------------------------------------------


STOCK_POLL = "despatch.stock"


def _stock_every(integration: Integration) -> float | None:
    return None if config_of(integration).stock_direction == "off" else STOCK_EVERY


@register_poll(STOCK_POLL, targets=lambda: polls.integration_targets("despatch", _stock_every),
               label=_("Checking stock to send to or read from Despatch Cloud"))
def poll_stock(target: Target) -> bool:
    """A routine poll (core.polls, no Job row): the stock run is queued only when there is something to do
    (stock_pending); an idle check writes nothing. The page's "last checked" is this poll's last run."""
    integration = polls.integration_of(target)
    if integration is None or not (integration.enabled and integration.store.enabled):
        return False
    cfg = config_of(integration)
    if cfg.stock_direction == "off" or not stock_pending(integration, cfg, client_for(integration)):
        return False
    slot = polls.slot_of(target, clock.now().timestamp())  # the slot whose lease this dispatcher took
    return enqueue_unless_waiting(SyncStock, key=f"despatch:{integration.store_id}:stock:{slot}", integration=integration)


def stock_pending(integration: Integration, cfg: DespatchConfig, client: DespatchClient) -> bool:
    """Read-only: would a stock run do anything? Shop → DC: a SKU whose quantity differs from the one DC last got
    (SKUs DC does not know count once, then hourly: a run searches DC for them again). DC → shop: DC's page of
    newest-changed items is not the one the last run read. Either way, a run at least hourly (polls.CHECKPOINT) catches
    what a check cannot see (items DC lists late, off its newest page: each run reads back STOCK_LATE). A stock source
    contradicting the direction is recorded once."""
    state = m.SyncState.of(integration)
    stock, last = state.stock or {}, state.last_stock_at
    if stock_contradiction(cfg.stock_direction, integration.store.stock_source):
        return not (stock.get("stopped") and stock.get("direction") == cfg.stock_direction)
    if stock.get("direction") != cfg.stock_direction or last is None or \
            (clock.now() - last).total_seconds() > polls.CHECKPOINT:
        return True
    if cfg.stock_direction == "dc_to_shop":
        return _first_page(client.search_inventory(sort="updated_at_rp", page=1).data) != stock.get("first_page")
    sent = dict(Binding.objects.filter(connection_id=integration.connection_id, kind=m.ITEM)
                .values_list("local_id", "local_hash"))
    changed = {sku: qty for sku, (_pid, qty) in shop.stock_by_sku(integration.store, cfg.sku_field).items()
               if sent.get(sku) != str(qty)}
    return bool(changed) and _digest(changed) != stock.get("unknown_digest")


def sync_stock_now(integration: Integration) -> bool:
    """The owner's "Sync now" of the stock: one run now, whatever the check would say. Like Ozon's "Sync now" its
    key is the second it was asked in; a run already queued or running takes the request (it reads both sides
    when it starts), so a double click queues one run. True when a run was queued."""
    return enqueue_unless_waiting(SyncStock, key=f"despatch:{integration.store_id}:stock:manual:{clock.now().timestamp():.0f}",
                                  integration=integration)


def retry_order(integration: Integration, order_id: int) -> Job:
    """The owner fixed what DC refused: send the order again (a new attempt: new job and outbox keys)."""
    b = order_binding(integration, order_id)
    if b is not None and b.data.get("state") == m.OrderState.REFUSED:
        note(b, m.OrderState.CREATING, message="", attempt=int(b.data.get("attempt") or 1) + 1)
    return Job.objects.enqueue(SendOrder, key=f"despatch:{integration.store_id}:order-{order_id}:retry:{clock.now().timestamp():.3f}",
                               integration=integration, payload={"order_id": order_id})


def test_connection(integration: Integration) -> str:
    """'Test' on the fulfilment page: log in and read one page of orders; returns DC's order count."""
    client = client_for(integration)
    client.login()
    return f"{client.search_orders(search='', page=1).total}"


def check_connection(connection) -> dict:
    """'Test' next to the Connection: the API user logs in and reads one page of orders; {"ok", "message"}."""
    from ocbridge.core.errors import ServiceError
    from ocbridge.core.sentences import Sentence, ngettext_noop, words

    try:
        client = DespatchClient(connection)
        client.login()
        total = client.search_orders(search="", page=1).total
    except (ServiceError, ConfigurationError) as exc:
        return {"ok": False, "message": f"Despatch Cloud: {words(exc)}"}  # in the reader's language where said
    said = Sentence(*ngettext_noop("logged in; {count} order in the account.",
                                   "logged in; {count} orders in the account."), count=total)
    return {"ok": True, "message": f"Despatch Cloud: {said}"}


@register_stock_source_check("despatch")
def stock_source_check(integration, stock_source: str) -> str:
    return stock_contradiction(config_of(integration).stock_direction, stock_source)


@register_order_facts("despatch")
def order_facts(store, order_id: int) -> dict | None:
    """The latest tracking code and courier DC sent for a shop order (order status by phone reads them; Ozon sends
    the code with an rFBS posting the shop delivers itself)."""
    if "despatch" not in config_cache.services_of(store.pk):  # no DC account: nothing to look up (a hot path)
        return None
    b = (Binding.objects.filter(connection__store=store, connection__service="despatch", kind=m.ORDER,
                                local_id=str(order_id)).only("data").first())
    tracking = (b.data.get("tracking") or []) if b is not None else []
    if not tracking:
        return None
    return {"tracking_code": tracking[-1], "courier": b.data.get("courier") or "", "tracking_by": "Despatch Cloud"}
